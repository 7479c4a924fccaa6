# Lab 08, fixed: every ECR image scan result and Inspector finding goes to an
# SNS topic the security team subscribes to, and the service runs the image
# rebuilt on a patched base (v1.1).

provider "aws" {
  region              = "us-east-1"
  allowed_account_ids = ["111111111111"]
}

data "aws_caller_identity" "current" {}

resource "aws_ecr_registry_scanning_configuration" "this" {
  scan_type = "ENHANCED"

  rule {
    scan_frequency = "SCAN_ON_PUSH"
    repository_filter {
      filter      = "lab08-*"
      filter_type = "WILDCARD"
    }
  }
}

resource "aws_ecr_repository" "checkout" {
  name                 = "lab08-checkout-api"
  image_tag_mutability = "IMMUTABLE"
}

resource "aws_ecs_task_definition" "checkout" {
  family                   = "lab08-checkout-api"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = "256"
  memory                   = "512"

  container_definitions = jsonencode([
    {
      name      = "api"
      image     = "${aws_ecr_repository.checkout.repository_url}:v1.1"
      essential = true
      memory    = 512
    }
  ])
}

resource "aws_sns_topic" "security" {
  name = "lab08-security-findings"
}

resource "aws_cloudwatch_event_rule" "scan_findings" {
  name        = "lab08-scan-findings"
  description = "ECR and Inspector scan findings to the security team"
  event_pattern = jsonencode({
    source        = ["aws.inspector2", "aws.ecr"]
    "detail-type" = ["Inspector2 Finding", "ECR Image Scan"]
  })
}

resource "aws_cloudwatch_event_target" "scan_findings" {
  rule      = aws_cloudwatch_event_rule.scan_findings.name
  target_id = "security-topic"
  arn       = aws_sns_topic.security.arn
}

data "aws_iam_policy_document" "events_publish" {
  statement {
    sid       = "EventBridgePublish"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.security.arn]

    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }

    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [aws_cloudwatch_event_rule.scan_findings.arn]
    }
  }
}

resource "aws_sns_topic_policy" "security" {
  arn    = aws_sns_topic.security.arn
  policy = data.aws_iam_policy_document.events_publish.json
}
