# Lab 05, vulnerable: every push is scanned, but by basic scanning. It reads
# the OS packages once, when the image arrives, and never looks again: a CVE
# published next week, or one in a Python or npm package, is never reported.

provider "aws" {
  region              = "us-east-1"
  allowed_account_ids = ["111111111111"]
}

resource "aws_ecr_repository" "checkout_web" {
  name                 = "lab05-checkout-web"
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
