# Lab 09, vulnerable: two repositories whose untagged images are never expired.
# - web-frontend has no lifecycle policy at all;
# - billing-worker has one, but its only rule selects tagged release images,
#   so every image pushed by digest, and every image a moved tag leaves
#   behind, stays forever (and stays pullable by digest).

provider "aws" {
  region              = "us-east-1"
  allowed_account_ids = ["111111111111"]
}

resource "aws_ecr_repository" "web_frontend" {
  name = "lab09-web-frontend"
}

resource "aws_ecr_repository" "billing_worker" {
  name = "lab09-billing-worker"
}

resource "aws_ecr_lifecycle_policy" "billing_worker" {
  repository = aws_ecr_repository.billing_worker.name
  policy = jsonencode({
    rules = [{
      rulePriority = 1
      description  = "keep the last 20 releases"
      selection = {
        tagStatus     = "tagged"
        tagPrefixList = ["v"]
        countType     = "imageCountMoreThan"
        countNumber   = 20
      }
      action = { type = "expire" }
    }]
  })
}
