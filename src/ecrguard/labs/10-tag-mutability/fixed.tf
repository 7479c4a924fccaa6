# Lab 10, fixed: every tag that names a release is immutable. Only payments
# keeps an exclusion, for the one tag that is meant to move (latest); deploys
# pin a version tag or, better, a digest.

provider "aws" {
  region              = "us-east-1"
  allowed_account_ids = ["111111111111"]
}

resource "aws_ecr_repository" "checkout" {
  name                 = "lab10-checkout"
  image_tag_mutability = "IMMUTABLE"
}

resource "aws_ecr_repository" "payments" {
  name                 = "lab10-payments"
  image_tag_mutability = "IMMUTABLE_WITH_EXCLUSION"

  image_tag_mutability_exclusion_filter {
    filter      = "latest"
    filter_type = "WILDCARD"
  }
}

resource "aws_ecr_repository" "storefront" {
  name                 = "lab10-storefront"
  image_tag_mutability = "IMMUTABLE"
}
