"""HCL expressions, seen through the repository names they produce."""

from __future__ import annotations

import pytest

from ecrguard.model import Inventory, State
from ecrguard.sources.terraform import load_terraform
from tests.terraform.helpers import FIXTURES, repo

MAIN = FIXTURES / "expressions" / "main.tf"


@pytest.fixture(scope="module")
def inventory() -> Inventory:
    return load_terraform([MAIN.parent])


@pytest.mark.parametrize(
    ("resource", "name"),
    [
        ("format", "svc-007-3"),
        ("join", "a/b/c"),
        ("conditional", "app-staging"),
        ("merge", "core-staging-STAGING"),
        ("for", "euwest1-eu"),
        ("jsondecode", "decoded-2"),
        ("template", "test-abc"),
        ("escaped", "literal ${not_interpolated} and %{not_a_directive}"),
        ("heredoc", "  keep indentation\n"),
        ("flush", "two\n  levels\n"),
        ("try", "fallback"),
        ("strip", "xyz 123"),
        ("templatefile", '[\n"p",\n"q",\n]\n'),
    ],
)
def test_expression_values(inventory: Inventory, resource: str, name: str) -> None:
    value = repo(inventory, f"aws_ecr_repository.{resource}").name
    assert (value.value, value.state) == (name, State.SET)


def test_conditional_follows_the_variable() -> None:
    inventory = load_terraform([MAIN.parent], variables={"env": "prod"})
    assert repo(inventory, "aws_ecr_repository.conditional").name.value == "app"
    assert repo(inventory, "aws_ecr_repository.template").name.value == "live-abc"


@pytest.mark.parametrize(
    ("resource", "reason"),
    [
        ("unsupported", "function timestamp() is not supported"),
        ("cycle", "local.loop_a refers to itself"),
    ],
)
def test_what_cannot_be_evaluated_is_unresolved(
    inventory: Inventory, resource: str, reason: str
) -> None:
    value = repo(inventory, f"aws_ecr_repository.{resource}").name
    assert (value.value, value.state, value.reason) == (None, State.UNRESOLVED, reason)
