# Lab 04, fixed: the VPC reaches ECR only through its own endpoints (ecr.api and
# ecr.dkr interface endpoints, an S3 gateway endpoint for the layers), each
# endpoint policy allows only our own repositories or the ECR layer bucket, and
# the repositories deny pulls and pushes that do not come through the endpoints.

provider "aws" {
  region              = "us-east-1"
  allowed_account_ids = ["111111111111"]
}

locals {
  region        = "us-east-1"
  owner_account = "111111111111"
  repositories  = toset(["lab04-internal-api", "lab04-batch-worker"])

  ecr_endpoint_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "Login"
        Effect    = "Allow"
        Principal = "*"
        Action    = "ecr:GetAuthorizationToken"
        Resource  = "*"
      },
      {
        Sid       = "OwnRepositoriesOnly"
        Effect    = "Allow"
        Principal = "*"
        Action    = "ecr:*"
        Resource  = "arn:aws:ecr:${local.region}:${local.owner_account}:repository/*"
      },
    ]
  })
}

resource "aws_vpc" "workloads" {
  cidr_block           = "10.44.0.0/16"
  enable_dns_support   = true
  enable_dns_hostnames = true

  tags = {
    Name = "lab04-workloads"
  }
}

resource "aws_subnet" "private_a" {
  vpc_id     = aws_vpc.workloads.id
  cidr_block = "10.44.1.0/24"

  tags = {
    Name = "lab04-private-a"
  }
}

resource "aws_route_table" "private" {
  vpc_id = aws_vpc.workloads.id
}

resource "aws_route_table_association" "private_a" {
  subnet_id      = aws_subnet.private_a.id
  route_table_id = aws_route_table.private.id
}

resource "aws_security_group" "endpoints" {
  name        = "lab04-ecr-endpoints"
  description = "HTTPS to the ECR endpoints"
  vpc_id      = aws_vpc.workloads.id

  ingress {
    from_port   = 443
    to_port     = 443
    protocol    = "tcp"
    cidr_blocks = [aws_vpc.workloads.cidr_block]
  }
}

resource "aws_vpc_endpoint" "ecr_api" {
  vpc_id              = aws_vpc.workloads.id
  service_name        = "com.amazonaws.${local.region}.ecr.api"
  vpc_endpoint_type   = "Interface"
  subnet_ids          = [aws_subnet.private_a.id]
  security_group_ids  = [aws_security_group.endpoints.id]
  private_dns_enabled = true
  policy              = local.ecr_endpoint_policy
}

resource "aws_vpc_endpoint" "ecr_dkr" {
  vpc_id              = aws_vpc.workloads.id
  service_name        = "com.amazonaws.${local.region}.ecr.dkr"
  vpc_endpoint_type   = "Interface"
  subnet_ids          = [aws_subnet.private_a.id]
  security_group_ids  = [aws_security_group.endpoints.id]
  private_dns_enabled = true
  policy              = local.ecr_endpoint_policy
}

# Layers are served from an AWS-owned S3 bucket; the gateway endpoint keeps that
# traffic private too. Add your own buckets to the policy if the VPC needs them.
resource "aws_vpc_endpoint" "s3" {
  vpc_id            = aws_vpc.workloads.id
  service_name      = "com.amazonaws.${local.region}.s3"
  vpc_endpoint_type = "Gateway"
  route_table_ids   = [aws_route_table.private.id]

  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "EcrLayersOnly"
        Effect    = "Allow"
        Principal = "*"
        Action    = "s3:GetObject"
        Resource  = "arn:aws:s3:::prod-${local.region}-starport-layer-bucket/*"
      },
    ]
  })
}

resource "aws_ecr_repository" "this" {
  for_each = local.repositories

  name                 = each.value
  image_tag_mutability = "IMMUTABLE"
}

data "aws_iam_policy_document" "vpce_only" {
  statement {
    sid    = "DenyOutsideVpcEndpoints"
    effect = "Deny"
    actions = [
      "ecr:BatchGetImage",
      "ecr:GetDownloadUrlForLayer",
      "ecr:BatchCheckLayerAvailability",
      "ecr:PutImage",
      "ecr:InitiateLayerUpload",
      "ecr:UploadLayerPart",
      "ecr:CompleteLayerUpload",
    ]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "StringNotEquals"
      variable = "aws:SourceVpce"
      values   = [aws_vpc_endpoint.ecr_dkr.id, aws_vpc_endpoint.ecr_api.id]
    }
  }
}

resource "aws_ecr_repository_policy" "this" {
  for_each = aws_ecr_repository.this

  repository = each.value.name
  policy     = data.aws_iam_policy_document.vpce_only.json
}
