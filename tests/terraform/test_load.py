"""Loading configurations: count/for_each, modules, unresolved values and bad input."""

from __future__ import annotations

from pathlib import Path

import pytest

from ecrguard.errors import InputError
from ecrguard.model import CollectionIssue, State
from ecrguard.sources.terraform import load_terraform
from tests.terraform.helpers import FIXTURES, line_of, repo

# -- count and for_each ----------------------------------------------------------------

EXPANSION = FIXTURES / "expansion" / "main.tf"


def test_for_each_and_count_addresses() -> None:
    inventory = load_terraform([EXPANSION.parent])
    assert [r.id for r in inventory.repositories] == [
        'aws_ecr_repository.service["api"]',
        'aws_ecr_repository.service["worker"]',
        "aws_ecr_repository.mirror[0]",
        "aws_ecr_repository.mirror[1]",
        "aws_ecr_repository.extra",
    ]


def test_each_and_count_values() -> None:
    inventory = load_terraform([EXPANSION.parent])
    api = repo(inventory, 'aws_ecr_repository.service["api"]')
    worker = repo(inventory, 'aws_ecr_repository.service["worker"]')
    assert (api.name.value, api.tag_mutability.value) == ("svc/api", "IMMUTABLE")
    assert (worker.name.value, worker.tag_mutability.value) == ("svc/worker", "MUTABLE")
    assert repo(inventory, "aws_ecr_repository.mirror[1]").name.value == "mirror/debian"
    # Every instance points at the same resource block.
    assert (
        api.origin.line
        == worker.origin.line
        == line_of(EXPANSION, '"aws_ecr_repository" "service"')
    )


def test_policies_attach_per_instance() -> None:
    inventory = load_terraform([EXPANSION.parent])
    # for_each = aws_ecr_repository.service; repository = each.value.name
    api_policy = repo(inventory, 'aws_ecr_repository.service["api"]').policy
    assert api_policy.origin.ref == 'aws_ecr_repository_policy.service["api"]'
    assert api_policy.get()["Statement"][0]["Sid"] == "Pull-api"
    # count; repository = aws_ecr_repository.mirror[count.index].name
    lifecycle = repo(inventory, "aws_ecr_repository.mirror[1]").lifecycle_policy
    assert lifecycle.origin.ref == "aws_ecr_lifecycle_policy.mirror[1]"
    rules = lifecycle.get()["rules"]
    assert [r["selection"]["tagPrefixList"] for r in rules] == [["latest"], ["stable"]]
    assert [r["rulePriority"] for r in rules] == [1, 2]


def test_unknown_for_each_gives_one_instance_with_unresolved_dependents() -> None:
    extra = repo(load_terraform([EXPANSION.parent]), "aws_ecr_repository.extra")
    assert extra.name.state is State.UNRESOLVED
    assert extra.name.reason == "for_each is not known: var.extra has no value"
    # Attributes that do not depend on each.* still resolve.
    assert (extra.scan_on_push.value, extra.scan_on_push.state) == (True, State.SET)


def test_for_each_resolves_once_the_variable_is_given() -> None:
    inventory = load_terraform([EXPANSION.parent], variables={"extra": ["b", "a"]})
    ids = [r.id for r in inventory.repositories if r.id.startswith("aws_ecr_repository.extra")]
    assert ids == ['aws_ecr_repository.extra["a"]', 'aws_ecr_repository.extra["b"]']


# -- modules ------------------------------------------------------------------------------

MODULES = FIXTURES / "modules"


