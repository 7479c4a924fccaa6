"""A large, realistic ``terraform show -json`` plan, built in memory for size tests.

An estate of services, each a module instance holding an ECR repository and its
lifecycle policy beside the IAM role, security group, log group and ECS task
definition that make up most of a real plan. Every resource appears as Terraform
writes it: in planned_values, in resource_changes (before, after, after_unknown
and the sensitivity masks; the task definitions are being replaced, the rest
unchanged), in prior_state and in the module's configuration. Compact JSON on
one line, as ``terraform show -json`` prints it: about 25 KB per service.
"""

from __future__ import annotations

import json
from typing import Any

ACCOUNT = "111122223333"
PROVIDER = "registry.terraform.io/hashicorp/aws"
BYTES_PER_SERVICE = 25_000  # roughly: services(n) is about n * 25 KB


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def _service(name: str) -> list[tuple[str, str, dict[str, Any], dict[str, Any], dict[str, Any]]]:
    """(type, name, values, after_unknown, sensitive_values) of one service's resources."""
    region = "eu-west-1"
    registry = f"{ACCOUNT}.dkr.ecr.{region}.amazonaws.com"
    role = f"arn:aws:iam::{ACCOUNT}:role/{name}-task"
    tags = {"Service": name, "Team": "platform", "CostCenter": "cc-1234", "ManagedBy": "terraform"}
    masked_tags = {"tags": {}, "tags_all": {}}
    lifecycle = _compact(
        {
            "rules": [
                {
                    "rulePriority": 1,
                    "description": "expire untagged images",
                    "selection": {
                        "tagStatus": "untagged",
                        "countType": "sinceImagePushed",
                        "countUnit": "days",
                        "countNumber": 14,
                    },
                    "action": {"type": "expire"},
                }
            ]
        }
    )
    assume = _compact(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "ecs-tasks.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
    )
    containers = _compact(
        [
            {
                "name": name,
                "image": f"{registry}/{name}:1.4.2",
                "cpu": 256,
                "memory": 512,
                "essential": True,
                "portMappings": [{"containerPort": 8080, "hostPort": 8080, "protocol": "tcp"}],
                "environment": [
                    {"name": "LOG_LEVEL", "value": "info"},
                    {"name": "REGION", "value": region},
                ],
                "logConfiguration": {
                    "logDriver": "awslogs",
                    "options": {
                        "awslogs-group": f"/ecs/{name}",
                        "awslogs-region": region,
                        "awslogs-stream-prefix": "ecs",
                    },
                },
            }
        ]
    )
    rule = {
        "description": "",
        "ipv6_cidr_blocks": [],
        "prefix_list_ids": [],
        "security_groups": [],
        "self": False,
    }
    rule_mask = {"cidr_blocks": [False], "ipv6_cidr_blocks": [], "prefix_list_ids": []}
    return [
        (
            "aws_ecr_repository",
            "this",
            {
                "arn": f"arn:aws:ecr:{region}:{ACCOUNT}:repository/{name}",
                "encryption_configuration": [{"encryption_type": "AES256", "kms_key": ""}],
                "force_delete": None,
                "id": name,
                "image_scanning_configuration": [{"scan_on_push": True}],
                "image_tag_mutability": "IMMUTABLE",
                "name": name,
                "registry_id": ACCOUNT,
                "repository_url": f"{registry}/{name}",
                "tags": tags,
                "tags_all": tags,
                "timeouts": None,
            },
            {},
            {
                "encryption_configuration": [{}],
                "image_scanning_configuration": [{}],
                **masked_tags,
            },
        ),
        (
            "aws_ecr_lifecycle_policy",
            "this",
            {"id": name, "policy": lifecycle, "registry_id": ACCOUNT, "repository": name},
            {},
            {},
        ),
        (
            "aws_iam_role",
            "task",
            {
                "arn": role,
                "assume_role_policy": assume,
                "create_date": "2024-03-01T10:00:00Z",
                "description": "",
                "force_detach_policies": False,
                "id": f"{name}-task",
                "inline_policy": [],
                "managed_policy_arns": [
                    "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
                ],
                "max_session_duration": 3600,
                "name": f"{name}-task",
                "name_prefix": "",
                "path": "/",
                "permissions_boundary": None,
                "tags": tags,
                "tags_all": tags,
                "unique_id": "AROAEXAMPLEEXAMPLE01",
            },
            {},
            {"inline_policy": [], "managed_policy_arns": [False], **masked_tags},
        ),
        (
            "aws_security_group",
            "this",
            {
                "arn": f"arn:aws:ec2:{region}:{ACCOUNT}:security-group/sg-0123456789abcdef0",
                "description": f"{name} tasks",
                "egress": [
                    {
                        **rule,
                        "cidr_blocks": ["0.0.0.0/0"],
                        "from_port": 0,
                        "protocol": "-1",
                        "to_port": 0,
                    }
                ],
                "id": "sg-0123456789abcdef0",
                "ingress": [
                    {
                        **rule,
                        "cidr_blocks": ["10.0.0.0/16"],
                        "description": "http",
                        "from_port": 8080,
                        "protocol": "tcp",
                        "to_port": 8080,
                    }
                ],
                "name": name,
                "name_prefix": "",
                "owner_id": ACCOUNT,
                "revoke_rules_on_delete": False,
                "tags": tags,
                "tags_all": tags,
                "timeouts": None,
                "vpc_id": "vpc-0123456789abcdef0",
            },
            {},
            {"egress": [rule_mask], "ingress": [rule_mask], **masked_tags},
        ),
        (
            "aws_cloudwatch_log_group",
            "this",
            {
                "arn": f"arn:aws:logs:{region}:{ACCOUNT}:log-group:/ecs/{name}",
                "id": f"/ecs/{name}",
                "kms_key_id": "",
                "log_group_class": "STANDARD",
                "name": f"/ecs/{name}",
                "name_prefix": "",
                "retention_in_days": 30,
                "skip_destroy": False,
                "tags": tags,
                "tags_all": tags,
            },
            {},
            masked_tags,
        ),
        (
            "aws_ecs_task_definition",
            "this",
            {
                "arn": f"arn:aws:ecs:{region}:{ACCOUNT}:task-definition/{name}:7",
                "arn_without_revision": f"arn:aws:ecs:{region}:{ACCOUNT}:task-definition/{name}",
                "container_definitions": containers,
                "cpu": "256",
                "ephemeral_storage": [],
                "execution_role_arn": role,
                "family": name,
                "id": name,
                "inference_accelerator": [],
                "ipc_mode": "",
                "memory": "512",
                "network_mode": "awsvpc",
                "pid_mode": "",
                "placement_constraints": [],
                "proxy_configuration": [],
                "requires_compatibilities": ["FARGATE"],
                "revision": 7,
                "runtime_platform": [],
                "skip_destroy": False,
                "tags": tags,
                "tags_all": tags,
                "task_role_arn": role,
                "track_latest": False,
                "volume": [],
            },
            {"arn": True, "id": True, "revision": True},
            {
                "ephemeral_storage": [],
                "inference_accelerator": [],
                "placement_constraints": [],
                "proxy_configuration": [],
                "requires_compatibilities": [False],
                "runtime_platform": [],
                "volume": [],
                **masked_tags,
            },
        ),
    ]


