"""Module instances: variables, locals, outputs and the resources they declare.

Everything is evaluated on first use and cached, so a configuration pays only
for the values the mapping reads. ``count`` and ``for_each`` expand resources,
data sources and module calls into instances with Terraform's addresses.
"""

from __future__ import annotations

import json
import os
from typing import Any

from ecrguard.model import CollectionIssue
from ecrguard.sources.terraform.expressions import Evaluator, Scope, iterate
from ecrguard.sources.terraform.hcl import Attr, Block, Body, ParsedFile, parse_file
from ecrguard.sources.terraform.values import Ref, Unknown, to_bool, to_number, to_text, whole

MAX_MODULE_DEPTH = 16
MAX_INSTANCES = 100_000
MAX_READ_BYTES = 4 * 1024 * 1024


class Decl:
    """A ``resource``, ``data`` or ``module`` block and the file it is in."""

    __slots__ = ("block", "file", "kind", "name", "type")

    def __init__(self, kind: str, type_: str, name: str, block: Block, file: str) -> None:
        self.kind = kind
        self.type = type_
        self.name = name
        self.block = block
        self.file = file


class ModuleDir:
    """The declarations of one module directory (or one file given on its own)."""

    def __init__(self, path: str, files: list[ParsedFile], entries: tuple[str, ...] = ()) -> None:
        self.path = path
        self.entries = entries  # every name in the directory, for finding variables files
        self.variables: dict[str, Block] = {}
        self.locals: dict[str, Attr] = {}
        self.outputs: dict[str, Block] = {}
        self.resources: list[Decl] = []
        self.data: dict[str, Decl] = {}
        self.modules: dict[str, Decl] = {}
        self.providers: list[Block] = []
        self.by_address: dict[str, Decl] = {}
        for parsed in files:
            for block in parsed.blocks:
                self._add(block, parsed.path)

    def _add(self, block: Block, file: str) -> None:
        kind, labels = block.type, block.labels
        if kind == "resource" and len(labels) == 2:
            decl = Decl(kind, labels[0], labels[1], block, file)
            self.resources.append(decl)
            self.by_address.setdefault(f"{labels[0]}.{labels[1]}", decl)
        elif kind == "data" and len(labels) == 2:
            self.data.setdefault(f"{labels[0]}.{labels[1]}", Decl(kind, *labels, block, file))
        elif kind == "module" and len(labels) == 1:
            self.modules.setdefault(labels[0], Decl(kind, "module", labels[0], block, file))
        elif kind == "variable" and len(labels) == 1:
            self.variables.setdefault(labels[0], block)
        elif kind == "output" and len(labels) == 1:
            self.outputs.setdefault(labels[0], block)
        elif kind == "locals":
            for name, attr in block.body.attrs.items():
                self.locals.setdefault(name, attr)
        elif kind == "provider" and labels == ("aws",):
            self.providers.append(block)


class _Dir:
    """One module directory: its listing now, its declarations when first needed."""

    __slots__ = ("decls", "entries", "slot", "users")

    def __init__(self, entries: tuple[str, ...], slot: list[Any]) -> None:
        self.entries = entries
        # Where its parse errors go in the issue list: where reading every module
        # breadth first would put them, whenever the files are actually parsed.
        self.slot = slot
        self.decls: ModuleDir | None = None
        self.users = 0  # module instances not yet done with it


