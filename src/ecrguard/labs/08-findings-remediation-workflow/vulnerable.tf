# Lab 08, vulnerable: images are scanned on push (enhanced scanning), but no
# EventBridge rule sends a single finding anywhere. The newest checkout-api
# image has carried a CRITICAL CVE for 45 days (EG012 sees that only in a live
# scan: findings are not in Terraform).

provider "aws" {
  region              = "us-east-1"
  allowed_account_ids = ["111111111111"]
}

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
      image     = "${aws_ecr_repository.checkout.repository_url}:v1.0"
      essential = true
      memory    = 512
    }
  ])
}

# A rule exists, but it only watches pushes, and it has no target: scan
# findings still reach no one.
resource "aws_cloudwatch_event_rule" "pushes" {
  name = "lab08-image-pushes"
  event_pattern = jsonencode({
    source        = ["aws.ecr"]
    "detail-type" = ["ECR Image Action"]
  })
}
