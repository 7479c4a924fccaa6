"""Hostile and malformed input, through the real CLI (issue 4): one line, exit 2, in bounds.

DESIGN.md's reliability rules: bad input gets one clear line (``error: ...``)
and exit code 2, never a traceback; in a directory scan the bad file is named
in the report's issues and every other file is still scanned. Each case must
also finish within 20 s and 500 MB, since hostile input is built to make a
parser hang or balloon.

Every case runs ``python -m ecrguard`` through bench/peak_rss.py, a small
launcher that reaps it with ``os.wait4`` and reports that one run's own peak
RSS (forked from pytest directly, the child would inherit pytest's). A child still
running after 20 s is killed and the test fails. As a safety net a child may
map at most 1.5 GiB, so a regression fails here instead of exhausting the machine.

Single inputs are one case each; directory scans gather many bad files and a
few good ones in one run, to keep the file fast. Plan JSON is read freely when a
count of its tokens bounds what parsing it takes, and past that bound under a
cap on the process's address space: the cases at the end build the worst shapes
found just inside the bound, hostile plans far past it, and large real plans.
"""

from __future__ import annotations

import gzip
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ecrguard.sources.cloudformation.parse import MAX_NODES
from ecrguard.sources.terraform.plan import MAX_PLAN_MEMORY, _parse_cost
from tests.terraform import large_plan
from tests.test_cli import PUBLIC_TF

pytestmark = pytest.mark.skipif(
    not hasattr(os, "wait4") or not hasattr(os, "fork"),
    reason="per-child peak memory needs os.fork and os.wait4 (POSIX)",
)

OWNER = "111122223333"
OUTSIDER = "444455556666"
LIMIT_SECONDS = 20.0
LIMIT_RSS_KIB = 500 * 1024  # ru_maxrss is in KiB on Linux
ADDRESS_SPACE = 3 * 1024**3 // 2  # far above the budget, far below most machines' memory


@dataclass
class Child:
    args: tuple[str, ...]
    code: int
    out: str
    err: str
    seconds: float
    peak_kib: int


def _cap_address_space() -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))


PEAK_RSS = Path(__file__).resolve().parent.parent / "bench" / "peak_rss.py"


def run_measured(*args: str) -> Child:
    """Run ``ecrguard`` as a user would; its own wall time and peak RSS come back with it.

    The command is forked from bench/peak_rss.py, a small launcher: forked from
    this pytest process directly, it would inherit pytest's peak RSS (Linux keeps
    ru_maxrss across exec) and report that as its own.
    """
    with (
        tempfile.TemporaryFile() as out,
        tempfile.TemporaryFile() as err,
        tempfile.NamedTemporaryFile() as peak,
    ):
        started = time.monotonic()
        launcher = [sys.executable, "-S", str(PEAK_RSS), peak.name, "--"]
        proc = subprocess.Popen(
            [*launcher, sys.executable, "-m", "ecrguard", *args],
            stdin=subprocess.DEVNULL,
            stdout=out,  # files, not pipes: a child that writes a lot never blocks on us
            stderr=err,
            env={**os.environ, "COLUMNS": "200", "NO_COLOR": "1"},
            preexec_fn=_cap_address_space if sys.platform.startswith("linux") else None,
            start_new_session=True,  # one process group: a timeout kills both
        )
        try:
            proc.wait(timeout=LIMIT_SECONDS)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            pytest.fail(f"ecrguard {' '.join(args)} still running after {LIMIT_SECONDS:g} s")
        seconds = time.monotonic() - started
        out.seek(0)
        err.seek(0)
        return Child(
            args,
            proc.returncode,
            out.read().decode("utf-8", "replace"),
            err.read().decode("utf-8", "replace"),
            seconds,
            int((Path(peak.name).read_text() or "0").split()[0]),  # "KIB CPU_SECONDS"
        )


def within_budget(child: Child) -> None:
    assert child.seconds < LIMIT_SECONDS, f"{child.seconds:.1f} s: {child.args}"
    assert child.peak_kib < LIMIT_RSS_KIB, f"peak RSS {child.peak_kib // 1024} MiB: {child.args}"


