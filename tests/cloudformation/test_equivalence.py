"""One estate, four sources: HCL, plan JSON, CloudFormation YAML and JSON give one model.

The fixtures declare the same resources (tests/terraform/fixtures/equivalence,
its real `terraform show -json` plan, and fixtures/equivalence.yaml/.json).
Ids, files and lines differ by nature; everything a rule reads must not.
"""

from __future__ import annotations

from typing import Any

import pytest

from ecrguard.model import Inventory, Sourced
from ecrguard.sources.cloudformation import load_cloudformation
from ecrguard.sources.terraform import load_terraform
from ecrguard.sources.terraform.plan import load_plan
from tests.cloudformation.helpers import FIXTURES
from tests.terraform.helpers import FIXTURES as TF_FIXTURES

OWNER, REGION = "123456789012", "eu-west-1"


def _sources() -> dict[str, Inventory]:
    return {
        "hcl": load_terraform([TF_FIXTURES / "equivalence"]),
        "plan": load_plan(TF_FIXTURES / "plans" / "equivalence.tfplan.json"),
        # The template does not say where it is deployed; the provider block does.
        "cfn-yaml": load_cloudformation(
            FIXTURES / "equivalence.yaml", owner_account=OWNER, region=REGION
        ),
        "cfn-json": load_cloudformation(
            FIXTURES / "equivalence.json", owner_account=OWNER, region=REGION
        ),
    }


def _v(value: Sourced[Any]) -> tuple[Any, str]:
    return value.value, value.state.value


def project(inv: Inventory) -> dict[str, Any]:
    """What rules read, without ids, files and lines; references become what they name."""

    def key(ref: Sourced[str | None]) -> Any:
        if not ref.resolved or ref.value is None:
            return _v(ref)
        found = inv.key(ref.value)
        assert found is not None, f"{ref.value} names no declared key"
        return ("key", found.aliases.value, found.rotation.value, ref.state.value)

    vpcs = {v.vpc_id.value for v in inv.vpcs}
    (registry,) = inv.registries
    return {
        "repositories": {
            r.name.value: {
                "where": (r.account, r.region),
                "policy": _v(r.policy),
                "tag_mutability": _v(r.tag_mutability),
                "exclusions": _v(r.mutability_exclusions),
                "encryption_type": _v(r.encryption_type),
                "kms_key": key(r.kms_key),
                "scan_on_push": _v(r.scan_on_push),
                "lifecycle_policy": _v(r.lifecycle_policy),
                "force_delete": _v(r.force_delete),
            }
            for r in inv.repositories
        },
        "registry": {
            "where": (registry.account, registry.region),
            "policy": _v(registry.policy),
            "policy_scope": _v(registry.policy_scope),
            "scan_type": _v(registry.scan_type),
            # A set in Terraform: plans list it in their own order.
            "scanning_rules": sorted(registry.scanning_rules.get(), key=repr),
            "replication_rules": _v(registry.replication_rules),
        },
        "creation_templates": {
            t.prefix.value: {
                "applied_for": _v(t.applied_for),
                "policy": _v(t.policy),
                "tag_mutability": _v(t.tag_mutability),
                "encryption_type": _v(t.encryption_type),
                "kms_key": key(t.kms_key),
                "lifecycle_policy": _v(t.lifecycle_policy),
            }
            for t in inv.creation_templates
        },
        "kms_keys": sorted(
            (
                (k.aliases.value, _v(k.rotation), _v(k.policy), k.manager.value)
                for k in inv.kms_keys
            ),
            key=repr,
        ),
        "trails": {
            t.name.value: {
                "multi_region": _v(t.multi_region),
                "logging": t.logging.value,  # required in CloudFormation, defaulted in Terraform
                "log_validation": _v(t.log_validation),
                "management_events": _v(t.management_events),
                "bucket": _v(t.bucket),
            }
            for t in inv.trails
        },
        "event_rules": {
            e.name.value: {
                "pattern": _v(e.pattern),
                "state": _v(e.state),
                "targets": len(e.targets.get()),
            }
            for e in inv.event_rules
        },
        "endpoints": {
            e.service_name.value: {
                "type": _v(e.endpoint_type),
                "policy": _v(e.policy),
                "in_declared_vpc": e.vpc_id.value in vpcs,
            }
            for e in inv.vpc_endpoints
        },
        "vpcs": len(inv.vpcs),
    }


@pytest.fixture(scope="module")
def projections() -> dict[str, dict[str, Any]]:
    return {name: project(inv) for name, inv in _sources().items()}


SECTIONS = [
    "repositories",
    "registry",
    "creation_templates",
    "kms_keys",
    "trails",
    "event_rules",
    "endpoints",
    "vpcs",
]


@pytest.mark.parametrize("section", SECTIONS)
@pytest.mark.parametrize("source", ["plan", "cfn-yaml", "cfn-json"])
def test_every_source_gives_the_model_hcl_gives(
    projections: dict[str, dict[str, Any]], source: str, section: str
) -> None:
    assert projections[source][section] == projections["hcl"][section]


