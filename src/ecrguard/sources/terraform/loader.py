"""Root modules from paths, with their variable values, loaded into an Inventory."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ecrguard.errors import InputError
from ecrguard.model import CollectionIssue, Inventory
from ecrguard.runtime import gc_paused
from ecrguard.sources.terraform.expressions import Evaluator, Scope
from ecrguard.sources.terraform.hcl import MAX_FILE_BYTES, parse_bytes, parse_file
from ecrguard.sources.terraform.hcl_reader import hcl_instances
from ecrguard.sources.terraform.mapping import UNREAD, WANTED, Mapped, map_instances
from ecrguard.sources.terraform.modules import Load, ModuleDir, ModuleInstance


def load_terraform(
    paths: Sequence[str | Path],
    var_files: Sequence[str | Path] = (),
    variables: Mapping[str, Any] | None = None,
    *,
    owner_account: str | None = None,
    jobs: int = 1,
) -> Inventory:
    """Read Terraform root modules into the normalized model.

    Each path is a directory (its ``*.tf`` files, ``terraform.tfvars`` and
    ``*.auto.tfvars``) or a single ``.tf`` file. ``var_files`` and then
    ``variables`` override those values, as ``-var-file`` and ``-var`` do.
    ``owner_account`` stands for ``data.aws_caller_identity`` and completes
    ARNs. Files in a directory that cannot be parsed become issues; a single
    file, a missing path or a var file that cannot be read raise InputError.
    ``jobs`` > 1 reads the modules a root calls in that many processes where
    it can (see ecrguard.forks); the result does not depend on it.
    """
    explicit: dict[str, Any] = {}
    for var_file in var_files:
        explicit.update(_read_var_file(str(var_file), strict=True, issues=[]))
    explicit.update(variables or {})
    # One Inventory at the end: merging per root would copy the tuples once per path.
    found = Mapped()
    issues: list[CollectionIssue] = []
    # Loading makes millions of objects that all stay alive until it ends, and
    # its reference cycles are broken by hand (ModuleInstance.release); the
    # collector's full passes over them cost a tenth of the load and find nothing.
    with gc_paused():
        for path in paths:
            _load_root(str(path), explicit, owner_account, found, issues, jobs)
    return found.inventory(issues)


def _load_root(
    path: str,
    explicit: dict[str, Any],
    owner_account: str | None,
    found: Mapped,
    issues: list[CollectionIssue],
    jobs: int,
) -> None:
    if os.path.isdir(path):
        load = Load(path, owner_account)
        mdir = load.module_dir(path)
        if mdir is None:
            raise InputError(f"cannot read directory: {path}")
        values = _directory_values(path, mdir.entries, load.issues)
    elif os.path.isfile(path):
        if not path.endswith(".tf"):
            raise InputError(f"not a Terraform .tf file: {path}")
        parsed = parse_file(path)
        if parsed.error:
            raise InputError(f"{path}: {parsed.error}")
        directory = os.path.dirname(path) or "."
        load = Load(directory, owner_account)
        mdir = ModuleDir(directory, [parsed])
        del parsed
        values = {}
    else:
        raise InputError(f"no such file or directory: {path}")
    values.update(explicit)
    root = ModuleInstance(load, mdir, "", values=values)
    # The walk lets each module's syntax trees go when done with it: no other
    # reference may keep the root's alive.
    del mdir
    if load.owner_account is None:
        load.owner_account = root.pinned_account()
    try:
        map_instances(hcl_instances(root, WANTED, UNREAD, jobs), found)
    finally:
        root.release()
    issues.extend(load.collected_issues())


def _directory_values(
    directory: str, names: tuple[str, ...], issues: list[CollectionIssue]
) -> dict[str, Any]:
    """``terraform.tfvars`` then ``*.auto.tfvars`` in name order, as Terraform reads them."""
    auto = sorted(n for n in names if n.endswith((".auto.tfvars", ".auto.tfvars.json")))
    ordered = [n for n in ("terraform.tfvars", "terraform.tfvars.json") if n in names] + auto
    values: dict[str, Any] = {}
    for name in ordered:
        values.update(_read_var_file(os.path.join(directory, name), strict=False, issues=issues))
    return values


def _read_var_file(path: str, strict: bool, issues: list[CollectionIssue]) -> dict[str, Any]:
    def fail(reason: str) -> dict[str, Any]:
        if strict:
            raise InputError(f"{path}: {reason}")
        issues.append(CollectionIssue(path, "terraform:parse", reason))
        return {}

    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        if strict:
            raise InputError(f"no such file or directory: {path}") from None
        return {}
    except OSError as err:
        return fail(f"cannot read file: {err.strerror or err}")
    if path.endswith(".json"):
        try:
            loaded = json.loads(data.decode("utf-8"))
        except (ValueError, RecursionError) as err:
            return fail(f"invalid JSON: {str(err).splitlines()[0]}")
        return loaded if isinstance(loaded, dict) else fail("not a JSON object")
    parsed = parse_bytes(path, data)
    if parsed.error:
        return fail(parsed.error)
    if parsed.blocks:
        return fail(f"blocks are not allowed in a variables file (line {parsed.blocks[0].line})")
    ev = Evaluator()
    scope = Scope(None)
    return {name: ev.evaluate(attr, scope) for name, attr in parsed.attrs.items()}