def one_line_error(child: Child, *expected: str) -> None:
    """What a user must see for bad input: exit 2 and one ``error:`` line saying what is wrong."""
    assert "Traceback" not in child.err, child.err
    assert child.code == 2, (child.code, child.err, child.out[:500])
    lines = child.err.splitlines()
    assert len(lines) == 1, child.err
    assert lines[0].startswith("error: "), lines[0]
    for text in expected:
        assert text in lines[0], (text, lines[0])
    assert child.out == ""
    within_budget(child)


# ---- hostile bytes -------------------------------------------------------------------

RANDOM_BYTES = random.Random(4).randbytes(4096)  # fixed seed: the same bytes every run
NUL_BYTES = b"\x00" * 4096
DEEP_ARRAYS = "[" * 20_000 + "]" * 20_000
DEEP_OBJECTS = '{"a":' * 20_000 + "1" + "}" * 20_000
PLAN_HEAD = '{"format_version": "1.2", "terraform_version": "1.9.0", '
POLICY = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "ecr:BatchGetImage"}],
}
TRUNCATED_POLICY = json.dumps(POLICY)[:60]

UNTERMINATED_BLOCK = b'resource "aws_ecr_repository" "x" {\n  name = "x"\n'
UNBALANCED_QUOTE = b'resource "aws_ecr_repository" "y" {\n  name = "y\n}\n'
UNTERMINATED_HEREDOC = (
    b'resource "aws_ecr_repository_policy" "z" {\n  repository = "z"\n  policy = <<EOF\n{}\n}\n'
)
LATIN1_TF = 'resource "aws_ecr_repository" "cafe" {\n  name = "café"\n}\n'.encode("latin-1")
# tree-sitter-hcl rescans a whitespace run at each of its characters: 16 KiB of
# blanks where a value should be would take seconds, and 100 KB minutes.
BLANKS_TF = b"x = " + b" " * 100_000 + b"\n"
# Valid-looking nesting that tree-sitter would need gigabytes to hold.
BRACKETS_TF = b"x = " + b"[" * (4 * 1024 * 1024)
DEEP_POLICY_TF = (
    'resource "aws_ecr_repository" "deep" {\n  name = "deep"\n}\n\n'
    'resource "aws_ecr_repository_policy" "deep" {\n'
    "  repository = aws_ecr_repository.deep.name\n"
    f"  policy     = jsonencode({DEEP_ARRAYS})\n}}\n"
).encode()

# "Billion laughs": nine levels of nine aliases would be 9**9 nodes.
ALIAS_BOMB = "\n".join(
    [
        "AWSTemplateFormatVersion: '2010-09-09'",
        "L0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]",
        *(f"L{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]" for i in range(1, 10)),
        "Resources:",
        "  Bomb:",
        "    Type: AWS::ECR::Repository",
        "    Properties:",
        "      RepositoryName: *l9",
        "",
    ]
)
DEEP_TEMPLATE_JSON = (
    '{"Resources": {"R": {"Type": "AWS::ECR::Repository", "Properties": ' + DEEP_OBJECTS + "}}}"
)
DEEP_TEMPLATE_YAML = (
    "Resources:\n  R:\n    Type: AWS::ECR::Repository\n    Properties: " + DEEP_ARRAYS + "\n"
)
TRUNCATED_TEMPLATE = (
    "Resources:\n  R:\n    Type: AWS::ECR::Repository\n    Properties: {RepositoryName: [\n"
)
# 1 MiB of empty arrays: the byte limit allows them, the node limit refuses them.
MANY_VALUES_TEMPLATE = (
    '{"Resources": {"R": {"Type": "AWS::ECR::Repository", "Properties": {"X": ['
    + "[]," * 340_000
    + "[]]}}}}"
)
# Cut short before Resources: only AWSTemplateFormatVersion says what these are.
CUT_JSON_TEMPLATE = '{"AWSTemplateFormatVersion": "2010-09-09", "Description": "registry", "Res'
CUT_YAML_TEMPLATE = (
    'AWSTemplateFormatVersion: "2010-09-09"\nDescription: registry\n'
    "Parameters:\n  Env:\n    Type: String\n"
)
LATIN1_TEMPLATE = (
    "Resources:\n  R:\n    Type: AWS::ECR::Repository\n"
    "    Properties:\n      RepositoryName: caf\xe9\n"
).encode("latin-1")


