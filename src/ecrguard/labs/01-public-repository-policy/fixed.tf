# Lab 01, fixed: "*" is still the principal, but only principals of our own
# organisation satisfy the condition, so no outsider can pull.

provider "aws" {
  region              = "us-east-1"
  allowed_account_ids = ["111111111111"]
}

variable "org_id" {
  description = "Our AWS Organizations id."
  type        = string
  default     = "o-a1b2c3d4e5"
}

resource "aws_ecr_repository" "payments" {
  name                 = "lab01-payments-api"
  image_tag_mutability = "IMMUTABLE"
}

data "aws_iam_policy_document" "org_pull" {
  statement {
    sid     = "OrgPull"
    actions = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:PrincipalOrgID"
      values   = [var.org_id]
    }
  }
}

resource "aws_ecr_repository_policy" "payments" {
  repository = aws_ecr_repository.payments.name
  policy     = data.aws_iam_policy_document.org_pull.json
}

resource "aws_ecr_repository_creation_template" "cache" {
  prefix               = "lab01-cache"
  applied_for          = ["PULL_THROUGH_CACHE"]
  image_tag_mutability = "IMMUTABLE"
  repository_policy    = data.aws_iam_policy_document.org_pull.json
}
