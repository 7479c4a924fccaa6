"""The ``ecrguard`` command line.

The contract (commands, flags, exit codes, JSON shapes) is in DESIGN.md and is
stable: extend it, never change it. Exit codes: 0 no failing finding at or above
``--fail-on``; 1 there are such findings; 2 a usage or runtime error, printed as
one line (``--debug`` shows the traceback); 3 (an extension) no such findings,
but the result is partial: calls failed or files could not be read, so some
checks are UNKNOWN (``--allow-partial`` turns this into 0).

Heavy modules (boto3, moto, tree-sitter) are imported inside the commands so
that ``ecrguard --version`` and ``ecrguard rule`` start quickly.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ecrguard import __version__
from ecrguard.errors import EcrguardError, UsageError

if TYPE_CHECKING:
    from collections.abc import Callable

    from ecrguard.model import Inventory
    from ecrguard.report import Report
    from ecrguard.sources.aws import CallStats

app = typer.Typer(
    name="ecrguard",
    help=(
        "Amazon ECR security: find, exploit, fix and verify ECR misconfigurations.\n\n"
        "Start here: `ecrguard lab list` shows the 32 labs; `ecrguard lab run 01` walks through "
        "one in an embedded AWS emulator (no AWS account needed); `ecrguard scan --emulator "
        "--seed-labs` scans an emulator seeded with every lab's vulnerable setup; `ecrguard iac "
        "DIR` scans Terraform; `ecrguard rule` lists the rules."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
lab_app = typer.Typer(help="List, show, run and reset the hands-on labs.", no_args_is_help=True)
policy_app = typer.Typer(
    help="Ask the IAM policy engine about a policy file.", no_args_is_help=True
)
app.add_typer(lab_app, name="lab")
app.add_typer(policy_app, name="policy")

_state = {"debug": False}

FORMAT_HELP = "Output format: console, json, sarif, ocsf, asff, junit or html."
FAIL_ON_HELP = (
    "Exit 1 when a FAIL finding has this severity or higher: info, low, medium, high, "
    "critical, or 'never'."
)

# Options shared by scan and iac: one definition, so their help never drifts apart.
LabOpt = Annotated[
    list[str] | None, typer.Option("--lab", help="Only rules of this lab (01-32); repeatable.")
]
TrustedOpt = Annotated[
    list[str] | None,
    typer.Option("--trusted-account", help="Account id you trust; repeatable."),
]
ParamOpt = Annotated[
    list[str] | None,
    typer.Option("--param", help="Rule parameter RULE.NAME=VALUE; repeatable."),
]
FormatOpt = Annotated[str, typer.Option("--format", help=FORMAT_HELP)]
OutputOpt = Annotated[Path | None, typer.Option("--output", help="Write the report to this file.")]
FailOnOpt = Annotated[str, typer.Option("--fail-on", help=FAIL_ON_HELP)]
AllowPartialOpt = Annotated[
    bool,
    typer.Option(
        "--allow-partial",
        help="Exit 0, not 3, when nothing fails but some checks are UNKNOWN because API calls "
        "failed or files could not be read.",
    ),
]


def _version(value: bool) -> None:
    if value:
        print(f"ecrguard {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
    debug: Annotated[
        bool, typer.Option("--debug", help="Show tracebacks and API call counts.")
    ] = False,
) -> None:
    _state["debug"] = debug


# ---- shared helpers ----------------------------------------------------------------


def _severity(text: str) -> Any:
    from ecrguard.model import Severity

    if text.lower() == "never":
        return None
    try:
        return Severity.parse(text)
    except ValueError as err:
        raise UsageError(str(err)) from None


def _params(values: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in values:
        key, sep, raw = item.partition("=")
        if not sep or "." not in key:
            raise UsageError(
                f"--param {item!r}: expected RULE.NAME=VALUE, e.g. EG008.require_vpce=true"
            )
        low = raw.strip().lower()
        out[key] = True if low == "true" else False if low == "false" else raw
    from ecrguard.rules import RULES

    for key in out:
        rule_id, _, name = key.partition(".")
        rule = RULES.get(rule_id)
        if rule is None or name not in rule.params:
            raise UsageError(
                f"--param {key}: no such rule parameter (see `ecrguard rule {rule_id}`)"
            )
    return out


def _labs(values: list[str]) -> list[str]:
    out = []
    for v in values:
        if not v.isdigit() or not 1 <= int(v) <= 32:
            raise UsageError(f"--lab {v!r}: give a lab number from 01 to 32")
        out.append(v.zfill(2))
    return out


def _emit(report: Report, fmt: str, output: Path | None) -> None:
    from ecrguard.report import renderer

    if fmt == "json":
        # Streamed: a large scan's report never sits in memory as one string.
        from ecrguard.report.jsonout import write

        if output is None:
            write(report, sys.stdout)
            return
        try:
            with output.open("w", encoding="utf-8") as fh:
                write(report, fh)
        except OSError as err:
            raise EcrguardError(f"cannot write {output}: {err.strerror}") from None
        typer.echo(f"wrote {output}", err=True)
        return
    render = renderer(fmt)
    if output is not None:
        text = render(report, False)
        try:
            output.write_text(text, encoding="utf-8")
        except OSError as err:
            raise EcrguardError(f"cannot write {output}: {err.strerror}") from None
        typer.echo(f"wrote {output}", err=True)
    else:
        sys.stdout.write(render(report, sys.stdout.isatty()))


def _judge(
    inventory: Inventory,
    *,
    command: str,
    labs: list[str],
    org_id: str | None,
    trusted: list[str],
    owner_account: str | None,
    params: dict[str, Any],
    stats: dict[str, Any] | None = None,
) -> Report:
    from ecrguard import engine
    from ecrguard.report import Report
    from ecrguard.rules import RULES

    ctx = engine.context_for(
        inventory, org_id=org_id, trusted=trusted, owner_account=owner_account, params=params
    )
    findings = engine.run(inventory, engine.select_rules(RULES.values(), labs), ctx)
    issues = [
        {"scope": i.scope, "operation": i.operation, "reason": i.reason} for i in inventory.issues
    ]
    return Report(findings, command, issues, stats or {})


PARTIAL_EXIT = 3


def _exit_for(report: Report, fail_on: str, allow_partial: bool) -> None:
    """1 for failing findings; else 3 when the result is partial; else 0."""
    from ecrguard import engine

    if engine.failing(list(report.findings), _severity(fail_on)):
        raise typer.Exit(1)
    if report.issues and not allow_partial:
        first = report.issues[0]
        more = f" and {len(report.issues) - 1} more" if len(report.issues) > 1 else ""
        typer.echo(
            f"partial result: {first['scope']}: {first['reason']}{more}; the checks they "
            "feed are UNKNOWN (exit 3; --allow-partial exits 0)",
            err=True,
        )
        raise typer.Exit(PARTIAL_EXIT)


# ---- scan --------------------------------------------------------------------------


@app.command()
def scan(
    region: Annotated[
        list[str] | None,
        typer.Option(
            "--region", help="Region to scan; repeat for several. Default: every enabled region."
        ),
    ] = None,
    profile: Annotated[str | None, typer.Option(help="AWS profile from ~/.aws/config.")] = None,
    endpoint_url: Annotated[
        str | None,
        typer.Option("--endpoint-url", help="Send API calls here (a moto server, LocalStack)."),
    ] = None,
    emulator: Annotated[
        bool,
        typer.Option(
            "--emulator",
            help="Start the embedded emulator (empty unless --seed-labs) and scan it "
            "(default region: us-east-1, or every region --seed-labs used).",
        ),
    ] = False,
    seed_labs: Annotated[
        bool,
        typer.Option(
            "--seed-labs", help="With --emulator: first set up every lab's vulnerable state."
        ),
    ] = False,
    lab: LabOpt = None,
    trusted_account: TrustedOpt = None,
    org_id: Annotated[
        str | None,
        typer.Option(
            "--org-id", help="Your AWS Organizations id (o-...). Default: read it from AWS."
        ),
    ] = None,
    param: ParamOpt = None,
    fmt: FormatOpt = "console",
    output: OutputOpt = None,
    fail_on: FailOnOpt = "low",
    allow_partial: AllowPartialOpt = False,
    max_workers: Annotated[
        int,
        typer.Option(
            "--max-workers",
            min=1,
            max=256,
            help="API calls in flight at once (threads); calls wait on the network, not the CPU.",
        ),
    ] = 32,
    progress: Annotated[
        bool,
        typer.Option(
            "--progress/--no-progress",
            help="Show a progress bar on stderr. Only ever shown on a terminal, never under "
            "CI=true, and not when a machine format goes to stdout.",
        ),
    ] = True,
) -> None:
    """Scan a live AWS account (read-only) or an emulator.

    Only Describe/Get/List calls are made (docs/permissions.md has the IAM policy).
    A call that still fails after retries makes the checks it feeds UNKNOWN and
    the scan goes on; exit code 3 then says the result is partial.

    \b
    Examples:
      ecrguard scan --region us-east-1
      ecrguard scan --emulator --seed-labs
      ecrguard scan --endpoint-url http://127.0.0.1:5000 --org-id o-abc123 --format json
    """
    import time

    from ecrguard.report import renderer

    renderer(fmt)  # refuse an unknown format before any API call
    labs = _labs(lab or [])
    params = _params(param or [])
    _severity(fail_on)
    show_bar = progress and _bar_allowed(fmt, output)
    if seed_labs and not emulator:
        raise UsageError("--seed-labs needs --emulator (it never touches a real account)")
    if emulator and (endpoint_url or profile):
        raise UsageError("--emulator starts its own endpoint; drop --endpoint-url/--profile")
    started = time.perf_counter()
    if emulator:
        from ecrguard.emulator import Emulator

        with Emulator() as emu:
            regions = region or ["us-east-1"]
            if seed_labs:
                from ecrguard.labs.runner import seed_all

                seeded = seed_all(emu, regions[0])
                # Without --region, scan everywhere a lab was seeded.
                regions = region or sorted(set(seeded.values()))
            inventory, calls = _collect(
                emu.session(regions[0]), regions, emu.endpoint_url, max_workers, show_bar
            )
    else:
        session = _session(profile, endpoint_url)
        inventory, calls = _collect(session, region, endpoint_url, max_workers, show_bar)
    stats = {
        "api_calls": calls.total,
        "failed_calls": len(inventory.issues),
        "workers": max_workers,
        "regions": len(inventory.scopes),
        "seconds": round(time.perf_counter() - started, 3),
    }
    if _state["debug"]:
        by_operation = ", ".join(f"{op} {n}" for op, n in sorted(calls.calls.items()))
        typer.echo(
            f"debug: {calls.total} API calls ({len(inventory.issues)} failed) with "
            f"{max_workers} workers in {stats['seconds']} s: {by_operation}",
            err=True,
        )
    report = _judge(
        inventory,
        command="scan",
        labs=labs,
        org_id=org_id,
        trusted=trusted_account or [],
        owner_account=None,
        params=params,
        stats=stats,
    )
    _emit(report, fmt, output)
    _exit_for(report, fail_on, allow_partial)


def _bar_allowed(fmt: str, output: Path | None) -> bool:
    import os

    if os.environ.get("CI", "").lower() in ("true", "1", "yes"):
        return False
    if fmt != "console" and output is None:
        return False  # stdout carries the report; keep the terminal for it alone
    return sys.stderr.isatty()


def _session(profile: str | None, endpoint_url: str | None) -> Any:
    import boto3
    import botocore.exceptions

    try:
        session = boto3.Session(profile_name=profile)
    except botocore.exceptions.ProfileNotFound:
        raise UsageError(f"AWS profile {profile!r} not found in your AWS config") from None
    if session.get_credentials() is None:
        if endpoint_url:
            # Emulators accept any key; don't make users invent one.
            return boto3.Session(
                aws_access_key_id="testing",
                aws_secret_access_key="testing",
                region_name=session.region_name,
            )
        raise UsageError(
            "no AWS credentials found; set AWS_PROFILE or use --profile (or try --emulator)"
        )
    return session


def _fewer_malloc_arenas() -> None:
    """Cap glibc at two malloc arenas before the worker threads start.

    glibc gives threads that allocate their own arenas (up to 8 per core), and
    with 32 workers the half-empty arenas added about 8 MB to a 1,000-repository
    scan's peak RSS. The workers mostly wait on the network, so two arenas cost
    nothing in speed.
    """
    if not sys.platform.startswith("linux"):
        return
    import contextlib
    import ctypes

    with contextlib.suppress(OSError, AttributeError):  # not glibc: no arenas to cap
        ctypes.CDLL("libc.so.6").mallopt(-8, 2)  # -8 is M_ARENA_MAX in malloc.h


def _collect(
    session: Any,
    regions: list[str] | None,
    endpoint_url: str | None,
    max_workers: int,
    show_bar: bool,
) -> tuple[Inventory, CallStats]:
    from ecrguard.sources.aws import CallStats, collect

    _fewer_malloc_arenas()
    stats = CallStats()

    def run(progress: Callable[[int, int], None] | None = None) -> Inventory:
        return collect(
            session,
            regions or None,
            endpoint_url=endpoint_url,
            max_workers=max_workers,
            stats=stats,
            progress=progress,
        )

    if not show_bar:
        return run(), stats
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    # transient: the bar is gone once the scan ends, leaving only the report.
    with Progress(
        TextColumn("scanning"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("tasks"),
        console=Console(stderr=True),
        transient=True,
    ) as bar:
        task = bar.add_task("scan", total=None)

        def advance(finished: int, scheduled: int) -> None:
            bar.update(task, completed=finished, total=scheduled)

        inventory = run(advance)
    return inventory, stats


# ---- iac ---------------------------------------------------------------------------


@app.command()
def iac(
    paths: Annotated[
        list[Path],
        typer.Argument(
            help="Terraform directories or .tf files, plan JSON (terraform show -json) or "
            "CloudFormation templates (YAML/JSON)."
        ),
    ],
    var_file: Annotated[
        list[Path] | None,
        typer.Option("--var-file", help="A .tfvars file, as terraform -var-file; repeatable."),
    ] = None,
    owner_account: Annotated[
        str | None,
        typer.Option(
            "--owner-account",
            help="Account that owns the resources, when the code does not say (provider allowed_account_ids).",
        ),
    ] = None,
    lab: LabOpt = None,
    trusted_account: TrustedOpt = None,
    org_id: Annotated[
        str | None, typer.Option("--org-id", help="Your AWS Organizations id (o-...).")
    ] = None,
    param: ParamOpt = None,
    fmt: FormatOpt = "console",
    output: OutputOpt = None,
    fail_on: FailOnOpt = "low",
    allow_partial: AllowPartialOpt = False,
    region: Annotated[
        str | None,
        typer.Option(
            "--region",
            help="Region the CloudFormation templates are deployed to: answers AWS::Region "
            "and AWS::Partition, else what depends on them is UNKNOWN. Terraform reads its "
            "provider's region.",
        ),
    ] = None,
    jobs: Annotated[
        int | None,
        typer.Option(
            "--jobs",
            "-j",
            min=1,
            max=64,
            help="Processes that read Terraform modules at once (default: one per CPU, "
            "at most 4). Parsing is CPU-bound; the result never depends on it.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Scan infrastructure as code: Terraform, Terraform plan JSON and CloudFormation.

    A directory is one Terraform root module (its terraform.tfvars and *.auto.tfvars are
    read; local modules are followed), plus every plan JSON file and CloudFormation
    template directly in it (*.json, *.yaml, *.yml, *.template; other YAML is skipped).
    A file is read by its content. Findings carry file and line; a value that cannot be
    resolved gives UNKNOWN, never PASS. A bad file given alone is an error (exit 2); in a
    directory it is named in the report, the rest is scanned, and the exit code is 3
    (partial) unless something fails.

    \b
    Examples:
      ecrguard iac ./infra
      ecrguard iac main.tf --owner-account 111122223333 --org-id o-abc123 --format json
      terraform show -json plan.out > plan.json && ecrguard iac plan.json
      ecrguard iac template.yaml --owner-account 111122223333
    """
    from ecrguard.report import renderer

    renderer(fmt)
    labs = _labs(lab or [])
    params = _params(param or [])
    _severity(fail_on)
    for p in paths:
        if not p.exists():
            raise UsageError(f"no such file or directory: {p}")
    if region is not None and not re.fullmatch(r"[a-z]{2}(-[a-z]+)+-\d+", region):
        raise UsageError(f"--region {region!r} is not an AWS region name (like eu-west-1)")
    inventory = _load_iac(paths, var_file or [], owner_account, jobs, region)
    report = _judge(
        inventory,
        command="iac",
        labs=labs,
        org_id=org_id,
        trusted=trusted_account or [],
        owner_account=owner_account,
        params=params,
    )
    _emit(report, fmt, output)
    _exit_for(report, fail_on, allow_partial)


