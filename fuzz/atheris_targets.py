"""Coverage-guided fuzzing of the policy parser and the HCL reader, for long local runs.

The hypothesis targets in tests/fuzz/ run a few hundred fixed examples in CI.
This harness runs the same properties under atheris (libFuzzer for Python),
which mutates inputs towards new coverage for as long as you let it: the way
to look for the rare input the fixed examples miss.

Properties (the same as tests/fuzz/):

* ``policy``: ``parse_policy(bytes)`` returns a Policy or raises
  PolicyParseError with a one-line message; a Policy is then judged by
  ``exposure`` and ``evaluate`` without any exception.
* ``hcl``: ``load_terraform`` on a directory holding the input as ``main.tf``
  returns an Inventory, naming the file as an issue when it cannot be parsed;
  on the file alone it returns an Inventory or raises one InputError. Neither
  takes longer than ``--max-seconds`` (default 15).

Any other exception, or a too-slow input, stops the run and libFuzzer writes
the input to ``crash-<hash>`` in the current directory.

atheris is not a project dependency (it builds against libFuzzer and has
wheels for few platforms). To run::

    python -m venv /tmp/fuzz-venv
    /tmp/fuzz-venv/bin/pip install atheris -e .       # from the repository root
    mkdir -p /tmp/corpus-policy /tmp/corpus-hcl
    /tmp/fuzz-venv/bin/python fuzz/atheris_targets.py policy /tmp/corpus-policy -max_total_time=600
    /tmp/fuzz-venv/bin/python fuzz/atheris_targets.py hcl /tmp/corpus-hcl -max_total_time=600

After the target name, arguments go to libFuzzer: corpus directories (the
first one is written to), ``-max_total_time=SECONDS``, ``-runs=N``,
``-max_len=BYTES`` and so on. An empty corpus is seeded: ``policy`` with a
few real policies, ``hcl`` with the repository's Terraform fixtures and lab
files. To replay a
crash: ``python fuzz/atheris_targets.py hcl crash-<hash>``.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import atheris

with atheris.instrument_imports():
    from ecrguard.errors import InputError, PolicyParseError
    from ecrguard.model import Inventory
    from ecrguard.policy import (
        REGISTRY_V2_LEVELS,
        REPOSITORY_LEVELS,
        Caller,
        Policy,
        Request,
        evaluate,
        exposure,
        parse_policy,
    )
    from ecrguard.sources.terraform import load_terraform
    from ecrguard.sources.terraform.hcl import parse_bytes

ROOT = Path(__file__).resolve().parents[1]
OWNER = "111122223333"
CALLERS = [
    Caller.parse(p)
    for p in (
        "444455556666",
        f"arn:aws:iam::{OWNER}:role/ci",
        "arn:aws:sts::444455556666:assumed-role/ci/s",
        "lambda.amazonaws.com",
        "*",
    )
]
ACTIONS = ("ecr:BatchGetImage", "ecr:PutImage", "ecr:SetRepositoryPolicy", "s3:GetObject")
MAX_SECONDS = 15.0


def policy_target(data: bytes) -> None:
    try:
        policy = parse_policy(data)
    except PolicyParseError as err:
        if not str(err) or "\n" in str(err):
            raise AssertionError(f"not a one-line message: {err!r}") from None
        return
    assert isinstance(policy, Policy)
    for levels in (REPOSITORY_LEVELS, REGISTRY_V2_LEVELS):
        exposure(policy, OWNER, org_id="o-a1b2c3d4e5", trusted=("222233334444",), levels=levels)
    # Condition keys the policy tests, each given a value the input itself supplies.
    keys = {c.key for s in policy.statements for c in s.conditions}
    provider = atheris.FuzzedDataProvider(data[::-1])
    for caller in CALLERS:
        derived = caller.derived_context()
        context = {k: [provider.ConsumeUnicodeNoSurrogates(12)] for k in keys if k not in derived}
        for action in ACTIONS:
            evaluate(policy, Request.build(caller, action, None, context))


def hcl_target(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "main.tf")
        with open(path, "wb") as fh:
            fh.write(data)
        error = parse_bytes(path, data).error
        started = time.monotonic()
        inventory = load_terraform([tmp])
        assert isinstance(inventory, Inventory)
        named = [i.reason for i in inventory.issues if i.scope == path]
        if error is not None and error not in named:
            raise AssertionError(f"unparseable file not named as an issue: {error}")
        try:
            load_terraform([path])
        except InputError as err:
            if error is None or "\n" in str(err):
                raise AssertionError(f"unexpected InputError: {err}") from None
        elapsed = time.monotonic() - started
        if elapsed > MAX_SECONDS:
            raise AssertionError(f"took {elapsed:.1f} s (a hang?)")


TARGETS = {"policy": policy_target, "hcl": hcl_target}


# Policies to start from: JSON is decoded in C, which atheris cannot see into,
# so random bytes alone would rarely get past the decoder.
SEED_POLICIES = [
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "ecr:BatchGetImage"}],
    },
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "OrgPull",
                "Effect": "Allow",
                "Principal": {"AWS": "*"},
                "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
                "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}},
            },
            {
                "Effect": "Deny",
                "NotPrincipal": {"AWS": [f"arn:aws:iam::{OWNER}:role/ci", "444455556666"]},
                "NotAction": "ecr:Describe*",
                "Resource": "arn:aws:ecr:*:*:repository/*",
                "Condition": {
                    "NotIpAddress": {"aws:SourceIp": ["10.0.0.0/8", "2001:db8::/32"]},
                    "DateGreaterThan": {"aws:CurrentTime": "2024-01-01T00:00:00Z"},
                    "ForAnyValue:StringLike": {"aws:PrincipalTag/team": ["a*", "b?"]},
                    "Null": {"aws:SourceVpce": "true"},
                },
            },
            {
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "ecr:*",
                "Condition": {"ArnLike": {"aws:SourceArn": "arn:aws:lambda:*:111122223333:*"}},
            },
        ],
    },
]


def _seed(target_name: str, corpus: str) -> None:
    """An empty corpus starts from real inputs: policies, or the repository's Terraform."""
    import json

    target = Path(corpus)
    if not target.is_dir() or any(target.iterdir()):
        return
    if target_name == "policy":
        for i, doc in enumerate(SEED_POLICIES):
            (target / f"seed-{i:03d}.json").write_text(json.dumps(doc, indent=1))
        return
    sources = [*(ROOT / "tests" / "terraform" / "fixtures").rglob("*.tf")]
    sources += (ROOT / "src" / "ecrguard" / "labs").glob("*/*.tf")
    for i, source in enumerate(sorted(sources)):
        (target / f"seed-{i:03d}.tf").write_bytes(source.read_bytes())


def main() -> None:
    global MAX_SECONDS
    if len(sys.argv) < 2 or sys.argv[1] not in TARGETS:
        sys.exit(f"usage: {sys.argv[0]} {{{'|'.join(TARGETS)}}} [libFuzzer arguments...]")
    name = sys.argv[1]
    args = [sys.argv[0], *sys.argv[2:]]
    for arg in list(args):
        if arg.startswith("--max-seconds="):
            MAX_SECONDS = float(arg.split("=", 1)[1])
            args.remove(arg)
    corpora = [a for a in args[1:] if not a.startswith("-")]
    if corpora:
        _seed(name, corpora[0])
    atheris.Setup(args, TARGETS[name])
    atheris.Fuzz()


if __name__ == "__main__":
    main()
