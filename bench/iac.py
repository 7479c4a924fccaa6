"""IaC benchmark: ``ecrguard iac`` against Checkov on one generated Terraform corpus.

Generates the corpus with bench/gen_terraform.py (deterministic; default 5,000
modules), then runs each tool R times (default 5) on it. Each run is a fresh
process forked from bench/peak_rss.py, which reaps it with os.wait4 and
reports that run's own peak RSS (ru_maxrss) and CPU time, uninflated by this
driver's memory. Wall time is measured around start and reap. Medians are reported against the budgets
in DESIGN.md ("Budgets", IaC):

* ecrguard wall <= 2 s for 5,000 modules, and <= 0.05 x Checkov's wall;
* ecrguard peak RSS < 150 MB.

ecrguard runs as a user runs it: one process per CPU reads the modules (see
``--jobs``); peak RSS is the largest of its processes (wait4 reports the
maximum over a process and the children it reaped). For reference it also
runs with ``--jobs 1`` (``--serial-runs``), and the bench times the one part
no Python code can speed up: tree-sitter-hcl parsing every file, alone, in
one process (DESIGN.md prices it at 0.15 ms a file).

Correctness is checked on every run: the repositories ecrguard reports as
EG001 FAIL ("Repository policy grants access to any AWS account") must be
exactly the manifest's public ones. For Checkov the bench counts CKV_AWS_32
("Ensure ECR policy is not set to public", on aws_ecr_repository_policy) and
CKV_AWS_283 (public principals in a data "aws_iam_policy_document") FAILs and
says which public policies, by how they are written, each one finds.

Checkov runs as ``checkov -d DIR --framework terraform --quiet --compact -o
json --skip-download`` with BC_SKIP_MAPPING=TRUE: only Terraform, only failed
checks in the output, and no network calls (this machine reaches no Prisma
Cloud API, so those would only add waiting to its time). It runs all of its
Terraform checks, as a user running it would; ecrguard runs all of its rules
and lists PASS, FAIL and UNKNOWN results alike. See bench/gen_terraform.py for
how Checkov treats the module calls.

The machine may be shared with other jobs: the load average around each
tool's runs is recorded, and CPU time (user+sys) is reported next to wall
time because it is less sensitive to other load.

Usage (from ecrguard's virtual environment; only the standard library is used):
  .venv/bin/python bench/iac.py                # 5,000 modules, 5 runs each
  .venv/bin/python bench/iac.py --quick        # 500 modules, 1 run each (smoke test)
  .venv/bin/python bench/iac.py --runs 3 --checkov-runs 1 --corpus /tmp/tf5000
Results: a table on stdout and bench/results/iac-<time>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import gen_terraform  # a sibling script: run from bench/, as python puts it on sys.path
from common import PEERS, ROOT, machine, measure, save, tool_version

ECRGUARD = ROOT / ".venv" / "bin" / "ecrguard"
CHECKOV = PEERS / "checkov" / "bin" / "checkov"

BUDGET_WALL_S = 2.0
BUDGET_RSS_MB = 150.0
BUDGET_RATIO = 0.05
BUDGET_MODULES = 5000
PUBLIC_RULE = "EG001"
CHECKOV_ECR_CHECK = "CKV_AWS_32"
CHECKOV_DOC_CHECK = "CKV_AWS_283"
_MODULE = re.compile(r"module\.(m\d{4})\.")


def run_once(cmd: list[str], stdout: Path, env: dict[str, str] | None = None) -> dict[str, Any]:
    """One run in a fresh process: wall seconds, peak RSS (MB), CPU seconds, exit code."""
    run = measure(cmd, env=env, stdout=stdout)
    return {
        "wall_s": run.seconds,
        "peak_rss_mb": run.peak_mb,
        "cpu_s": run.cpu_seconds,
        "exit_code": run.code,
    }


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {
        key: round(statistics.median(r[key] for r in runs), 3)
        for key in ("wall_s", "peak_rss_mb", "cpu_s")
    }
    out["min_wall_s"] = min(r["wall_s"] for r in runs)
    out["runs"] = len(runs)
    return out


def loadavg() -> float:
    return round(os.getloadavg()[0], 2)


# -- correctness ---------------------------------------------------------------------


def ecrguard_public(report_path: Path) -> dict[str, Any]:
    report = json.loads(report_path.read_text(encoding="utf-8"))
    findings = report["findings"]
    ours = [f for f in findings if f["rule"] == PUBLIC_RULE]
    fails = sorted(f["resource"] for f in ours if f["status"] == "FAIL")
    return {
        "findings": len(findings),
        "public_fail": len(fails),
        "public_unknown": sum(1 for f in ours if f["status"] == "UNKNOWN"),
        "issues": len(report.get("issues", [])),
        "resources": fails,
    }


def checkov_public(report_path: Path) -> dict[str, Any]:
    text = report_path.read_text(encoding="utf-8")
    data = json.loads(text) if text.strip() else {}
    # One framework gives an object; several give a list of them.
    reports = data if isinstance(data, list) else [data]
    failed = [c for r in reports for c in r.get("results", {}).get("failed_checks", [])]
    out: dict[str, Any] = {
        "failed_checks": len(failed),
        "summary": [r.get("summary") for r in reports],
    }
    for key, check in (("ecr_policy", CHECKOV_ECR_CHECK), ("policy_document", CHECKOV_DOC_CHECK)):
        hits = [c for c in failed if c["check_id"] == check]
        modules = {m.group(1) for c in hits if (m := _MODULE.search(c["resource"]))}
        out[key] = {"check": check, "fail": len(hits), "modules": sorted(modules)}
    return out


def compare(
    manifest: dict[str, Any], eg: dict[str, Any] | None, ck: dict[str, Any] | None
) -> dict[str, Any]:
    expected = set(manifest["public_repositories"])
    out: dict[str, Any] = {
        "expected_public": len(expected),
        "expected_by_form": manifest["public_by_form"],
    }
    if eg is not None:
        found = set(eg["resources"])
        out["ecrguard"] = {
            "public_fail": eg["public_fail"],
            "missed": sorted(expected - found),
            "extra": sorted(found - expected),
            "ok": found == expected,
        }
    if ck is not None:
        forms = {e["module"]: e["form"] for e in manifest["public_modules"]}
        ecr = set(ck["ecr_policy"]["modules"])
        doc = set(ck["policy_document"]["modules"])
        by_form: dict[str, dict[str, int]] = {}
        for module, form in forms.items():
            row = by_form.setdefault(
                form, {"public": 0, CHECKOV_ECR_CHECK: 0, CHECKOV_DOC_CHECK: 0}
            )
            row["public"] += 1
            row[CHECKOV_ECR_CHECK] += module in ecr
            row[CHECKOV_DOC_CHECK] += module in doc
        out["checkov"] = {
            f"{CHECKOV_ECR_CHECK}_fail": ck["ecr_policy"]["fail"],
            f"{CHECKOV_DOC_CHECK}_fail": ck["policy_document"]["fail"],
            "public_found_by_either": len(set(forms) & (ecr | doc)),
            "false_positives": sorted((ecr | doc) - set(forms)),
            "by_form": by_form,
        }
    return out


# -- running -------------------------------------------------------------------------


def machine_info() -> dict[str, Any]:
    info = machine()
    info["ecrguard"] = tool_version([str(ECRGUARD), "--version"])
    info["checkov"] = tool_version([str(CHECKOV), "--version"]) if CHECKOV.exists() else None
    return info


def wait_for(path: Path, minutes: float) -> bool:
    """Checkov may still be installing (bench/install-peers) when the bench starts."""
    deadline = time.monotonic() + minutes * 60
    while not path.exists():
        if time.monotonic() > deadline:
            return False
        print(f"waiting for {path} ...", file=sys.stderr)
        time.sleep(30)
    return True


def corpus_for(args: argparse.Namespace, work: Path) -> tuple[Path, dict[str, Any]]:
    corpus = args.corpus or work / "corpus"
    manifest_path = corpus / "manifest.json"
    if manifest_path.exists():
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        same = (manifest.get("modules"), manifest.get("seed")) == (args.modules, args.seed)
        if same and "public_modules" in manifest:
            return corpus, manifest
    return corpus, gen_terraform.generate(str(corpus), args.modules, args.seed)


def bench_ecrguard(
    corpus: Path, manifest: dict[str, Any], runs: int, work: Path, jobs: int | None = None
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """ecrguard as a user runs it (``jobs`` None: one process per CPU), or with --jobs."""
    tag = "ecrguard" if jobs is None else f"ecrguard-j{jobs}"

    def command(report: Path) -> list[str]:
        return [
            str(ECRGUARD), "iac", str(corpus), "--format", "json", "--output", str(report),
            "--fail-on", "never", "--org-id", manifest["org_id"],
        ] + ([] if jobs is None else ["--jobs", str(jobs)])  # fmt: skip

    measured, found = [], None
    before = loadavg()
    for i in range(runs):
        report = work / f"{tag}-{i}.json"
        run = run_once(command(report), work / f"{tag}-{i}.out")
        this = ecrguard_public(report) if run["exit_code"] == 0 and report.exists() else None
        run["public_fail"] = this["public_fail"] if this else None
        measured.append(run)
        found = found or this
        print(f"{tag} run {i + 1}/{runs}: {run}", file=sys.stderr)
    result = {
        "command": " ".join(command(Path("REPORT.json"))),
        "runs": measured,
        "median": summarize(measured),
        "loadavg": [before, loadavg()],
        "public": {k: v for k, v in (found or {}).items() if k != "resources"},
    }
    return result, found


# Parses every .tf file of the corpus with tree-sitter-hcl alone, in one process,
# nothing else: the part of an HCL reader no Python code can speed up. DESIGN.md
# prices it at 0.15 ms a file; this measures it on this machine and corpus.
_PARSE_ONLY = """
import os, sys, time
import tree_sitter, tree_sitter_hcl
parser = tree_sitter.Parser(tree_sitter.Language(tree_sitter_hcl.language()))
paths = [os.path.join(d, n) for d, _, names in os.walk(sys.argv[1]) for n in names if n.endswith(".tf")]
data = [open(p, "rb").read() for p in paths]
start = time.perf_counter()
for text in data:
    parser.parse(text)
