# Lab 05, fixed: enhanced scanning (Amazon Inspector) scans every repository
# continuously. It reads OS and language packages, and re-evaluates each image
# whenever a new CVE is published.

provider "aws" {
  region              = "us-east-1"
  allowed_account_ids = ["111111111111"]
}

locals {
  owner_account = "111111111111"
}

resource "aws_ecr_repository" "checkout_web" {
  name                 = "lab05-checkout-web"
  image_tag_mutability = "IMMUTABLE"
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
}

# AWS turns Inspector's ECR scanning on with enhanced scanning; declaring it
# keeps Terraform and the account in agreement.
resource "aws_inspector2_enabler" "ecr" {
  account_ids    = [local.owner_account]
  resource_types = ["ECR"]
}
