# Lab 09, fixed: both repositories share one lifecycle policy. Untagged images
# expire 14 days after they were pushed (long enough to roll back to a build
# that was replaced); releases tagged v* are kept, the newest 20 of them.

provider "aws" {
  region              = "us-east-1"
  allowed_account_ids = ["111111111111"]
}

locals {
  repositories = {
    web_frontend   = "lab09-web-frontend"
    billing_worker = "lab09-billing-worker"
  }
}

resource "aws_ecr_repository" "this" {
  for_each = local.repositories
  name     = each.value
}

resource "aws_ecr_lifecycle_policy" "this" {
  for_each   = aws_ecr_repository.this
  repository = each.value.name
  policy = jsonencode({
    rules = [
      {
        rulePriority = 1
        description  = "expire untagged images 14 days after push"
        selection = {
          tagStatus   = "untagged"
          countType   = "sinceImagePushed"
          countUnit   = "days"
          countNumber = 14
        }
        action = { type = "expire" }
      },
      {
        rulePriority = 2
        description  = "keep the last 20 releases"
        selection = {
          tagStatus     = "tagged"
          tagPrefixList = ["v"]
          countType     = "imageCountMoreThan"
          countNumber   = 20
        }
        action = { type = "expire" }
      },
    ]
  })
}
