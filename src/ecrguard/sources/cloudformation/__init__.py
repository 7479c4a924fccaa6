"""CloudFormation templates (YAML or JSON) → the normalized model.

``load_cloudformation`` and its helpers are imported on first use,
so importing this package costs nothing until a template is read.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ecrguard.sources.cloudformation.loader import (
        NotATemplate,
        load_cloudformation,
        looks_like_template,
    )

__all__ = ["NotATemplate", "load_cloudformation", "looks_like_template"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from ecrguard.sources.cloudformation import loader

        return getattr(loader, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
