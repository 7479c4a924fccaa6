"""The judge-and-report shortcuts give exactly the answers and bytes of the long way.

Parsed policies are shared between equal documents, exposure answers between
the rules of one engine run, and reports are laid out without the standard
library's pure-Python JSON encoder. Each of these is checked against what it
replaced.
"""

from __future__ import annotations

import copy
import gc
import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ecrguard import engine
from ecrguard.errors import PolicyParseError
from ecrguard.model import Finding, Inventory, Origin, Repository, Severity, Sourced, Status
from ecrguard.policy import REPOSITORY_LEVELS, exposure, parse_policy
from ecrguard.policy.parse import clear_cache
from ecrguard.report import Report
from ecrguard.report.jsonout import _finding_text
from ecrguard.report.jsonout import render as render_json
from ecrguard.report.jsontext import dumps
from ecrguard.report.sarif import _Locator
from ecrguard.report.sarif import render as render_sarif
from ecrguard.rules import RULES
from ecrguard.rules.base import Context

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
OWNER = "111122223333"
OUTSIDER = "999988887777"


def _public(principal: Any = "*") -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": principal, "Action": "ecr:BatchGetImage"}],
    }


# ---- parse cache -------------------------------------------------------------------


def _outcome(doc: Any) -> Any:
    try:
        return parse_policy(doc)
    except PolicyParseError as err:
        return f"error: {err}"


@pytest.mark.parametrize(
    ("first", "second"),
    [
        # Equal as JSON text or by ==, yet parsed differently (or, for the
        # date, alike): the cache must tell each pair apart.
        (
            {"Statement": [{"Effect": "Allow", "Action": ["ecr:*"]}]},
            {"Statement": [{"Effect": "Allow", "Action": ("ecr:*",)}]},
        ),
        (
            {"Statement": [{"Effect": "Allow", "Action": "*", "Condition": {"Bool": {None: "x"}}}]},
            {
                "Statement": [
                    {"Effect": "Allow", "Action": "*", "Condition": {"Bool": {"null": "x"}}}
                ]
            },
        ),
        (
            {"Statement": {"Effect": "Allow", "Action": "*", "Condition": {"Bool": {"k": True}}}},
            {"Statement": {"Effect": "Allow", "Action": "*", "Condition": {"Bool": {"k": 1}}}},
        ),
        (
            {"Version": date(2012, 10, 17), "Statement": []},
            {"Version": "2012-10-17", "Statement": []},
        ),
    ],
)
def test_documents_a_looser_key_would_confuse_are_parsed_apart(first: Any, second: Any) -> None:
    clear_cache()
    alone_first = _outcome(first)
    clear_cache()
    alone_second = _outcome(second)
    for order in ((first, second), (second, first)):
        clear_cache()
        assert [_outcome(doc) for doc in order] == [
            alone_first if doc is first else alone_second for doc in order
        ]


def test_a_changed_document_is_parsed_again() -> None:
    doc = _public()
    before = parse_policy(doc)
    doc["Statement"][0]["Action"] = "ecr:PutImage"
    after = parse_policy(doc)
    assert before.statements[0].actions == ("ecr:BatchGetImage",)
    assert after.statements[0].actions == ("ecr:PutImage",)


def test_parse_errors_are_not_remembered() -> None:
    doc: dict[str, Any] = {"Statement": [{"Effect": "Maybe", "Action": "*"}]}
    for _ in range(2):
        with pytest.raises(PolicyParseError, match="Effect"):
            parse_policy(doc)


def test_equal_documents_share_one_parse() -> None:
    assert parse_policy(_public()) is parse_policy(copy.deepcopy(_public()))


# ---- exposure answers within one run -------------------------------------------------


def test_memoized_context_answers_like_a_fresh_one() -> None:
    plain = Context(owner_account=OWNER)
    memo = plain.memoized()
    for doc in (_public(), _public({"AWS": OUTSIDER}), _public({"AWS": OWNER})):
        expected = plain.exposure(doc, None).to_json()
        assert memo.exposure(doc, None).to_json() == expected
        assert memo.exposure(doc, None).to_json() == expected  # from the memo
        # Other levels and trust settings are other questions.
        narrow = {"pull": REPOSITORY_LEVELS["pull"]}
        assert (
            memo.exposure(doc, None, narrow).to_json()
            == plain.exposure(doc, None, narrow).to_json()
        )
        trusting = memo.exposure(doc, None, trusted=[OUTSIDER]).to_json()
        assert trusting == plain.exposure(doc, None, trusted=[OUTSIDER]).to_json()


