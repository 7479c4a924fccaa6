# Lab 02, vulnerable: the registry policy lets every AWS account replicate into
# this registry and create repositories on the way, and, because the registry
# policy scope is V2, also pull from every repository in it.

provider "aws" {
  region              = "us-east-1"
  allowed_account_ids = ["111111111111"]
}

locals {
  all_repositories = "arn:aws:ecr:us-east-1:111111111111:repository/*"
}

resource "aws_ecr_registry_policy" "this" {
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "AnyoneMayReplicate"
        Effect    = "Allow"
        Principal = { AWS = "*" }
        Action    = ["ecr:ReplicateImage", "ecr:CreateRepository"]
        Resource  = local.all_repositories
      },
      {
        Sid       = "SharedPull"
        Effect    = "Allow"
        Principal = { AWS = "*" }
        Action    = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"]
        Resource  = local.all_repositories
      },
    ]
  })
}

# V2 makes every ECR action in the registry policy apply to every repository.
resource "aws_ecr_account_setting" "policy_scope" {
  name  = "REGISTRY_POLICY_SCOPE"
  value = "V2"
}

resource "aws_ecr_repository" "billing" {
  name                 = "lab02-billing-service"
  image_tag_mutability = "IMMUTABLE"
}
