"""Access levels: which ECR actions make up pull, push, delete and admin."""

from __future__ import annotations

Levels = dict[str, tuple[str, ...]]

REPOSITORY_LEVELS: Levels = {
    "pull": ("ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"),
    "push": (
        "ecr:PutImage",
        "ecr:InitiateLayerUpload",
        "ecr:UploadLayerPart",
        "ecr:CompleteLayerUpload",
    ),
    "delete": ("ecr:BatchDeleteImage", "ecr:DeleteRepository"),
    "admin": (
        "ecr:SetRepositoryPolicy",
        "ecr:DeleteRepositoryPolicy",
        "ecr:PutImageTagMutability",
        "ecr:PutLifecyclePolicy",
        "ecr:PutImageScanningConfiguration",
    ),
}

# What a registry policy can grant under REGISTRY_POLICY_SCOPE V1. Under V2 the
# registry policy also grants every repository-level action in the registry.
REGISTRY_V1_LEVELS: Levels = {
    "replicate": ("ecr:ReplicateImage",),
    "create": ("ecr:CreateRepository",),
    "import": ("ecr:BatchImportUpstreamImage",),
}

REGISTRY_V2_LEVELS: Levels = {**REGISTRY_V1_LEVELS, **REPOSITORY_LEVELS}

WRITE_LEVELS = frozenset({"push", "delete", "admin", "replicate", "create", "import"})