def test_the_projection_covers_what_the_estate_declares(
    projections: dict[str, dict[str, Any]],
) -> None:
    hcl = projections["hcl"]
    repos = hcl["repositories"]
    assert sorted(repos) == [
        "payments/app",
        "payments/aws-key",
        "payments/legacy",
        "payments/plain",
        "payments/releases",
        "payments/signed",
        "payments/staging",
        "platform/base",
        "sandbox/tools",
    ]
    app = repos["payments/app"]
    assert app["kms_key"] == ("key", ("alias/ecr-images",), True, "set")
    assert app["exclusions"] == ((), "default")
    assert repos["payments/releases"]["exclusions"] == (("latest", "dev-*"), "set")
    staging = repos["payments/staging"]
    assert staging["tag_mutability"] == ("MUTABLE_WITH_EXCLUSION", "set")
    assert staging["exclusions"] == (("release-*",), "set")
    # KMS_DSSE with the customer-managed key; KMS with no key is the AWS-managed one.
    signed = repos["payments/signed"]
    assert signed["encryption_type"] == ("KMS_DSSE", "set")
    assert signed["kms_key"] == app["kms_key"]
    assert repos["payments/aws-key"]["encryption_type"] == ("KMS", "set")
    assert repos["payments/aws-key"]["kms_key"] == (None, "default")
    # payments/legacy's lifecycle rules only select tagged images.
    lifecycle, state = repos["payments/legacy"]["lifecycle_policy"]
    assert state == "set"
    assert [rule["selection"]["tagStatus"] for rule in lifecycle["rules"]] == ["tagged"]
    assert lifecycle["rules"][0]["selection"]["tagPrefixList"] == ["v"]
    # Registry scanning covers payments/* continuously and sandbox/* only by hand;
    # platform/base matches no rule, so its own scan_on_push does not count.
    rules = hcl["registry"]["scanning_rules"]
    assert [(rule.frequency, rule.filters) for rule in rules] == [
        ("CONTINUOUS_SCAN", ("payments/*",)),
        ("MANUAL", ("sandbox/*",)),
    ]
    assert repos["platform/base"]["scan_on_push"] == (True, "set")
    assert {name: t["management_events"][0] for name, t in hcl["trails"].items()} == {
        "management": True,
        "data-events": False,
        "advanced": True,
    }
    # A strong trail and a weak one: single-region, unvalidated and stopped.
    strong, weak = hcl["trails"]["management"], hcl["trails"]["data-events"]
    assert (strong["multi_region"][0], strong["log_validation"][0], strong["logging"]) == (
        True,
        True,
        True,
    )
    assert (weak["multi_region"][0], weak["log_validation"][0], weak["logging"]) == (
        False,
        False,
        False,
    )
    assert hcl["event_rules"]["ecr-scan-findings"]["targets"] == 1


def test_inspector_is_terraform_only() -> None:
    # CloudFormation has no resource that enables Amazon Inspector for ECR.
    inventories = _sources()
    for name in ("hcl", "plan"):
        inspector = inventories[name].registries[0].inspector
        assert inspector is not None and inspector.get().ecr_status == "ENABLED"
    assert inventories["cfn-yaml"].registries[0].inspector is None


def _verdicts(inv: Inventory) -> list[tuple[str, str, str]]:
    """Every rule's verdicts, keyed by what the resource is rather than by its id."""
    from ecrguard import engine
    from ecrguard.rules import RULES

    names: dict[str, str] = {}
    for r in inv.repositories:
        names[r.id] = f"repository {r.name.value}"
    for t in inv.creation_templates:
        names[t.id] = f"template {t.prefix.value}"
    for t in inv.trails:
        names[t.id] = f"trail {t.name.value}"
    for e in inv.vpc_endpoints:
        names[e.id] = f"endpoint {e.service_name.value}"
    for reg in inv.registries:
        names[reg.id] = "registry"
    for v in inv.vpcs:
        names[v.id] = "vpc"
    ctx = engine.context_for(inv, owner_account=OWNER)
    found = engine.run(inv, RULES.values(), ctx)
    # Region and account views are named by account/region, which only some sources know.
    return sorted((f.rule, f.status.value, names.get(f.resource, "view")) for f in found)


# Verdicts the estate exists to exercise, by resource, that every source must give.
EXPECTED_VERDICTS = [
    # Registry scanning covers some repositories and not others.
    ("EG010", "PASS", "repository payments/app"),  # CONTINUOUS_SCAN payments/*
    ("EG010", "FAIL", "repository platform/base"),  # no rule matches
    ("EG010", "FAIL", "repository sandbox/tools"),  # only the MANUAL rule matches
    ("EG014", "FAIL", "repository payments/legacy"),  # rules for tagged images only
    ("EG015", "FAIL", "repository payments/staging"),  # MUTABLE_WITH_EXCLUSION
    ("EG016", "FAIL", "repository payments/aws-key"),  # KMS with the AWS-managed key
    ("EG016", "PASS", "repository payments/signed"),  # KMS_DSSE, customer-managed key
    ("EG017", "PASS", "trail management"),  # multi-region, validated, logging
]


def test_every_source_gets_the_same_verdicts() -> None:
    verdicts = {name: _verdicts(inv) for name, inv in _sources().items()}
    for name, got in verdicts.items():
        missing = [v for v in EXPECTED_VERDICTS if v not in got]
        assert not missing, (name, missing)
        # The weak trail fails twice: it is stopped, and its log file validation is off.
        assert got.count(("EG017", "FAIL", "trail data-events")) == 2, name
    # CloudFormation has no resource that enables Inspector, so EG011 has nothing
    # to judge there; every other verdict must match.
    hcl_without_inspector = [v for v in verdicts["hcl"] if v[0] != "EG011"]
    for name, got in verdicts.items():
        want = hcl_without_inspector if name.startswith("cfn") else verdicts["hcl"]
        assert got == want, name