def test_memoized_answers_are_the_callers_own() -> None:
    ctx = Context(owner_account=OWNER).memoized()
    doc = _public()
    first = ctx.exposure(doc, None)
    first.levels.clear()
    first.reasons["note"] = "scribbled"
    again = ctx.exposure(doc, None)
    assert again.levels and "note" not in again.reasons
    assert again.to_json() == exposure(doc, OWNER).to_json()


def test_a_plain_context_remembers_nothing_by_identity() -> None:
    ctx = Context(owner_account=OWNER)
    doc = _public()
    assert ctx.exposure(doc, None).public
    doc["Statement"][0]["Principal"] = {"AWS": OWNER}
    assert not ctx.exposure(doc, None).public


def _repository(i: int, policy: dict[str, Any] | None) -> Repository:
    origin = Origin(f"aws_ecr_repository.r{i}", "main.tf", i + 1)
    return Repository(
        id=f"aws_ecr_repository.r{i}",
        origin=origin,
        account=None,
        region=None,
        name=Sourced.set(f"r{i}", origin),
        policy=Sourced.set(policy, origin),
        tag_mutability=Sourced.set("MUTABLE", origin),
        mutability_exclusions=Sourced.set((), origin),
        encryption_type=Sourced.set("AES256", origin),
        kms_key=Sourced.set(None, origin),
        scan_on_push=Sourced.set(False, origin),
        lifecycle_policy=Sourced.set(None, origin),
        force_delete=Sourced.set(False, origin),
    )


def _inventory() -> Inventory:
    shared = _public()
    docs = [shared, shared, _public({"AWS": OUTSIDER}), None, copy.deepcopy(shared)]
    return Inventory(repositories=tuple(_repository(i, d) for i, d in enumerate(docs)))


def test_engine_run_matches_rule_by_rule_without_memo() -> None:
    inv = _inventory()
    ctx = engine.context_for(inv, owner_account=OWNER)
    expected = [
        engine._finding(rule, resource, result)
        for rule in RULES.values()
        for kind in rule.targets
        for resource in engine.targets(inv).get(kind, ())
        for result in engine._safe(rule, resource, ctx)
    ]
    assert engine.run(inv, RULES.values(), ctx) == expected


@pytest.mark.parametrize("enabled", [True, False])
def test_engine_run_leaves_the_collector_as_it_found_it(enabled: bool) -> None:
    was = gc.isenabled()
    try:
        (gc.enable if enabled else gc.disable)()
        engine.run(_inventory(), RULES.values(), Context(owner_account=OWNER))
        assert gc.isenabled() is enabled
    finally:
        (gc.enable if was else gc.disable)()


# ---- report text ---------------------------------------------------------------------

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(),
)
json_like = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.lists(inner, max_size=3).map(tuple),
        st.dictionaries(st.text(max_size=8), inner, max_size=4),
        st.dictionaries(st.one_of(st.integers(), st.none(), st.booleans()), inner, max_size=2),
    ),
    max_leaves=20,
)


@SETTINGS
@given(json_like, st.integers(min_value=0, max_value=5))
def test_dumps_writes_what_json_dumps_writes(value: Any, level: int) -> None:
    expected = json.dumps(value, indent=2).replace("\n", "\n" + "  " * level)
    assert dumps(value, level) == expected


def test_dumps_raises_what_json_dumps_raises() -> None:
    loop: list[Any] = []
    loop.append(loop)
    with pytest.raises(ValueError, match="Circular"):
        dumps({"a": loop})
    with pytest.raises(TypeError):
        dumps({"a": object()})