def _load_iac(
    paths: list[Path],
    var_files: list[Path],
    owner_account: str | None,
    jobs: int | None = None,
    region: str | None = None,
) -> Inventory:
    """Each path to its loader: Terraform for directories and .tf, else by content."""
    from ecrguard.errors import InputError
    from ecrguard.forks import default_jobs
    from ecrguard.model import Inventory
    from ecrguard.sources.terraform import load_terraform

    terraform = [p for p in paths if p.is_dir() or p.suffix == ".tf"]
    inventory = Inventory()
    if terraform or var_files:
        inventory = load_terraform(
            terraform,
            var_files=var_files,
            owner_account=owner_account,
            jobs=jobs or default_jobs(),
        )
    for path in paths:
        if path.is_dir():
            inventory = inventory.merge(_iac_directory(path, owner_account, region))
        elif path.suffix != ".tf":
            kind = _sniff(path)
            if kind is None:
                raise InputError(
                    f"{path}: not a Terraform .tf file, plan JSON or CloudFormation template"
                )
            inventory = inventory.merge(
                _load_iac_file(path, kind, owner_account, alone=True, region=region)
            )
    return inventory


def _iac_directory(path: Path, owner_account: str | None, region: str | None = None) -> Inventory:
    """The plan JSON and CloudFormation files directly in a directory (Terraform reads the .tf)."""
    from ecrguard.errors import InputError
    from ecrguard.model import CollectionIssue, Inventory

    inventory = Inventory()
    for entry in sorted(path.iterdir()):
        if not entry.name.endswith(_IAC_SUFFIXES) or not entry.is_file():
            continue
        kind = _sniff(entry)
        if kind is None:
            # Other JSON and YAML (workflows, manifests, tfvars) are not ours. Text in
            # another ASCII-based encoding lands here too: the markers _sniff looks
            # for are ASCII, so it would have been recognised had it been ours.
            continue
        try:
            found = _load_iac_file(entry, kind, owner_account, alone=False, region=region)
        except InputError as err:
            # One bad file is named in the report; the rest of the directory is scanned.
            reason = str(err).removeprefix(f"{entry}: ")
            found = Inventory(issues=(CollectionIssue(str(entry), kind, reason),))
        inventory = inventory.merge(found)
    return inventory


