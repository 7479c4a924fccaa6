"""Terraform HCL → the normalized model.

``load_terraform`` is imported on first use, so importing this package costs
nothing until a configuration is actually read; tree-sitter loads on the first
parse.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ecrguard.sources.terraform.loader import load_terraform

__all__ = ["load_terraform"]


def __getattr__(name: str) -> Any:
    if name == "load_terraform":
        from ecrguard.sources.terraform.loader import load_terraform

        return load_terraform
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