def test_local_modules_give_module_addresses() -> None:
    inventory = load_terraform([MODULES])
    assert [r.id for r in inventory.repositories] == [
        "module.payments.aws_ecr_repository.this",
        'module.teams["blue"].aws_ecr_repository.this',
        'module.teams["green"].aws_ecr_repository.this',
    ]
    payments = repo(inventory, "module.payments.aws_ecr_repository.this")
    child = MODULES / "modules" / "ecr" / "main.tf"
    assert payments.origin.file == str(child)
    assert payments.name.value == "payments"
    assert (payments.scan_on_push.value, payments.scan_on_push.state) == (True, State.SET)
    assert payments.region == "ap-southeast-2"  # inherited from the root's provider
    assert (
        repo(inventory, 'module.teams["blue"].aws_ecr_repository.this').scan_on_push.value is False
    )


def test_nested_module_lifecycle_reads_a_file_next_to_it() -> None:
    inventory = load_terraform([MODULES])
    lifecycle = repo(inventory, 'module.teams["green"].aws_ecr_repository.this').lifecycle_policy
    assert (
        lifecycle.origin.ref
        == 'module.teams["green"].module.lifecycle.aws_ecr_lifecycle_policy.this'
    )
    assert lifecycle.origin.file == str(MODULES / "modules" / "lifecycle" / "main.tf")
    assert lifecycle.get()["rules"][0]["selection"]["countNumber"] == 14


def test_module_outputs_resolve_for_the_parent() -> None:
    inventory = load_terraform([MODULES])
    # repository = module.teams["green"].repository_name
    green = repo(inventory, 'module.teams["green"].aws_ecr_repository.this')
    assert green.policy.origin.ref == "aws_ecr_repository_policy.teams"
    assert green.policy.get() == {"Version": "2012-10-17", "Statement": []}


def test_remote_and_missing_modules_are_issues() -> None:
    inventory = load_terraform([MODULES])
    main = str(MODULES / "main.tf")
    assert [(i.scope, i.operation) for i in inventory.issues] == [
        (main, "terraform:module"),
        (main, "terraform:module"),
    ]
    remote, missing = (i.reason for i in inventory.issues)
    assert "terraform-aws-modules/vpc/aws" in remote and "not a local path" in remote
    assert "does-not-exist" in missing
    # A value taken from the unread module is unresolved, and so is the policy that uses it.
    payments = repo(inventory, "module.payments.aws_ecr_repository.this").policy
    assert payments.state is State.UNRESOLVED
    assert "module.vpc" in payments.reason


def test_module_that_calls_itself_stops(tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_text(
        'module "again" {\n  source = "./"\n}\n'
        'resource "aws_ecr_repository" "r" {\n  name = "r"\n}\n'
    )
    inventory = load_terraform([tmp_path])
    assert len(inventory.repositories) == 17  # the root plus 16 nested levels
    assert inventory.repositories[-1].id.startswith("module.again.module.again.")
    assert any("nested deeper" in i.reason for i in inventory.issues)


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)


def test_modules_read_depth_first_report_in_breadth_first_order(tmp_path: Path) -> None:
    # The walk lets each module's syntax trees go once read (depth first), yet
    # instances and issues come out as if every module had been read first.
    _write(
        tmp_path,
        {
            "main.tf": 'module "a" {\n  source = "./a"\n}\n'
            'module "b" {\n  source = "./b"\n}\n'
            'module "gone" {\n  source = "./nowhere"\n}\n',
            "a/main.tf": 'module "deep" {\n  source = "./deep"\n}\n'
            'resource "aws_ecr_repository" "r" {\n  name = "a"\n}\n',
            "a/deep/main.tf": 'resource "aws_ecr_repository" "r" {\n  name = "deep"\n}\n',
            "a/deep/broken.tf": "this is { not hcl\n",
            "b/main.tf": 'resource "aws_ecr_repository" "r" {\n  name = "b"\n}\n',
            "b/broken.tf": "also { broken\n",
        },
    )
    inventory = load_terraform([tmp_path])
    assert [r.id for r in inventory.repositories] == [
        "module.a.aws_ecr_repository.r",
        "module.b.aws_ecr_repository.r",
        "module.a.module.deep.aws_ecr_repository.r",
    ]
    assert [
        (Path(i.scope).relative_to(tmp_path).as_posix(), i.operation) for i in inventory.issues
    ] == [
        ("b/broken.tf", "terraform:parse"),
        ("main.tf", "terraform:module"),
        ("a/deep/broken.tf", "terraform:parse"),
    ]