def utf16(text: str) -> bytes:
    """What Windows PowerShell's ``>`` writes: UTF-16LE after a byte-order mark."""
    return "\ufeff".encode("utf-16-le") + text.encode("utf-16-le")


GOOD_TEMPLATE = """\
AWSTemplateFormatVersion: "2010-09-09"
Resources:
  Public:
    Type: AWS::ECR::Repository
    Properties:
      RepositoryName: cfn-public
      RepositoryPolicyText:
        Version: "2012-10-17"
        Statement:
          - Effect: Allow
            Principal: "*"
            Action: ecr:BatchGetImage
"""


def good_plan() -> dict[str, Any]:
    """A small plan: a public repository, the way ``terraform show -json`` writes one."""
    return {
        "format_version": "1.2",
        "terraform_version": "1.9.0",
        "planned_values": {
            "root_module": {
                "resources": [
                    {
                        "address": "aws_ecr_repository.plan",
                        "mode": "managed",
                        "type": "aws_ecr_repository",
                        "name": "plan",
                        "values": {"name": "plan", "encryption_configuration": []},
                    },
                    {
                        "address": "aws_ecr_repository_policy.plan",
                        "mode": "managed",
                        "type": "aws_ecr_repository_policy",
                        "name": "plan",
                        "values": {"repository": "plan", "policy": json.dumps(POLICY)},
                    },
                ]
            }
        },
        "resource_changes": [],
    }


def _resources(plan: dict[str, Any]) -> list[Any]:
    found: list[Any] = plan["planned_values"]["root_module"]["resources"]
    return found


def plan_with(change: Callable[[dict[str, Any]], object]) -> str:
    plan = good_plan()
    change(plan)
    return json.dumps(plan, indent=2)


# Plans of the right syntax whose structure has the wrong types.
WRONG_PLANS: dict[str, tuple[str, str]] = {
    "resource_changes-a-string": (
        plan_with(lambda p: p.update(resource_changes="all of them")),
        "malformed plan JSON: resource_changes is not a list",
    ),
    "planned_values-a-list": (
        plan_with(lambda p: p.update(planned_values=[])),
        "malformed plan JSON: planned_values is not an object",
    ),
    "resources-an-object": (
        plan_with(lambda p: p["planned_values"]["root_module"].update(resources={"a": 1})),
        "malformed plan JSON: resources is not a list",
    ),
    "a-resource-a-string": (
        plan_with(lambda p: _resources(p).append("aws_ecr_repository.x")),
        "malformed plan JSON: planned_values resource is not an object",
    ),
    "values-a-list": (
        plan_with(lambda p: _resources(p)[0].update(values=["plan"])),
        "malformed plan JSON: values is not an object",
    ),
    "address-a-number": (
        plan_with(lambda p: _resources(p)[0].update(address=7)),
        "malformed plan JSON: address is not a string",
    ),
    "nested-block-a-string": (
        plan_with(lambda p: _resources(p)[0]["values"].update(encryption_configuration="KMS")),
        "aws_ecr_repository.plan.encryption_configuration is not a list of objects",
    ),
    "child_modules-holds-a-number": (
        plan_with(lambda p: p["planned_values"]["root_module"].update(child_modules=[1])),
        "malformed plan JSON: child_modules[] is not an object",
    ),
    "configuration-a-list": (
        plan_with(lambda p: p.update(configuration=[])),
        "malformed plan JSON: configuration is not an object",
    ),
}


# ---- policy files ----------------------------------------------------------------------


def _eval(path: Path) -> tuple[str, ...]:
    return ("policy", "eval", str(path), "--principal", OUTSIDER, "--action", "ecr:BatchGetImage")


def _analyze(path: Path) -> tuple[str, ...]:
    return ("policy", "analyze", str(path), "--owner-account", OWNER)


