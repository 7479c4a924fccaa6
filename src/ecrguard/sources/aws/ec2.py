"""EC2: regions, VPCs and VPC endpoints (lab 04 asks whether ECR traffic stays private)."""

from __future__ import annotations

import json
from typing import Any

from ecrguard.model import Origin, PolicyDoc, Sourced, Vpc, VpcEndpoint
from ecrguard.sources.aws.calls import Client

PAGE = {"PageSize": 1000}
RESPONSE = dict[str, Any]


def get_enabled_regions(client: Client) -> list[str]:
    response = client.describe_regions(AllRegions=False)
    return sorted(region["RegionName"] for region in response.get("Regions", []))


def get_vpcs(client: Client) -> list[RESPONSE]:
    pages = client.get_paginator("describe_vpcs").paginate(PaginationConfig=PAGE)
    return [vpc for page in pages for vpc in page.get("Vpcs", [])]


def get_vpc_endpoints(client: Client) -> list[RESPONSE]:
    pages = client.get_paginator("describe_vpc_endpoints").paginate(PaginationConfig=PAGE)
    return [endpoint for page in pages for endpoint in page.get("VpcEndpoints", [])]


def transform_vpc(raw: RESPONSE, account: str, region: str, partition: str) -> Vpc:
    owner = raw.get("OwnerId", account)
    arn = f"arn:{partition}:ec2:{region}:{owner}:vpc/{raw['VpcId']}"
    origin = Origin(arn)
    return Vpc(
        id=arn,
        origin=origin,
        account=owner,
        region=region,
        vpc_id=Sourced.set(raw["VpcId"], origin),
    )


# AWS keeps listing endpoints for a while after deletion; they carry no traffic.
_GONE = frozenset({"deleting", "deleted", "rejected", "failed", "expired"})


def endpoint_in_service(raw: RESPONSE) -> bool:
    return str(raw.get("State", "available")).lower() not in _GONE


def transform_vpc_endpoint(raw: RESPONSE, account: str, region: str, partition: str) -> VpcEndpoint:
    owner = raw.get("OwnerId", account)
    arn = f"arn:{partition}:ec2:{region}:{owner}:vpc-endpoint/{raw['VpcEndpointId']}"
    origin = Origin(arn)
    return VpcEndpoint(
        id=arn,
        origin=origin,
        account=owner,
        region=region,
        vpc_id=Sourced.set(raw["VpcId"], origin),
        service_name=Sourced.set(raw["ServiceName"], origin),
        endpoint_type=Sourced.set(raw["VpcEndpointType"], origin),
        policy=_endpoint_policy(raw.get("PolicyDocument"), origin),
    )


def _endpoint_policy(text: str | None, origin: Origin) -> Sourced[PolicyDoc | None]:
    # Endpoint types without policy support (e.g. GatewayLoadBalancer) omit it.
    if not text:
        return Sourced.default(None, origin)
    try:
        document = json.loads(text)
    except ValueError as err:
        return Sourced.unresolved(origin, f"endpoint policy is not valid JSON: {err}")
    if not isinstance(document, dict):
        return Sourced.unresolved(origin, "endpoint policy is not a JSON object")
    return Sourced.set(document, origin)
