"""Terraform plan JSON (`terraform show -json`) read through the same mapping as HCL.

The fixtures in fixtures/plans/ are real `terraform show -json` output of the
fixture directories equivalence/ and plan_modules/ (see plans/generate.py).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ecrguard.errors import InputError
from ecrguard.model import Inventory, State
from ecrguard.sources.terraform import load_terraform
from ecrguard.sources.terraform.plan import NotAPlan, load_plan
from tests.conftest import run_cli
from tests.terraform.helpers import FIXTURES, line_of, repo

PLANS = FIXTURES / "plans"
EQUIVALENCE = PLANS / "equivalence.tfplan.json"
MODULES = PLANS / "modules.tfplan.json"


@pytest.fixture(scope="module")
def modules() -> Inventory:
    return load_plan(MODULES)


@pytest.fixture(scope="module")
def estate() -> Inventory:
    return load_plan(EQUIVALENCE)


def test_addresses_come_from_the_plan(modules: Inventory) -> None:
    assert sorted(r.id for r in modules.repositories) == [
        "aws_ecr_repository.dr",
        "aws_ecr_repository.generated",
        "aws_ecr_repository.mirror[0]",
        "aws_ecr_repository.mirror[1]",
        'module.teams["blue"].aws_ecr_repository.this',
        'module.teams["green"].aws_ecr_repository.this',
    ]
    assert repo(modules, "aws_ecr_repository.mirror[1]").name.value == "mirror/1"


def test_module_values_and_provider_regions(modules: Inventory) -> None:
    blue = repo(modules, 'module.teams["blue"].aws_ecr_repository.this')
    assert (blue.name.value, blue.name.state) == ("team/blue", State.SET)
    assert (blue.tag_mutability.value, blue.tag_mutability.state) == ("IMMUTABLE", State.SET)
    # The policy in the module matched its repository by the name Terraform resolved.
    assert blue.policy.origin.ref == 'module.teams["blue"].aws_ecr_repository_policy.this'
    assert blue.policy.get()["Statement"][0]["Principal"] == "*"
    assert blue.region == "us-west-2"
    assert repo(modules, "aws_ecr_repository.dr").region == "eu-north-1"  # provider = aws.dr


def test_key_known_after_apply_stands_in_by_its_module_address(modules: Inventory) -> None:
    green = repo(modules, 'module.teams["green"].aws_ecr_repository.this')
    assert (green.kms_key.value, green.kms_key.state) == (
        'module.teams["green"].aws_kms_key.this',
        State.SET,
    )
    key = modules.key(green.kms_key.get())
    assert key is not None and key.rotation.value is True


def test_values_known_only_after_apply_are_unresolved(modules: Inventory) -> None:
    generated = repo(modules, "aws_ecr_repository.generated")
    assert generated.name.state is State.UNRESOLVED
    assert generated.name.reason == "aws_ecr_repository.generated.name is known only after apply"
    # Its policy's repository is unknown too: the configuration's reference finds it.
    policy = generated.policy
    assert policy.origin.ref == "aws_ecr_repository_policy.generated"
    assert (policy.value, policy.state) == (None, State.UNRESOLVED)
    assert policy.reason == "aws_ecr_repository_policy.generated.policy is known only after apply"


def test_attributes_the_code_leaves_out_are_defaults(estate: Inventory) -> None:
    # The provider fills image_tag_mutability = "MUTABLE" into the plan; the code does not write it.
    legacy = repo(estate, "aws_ecr_repository.legacy")
    assert (legacy.tag_mutability.value, legacy.tag_mutability.state) == ("MUTABLE", State.DEFAULT)
    assert (legacy.force_delete.value, legacy.force_delete.state) == (False, State.DEFAULT)
    app = repo(estate, "aws_ecr_repository.app")
    assert (app.tag_mutability.value, app.tag_mutability.state) == ("IMMUTABLE", State.SET)
    assert (app.force_delete.value, app.force_delete.state) == (True, State.SET)
    # The key policy is unknown in the plan, but the code never wrote one: the AWS default.
    key = next(k for k in estate.kms_keys if k.id == "aws_kms_key.images")
    assert (key.policy.value, key.policy.state) == (None, State.DEFAULT)
    s3 = next(e for e in estate.vpc_endpoints if e.id == "aws_vpc_endpoint.s3")
    assert (s3.endpoint_type.value, s3.endpoint_type.state) == ("Gateway", State.DEFAULT)
    assert (s3.policy.value, s3.policy.state) == (None, State.DEFAULT)
    assert s3.vpc_id.value == "aws_vpc.main"


def test_exclusion_filters(estate: Inventory) -> None:
    releases = repo(estate, "aws_ecr_repository.releases")
    assert releases.tag_mutability.value == "IMMUTABLE_WITH_EXCLUSION"
    exclusions = releases.mutability_exclusions
    assert (exclusions.value, exclusions.state) == (("latest", "dev-*"), State.SET)
    staging = repo(estate, "aws_ecr_repository.staging")
    assert (staging.tag_mutability.value, staging.tag_mutability.state) == (
        "MUTABLE_WITH_EXCLUSION",
        State.SET,
    )
    assert staging.mutability_exclusions.value == ("release-*",)


def test_owner_account_from_allowed_account_ids_or_the_caller(
    estate: Inventory, modules: Inventory
) -> None:
    assert {r.account for r in estate.repositories} == {"123456789012"}
    assert {r.account for r in modules.repositories} == {None}
    given = load_plan(MODULES, owner_account="999999999999")
    assert {r.account for r in given.repositories} == {"999999999999"}


def test_single_line_plans_point_at_line_one(estate: Inventory) -> None:
    app = repo(estate, "aws_ecr_repository.app")
    assert (app.origin.file, app.origin.line) == (str(EQUIVALENCE), 1)
    assert app.scan_on_push.origin == app.origin


def test_pretty_printed_plans_point_at_each_resource_address(tmp_path: Path) -> None:
    # What `terraform show -json plan.out | jq .` gives.
    pretty = tmp_path / "plan.json"
    pretty.write_text(json.dumps(json.loads(EQUIVALENCE.read_text()), indent=2))
    inventory = load_plan(pretty)
    app = repo(inventory, "aws_ecr_repository.app")
    expected = line_of(pretty, '"address": "aws_ecr_repository.app"')
    assert (app.origin.file, app.origin.line) == (str(pretty), expected)
    assert app.tag_mutability.origin.line == expected
    # A policy points at its own resource's line.
    assert app.policy.origin.line == line_of(pretty, '"address": "aws_ecr_repository_policy.app"')


def test_module_plan_matches_the_hcl_it_was_planned_from(modules: Inventory) -> None:
    hcl = load_terraform([FIXTURES / "plan_modules"])
    fields = ("name", "tag_mutability", "encryption_type", "kms_key", "scan_on_push", "policy")
    for planned in modules.repositories:
        written = repo(hcl, planned.id)
        for field in fields:
            got, want = getattr(planned, field), getattr(written, field)
            if want.resolved:
                assert (got.value, got.state) == (want.value, want.state), (planned.id, field)
            else:
                assert not got.resolved, (planned.id, field)


def test_sensitive_values_are_never_printed() -> None:
    # var.registry_token is sensitive and ends up in the mirror repositories' tags.
    assert "not-a-real-token" in MODULES.read_text()
    r = run_cli("iac", str(MODULES), "--format", "json", "--fail-on", "never")
    assert r.code == 0, r.err
    assert "not-a-real-token" not in r.out + r.err


# -- bad input --------------------------------------------------------------------------------


def _mutated(tmp_path: Path, change: Callable[[dict[str, Any]], None]) -> Path:
    plan = json.loads(EQUIVALENCE.read_text())
    change(plan)
    path = tmp_path / "bad.tfplan.json"
    path.write_text(json.dumps(plan))
    return path


def _resource(plan: dict[str, Any], address: str) -> dict[str, Any]:
    resources = plan["planned_values"]["root_module"]["resources"]
    found: dict[str, Any] = next(r for r in resources if r["address"] == address)
    return found


MALFORMED: dict[str, tuple[Callable[[dict[str, Any]], None], str]] = {
    "planned_values is a list": (
        lambda p: p.update(planned_values=[]),
        "malformed plan JSON: planned_values is not an object",
    ),
    "resources is not a list": (
        lambda p: p["planned_values"]["root_module"].update(resources={"a": 1}),
        "malformed plan JSON: resources is not a list",
    ),
    "a resource is a string": (
        lambda p: p["planned_values"]["root_module"]["resources"].append("x"),
        "malformed plan JSON: planned_values resource is not an object",
    ),
    "values is a list": (
        lambda p: _resource(p, "aws_ecr_repository.app").update(values=[]),
        "malformed plan JSON: values is not an object",
    ),
    "address is a number": (
        lambda p: _resource(p, "aws_ecr_repository.app").update(address=7),
        "malformed plan JSON: address is not a string",
    ),
    "a block is a string": (
        lambda p: _resource(p, "aws_ecr_repository.app")["values"].update(
            encryption_configuration="KMS"
        ),
        "malformed plan JSON: aws_ecr_repository.app.encryption_configuration "
        "is not a list of objects",
    ),
    "resource_changes is an object": (
        lambda p: p.update(resource_changes={}),
        "malformed plan JSON: resource_changes is not a list",
    ),
    "child_modules holds a number": (
        lambda p: p["planned_values"]["root_module"].update(child_modules=[1]),
        "malformed plan JSON: child_modules[] is not an object",
    ),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_wrong_types_are_one_line_input_errors(tmp_path: Path, case: str) -> None:
    change, message = MALFORMED[case]
    path = _mutated(tmp_path, change)
    with pytest.raises(InputError) as err:
        load_plan(path)
    assert str(err.value) == f"{path}: {message}"


def test_attribute_of_the_wrong_type_is_unresolved_not_an_error(tmp_path: Path) -> None:
    path = _mutated(
        tmp_path,
        lambda p: _resource(p, "aws_ecr_repository.app")["values"].update(force_delete="yes"),
    )
    force_delete = repo(load_plan(path), "aws_ecr_repository.app").force_delete
    assert force_delete.state is State.UNRESOLVED
    assert force_delete.reason == "force_delete: expected a bool, got 'yes'"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (EQUIVALENCE.read_bytes()[:5000], "invalid JSON at line 1: Unterminated string"),
        (b'{"format_version": "1.2", "terraform_version": "1.11.4"', "invalid JSON at line 1"),
        (b"\x7fELF\x02\x01\x01\x00\x00", "binary file, not plan JSON"),
        (b'{"format_version": "\xff"}', "not UTF-8 text (invalid byte at line 1)"),
        (b'{"format_version": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "nested too deeply"),
    ],
    ids=["truncated", "unterminated", "binary", "latin1", "deep"],
)
def test_unreadable_plans_are_one_line_input_errors(
    tmp_path: Path, content: bytes, message: str
) -> None:
    path = tmp_path / "plan.json"
    path.write_bytes(content)
    with pytest.raises(InputError) as err:
        load_plan(path)
    text = str(err.value)
    assert text.startswith(f"{path}: ") and message in text and "\n" not in text


def test_terraform_state_json_is_not_a_plan(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_text('{"format_version": "1.0", "terraform_version": "1.11.4", "values": {}}')
    with pytest.raises(NotAPlan, match="without planned_values is not a plan"):
        load_plan(path)


# -- any damage is an InputError or an unresolved value, never a crash ---------------------

_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            out.extend(_paths(item, (*prefix, key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            out.extend(_paths(item, (*prefix, index)))
    return out


_PLAN = json.loads(MODULES.read_text())
_PLAN_PATHS = _paths(_PLAN)[1:]


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(where=st.sampled_from(_PLAN_PATHS), replacement=_JSON)
def test_damaged_plans_never_crash(
    tmp_path: Path, where: tuple[Any, ...], replacement: Any
) -> None:
    plan = json.loads(json.dumps(_PLAN))
    parent = plan
    for step in where[:-1]:
        parent = parent[step]
    parent[where[-1]] = replacement
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(plan))
    try:
        inventory = load_plan(path)
    except InputError as err:
        assert "\n" not in str(err) and str(err).startswith(str(path))
    else:
        assert isinstance(inventory, Inventory)


def test_reading_plans_and_templates_does_not_load_tree_sitter() -> None:
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from ecrguard.sources.terraform.plan import load_plan\n"
        f"load_plan({str(MODULES)!r})\n"
        "print('tree_sitter' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
