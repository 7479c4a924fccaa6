# Lab 12, fixed: one trail records every region's management events, read and
# write, keeps logging, and signs a digest of each log file so that an edited or
# deleted log is noticed.

provider "aws" {
  region              = "us-east-1"
  allowed_account_ids = ["111111111111"]
}

resource "aws_s3_bucket" "audit" {
  bucket = "lab12-audit-logs-111111111111"
}

data "aws_iam_policy_document" "cloudtrail_write" {
  statement {
    sid       = "CloudTrailAclCheck"
    actions   = ["s3:GetBucketAcl"]
    resources = [aws_s3_bucket.audit.arn]

    principals {
      type        = "Service"
      identifiers = ["cloudtrail.amazonaws.com"]
    }
  }

  statement {
    sid       = "CloudTrailWrite"
    actions   = ["s3:PutObject"]
    resources = ["${aws_s3_bucket.audit.arn}/AWSLogs/111111111111/*"]

    principals {
      type        = "Service"
      identifiers = ["cloudtrail.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "s3:x-amz-acl"
      values   = ["bucket-owner-full-control"]
    }
  }
}

resource "aws_s3_bucket_policy" "audit" {
  bucket = aws_s3_bucket.audit.id
  policy = data.aws_iam_policy_document.cloudtrail_write.json
}

resource "aws_ecr_repository" "payments" {
  name                 = "lab12-payments-api"
  image_tag_mutability = "MUTABLE"
}

resource "aws_cloudtrail" "audit" {
  name                          = "lab12-audit"
  s3_bucket_name                = aws_s3_bucket.audit.id
  is_multi_region_trail         = true
  include_global_service_events = true
  enable_log_file_validation    = true
  enable_logging                = true

  event_selector {
    read_write_type           = "All"
    include_management_events = true
  }

  depends_on = [aws_s3_bucket_policy.audit]
}
