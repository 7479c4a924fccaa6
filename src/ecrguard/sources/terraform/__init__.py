"""Terraform HCL and plan JSON → the normalized model.

``load_terraform`` (HCL) and ``load_plan`` (``terraform show -json`` output)
are imported on first use, so importing this package costs nothing until a
configuration is actually read; tree-sitter loads on the first HCL parse.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ecrguard.sources.terraform.loader import load_terraform
    from ecrguard.sources.terraform.plan import load_plan

__all__ = ["load_plan", "load_terraform"]


def __getattr__(name: str) -> Any:
    if name == "load_terraform":
        from ecrguard.sources.terraform.loader import load_terraform

        return load_terraform
    if name == "load_plan":
        from ecrguard.sources.terraform.plan import load_plan

        return load_plan
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
