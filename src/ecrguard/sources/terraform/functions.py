"""Terraform's built-in functions, the ones ECR configurations actually use.

An unsupported function gives an :class:`Unknown` naming it, so a policy built
with it is judged UNKNOWN rather than guessed.
"""

from __future__ import annotations

import base64
import json
import math
import posixpath
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ecrguard.sources.terraform.values import (
    MAX_NODES,
    MAX_STRING,
    Unknown,
    depth_exceeds,
    equal,
    json_text,
    resolve_deep,
    to_bool,
    to_number,
    to_text,
    type_name,
    whole,
)

if TYPE_CHECKING:
    from tree_sitter import Node

    from ecrguard.sources.terraform.expressions import Evaluator, Scope


class _Stop(Exception):
    """Carries an Unknown out of a function body."""

    def __init__(self, unknown: Unknown) -> None:
        self.unknown = unknown


def _fail(reason: str) -> _Stop:
    return _Stop(Unknown(reason, error=True))


def _known(value: Any) -> Any:
    if isinstance(value, Unknown):
        raise _Stop(value)
    return value


def _str(value: Any) -> str:
    text = to_text(_known(value))
    if isinstance(text, Unknown):
        raise _Stop(text)
    return text


def _num(value: Any) -> int | float:
    number = to_number(_known(value))
    if isinstance(number, Unknown):
        raise _Stop(number)
    return number


def _int(value: Any) -> int:
    number = _num(value)
    found = whole(number)
    if found is None:
        raise _fail(f"expected a whole number, got {number}")
    return found


def _list(value: Any) -> list[Any]:
    value = _known(value)
    if isinstance(value, list):
        return value
    raise _fail(f"expected a list, got {type_name(value)}")


def _map(value: Any) -> dict[str, Any]:
    value = _known(value)
    if isinstance(value, dict):
        return value
    raise _fail(f"expected a map, got {type_name(value)}")


def _deep(value: Any) -> Any:
    return _known(resolve_deep(value))


# -- encoding ---------------------------------------------------------------


# One encoder for every call: json.dumps builds a new one whenever it is given options.
_COMPACT = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


def _jsonencode(value: Any) -> str:
    plain = _deep(value)
    return json_text(plain, _COMPACT.encode(plain))


def _jsondecode(text: Any) -> Any:
    try:
        value = json.loads(_str(text))
    except RecursionError:
        raise _fail("JSON is nested too deeply") from None
    except ValueError as err:
        raise _fail(f"invalid JSON: {err}") from None
    if depth_exceeds(value):
        raise _fail("JSON is nested too deeply")
    return value


def _base64decode(text: Any) -> str:
    try:
        return base64.b64decode(_str(text), validate=True).decode()
    except (ValueError, UnicodeDecodeError):
        raise _fail("invalid base64 or not UTF-8 text") from None


# -- strings -------------------------------------------------------------------

_VERB = re.compile(r"%(?:%|([-+ #0]*)(\d*)(?:\.(\d+))?([sdfqvtxXeEgGbo]))")


def _format(fmt: Any, *args: Any) -> str:
    pattern = _str(fmt)
    values = iter(args)

    def verb(match: re.Match[str]) -> str:
        if match.group(0) == "%%":
            return "%"
        flags, width, precision, kind = match.groups()
        try:
            value = next(values)
        except StopIteration:
            raise _fail("format has more verbs than arguments") from None
        if kind in "sv":
            text = (
                _str(value)
                if kind == "s" or not isinstance(value, (list, dict))
                else (_jsonencode(value))
            )
        elif kind == "q":
            text = json.dumps(_str(value), ensure_ascii=False)
        elif kind == "t":
            known = to_bool(_known(value))
            if isinstance(known, Unknown):
                raise _Stop(known)
            text = "true" if known else "false"
        elif kind == "d":
            text = str(_int(value))
        elif kind in "xXbo":
            text = format(_int(value), kind)
        else:
            if precision and int(precision) > 100:
                raise _Stop(Unknown("format() precision is too large"))
            spec = f".{precision}{kind}" if precision else f"{kind}"
            text = format(_num(value), spec)
        if "+" in flags and kind in "dfeEgG" and not text.startswith("-"):
            text = "+" + text
        if width:
            size = int(width)
            if size > MAX_STRING:
                raise _Stop(Unknown("format() width is too large"))
            if "-" in flags:
                text = text.ljust(size)
            elif "0" in flags and kind in "dfeEgGxXbo":
                sign = text[0] if text[:1] in "+-" else ""
                text = sign + text[len(sign) :].rjust(size - len(sign), "0")
            else:
                text = text.rjust(size)
        return text

    return _VERB.sub(verb, pattern)


def _replace(text: Any, old: Any, new: Any) -> str:
    subject, search, repl = _str(text), _str(old), _str(new)
    if len(search) > 1 and search.startswith("/") and search.endswith("/"):
        try:
            regex = re.compile(search[1:-1])
        except re.error as err:
            raise _fail(f"invalid regular expression: {err}") from None
        template = re.sub(r"\$\{?(\d+)\}?", r"\\g<\1>", repl.replace("\\", "\\\\"))
        try:
            return regex.sub(template, subject)
        except (re.error, IndexError) as err:
            raise _fail(f"invalid replacement: {err}") from None
    return subject.replace(search, repl)