# Enough of a file to tell plan JSON and CloudFormation from other JSON and YAML.
_SNIFF_BYTES = 1024 * 1024
_IAC_SUFFIXES = (".json", ".yaml", ".yml", ".template")


def _sniff(path: Path) -> str | None:
    """What the file holds, named as its issues' operation, from its first bytes; None: not ours.

    "iac:read" is a file whose bytes hide what it holds (binary, unreadable, or
    a plan or template in UTF-16): _load_iac_file says why it is not read.
    """
    import codecs

    from ecrguard.sources.cloudformation import looks_like_template
    from ecrguard.sources.terraform.plan import looks_like_plan

    try:
        with path.open("rb") as fh:
            head = fh.read(_SNIFF_BYTES)
    except OSError:
        return "iac:read"
    wide = (codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
    if head.startswith(wide):
        # Windows PowerShell's ">" writes UTF-16: decode it to see whether it is ours.
        encoding = "utf-32" if head.startswith(wide[:2]) else "utf-16"
        text = head.decode(encoding, "replace").encode("utf-8", "replace")
        return "iac:read" if looks_like_plan(text[:4096]) or looks_like_template(text) else None
    if looks_like_plan(head[:4096]):
        return "terraform:plan"
    if looks_like_template(head):
        return "cloudformation:parse"
    if b"\0" in head:
        # Compressed, encrypted or other binary data hides whether it is a plan or
        # a template: name it rather than pass over it.
        return "iac:read"
    return None


def _load_iac_file(
    path: Path, kind: str, owner_account: str | None, alone: bool, region: str | None = None
) -> Inventory:
    import codecs

    from ecrguard.errors import InputError
    from ecrguard.model import Inventory
    from ecrguard.sources.cloudformation import NotATemplate, load_cloudformation
    from ecrguard.sources.terraform.plan import NotAPlan, load_plan

    if kind == "iac:read":
        try:
            with path.open("rb") as fh:
                head = fh.read(4)
        except OSError as err:
            raise InputError(f"{path}: cannot read file: {err.strerror or err}") from None
        if head.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
            reason = "UTF-32 text, not UTF-8 (save it as UTF-8)"
        elif head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            reason = "UTF-16 text, not UTF-8 (PowerShell: | Out-File -Encoding utf8)"
        elif alone:
            reason = "binary file, not a Terraform .tf file, plan JSON or CloudFormation template"
        else:
            reason = "binary file, not JSON or YAML text"
        raise InputError(f"{path}: {reason}")
    try:
        if kind == "cloudformation:parse":
            return load_cloudformation(path, owner_account=owner_account, region=region)
        return load_plan(path, owner_account=owner_account)
    except (NotAPlan, NotATemplate):
        if alone:
            raise
        # Terraform state, a provider schema, JSON that only mentions AWS types: not ours.
        return Inventory()


# ---- hunt --------------------------------------------------------------------------


def _account_ids(values: list[str], flag: str) -> tuple[str, ...]:
    for v in values:
        if not (v.isdigit() and len(v) == 12):
            raise UsageError(f"{flag} {v!r}: expected a 12-digit account id")
    return tuple(values)


@app.command()
def hunt(
    source: Annotated[
        str,
        typer.Argument(
            metavar="PATH|s3://BUCKET/PREFIX",
            help="A CloudTrail log file, a directory of them (searched recursively), or an S3 prefix.",
        ),
    ],
    trusted_account: TrustedOpt = None,
    owner_account: Annotated[
        list[str] | None,
        typer.Option(
            "--owner-account", help="Your account id(s); each record's recipient counts too."
        ),
    ] = None,
    org_id: Annotated[
        str | None,
        typer.Option(
            "--org-id",
            help="Your organisation id, used to judge policies. CloudTrail records do not say which "
            "organisation a caller belongs to: list member accounts with --trusted-account.",
        ),
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="console or json.")] = "console",
    endpoint_url: Annotated[
        str | None, typer.Option("--endpoint-url", help="S3 endpoint (the emulator, MinIO...).")
    ] = None,
    region: Annotated[str | None, typer.Option("--region", help="Region of the S3 bucket.")] = None,
    profile: Annotated[str | None, typer.Option(help="AWS profile for S3.")] = None,
    max_file_bytes: Annotated[
        int,
        typer.Option(
            "--max-file-bytes",
            help="Skip (and report) a log file that decompresses to more than this.",
        ),
    ] = 256 * 1024 * 1024,
) -> None:
    """Hunt CloudTrail logs for suspicious ECR activity.

    Reports pulls by accounts outside the trusted set, repository or registry policies
    made public or external (judged by the policy engine), tag overwrites, deleted
    repositories, replication to foreign accounts and tag mutability turned back to
    MUTABLE. Files are streamed (plain or gzipped) and never extracted; malformed files
    and records are skipped and counted. Exit 1 when something is found.

    \b
    Examples:
      ecrguard hunt ./cloudtrail-logs --trusted-account 444455556666
      ecrguard hunt s3://org-trail/AWSLogs/111122223333/CloudTrail/ --region us-east-1
    """
    from ecrguard.hunt import Trust, local_files, run_hunt, s3_files
    from ecrguard.hunt.render import render_console, render_json

    if fmt not in ("console", "json"):
        raise UsageError(f"hunt --format {fmt!r}: choose console or json")
    trust = Trust(
        _account_ids(owner_account or [], "--owner-account"),
        _account_ids(trusted_account or [], "--trusted-account"),
        org_id,
    )
    if source.startswith("s3://"):
        bucket, _, prefix = source[len("s3://") :].partition("/")
        if not bucket:
            raise UsageError(f"{source!r}: expected s3://BUCKET/PREFIX")
        session = _session(profile, endpoint_url)
        client = session.client("s3", region_name=region, endpoint_url=endpoint_url)
        files: Any = s3_files(client, bucket, prefix)
    else:
        path = Path(source)
        if not path.exists():
            raise UsageError(f"no such file or directory: {source}")
        files = local_files(path)
    try:
        result = run_hunt(files, trust, max_bytes=max_file_bytes)
    except Exception as err:
        # Listing S3 can fail (no bucket, denied): one line, the AWS error code first.
        code = getattr(err, "response", {}).get("Error", {}).get("Code")
        if code:
            raise EcrguardError(f"cannot read {source}: {code}: {err}") from None
        raise
    out = render_json(result) if fmt == "json" else render_console(result, sys.stdout.isatty())
    sys.stdout.write(out)
    if result.findings:
        raise typer.Exit(1)


