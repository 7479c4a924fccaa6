"""ECR operations moto 5.2 lacks: repository creation templates and account settings.

Also one behaviour: a push that moves a tag leaves the image that carried it
stored and untagged, as AWS does (moto deleted it).

:func:`install` adds one method per operation to moto's ``ECRResponse`` class.
moto dispatches a JSON request by turning the ``X-Amz-Target`` action into a
snake_case method name and looking it up on the class at request time, and it
serializes an ``ActionResult`` (or a ``ServiceException``) through botocore's
own ECR service model. So the methods only parse, validate, store and return
plain dicts; the wire shapes are botocore's.

State lives on moto's per-account, per-region ``ECRBackend`` objects, so a moto
reset (``POST /moto-api/reset``) wipes it like any other ECR state.

Emulated behaviour, where AWS documents it loosely:

- ``imageTagMutability`` defaults to ``MUTABLE`` and ``encryptionConfiguration``
  to ``{"encryptionType": "AES256"}`` when a template omits them; both are
  always returned, as AWS does.
- Account settings and their defaults (the service model gives no enum):

  =========================  ======================  ==========
  name                       accepted values         default
  =========================  ======================  ==========
  BASIC_SCAN_TYPE_VERSION    AWS_NATIVE, CLAIR       AWS_NATIVE
  REGISTRY_POLICY_SCOPE      V1, V2                  V2
  BLOB_MOUNTING              ENABLED, DISABLED       DISABLED
  =========================  ======================  ==========

  AWS accepts only ``AWS_NATIVE`` and ``V2`` in ``PutAccountSetting`` (the
  migrations are one way); the emulator also accepts the legacy values so a lab
  can seed a registry that has not migrated yet.
"""

from __future__ import annotations

import json
import re
import threading
from datetime import UTC, datetime
from typing import Any

from moto.core.exceptions import ServiceException
from moto.core.responses import ActionResult
from moto.ecr.exceptions import InvalidParameterException, ValidationException
from moto.ecr.models import ECRBackend
from moto.ecr.policy_validation import EcrLifecyclePolicyValidator
from moto.ecr.responses import ECRResponse

from ecrguard.emulator.validation import check_input, decode_token, encode_token

ACCOUNT_SETTINGS: dict[str, tuple[tuple[str, ...], str]] = {
    "BASIC_SCAN_TYPE_VERSION": (("AWS_NATIVE", "CLAIR"), "AWS_NATIVE"),
    "REGISTRY_POLICY_SCOPE": (("V1", "V2"), "V2"),
    "BLOB_MOUNTING": (("ENABLED", "DISABLED"), "DISABLED"),
}

_DEFAULT_PAGE = 100
# The template fields a caller may set; everything else is server-owned.
_TEMPLATE_FIELDS = (
    "description",
    "encryptionConfiguration",
    "resourceTags",
    "imageTagMutability",
    "imageTagMutabilityExclusionFilters",
    "repositoryPolicy",
    "lifecyclePolicy",
    "appliedFor",
    "customRoleArn",
)
_WITH_EXCLUSION = ("MUTABLE_WITH_EXCLUSION", "IMMUTABLE_WITH_EXCLUSION")

# moto serves requests on several threads; a create racing a create must not
# both succeed.
_lock = threading.Lock()
_installed = False


class TemplateAlreadyExistsException(ServiceException):
    code = "TemplateAlreadyExistsException"


class TemplateNotFoundException(ServiceException):
    code = "TemplateNotFoundException"


def install() -> None:
    """Add the operations to moto's ECR responses. Safe to call repeatedly."""
    global _installed
    with _lock:
        if _installed:
            return
        for name, method in _OPERATIONS.items():
            setattr(ECRResponse, name, method)
        # moto hard-codes the V1 action list; AWS decides by the registry's scope.
        ECRBackend._validate_registry_policy_action = _validate_registry_policy_action  # type: ignore[method-assign]
        ECRBackend.put_image = _keeping_untagged(ECRBackend.put_image)  # type: ignore[method-assign]
        _installed = True


def _keeping_untagged(put_image: Any) -> Any:
    """moto deletes the image whose only tag a push moves to a new image; AWS
    keeps it, untagged, until someone (or a lifecycle rule) deletes it."""

    def put(self: ECRBackend, repository_name: str, *args: Any, **kwargs: Any) -> Any:
        repository = self.repositories.get(repository_name)
        before = list(repository.images) if repository is not None else []
        image = put_image(self, repository_name, *args, **kwargs)
        if repository is not None:
            for index, old in enumerate(before):
                if old is not image and all(old is not i for i in repository.images):
                    old.image_tags = []
                    old.image_tag = None  # type: ignore[assignment]  # moto's own untagged images have None
                    repository.images.insert(index, old)
        return image

    return put


