"""Generate a deterministic Terraform corpus for the IaC benchmark (bench/iac.py).

Layout (N modules, default 5,000)::

    OUT/main.tf                 terraform + provider "aws" (region, allowed_account_ids)
                                and one `module "mNNNN" { source = "./modules/mNNNN" ... }`
                                call per module, some passing inputs
    OUT/modules/mNNNN/main.tf       locals, aws_ecr_repository, its repository policy,
                                    lifecycle policy, and for some modules an aws_kms_key
    OUT/modules/mNNNN/variables.tf  the module's inputs, all with defaults
    OUT/modules/mNNNN/outputs.tf    repository_url / arn (every third module)
    OUT/manifest.json           what the corpus holds, including every public policy

That is the standard module structure (main/variables/outputs), so a module
costs two or three files, as real ones do.

Each module's repository mixes scan_on_push, image_tag_mutability and
encryption (AES256 default, AES256 explicit, KMS with its own key). Its
repository policy is one of:

* public: Principal "*" (or {"AWS": "*"}) with no condition that narrows the
  audience, written as a heredoc, jsonencode() or a data
  "aws_iam_policy_document"; some of them carry an aws:SecureTransport
  condition, which any AWS account can satisfy, so they are still public;
* cross-account: another account's root or role may pull;
* org-guarded: Principal "*" with StringEquals aws:PrincipalOrgID;
* same-account: a CI role of the owner account may push;
* none: the repository has no policy.

The manifest counts the public ones and lists their addresses
(``module.mNNNN.aws_ecr_repository.this`` for the repository, and the
policy resource's address), so a scanner's findings can be checked for
completeness. Output is byte-identical for the same seed and N.

How Checkov is pointed at the corpus
------------------------------------
``checkov -d OUT --framework terraform --quiet --compact -o json`` (bench/iac.py
adds ``--skip-download`` and BC_SKIP_MAPPING=TRUE so that it makes no network
calls). Checkov walks the whole tree given to ``-d``; its Terraform graph
follows the root main.tf's local ``module`` calls and reports each module's
resources once, named by module address
(``module.m0001.aws_ecr_repository_policy.this``) with the module's own file:
on 5,000 modules it counts 16,096 resources, the same instances ecrguard
reads. No flag is needed for local modules (``--download-external-modules``
only concerns registry and git sources, and none are used), and pointing it at
the root directory is what a user would do. CKV_AWS_32 ("Ensure ECR policy is
not set to public") judges a policy only when Checkov renders it to a dict
(heredoc JSON and jsonencode() are); a ``data.aws_iam_policy_document.x.json``
reference is left UNKNOWN, which Checkov leaves out of its report. Its
CKV_AWS_283 judges policy documents themselves, but only catches
``principals { type = "AWS", identifiers = ["*"] }`` without a condition: not
``type = "*"``, nor a public grant with an aws:SecureTransport condition.
bench/iac.py reports what each check finds next to the manifest's count rather
than assuming either finds everything.

Usage: python bench/gen_terraform.py OUT [--modules N] [--seed S]
Only the standard library is used.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys

OWNER = "111122223333"
ORG_ID = "o-a1b2c3d4e5"
REGION = "us-east-1"
# Partner accounts that some repositories share with.
PARTNERS = ["444455556666", "777788889999", "210987654321", "135792468024"]
PULL = [
    "ecr:BatchGetImage",
    "ecr:GetDownloadUrlForLayer",
    "ecr:BatchCheckLayerAvailability",
]
PUSH = [
    "ecr:PutImage",
    "ecr:InitiateLayerUpload",
    "ecr:UploadLayerPart",
    "ecr:CompleteLayerUpload",
]
TEAMS = ["payments", "search", "identity", "ledger", "mobile", "data", "ml", "web", "edge", "ops"]
ENVS = ["prod", "staging", "dev"]

# Weights of the policy kinds; "public" is the one every scanner must find.
KINDS = [("public", 8), ("cross", 30), ("org", 25), ("same", 20), ("none", 17)]
FORMS = ["heredoc", "jsonencode", "document"]


def _pick(rng: random.Random, weighted: list[tuple[str, int]]) -> str:
    return rng.choices([k for k, _ in weighted], [w for _, w in weighted])[0]


def _hcl_list(items: list[str], indent: str) -> str:
    inner = "".join(f'{indent}  "{i}",\n' for i in items)
    return f"[\n{inner}{indent}]"


def _statement_json(kind: str, rng: random.Random, partner: str, variant: int) -> list[dict]:
    """The statements of a policy of ``kind``, as plain data (for heredoc / jsonencode)."""
    if kind == "public":
        principal: object = "*" if variant % 2 == 0 else {"AWS": "*"}
        stmt: dict = {"Sid": "SharePull", "Effect": "Allow", "Principal": principal, "Action": PULL}
        if variant % 3 == 2:
            # Any account can send TLS requests: this condition does not narrow who may pull.
            stmt["Condition"] = {"Bool": {"aws:SecureTransport": "true"}}
        return [stmt]
    if kind == "cross":
        who = (
            f"arn:aws:iam::{partner}:root"
            if variant % 2 == 0
            else f"arn:aws:iam::{partner}:role/deploy"
        )
        return [
            {"Sid": "PartnerPull", "Effect": "Allow", "Principal": {"AWS": who}, "Action": PULL}
        ]
    if kind == "org":
        return [
            {
                "Sid": "OrgPull",
                "Effect": "Allow",
                "Principal": "*",
                "Action": PULL,
                "Condition": {"StringEquals": {"aws:PrincipalOrgID": ORG_ID}},
            }
        ]
    # same: the owner's CI role pushes, and a deny on deletes for everyone.
    return [
        {
            "Sid": "CiPush",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{OWNER}:role/ci-publisher"},
            "Action": PULL + PUSH,
        },
        {
            "Sid": "NoDelete",
            "Effect": "Deny",
            "Principal": "*",
            "Action": ["ecr:BatchDeleteImage", "ecr:DeleteRepository"],
            "Condition": {
                "StringNotEquals": {"aws:PrincipalArn": f"arn:aws:iam::{OWNER}:role/admin"}
            },
        },
    ]


def _to_hcl(value: object, indent: str) -> str:
    """Plain data as an HCL object/tuple expression, as people write inside jsonencode()."""
    if isinstance(value, dict):
        pad = indent + "  "
        lines = []
        for key, item in value.items():
            name = key if key.replace("_", "").isalnum() and ":" not in key else f'"{key}"'
            lines.append(f"{pad}{name} = {_to_hcl(item, pad)}\n")
        return "{\n" + "".join(lines) + indent + "}"
    if isinstance(value, list):
        if all(isinstance(v, str) for v in value):
            return "[" + ", ".join(f'"{v}"' for v in value) + "]"
        pad = indent + "  "
        return "[\n" + "".join(f"{pad}{_to_hcl(v, pad)},\n" for v in value) + indent + "]"
    return f'"{value}"'


def _policy_document(statements: list[dict], indent: str = "  ") -> str:
    """An aws_iam_policy_document body with the same meaning as ``statements``."""
    out = []
    for stmt in statements:
        body = [f'{indent}  sid    = "{stmt["Sid"]}"\n']
        if stmt["Effect"] != "Allow":
            body.append(f'{indent}  effect = "{stmt["Effect"]}"\n')
        body.append(f"{indent}  actions = {_hcl_list(stmt['Action'], indent + '  ')}\n")
        principal = stmt["Principal"]
        if principal == "*":
            ptype, ids = "*", ["*"]
        else:
            ptype, ids = "AWS", [principal["AWS"]]
        body.append(
            f"\n{indent}  principals {{\n"
            f'{indent}    type        = "{ptype}"\n'
            f'{indent}    identifiers = ["{ids[0]}"]\n'
            f"{indent}  }}\n"
        )
        for op, pairs in stmt.get("Condition", {}).items():
            for key, val in pairs.items():
                body.append(
                    f"\n{indent}  condition {{\n"
                    f'{indent}    test     = "{op}"\n'
                    f'{indent}    variable = "{key}"\n'
                    f'{indent}    values   = ["{val}"]\n'
                    f"{indent}  }}\n"
                )
        out.append(f"{indent}statement {{\n{''.join(body)}{indent}}}\n")
    return "\n".join(out)


def _lifecycle(rng: random.Random) -> str:
    keep = rng.choice([10, 20, 30, 50])
    days = rng.choice([1, 7, 14])
    return f"""resource "aws_ecr_lifecycle_policy" "this" {{
  repository = aws_ecr_repository.this.name

  policy = jsonencode({{
    rules = [
      {{
        rulePriority = 1
        description  = "Expire untagged images after {days} days"
        selection = {{
          tagStatus   = "untagged"
          countType   = "sinceImagePushed"
          countUnit   = "days"
          countNumber = {days}
        }}
        action = {{ type = "expire" }}
      }},
      {{
        rulePriority = 2
        description  = "Keep the last {keep} release images"
        selection = {{
          tagStatus     = "tagged"
          tagPrefixList = ["v", "release-"]
          countType     = "imageCountMoreThan"
          countNumber   = {keep}
        }}
        action = {{ type = "expire" }}
      }},
    ]
  }})
}}
"""


def module_files(i: int, rng: random.Random) -> tuple[dict[str, str], dict]:
    """The files of module ``i`` and its manifest entry."""
    name = f"m{i:04d}"
    team = TEAMS[i % len(TEAMS)]
    env = ENVS[rng.randrange(len(ENVS))]
    kind = _pick(rng, KINDS)
    form = FORMS[rng.randrange(len(FORMS))] if kind != "none" else None
    partner = PARTNERS[rng.randrange(len(PARTNERS))]
    variant = rng.randrange(6)
    encryption = _pick(rng, [("default", 40), ("aes", 20), ("kms", 40)])
    scan = rng.random() < 0.6
    mutability = "IMMUTABLE" if rng.random() < 0.55 else "MUTABLE"
    rotation = rng.random() < 0.7

    variables = f"""variable "service" {{
  description = "Service that publishes images to this repository."
  type        = string
  default     = "{team}-svc-{i:04d}"
}}