# ---- policy ------------------------------------------------------------------------


def _read_policy(path: Path) -> dict[str, Any]:
    from ecrguard.errors import PolicyParseError
    from ecrguard.policy import parse_policy
    from ecrguard.policy.parse import MAX_POLICY_BYTES

    try:
        with path.open("rb") as fh:
            # One byte past the limit is enough to refuse it; /dev/zero never ends.
            data = fh.read(MAX_POLICY_BYTES + 1)
    except FileNotFoundError:
        raise UsageError(f"no such file: {path}") from None
    except IsADirectoryError:
        raise UsageError(f"{path} is a directory; give a policy JSON file") from None
    except OSError as err:
        raise EcrguardError(f"cannot read {path}: {err.strerror}") from None
    import json

    try:
        parse_policy(data)  # a one-line PolicyParseError on anything that is not a policy
    except PolicyParseError as err:
        raise PolicyParseError(f"{path}: {err}") from None
    doc: dict[str, Any] = json.loads(data)
    return doc


@policy_app.command("eval")
def policy_eval(
    file: Annotated[
        Path, typer.Argument(help="Policy JSON file (repository, registry, endpoint, trust...).")
    ],
    principal: Annotated[
        str,
        typer.Option(
            "--principal",
            help="Who asks: an account id, an IAM/STS ARN (role sessions too), a service like lambda.amazonaws.com, or *.",
        ),
    ],
    action: Annotated[
        str, typer.Option("--action", help="The API action, e.g. ecr:BatchGetImage.")
    ],
    resource: Annotated[str | None, typer.Option("--resource", help="The resource ARN.")] = None,
    context: Annotated[
        list[str] | None,
        typer.Option(
            "--context", help="Condition key KEY=VALUE; repeat a key to give several values."
        ),
    ] = None,
    explain: Annotated[
        bool, typer.Option("--explain", help="Also name the deciding statements.")
    ] = False,
) -> None:
    """Decide one request against one policy: allow, explicit-deny or implicit-deny.

    aws:PrincipalAccount and aws:PrincipalArn are derived from --principal.

    \b
    Example:
      ecrguard policy eval policy.json --principal arn:aws:iam::999999999999:role/x
        --action ecr:BatchGetImage --context aws:PrincipalOrgID=o-abc123
    """
    from ecrguard.policy import Request, evaluate, parse_policy

    doc = _read_policy(file)
    ctx: dict[str, list[str]] = {}
    for item in context or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(
                f"--context {item!r}: expected KEY=VALUE, e.g. aws:SourceVpce=vpce-123"
            )
        ctx.setdefault(key.strip(), []).append(value)
    result = evaluate(parse_policy(doc), Request.build(principal, action, resource, ctx))
    typer.echo(result.decision.value)
    if explain and result.statements:
        typer.echo("decided by: " + ", ".join(s.label for s in result.statements), err=True)


