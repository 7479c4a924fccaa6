# Lab 03, vulnerable: the production repository is shared with two other
# accounts. A former partner may still pull, and a vendor's build account may
# push, so anyone holding the vendor's credentials can replace the `prod` tag.

provider "aws" {
  region              = "us-east-1"
  allowed_account_ids = ["111111111111"]
}

variable "partner_account" {
  description = "A former partner that consumed the image."
  type        = string
  default     = "444455556666"
}

variable "vendor_account" {
  description = "The vendor's build account."
  type        = string
  default     = "999999999999"
}

resource "aws_ecr_repository" "prod_api" {
  name                 = "lab03-prod-api"
  image_tag_mutability = "MUTABLE"
}

data "aws_iam_policy_document" "cross_account" {
  statement {
    sid     = "PartnerPull"
    actions = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"]

    principals {
      type        = "AWS"
      identifiers = ["arn:aws:iam::${var.partner_account}:root"]
    }
  }

  statement {
    sid = "VendorBuildPush"
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
      identifiers = ["arn:aws:iam::${var.vendor_account}:root"]
    }
  }
}

resource "aws_ecr_repository_policy" "prod_api" {
  repository = aws_ecr_repository.prod_api.name
  policy     = data.aws_iam_policy_document.cross_account.json
}