# (file content, command, what the one line must say)
POLICY_CASES: dict[str, tuple[str | bytes, Callable[[Path], tuple[str, ...]], str]] = {
    "truncated-eval": (TRUNCATED_POLICY, _eval, "invalid JSON at line 1 column"),
    "truncated-analyze": (TRUNCATED_POLICY, _analyze, "invalid JSON at line 1 column"),
    "nested-20000-arrays": (DEEP_ARRAYS, _analyze, "nested too deeply"),
    "nested-20000-objects": (DEEP_OBJECTS, _eval, "nested too deeply"),
    "a-list": ("[1, 2, 3]", _analyze, "a policy must be a JSON object, got a list"),
    "a-number": ("42", _eval, "a policy must be a JSON object, got a number"),
    "not-a-policy-object": ('{"foo": 1}', _analyze, "policy has no Statement"),
    "statement-a-string": (
        '{"Version": "2012-10-17", "Statement": "Allow everyone"}',
        _eval,
        "Statement must be an object or a list, got a string",
    ),
    "random-bytes": (RANDOM_BYTES, _analyze, "not UTF-8"),
    "nul-bytes": (NUL_BYTES, _eval, "binary file"),
}


@pytest.mark.parametrize("case", sorted(POLICY_CASES))
def test_bad_policy_file(tmp_path: Path, case: str) -> None:
    content, command, message = POLICY_CASES[case]
    path = tmp_path / "policy.json"
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    one_line_error(run_measured(*command(path)), message)


@pytest.mark.parametrize("command", [_eval, _analyze], ids=["eval", "analyze"])
def test_missing_policy_file(tmp_path: Path, command: Callable[[Path], tuple[str, ...]]) -> None:
    missing = tmp_path / "nope.json"
    one_line_error(run_measured(*command(missing)), "no such file", str(missing))


def test_directory_given_as_a_policy(tmp_path: Path) -> None:
    one_line_error(run_measured(*_eval(tmp_path)), str(tmp_path), "is a directory")


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_endless_policy_file_is_refused_in_bounded_memory() -> None:
    one_line_error(run_measured(*_eval(Path("/dev/zero"))), "larger than")


# ---- one IaC file ------------------------------------------------------------------------

# (file name, content, what the one line must say besides the file's path)
IAC_CASES: dict[str, tuple[str, str | bytes, str]] = {
    "plan-nested-20000": (
        "plan.json",
        PLAN_HEAD + '"planned_values": ' + DEEP_ARRAYS + "}",
        "JSON is nested too deeply",
    ),
    "plan-truncated": ("plan.json", plan_with(lambda p: None)[:150], "invalid JSON at line"),
    "plan-nul-padded": ("plan.json", PLAN_HEAD.encode() + NUL_BYTES, "binary file, not plan JSON"),
    "template-json-nested-20000": (
        "template.json",
        DEEP_TEMPLATE_JSON,
        "JSON nested more than 100 levels deep",
    ),
    "template-yaml-nested-20000": (
        "template.yaml",
        DEEP_TEMPLATE_YAML,
        "YAML nested more than 100 levels deep",
    ),
    "template-truncated": ("template.yaml", TRUNCATED_TEMPLATE, "at line 5"),
    "template-alias-bomb": ("bomb.yaml", ALIAS_BOMB, "(an alias bomb?)"),
    "template-json-340000-values": (
        "template.json",
        MANY_VALUES_TEMPLATE,
        f"more than {MAX_NODES:,} JSON values, more than a template can hold",
    ),
    "template-json-cut-short": (
        "template.json",
        CUT_JSON_TEMPLATE,
        "invalid JSON: Unterminated string at line 1",
    ),
    "template-yaml-cut-short": (
        "template.yaml",
        CUT_YAML_TEMPLATE,
        "CloudFormation template with no Resources section",
    ),
    "plan-utf16": (
        "plan.json",
        utf16(json.dumps({"format_version": "1.2", "terraform_version": "1.9.0"})),
        "UTF-16 text, not UTF-8",
    ),
    "tf-random-bytes": ("main.tf", RANDOM_BYTES, "binary file, not HCL text"),
    "tf-nul-bytes": ("main.tf", NUL_BYTES, "binary file, not HCL text"),
    "tf-latin1": ("main.tf", LATIN1_TF, "not UTF-8 text (invalid byte at line 2)"),
    "tf-unterminated-block": ("main.tf", UNTERMINATED_BLOCK, "syntax error at line 1"),
    "tf-unbalanced-quote": ("main.tf", UNBALANCED_QUOTE, "syntax error at line 2"),
    "tf-unterminated-heredoc": ("main.tf", UNTERMINATED_HEREDOC, "syntax error at line 3"),
    "tf-whitespace-run": ("main.tf", BLANKS_TF, "whitespace bytes in a row at line 1"),
    "tf-4mib-of-brackets": ("main.tf", BRACKETS_TF, "not ordinary HCL"),
    # Nothing says what these are: refused by name, not guessed at.
    "json-random-bytes": (
        "data.json",
        RANDOM_BYTES,
        "not a Terraform .tf file, plan JSON or CloudFormation template",
    ),
    "json-nul-bytes": (
        "data.json",
        NUL_BYTES,
        "not a Terraform .tf file, plan JSON or CloudFormation template",
    ),
    "yaml-random-bytes": (
        "data.yaml",
        RANDOM_BYTES,
        "not a Terraform .tf file, plan JSON or CloudFormation template",
    ),
    "yaml-nul-bytes": (
        "data.yaml",
        NUL_BYTES,
        "not a Terraform .tf file, plan JSON or CloudFormation template",
    ),
}
IAC_CASES.update({f"plan-{k}": ("plan.json", text, msg) for k, (text, msg) in WRONG_PLANS.items()})


