"""Reading a root's modules in forked processes gives exactly what reading them here gives.

The configuration is built to cross the line between the runs each process
reads: a module shared by calls at both ends, a broken file in a module used
from two runs, one module fed another's output, nesting, for_each, and a
remote source that is named but not read.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ecrguard.forks import split
from ecrguard.sources.terraform import load_terraform

MODULES = 80  # over hcl_reader.MIN_FORKED_MODULES, so the CLI forks


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def _repository(name_expr: str, public: bool) -> str:
    principal = '"*"' if public else '{ AWS = "arn:aws:iam::111122223333:root" }'
    return f"""
resource "aws_ecr_repository" "this" {{
  name                 = {name_expr}
  image_tag_mutability = "MUTABLE"
}}

resource "aws_ecr_repository_policy" "this" {{
  repository = aws_ecr_repository.this.name
  policy = jsonencode({{
    Version = "2012-10-17"
    Statement = [{{
      Sid       = "Pull"
      Effect    = "Allow"
      Principal = {principal}
      Action    = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
    }}]
  }})
}}

output "name" {{
  value = aws_ecr_repository.this.name
}}
"""


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("forked")
    calls = [
        'provider "aws" {\n  region              = "eu-west-1"\n'
        '  allowed_account_ids = ["111122223333"]\n}\n'
    ]
    for i in range(MODULES):
        name = f"m{i:02d}"
        if i in (0, MODULES - 1):
            # Shared by the first and the last call, so by two runs: its broken
            # file must be reported once, where a serial read would put it.
            calls.append(
                f'module "{name}" {{\n  source = "./modules/shared"\n  name = "{name}"\n}}\n'
            )
        elif i == 1:
            calls.append(f'module "{name}" {{\n  source = "./modules/{name}"\n}}\n')
        elif i == MODULES - 2:
            # Fed the output of a module read by the first run.
            calls.append(
                f'module "{name}" {{\n  source = "./modules/{name}"\n'
                f"  upstream = module.m01.name\n}}\n"
            )
        elif i == 40:
            calls.append(
                f'module "{name}" {{\n  source   = "./modules/{name}"\n'
                f'  for_each = toset(["a", "b"])\n  suffix   = each.key\n}}\n'
            )
        elif i == 41:
            calls.append(f'module "{name}" {{\n  source = "git::https://example.com/x.git"\n}}\n')
        else:
            calls.append(f'module "{name}" {{\n  source = "./modules/{name}"\n}}\n')
        mod = root / "modules" / name
        if i == MODULES - 2:
            _write(
                mod / "main.tf",
                'variable "upstream" {}\n' + _repository('"${var.upstream}-copy"', False),
            )
        elif i == 40:
            _write(
                mod / "main.tf",
                'variable "suffix" {}\n' + _repository(f'"{name}-${{var.suffix}}"', i % 3 == 0),
            )
        elif i == 20:
            # Nested: this module calls another, two levels below the root.
            _write(
                mod / "main.tf",
                _repository(f'"{name}"', False) + 'module "inner" {\n  source = "./inner"\n}\n',
            )
            _write(mod / "inner" / "main.tf", _repository('"inner-20"', True))
        elif i not in (0, 41, MODULES - 1):
            _write(mod / "main.tf", _repository(f'"{name}"', i % 7 == 0))
    _write(
        root / "modules" / "shared" / "main.tf",
        'variable "name" {}\n' + _repository("var.name", True),
    )
    _write(
        root / "modules" / "shared" / "broken.tf",
        'resource "aws_ecr_repository" "x" {\n  name = \n',
    )
    _write(root / "main.tf", "\n".join(calls))
    return root


def _scan(corpus: Path, jobs: int) -> dict:
    proc = subprocess.run(
        [sys.executable, "-m", "ecrguard", "iac", str(corpus), "--format", "json",
         "--jobs", str(jobs), "--fail-on", "never", "--allow-partial"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    doc["summary"].pop("seconds", None)
    return doc


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="forks only on Linux")
def test_cli_report_is_the_same_with_one_process_or_three(corpus: Path) -> None:
    serial = _scan(corpus, 1)
    assert serial == _scan(corpus, 3)
    # The corpus is read as meant: every repository, the shared module's broken
    # file named once, the remote source named, the upstream name carried over.
    repositories = {f["resource"] for f in serial["findings"] if f["rule"] == "EG001"}
    assert len(repositories) == MODULES - 1 + 1 + 1  # 41 is remote; m40 twice; inner
    broken = [i for i in serial["issues"] if "broken.tf" in i["scope"]]
    assert len(broken) == 1 and "syntax error at line" in broken[0]["reason"]
    assert any("not a local path" in i["reason"] for i in serial["issues"])


def test_load_is_the_same_with_one_process_or_two(corpus: Path) -> None:
    serial = load_terraform([corpus], jobs=1)
    # Forks only when this process runs no other thread; else it reads here and
    # must still give the same (the CLI test above covers the forked path).
    assert load_terraform([corpus], jobs=2) == serial
    assert len(serial.repositories) == MODULES + 1
    assert [r.id for r in serial.repositories][:3] == [
        "module.m00.aws_ecr_repository.this",
        "module.m01.aws_ecr_repository.this",
        "module.m02.aws_ecr_repository.this",
    ]
    copy = next(r for r in serial.repositories if r.id.startswith(f"module.m{MODULES - 2}."))
    assert copy.name.value == "m01-copy"


def _fresh_python(code: str) -> Any:
    """What ``code`` prints (JSON), run in a new interpreter.

    Not in this one: an emulator started by an earlier test runs a server
    thread here, and a process with threads never forks (ecrguard.forks).
    """
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="forks only on Linux")
def test_fork_map_runs_pieces_in_children_in_order() -> None:
    parent, results = _fresh_python(
        "import json, os\n"
        "from ecrguard.forks import fork_map\n"
        "print(json.dumps([os.getpid(), fork_map(lambda p: [p, os.getpid()], [1, 2, 3])]))\n"
    )
    assert [piece for piece, _ in results] == [1, 2, 3]
    assert results[0][1] == parent  # the first piece is read here
    assert len({pid for _, pid in results}) == 3


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="forks only on Linux")
def test_a_failing_child_is_redone_here() -> None:
    parent, results = _fresh_python(
        "import json, os\n"
        "from ecrguard.forks import fork_map\n"
        "parent = os.getpid()\n"
        "def work(piece):\n"
        "    if os.getpid() != parent:\n"
        "        raise RuntimeError('lost in the child')\n"
        "    return [piece, os.getpid()]\n"
        "print(json.dumps([parent, fork_map(work, [1, 2, 3])]))\n"
    )
    assert results == [[1, parent], [2, parent], [3, parent]]


def test_split_keeps_order_and_balance() -> None:
    runs = split(list(range(10)), 3)
    assert [list(r) for r in runs] == [[0, 1, 2, 3], [4, 5, 6], [7, 8, 9]]
    assert split([1], 4) == [[1]]
