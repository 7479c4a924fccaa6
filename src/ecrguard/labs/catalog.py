"""The 32 labs: titles for all, and the folders of those implemented.

A lab lives in ``labs/NN-slug/`` with README.md, vulnerable.tf, fixed.tf and
lab.py. Folder names start with a digit, so lab.py is loaded by path.
"""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import ModuleType

from ecrguard.errors import UsageError

HERE = Path(__file__).parent

TITLES = {
    "01": "Public repository policy",
    "02": "Registry permissions policy",
    "03": "Cross-account access",
    "04": "No VPC endpoint",
    "05": "Basic vs enhanced scanning",
    "06": "Scan on push disabled",
    "07": "Inspector integration",
    "08": "Findings and remediation workflow",
    "09": "Missing lifecycle policy",
    "10": "Tag mutability",
    "11": "KMS encryption",
    "12": "CloudTrail audit logging",
    "13": "GitHub Actions OIDC",
    "14": "GitLab CI",
    "15": "ECR infrastructure with Terraform",
    "16": "Pull-through cache security",
    "17": "Replication",
    "18": "AWS Signer and Notation",
    "19": "Cosign with AWS KMS",
    "20": "EKS with IRSA",
    "21": "ECS and Fargate",
    "22": "Lambda container images",
    "23": "OCI artifacts",
    "24": "SBOM",
    "25": "AWS Config",
    "26": "Security Hub",
    "27": "Public vs private repositories",
    "28": "Image layer analysis",
    "29": "Kyverno admission control",
    "30": "Prowler-compatible audit",
    "31": "Disaster recovery",
    "32": "Complete security architecture",
}


@dataclass(frozen=True)
class LabInfo:
    number: str
    title: str
    folder: Path | None

    @property
    def implemented(self) -> bool:
        return self.folder is not None

    def readme(self) -> str:
        if self.folder is None:
            return f"Lab {self.number}: {self.title}\n\nNot implemented yet in this version.\n"
        return (self.folder / "README.md").read_text(encoding="utf-8")

    def module(self) -> ModuleType:
        if self.folder is None:
            raise UsageError(
                f"lab {self.number} ({self.title}) is not implemented yet; `ecrguard lab list`"
            )
        return _load(self.folder)

    def file(self, name: str) -> Path:
        if self.folder is None:
            raise UsageError(f"lab {self.number} is not implemented yet")
        return self.folder / name


@cache
def _load(folder: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        f"ecrguard.labs.lab{folder.name[:2]}", folder / "lab.py"
    )
    if spec is None or spec.loader is None:
        raise UsageError(f"cannot load {folder / 'lab.py'}")
    module = importlib.util.module_from_spec(spec)
    # Registered before running it, as a normal import would be: dataclasses and
    # pickling look a module up by name while its body executes.
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@cache
def labs() -> tuple[LabInfo, ...]:
    folders = {p.name[:2]: p for p in HERE.iterdir() if p.is_dir() and (p / "lab.py").is_file()}
    return tuple(LabInfo(n, t, folders.get(n)) for n, t in TITLES.items())


def implemented() -> list[LabInfo]:
    return [lab for lab in labs() if lab.implemented]


def get_lab(number: str) -> LabInfo:
    for lab in labs():
        if lab.number == number:
            return lab
    raise UsageError(f"no lab {number!r}; labs are numbered 01 to 32")


def render_list() -> str:
    lines = [f"{'LAB':<4} {'STATUS':<12} TITLE"]
    for lab in labs():
        lines.append(f"{lab.number:<4} {'ready' if lab.implemented else 'planned':<12} {lab.title}")
    done = len(implemented())
    lines.append(
        f"\n{done} of {len(TITLES)} labs ready; `ecrguard lab run NN` runs one in the emulator."
    )
    return "\n".join(lines) + "\n"
