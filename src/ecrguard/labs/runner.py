"""Run labs: setup, exploit, detect, fix, verify.

Detection and verification use the same collector, engine and rules as
``ecrguard scan`` and ``ecrguard iac``; the lab module only sets up, attacks
and fixes.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from ecrguard.errors import EcrguardError, LabError
from ecrguard.labs.base import LabEnv
from ecrguard.labs.catalog import LabInfo, get_lab, implemented
from ecrguard.model import Finding, Status


@dataclass
class Step:
    name: str
    ok: bool
    detail: str
    commands: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "ok": self.ok, "detail": self.detail}


@dataclass
class LabRun:
    number: str
    title: str
    steps: list[Step]

    @property
    def ok(self) -> bool:
        return len(self.steps) == 5 and all(s.ok for s in self.steps)

    def to_json(self) -> dict[str, Any]:
        return {"lab": self.number, "ok": self.ok, "steps": [s.to_json() for s in self.steps]}


# ---- detection, shared by detect and verify ----------------------------------------


def live_findings(env: LabEnv, mod: ModuleType) -> list[Finding]:
    from ecrguard import engine
    from ecrguard.rules import RULES
    from ecrguard.sources.aws import collect

    inv = collect(env.session, [env.region], endpoint_url=env.endpoint_url)
    ctx = engine.context_for(
        inv, trusted=getattr(mod, "TRUSTED", ()), params=getattr(mod, "PARAMS", {})
    )
    findings = engine.run(inv, [RULES[r] for r in mod.RULES], ctx)
    owns: Callable[[LabEnv, Finding], bool] = getattr(
        mod, "owns", lambda env, f: mod.PREFIX in f.resource
    )
    return [f for f in findings if owns(env, f)]


def iac_findings(info: LabInfo, mod: ModuleType, name: str) -> list[Finding]:
    from ecrguard import engine
    from ecrguard.rules import RULES
    from ecrguard.sources.terraform import load_terraform

    inv = load_terraform([info.file(name)])
    ctx = engine.context_for(
        inv, trusted=getattr(mod, "TRUSTED", ()), params=getattr(mod, "PARAMS", {})
    )
    return engine.run(inv, [RULES[r] for r in mod.RULES], ctx)


def _summary(findings: Sequence[Finding], status: Status) -> list[str]:
    return [
        f"{f.status.value} {f.rule} {f.resource}: {f.message}"
        for f in findings
        if f.status is status
    ]


# ---- the five steps ----------------------------------------------------------------


def run_lab(info: LabInfo, env: LabEnv) -> LabRun:
    mod = info.module()
    run = LabRun(info.number, info.title, [])

    def step(name: str, body: Callable[[], Step]) -> bool:
        try:
            result = body()
        except EcrguardError as err:
            result = Step(name, False, f"{name} failed: {err}")
        except Exception as err:  # an emulator or AWS error ends the lab, not the run
            result = Step(name, False, f"{name} failed: {type(err).__name__}: {err}")
        run.steps.append(result)
        return result.ok

    def setup() -> Step:
        commands = mod.setup(env)
        return Step(
            "setup",
            True,
            f"created the vulnerable state of lab {info.number} ({info.title})",
            commands,
        )

    def exploit() -> Step:
        out = mod.exploit(env)
        return Step(
            "exploit",
            out.worked,
            ("attack succeeds: " if out.worked else "attack FAILED to work: ") + out.detail,
            out.commands,
        )

    def detect() -> Step:
        live = live_findings(env, mod)
        iac = iac_findings(info, mod, "vulnerable.tf")
        fails = _summary(live, Status.FAIL)
        iac_fails = _summary(iac, Status.FAIL)
        ok = bool(fails) and bool(iac_fails)
        detail = (
            f"{len(fails)} failing finding(s) in the {'emulator' if env.emulated else 'account'}; "
            f"{len(iac_fails)} in vulnerable.tf"
        )
        return Step(
            "detect", ok, detail, fails + [f"(vulnerable.tf) {x}" for x in iac_fails], live + iac
        )

    def fix() -> Step:
        commands = mod.fix(env)
        return Step("fix", True, f"applied the fix (Terraform: {info.file('fixed.tf')})", commands)

    def verify() -> Step:
        live = live_findings(env, mod)
        iac = iac_findings(info, mod, "fixed.tf")
        bad = [f for f in live + iac if f.status is not Status.PASS]
        out = mod.exploit(env)
        ok = not bad and bool(live) and not out.worked
        parts = [
            f"{sum(f.status is Status.PASS for f in live)} passing finding(s) in the "
            f"{'emulator' if env.emulated else 'account'}",
            f"{sum(f.status is Status.PASS for f in iac)} in fixed.tf",
            ("exploit now fails: " if not out.worked else "exploit STILL WORKS: ") + out.detail,
        ]
        if bad:
            parts.append(
                "still not passing: "
                + "; ".join(f"{f.status.value} {f.rule} {f.resource}" for f in bad)
            )
        lines = _summary(live + iac, Status.PASS) + [
            f"{f.status.value} {f.rule} {f.resource}: {f.message}" for f in bad
        ]
        return Step("verify", ok, "; ".join(parts), lines, live + iac)

    for name, body in (
        ("setup", setup),
        ("exploit", exploit),
        ("detect", detect),
        ("fix", fix),
        ("verify", verify),
    ):
        if not step(name, body):
            break
    return run


# ---- environments ------------------------------------------------------------------


@contextmanager
def _environments(
    aws: bool, endpoint_url: str | None, region: str
) -> Iterator[Callable[[], LabEnv]]:
    """Yield a factory giving a clean environment for each lab."""
    if aws:
        import boto3

        session = boto3.Session(region_name=region)
        if session.get_credentials() is None:
            raise LabError(
                "--aws needs credentials for a sandbox account (AWS_PROFILE or environment)"
            )
        account = session.client("sts").get_caller_identity()["Account"]
        yield lambda: LabEnv(session, region, account, None, emulated=False)
        return
    from ecrguard.emulator import Emulator
    from ecrguard.emulator.server import hermetic_session, reset_endpoint

    if endpoint_url:
        session = hermetic_session(region)

        def remote() -> LabEnv:
            reset_endpoint(endpoint_url)
            return LabEnv(session, region, _account(session, endpoint_url), endpoint_url)

        yield remote
        return
    with Emulator() as emu:

        def local() -> LabEnv:
            emu.reset()
            return LabEnv(emu.session(region), region, emu.account_id, emu.endpoint_url)

        yield local


def _account(session: Any, endpoint_url: str) -> str:
    return str(session.client("sts", endpoint_url=endpoint_url).get_caller_identity()["Account"])


def run_labs(
    numbers: Sequence[str], *, aws: bool, endpoint_url: str | None, region: str, fmt: str
) -> bool:
    infos = [get_lab(n) for n in numbers]
    for info in infos:
        info.module()  # refuse an unimplemented lab before starting anything
    results = []
    with _environments(aws, endpoint_url, region) as fresh:
        for info in infos:
            env = fresh()
            try:
                result = run_lab(info, env)
            finally:
                if aws:
                    info.module().teardown(env)
            results.append(result)
            if fmt == "console":
                _print_console(result)
    if fmt == "json":
        doc: Any = results[0].to_json() if len(results) == 1 else [r.to_json() for r in results]
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
    elif len(results) > 1:
        passed = sum(r.ok for r in results)
        sys.stdout.write(f"\n{passed} of {len(results)} labs passed all five steps\n")
    return all(r.ok for r in results)


def _print_console(run: LabRun) -> None:
    from rich.console import Console
    from rich.markup import escape

    console = Console()
    console.rule(f"[bold]Lab {run.number}: {run.title}")
    for s in run.steps:
        mark = "[green]✔[/]" if s.ok else "[red]✘[/]"
        console.print(f"{mark} [bold]{s.name}[/]: {escape(s.detail)}")
        for line in s.commands:
            style = (
                "red"
                if line.startswith(("FAIL", "(vulnerable.tf) FAIL"))
                else "green"
                if line.startswith("PASS")
                else "dim"
            )
            console.print(f"    [{style}]{escape(line)}[/]")
    verdict = "[bold green]lab passed[/]" if run.ok else "[bold red]lab failed[/]"
    console.print(f"{verdict}: {sum(s.ok for s in run.steps)}/5 steps ok\n")


# The registry scanning configuration is one per account and region, and the
# scanning labs each need their own vulnerable version of it. Seeded together,
# such labs (REGISTRY_SCOPED = True) each get a region of their own.
SPARE_REGIONS = (
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "eu-west-1",
    "eu-central-1",
    "ap-southeast-2",
)


def seed_all(emulator: Any, region: str) -> dict[str, str]:
    """Set up every implemented lab's vulnerable state in one emulator (scan --seed-labs).

    Returns where each lab was seeded: lab number -> region.
    """
    spare = iter(r for r in SPARE_REGIONS if r != region)
    placed: dict[str, str] = {}
    for info in implemented():
        mod = info.module()
        where = next(spare) if getattr(mod, "REGISTRY_SCOPED", False) else region
        env = LabEnv(emulator.session(where), where, emulator.account_id, emulator.endpoint_url)
        mod.setup(env)
        placed[info.number] = where
    return placed


def reset(*, endpoint_url: str | None, aws: bool, region: str) -> str:
    if endpoint_url:
        from ecrguard.emulator.server import reset_endpoint

        reset_endpoint(endpoint_url)
        return f"emulator at {endpoint_url} wiped"
    with _environments(True, None, region) as fresh:
        env = fresh()
        for info in implemented():
            info.module().teardown(env)
    return f"deleted the labs' resources in account {env.account} ({region})"
