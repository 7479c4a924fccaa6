"""The live AWS collector: one account, many regions, into the normalized model.

``collect`` is the entry point. The per-service modules (``ecr``, ``ec2``,
``organizations``) hold ``get_*`` functions (I/O through an injected client)
and pure ``transform_*`` functions (raw responses to model objects).
"""

from ecrguard.sources.aws.calls import CallStats, Failure
from ecrguard.sources.aws.collector import (
    DEFAULT_WORKERS,
    REQUIRED_PERMISSIONS,
    collect,
    enabled_regions,
)

__all__ = [
    "DEFAULT_WORKERS",
    "REQUIRED_PERMISSIONS",
    "CallStats",
    "Failure",
    "collect",
    "enabled_regions",
]
