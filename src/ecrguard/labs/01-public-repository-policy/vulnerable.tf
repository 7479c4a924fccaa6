# Lab 01, vulnerable: the repository and the pull-through-cache creation template
# both carry a policy that lets any AWS account pull.

provider "aws" {
  region              = "us-east-1"
  allowed_account_ids = ["111111111111"]
}

resource "aws_ecr_repository" "payments" {
  name                 = "lab01-payments-api"
  image_tag_mutability = "IMMUTABLE"
}

data "aws_iam_policy_document" "share_pull" {
  statement {
    sid     = "SharePull"
    actions = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"]

    principals {
      type        = "*"
      identifiers = ["*"]
    }
  }
}

resource "aws_ecr_repository_policy" "payments" {
  repository = aws_ecr_repository.payments.name
  policy     = data.aws_iam_policy_document.share_pull.json
}

resource "aws_ecr_repository_creation_template" "cache" {
  prefix               = "lab01-cache"
  applied_for          = ["PULL_THROUGH_CACHE"]
  image_tag_mutability = "IMMUTABLE"
  repository_policy    = data.aws_iam_policy_document.share_pull.json
}