class Load:
    """State shared by one root module and all its children.

    Module directories are listed when a module call names them and parsed
    when first needed; the walk (``hcl_reader.hcl_instances``) lets each
    module's syntax trees go once it has read them, so that memory holds a
    few modules' trees rather than every file's.
    """

    def __init__(self, root_dir: str, owner_account: str | None) -> None:
        self.root_dir = root_dir
        self.owner_account = owner_account
        self.ev = Evaluator()
        # Issues in order, with nested lists as places kept for issues found later
        # (see _Dir.slot); collected_issues() flattens them.
        self.issues: list[Any] = []
        self._slot = self.issues
        self.budget = MAX_INSTANCES
        self._dirs: dict[str, _Dir | None] = {}
        # Directories file() may read: the root and every module directory with .tf
        # files (parsed or not yet). Resolved only if file() is called: realpath costs
        # more than parsing a small file.
        self._module_paths: dict[str, None] = {root_dir: None}
        self._readable: list[str] | None = None

    def issue(self, scope: str, operation: str, reason: str) -> None:
        self._slot.append(CollectionIssue(scope, operation, reason))

    def use_slot(self, slot: list[Any]) -> list[Any]:
        """Send issues to ``slot`` from now on; returns the slot used so far."""
        previous, self._slot = self._slot, slot
        return previous

    def collected_issues(self) -> list[CollectionIssue]:
        """Every issue once, in order."""
        out: list[CollectionIssue] = []
        seen: set[CollectionIssue] = set()
        stack: list[Any] = [iter(self.issues)]
        while stack:
            for item in stack[-1]:
                if isinstance(item, list):
                    stack.append(iter(item))
                    break
                if item not in seen:
                    seen.add(item)
                    out.append(item)
            else:
                stack.pop()
        return out

    def module_dir(self, path: str) -> ModuleDir | None:
        """A directory's declarations, read now (the root module's)."""
        return self.declarations(path) if self.directory(path) else None

    def directory(self, path: str) -> bool:
        """Whether ``path`` is a readable directory; its files are parsed later."""
        if path not in self._dirs:
            try:
                entries = tuple(sorted(os.listdir(path)))
            except OSError:
                self._dirs[path] = None
                return False
            slot: list[Any] = []
            self._slot.append(slot)
            self._dirs[path] = _Dir(entries, slot)
            if path not in self._module_paths and any(n.endswith(".tf") for n in entries):
                self._module_paths[path] = None
                if self._readable is not None:
                    self._readable.append(_real(path))
        return self._dirs[path] is not None

    def dir_slots(self) -> dict[str, list[Any]]:
        """Each listed directory's issue slot (where its parse errors go)."""
        return {path: found.slot for path, found in self._dirs.items() if found is not None}

    def declarations(self, path: str) -> ModuleDir:
        found = self._dirs[path]
        assert found is not None, path
        if found.decls is None:
            found.decls = self._read_dir(path, found)
        return found.decls

    def hold(self, path: str) -> None:
        found = self._dirs.get(path)
        if found is not None:
            found.users += 1

    def let_go(self, path: str) -> None:
        """A module instance is done with ``path``: drop its trees when no other one needs them."""
        found = self._dirs.get(path)
        if found is not None:
            found.users -= 1
            if found.users <= 0:
                # Read again (rarely) if some later expression needs this module.
                found.decls = None

    def forget(self, path: str) -> None:
        """The root module's declarations are no longer needed (they are read again if they are)."""
        found = self._dirs.get(path)
        if found is not None:
            found.decls = None

    def _read_dir(self, path: str, found: _Dir) -> ModuleDir:
        outer = self.use_slot(found.slot)
        try:
            files = []
            for name in found.entries:
                if not name.endswith(".tf"):
                    continue
                parsed = parse_file(os.path.join(path, name))
                if parsed.error:
                    self.issue(parsed.path, "terraform:parse", parsed.error)
                else:
                    files.append(parsed)
        finally:
            self.use_slot(outer)
        if not files and path != self.root_dir and path in self._module_paths:
            # Only directories with readable configuration count.
            del self._module_paths[path]
            self._readable = None
        return ModuleDir(path, files, found.entries)

    def read_file(self, path: str) -> str | Unknown:
        full = path if os.path.isabs(path) else os.path.join(self.root_dir, path)
        real = _real(full)
        if self._readable is None:
            self._readable = [_real(p) for p in [os.getcwd(), *self._module_paths]]
        # A configuration under review must not pull arbitrary local files into the report.
        if not any(real == base or real.startswith(base + os.sep) for base in self._readable):
            return Unknown(f"file {path} is outside the scanned directories; not read")
        try:
            with open(real, "rb") as fh:
                data = fh.read(MAX_READ_BYTES + 1)
        except OSError as err:
            return Unknown(f"cannot read file {path}: {err.strerror or err}", error=True)
        if len(data) > MAX_READ_BYTES or b"\0" in data:
            return Unknown(f"file {path} is too large or not text; not read")
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            return Unknown(f"file {path} is not UTF-8 text", error=True)


