# Lab 04, vulnerable: workloads in this VPC pull from ECR through a NAT gateway.
# Someone added the ecr.api endpoint (and left its default, allow-everything
# policy), but there is no ecr.dkr endpoint and no S3 gateway endpoint, and no
# repository policy ties pulls to the VPC.

provider "aws" {
  region              = "us-east-1"
  allowed_account_ids = ["111111111111"]
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

# No policy: AWS attaches the default one, which allows every action on every
# resource, including pushes to another account's registry.
resource "aws_vpc_endpoint" "ecr_api" {
  vpc_id              = aws_vpc.workloads.id
  service_name        = "com.amazonaws.us-east-1.ecr.api"
  vpc_endpoint_type   = "Interface"
  subnet_ids          = [aws_subnet.private_a.id]
  security_group_ids  = [aws_security_group.endpoints.id]
  private_dns_enabled = true
}

resource "aws_ecr_repository" "internal_api" {
  name                 = "lab04-internal-api"
  image_tag_mutability = "IMMUTABLE"
}

resource "aws_ecr_repository" "batch_worker" {
  name                 = "lab04-batch-worker"
  image_tag_mutability = "IMMUTABLE"
}