# What a registry policy may grant under each REGISTRY_POLICY_SCOPE. moto only
# knows V1 without pull-through cache; under V2 AWS accepts any ECR action.
_V1_REGISTRY_ACTIONS = frozenset(
    {"ecr:createrepository", "ecr:replicateimage", "ecr:batchimportupstreamimage"}
)


def _validate_registry_policy_action(self: ECRBackend, policy_text: str) -> None:
    from moto.iam.exceptions import MalformedPolicyDocument

    scope = _settings(self).get(
        "REGISTRY_POLICY_SCOPE", ACCOUNT_SETTINGS["REGISTRY_POLICY_SCOPE"][1]
    )
    statements = json.loads(policy_text)["Statement"]
    for statement in statements if isinstance(statements, list) else [statements]:
        actions = statement.get("Action", [])
        for action in [actions] if isinstance(actions, str) else actions:
            allowed = (
                action.lower().startswith("ecr:")
                if scope == "V2"
                else action.lower() in _V1_REGISTRY_ACTIONS
            )
            if not allowed:
                raise MalformedPolicyDocument()


# --- state on moto's backend ---------------------------------------------------


def _templates(backend: ECRBackend) -> dict[str, dict[str, Any]]:
    # Attributes set on the backend vanish when moto resets it (it rebuilds
    # __dict__), which is exactly the lifetime this state should have.
    state: dict[str, dict[str, Any]] = backend.__dict__.setdefault("_ecrguard_templates", {})
    return state


def _settings(backend: ECRBackend) -> dict[str, str]:
    state: dict[str, str] = backend.__dict__.setdefault("_ecrguard_account_settings", {})
    return state


# --- validation ----------------------------------------------------------------


def _check_template(template: dict[str, Any], account_id: str) -> None:
    """Cross-field rules, on the template as it would be stored."""
    mutability = template["imageTagMutability"]
    filters = template.get("imageTagMutabilityExclusionFilters")
    if (filters is not None) != (mutability in _WITH_EXCLUSION):
        raise InvalidParameterException(
            "Invalid parameter at 'imageTagMutabilityExclusionFilters' failed to satisfy "
            f"constraint: 'imageTagMutabilityExclusionFilters must be set exactly when "
            f"imageTagMutability is one of {', '.join(_WITH_EXCLUSION)}; it is {mutability}'"
        )
    encryption = template["encryptionConfiguration"]
    if encryption.get("kmsKey") and encryption["encryptionType"] == "AES256":
        raise InvalidParameterException(
            "Invalid parameter at 'encryptionConfiguration' failed to satisfy constraint: "
            "'kmsKey can only be specified when encryptionType is KMS or KMS_DSSE'"
        )
    policy = template.get("repositoryPolicy")
    if policy:
        try:
            document = json.loads(policy)
        except ValueError:
            document = None
        if not isinstance(document, dict) or "Statement" not in document:
            raise InvalidParameterException(
                "Invalid parameter at 'repositoryPolicy' failed to satisfy constraint: "
                "'Invalid repository policy provided'"
            )
    lifecycle = template.get("lifecyclePolicy")
    if lifecycle:
        EcrLifecyclePolicyValidator(lifecycle).validate()
    role = template.get("customRoleArn")
    if role and not re.fullmatch(rf"arn:aws[a-z-]*:iam::{account_id}:role/\S+", role):
        raise InvalidParameterException(
            "Invalid parameter at 'customRoleArn' failed to satisfy constraint: "
            f"'must be the ARN of an IAM role in account {account_id}'"
        )


def _drop_empty(template: dict[str, Any]) -> dict[str, Any]:
    # An empty policy text (the shapes allow length 0) means "no policy".
    return {k: v for k, v in template.items() if v not in ("", None)}


# --- repository creation templates ---------------------------------------------


