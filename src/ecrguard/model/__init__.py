"""The normalized model: resources, sourced values and findings."""

from ecrguard.model.finding import Finding, Severity, Status
from ecrguard.model.resources import (
    CollectionIssue,
    CreationTemplate,
    Inventory,
    Network,
    Organization,
    PolicyDoc,
    Registry,
    ReplicationDestination,
    ReplicationRule,
    Repository,
    Resource,
    ScanningRule,
    Vpc,
    VpcEndpoint,
    networks,
)
from ecrguard.model.sourced import Origin, Sourced, State

__all__ = [
    "CollectionIssue",
    "CreationTemplate",
    "Finding",
    "Inventory",
    "Network",
    "Organization",
    "Origin",
    "PolicyDoc",
    "Registry",
    "ReplicationDestination",
    "ReplicationRule",
    "Repository",
    "Resource",
    "ScanningRule",
    "Severity",
    "Sourced",
    "State",
    "Status",
    "Vpc",
    "VpcEndpoint",
    "networks",
]
