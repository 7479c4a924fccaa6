"""Terraform plan JSON (``terraform show -json plan.out``) → the normalized model.

The plan's ``planned_values`` are what Terraform will create, with references
already resolved; ``resource_changes[].change.after_unknown`` marks what it
will learn only at apply time. Both feed the same mapping as HCL does
(``mapping.py``) through :class:`PlanBlock`, so a resource type is mapped once.

The ``configuration`` section says which attributes the code writes: an
attribute it does not write takes the AWS default, as in HCL, even where the
provider already filled that default into the plan. Plans carry no line
numbers, so every value points at the line where its resource's address
appears in the file (1 for the single-line output of ``terraform show``).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from collections.abc import Iterator
from typing import Any

try:
    import resource
except ImportError:  # Windows: no address-space cap; the bound alone decides
    resource = None  # type: ignore[assignment]

from ecrguard.errors import InputError
from ecrguard.model import Inventory
from ecrguard.runtime import gc_paused, lone_linux_thread
from ecrguard.sources.terraform.computed import IDENTITY
from ecrguard.sources.terraform.mapping import WANTED, Mapped, map_instances
from ecrguard.sources.terraform.reading import Block, Found
from ecrguard.sources.terraform.values import Unknown

_MIB = 1024 * 1024
# What reading one plan may take: its text, Python's objects for its JSON and the
# address lines, as _parse_cost bounds them before anything is built. With the
# interpreter's own ~25 MiB a hostile plan stays under 500 MB. A real plan
# estimates at about 15 bytes per byte of JSON, though it uses about 5 (the bound
# must also cover shapes no plan has), so plans up to about 30 MiB pass it; larger
# ones are read under an address-space cap (CAPPED_PLAN_MEMORY) where one can be set.
MAX_PLAN_MEMORY = 448 * _MIB
# A plan whose bound is larger is read under a cap on address space: this much
# more than the process had before reading the file (Linux, one thread); with
# the interpreter's own ~40 MiB, under 500 MB resident. Real plans fit up to
# about 75 MiB (a 77 MiB one took 388 MB in all).
CAPPED_PLAN_MEMORY = 384 * _MIB
# The text and the strings parsed from it take at least a byte per byte each: a
# larger file could never be read within the budget, so it is not read at all.
MAX_PLAN_BYTES = MAX_PLAN_MEMORY // 2
MAX_MODULE_DEPTH = 64
_AFTER_APPLY = "known only after apply"
# Each address's line, keyed by the address's hash: the address strings would be
# a second copy of every address beside the parsed document's own, and a hostile
# plan can be little but addresses. A collision could only misplace a line.
_Lines = dict[int, int]

_ADDRESS = re.compile(r'"address"\s*:\s*"((?:[^"\\]|\\.)*)"')
_MODULE_STEP = re.compile(r'module\.([^.\[]+)(?:\[(?:"(?:[^"\\]|\\.)*"|\d+)\])?')
# type.name[key].attribute, as configuration "references" spell a traversal.
_TRAVERSAL = re.compile(
    r"^(?P<type>[a-z][a-z0-9_]*)\.(?P<name>[A-Za-z_][\w-]*)"
    r'(?P<key>\[(?:"(?:[^"\\]|\\.)*"|\d+)\])?\.(?P<attr>[A-Za-z_]\w*)$'
)


class NotAPlan(InputError):
    """Terraform JSON that is not a plan (a state or a provider schema): not read."""


def looks_like_plan(head: bytes) -> bool:
    """Cheap sniff on a file's first bytes: Terraform's JSON output starts with format_version."""
    return b'"format_version"' in head and b'"terraform_version"' in head


def load_plan(path: str | os.PathLike[str], *, owner_account: str | None = None) -> Inventory:
    """Read one plan JSON file into the model; bad input raises a one-line InputError."""
    path = os.fspath(path)
    doc, lines = _read(path)
    plan = _Plan(path, doc, lines, owner_account)
    found = Mapped()
    map_instances(plan.instances(), found)
    return found.inventory(())


def _read(path: str) -> tuple[dict[str, Any], _Lines]:
    try:
        with open(path, "rb") as fh:
            if os.fstat(fh.fileno()).st_size > MAX_PLAN_BYTES:
                raise _too_big(path)
            data = fh.read(MAX_PLAN_BYTES + 1)  # a pipe or device has no size to check
    except FileNotFoundError:
        raise InputError(f"no such file or directory: {path}") from None
    except OSError as err:
        raise InputError(f"{path}: cannot read file: {err.strerror or err}") from None
    if len(data) > MAX_PLAN_BYTES:
        raise _too_big(path)
    if b"\0" in data:
        raise InputError(f"{path}: binary file, not plan JSON")
    needed = _parse_cost(data)
    # Past the bound a real plan (which uses about a third of it) may still fit:
    # it is read under a cap on this process's address space, which a hostile one
    # hits instead. Where no cap can be set, the bound refuses it unread.
    capped = needed > MAX_PLAN_MEMORY
    if capped and not _can_cap():
        containers = data.count(b"{") + data.count(b"[")
        raise InputError(
            f"{path}: plan JSON too large to read within {MAX_PLAN_MEMORY // _MIB} MiB of "
            f"memory: {len(data) / _MIB:.1f} MiB with {containers:,} objects and arrays "
            f"could need {needed // _MIB:,} MiB (scan the Terraform code instead)"
        )
    # Parsed JSON holds no reference cycles, yet the collector would walk the
    # growing document again and again while json.loads builds it: over half
    # the time of a large plan.
    try:
        # The file's bytes, already read, count within the cap.
        cap = CAPPED_PLAN_MEMORY - len(data)
        with gc_paused(), _address_space_cap(cap) if capped else contextlib.nullcontext():
            text, data = _decode(path, data), b""  # not both beside the parsed document
            lines = _address_lines(text)
            doc = json.loads(text)
    except MemoryError:
        raise InputError(
            f"{path}: plan JSON needs more than {CAPPED_PLAN_MEMORY // _MIB} MiB of memory to "
            f"read (scan the Terraform code instead)"
        ) from None
    except RecursionError:
        raise InputError(f"{path}: JSON is nested too deeply") from None
    except json.JSONDecodeError as err:
        # "Unterminated string starting at" expects a position after it; the line is given.
        message = err.msg.removesuffix(" starting at")
        raise InputError(f"{path}: invalid JSON at line {err.lineno}: {message}") from None
    if not isinstance(doc, dict) or "format_version" not in doc:
        raise NotAPlan(f"{path}: not Terraform plan JSON (no format_version)")
    if "planned_values" not in doc:
        raise NotAPlan(f"{path}: Terraform JSON without planned_values is not a plan")
    return doc, lines


def _decode(path: str, data: bytes) -> str:
    try:
        # Windows PowerShell's Out-File -Encoding utf8 starts the file with a BOM.
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        raise InputError(f"{path}: not UTF-8 text (invalid byte at line {line})") from None


def _can_cap() -> bool:
    # Another thread allocating under the cap (a glibc arena reserves 64 MiB of
    # address space at once) would fail in that thread: only a lone thread caps.
    return lone_linux_thread() and resource is not None and os.path.exists("/proc/self/statm")


@contextlib.contextmanager
def _address_space_cap(extra: int) -> Iterator[None]:
    """Allocations past this process's address space now plus ``extra`` raise MemoryError.

    Resident memory never exceeds address space, so the peak stays bounded; the
    soft limit is put back afterwards (a process may raise it up to the hard one).
    """
    assert resource is not None
    if extra <= 0:
        raise MemoryError
    with open("/proc/self/statm") as fh:
        size = int(fh.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = size + extra
    if hard != resource.RLIM_INFINITY:
        cap = min(cap, hard)
    if soft != resource.RLIM_INFINITY and soft <= cap:
        yield  # already capped as tightly
        return
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def _too_big(path: str) -> InputError:
    return InputError(f"{path}: plan JSON larger than {MAX_PLAN_BYTES // _MIB} MiB")


# The most CPython (3.11, 64-bit) allocates per token json.loads meets, set from
# the worst shapes measured. Each key json has not seen before costs a string and
# an entry in its memo of keys, and a plan's text cannot show which keys repeat,
# so every key is charged as new: an object is a dict with a table for its first
# entries and a first member; an array a list with room for four items and its
# first; a comma one more member or item, with a dict entry as a large table
# grows. Each "address" costs an entry in the address lines. The worst shapes
# found (millions of objects, or of members, each with a key of its own)
# measure at up to 92% of this, text included; real plans at about 30%.
_OBJECT_COST = 336
_ARRAY_COST = 120
_COMMA_COST = 232
_ADDRESS_COST = 128
_ASTRAL_LEADS = (b"\xf0", b"\xf1", b"\xf2", b"\xf3", b"\xf4")
_WIDE_LEAD = re.compile(rb"[\xc4-\xef]")


def _parse_cost(data: bytes) -> int:
    """An upper bound on the bytes reading ``data`` takes, from counts made at C speed.

    Counting never builds anything, so a document that would take gigabytes to
    parse is refused in a few milliseconds per megabyte. Braces and commas inside
    strings count too, which only overestimates.
    """
    # The text, and each string parsed from it, hold every character at the width
    # of their widest one: 4 bytes once one is beyond U+FFFF (a 4-byte UTF-8
    # sequence, or an escaped surrogate: backslash, u, D...), 2 once one is above
    # U+00FF (a UTF-8 sequence led by C4 to EF, or any other escape but \u00XX).
    ascii = data.isascii()
    escapes = data.count(b"\\u")
    if (not ascii and any(lead in data for lead in _ASTRAL_LEADS)) or (
        escapes and (b"\\ud" in data or b"\\uD" in data)
    ):
        width = 4
    elif (not ascii and _WIDE_LEAD.search(data)) or (escapes and escapes != data.count(b"\\u00")):
        width = 2
    else:
        width = 1
    return (
        2 * width * len(data)
        + _OBJECT_COST * data.count(b"{")
        + _ARRAY_COST * data.count(b"[")
        + _COMMA_COST * data.count(b",")
        + _ADDRESS_COST * data.count(b'"address"')
    )


class _Plan:
    def __init__(
        self, path: str, doc: dict[str, Any], lines: _Lines, owner_account: str | None
    ) -> None:
        self.path = path
        self.doc = doc
        self.lines = lines
        config = self._get(doc, "configuration", dict, {})
        providers = self._get(config, "provider_config", dict, {})
        self.regions: dict[str, str | None] = {}
        for key, provider in providers.items():
            self.regions[key] = self._constant(provider, "region")
        self.owner_account = owner_account or self._pinned_account(providers.get("aws"))
        self.config: dict[tuple[tuple[str, ...], str], dict[str, Any]] = {}
        self.provider_keys: dict[tuple[tuple[str, ...], str], str] = {}
        self._read_config(self._get(config, "root_module", dict, {}))
        self.unknown: dict[str, Any] = {}
        for change in self._get(doc, "resource_changes", list, []):
            change = self._check(change, dict, "resource_changes[]")
            if "deposed" in change:
                continue  # an old object being replaced: not what the plan creates
            address = self._get(change, "address", str)
            body = self._get(change, "change", dict, {})
            self.unknown[address] = body.get("after_unknown", {})

    # -- shape checks: one line naming what is wrong, never a traceback -------------

    def _check(self, value: Any, kind: type, where: str) -> Any:
        if not isinstance(value, kind):
            names: dict[type, str] = {dict: "an object", list: "a list", str: "a string"}
            raise InputError(
                f"{self.path}: malformed plan JSON: {where} is not {names.get(kind, kind.__name__)}"
            )
        return value

    def _get(self, obj: dict[str, Any], key: str, kind: type, default: Any = None) -> Any:
        value = obj.get(key)
        if value is None:
            if default is None:
                raise InputError(f"{self.path}: malformed plan JSON: {key} is missing")
            return default
        return self._check(value, kind, key)

    def _constant(self, provider: Any, name: str) -> Any:
        provider = self._check(provider, dict, "provider_config entry")
        expressions = self._get(provider, "expressions", dict, {})
        expr = expressions.get(name)
        return expr.get("constant_value") if isinstance(expr, dict) else None

    def _pinned_account(self, provider: Any) -> str | None:
        """The one account ``allowed_account_ids`` permits: Terraform applies nowhere else."""
        if provider is None:
            return None
        allowed = self._constant(provider, "allowed_account_ids")
        if isinstance(allowed, list) and len(allowed) == 1 and isinstance(allowed[0], str):
            return allowed[0]
        return None

    def _read_config(self, root: dict[str, Any]) -> None:
        stack: list[tuple[tuple[str, ...], dict[str, Any]]] = [((), root)]
        while stack:
            path, module = stack.pop()
            if len(path) > MAX_MODULE_DEPTH:
                raise InputError(f"{self.path}: modules nested more than {MAX_MODULE_DEPTH} deep")
            for res in self._get(module, "resources", list, []):
                res = self._check(res, dict, "configuration resource")
                if res.get("mode", "managed") != "managed":
                    continue
                address = self._get(res, "address", str)
                expressions = self._get(res, "expressions", dict, {})
                self.config[(path, address)] = expressions
                key = res.get("provider_config_key")
                if isinstance(key, str):
                    self.provider_keys[(path, address)] = key
            for name, call in self._get(module, "module_calls", dict, {}).items():
                call = self._check(call, dict, f"module_calls.{name}")
                stack.append(((*path, name), self._get(call, "module", dict, {})))

    # -- the resources --------------------------------------------------------------

    def instances(self) -> Iterator[PlanInstance]:
        planned = self._get(self.doc, "planned_values", dict)
        root = self._get(planned, "root_module", dict, {})
        queue: list[tuple[str, dict[str, Any], int]] = [("", root, 0)]
        while queue:
            module_address, module, depth = queue.pop(0)
            if depth > MAX_MODULE_DEPTH:
                raise InputError(f"{self.path}: modules nested more than {MAX_MODULE_DEPTH} deep")
            path = tuple(_MODULE_STEP.findall(module_address))
            for res in self._get(module, "resources", list, []):
                res = self._check(res, dict, "planned_values resource")
                type_ = self._get(res, "type", str)
                if res.get("mode", "managed") != "managed" or type_ not in WANTED:
                    continue
                yield self._instance(res, type_, module_address, path, depth)
            for child in self._get(module, "child_modules", list, []):
                child = self._check(child, dict, "child_modules[]")
                queue.append((self._get(child, "address", str), child, depth + 1))

    def _instance(
        self,
        res: dict[str, Any],
        type_: str,
        module_address: str,
        path: tuple[str, ...],
        depth: int,
    ) -> PlanInstance:
        address = self._get(res, "address", str)
        values = self._get(res, "values", dict, {})
        name = self._get(res, "name", str)
        config_key = (path, f"{type_}.{name}")
        line = self.lines.get(hash(address))
        region = values.get("region")
        if not isinstance(region, str):
            region = self.regions.get(self.provider_keys.get(config_key, "aws"))
        prefix = f"{module_address}." if module_address else ""
        body = PlanBlock(
            self.path,
            address,
            values,
            self.unknown.get(address, {}),
            self.config.get(config_key),
            line,
            prefix,
        )
        inst = PlanInstance()
        inst.address = address
        inst.type = type_
        inst.file = self.path
        inst.line = line
        inst.account = self.owner_account
        inst.region = region if isinstance(region, str) else None
        inst.order = (depth, self.path, line or 0)
        inst.body = body
        return inst


class PlanInstance:
    __slots__ = ("account", "address", "body", "file", "line", "order", "region", "type")

    address: str
    type: str
    file: str
    line: int | None
    account: str | None
    region: str | None
    order: tuple[int, str, int]
    body: Block


class PlanBlock:
    """One resource's planned values (or a nested block of them) as the mapping reads them."""

    __slots__ = ("address", "config", "line", "path", "prefix", "unknown", "values")

    def __init__(
        self,
        path: str,
        address: str,
        values: dict[str, Any],
        unknown: Any,
        config: dict[str, Any] | None,
        line: int | None,
        prefix: str,
    ) -> None:
        self.path = path
        self.address = address
        self.values = values
        self.unknown = unknown  # after_unknown at this level: a dict, or True for "all of it"
        self.config = config  # configuration expressions at this level; None if not known
        self.line = line
        self.prefix = prefix  # the module instance address, for stand-ins of references

    def _unknown(self, name: str) -> Any:
        return self.unknown.get(name) if isinstance(self.unknown, dict) else self.unknown

    def _written(self, name: str) -> bool:
        return self.config is None or name in self.config

    def attr(self, name: str) -> Found | None:
        if not self._written(name):
            return None
        if _any_unknown(self._unknown(name)):
            standin = self._standin(name)
            reason = f"{self.address}.{name} is {_AFTER_APPLY}"
            return Found(standin if standin is not None else Unknown(reason), self.line)
        return Found(self.values.get(name), self.line)

    def blocks(self, name: str) -> list[Block] | Unknown:
        unknown = self._unknown(name)
        if unknown is True:
            if not self._written(name):
                return []
            return Unknown(f"{self.address}.{name} is {_AFTER_APPLY}")
        items = self.values.get(name)
        if items is None:
            return []
        if isinstance(items, dict):  # a block with nesting mode "single"
            items = [items]
        where = f"{self.address}.{name}"
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            raise InputError(f"{self.path}: malformed plan JSON: {where} is not a list of objects")
        unknowns = unknown if isinstance(unknown, list) else []
        configs = self.config.get(name) if self.config is not None else None
        # Set-typed blocks come back in Terraform's order, not the code's; the
        # configuration is lined up with them only when the counts agree.
        if not isinstance(configs, list) or len(configs) != len(items):
            configs = None
        out: list[Block] = []
        for i, item in enumerate(items):
            config = configs[i] if configs is not None else None
            out.append(
                PlanBlock(
                    self.path,
                    where,
                    item,
                    unknowns[i] if i < len(unknowns) else {},
                    config if isinstance(config, dict) else None,
                    self.line,
                    self.prefix,
                )
            )
        return out

    def reference(self, name: str, type_: str, attrs: tuple[str, ...]) -> str | None:
        # A known value matches by name, as HCL literals do; references matter when it is unknown.
        if not _any_unknown(self._unknown(name)):
            return None
        found = self._traversal(name)
        if found is None or found[0] != type_ or found[2] not in attrs:
            return None
        return found[1]

    def _standin(self, name: str) -> str | None:
        found = self._traversal(name)
        if found is None or found[2] not in IDENTITY.get(found[0], ()):
            return None
        return found[1]

    def _traversal(self, name: str) -> tuple[str, str, str] | None:
        """(type, address, attribute) when the expression is one reference to a resource."""
        expr = self.config.get(name) if self.config is not None else None
        refs = expr.get("references") if isinstance(expr, dict) else None
        if not isinstance(refs, list) or not refs or not all(isinstance(r, str) for r in refs):
            return None
        first = refs[0]
        # Terraform lists every prefix of a traversal; anything else means a larger expression.
        if not all(first == r or first.startswith((r + ".", r + "[")) for r in refs):
            return None
        match = _TRAVERSAL.match(first)
        if match is None:
            return None
        address = f"{self.prefix}{match['type']}.{match['name']}{match['key'] or ''}"
        return match["type"], address, match["attr"]


def _any_unknown(shape: Any) -> bool:
    """Whether an after_unknown shape marks anything unknown (iteratively: its depth is input)."""
    stack = [shape]
    while stack:
        item = stack.pop()
        if item is True:
            return True
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def _address_lines(text: str) -> _Lines:
    """The line of each address's first occurrence, in one pass over the text."""
    lines: _Lines = {}
    line, pos = 1, 0
    for match in _ADDRESS.finditer(text):
        line += text.count("\n", pos, match.start())
        pos = match.start()
        raw = match.group(1)
        if "\\" in raw:
            try:
                raw = json.loads(f'"{raw}"')
            except ValueError:
                continue
        lines.setdefault(hash(raw), line)
    return lines
