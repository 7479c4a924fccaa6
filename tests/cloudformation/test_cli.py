"""`ecrguard iac` sends each path to the right reader and keeps going past bad files."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.cloudformation.helpers import FIXTURES, line_of
from tests.conftest import run_cli
from tests.terraform.helpers import FIXTURES as TF_FIXTURES

PLAN = TF_FIXTURES / "plans" / "modules.tfplan.json"
PUBLIC_TF = """resource "aws_ecr_repository" "tf" {
  name = "from-terraform"
}
"""
WORKFLOW = """name: ci
on: push
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - run: echo "Resources: AWS::ECR::Repository is just text here"
"""
MANIFEST = """apiVersion: v1
kind: Pod
spec:
  containers:
    - name: app
      resources:
        limits: {cpu: "1"}
"""
BROKEN_TEMPLATE = """Resources:
  Broken:
    Type: AWS::ECR::Repository
   Properties: [
"""


def _report(*args: str, partial: bool = False) -> tuple[int, dict[str, Any]]:
    r = run_cli("iac", *args, "--format", "json", "--fail-on", "never")
    # 3: nothing fails, but unreadable files make the result partial.
    assert r.code == (3 if partial else 0), r.err
    return r.code, json.loads(r.out)


def _resources(report: dict[str, Any]) -> set[str]:
    return {f["resource"] for f in report["findings"]}


@pytest.fixture
def mixed(tmp_path: Path) -> Path:
    (tmp_path / "main.tf").write_text(PUBLIC_TF)
    shutil.copy(FIXTURES / "equivalence.yaml", tmp_path / "stack.yaml")
    shutil.copy(PLAN, tmp_path / "modules.tfplan.json")
    (tmp_path / "ci.yml").write_text(WORKFLOW)
    (tmp_path / "pod.yaml").write_text(MANIFEST)
    (tmp_path / "terraform.tfvars.json").write_text("{}")
    # Mentions AWS types and a Resources key, but is no template (like CDK's tree.json).
    (tmp_path / "tree.json").write_text('{"tree": {"Resources": {"type": "AWS::ECR::Repository"}}}')
    (tmp_path / "state.json").write_text(
        '{"format_version": "1.0", "terraform_version": "1.11.4", "values": {}}'
    )
    (tmp_path / "broken.yaml").write_text(BROKEN_TEMPLATE)
    (tmp_path / "broken.tfplan.json").write_bytes(PLAN.read_bytes()[:3000])
    return tmp_path


def test_directory_reads_terraform_plans_and_templates_and_names_bad_files(mixed: Path) -> None:
    _, report = _report(str(mixed), partial=True)
    resources = _resources(report)
    assert "aws_ecr_repository.tf" in resources  # main.tf
    assert "AppRepository" in resources  # stack.yaml
    assert 'module.teams["blue"].aws_ecr_repository.this' in resources  # the plan
    files = {Path(f["file"]).name for f in report["findings"] if f.get("file")}
    assert files == {"main.tf", "stack.yaml", "modules.tfplan.json"}
    issues = {(Path(i["scope"]).name, i["operation"]): i["reason"] for i in report["issues"]}
    # The workflow, the manifest, the tfvars, the tree and the state are not ours: skipped.
    assert sorted(issues) == [
        ("broken.tfplan.json", "terraform:plan"),
        ("broken.yaml", "cloudformation:parse"),
    ]
    assert issues[("broken.yaml", "cloudformation:parse")].startswith("expected <block end>")
    assert issues[("broken.yaml", "cloudformation:parse")].endswith("at line 4")
    assert issues[("broken.tfplan.json", "terraform:plan")].startswith("invalid JSON at line 1")


def test_single_template_findings_carry_file_and_line() -> None:
    path = FIXTURES / "equivalence.yaml"
    r = run_cli("iac", str(path), "--owner-account", "123456789012", "--format", "json")
    assert r.code == 1, r.err
    report = json.loads(r.out)
    legacy = [f for f in report["findings"] if f["resource"] == "LegacyRepository"]
    assert legacy and {f["file"] for f in legacy} == {str(path)}
    assert {f["account"] for f in legacy} == {"123456789012"}
    lines = {f["line"] for f in legacy}
    assert line_of(path, "  LegacyRepository:") in lines


def test_single_plan_file() -> None:
    _, report = _report(str(PLAN))
    assert 'module.teams["green"].aws_ecr_repository.this' in _resources(report)


def test_paths_of_every_kind_merge_into_one_report(tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_text(PUBLIC_TF)
    _, report = _report(str(tmp_path), str(FIXTURES / "equivalence.json"), str(PLAN))
    resources = _resources(report)
    assert {"aws_ecr_repository.tf", "AppRepository", "aws_ecr_repository.dr"} <= resources


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("broken.yaml", BROKEN_TEMPLATE.encode(), "at line 4"),
        ("pod.yaml", MANIFEST.encode(), "not a Terraform .tf file, plan JSON or CloudFormation"),
        ("blob.template", b"\x7fELF\x00\x00Resources: AWS::X::Y", "not a Terraform .tf file"),
        ("plan.json", PLAN.read_bytes()[:3000], "invalid JSON at line 1"),
        (
            "state.json",
            b'{"format_version": "1.0", "terraform_version": "1.11.4", "values": {}}',
            "without planned_values is not a plan",
        ),
    ],
    ids=["broken-template", "manifest", "binary", "truncated-plan", "state"],
)
def test_a_bad_file_alone_is_a_one_line_error(
    tmp_path: Path, name: str, content: bytes, message: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    r = run_cli("iac", str(path))
    assert r.code == 2
    assert r.err.startswith(f"error: {path}") and message in r.err
    assert r.err.strip().count("\n") == 0


def test_alias_bomb_through_the_cli(tmp_path: Path) -> None:
    lines = ["L0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [f"L{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]" for i in range(1, 10)]
    lines += ["Resources:", "  R:", "    Type: AWS::ECR::Repository", "    Properties: *l9"]
    path = tmp_path / "bomb.yaml"
    path.write_text("\n".join(lines) + "\n")
    r = run_cli("iac", str(path))
    assert r.code == 2 and "alias bomb" in r.err and r.err.strip().count("\n") == 0