def _real(path: str) -> str:
    return os.path.realpath(path)


class Expansion:
    """The instances of one declaration after ``count`` / ``for_each``."""

    __slots__ = ("instances", "mode", "unknown")

    def __init__(self, mode: str, instances: list[tuple[Any, str, Scope]], unknown: Unknown | None):
        self.mode = mode  # "single" | "count" | "for_each"
        self.instances = instances  # (key, address suffix, scope)
        self.unknown = unknown


class ModuleInstance(Ref):
    """One instance of a module: the root, or a child called with its inputs."""

    def __init__(
        self,
        load: Load,
        mdir: ModuleDir | str,
        prefix: str,
        values: dict[str, Any] | None = None,
        call: tuple[Body, Scope] | None = None,
        providers: dict[str, str | None] | None = None,
        depth: int = 0,
    ) -> None:
        self.load = load
        # A directory path is parsed on first use (Load.declarations) and can be
        # let go once the walk is done with this module; a ModuleDir given here
        # (the root module) is kept.
        if isinstance(mdir, ModuleDir):
            self._mdir: ModuleDir | None = mdir
            self._fixed = True
            self.module_dir = mdir.path
        else:
            self._mdir = None
            self._fixed = False
            self.module_dir = mdir
            load.hold(mdir)
        self._held = not self._fixed
        self.prefix = prefix  # "" or "module.m." / 'module.m["k"].'
        self.address = prefix[:-1] if prefix else "root module"
        self.values = values
        self.call = call
        self.depth = depth
        self.scope = Scope(self)
        self._providers = providers
        self._cache: dict[tuple[str, str], Any] = {}
        self._busy: set[tuple[str, str]] = set()
        self._expansions: dict[tuple[str, str], Expansion] = {}
        self._children: dict[str, list[ModuleInstance] | Unknown] = {}
        self._resources: dict[int, list[ResourceInstance]] = {}

    @property
    def mdir(self) -> ModuleDir:
        found = self._mdir
        if found is None:
            if self._fixed:
                # A root module given as a file is not a directory to read again.
                raise RuntimeError(f"{self.module_dir}: root module read after its walk")
            found = self._mdir = self.load.declarations(self.module_dir)
        return found

    # -- references from expressions -----------------------------------------

    def lookup(self, root: str, names: tuple[str, ...], scope: Scope) -> Any:
        if root == "var":
            return self._cached("var", names[0], self._var)
        if root == "local":
            return self._cached("local", names[0], self._local)
        if root == "module":
            return self._module_value(names[0])
        if root == "data":
            decl = self.mdir.data.get(f"{names[0]}.{names[1]}")
            if decl is None:
                return Unknown(f"data.{names[0]}.{names[1]} is not declared", error=True)
            return self._value_of(decl)
        if root == "path":
            return self._path(names[0])
        if root in ("self", "terraform"):
            return Unknown(f"{root}.{names[0]} is not known before apply")
        decl = self.mdir.by_address.get(f"{root}.{names[0]}")
        if decl is None:
            return Unknown(f"{root}.{names[0]} is not declared", error=True)
        return self._value_of(decl)

    def get_attr(self, name: str) -> Any:
        """An output, when a parent reads ``module.m.name``."""
        block = self.mdir.outputs.get(name)
        if block is None or "value" not in block.body.attrs:
            return Unknown(f"{self.address} has no output {name!r}", error=True)
        attr = block.body.attrs["value"]
        return self._cached("output", name, lambda _: self.load.ev.evaluate(attr, self.scope))

    def read_file(self, path: str) -> str | Unknown:
        return self.load.read_file(path)

    def _cached(self, kind: str, name: str, compute: Any) -> Any:
        key = (kind, name)
        if key in self._cache:
            return self._cache[key]
        if key in self._busy:
            return Unknown(f"{kind}.{name} refers to itself", error=True)
        self._busy.add(key)
        try:
            value = compute(name)
        finally:
            self._busy.discard(key)
        self._cache[key] = value
        return value

    def _var(self, name: str) -> Any:
        block = self.mdir.variables.get(name)
        if block is None:
            return Unknown(f"variable {name!r} is not declared", error=True)
        body = block.body
        if self.values is not None and name in self.values:
            value = self.values[name]
        elif self.call is not None and name in self.call[0].attrs:
            call_body, call_scope = self.call
            value = self.load.ev.evaluate(call_body.attrs[name], call_scope)
        elif "default" in body.attrs:
            # Defaults are literals in Terraform: evaluated without access to the module.
            value = self.load.ev.evaluate(body.attrs["default"], Scope(None))
        else:
            where = f" (in {self.address})" if self.prefix else ""
            return Unknown(f"var.{name} has no value{where}")
        type_attr = body.attrs.get("type")
        return _convert(value, type_attr.text().strip() if type_attr else "")

    def _local(self, name: str) -> Any:
        attr = self.mdir.locals.get(name)
        if attr is None:
            return Unknown(f"local.{name} is not declared", error=True)
        return self.load.ev.evaluate(attr, self.scope)

    def _path(self, name: str) -> Any:
        if name == "module":
            rel = os.path.relpath(self.mdir.path, self.load.root_dir)
            return rel.replace(os.sep, "/")
        if name in ("root", "cwd"):
            return "."
        return Unknown(f"path.{name} is not a path attribute", error=True)

    # -- providers -------------------------------------------------------------

    @property
    def providers(self) -> dict[str, str | None]:
        if self._providers is None:
            self._providers = self._root_providers()
        return self._providers

    def _root_providers(self) -> dict[str, str | None]:
        out: dict[str, str | None] = {}
        for block in self.mdir.providers:
            attrs = block.body.attrs
            key = "aws"
            if "alias" in attrs:
                alias = self.load.ev.evaluate(attrs["alias"], self.scope)
                if not isinstance(alias, str):
                    continue
                key = f"aws.{alias}"
            region = (
                self.load.ev.evaluate(attrs["region"], self.scope) if "region" in attrs else None
            )
            out.setdefault(key, region if isinstance(region, str) else None)
        return out

    def pinned_account(self) -> str | None:
        """The one account the default provider's ``allowed_account_ids`` permits, if any.

        Terraform refuses to apply anywhere else, so it names the owner as surely
        as ``--owner-account`` does.
        """
        for block in self.mdir.providers:
            attrs = block.body.attrs
            if "alias" in attrs or "allowed_account_ids" not in attrs:
                continue
            value = self.load.ev.evaluate(attrs["allowed_account_ids"], self.scope)
            if isinstance(value, list | tuple) and len(value) == 1 and isinstance(value[0], str):
                return value[0]
        return None

    def region_of(self, body: Body) -> str | None:
        attr = body.attrs.get("provider")
        key = attr.text().strip() if attr else "aws"
        return self.providers.get(key)

    # -- count / for_each ------------------------------------------------------------

    def expand(self, decl: Decl) -> Expansion:
        key = (decl.kind, f"{decl.type}.{decl.name}")
        found = self._expansions.get(key)
        if found is None:
            found = self._expansions[key] = self._expand(decl.block.body)
        return found

    def _expand(self, body: Body) -> Expansion:
        ev = self.load.ev
        if "count" in body.attrs:
            count = to_number(ev.evaluate(body.attrs["count"], self.scope))
            if isinstance(count, Unknown):
                return self._unexpanded("count", count)
            number = whole(count)
            if number is None or number < 0:
                return self._unexpanded("count", Unknown(f"count is {count}", error=True))
            if not self._spend(number):
                return self._unexpanded("count", Unknown("too many instances"))
            return Expansion(
                "count",
                [(i, f"[{i}]", Scope(self, count_index=i)) for i in range(number)],
                None,
            )
        if "for_each" in body.attrs:
            items = ev.evaluate(body.attrs["for_each"], self.scope)
            pairs = _for_each_pairs(items)
            if isinstance(pairs, Unknown):
                return self._unexpanded("for_each", pairs)
            if not self._spend(len(pairs)):
                return self._unexpanded("for_each", Unknown("too many instances"))
            return Expansion(
                "for_each",
                [(k, f"[{json.dumps(k)}]", Scope(self, each=(k, v))) for k, v in pairs],
                None,
            )
        self._spend(1)
        return Expansion("single", [(None, "", self.scope)], None)

    def _unexpanded(self, meta: str, unknown: Unknown) -> Expansion:
        reason = Unknown(f"{meta} is not known: {unknown.reason}")
        scope = Scope(self, count_index=reason) if meta == "count" else Scope(self, each=reason)
        return Expansion(meta, [(None, "", scope)], reason)

    def _spend(self, count: int) -> bool:
        load = self.load
        if count > load.budget:
            load.issue(load.root_dir, "terraform:expand", f"more than {MAX_INSTANCES} instances")
            return False
        load.budget -= count
        return True

    def _value_of(self, decl: Decl) -> Any:
        instances = self.resource_instances(decl)
        expansion = self.expand(decl)
        if expansion.unknown is not None:
            return expansion.unknown
        if expansion.mode == "count":
            return list(instances)
        if expansion.mode == "for_each":
            return {inst.key: inst for inst in instances}
        return instances[0]

    def resource_instances(self, decl: Decl) -> list[ResourceInstance]:
        found = self._resources.get(id(decl))
        if found is None:
            base = f"{self.prefix}{'data.' if decl.kind == 'data' else ''}{decl.type}.{decl.name}"
            found = [
                ResourceInstance(decl, self, f"{base}{suffix}", scope, key)
                for key, suffix, scope in self.expand(decl).instances
            ]
            self._resources[id(decl)] = found
        return found

    # -- module calls ------------------------------------------------------------------

    def children(self) -> list[ModuleInstance]:
        out: list[ModuleInstance] = []
        for name in self.mdir.modules:
            found = self._child_instances(name)
            if not isinstance(found, Unknown):
                out.extend(found)
        return out

    def _module_value(self, name: str) -> Any:
        found = self._child_instances(name)
        if isinstance(found, Unknown):
            return found
        decl = self.mdir.modules[name]
        expansion = self.expand(decl)
        if expansion.unknown is not None:
            return expansion.unknown
        if expansion.mode == "count":
            return list(found)
        if expansion.mode == "for_each":
            return {child.key: child for child in found}
        return found[0]

    def _child_instances(self, name: str) -> list[ModuleInstance] | Unknown:
        if name in self._children:
            return self._children[name]
        self._children[name] = Unknown(f"module.{name} refers to itself", error=True)
        self._children[name] = result = self._instantiate(name)
        return result

    def _instantiate(self, name: str) -> list[ModuleInstance] | Unknown:
        decl = self.mdir.modules.get(name)
        if decl is None:
            return Unknown(f"module.{name} is not declared", error=True)
        body = decl.block.body
        where = f"{decl.file}:{decl.block.line}"
        source = (
            self.load.ev.evaluate(body.attrs["source"], Scope(None))
            if "source" in body.attrs
            else None
        )
        if not isinstance(source, str):
            self.load.issue(
                decl.file, "terraform:module", f'module "{name}" at {where} has no literal source'
            )
            return Unknown(f"module.{name} has no readable source")
        if not source.startswith(("./", "../", ".\\", "..\\")):
            self.load.issue(
                decl.file,
                "terraform:module",
                f'module "{name}" at {where}: source {source!r} is not a local path; not read',
            )
            return Unknown(f"module.{name} comes from {source!r}, which is not read")
        if self.depth >= MAX_MODULE_DEPTH:
            self.load.issue(
                decl.file,
                "terraform:module",
                f"modules nested deeper than {MAX_MODULE_DEPTH} at {where}",
            )
            return Unknown(f"module.{name} is nested too deeply")
        child_dir = os.path.normpath(os.path.join(self.mdir.path, source))
        if not self.load.directory(child_dir):
            self.load.issue(
                decl.file,
                "terraform:module",
                f'module "{name}" at {where}: {child_dir} is not a directory',
            )
            return Unknown(f"module.{name} source {source!r} was not found")
        providers = self._child_providers(body)
        children = []
        for key, suffix, scope in self.expand(decl).instances:
            child = ModuleInstance(
                self.load,
                child_dir,
                f"{self.prefix}module.{name}{suffix}.",
                call=(body, scope),
                providers=providers,
                depth=self.depth + 1,
            )
            child.key = key
            children.append(child)
        return children

    def _child_providers(self, body: Body) -> dict[str, str | None]:
        out = {"aws": self.providers.get("aws")}
        attr = body.attrs.get("providers")
        if attr is None:
            return out
        # providers = { aws = aws.west }: both sides are names, not values.
        text = attr.text().strip().strip("{}")
        for line in text.replace(",", "\n").splitlines():
            if "=" in line:
                left, right = (p.strip() for p in line.split("=", 1))
                out[left] = self.providers.get(right)
        return out

    key: Any = None

    def done(self) -> None:
        """The walk has read this module: let its syntax trees go.

        Its inputs are evaluated first, while the caller's syntax is still in
        memory, so that the caller's trees can go too. Anything evaluated later
        (a sibling reading this module's outputs) reads the files again.
        """
        if self.call is not None:
            for name in self.mdir.variables:
                self._cached("var", name, self._var)
            self.call = None
        self._cache = {k: v for k, v in self._cache.items() if k[0] == "var"}
        self._resources.clear()
        self._expansions.clear()
        self._mdir = None
        if self._held:
            self._held = False
            self.load.let_go(self.module_dir)
        elif self._fixed:
            # The root module: the walk is over, and nothing reads it again.
            self.load.forget(self.module_dir)

    def release(self) -> None:
        """Break reference cycles so the syntax trees are freed now, not by a later GC pass."""
        for found in self._children.values():
            if isinstance(found, list):
                for child in found:
                    child.release()
        for instances in self._resources.values():
            for inst in instances:
                inst.release()
        self._cache.clear()
        self._resources.clear()
        self._expansions.clear()
        self._children.clear()
        self.scope.module = None


