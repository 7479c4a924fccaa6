# Lab 02, fixed: the registry policy exists only when this registry is the
# destination of cross-account replication, and then names each source account
# and grants nothing but ecr:ReplicateImage and ecr:CreateRepository. With no
# repository actions in it, scope V2 widens nothing.
#
# By default no source account is listed, so there is no registry policy at all.
# The lab itself trusts source account 222222222222; to check the same here:
#   echo 'replication_source_accounts = ["222222222222"]' > sources.tfvars
#   ecrguard iac fixed.tf --var-file sources.tfvars --trusted-account 222222222222

provider "aws" {
  region              = "us-east-1"
  allowed_account_ids = ["111111111111"]
}

variable "replication_source_accounts" {
  description = "Accounts that replicate into this registry. Pass each to ecrguard with --trusted-account."
  type        = list(string)
  default     = []
}

locals {
  all_repositories = "arn:aws:ecr:us-east-1:111111111111:repository/*"
}

resource "aws_ecr_registry_policy" "this" {
  count = length(var.replication_source_accounts) > 0 ? 1 : 0

  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "ReplicationFromSource"
        Effect    = "Allow"
        Principal = { AWS = [for account in var.replication_source_accounts : "arn:aws:iam::${account}:root"] }
        Action    = ["ecr:ReplicateImage", "ecr:CreateRepository"]
        Resource  = local.all_repositories
      },
    ]
  })
}

# AWS no longer lets a registry go back to V1; V2 is safe once the registry
# policy holds no repository actions.
resource "aws_ecr_account_setting" "policy_scope" {
  name  = "REGISTRY_POLICY_SCOPE"
  value = "V2"
}

resource "aws_ecr_repository" "billing" {
  name                 = "lab02-billing-service"
  image_tag_mutability = "IMMUTABLE"
}
