# Lab 11, vulnerable: three repositories whose layers are under keys the
# owner does not really control.
# - ledger leaves encryption at its default, AES256: a key AWS owns;
# - invoices uses a customer-managed key, but never rotates it;
# - archive asks for KMS without naming a key, so ECR uses the AWS-managed
#   key aws/ecr, whose policy and rotation belong to AWS.

provider "aws" {
  region              = "us-east-1"
  allowed_account_ids = ["111111111111"]
}

resource "aws_ecr_repository" "ledger" {
  name                 = "lab11-ledger"
  image_tag_mutability = "IMMUTABLE"
}

resource "aws_kms_key" "invoices" {
  description         = "lab11 invoices images"
  enable_key_rotation = false
}

resource "aws_kms_alias" "invoices" {
  name          = "alias/lab11-invoices"
  target_key_id = aws_kms_key.invoices.key_id
}

resource "aws_ecr_repository" "invoices" {
  name                 = "lab11-invoices"
  image_tag_mutability = "IMMUTABLE"

  encryption_configuration {
    encryption_type = "KMS"
    kms_key         = aws_kms_key.invoices.arn
  }
}

resource "aws_ecr_repository" "archive" {
  name                 = "lab11-archive"
  image_tag_mutability = "IMMUTABLE"

  encryption_configuration {
    encryption_type = "KMS"
  }
}