@pytest.mark.parametrize("case", sorted(IAC_CASES))
def test_bad_iac_file_alone(tmp_path: Path, case: str) -> None:
    name, content, message = IAC_CASES[case]
    path = tmp_path / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    one_line_error(run_measured("iac", str(path), "--format", "json"), str(path), message)


@pytest.mark.parametrize("name", ["gone.tf", "gone.json", "gone-dir"])
def test_missing_iac_path(tmp_path: Path, name: str) -> None:
    missing = tmp_path / name
    one_line_error(run_measured("iac", str(missing)), "no such file or directory", str(missing))


def test_plan_policy_of_the_wrong_type_is_unknown_never_pass(tmp_path: Path) -> None:
    """A wrong-typed attribute is unresolved, as in HCL: the rules say UNKNOWN and why.

    Only the plan's structure is checked at read time (the cases above). Attribute
    values go through the mapping shared with HCL, where a value of the wrong type
    is unresolved (tests/terraform/test_plan.py pins this), so the user sees
    UNKNOWN findings naming the attribute, never a PASS and never a crash.
    """
    path = tmp_path / "plan.json"
    path.write_text(plan_with(lambda p: _resources(p)[1]["values"].update(policy=5)))
    child = run_measured("iac", str(path), "--format", "json")
    within_budget(child)
    assert "Traceback" not in child.err and "error:" not in child.err
    assert child.code in (0, 1), child.err  # judged, not refused: 1 if another rule fails
    eg001 = [f for f in json.loads(child.out)["findings"] if f["rule"] == "EG001"]
    assert [(f["status"], f["resource"]) for f in eg001] == [("UNKNOWN", "aws_ecr_repository.plan")]
    assert "policy is not a JSON object" in eg001[0]["message"]


# ---- directory scans: bad files named, the rest still judged ------------------------------


def _scan(directory: Path) -> tuple[Child, dict[str, Any]]:
    child = run_measured("iac", str(directory), "--format", "json")
    within_budget(child)
    assert "Traceback" not in child.err and "error:" not in child.err, child.err
    # The good files' public policies fail EG001, which sets the exit code.
    assert child.code == 1, (child.code, child.err)
    return child, json.loads(child.out)


def _issues(report: dict[str, Any], directory: Path) -> dict[str, tuple[str, str]]:
    return {
        Path(i["scope"]).relative_to(directory).as_posix(): (i["operation"], i["reason"])
        for i in report["issues"]
    }