class ResourceInstance(Ref):
    """One instance of a resource or data source; attributes evaluate on demand."""

    __slots__ = ("_cache", "address", "decl", "key", "module", "scope")

    def __init__(self, decl: Decl, module: ModuleInstance, address: str, scope: Scope, key: Any):
        self.decl = decl
        self.module = module
        self.address = address
        self.scope = scope
        self.key = key
        self._cache: dict[str, Any] = {}

    @property
    def body(self) -> Body:
        return self.decl.block.body

    def release(self) -> None:
        self._cache.clear()
        self.scope.module = None

    @property
    def region(self) -> str | None:
        return self.module.region_of(self.body)

    def get_attr(self, name: str) -> Any:
        if name in self._cache:
            return self._cache[name]
        self._cache[name] = Unknown(f"{self.address}.{name} refers to itself", error=True)
        value = self._compute(name)
        self._cache[name] = value
        return value

    def _compute(self, name: str) -> Any:
        from ecrguard.sources.terraform.computed import computed

        attr = self.body.attrs.get(name)
        if attr is not None:
            return self.module.load.ev.evaluate(attr, self.scope)
        return computed(self, name)


def _for_each_pairs(items: Any) -> list[tuple[str, Any]] | Unknown:
    if isinstance(items, dict):
        pairs = iterate(items)
        if isinstance(pairs, Unknown):
            return pairs
        return [(str(k), v) for k, v in pairs]
    if isinstance(items, list):
        keys = []
        for item in items:
            text = to_text(item)
            if isinstance(text, Unknown) or not isinstance(item, str):
                return Unknown("for_each needs a map or a set of strings", error=True)
            keys.append(text)
        return [(k, k) for k in sorted(set(keys))]
    if isinstance(items, Unknown):
        return items
    return Unknown("for_each needs a map or a set of strings", error=True)


def _convert(value: Any, type_text: str) -> Any:
    """Values given as strings (-var, tfvars) take the declared primitive type."""
    if not isinstance(value, str):
        return value
    if type_text == "bool":
        converted = to_bool(value)
        return (
            converted
            if not isinstance(converted, Unknown)
            else Unknown(f"expected a bool, got {value!r}", error=True)
        )
    if type_text == "number":
        return to_number(value)
    return value