def _join(sep: Any, *lists: Any) -> str:
    separator = _str(sep)
    return separator.join(_str(item) for lst in lists for item in _list(lst))


def _substr(text: Any, offset: Any, length: Any) -> str:
    value, start, size = _str(text), _int(offset), _int(length)
    if start < 0:
        start += len(value)
    return value[start:] if size < 0 else value[start : start + size]


# -- collections -------------------------------------------------------------------


def _concat(*lists: Any) -> list[Any]:
    return [item for lst in lists for item in _list(lst)]


def _merge(*maps: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for value in maps:
        if _known(value) is not None:
            out.update(_map(value))
    return out


def _toset(value: Any) -> list[Any]:
    items = _list(value)
    if all(isinstance(i, str) for i in items):
        # Terraform orders sets of strings lexically.
        return sorted(set(items))
    return _distinct(items)


def _distinct(value: Any) -> list[Any]:
    out: list[Any] = []
    for item in _list(_deep(value)):
        if not any(equal(item, seen) for seen in out):
            out.append(item)
    return out


def _tostring(value: Any) -> str | None:
    return None if _known(value) is None else _str(value)


def _tonumber(value: Any) -> int | float | None:
    return None if _known(value) is None else _num(value)


def _tobool(value: Any) -> bool | None:
    if _known(value) is None:
        return None
    known = to_bool(value)
    if isinstance(known, Unknown):
        raise _Stop(known)
    return known


def _length(value: Any) -> int:
    value = _known(value)
    if isinstance(value, (list, dict, str)):
        return len(value)
    raise _fail(f"cannot take the length of a {type_name(value)}")


def _lookup(mapping: Any, key: Any, *default: Any) -> Any:
    table, name = _map(mapping), _str(key)
    if name in table:
        return table[name]
    if default:
        return default[0]
    raise _fail(f"no key {name!r} in map")


def _element(lst: Any, idx: Any) -> Any:
    items, i = _list(lst), _int(idx)
    if not items:
        raise _fail("element() of an empty list")
    return items[i % len(items)]


def _contains(lst: Any, value: Any) -> bool:
    wanted = _deep(value)
    return any(equal(_deep(item), wanted) for item in _list(lst))


def _coalesce(*values: Any) -> Any:
    for value in values:
        value = _known(value)
        if value is not None and value != "":
            return value
    raise _fail("coalesce() found no non-empty argument")


def _coalescelist(*values: Any) -> Any:
    for value in values:
        if _list(value):
            return value
    raise _fail("coalescelist() found no non-empty list")


def _flatten(value: Any) -> list[Any]:
    out: list[Any] = []
    stack = [iter(_list(value))]
    while stack:
        for item in stack[-1]:
            item = _known(item)
            if isinstance(item, list):
                stack.append(iter(item))
                break
            out.append(item)
            if len(out) > MAX_NODES:
                raise _Stop(Unknown("list is too large to evaluate"))
        else:
            stack.pop()
    return out


def _range(*args: Any) -> list[int | float]:
    nums = [_num(a) for a in args]
    start, stop, step = (
        (0, nums[0], 1) if len(nums) == 1 else (*nums[:2], nums[2] if len(nums) > 2 else 1)
    )
    if step == 0 or (stop - start) / step > MAX_NODES:
        raise _Stop(Unknown("range() is too large to evaluate"))
    out = []
    value = start
    while (step > 0 and value < stop) or (step < 0 and value > stop):
        out.append(value)
        value += step
    return out


def _slice(lst: Any, start: Any, end: Any) -> list[Any]:
    return _list(lst)[_int(start) : _int(end)]


def _zipmap(keys: Any, values: Any) -> dict[str, Any]:
    return {_str(k): v for k, v in zip(_list(keys), _list(values), strict=False)}


def _one(value: Any) -> Any:
    items = _list(value)
    if len(items) > 1:
        raise _fail("one() got more than one element")
    return items[0] if items else None


def _numbers(args: tuple[Any, ...]) -> list[int | float]:
    return [_num(a) for a in args]


def _setunion(*sets: Any) -> list[Any]:
    return _toset([item for s in sets for item in _list(s)])


def _setintersection(first: Any, *rest: Any) -> list[Any]:
    others = [_deep(r) for r in rest]
    return _toset([i for i in _list(_deep(first)) if all(_contains(o, i) for o in others)])


def _read_file(scope: Scope, path: Any) -> str:
    if scope.module is None:
        raise _fail("file() cannot be used here")
    return str(_known(scope.module.read_file(_str(path))))


def _templatefile(ev: Evaluator, scope: Scope, path: Any, variables: Any) -> Any:
    from ecrguard.sources.terraform.hcl import parse_bytes

    text = _read_file(scope, path)
    bound = _deep(variables)
    if not isinstance(bound, dict):
        raise _fail("templatefile() needs a map of variables")
    # The grammar parses templates only inside expressions, so wrap the file as a heredoc.
    marker = "ECRGUARD_TEMPLATE"
    while marker in text:
        marker += "_"
    # A heredoc's value ends with the newline before its closing marker.
    newline = "" if text.endswith("\n") or not text else "\n"
    source = f"t = <<{marker}\n{text}{newline}{marker}\n".encode()
    parsed = parse_bytes("templatefile", source)
    if parsed.error or "t" not in parsed.attrs:
        raise _fail(f"template {_str(path)}: {parsed.error or 'cannot be read'}")
    from ecrguard.sources.terraform.expressions import Scope

    rendered = ev.evaluate(parsed.attrs["t"], Scope(None, bound))
    if isinstance(rendered, str) and newline and rendered.endswith("\n"):
        rendered = rendered[:-1]
    return rendered


_Plain = Callable[..., Any]

_PLAIN: dict[str, _Plain] = {
    "jsonencode": _jsonencode,
    "jsondecode": _jsondecode,
    "base64encode": lambda s: base64.b64encode(_str(s).encode()).decode(),
    "base64decode": _base64decode,
    "format": _format,
    "lower": lambda s: _str(s).lower(),
    "upper": lambda s: _str(s).upper(),
    "title": lambda s: _str(s).title(),
    "trimspace": lambda s: _str(s).strip(),
    "chomp": lambda s: _str(s).rstrip("\r\n"),
    "trim": lambda s, chars: _str(s).strip(_str(chars)),
    "trimprefix": lambda s, p: _str(s).removeprefix(_str(p)),
    "trimsuffix": lambda s, p: _str(s).removesuffix(_str(p)),
    "startswith": lambda s, p: _str(s).startswith(_str(p)),
    "endswith": lambda s, p: _str(s).endswith(_str(p)),
    "strcontains": lambda s, p: _str(p) in _str(s),
    "substr": _substr,
    "replace": _replace,
    "join": _join,
    "split": lambda sep, s: _str(s).split(_str(sep)),
    "tostring": _tostring,
    "tonumber": _tonumber,
    "tobool": _tobool,
    "tolist": _list,
    "toset": _toset,
    "tomap": _map,
    "length": _length,
    "concat": _concat,
    "merge": _merge,
    "lookup": _lookup,
    "element": _element,
    "contains": _contains,
    "keys": lambda m: sorted(_map(m)),
    "values": lambda m: [v for _, v in sorted(_map(m).items())],
    "coalesce": _coalesce,
    "coalescelist": _coalescelist,
    "compact": lambda lst: [i for i in _list(lst) if _known(i) not in (None, "")],
    "distinct": _distinct,
    "flatten": _flatten,
    "reverse": lambda lst: _list(lst)[::-1],
    "sort": lambda lst: sorted(_str(i) for i in _list(lst)),
    "slice": _slice,
    "range": _range,
    "zipmap": _zipmap,
    "one": _one,
    "alltrue": lambda lst: all(_tobool(i) for i in _list(lst)),
    "anytrue": lambda lst: any(_tobool(i) for i in _list(lst)),
    "sum": lambda lst: sum(_num(i) for i in _list(lst)),
    "min": lambda *a: min(_numbers(a)),
    "max": lambda *a: max(_numbers(a)),
    "abs": lambda n: abs(_num(n)),
    "ceil": lambda n: math.ceil(_num(n)),
    "floor": lambda n: math.floor(_num(n)),
    "setunion": _setunion,
    "setintersection": _setintersection,
    "basename": lambda p: posixpath.basename(_str(p)),
    "dirname": lambda p: posixpath.dirname(_str(p)),
}


def call(name: str, ev: Evaluator, scope: Scope, arg_nodes: list[Node], expand: bool) -> Any:
    if name in ("try", "can"):
        return _try(name, ev, scope, arg_nodes)
    if name not in _PLAIN and name not in ("file", "templatefile"):
        return Unknown(f"function {name}() is not supported")
    args = [ev.eval(node, scope) for node in arg_nodes]
    try:
        if expand and args:
            args = args[:-1] + _list(args[-1])
        if name == "file":
            result = _read_file(scope, *args)
        elif name == "templatefile":
            result = _templatefile(ev, scope, *args)
        else:
            result = _PLAIN[name](*args)
    except _Stop as stop:
        return stop.unknown
    except TypeError:
        return Unknown(f"wrong number or type of arguments to {name}()", error=True)
    except (ValueError, OverflowError) as err:
        return Unknown(f"{name}(): {err}", error=True)
    if isinstance(result, str) and len(result) > MAX_STRING:
        return Unknown(f"{name}() result is too large to evaluate")
    if isinstance(result, (list, dict)) and len(result) > MAX_NODES:
        return Unknown(f"{name}() result is too large to evaluate")
    return result


def _try(name: str, ev: Evaluator, scope: Scope, arg_nodes: list[Node]) -> Any:
    for node in arg_nodes:
        value = resolve_deep(ev.eval(node, scope))
        if not isinstance(value, Unknown):
            return True if name == "can" else value
        # Only a certain error lets try() move on; an unknown might have succeeded.
        if not value.error:
            return value
        if name == "can":
            return False
    return Unknown("try() found no argument without errors", error=True)
