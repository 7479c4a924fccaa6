# Lab 07, fixed: Amazon Inspector scans ECR as well as EC2, and the registry
# uses it (enhanced scanning, continuous, every repository).
#
# Terraform cannot set Inspector's ECR re-scan durations; after apply, run
#   aws inspector2 update-configuration --ecr-configuration \
#     rescanDuration=LIFETIME,pullDateRescanDuration=DAYS_180,pullDateRescanMode=LAST_IN_USE_AT
# and let `ecrguard scan` (EG011) check them in the account.

provider "aws" {
  region              = "us-east-1"
  allowed_account_ids = ["111111111111"]
}

locals {
  owner_account = "111111111111"
}

resource "aws_ecr_repository" "orders_api" {
  name                 = "lab07-orders-api"
  image_tag_mutability = "IMMUTABLE"
}

resource "aws_inspector2_enabler" "this" {
  account_ids    = [local.owner_account]
  resource_types = ["EC2", "ECR"]
}

resource "aws_ecr_registry_scanning_configuration" "this" {
  scan_type = "ENHANCED"

  rule {
    scan_frequency = "CONTINUOUS_SCAN"

    repository_filter {
      filter      = "*"
      filter_type = "WILDCARD"
    }
  }

  depends_on = [aws_inspector2_enabler.this]
}
