# Lab 06, fixed: one registry rule scans every repository on push, whatever
# its name. The per-repository flag is left out: with registry rules in place
# it would be ignored anyway.

provider "aws" {
  region              = "us-east-1"
  allowed_account_ids = ["111111111111"]
}

resource "aws_ecr_repository" "prod_api" {
  name                 = "lab06-prod-api"
  image_tag_mutability = "IMMUTABLE"
}

resource "aws_ecr_repository" "payments_api" {
  name                 = "lab06-payments-api"
  image_tag_mutability = "IMMUTABLE"
}

resource "aws_ecr_repository" "reports_worker" {
  name                 = "lab06-reports-worker"
  image_tag_mutability = "IMMUTABLE"
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
