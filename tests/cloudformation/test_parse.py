"""Reading template text: short-form tags, lines, and hostile input that must fail fast."""

from __future__ import annotations

import time
import tracemalloc
from pathlib import Path

import pytest

from ecrguard.errors import InputError
from ecrguard.sources.cloudformation import load_cloudformation
from ecrguard.sources.cloudformation.parse import Mapping, parse
from tests.cloudformation.helpers import FIXTURES, by_id, line_of, template

YAML = FIXTURES / "equivalence.yaml"
JSON = FIXTURES / "equivalence.json"


def test_short_form_tags_become_long_form_functions() -> None:
    doc = parse(
        "A: !Ref Env\n"
        "B: !GetAtt Key.Arn\n"
        "C: !GetAtt [Key, Arn]\n"
        'D: !Sub ["${X}", {X: !Ref AWS::Region}]\n'
        'E: !If [Cond, !Join ["", [a, b]], !Ref AWS::NoValue]\n'
        "F: !Not [!Condition Other]\n"
        'G: !Select [0, !Split [",", !ImportValue Shared]]\n',
        json_syntax=False,
    )
    assert doc == {
        "A": {"Ref": "Env"},
        "B": {"Fn::GetAtt": ["Key", "Arn"]},
        "C": {"Fn::GetAtt": ["Key", "Arn"]},
        "D": {"Fn::Sub": ["${X}", {"X": {"Ref": "AWS::Region"}}]},
        "E": {"Fn::If": ["Cond", {"Fn::Join": ["", ["a", "b"]]}, {"Ref": "AWS::NoValue"}]},
        "F": {"Fn::Not": [{"Condition": "Other"}]},
        "G": {"Fn::Select": [0, {"Fn::Split": [",", {"Fn::ImportValue": "Shared"}]}]},
    }


def test_every_key_remembers_its_line() -> None:
    doc = parse(YAML.read_text(), json_syntax=False)
    resources = doc["Resources"]
    assert isinstance(resources, Mapping)
    assert resources.lines["AppRepository"] == line_of(YAML, "  AppRepository:")
    props = resources["AppRepository"]["Properties"]
    assert props.lines["EmptyOnDelete"] == line_of(YAML, "EmptyOnDelete: true")
    json_doc = parse(JSON.read_text(), json_syntax=True)
    assert json_doc["Resources"].lines["AppRepository"] == line_of(JSON, '"AppRepository": {')


def test_dates_stay_text() -> None:
    # An unquoted policy Version would otherwise become a datetime.date.
    assert parse("Version: 2012-10-17\n", json_syntax=False) == {"Version": "2012-10-17"}


def test_resources_and_values_point_at_their_lines_in_yaml_and_json() -> None:
    for path in (YAML, JSON):
        inventory = load_cloudformation(path)
        app = by_id(inventory.repositories)["AppRepository"]
        assert (app.origin.file, app.origin.line) == (str(path), line_of(path, "AppRepository"))
        needle = "ScanOnPush: true" if path is YAML else '"ScanOnPush": true'
        assert app.scan_on_push.origin.line == line_of(path, needle)


# -- hostile and broken input ------------------------------------------------------------------


def _fails(path: Path, message: str) -> str:
    with pytest.raises(InputError) as err:
        load_cloudformation(path)
    text = str(err.value)
    assert text.startswith(f"{path}: ") and message in text, text
    assert "\n" not in text
    return text


def test_alias_bomb_fails_fast_in_little_memory(tmp_path: Path) -> None:
    # "Billion laughs": nine levels of nine aliases each would be 9**9 nodes.
    lines = ['AWSTemplateFormatVersion: "2010-09-09"', "L0: &l0 [lol, lol, lol, lol, lol]"]
    for level in range(1, 10):
        refs = ", ".join([f"*l{level - 1}"] * 9)
        lines.append(f"L{level}: &l{level} [{refs}]")
    lines += ["Resources:", "  Bomb:", "    Type: AWS::ECR::Repository", "    Properties:"]
    lines.append("      RepositoryName: *l9")
    path = tmp_path / "bomb.yaml"
    path.write_text("\n".join(lines) + "\n")
    tracemalloc.start()
    started = time.perf_counter()
    try:
        text = _fails(path, "YAML aliases expand to more than 200,000 nodes (an alias bomb?)")
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert time.perf_counter() - started < 2.0
    assert peak < 200 * 1024 * 1024
    # 5 * 9**5 nodes at L5 pass the cap; nothing was expanded to find out.
    assert text.endswith(f"at line {line_of(path, 'L5:')}")


