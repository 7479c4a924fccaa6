# Lab 07, vulnerable: Amazon Inspector is on in this account, but only for EC2.
# Nothing turns on its ECR scanning, so the registry stays on ECR's basic
# scanner: images are looked at once, on push, and never again.
#
# Inspector's ECR re-scan durations (14 days after push and after last use by
# default) have no Terraform resource; set them with
# `aws inspector2 update-configuration`, see README.md.

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
  resource_types = ["EC2"]
}

resource "aws_ecr_registry_scanning_configuration" "this" {
  scan_type = "BASIC"

  rule {
    scan_frequency = "SCAN_ON_PUSH"

    repository_filter {
      filter      = "*"
      filter_type = "WILDCARD"
    }
  }
}
