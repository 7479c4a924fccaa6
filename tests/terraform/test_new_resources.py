"""KMS keys, CloudTrail trails, EventBridge rules and Inspector, read from HCL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ecrguard.model import Inspector, Inventory, State
from ecrguard.sources.terraform import load_terraform
from tests.terraform.helpers import FIXTURES, line_of, repo

EQUIVALENCE = FIXTURES / "equivalence" / "main.tf"
NEW = FIXTURES / "new_types" / "main.tf"


@pytest.fixture(scope="module")
def estate() -> Inventory:
    return load_terraform([EQUIVALENCE.parent])


@pytest.fixture(scope="module")
def new_types() -> Inventory:
    return load_terraform([NEW.parent])


def _by_id(items: tuple[Any, ...]) -> dict[str, Any]:
    return {item.id: item for item in items}


# -- KMS keys ----------------------------------------------------------------------------


def test_kms_key_is_known_by_its_address_and_aliases(estate: Inventory) -> None:
    key = _by_id(estate.kms_keys)["aws_kms_key.images"]
    assert key.origin.line == line_of(EQUIVALENCE, 'resource "aws_kms_key" "images"')
    assert (key.key_id.value, key.manager.value) == ("aws_kms_key.images", "CUSTOMER")
    assert (key.rotation.value, key.rotation.state) == (True, State.SET)
    assert key.rotation.origin.line == line_of(EQUIVALENCE, "enable_key_rotation = true")
    assert (key.aliases.value, key.aliases.state) == (("alias/ecr-images",), State.SET)
    assert key.aliases.origin.ref == "aws_kms_alias.images"
    # No policy attribute: the AWS default key policy, kept as None.
    assert (key.policy.value, key.policy.state) == (None, State.DEFAULT)
    assert (key.account, key.region) == ("123456789012", "eu-west-1")


def test_repository_kms_key_resolves_to_the_declared_key(estate: Inventory) -> None:
    # kms_key = aws_kms_key.images.arn: the address stands in for the ARN AWS assigns.
    app = repo(estate, "aws_ecr_repository.app")
    assert app.kms_key.value == "aws_kms_key.images"
    key = estate.key(app.kms_key.get())
    assert key is not None and key.id == "aws_kms_key.images"
    legacy = estate.key(repo(estate, "aws_ecr_repository.legacy").kms_key.get())
    assert legacy is not None and (legacy.rotation.value, legacy.rotation.state) == (
        False,
        State.DEFAULT,
    )
    assert legacy.policy.get()["Statement"][0]["Sid"] == "Admin"


def test_aliases_attach_by_key_id_or_arn_and_name_the_key(new_types: Inventory) -> None:
    key = _by_id(new_types.kms_keys)["aws_kms_key.with_aliases"]
    assert key.aliases.value == ("alias/images", "alias/images-legacy")
    # A repository that names the key by alias finds it.
    by_alias = repo(new_types, "aws_ecr_repository.by_alias")
    assert new_types.key(by_alias.kms_key.get()) is key
    # An alias for a key the configuration does not declare attaches to nothing.
    assert len(new_types.kms_keys) == 2


def test_alias_with_an_unknown_name_leaves_the_aliases_unresolved(new_types: Inventory) -> None:
    key = _by_id(new_types.kms_keys)["aws_kms_key.alias_unknown"]
    assert key.aliases.state is State.UNRESOLVED
    assert key.aliases.reason == "alias var.alias_suffix has no value"
    assert key.aliases.origin.line == line_of(NEW, 'name          = "alias/${var.alias_suffix}"')
    assert key.rotation.state is State.UNRESOLVED


# -- trails --------------------------------------------------------------------------------


def test_trail_values_and_defaults(estate: Inventory) -> None:
    trails = _by_id(estate.trails)
    main = trails["aws_cloudtrail.main"]
    assert main.name.value == "management"
    assert (main.multi_region.value, main.log_validation.value) == (True, True)
    assert (main.logging.value, main.logging.state) == (True, State.DEFAULT)
    assert main.bucket.value == "trail-logs-123456789012"
    assert (main.management_events.value, main.management_events.state) == (True, State.SET)
    assert main.management_events.origin.line == line_of(EQUIVALENCE, "  event_selector {")
    data = trails["aws_cloudtrail.data_only"]
    assert (data.logging.value, data.logging.state) == (False, State.SET)
    assert (data.multi_region.value, data.multi_region.state) == (False, State.DEFAULT)
    assert data.management_events.value is False
    # eventCategory = Management with readOnly = false records management writes.
    assert trails["aws_cloudtrail.advanced"].management_events.value is True


def test_management_events_follow_the_selectors(new_types: Inventory) -> None:
    trails = _by_id(new_types.trails)
    # No selector at all: CloudTrail records every management event.
    defaults = trails["aws_cloudtrail.defaults"].management_events
    assert (defaults.value, defaults.state) == (True, State.DEFAULT)
    # Read-only selectors miss the write events.
    assert trails["aws_cloudtrail.read_only"].management_events.value is False
    assert trails["aws_cloudtrail.advanced_read_only"].management_events.value is False


# -- EventBridge rules -------------------------------------------------------------------------


def test_event_rule_pattern_state_and_targets(estate: Inventory) -> None:
    rules = _by_id(estate.event_rules)
    findings = rules["aws_cloudwatch_event_rule.scan_findings"]
    assert findings.name.value == "ecr-scan-findings"
    assert findings.pattern.value == {
        "source": ["aws.inspector2"],
        "detail-type": ["Inspector2 Finding"],
        "detail": {"severity": ["CRITICAL", "HIGH"]},
    }
    assert (findings.state.value, findings.state.state) == ("ENABLED", State.DEFAULT)
    # rule = aws_cloudwatch_event_rule.scan_findings.name
    assert findings.targets.value == ("aws_cloudwatch_event_target.notify",)
    assert findings.targets.origin.line == line_of(
        EQUIVALENCE, 'resource "aws_cloudwatch_event_target" "notify"'
    )
    paused = rules["aws_cloudwatch_event_rule.paused"]
    assert (paused.state.value, paused.state.state) == ("DISABLED", State.SET)
    assert (paused.targets.value, paused.targets.state) == ((), State.DEFAULT)


def test_heredoc_pattern_is_enabled_false_and_targets_by_name_or_id(new_types: Inventory) -> None:
    rules = _by_id(new_types.event_rules)
    heredoc = rules["aws_cloudwatch_event_rule.heredoc"]
    assert heredoc.pattern.value == {"source": ["aws.ecr"], "detail-type": ["ECR Image Scan"]}
    assert heredoc.pattern.origin.line == line_of(NEW, "event_pattern = <<-EOT")
    # The deprecated is_enabled = false means DISABLED.
    assert (heredoc.state.value, heredoc.state.state) == ("DISABLED", State.SET)
    assert heredoc.state.origin.line == line_of(NEW, "is_enabled = false")
    assert heredoc.targets.value == (
        "aws_cloudwatch_event_target.by_name",
        "aws_cloudwatch_event_target.by_id",
    )
    schedule = rules["aws_cloudwatch_event_rule.schedule"]
    assert (schedule.pattern.value, schedule.pattern.state) == (None, State.DEFAULT)


def test_target_with_an_unknown_rule_leaves_untargeted_rules_unresolved(tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_text(
        'variable "rule" {}\n'
        'resource "aws_cloudwatch_event_rule" "a" {\n  name = "a"\n}\n'
        'resource "aws_cloudwatch_event_target" "t" {\n  rule = var.rule\n  arn = "x"\n}\n'
    )
    (rule,) = load_terraform([tmp_path]).event_rules
    assert rule.targets.state is State.UNRESOLVED
    assert rule.targets.reason == "a target's rule is not known: var.rule has no value"


# -- Inspector -------------------------------------------------------------------------------


def test_inspector_enabler_for_ecr_sets_the_registry_inspector(estate: Inventory) -> None:
    (registry,) = estate.registries
    inspector = registry.inspector
    assert inspector is not None
    assert (inspector.value, inspector.state) == (Inspector("ENABLED", None, None), State.SET)
    assert inspector.origin.ref == "aws_inspector2_enabler.ecr"


def test_inspector_enabler_alone_creates_the_registry() -> None:
    (registry,) = load_terraform([FIXTURES / "inspector_only"]).registries
    assert registry.id == "aws_inspector2_enabler.this"
    assert registry.inspector is not None and registry.inspector.get().ecr_status == "ENABLED"
    assert (registry.scan_type.value, registry.scan_type.state) == ("BASIC", State.DEFAULT)


def test_inspector_enabler_without_ecr_is_not_registry_level(new_types: Inventory) -> None:
    assert new_types.registries == ()
    inventory = load_terraform([FIXTURES / "inspector_only"], variables={"resource_types": ["EC2"]})
    assert inventory.registries == ()


def test_registry_without_an_enabler_says_nothing_about_inspector() -> None:
    (registry,) = load_terraform([FIXTURES / "registry"]).registries
    assert registry.inspector is None
