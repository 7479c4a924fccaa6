# Lab 06, vulnerable: the registry scans on push only repositories named
# lab06-prod-*. Two repositories escape that naming scheme. One of them still
# says scan_on_push = true, but while any registry scanning rule exists ECR
# ignores that per-repository flag, so neither is ever scanned.

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

  # Legacy setting: looks reassuring, does nothing while registry rules exist.
  image_scanning_configuration {
    scan_on_push = true
  }
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
      filter      = "lab06-prod-*"
      filter_type = "WILDCARD"
    }
  }
}