variable "environment" {{
  description = "Deployment environment."
  type        = string
  default     = "{env}"
}}

variable "scan_on_push" {{
  description = "Scan each image when it is pushed."
  type        = bool
  default     = {"true" if scan else "false"}
}}

variable "tags" {{
  description = "Tags for every resource."
  type        = map(string)
  default = {{
    Team       = "{team}"
    CostCenter = "cc-{1000 + i % 97}"
  }}
}}
"""
    if kind == "cross":
        variables += f"""
variable "partner_account" {{
  description = "Account allowed to pull."
  type        = string
  default     = "{partner}"
}}
"""

    parts = [
        f"""locals {{
  repository_name = "${{var.environment}}/${{var.service}}"
  common_tags = merge(var.tags, {{
    Module      = "{name}"
    Environment = var.environment
  }})
}}
"""
    ]
    if encryption == "kms":
        parts.append(
            f"""
resource "aws_kms_key" "ecr" {{
  description             = "ECR images of ${{local.repository_name}}"
  deletion_window_in_days = 30
  enable_key_rotation     = {"true" if rotation else "false"}
  tags                    = local.common_tags
}}
"""
        )
    enc_block = ""
    if encryption == "aes":
        enc_block = """
  encryption_configuration {
    encryption_type = "AES256"
  }
