# Lab 03, fixed: only principals of the owner account (111111111111, the one
# account this provider may touch) appear in the policy. The deploy role pulls;
# the owner's own CI role is the only writer. No other account may push,
# delete or change the policy.

provider "aws" {
  region              = "us-east-1"
  allowed_account_ids = ["111111111111"]
}

locals {
  owner_account = "111111111111"
}

resource "aws_ecr_repository" "prod_api" {
  name                 = "lab03-prod-api"
  image_tag_mutability = "MUTABLE"
}

data "aws_iam_policy_document" "owner_only" {
  statement {
    sid     = "DeployPull"
    actions = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"]

    principals {
      type        = "AWS"
      identifiers = ["arn:aws:iam::${local.owner_account}:role/prod-deployer"]
    }
  }

  statement {
    sid = "ReleasePush"
    actions = [
      "ecr:BatchGetImage",
      "ecr:GetDownloadUrlForLayer",
      "ecr:BatchCheckLayerAvailability",
      "ecr:PutImage",
      "ecr:InitiateLayerUpload",
      "ecr:UploadLayerPart",
      "ecr:CompleteLayerUpload",
    ]

    principals {
      type        = "AWS"
      identifiers = ["arn:aws:iam::${local.owner_account}:role/release-pipeline"]
    }
  }
}

resource "aws_ecr_repository_policy" "prod_api" {
  repository = aws_ecr_repository.prod_api.name
  policy     = data.aws_iam_policy_document.owner_only.json
}
