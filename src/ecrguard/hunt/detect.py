"""Detections over CloudTrail ECR events.

Each detection reads only the fields it needs from a record; nothing here
prints a whole ``requestParameters`` (an image manifest, a policy) back out.

Trust: a record's owner is its ``recipientAccountId`` (the account whose trail
received it). The trusted set is that owner, ``--owner-account`` and
``--trusted-account``. CloudTrail records carry the caller's account but not
its organisation, so organisation members count as trusted only when listed
with ``--trusted-account``; ``--org-id`` is used where a policy names the
organisation (``aws:PrincipalOrgID``), which the policy engine judges.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from ecrguard.errors import PolicyParseError
from ecrguard.model import Severity
from ecrguard.policy import REGISTRY_V2_LEVELS, REPOSITORY_LEVELS, Audience, exposure

ECR_SOURCE = "ecr.amazonaws.com"
MUTABLE = frozenset({"MUTABLE", "MUTABLE_WITH_EXCLUSION"})
# When nothing says who owns a registry, a placeholder no policy names keeps
# every named account foreign (as the IaC rules do).
UNKNOWN_OWNER = "000000000000"
_ACCOUNT = re.compile(r"\d{12}")


class Malformed(Exception):
    """A record that is not shaped like a CloudTrail event."""


@dataclass(frozen=True, slots=True)
class Trust:
    owner_accounts: tuple[str, ...] = ()
    trusted_accounts: tuple[str, ...] = ()
    org_id: str | None = None

    def accounts_for(self, event: Event) -> frozenset[str]:
        mine = {*self.owner_accounts, *self.trusted_accounts}
        if event.recipient:
            mine.add(event.recipient)
        return frozenset(mine)


@dataclass(frozen=True, slots=True)
class Event:
    """The fields of one CloudTrail record that the detections read."""

    name: str
    source: str
    time: datetime
    region: str | None
    account: str | None  # the caller's account
    arn: str | None
    source_ip: str | None
    recipient: str | None  # the account whose trail holds the record
    error: str | None
    request: Mapping[str, Any]
    response: Mapping[str, Any]
    event_id: str | None
    resources: tuple[str, ...]
    file: str

    @classmethod
    def parse(cls, raw: Any, file: str) -> Event:
        if not isinstance(raw, dict):
            raise Malformed("not an object")
        name, source, when = raw.get("eventName"), raw.get("eventSource"), raw.get("eventTime")
        if not (isinstance(name, str) and name and isinstance(source, str)):
            raise Malformed("no eventName/eventSource")
        if not isinstance(when, str):
            raise Malformed("no eventTime")
        try:
            time = datetime.fromisoformat(when)
        except ValueError:
            raise Malformed(f"eventTime {when[:40]!r} is not a time") from None
        if time.tzinfo is None:
            time = time.replace(tzinfo=UTC)
        identity = raw.get("userIdentity")
        identity = identity if isinstance(identity, dict) else {}
        arn = _text(identity, "arn")
        account = _text(identity, "accountId") or _arn_account(arn)
        resources = raw.get("resources")
        return cls(
            name=name,
            source=source,
            time=time.astimezone(UTC),
            region=_text(raw, "awsRegion"),
            account=account,
            arn=arn,
            source_ip=_text(raw, "sourceIPAddress"),
            recipient=_text(raw, "recipientAccountId"),
            error=_text(raw, "errorCode"),
            request=_section(raw, "requestParameters"),
            response=_section(raw, "responseElements"),
            event_id=_text(raw, "eventID"),
            resources=tuple(
                r["ARN"]
                for r in (resources if isinstance(resources, list) else ())
                if isinstance(r, dict) and isinstance(r.get("ARN"), str)
            ),
            file=file,
        )

    @property
    def when(self) -> str:
        return self.time.strftime("%Y-%m-%dT%H:%M:%SZ")

    def registry(self) -> str | None:
        return _text(self.request, "registryId") or self.recipient

    def repository_arn(self) -> str | None:
        for arn in self.resources:
            if ":repository/" in arn:
                return arn
        name = _text(self.request, "repositoryName")
        if not name:
            return None
        return f"arn:aws:ecr:{self.region or '?'}:{self.registry() or '?'}:repository/{name}"

    def registry_arn(self) -> str:
        registry = self.registry() or "?"
        return f"arn:aws:ecr:{self.region or '?'}:{registry}:registry/{registry}"


def _text(d: Mapping[str, Any], key: str) -> str | None:
    value = d.get(key)
    return value if isinstance(value, str) and value else None


def _section(raw: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = raw.get(key)
    if value is None:
        return {}  # CloudTrail writes null for a call without parameters
    if not isinstance(value, dict):
        raise Malformed(f"{key} is not an object")
    return value


def _arn_account(arn: str | None) -> str | None:
    parts = (arn or "").split(":")
    return parts[4] if len(parts) > 5 and _ACCOUNT.fullmatch(parts[4]) else None


@dataclass(frozen=True, slots=True)
class HuntFinding:
    detection: str
    severity: Severity
    event_time: str
    event_name: str
    region: str | None
    principal_arn: str | None
    principal_account: str | None
    source_ip: str | None
    resource: str | None
    message: str
    event_id: str | None
    file: str
    count: int = 1

    @classmethod
    def at(
        cls, event: Event, detection: str, severity: Severity, resource: str | None, message: str
    ) -> HuntFinding:
        return cls(
            detection=detection,
            severity=severity,
            event_time=event.when,
            event_name=event.name,
            region=event.region,
            principal_arn=event.arn,
            principal_account=event.account,
            source_ip=event.source_ip,
            resource=resource,
            message=message,
            event_id=event.event_id,
            file=event.file,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "detection": self.detection,
            "severity": self.severity.value,
            "event_time": self.event_time,
            "event_name": self.event_name,
            "region": self.region,
            "principal_arn": self.principal_arn,
            "principal_account": self.principal_account,
            "source_ip": self.source_ip,
            "resource": self.resource,
            "message": self.message,
            "count": self.count,
            "event_id": self.event_id,
            "file": self.file,
        }


# ---- the hunter ----------------------------------------------------------------------


@dataclass(slots=True)
class _Pulls:
    first: Event
    names: Counter[str] = field(default_factory=Counter)


@dataclass(frozen=True, slots=True)
class _TagOp:
    """A change to which digest a tag names, replayed in time order at the end."""

    time: datetime
    seq: int
    kind: str  # "put", "delete" (images) or "drop" (the repository)
    repo: str
    event: Event
    tags: tuple[str, ...] = ()
    digests: tuple[str, ...] = ()


class Hunter:
    """Feed it events in any order; :meth:`finish` returns the findings.

    Stateless detections fire as events arrive. Tag overwrites need time order
    across files, so pushes and deletes are kept as small records (request and
    response dropped) and replayed sorted by event time at the end.
    """

    def __init__(self, trust: Trust) -> None:
        self.trust = trust
        self.findings: list[HuntFinding] = []
        self._pulls: dict[tuple[Any, ...], _Pulls] = {}
        self._tag_ops: list[_TagOp] = []

    def feed(self, event: Event) -> None:
        if event.source != ECR_SOURCE:
            return
        handler = _HANDLERS.get(event.name)
        if handler is not None:
            handler(self, event)

    def finish(self) -> list[HuntFinding]:
        out = [*self.findings, *self._pull_findings(), *self._overwrites()]
        return sorted(out, key=lambda f: (f.event_time, -f.severity.rank, f.detection))

    # -- pulls by accounts outside the trusted set

    def _pull(self, event: Event) -> None:
        # AWS services pulling for the owner (Lambda, replication) carry no account.
        if event.account is None or event.account in self.trust.accounts_for(event):
            return
        key = (
            event.arn,
            event.account,
            event.repository_arn(),
            event.region,
            event.source_ip,
            event.error,
        )
        group = self._pulls.get(key)
        if group is None:
            group = self._pulls[key] = _Pulls(_light(event))
        elif event.time < group.first.time:
            group.first = _light(event)
        group.names[event.name] += 1

    def _pull_findings(self) -> Iterable[HuntFinding]:
        for group in self._pulls.values():
            ev, count = group.first, sum(group.names.values())
            calls = ", ".join(f"{n} x{c}" for n, c in sorted(group.names.items()))
            repo = f"repository {_name(ev.repository_arn())}"
            owner = ev.registry() or "?"
            if ev.error:
                severity = Severity.LOW
                text = (
                    f"account {ev.account}, outside the trusted accounts, tried to pull from "
                    f"{repo} of account {owner} and was refused ({ev.error}; {calls})"
                )
            else:
                severity = Severity.HIGH
                text = (
                    f"account {ev.account}, outside the trusted accounts, pulled from {repo} of "
                    f"account {owner} ({calls})"
                )
            yield replace(
                HuntFinding.at(ev, "external-pull", severity, ev.repository_arn(), text),
                count=count,
            )

    # -- policies that open a repository or the registry

    def _policy(self, event: Event) -> None:
        if event.error:
            return
        text = event.request.get("policyText")
        if not isinstance(text, str):
            raise Malformed("policyText missing")
        registry = event.name == "PutRegistryPolicy"
        resource = event.registry_arn() if registry else event.repository_arn()
        what = "the registry" if registry else f"repository {_name(resource)}"
        owner = event.registry() or next(iter(self.trust.owner_accounts), None)
        owner = owner if owner and _ACCOUNT.fullmatch(owner) else UNKNOWN_OWNER
        trusted = sorted(
            a for a in self.trust.accounts_for(event) if a != owner and _ACCOUNT.fullmatch(a)
        )
        try:
            exp = exposure(
                text,
                owner,
                org_id=self.trust.org_id,
                trusted=trusted,
                # The log does not say whether REGISTRY_POLICY_SCOPE is V1 or V2;
                # V2 (repository actions count too) is the wider reading.
                levels=REGISTRY_V2_LEVELS if registry else REPOSITORY_LEVELS,
            )
        except PolicyParseError as err:
            # Unjudged is not safe: say so rather than drop the change.
            self.findings.append(
                HuntFinding.at(
                    event,
                    "policy-unjudged",
                    Severity.MEDIUM,
                    resource,
                    f"{event.name} set a policy on {what} that could not be judged: {err}",
                )
            )
            return
        public = [lv for lv, a in exp.levels.items() if a is Audience.PUBLIC]
        external = [lv for lv, a in exp.levels.items() if a is Audience.EXTERNAL]
        if public:
            why = exp.reasons.get(public[0], "")
            self.findings.append(
                HuntFinding.at(
                    event,
                    "policy-public",
                    Severity.CRITICAL,
                    resource,
                    f"{event.name} made {what} open to any AWS account for "
                    f"{', '.join(public)}" + (f" ({why})" if why else ""),
                )
            )
        elif external:
            accounts = ", ".join(exp.external_accounts) or "accounts outside the trusted set"
            why = exp.reasons.get(external[0], "")
            self.findings.append(
                HuntFinding.at(
                    event,
                    "policy-external",
                    Severity.HIGH,
                    resource,
                    f"{event.name} granted {', '.join(external)} on {what} to {accounts}"
                    + (f" ({why})" if why else ""),
                )
            )

    # -- tags that move to another image

    def _put_image(self, event: Event) -> None:
        if event.error:
            return
        image = event.response.get("image")
        image_id = image.get("imageId") if isinstance(image, dict) else None
        image_id = image_id if isinstance(image_id, dict) else {}
        tag = _text(event.request, "imageTag") or _text(image_id, "imageTag")
        digest = _text(image_id, "imageDigest")
        repo = event.repository_arn()
        if tag and digest and repo:
            self._tag_op(event, "put", repo, (tag,), (digest,))

    def _batch_delete(self, event: Event) -> None:
        repo = event.repository_arn()
        ids = event.response.get("imageIds")
        if event.error or not repo or not isinstance(ids, list):
            return
        tags = tuple(t for i in ids if isinstance(i, dict) and (t := _text(i, "imageTag")))
        digests = tuple(
            d
            for i in ids
            if isinstance(i, dict) and (d := _text(i, "imageDigest")) and not _text(i, "imageTag")
        )
        self._tag_op(event, "delete", repo, tags, digests)

    def _tag_op(
        self, event: Event, kind: str, repo: str, tags: tuple[str, ...], digests: tuple[str, ...]
    ) -> None:
        self._tag_ops.append(
            _TagOp(event.time, len(self._tag_ops), kind, repo, _light(event), tags, digests)
        )

    def _overwrites(self) -> Iterable[HuntFinding]:
        state: dict[str, dict[str, str]] = {}
        for op in sorted(self._tag_ops, key=lambda o: (o.time, o.seq)):
            tags = state.setdefault(op.repo, {})
            if op.kind == "drop":
                tags.clear()
            elif op.kind == "delete":
                for tag in op.tags:
                    tags.pop(tag, None)
                for tag in [t for t, d in tags.items() if d in op.digests]:
                    del tags[tag]
            else:
                tag, digest = op.tags[0], op.digests[0]
                before = tags.get(tag)
                tags[tag] = digest
                if before is not None and before != digest:
                    yield HuntFinding.at(
                        op.event,
                        "tag-overwrite",
                        Severity.HIGH,
                        op.repo,
                        f"tag {tag!r} in repository {_name(op.repo)} moved from "
                        f"{_short(before)} to {_short(digest)}: anyone pulling {tag!r} now gets "
                        "another image",
                    )

    # -- repositories deleted

    def _delete_repository(self, event: Event) -> None:
        if event.error:
            return
        repo = event.repository_arn()
        forced = event.request.get("force") is True
        self.findings.append(
            HuntFinding.at(
                event,
                "repository-deleted",
                Severity.HIGH,
                repo,
                f"repository {_name(repo)} was deleted"
                + (" with force, images included" if forced else ""),
            )
        )
        if repo:
            self._tag_op(event, "drop", repo, (), ())

    # -- replication to foreign accounts

    def _replication(self, event: Event) -> None:
        if event.error:
            return
        config = event.request.get("replicationConfiguration")
        rules = config.get("rules") if isinstance(config, dict) else None
        if not isinstance(rules, list):
            raise Malformed("replicationConfiguration.rules missing")
        mine = self.trust.accounts_for(event)
        foreign = []
        for rule in rules:
            for dest in rule.get("destinations") or ():
                account = dest.get("registryId")
                if isinstance(account, str) and account not in mine:
                    foreign.append(f"{account} ({dest.get('region') or '?'})")
        if foreign:
            self.findings.append(
                HuntFinding.at(
                    event,
                    "replication-foreign",
                    Severity.HIGH,
                    event.registry_arn(),
                    "replication now copies every matching image to accounts outside the "
                    f"trusted set: {', '.join(dict.fromkeys(foreign))}",
                )
            )

    # -- tags made mutable again

    def _mutability(self, event: Event) -> None:
        value = _text(event.request, "imageTagMutability")
        if event.error or value not in MUTABLE:
            return
        repo = event.repository_arn()
        self.findings.append(
            HuntFinding.at(
                event,
                "tags-made-mutable",
                Severity.MEDIUM,
                repo,
                f"repository {_name(repo)} tags set to {value}: a push can now move an existing "
                "tag to another image",
            )
        )


_HANDLERS: dict[str, Callable[[Hunter, Event], None]] = {
    "BatchGetImage": Hunter._pull,
    "GetDownloadUrlForLayer": Hunter._pull,
    "SetRepositoryPolicy": Hunter._policy,
    "PutRegistryPolicy": Hunter._policy,
    "PutImage": Hunter._put_image,
    "BatchDeleteImage": Hunter._batch_delete,
    "DeleteRepository": Hunter._delete_repository,
    "PutReplicationConfiguration": Hunter._replication,
    "PutImageTagMutability": Hunter._mutability,
}


def _light(event: Event) -> Event:
    """The event without its request and response, for state kept until the end.

    Only the names that locate the repository stay: a PutImage request also holds
    the whole image manifest, which thousands of pushes would keep in memory.
    """
    kept = {k: event.request[k] for k in ("repositoryName", "registryId") if k in event.request}
    return replace(event, request=kept, response={})


def _name(arn: str | None) -> str:
    return arn.split(":repository/", 1)[-1] if arn else "?"


def _short(digest: str) -> str:
    algo, _, hexa = digest.partition(":")
    return f"{algo}:{hexa[:12]}" if hexa else digest[:19]