"""
    elif encryption == "kms":
        enc_block = """
  encryption_configuration {
    encryption_type = "KMS"
    kms_key         = aws_kms_key.ecr.arn
  }
"""
    parts.append(
        f"""
resource "aws_ecr_repository" "this" {{
  name                 = local.repository_name
  image_tag_mutability = "{mutability}"
  force_delete         = false

  image_scanning_configuration {{
    scan_on_push = var.scan_on_push
  }}
{enc_block}
  tags = local.common_tags
}}
"""
    )

    if kind != "none":
        statements = _statement_json(kind, rng, partner, variant)
        if kind == "cross":
            # Written against the variable, as a module would.
            who = statements[0]["Principal"]["AWS"].replace(partner, "${var.partner_account}")
            statements[0]["Principal"]["AWS"] = who
        if form == "heredoc":
            text = json.dumps({"Version": "2012-10-17", "Statement": statements}, indent=2)
            policy = "<<-EOF\n" + "\n".join("    " + ln for ln in text.splitlines()) + "\n  EOF"
        elif form == "jsonencode":
            doc = {"Version": "2012-10-17", "Statement": statements}
            policy = f"jsonencode({_to_hcl(doc, '  ')})"
        else:
            parts.append(
                f"""
data "aws_iam_policy_document" "repository" {{
{_policy_document(statements)}}}
"""
            )
            policy = "data.aws_iam_policy_document.repository.json"
        parts.append(
            f"""