def test_output_of_a_module_already_walked_is_read_again(tmp_path: Path) -> None:
    # module.b's input comes from module.a, whose trees the walk let go before b.
    _write(
        tmp_path,
        {
            "main.tf": 'module "a" {\n  source = "./a"\n}\n'
            'module "b" {\n  source = "./b"\n  name = module.a.name\n}\n',
            "a/main.tf": 'resource "aws_ecr_repository" "r" {\n  name = "alpha"\n}\n'
            'output "name" {\n  value = "${aws_ecr_repository.r.name}-copy"\n}\n',
            "b/main.tf": 'variable "name" {}\n'
            'resource "aws_ecr_repository" "r" {\n  name = var.name\n}\n',
        },
    )
    inventory = load_terraform([tmp_path])
    assert repo(inventory, "module.b.aws_ecr_repository.r").name.value == "alpha-copy"


# -- unresolved values ----------------------------------------------------------------------

UNRESOLVED = FIXTURES / "unresolved" / "main.tf"


def test_variable_without_value_is_unresolved_with_reason() -> None:
    app = repo(load_terraform([UNRESOLVED.parent]), "aws_ecr_repository.app")
    assert app.name.state is State.UNRESOLVED
    assert app.name.value is None
    assert app.name.reason == "var.repository_name has no value"
    assert app.name.origin.line == line_of(UNRESOLVED, "name = var.repository_name")
    # A key declared in the configuration stands in by its address for the ARN AWS assigns.
    assert (app.kms_key.value, app.kms_key.state) == ("aws_kms_key.ecr", State.SET)


def test_policy_with_an_unresolved_piece_is_unresolved_as_a_whole() -> None:
    app = repo(load_terraform([UNRESOLVED.parent]), "aws_ecr_repository.app")
    # The repository name is unknown, yet the policy still finds it by reference.
    assert app.policy.origin.ref == "aws_ecr_repository_policy.app"
    assert app.policy.state is State.UNRESOLVED
    assert app.policy.value is None
    assert app.policy.reason == "var.trusted_account has no value"


def test_policy_for_an_undeclared_repository_is_still_judged() -> None:
    other = repo(load_terraform([UNRESOLVED.parent]), "aws_ecr_repository_policy.elsewhere")
    assert (other.name.value, other.name.state) == ("legacy/app", State.SET)
    # templatefile() with a %{ for } directive renders the JSON.
    statements = other.policy.get()["Statement"]
    assert [s["Action"] for s in statements] == [
        "ecr:BatchGetImage",
        "ecr:GetDownloadUrlForLayer",
        "ecr:DeleteRepository",
    ]
    assert statements[0]["Principal"] == {"AWS": "arn:aws:iam::333333333333:root"}
    for field in ("tag_mutability", "scan_on_push", "encryption_type", "lifecycle_policy"):
        value = getattr(other, field)
        assert value.state is State.UNRESOLVED, field
        assert value.reason == "repository not declared in this configuration"


def test_given_variables_resolve_the_same_configuration() -> None:
    inventory = load_terraform(
        [UNRESOLVED.parent],
        variables={"repository_name": "app", "trusted_account": "999999999999"},
    )
    app = repo(inventory, "aws_ecr_repository.app")
    assert app.name.value == "app"
    assert app.policy.get()["Statement"][0]["Principal"] == {
        "AWS": "arn:aws:iam::999999999999:root"
    }


# -- bad input --------------------------------------------------------------------------------

BROKEN = FIXTURES / "broken_dir"


