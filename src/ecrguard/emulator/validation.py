"""Request checks and paging shared by the emulator's extensions.

botocore validates types and required members on the client; enums, patterns
and bounds are the server's job, so extensions check them here against the
same service model, worded as AWS words them.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterator, Sequence
from typing import Any, TypeVar

from botocore.model import Shape, StructureShape
from moto.core.exceptions import ServiceException
from moto.core.responses import BaseResponse
from moto.core.utils import get_service_model

T = TypeVar("T")


class ValidationException(ServiceException):
    code = "ValidationException"


def check_input(
    response: BaseResponse,
    operation: str,
    service: str = "ecr",
    error: type[ServiceException] = ValidationException,
) -> dict[str, Any]:
    """The request's parameters, checked against the constraints botocore
    leaves to the server (enums, patterns, maximums)."""
    shape = get_service_model(service).operation_model(operation).input_shape
    assert isinstance(shape, StructureShape)
    params = {name: response._get_param(name) for name in shape.members}
    params = {name: value for name, value in params.items() if value is not None}
    errors = list(_violations(shape, params, ""))
    if errors:
        count = len(errors)
        noun = "error" if count == 1 else "errors"
        raise error(f"{count} validation {noun} detected: " + "; ".join(errors))
    return params


def _violations(shape: Shape, value: Any, path: str) -> Iterator[str]:
    if isinstance(shape, StructureShape):
        if not isinstance(value, dict):
            return
        for name, member in shape.members.items():
            if name in value:
                yield from _violations(member, value[name], f"{path}.{name}" if path else name)
        return
    meta = shape.metadata
    if shape.type_name == "list" and isinstance(value, list):
        if "max" in meta and len(value) > meta["max"]:
            yield _problem(
                value, path, f"Member must have length less than or equal to {meta['max']}"
            )
        member = shape.member  # type: ignore[attr-defined]
        for index, item in enumerate(value, 1):
            yield from _violations(member, item, f"{path}.{index}.member")
    elif shape.type_name == "string" and isinstance(value, str):
        enum = getattr(shape, "enum", None)
        if enum and value not in enum:
            allowed = ", ".join(enum)
            yield _problem(value, path, f"Member must satisfy enum value set: [{allowed}]")
        if "max" in meta and len(value) > meta["max"]:
            yield _problem(
                value, path, f"Member must have length less than or equal to {meta['max']}"
            )
        pattern = meta.get("pattern")
        if pattern and not re.fullmatch(pattern, value):
            yield _problem(
                value, path, f"Member must satisfy regular expression pattern: {pattern}"
            )
    elif shape.type_name == "integer" and isinstance(value, int):
        if "max" in meta and value > meta["max"]:
            yield _problem(
                value, path, f"Member must have value less than or equal to {meta['max']}"
            )
        if "min" in meta and value < meta["min"]:
            yield _problem(
                value, path, f"Member must have value greater than or equal to {meta['min']}"
            )


def _problem(value: Any, path: str, constraint: str) -> str:
    return f"Value '{value}' at '{path}' failed to satisfy constraint: {constraint}"


# --- paging --------------------------------------------------------------------
# Tokens are opaque to clients, as AWS's are; they carry the position to resume at.


def encode_token(after: str) -> str:
    return base64.urlsafe_b64encode(json.dumps({"after": after}).encode()).decode()


def decode_token(token: str, error: type[ServiceException]) -> str:
    try:
        after = json.loads(base64.urlsafe_b64decode(token.encode()))["after"]
    except (binascii.Error, ValueError, KeyError, TypeError):
        after = None
    if not isinstance(after, str):
        raise error(
            "Invalid parameter at 'nextToken' failed to satisfy constraint: 'Invalid token'"
        )
    return after


def page(
    items: Sequence[T],
    limit: int,
    token: str | None,
    error: type[ServiceException],
) -> tuple[Sequence[T], str | None]:
    """One page of ``items`` by position, and the token for the next page."""
    start = 0
    if token is not None:
        offset = decode_token(token, error)
        if not offset.isdigit():
            raise error(
                "Invalid parameter at 'nextToken' failed to satisfy constraint: 'Invalid token'"
            )
        start = int(offset)
    end = start + limit
    return items[start:end], (encode_token(str(end)) if end < len(items) else None)