def _eg001(report: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return {
        f["resource"]: (f["status"], Path(f["file"]).name)
        for f in report["findings"]
        if f["rule"] == "EG001"
    }


def test_terraform_directory_names_each_bad_file_and_scans_the_good_one(tmp_path: Path) -> None:
    bad = {
        "unterminated.tf": (UNTERMINATED_BLOCK, "syntax error at line 1"),
        "quote.tf": (UNBALANCED_QUOTE, "syntax error at line 2"),
        "heredoc.tf": (UNTERMINATED_HEREDOC, "syntax error at line 3"),
        "random.tf": (RANDOM_BYTES, "binary file, not HCL text"),
        "nul.tf": (NUL_BYTES, "binary file, not HCL text"),
        "latin1.tf": (LATIN1_TF, "not UTF-8 text (invalid byte at line 2)"),
        "blanks.tf": (BLANKS_TF, "more than 4096 whitespace bytes in a row at line 1"),
    }
    for name, (content, _) in bad.items():
        (tmp_path / name).write_bytes(content)
    (tmp_path / "main.tf").write_text(PUBLIC_TF)
    # Valid HCL whose policy nests 20,000 deep: read, and judged UNKNOWN, not crashed on.
    (tmp_path / "deep.tf").write_bytes(DEEP_POLICY_TF)

    _, report = _scan(tmp_path)

    assert _issues(report, tmp_path) == {
        name: ("terraform:parse", reason) for name, (_, reason) in bad.items()
    }
    eg001 = _eg001(report)
    assert eg001["aws_ecr_repository.app"] == ("FAIL", "main.tf")
    assert eg001["aws_ecr_repository.deep"] == ("UNKNOWN", "deep.tf")
    # Nothing from the files that could not be read is judged.
    assert set(eg001) == {"aws_ecr_repository.app", "aws_ecr_repository.deep"}


def test_mixed_directory_names_each_bad_file_and_scans_the_good_ones(tmp_path: Path) -> None:
    bad: dict[str, tuple[str | bytes, str, str]] = {
        "bomb.yaml": (ALIAS_BOMB, "cloudformation:parse", "(an alias bomb?)"),
        "deep.template.json": (
            DEEP_TEMPLATE_JSON,
            "cloudformation:parse",
            "nested more than 100 levels deep",
        ),
        "deep.yaml": (
            DEEP_TEMPLATE_YAML,
            "cloudformation:parse",
            "nested more than 100 levels deep",
        ),
        "truncated.yaml": (TRUNCATED_TEMPLATE, "cloudformation:parse", "at line 5"),
        "deep.tfplan.json": (
            PLAN_HEAD + '"planned_values": ' + DEEP_ARRAYS + "}",
            "terraform:plan",
            "JSON is nested too deeply",
        ),
        "truncated.tfplan.json": (
            plan_with(lambda p: None)[:150],
            "terraform:plan",
            "invalid JSON at line",
        ),
        "nul.tfplan.json": (
            PLAN_HEAD.encode() + NUL_BYTES,
            "terraform:plan",
            "binary file, not plan JSON",
        ),
        "broken.tf": (UNTERMINATED_BLOCK, "terraform:parse", "syntax error at line 1"),
        # Binary bytes hide whether they are a plan or a template: named, not passed over.
        "random.json": (RANDOM_BYTES, "iac:read", "binary file, not JSON or YAML text"),
        "nul.yaml": (NUL_BYTES, "iac:read", "binary file, not JSON or YAML text"),
    }
    for key, (text, message) in WRONG_PLANS.items():
        bad[f"{key}.tfplan.json"] = (text, "terraform:plan", message)
    for name, (content, _, _) in bad.items():
        (tmp_path / name).write_bytes(content.encode() if isinstance(content, str) else content)
    (tmp_path / "main.tf").write_text(PUBLIC_TF)
    (tmp_path / "stack.yaml").write_text(GOOD_TEMPLATE)
    (tmp_path / "good.tfplan.json").write_text(json.dumps(good_plan(), indent=2))

    _, report = _scan(tmp_path)

    issues = _issues(report, tmp_path)
    assert set(issues) == set(bad)
    for name, (_, operation, message) in bad.items():
        assert issues[name][0] == operation, name
        assert message in issues[name][1], (name, issues[name])
        assert "\n" not in issues[name][1]
    assert _eg001(report) == {
        "aws_ecr_repository.app": ("FAIL", "main.tf"),
        "Public": ("FAIL", "stack.yaml"),
        "aws_ecr_repository.plan": ("FAIL", "good.tfplan.json"),
    }


def test_directory_names_what_it_cannot_read_and_passes_over_other_text(tmp_path: Path) -> None:
    """Only a file whose bytes hide what it is, or that says it is ours, is named.

    JSON and YAML text that is not a plan or template (a package manifest, a
    workflow, tfvars, text in Latin-1 or UTF-16) is passed over as before: the
    marks of a plan or template are ASCII, so they would have been seen.
    """
    bad: dict[str, tuple[bytes, str, str]] = {
        "random.json": (RANDOM_BYTES, "iac:read", "binary file, not JSON or YAML text"),
        "nul.yml": (NUL_BYTES, "iac:read", "binary file, not JSON or YAML text"),
        "stack.template": (
            gzip.compress(GOOD_TEMPLATE.encode(), mtime=0),
            "iac:read",
            "binary file, not JSON or YAML text",
        ),
        "plan-utf16.json": (
            utf16(json.dumps(good_plan())),
            "iac:read",
            "UTF-16 text, not UTF-8 (PowerShell: | Out-File -Encoding utf8)",
        ),
        "cut.template.json": (
            CUT_JSON_TEMPLATE.encode(),
            "cloudformation:parse",
            "invalid JSON: Unterminated string at line 1",
        ),
        "cut.yaml": (
            CUT_YAML_TEMPLATE.encode(),
            "cloudformation:parse",
            "CloudFormation template with no Resources section",
        ),
        "latin1.yaml": (
            LATIN1_TEMPLATE,
            "cloudformation:parse",
            "not UTF-8 text (invalid byte at line 5)",
        ),
    }
    for name, (content, _, _) in bad.items():
        (tmp_path / name).write_bytes(content)
    others = {
        "package.json": b'{"name": "app", "version": "1.0.0", "dependencies": {}}',
        "ci.yml": b"on: push\njobs:\n  test:\n    runs-on: ubuntu-latest\n",
        "terraform.tfvars.json": b'{"region": "eu-west-1"}',
        "notes.yaml": 'owner: "Ren\xe9"\nteam: caf\xe9\n'.encode("latin-1"),
        "settings.json": utf16('{"editor.tabSize": 2}'),
    }
    for name, content in others.items():
        (tmp_path / name).write_bytes(content)
    (tmp_path / "stack.yaml").write_text(GOOD_TEMPLATE)

    child = run_measured("iac", str(tmp_path), "--format", "json", "--fail-on", "never")

    within_budget(child)
    assert "Traceback" not in child.err and "error:" not in child.err, child.err
    assert child.code == 3, (child.code, child.err)  # partial: nothing fails, files unread
    assert child.err.startswith("partial result: "), child.err
    report = json.loads(child.out)
    assert _issues(report, tmp_path) == {
        name: (op, reason) for name, (_, op, reason) in bad.items()
    }
    assert _eg001(report) == {"Public": ("FAIL", "stack.yaml")}


# ---- plan JSON: reading stays bounded up to the size limit ----------------------------

PLAN_START = PLAN_HEAD + '"planned_values": {"root_module": {}}, "x": '
MIB = 1024 * 1024


def _key(i: int) -> str:
    """A short key of its own for each i: the costliest kind, a new string and memo entry."""
    digits = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
    out = ""
    while True:
        i, rest = divmod(i, len(digits))
        out += digits[rest]
        if not i:
            return out


# Hostile plans of 32 MiB: every one would take the reader past 500 MB.
HUGE_PLANS: dict[str, Callable[[int], str]] = {
    "empty-arrays": lambda size: "[" + ",".join(["[]"] * (size // 3)) + "]",
    "small-objects": lambda size: "[" + ",".join(['{"a":{}}'] * (size // 9)) + "]",
    "short-strings": lambda size: "[" + ",".join(['"ab"'] * (size // 5)) + "]",
}


@pytest.mark.parametrize("shape", sorted(HUGE_PLANS))
def test_plan_too_costly_to_parse_is_refused_within_500_mb(tmp_path: Path, shape: str) -> None:
    path = tmp_path / "plan.json"
    path.write_text(PLAN_START + HUGE_PLANS[shape](32 * MIB) + "}")
    assert path.stat().st_size > 31 * MIB
    child = run_measured("iac", str(path), "--format", "json")
    within_budget(child)
    one_line_error(child, str(path), "plan JSON needs more than 384 MiB of memory to read")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the cap is Linux's")
def test_with_threads_running_a_costly_plan_is_refused_unread(tmp_path: Path) -> None:
    """A process with other threads sets no address-space cap (another thread's
    allocation would fail under it): the token count refuses the plan unread."""
    path = tmp_path / "plan.json"
    path.write_text(PLAN_START + HUGE_PLANS["empty-arrays"](32 * MIB) + "}")
    code = (
        "import sys, threading\n"
        "from ecrguard.errors import InputError\n"
        "from ecrguard.sources.terraform.plan import load_plan\n"
        "stop = threading.Event()\n"
        "threading.Thread(target=stop.wait).start()\n"
        "try:\n"
        "    load_plan(sys.argv[1])\n"
        "except InputError as err:\n"
        "    print(err)\n"
        "finally:\n"
        "    stop.set()\n"
        # VmHWM, not ru_maxrss: exec keeps the latter, so it would be pytest's.
        "print(next(l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM')))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=60
    )
    message, peak_kib = proc.stdout.splitlines()
    assert "plan JSON too large to read within 448 MiB of memory" in message, proc.stderr
    assert int(peak_kib) < 150 * 1024  # refused from counts, before anything is built


# The costliest shapes per byte found: each member or object brings a key of its own.
COSTLY_PLANS: dict[str, Callable[[int], str]] = {
    "objects-of-one-object": lambda i: f'"{_key(2 * i)}":{{"{_key(2 * i + 1)}":"{_key(i)}"}}',
    "one-object-of-strings": lambda i: f'"{_key(i)}":"{_key(i)}"',
    "chains-of-one-key-objects": lambda i: (
        "".join(f'{{"{_key(50 * i + j)}":' for j in range(50)) + "0" + "}" * 50
    ),
}


def _costly_plan(shape: str) -> bytes:
    """The shape repeated until reading it would take just inside MAX_PLAN_MEMORY."""
    member = COSTLY_PLANS[shape]
    braces = ("{", "}") if shape.startswith(("objects", "one-object")) else ("[", "]")
    sample = ",".join(member(i) for i in range(100_000, 101_000)).encode()
    count = int(0.975 * MAX_PLAN_MEMORY / (_parse_cost(sample) / 1000))
    while True:
        body = braces[0] + ",".join(member(i) for i in range(count)) + braces[1]
        data = (PLAN_START + body + "}").encode()
        cost = _parse_cost(data)
        if 0.95 * MAX_PLAN_MEMORY < cost <= MAX_PLAN_MEMORY:
            return data
        count = int(count * 0.975 * MAX_PLAN_MEMORY / cost)


@pytest.mark.parametrize("shape", sorted(COSTLY_PLANS))
def test_costliest_plan_within_the_bound_is_read_within_500_mb(tmp_path: Path, shape: str) -> None:
    """The bound's estimate holds: JSON it lets through stays under 500 MB and 20 s."""
    path = tmp_path / "plan.json"
    path.write_bytes(_costly_plan(shape))
    child = run_measured("iac", str(path), "--format", "json")
    within_budget(child)
    assert "Traceback" not in child.err and "error:" not in child.err, child.err
    assert child.code == 0, (child.code, child.err)
    # Close to the bound: the cases measure what it lets through, not a small file.
    assert child.peak_kib > 250 * 1024, child.peak_kib


@pytest.mark.parametrize("services", [1200, 2000])
def test_a_real_plan_of_tens_of_mb_is_read(tmp_path: Path, services: int) -> None:
    """``terraform show -json`` of 1,200 services (28 MiB, read freely) and of 2,000
    (47 MiB, past the count's bound, read under the cap): every repository judged."""
    path = tmp_path / "plan.json"
    path.write_text(large_plan.services(services))
    assert path.stat().st_size > services * 23_000
    child = run_measured("iac", str(path), "--format", "json", "--fail-on", "never")
    within_budget(child)
    assert "Traceback" not in child.err and "error:" not in child.err, child.err
    assert child.code == 0, (child.code, child.err)
    report = json.loads(child.out)
    assert report["issues"] == []
    judged = {f["resource"] for f in report["findings"] if f["rule"] == "EG001"}
    assert judged == {large_plan.repository(i) for i in range(services)}


def test_a_plan_with_a_utf8_byte_order_mark_is_read(tmp_path: Path) -> None:
    """Windows PowerShell's ``Out-File -Encoding utf8`` writes one; JSON readers skip it."""
    path = tmp_path / "plan.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(good_plan()).encode())
    child = run_measured("iac", str(path), "--format", "json")
    within_budget(child)
    assert "error:" not in child.err, child.err
    assert _eg001(json.loads(child.out)) == {"aws_ecr_repository.plan": ("FAIL", "plan.json")}