def test_broken_files_in_a_directory_are_issues_and_the_rest_loads() -> None:
    inventory = load_terraform([BROKEN])
    assert [r.id for r in inventory.repositories] == ["aws_ecr_repository.survivor"]
    assert inventory.issues == (
        CollectionIssue(str(BROKEN / "broken.tf"), "terraform:parse", "syntax error at line 8"),
        CollectionIssue(
            str(BROKEN / "latin1.tf"), "terraform:parse", "not UTF-8 text (invalid byte at line 1)"
        ),
    )


def test_binary_file_in_a_directory_is_an_issue(tmp_path: Path) -> None:
    (tmp_path / "blob.tf").write_bytes(b"\x7fELF\x02\x01\x01\x00\x00\x00")
    (tmp_path / "ok.tf").write_text('resource "aws_ecr_repository" "ok" {\n  name = "ok"\n}\n')
    inventory = load_terraform([tmp_path])
    assert [r.id for r in inventory.repositories] == ["aws_ecr_repository.ok"]
    assert inventory.issues == (
        CollectionIssue(str(tmp_path / "blob.tf"), "terraform:parse", "binary file, not HCL text"),
    )


def test_broken_single_file_raises_one_line_input_error() -> None:
    path = FIXTURES / "single" / "broken.tf"
    with pytest.raises(InputError) as err:
        load_terraform([path])
    message = str(err.value)
    assert message == f"{path}: syntax error at line 6"
    assert "\n" not in message


def test_single_file_is_its_own_root_module() -> None:
    inventory = load_terraform([FIXTURES / "single" / "app.tf"])
    assert [r.id for r in inventory.repositories] == ["aws_ecr_repository.single"]
    assert inventory.issues == ()


def test_missing_path_raises_input_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    with pytest.raises(InputError, match=f"^no such file or directory: {missing}$"):
        load_terraform([missing])


def test_missing_var_file_raises_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file or directory"):
        load_terraform([FIXTURES / "basic"], var_files=[tmp_path / "prod.tfvars"])


def test_deep_nesting_is_unresolved_not_a_crash(tmp_path: Path) -> None:
    depth = 5000
    (tmp_path / "main.tf").write_text(
        'resource "aws_ecr_repository" "deep" {\n'
        f'  name = "deep"\n  tags = {{ x = {"[" * depth}1{"]" * depth} }}\n'
        f"  force_delete = {'(' * depth}true{')' * depth}\n}}\n"
    )
    deep = repo(load_terraform([tmp_path]), "aws_ecr_repository.deep")
    assert deep.name.value == "deep"
    assert deep.force_delete.state is State.UNRESOLVED
    assert "nested" in deep.force_delete.reason


def test_file_outside_the_scanned_directories_is_not_read(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (tmp_path / "secret.txt").write_text("top-secret")
    (root / "main.tf").write_text(
        'resource "aws_ecr_repository" "leak" {\n  name = file("../secret.txt")\n}\n'
    )
    leak = repo(load_terraform([root]), "aws_ecr_repository.leak")
    assert leak.name.state is State.UNRESOLVED
    assert "outside the scanned directories" in leak.name.reason


def test_exponential_values_are_cut_off(tmp_path: Path) -> None:
    lines = ['locals {\n  l0 = ["x", "x"]']
    lines += [f"  l{i} = [local.l{i - 1}, local.l{i - 1}]" for i in range(1, 40)]
    lines.append("}\n")
    lines.append('resource "aws_ecr_repository" "big" {\n  name = jsonencode(local.l39)\n}\n')
    (tmp_path / "main.tf").write_text("\n".join(lines))
    big = repo(load_terraform([tmp_path]), "aws_ecr_repository.big")
    assert big.name.state is State.UNRESOLVED
    assert "too large" in big.name.reason


def test_importing_the_package_does_not_import_tree_sitter() -> None:
    import subprocess
    import sys

    code = (
        "import sys, ecrguard.sources.terraform; "
        "print('tree_sitter' in sys.modules or 'tree_sitter_hcl' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