def _finding(**changes: Any) -> Finding:
    base: dict[str, Any] = {
        "rule": "EG001",
        "title": "Repository policy grants access to any AWS account",
        "severity": Severity.CRITICAL,
        "status": Status.FAIL,
        "labs": ("01",),
        "resource": "aws_ecr_repository.app",
        "region": None,
        "account": "111122223333",
        "file": "infra/main.tf",
        "line": 12,
        "message": 'policy lets "anyone" pull — ünïcödé\n\ttoo',
        "remediation": "aws ecr set-repository-policy --repository-name app",
    }
    return Finding(**{**base, **changes})


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"labs": ()},
        {"labs": ("02", "03")},
        {"labs": ["04"]},
        {"line": None, "file": None, "region": "eu-west-1"},
        {"line": True},
        {"status": Status.PASS, "remediation": ""},
        {"severity": Severity.LOW, "status": Status.UNKNOWN},
    ],
)
def test_finding_text_is_json_dumps_of_to_dict(changes: dict[str, Any]) -> None:
    f = _finding(**changes)
    expected = "    " + json.dumps(f.to_dict(), indent=2).replace("\n", "\n    ")
    assert _finding_text(f) == expected


def _report(findings: list[Finding]) -> Report:
    issues = [{"scope": "111122223333/us-east-1", "operation": "ecr:X", "reason": "denied"}]
    return Report(findings, "iac", issues, {"api_calls": 3})


def _canonical(text: str) -> str:
    """What json.dumps(indent=2) writes for the document the text holds."""
    return json.dumps(json.loads(text), indent=2) + "\n"


@pytest.mark.parametrize("count", [0, 1, 3])
def test_reports_are_laid_out_as_json_dumps_would(count: int) -> None:
    findings = [
        _finding(),
        _finding(status=Status.PASS, remediation="", line=None),
        _finding(status=Status.UNKNOWN, file=None, resource="arn:aws:ecr:us-east-1:1:repository/x"),
    ][:count]
    for text in (render_json(_report(findings)), render_sarif(_report(findings))):
        assert text == _canonical(text)


# ---- SARIF file locations ------------------------------------------------------------


def test_locator_resolves_as_path_resolve(tmp_path: Path) -> None:
    (tmp_path / "real" / "sub").mkdir(parents=True)
    (tmp_path / "real" / "a.tf").touch()
    (tmp_path / "link").symlink_to("real")
    (tmp_path / "real" / "alias.tf").symlink_to("a.tf")
    (tmp_path / "real" / "sub" / "up").symlink_to("..")
    (tmp_path / "loop1").symlink_to("loop2")
    (tmp_path / "loop2").symlink_to("loop1")
    cases = [
        "real/a.tf",
        "link/a.tf",
        "link/alias.tf",
        "real/sub/up/a.tf",
        "real/sub/up/sub/up/alias.tf",
        "real/sub/../a.tf",
        "link/sub/..",
        "real/missing.tf",
        "missing/dir/x.tf",
        "loop1/x.tf",
    ]
    locator = _Locator(tmp_path)

    def resolved(path: Path, memo: bool) -> str:
        try:
            return locator._real(str(path)) if memo else str(path.resolve())
        except RuntimeError:
            return "symlink loop"

    for _ in range(2):  # the second time from the memo
        for case in cases:
            path = tmp_path / case
            assert resolved(path, memo=True) == resolved(path, memo=False), case


# ---- start-up ------------------------------------------------------------------------


def test_listing_rules_does_not_load_the_policy_engine() -> None:
    code = (
        "import sys; from ecrguard.entry import main; main(['rule']); "
        "print(sorted(m for m in sys.modules if m.startswith('ecrguard.policy.')), file=sys.stderr)"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=os.environ
    )
    loaded = proc.stderr.strip()
    assert "exposure" not in loaded and "evaluate" not in loaded and "parse" not in loaded, loaded


def test_policy_package_names_stay_the_functions() -> None:
    import ecrguard.policy as package

    # Importing a submodule binds it on the package under the function's name.

    assert callable(package.exposure) and package.exposure.__name__ == "exposure"
    assert callable(package.evaluate) and package.evaluate.__name__ == "evaluate"
    with pytest.raises(AttributeError):
        package.no_such_name  # noqa: B018