def create_repository_creation_template(self: ECRResponse) -> ActionResult:
    params = check_input(self, "CreateRepositoryCreationTemplate")
    prefix = params.pop("prefix")
    now = datetime.now(UTC)
    template: dict[str, Any] = {
        "prefix": prefix,
        "imageTagMutability": "MUTABLE",
        "encryptionConfiguration": {"encryptionType": "AES256"},
        "resourceTags": [],
        **params,
        "createdAt": now,
        "updatedAt": now,
    }
    _check_template(template, self.current_account)
    templates = _templates(self.ecr_backend)
    with _lock:
        if prefix in templates:
            raise TemplateAlreadyExistsException(
                f"Repository creation template with prefix '{prefix}' already exists "
                f"in the registry with id '{self.current_account}'"
            )
        templates[prefix] = _drop_empty(template)
    return ActionResult(
        {"registryId": self.current_account, "repositoryCreationTemplate": templates[prefix]}
    )


def describe_repository_creation_templates(self: ECRResponse) -> ActionResult:
    params = check_input(self, "DescribeRepositoryCreationTemplates")
    templates = _templates(self.ecr_backend)
    wanted = set(params.get("prefixes") or templates)
    matching = sorted(p for p in templates if p in wanted)
    limit = params.get("maxResults", _DEFAULT_PAGE)
    if "nextToken" in params:
        after = decode_token(params["nextToken"], InvalidParameterException)
        matching = [p for p in matching if p > after]
    page = matching[:limit]
    result: dict[str, Any] = {
        "registryId": self.current_account,
        "repositoryCreationTemplates": [templates[p] for p in page],
    }
    if len(matching) > limit:
        result["nextToken"] = encode_token(page[-1])
    return ActionResult(result)


def update_repository_creation_template(self: ECRResponse) -> ActionResult:
    params = check_input(self, "UpdateRepositoryCreationTemplate")
    prefix = params.pop("prefix")
    templates = _templates(self.ecr_backend)
    with _lock:
        current = templates.get(prefix)
        if current is None:
            raise _not_found(prefix, self.current_account)
        updated = {**current, **{k: v for k, v in params.items() if k in _TEMPLATE_FIELDS}}
        # A new mutability replaces the old exclusions unless new ones come with it.
        if "imageTagMutability" in params and "imageTagMutabilityExclusionFilters" not in params:
            updated.pop("imageTagMutabilityExclusionFilters", None)
        updated["updatedAt"] = datetime.now(UTC)
        _check_template(updated, self.current_account)
        templates[prefix] = _drop_empty(updated)
    return ActionResult(
        {"registryId": self.current_account, "repositoryCreationTemplate": templates[prefix]}
    )


def delete_repository_creation_template(self: ECRResponse) -> ActionResult:
    params = check_input(self, "DeleteRepositoryCreationTemplate")
    prefix = params["prefix"]
    with _lock:
        template = _templates(self.ecr_backend).pop(prefix, None)
    if template is None:
        raise _not_found(prefix, self.current_account)
    return ActionResult(
        {"registryId": self.current_account, "repositoryCreationTemplate": template}
    )


def _not_found(prefix: str, account_id: str) -> TemplateNotFoundException:
    return TemplateNotFoundException(
        f"Repository creation template with prefix '{prefix}' does not exist "
        f"in the registry with id '{account_id}'"
    )


# --- account settings ----------------------------------------------------------


def get_account_setting(self: ECRResponse) -> ActionResult:
    params = check_input(self, "GetAccountSetting")
    name = params["name"]
    _allowed, default = _setting(name)
    value = _settings(self.ecr_backend).get(name, default)
    return ActionResult({"name": name, "value": value})


def put_account_setting(self: ECRResponse) -> ActionResult:
    params = check_input(self, "PutAccountSetting")
    name, value = params["name"], params["value"]
    allowed, _default = _setting(name)
    if value not in allowed:
        raise ValidationException(
            f"Value '{value}' at 'value' failed to satisfy constraint: "
            f"Member must satisfy enum value set: [{', '.join(allowed)}]"
        )
    with _lock:
        _settings(self.ecr_backend)[name] = value
    return ActionResult({"name": name, "value": value})


def _setting(name: str) -> tuple[tuple[str, ...], str]:
    if name not in ACCOUNT_SETTINGS:
        raise ValidationException(
            f"Value '{name}' at 'name' failed to satisfy constraint: "
            f"Member must satisfy enum value set: [{', '.join(ACCOUNT_SETTINGS)}]"
        )
    return ACCOUNT_SETTINGS[name]


_OPERATIONS = {
    "create_repository_creation_template": create_repository_creation_template,
    "describe_repository_creation_templates": describe_repository_creation_templates,
    "update_repository_creation_template": update_repository_creation_template,
    "delete_repository_creation_template": delete_repository_creation_template,
    "get_account_setting": get_account_setting,
    "put_account_setting": put_account_setting,
}
