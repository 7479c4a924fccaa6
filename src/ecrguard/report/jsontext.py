"""``json.dumps(value, indent=2)``, byte for byte, at a fraction of its cost.

With ``indent``, the standard library falls back to its pure-Python encoder,
which yields every bracket and comma through nested generators: most of the
time of a SARIF report of 10,000 alerts. Reports hold only dicts, lists,
strings, ints, booleans and None, which are laid out here directly with the
C string encoder. Anything else (floats, subclasses, non-string keys) sends
the whole value to ``json.dumps``, so the text is always the one it writes.
"""

from __future__ import annotations

import json
from typing import Any

_string = json.encoder.encode_basestring_ascii
_STEP = "  "


class _Unsupported(Exception):
    """A value this encoder leaves to json.dumps."""


def dumps(value: Any, level: int = 0) -> str:
    """``json.dumps(value, indent=2)`` as it reads nested ``level`` deep in a larger document.

    Every line after the first carries ``level`` extra indentation steps, so the
    text can be placed after ``level`` steps of indentation in the enclosing one.
    """
    try:
        return _encode(value, "\n" + _STEP * level)
    except (_Unsupported, RecursionError):
        # The standard encoder decides: its text, or its error (say, a cycle).
        text = json.dumps(value, indent=2)
        return text.replace("\n", "\n" + _STEP * level) if level else text


def _scalar(value: Any) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if type(value) is int:
        return int.__repr__(value)
    raise _Unsupported


def _encode(value: Any, newline: str) -> str:
    kind = type(value)
    if kind is str:
        return _string(value)
    if kind is dict:
        if not value:
            return "{}"
        inner = newline + _STEP
        items = []
        for key, item in value.items():
            if type(key) is not str:
                raise _Unsupported
            what = type(item)
            if what is str:
                text = _string(item)
            elif what is dict or what is list or what is tuple:
                text = _encode(item, inner)
            else:
                text = _scalar(item)
            items.append(f"{_string(key)}: {text}")
        return "{" + inner + ("," + inner).join(items) + newline + "}"
    if kind is list or kind is tuple:
        if not value:
            return "[]"
        inner = newline + _STEP
        texts = [_string(item) if type(item) is str else _encode(item, inner) for item in value]
        return "[" + inner + ("," + inner).join(texts) + newline + "]"
    return _scalar(value)
