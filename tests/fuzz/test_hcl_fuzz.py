"""Fuzzing the Terraform reader: any file in, an Inventory or one InputError out, quickly.

``ecrguard iac DIR`` hands every ``.tf`` file it finds to tree-sitter-hcl and
the evaluator. The contract (``load_terraform``): a file in a directory that
cannot be parsed becomes an issue naming it, and the rest of the directory is
read; a single file that cannot be parsed raises one :class:`InputError`. No
other exception, and no hang: tree-sitter's error recovery and the evaluator
both meet text nobody wrote on purpose here.

The inputs: arbitrary text and bytes; soups of HCL's own tokens (braces,
quotes, heredocs, template interpolations), which reach the parser's error
recovery far more often than random text; and real fixture files damaged by
truncation, byte flips, deletions and inserted delimiters, which keep most of
a real configuration so the evaluator and the mapping run on what survives.
Each example is written to its own temporary directory and read both ways.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ecrguard.errors import InputError
from ecrguard.model import Inventory
from ecrguard.sources.terraform import load_terraform
from ecrguard.sources.terraform.hcl import parse_bytes
from tests.fuzz.mutations import damage

ROOT = Path(__file__).resolve().parents[2]
# Real configurations: the Terraform reader's fixtures and the labs' setups.
REAL_FILES = sorted(
    [
        *(ROOT / "tests" / "terraform" / "fixtures").rglob("*.tf"),
        *(ROOT / "src" / "ecrguard" / "labs").glob("*/*.tf"),
    ]
)
REAL = [p.read_bytes() for p in REAL_FILES]

FUZZ = settings(
    max_examples=120,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
# Far above what any example here needs (milliseconds), far below a hang.
SECONDS_PER_LOAD = 15.0

TOKENS = st.sampled_from(
    [
        "{",
        "}",
        "[",
        "]",
        "(",
        ")",
        '"',
        "${",
        "%{",
        "~}",
        "<<EOF\n",
        "<<-EOT\n",
        "EOF\n",
        "\n",
        " ",
        "=",
        ",",
        "?",
        ":",
        ".",
        "*",
        "=>",
        "...",
        "#",
        "//",
        "/*",
        "*/",
        "\\",
        "1",
        "-1.5e3",
        "true",
        "null",
        "for",
        "in",
        "if",
        "x",
        "resource",
        "locals",
        "variable",
        "module",
        "count",
        "for_each",
        "each.key",
        "count.index",
        "local.x",
        "var.x",
        '"aws_ecr_repository"',
        '"aws_ecr_repository_policy"',
        '"r"',
        "jsonencode(",
        "policy",
        "name",
    ]
)
TOKEN_SOUP = st.lists(TOKENS, max_size=60).map(lambda parts: "".join(parts).encode())
INSERTS = st.sampled_from(
    [
        b"{",
        b"}",
        b"[",
        b"]",
        b"(",
        b")",
        b'"',
        b"${",
        b"%{",
        b"<<EOF\n",
        b"\n",
        b"=",
        b"\\",
        b"\x00",
        b"\xe9",
    ]
)


@st.composite
def damaged_real(draw: st.DrawFn) -> bytes:
    data = draw(st.sampled_from(REAL))
    return damage(draw, data, INSERTS | st.binary(min_size=1, max_size=4), span=16)


def _load_both_ways(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "main.tf"
        path.write_bytes(data)
        # The oracle for "is this file bad": the same parse the loader does.
        error = parse_bytes(str(path), data).error

        # A directory: never raises for a bad file; names it as an issue instead.
        started = time.monotonic()
        inventory = load_terraform([tmp])
        assert time.monotonic() - started < SECONDS_PER_LOAD
        assert isinstance(inventory, Inventory)
        named = [
            i for i in inventory.issues if i.scope == str(path) and i.operation == "terraform:parse"
        ]
        if error is not None:
            assert [i.reason for i in named] == [error]
            assert "\n" not in error
            # Nothing of a file that was not read is judged.
            assert not any(r.origin.file == str(path) for r in inventory.repositories)
        else:
            assert named == []

        # The file alone: a bad one is one InputError naming it.
        started = time.monotonic()
        try:
            alone = load_terraform([str(path)])
        except InputError as err:
            assert error is not None, f"unexpected InputError for a parseable file: {err}"
            assert str(err) == f"{path}: {error}"
        else:
            assert error is None
            assert isinstance(alone, Inventory)
        assert time.monotonic() - started < SECONDS_PER_LOAD


@FUZZ
@given(data=st.binary(max_size=2000))
def test_any_bytes(data: bytes) -> None:
    _load_both_ways(data)


@FUZZ
@given(text=st.text(max_size=500))
def test_any_text(text: str) -> None:
    _load_both_ways(text.encode("utf-8", "surrogatepass"))


@FUZZ
@given(data=TOKEN_SOUP)
def test_soups_of_hcl_tokens(data: bytes) -> None:
    _load_both_ways(data)


@FUZZ
@given(data=damaged_real())
def test_damaged_real_configurations(data: bytes) -> None:
    _load_both_ways(data)


@pytest.mark.parametrize("source", REAL_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_truncation_point_class_of_a_real_file(source: Path) -> None:
    """Cut each real file in the middle of every kind of construct it has: never a crash."""
    data = source.read_bytes()
    # One cut just after each delimiter kind's first occurrence, plus the halfway point.
    cuts = {len(data) // 2}
    for mark in (b"{", b"[", b"(", b'"', b"${", b"<<", b"=", b"\n"):
        at = data.find(mark)
        if at >= 0:
            cuts.add(at + len(mark))
    for cut in sorted(cuts):
        _load_both_ways(data[:cut])