@policy_app.command("analyze")
def policy_analyze(
    file: Annotated[Path, typer.Argument(help="Repository policy JSON file.")],
    owner_account: Annotated[
        str, typer.Option("--owner-account", help="Account that owns the repository.")
    ],
    org_id: Annotated[
        str | None, typer.Option("--org-id", help="The owner's organisation id (o-...).")
    ] = None,
    trusted_account: TrustedOpt = None,
    registry: Annotated[
        bool,
        typer.Option(
            "--registry", help="Analyze as a registry policy (replicate/create/import levels)."
        ),
    ] = False,
    fmt: Annotated[str, typer.Option("--format", help="console or json.")] = "console",
) -> None:
    """Show the widest audience per access level: public, external, organization, trusted or none.

    Levels: pull (BatchGetImage, GetDownloadUrlForLayer, BatchCheckLayerAvailability),
    push (PutImage and layer uploads), delete (BatchDeleteImage, DeleteRepository),
    admin (SetRepositoryPolicy, DeleteRepositoryPolicy, PutImageTagMutability,
    PutLifecyclePolicy, PutImageScanningConfiguration).

    \b
    Example:
      ecrguard policy analyze policy.json --owner-account 111122223333 --org-id o-abc123 --format json
    """
    import json

    from ecrguard.policy import REGISTRY_V2_LEVELS, REPOSITORY_LEVELS, exposure

    if fmt not in ("console", "json"):
        raise UsageError(f"policy analyze --format {fmt!r}: choose console or json")
    if not (owner_account.isdigit() and len(owner_account) == 12):
        raise UsageError(f"--owner-account {owner_account!r}: expected a 12-digit account id")
    doc = _read_policy(file)
    exp = exposure(
        doc,
        owner_account,
        org_id=org_id,
        trusted=trusted_account or [],
        levels=REGISTRY_V2_LEVELS if registry else REPOSITORY_LEVELS,
    )
    if fmt == "json":
        typer.echo(json.dumps(exp.to_json(), indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{file}: {'PUBLIC' if exp.public else 'not public'}")
    table.add_column("Level")
    table.add_column("Widest audience")
    table.add_column("Why")
    for level, audience in exp.levels.items():
        table.add_row(level, audience.value, exp.reasons.get(level, ""))
    console = Console()
    console.print(table)
    if exp.external_accounts:
        console.print("external accounts: " + ", ".join(exp.external_accounts))
    for s in exp.service_principals:
        console.print(
            f"service {s.service}: {'guarded' if s.guarded else 'NOT guarded (confused deputy)'}"
        )
    if "note" in exp.reasons:
        console.print("note: " + exp.reasons["note"])


# ---- rule --------------------------------------------------------------------------


@app.command()
def rule(
    rule_id: Annotated[
        str | None, typer.Argument(metavar="[ID]", help="A rule id such as EG001.")
    ] = None,
    lab: Annotated[str | None, typer.Option("--lab", help="Only rules of this lab.")] = None,
) -> None:
    """List the rules, or print one rule's documentation."""
    from ecrguard.rules.docs import rule_text

    typer.echo(rule_text(rule_id, _labs([lab]) if lab else []), nl=False)


# ---- lab ---------------------------------------------------------------------------


@lab_app.command("list")
def lab_list() -> None:
    """List the labs and which are implemented."""
    from ecrguard.labs.catalog import render_list

    typer.echo(render_list(), nl=False)


@lab_app.command("show")
def lab_show(
    number: Annotated[str, typer.Argument(metavar="NN", help="Lab number, e.g. 01.")],
) -> None:
    """Print a lab's README: root cause, attack, detection, fix, verification."""
    from ecrguard.labs.catalog import get_lab

    typer.echo(get_lab(_labs([number])[0]).readme(), nl=False)


@lab_app.command("run")
def lab_run(
    number: Annotated[str | None, typer.Argument(metavar="NN", help="Lab number, e.g. 01.")] = None,
    run_all: Annotated[bool, typer.Option("--all", help="Run every implemented lab.")] = False,
    aws: Annotated[
        bool,
        typer.Option(
            "--aws",
            help="Use the real AWS sandbox account of your credentials, and tear down afterwards.",
        ),
    ] = False,
    endpoint_url: Annotated[
        str | None,
        typer.Option("--endpoint-url", help="Use a running emulator (see `ecrguard emulator`)."),
    ] = None,
    region: Annotated[
        str, typer.Option("--region", help="Region for the lab's resources.")
    ] = "us-east-1",
    fmt: Annotated[str, typer.Option("--format", help="console or json.")] = "console",
) -> None:
    """Run a lab: setup, exploit, detect, fix, verify.

    By default each lab runs in a fresh embedded emulator: no AWS account, no network.

    \b
    Examples:
      ecrguard lab run 01
      ecrguard lab run --all --format json
    """
    from ecrguard.labs.catalog import implemented
    from ecrguard.labs.runner import run_labs

    if fmt not in ("console", "json"):
        raise UsageError(f"lab run --format {fmt!r}: choose console or json")
    if (number is None) == (not run_all):
        raise UsageError("give one lab number (e.g. `ecrguard lab run 01`) or --all")
    if aws and endpoint_url:
        raise UsageError("--aws and --endpoint-url exclude each other")
    numbers = [lab.number for lab in implemented()] if run_all else _labs([number or ""])
    ok = run_labs(numbers, aws=aws, endpoint_url=endpoint_url, region=region, fmt=fmt)
    if not ok:
        raise typer.Exit(1)


@lab_app.command("reset")
def lab_reset(
    endpoint_url: Annotated[
        str | None,
        typer.Option(
            "--endpoint-url", help="The running emulator to wipe (see `ecrguard emulator`)."
        ),
    ] = None,
    aws: Annotated[
        bool,
        typer.Option(
            "--aws", help="Delete every resource the labs created in your sandbox account."
        ),
    ] = False,
    region: Annotated[str, typer.Option("--region", help="Region for --aws.")] = "us-east-1",
) -> None:
    """Wipe lab state: a running emulator's whole state, or the labs' resources in AWS.

    The embedded emulator of `lab run` lives only as long as that command, so it needs no reset.
    """
    from ecrguard.labs.runner import reset

    if aws == bool(endpoint_url):
        raise UsageError(
            "give --endpoint-url URL (a running emulator) or --aws (your sandbox account)"
        )
    typer.echo(reset(endpoint_url=endpoint_url, aws=aws, region=region))


# ---- emulator ----------------------------------------------------------------------


@app.command("emulator")
def emulator_cmd(
    port: Annotated[int, typer.Option("--port", help="Loopback port to listen on.")] = 5000,
    seed_labs: Annotated[
        bool, typer.Option("--seed-labs", help="Set up every lab's vulnerable state first.")
    ] = False,
    region: Annotated[str, typer.Option("--region", help="Region for --seed-labs.")] = "us-east-1",
) -> None:
    """Run the embedded emulator in the foreground on 127.0.0.1 until Ctrl-C.

    Point the AWS CLI, `ecrguard scan --endpoint-url` or `ecrguard lab run --endpoint-url` at it.
    """
    import time

    from ecrguard.emulator import Emulator

    with Emulator(port=port) as emu:
        if seed_labs:
            from ecrguard.labs.runner import seed_all

            seed_all(emu, region)
        typer.echo(
            f"emulator listening on {emu.endpoint_url} (account {emu.account_id}); Ctrl-C stops it"
        )
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            typer.echo("stopped", err=True)


# ---- entry point -------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args
    try:
        # Typer/click print usage errors themselves (exit 2); ours come back here.
        app(args=args, prog_name="ecrguard")
    except EcrguardError as err:
        if debug:
            raise
        typer.echo(f"error: {err}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        sys.exit(2)
    except Exception as err:
        if debug:
            raise
        typer.echo(
            f"error: {type(err).__name__}: {err} (run with --debug for the traceback)", err=True
        )
        sys.exit(2)
