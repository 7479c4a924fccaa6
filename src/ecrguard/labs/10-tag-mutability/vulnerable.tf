# Lab 10, vulnerable: three ways to let a release tag move.
# - checkout is MUTABLE (the default when the attribute is left out);
# - payments is "immutable" except for tags matching v*, which is every release;
# - storefront is MUTABLE_WITH_EXCLUSION: only release-* tags are protected,
#   so v1.0, prod and stable can all be replaced.

provider "aws" {
  region              = "us-east-1"
  allowed_account_ids = ["111111111111"]
}

resource "aws_ecr_repository" "checkout" {
  name                 = "lab10-checkout"
  image_tag_mutability = "MUTABLE"
}

resource "aws_ecr_repository" "payments" {
  name                 = "lab10-payments"
  image_tag_mutability = "IMMUTABLE_WITH_EXCLUSION"

  # Meant for throwaway "validation" builds; matches v1.0, v2.3.0, ...
  image_tag_mutability_exclusion_filter {
    filter      = "v*"
    filter_type = "WILDCARD"
  }
}

resource "aws_ecr_repository" "storefront" {
  name                 = "lab10-storefront"
  image_tag_mutability = "MUTABLE_WITH_EXCLUSION"

  image_tag_mutability_exclusion_filter {
    filter      = "release-*"
    filter_type = "WILDCARD"
  }
}
