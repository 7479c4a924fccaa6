# Lab 11, fixed: every repository is encrypted with a customer-managed key that
# rotates yearly and whose policy names only the owner account.
#
# Encryption cannot change on an existing repository, so ledger and archive
# are new repositories (the -cmk names) under a new key; the images are copied
# over by manifest and the old repositories deleted. The invoices key was
# already the customer's: turning its rotation on is enough.

provider "aws" {
  region              = "us-east-1"
  allowed_account_ids = ["111111111111"]
}

data "aws_iam_policy_document" "owner_only" {
  statement {
    sid       = "OwnerAccountOnly"
    actions   = ["kms:*"]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = ["arn:aws:iam::111111111111:root"]
    }
  }
}

resource "aws_kms_key" "ecr" {
  description         = "lab11 ECR images"
  enable_key_rotation = true
  policy              = data.aws_iam_policy_document.owner_only.json
}

resource "aws_kms_alias" "ecr" {
  name          = "alias/lab11-ecr"
  target_key_id = aws_kms_key.ecr.key_id
}

resource "aws_ecr_repository" "ledger" {
  name                 = "lab11-ledger-cmk"
  image_tag_mutability = "IMMUTABLE"

  encryption_configuration {
    encryption_type = "KMS"
    kms_key         = aws_kms_key.ecr.arn
  }
}

resource "aws_kms_key" "invoices" {
  description         = "lab11 invoices images"
  enable_key_rotation = true
  policy              = data.aws_iam_policy_document.owner_only.json
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

# Dual-layer server-side encryption (KMS_DSSE) counts as KMS.
resource "aws_ecr_repository" "archive" {
  name                 = "lab11-archive-cmk"
  image_tag_mutability = "IMMUTABLE"

  encryption_configuration {
    encryption_type = "KMS_DSSE"
    kms_key         = aws_kms_key.ecr.arn
  }
}