print(len(data), time.perf_counter() - start)
"""


def parse_floor(corpus: Path, runs: int) -> dict[str, Any]:
    python = ECRGUARD.parent / "python"
    times, files = [], 0
    for _ in range(runs):
        out = subprocess.run(
            [str(python), "-c", _PARSE_ONLY, str(corpus)],
            capture_output=True, text=True, check=True,
        ).stdout.split()  # fmt: skip
        files, seconds = int(out[0]), float(out[1])
        times.append(seconds)
    median = statistics.median(times)
    return {
        "what": "tree-sitter-hcl parse of every .tf file, one process, nothing else",
        "runs": times,
        "seconds": round(median, 3),
        "files": files,
        "ms_per_file": round(median / files * 1000, 3),
    }


def bench_checkov(
    corpus: Path, runs: int, work: Path
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    env = dict(os.environ, BC_SKIP_MAPPING="TRUE")
    command = [
        str(CHECKOV), "-d", str(corpus), "--framework", "terraform",
        "--quiet", "--compact", "-o", "json", "--skip-download",
    ]  # fmt: skip
    measured, found = [], None
    before = loadavg()
    for i in range(runs):
        out = work / f"checkov-{i}.json"
        run = run_once(command, out, env)
        try:
            this: dict[str, Any] | None = checkov_public(out)
        except (ValueError, KeyError) as err:
            this = None
            run["error"] = f"unreadable output: {err}"
        run[f"{CHECKOV_ECR_CHECK}_fail"] = this["ecr_policy"]["fail"] if this else None
        measured.append(run)
        found = found or this
        print(f"checkov run {i + 1}/{runs}: {run}", file=sys.stderr)
    public = {
        k: {kk: vv for kk, vv in v.items() if kk != "modules"} if isinstance(v, dict) else v
        for k, v in (found or {}).items()
    }
    result = {
        "command": "BC_SKIP_MAPPING=TRUE " + " ".join(command),
        "runs": measured,
        "median": summarize(measured),
        "loadavg": [before, loadavg()],
        "public": public,
    }
    return result, found


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--modules", type=int, default=BUDGET_MODULES)
    ap.add_argument("--runs", type=int, default=5, help="runs of each tool (5)")
    ap.add_argument("--checkov-runs", type=int, help="runs of Checkov (default: --runs)")
    ap.add_argument("--quick", action="store_true", help="500 modules, 1 run each")
    ap.add_argument("--seed", type=int, default=4)
    ap.add_argument(
        "--corpus", type=Path, help="corpus directory (generated unless it holds this one)"
    )
    ap.add_argument(
        "--serial-runs",
        type=int,
        default=1,
        help="runs of ecrguard --jobs 1 (one process), for reference (1; 0 to skip)",
    )
    ap.add_argument("--skip-checkov", action="store_true")
    ap.add_argument("--wait-checkov", type=float, default=20, help="minutes to wait for Checkov")
    args = ap.parse_args(argv)
    if args.quick:
        args.modules, args.runs = 500, 1
    checkov_runs = args.runs if args.checkov_runs is None or args.quick else args.checkov_runs

    work = Path(tempfile.mkdtemp(prefix="iac-bench-"))
    corpus, manifest = corpus_for(args, work)
    size = sum(p.stat().st_size for p in corpus.rglob("*.tf"))
    print(
        f"corpus: {corpus}: {manifest['modules']} modules, {manifest['files']} files, "
        f"{size / 1e6:.1f} MB, {manifest['public_policies']} public policies",
        file=sys.stderr,
    )
    result: dict[str, Any] = {
        "machine": machine_info(),
        "corpus": {k: v for k, v in manifest.items() if not isinstance(v, list)}
        | {"path": str(corpus), "bytes": size},
        "budgets": {
            "wall_s": BUDGET_WALL_S,
            "peak_rss_mb": BUDGET_RSS_MB,
            "ratio_to_checkov": BUDGET_RATIO,
            "for_modules": BUDGET_MODULES,
        },
    }
    result["parse_floor"] = parse_floor(corpus, 3 if not args.quick else 1)
    result["ecrguard"], eg_found = bench_ecrguard(corpus, manifest, args.runs, work)
    if args.serial_runs > 0:
        result["ecrguard_jobs_1"], _ = bench_ecrguard(
            corpus, manifest, args.serial_runs, work, jobs=1
        )
    ck_found = None
    if args.skip_checkov or checkov_runs < 1:
        pass
    elif wait_for(CHECKOV, args.wait_checkov):
        result["checkov"], ck_found = bench_checkov(corpus, checkov_runs, work)
    else:
        result["checkov"] = {"error": f"{CHECKOV} not found"}
    result["correctness"] = compare(manifest, eg_found, ck_found)
    result["verdict"] = _verdict(result, manifest)
    path = save("iac", result)
    _table(result)
    print(f"\nwrote {path.relative_to(ROOT)}; runs' output in {work}")
    return 0


def _verdict(result: dict[str, Any], manifest: dict[str, Any]) -> dict[str, bool | None]:
    eg = result["ecrguard"]["median"]
    ck = result.get("checkov", {}).get("median")
    ratio = eg["wall_s"] / ck["wall_s"] if ck else None
    result["ratio_wall"] = round(ratio, 4) if ratio is not None else None
    full = manifest["modules"] == BUDGET_MODULES
    return {
        # The absolute wall budget is for 5,000 modules; other sizes are not judged.
        "wall": eg["wall_s"] <= BUDGET_WALL_S if full else None,
        "rss": eg["peak_rss_mb"] < BUDGET_RSS_MB if full else None,
        "ratio": ratio <= BUDGET_RATIO if ratio is not None else None,
        "every_public_policy_found": result["correctness"].get("ecrguard", {}).get("ok"),
    }


def _table(result: dict[str, Any]) -> None:
    m, c, corr, verdict = (
        result["machine"],
        result["corpus"],
        result["correctness"],
        result["verdict"],
    )
    print(
        f"\nmachine: {m['cpu']}, {m['cores']} cores, Python {m['python']}, load {m['load_average']}"
    )
    print(f"tools:   {m['ecrguard']}, checkov {m['checkov']}")
    print(
        f"corpus:  {c['modules']} modules, {c['files']} files, {c['bytes'] / 1e6:.1f} MB, "
        f"{c['public_policies']} public policies {c['public_by_form']}"
    )
    print(
        f"\n{'tool':12} {'runs':>4} {'wall s':>8} {'min s':>7} {'cpu s':>7} {'RSS MB':>7}  public policies found"
    )
    rows = [("ecrguard", result["ecrguard"])]
    if "ecrguard_jobs_1" in result:
        rows.append(("ecrguard -j1", result["ecrguard_jobs_1"]))
    if "median" in result.get("checkov", {}):
        rows.append(("checkov", result["checkov"]))
    for name, data in rows:
        med = data["median"]
        if name.startswith("ecrguard"):
            found = (
                f"{PUBLIC_RULE} FAIL {corr['ecrguard']['public_fail']}/{corr['expected_public']}"
            )
        else:
            ck = corr["checkov"]
            found = (
                f"{CHECKOV_ECR_CHECK} FAIL {ck[f'{CHECKOV_ECR_CHECK}_fail']} + "
                f"{CHECKOV_DOC_CHECK} FAIL {ck[f'{CHECKOV_DOC_CHECK}_fail']}: "
                f"{ck['public_found_by_either']}/{corr['expected_public']}"
            )
        print(
            f"{name:12} {med['runs']:>4} {med['wall_s']:>8.2f} {med['min_wall_s']:>7.2f} "
            f"{med['cpu_s']:>7.2f} {med['peak_rss_mb']:>7.1f}  {found}"
        )
    if "checkov" in corr:
        print("\nCheckov, by how the public policy is written:")
        for form, row in sorted(corr["checkov"]["by_form"].items()):
            print(f"  {form:11} {row}")
    floor = result["parse_floor"]
    print(
        f"\ntree-sitter-hcl parse alone, one process: {floor['seconds']:.2f} s for "
        f"{floor['files']} files = {floor['ms_per_file']:.3f} ms a file (DESIGN.md: 0.15 ms)"
    )
    eg = result["ecrguard"]["median"]
    print(f"\nbudgets ({BUDGET_MODULES} modules):")
    print(f"  wall    {eg['wall_s']:.2f} s <= {BUDGET_WALL_S:.2f} s: {_ok(verdict['wall'])}")
    print(f"  RSS     {eg['peak_rss_mb']:.1f} MB < {BUDGET_RSS_MB:.0f} MB: {_ok(verdict['rss'])}")
    if result.get("ratio_wall") is not None:
        print(f"  ratio   {result['ratio_wall']:.4f} <= {BUDGET_RATIO}: {_ok(verdict['ratio'])}")
    print(f"  public  every public policy found: {_ok(verdict['every_public_policy_found'])}")
    print(
        f"\nload average around the runs: ecrguard {result['ecrguard']['loadavg']}"
        + (
            f", checkov {result['checkov']['loadavg']}"
            if "median" in result.get("checkov", {})
            else ""
        )
        + f" on {m['cores']} cores (a shared machine: compare cpu s when it is high)"
    )


def _ok(value: bool | None) -> str:
    return "n/a" if value is None else "met" if value else "MISSED"


if __name__ == "__main__":
    sys.exit(main())