def repository(i: int) -> str:
    """The address of service ``i``'s repository."""
    return f'module.svc["svc-{i:05d}"].aws_ecr_repository.this'


def services(count: int) -> str:
    """The plan of ``count`` services, as one line of JSON."""
    planned, changes, prior = [], [], []
    for i in range(count):
        name = f"svc-{i:05d}"
        module = f'module.svc["{name}"]'
        resources = []
        for type_, res_name, values, unknown, sensitive in _service(name):
            address = f"{module}.{type_}.{res_name}"
            resources.append(
                {
                    "address": address,
                    "mode": "managed",
                    "type": type_,
                    "name": res_name,
                    "provider_name": PROVIDER,
                    "schema_version": 0,
                    "values": values,
                    "sensitive_values": sensitive,
                }
            )
            replaced = bool(unknown)
            change: dict[str, Any] = {
                "address": address,
                "module_address": module,
                "mode": "managed",
                "type": type_,
                "name": res_name,
                "provider_name": PROVIDER,
                "change": {
                    "actions": ["delete", "create"] if replaced else ["no-op"],
                    "before": values,
                    "after": {k: v for k, v in values.items() if k not in unknown},
                    "after_unknown": unknown,
                    "before_sensitive": sensitive,
                    "after_sensitive": sensitive,
                },
            }
            if replaced:
                change["action_reason"] = "replace_because_cannot_update"
            changes.append(change)
        planned.append({"address": module, "resources": resources})
        prior.append({"address": module, "resources": resources})
    written = {
        "aws_ecr_repository.this": {
            "name": {"references": ["var.name"]},
            "image_tag_mutability": {"constant_value": "IMMUTABLE"},
            "image_scanning_configuration": [{"scan_on_push": {"constant_value": True}}],
            "encryption_configuration": [{"encryption_type": {"constant_value": "AES256"}}],
            "tags": {"references": ["local.tags"]},
        },
        "aws_ecr_lifecycle_policy.this": {
            "repository": {
                "references": ["aws_ecr_repository.this.name", "aws_ecr_repository.this"]
            },
            "policy": {"references": ["local.lifecycle"]},
        },
    }
    config = [
        {
            "address": f"{type_}.{res_name}",
            "mode": "managed",
            "type": type_,
            "name": res_name,
            "provider_config_key": "aws",
            "expressions": written.get(
                f"{type_}.{res_name}", {"name": {"references": ["var.name"]}}
            ),
            "schema_version": 0,
        }
        for type_, res_name, *_ in _service("x")
    ]
    plan = {
        "format_version": "1.2",
        "terraform_version": "1.9.8",
        "variables": {"region": {"value": "eu-west-1"}},
        "planned_values": {"root_module": {"child_modules": planned}},
        "resource_changes": changes,
        "prior_state": {
            "format_version": "1.0",
            "terraform_version": "1.9.8",
            "values": {"root_module": {"child_modules": prior}},
        },
        "configuration": {
            "provider_config": {
                "aws": {
                    "name": "aws",
                    "full_name": PROVIDER,
                    "expressions": {"region": {"constant_value": "eu-west-1"}},
                }
            },
            "root_module": {
                "module_calls": {
                    "svc": {
                        "source": "./modules/service",
                        "for_each_expression": {"references": ["local.services"]},
                        "module": {"resources": config, "variables": {"name": {}}},
                    }
                }
            },
        },
        "relevant_attributes": [
            {"resource": f'module.svc["svc-{i:05d}"].aws_iam_role.task', "attribute": ["arn"]}
            for i in range(count)
        ],
        "timestamp": "2024-11-28T10:00:00Z",
        "applyable": True,
        "complete": True,
        "errored": False,
    }
    return _compact(plan)