def test_too_many_aliases(tmp_path: Path) -> None:
    refs = "\n".join("  - *a" for _ in range(1_001))
    path = tmp_path / "aliases.yaml"
    path.write_text(f"A: &a x\nB:\n{refs}\nResources: {{}}\n")
    _fails(path, "more than 1000 YAML aliases at line 1003")


def test_recursive_alias(tmp_path: Path) -> None:
    path = template(
        tmp_path / "loop.yaml", "  R: &r\n    Type: AWS::ECR::Repository\n    Self: *r\n"
    )
    _fails(path, "alias *r refers to a node that contains it at line 5")


@pytest.mark.parametrize("suffix", ["yaml", "json"])
def test_deep_nesting(tmp_path: Path, suffix: str) -> None:
    deep = "[" * 50_000 + "]" * 50_000
    path = tmp_path / f"deep.{suffix}"
    path.write_text(f'{{"Resources": {{"R": {{"Type": "AWS::ECR::Repository", "X": {deep}}}}}}}')
    _fails(path, "nested more than 100 levels deep at line 1")


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = template(tmp_path / "broken.yaml", "  R:\n    Type: AWS::ECR::Repository\n   bad: [\n")
    _fails(path, "at line 5")


def test_json_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{\n  "Resources": {\n    "R": {"Type": "AWS::ECR::Repository",}\n  }\n}\n')
    _fails(path, "invalid JSON: Expecting property name enclosed in double quotes at line 3")


def test_duplicate_keys_are_refused(tmp_path: Path) -> None:
    # A second definition would silently replace the first one.
    body = "  R:\n    Type: AWS::ECR::Repository\n  R:\n    Type: AWS::ECR::Repository\n"
    _fails(template(tmp_path / "dup.yaml", body), "duplicate key 'R' at line 5")


def test_unknown_tag(tmp_path: Path) -> None:
    path = template(tmp_path / "tag.yaml", "  R:\n    Type: !Evil AWS::ECR::Repository\n")
    _fails(path, "could not determine a constructor for the tag '!Evil' at line 4")


def test_python_object_tags_are_refused(tmp_path: Path) -> None:
    path = template(
        tmp_path / "py.yaml", "  R:\n    Type: !!python/object/apply:os.system [echo pwned]\n"
    )
    _fails(path, "python/object/apply")


def test_binary_file(tmp_path: Path) -> None:
    path = tmp_path / "blob.yaml"
    path.write_bytes(b"\x7fELF\x02\x01\x01\x00\x00\x00Resources:")
    _fails(path, "binary file, not a CloudFormation template")


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes(b"Resources:\n  R:\n    Type: caf\xe9\n")
    _fails(path, "not UTF-8 text (invalid byte at line 3)")


@pytest.mark.parametrize(
    "text", ["on: push\njobs: {}\n", "Resources: []\n", "- a\n- b\n", "Resources: {}\n", ""]
)
def test_not_a_template(tmp_path: Path, text: str) -> None:
    path = tmp_path / "other.yaml"
    path.write_text(text)
    _fails(path, "not a CloudFormation template (no Resources section)")


def test_resource_without_a_type(tmp_path: Path) -> None:
    path = template(tmp_path / "notype.yaml", "  R:\n    Properties: {}\n")
    _fails(path, "resource 'R' has no Type at line 3")


def test_oversized_template(tmp_path: Path) -> None:
    path = tmp_path / "huge.yaml"
    path.write_bytes(b"# padding\n" * (1024 * 1024 // 10 + 1))
    _fails(path, "larger than 1 MiB")


def test_foreach_loops_are_named_as_not_expanded(tmp_path: Path) -> None:
    path = template(
        tmp_path / "loop.yaml",
        "  Fn::ForEach::Repos:\n    - Name\n    - [a, b]\n"
        "    - Repo${Name}:\n        Type: AWS::ECR::Repository\n"
        "  Plain:\n    Type: AWS::ECR::Repository\n    Properties: {RepositoryName: plain}\n",
    )
    inventory = load_cloudformation(path)
    assert [r.id for r in inventory.repositories] == ["Plain"]
    (issue,) = inventory.issues
    assert (issue.scope, issue.operation) == (str(path), "cloudformation:foreach")
    assert (
        issue.reason == "Fn::ForEach::Repos at line 3 is not expanded; its resources are not judged"
    )