resource "aws_ecr_repository_policy" "this" {{
  repository = aws_ecr_repository.this.name
  policy     = {policy}
}}
"""
        )
    parts.append("\n" + _lifecycle(rng))

    files = {"main.tf": "".join(parts), "variables.tf": variables}
    if i % 3 == 0:
        files["outputs.tf"] = """output "repository_url" {
  description = "Where images are pushed."
  value       = aws_ecr_repository.this.repository_url
}

output "repository_arn" {
  value = aws_ecr_repository.this.arn
}
"""
    entry = {
        "module": name,
        "policy": kind,
        "form": form,
        "encryption": encryption,
        "scan_on_push": scan,
        "image_tag_mutability": mutability,
        "repository": f"module.{name}.aws_ecr_repository.this",
    }
    return files, entry


def root_main(entries: list[dict], rng: random.Random) -> str:
    lines = [
        f"""terraform {{
  required_version = ">= 1.5"
  required_providers {{
    aws = {{
      source  = "hashicorp/aws"
      version = ">= 5.0"
    }}
  }}
}}

provider "aws" {{
  region              = "{REGION}"
  allowed_account_ids = ["{OWNER}"]
}}
"""
    ]
    for entry in entries:
        name = entry["module"]
        # Some callers override an input, as a root module usually does for a few modules.
        extra = ""
        if rng.random() < 0.2:
            extra = '\n  environment = "prod"'
        lines.append(f'\nmodule "{name}" {{\n  source = "./modules/{name}"{extra}\n}}\n')
    return "".join(lines)


def generate(out: str, modules: int, seed: int) -> dict:
    rng = random.Random(seed)
    if os.path.isdir(out):
        shutil.rmtree(out)
    os.makedirs(os.path.join(out, "modules"))
    entries = []
    files = 0
    for i in range(1, modules + 1):
        module, entry = module_files(i, rng)
        mdir = os.path.join(out, "modules", entry["module"])
        os.mkdir(mdir)
        for fname, text in module.items():
            with open(os.path.join(mdir, fname), "w", encoding="utf-8") as fh:
                fh.write(text)
            files += 1
        entries.append(entry)
    with open(os.path.join(out, "main.tf"), "w", encoding="utf-8") as fh:
        fh.write(root_main(entries, rng))
    files += 1
    public = [e for e in entries if e["policy"] == "public"]
    by_form: dict[str, int] = {}
    for e in public:
        by_form[e["form"]] = by_form.get(e["form"], 0) + 1
    manifest = {
        "generator": "bench/gen_terraform.py",
        "seed": seed,
        "modules": modules,
        "files": files,
        "owner_account": OWNER,
        "org_id": ORG_ID,
        "region": REGION,
        "repositories": len(entries),
        "repository_policies": sum(1 for e in entries if e["policy"] != "none"),
        "kms_keys": sum(1 for e in entries if e["encryption"] == "kms"),
        "policy_kinds": {k: sum(1 for e in entries if e["policy"] == k) for k, _ in KINDS},
        "public_policies": len(public),
        "public_by_form": dict(sorted(by_form.items())),
        "public_repositories": [e["repository"] for e in public],
        "public_modules": [
            {"module": e["module"], "form": e["form"], "repository": e["repository"]}
            for e in public
        ],
        "public_policy_resources": [
            f"module.{e['module']}.aws_ecr_repository_policy.this" for e in public
        ],
    }
    with open(os.path.join(out, "manifest.json"), "w", encoding="utf-8") as fh:
        json.dump(manifest, fh, indent=2)
        fh.write("\n")
    return manifest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("out", help="output directory (replaced if it exists)")
    parser.add_argument("--modules", type=int, default=5000, help="number of modules (5000)")
    parser.add_argument("--seed", type=int, default=4, help="random seed (4)")
    args = parser.parse_args(argv)
    if args.modules < 1 or args.modules > 9999:
        parser.error("--modules must be between 1 and 9999")
    manifest = generate(args.out, args.modules, args.seed)
    print(
        f"wrote {manifest['modules']} modules ({manifest['files']} files) to {args.out}: "
        f"{manifest['public_policies']} public policies {manifest['public_by_form']}",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
