"""CloudTrail for the emulator: ECR and IAM calls become CloudTrail records.

Every ECR and IAM request the emulator serves, allowed or refused, becomes a
record in the format CloudTrail writes (``eventVersion`` 1.08). A record goes
to two places:

- the **event history** of the account and region, which ``LookupEvents``
  (missing from moto) reads; IAM is global and its events land in us-east-1;
- every **trail** that was logging when the call was made: a trail of that
  account that is multi-region, or whose home region is the event's (IAM
  events reach the trails that include global service events), and whose
  event selectors take management events of that kind (read or write; basic
  or advanced selectors; ``ExcludeManagementEventSources``).

Trail records wait in the trail until :func:`flush` (``POST
/moto-api/ecrguard/flush-trail-logs``, ``Emulator.flush_trail_logs``) writes
them to the trail's S3 bucket as CloudTrail does: one gzipped
``{"Records": [...]}`` object per trail and region, named
``[prefix/]AWSLogs/<account>/CloudTrail/<region>/<yyyy>/<mm>/<dd>/<account>_CloudTrail_<region>_<yyyymmddThhmmZ>_<random>.json.gz``.
Nothing is delivered on a timer: a lab flushes before it hunts. Digest files
(log file validation) are not written.

A call into another account's registry (see :mod:`cross_account`) is recorded
in both accounts, each copy with its own ``recipientAccountId``, as CloudTrail
does for cross-account API calls. What is recorded:

- ``requestParameters``: the request as sent (ECR's JSON body; IAM's
  parameters with CloudTrail's lowerCamelCase names);
- ``responseElements``: for calls that change something and succeeded, the
  response (IAM's parsed from XML); ``null`` for read-only calls, as
  CloudTrail writes them. Secret access keys are never recorded;
- ``errorCode``/``errorMessage`` for refused or failed calls.

moto also gets three fixes on the way: a trail with no event selectors answers
``GetEventSelectors`` with CloudTrail's default (all management events);
setting basic selectors clears advanced ones and the other way round; and
``HasCustomEventSelectors`` says whether any were set.
"""

from __future__ import annotations

import gzip
import itertools
import json
import logging
import re
import secrets
import string
import threading
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from moto.cloudtrail.models import CloudTrailBackend, Trail, cloudtrail_backends
from moto.cloudtrail.responses import CloudTrailResponse
from moto.core.exceptions import ServiceException
from moto.core.responses import ActionResult, BaseResponse
from moto.core.utils import get_service_model

from ecrguard.emulator.identity import user_identity
from ecrguard.emulator.routes import add_route
from ecrguard.emulator.state import emulator_state
from ecrguard.emulator.validation import check_input, page

Served = tuple[int, dict[str, Any], Any]

_log = logging.getLogger(__name__)
_SOURCES = {"ecr": "ecr.amazonaws.com", "iam": "iam.amazonaws.com"}
_GLOBAL = {"iam"}  # services whose events are global service events
_GLOBAL_REGION = "us-east-1"
_READ_ONLY = re.compile(r"^(Describe|Get|List|BatchGet|BatchCheck|Simulate)[A-Z]")
_SECRETS = frozenset({"secretAccessKey", "password", "oldPassword", "newPassword"})
_DEFAULT_SELECTORS: list[dict[str, Any]] = [
    {
        "ReadWriteType": "All",
        "IncludeManagementEvents": True,
        "DataResources": [],
        "ExcludeManagementEventSources": [],
    }
]
_ALNUM = string.ascii_letters + string.digits
# Records waiting for delivery, on moto's Trail (gone with the trail or a reset).
_PENDING = "_ecrguard_pending"
_LOOKUP_PAGE = 50

_lock = threading.Lock()
_ID_BASE = uuid.uuid4().int
_ids = itertools.count()


class InvalidLookupAttributesException(ServiceException):
    code = "InvalidLookupAttributesException"


class InvalidTimeRangeException(ServiceException):
    code = "InvalidTimeRangeException"


class InvalidNextTokenException(ServiceException):
    code = "InvalidNextTokenException"


def install() -> None:
    CloudTrailResponse.lookup_events = lookup_events  # type: ignore[attr-defined]
    original_get = CloudTrailBackend.get_event_selectors

    def get_event_selectors(
        self: CloudTrailBackend, trail_name: str
    ) -> tuple[str, list[dict[str, Any]], list[dict[str, Any]]]:
        arn, basic, advanced = original_get(self, trail_name)
        return arn, (basic or ([] if advanced else _DEFAULT_SELECTORS)), advanced

    def put_event_selectors(
        self: Trail, event_selectors: list[dict[str, Any]], advanced: list[dict[str, Any]]
    ) -> None:
        self.event_selectors = list(event_selectors or [])
        self.advanced_event_selectors = [] if event_selectors else list(advanced or [])

    original_description = Trail.description

    def description(self: Trail, include_region: bool = False) -> dict[str, Any]:
        described = original_description(self, include_region)
        described["HasCustomEventSelectors"] = bool(
            self.event_selectors or self.advanced_event_selectors
        )
        return described

    CloudTrailBackend.get_event_selectors = get_event_selectors  # type: ignore[method-assign]
    Trail.description = description  # type: ignore[method-assign]
    Trail.put_event_selectors = put_event_selectors  # type: ignore[method-assign,assignment]
    add_route("flush-trail-logs", lambda request: (200, {"delivered": flush()}))


@dataclass(frozen=True, slots=True)
class Call:
    """What a request leaves behind at call time; the CloudTrail record is built
    from it when someone reads it, so serving a request stays cheap."""

    time: datetime
    seq: int  # numbers the call; its eventID is derived from it when read
    identity: dict[str, Any]
    service: str
    action: str
    region: str
    read_only: bool
    status: int
    request: Any  # ECR: the JSON body text; IAM: moto's parsed parameters
    response: str  # the body, kept only for a successful call that changes something
    user_agent: str
    request_id: str
    source_ip: str
    caller: str
    owner: str  # the account whose registry answered


def recorded(call_action: Callable[[Any], Served]) -> Callable[[Any], Served]:
    """Wrap a response class's ``call_action`` so each call is recorded."""

    def call(self: BaseResponse) -> Served:
        caller = self.current_account  # before a cross-account call moves it
        started = datetime.now(UTC)
        try:
            served = call_action(self)
        except Exception:
            _record_safely(self, caller, started, 500, "")
            raise
        _record_safely(self, caller, started, served[0], served[2])
        return served

    return call


def _record_safely(
    self: BaseResponse, caller: str, started: datetime, status: int, body: Any
) -> None:
    # The audit log must never change what the caller gets back.
    try:
        record(self, caller, started, status, body)
    except Exception:
        _log.exception("could not record a CloudTrail event")


def record(self: BaseResponse, caller: str, started: datetime, status: int, body: Any) -> None:
    service = str(self.service_name)
    action = self._get_action()
    read_only = bool(_READ_ONLY.match(action))
    keep = not read_only and status < 400
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body or "")
    region = _GLOBAL_REGION if service in _GLOBAL else self.region
    call = Call(
        time=started,
        seq=next(_ids),
        identity=user_identity(self, caller),
        service=service,
        action=action,
        region=region,
        read_only=read_only,
        status=status,
        request=getattr(self, "params", None) if service == "iam" else self.body,
        # An error body is kept whatever the call, for errorCode and errorMessage.
        response=text if keep or status >= 400 else "",
        user_agent=self.headers.get("User-Agent", ""),
        request_id=self.response_headers.get("x-amzn-requestid") or "",
        source_ip=getattr(self.normalized_request, "remote_addr", None) or "127.0.0.1",
        caller=caller,
        owner=self.current_account,
    )
    for account in dict.fromkeys((call.owner, caller)):
        _deliver(call, account)


def event(call: Call, recipient: str) -> dict[str, Any]:
    """The CloudTrail record of ``call`` as delivered to ``recipient``'s account."""
    record: dict[str, Any] = {
        "eventVersion": "1.08",
        "userIdentity": call.identity,
        "eventTime": call.time.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "eventSource": _SOURCES[call.service],
        "eventName": call.action,
        "awsRegion": call.region,
        "sourceIPAddress": call.source_ip,
        "userAgent": call.user_agent,
    }
    error = _error(call.status, call.response)
    if error is not None:
        record["errorCode"], record["errorMessage"] = error
    params = _request_parameters(call)
    record["requestParameters"] = params
    record["responseElements"] = (
        None
        if call.read_only or error is not None
        else _response_elements(call.service, call.action, call.response)
    )
    shared = _event_id(call.seq)
    record["requestID"] = call.request_id or shared
    record["eventID"] = (
        shared if recipient == call.owner else str(uuid.uuid5(uuid.UUID(shared), recipient))
    )
    record["readOnly"] = call.read_only
    resources = _resources(call.service, params, call.region, call.owner)
    if resources:
        record["resources"] = resources
    record["eventType"] = "AwsApiCall"
    record["managementEvent"] = True
    record["recipientAccountId"] = recipient
    if call.caller != call.owner:
        # Both accounts' copies of a cross-account call share this id.
        record["sharedEventID"] = shared
    record["eventCategory"] = "Management"
    return record


def _event_id(seq: int) -> str:
    # uuid4 reads the OS's randomness (0.1 ms here, on every request); one
    # random base plus the call's number is as unique within the emulator.
    return str(uuid.UUID(int=(_ID_BASE + seq) % (1 << 128)))


def _error(status: int, text: str) -> tuple[str, str] | None:
    if status < 400:
        return None
    code = message = ""
    try:
        parsed = json.loads(text)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict):
        code = str(parsed.get("__type", "")).rsplit("#", 1)[-1]
        message = str(parsed.get("message") or parsed.get("Message") or "")
    else:
        found = re.search(r"<Code>([^<]*)</Code>", text)
        code = found.group(1) if found else ""
        found = re.search(r"<Message>([^<]*)</Message>", text)
        message = found.group(1) if found else ""
    return (code or ("InternalFailure" if status >= 500 else "ClientError")), message


def _request_parameters(call: Call) -> Any:
    if call.service == "iam":
        return _camel(_plain(dict(call.request or {}))) or None
    try:
        parsed = json.loads(call.request) if call.request else None
    except ValueError:
        return None
    return _plain(parsed) if parsed else None


def _response_elements(service: str, action: str, text: str) -> Any:
    if not text:
        return None
    if service == "iam":
        from botocore.parsers import QueryParser

        shape = get_service_model("iam").operation_model(action).output_shape
        if shape is None:
            return None
        parsed = QueryParser().parse(
            {"body": text.encode(), "headers": {}, "status_code": 200}, shape
        )
        parsed.pop("ResponseMetadata", None)
        return _camel(_plain(parsed)) or None
    try:
        return _plain(json.loads(text)) or None
    except ValueError:
        return None


def _camel(value: Any) -> Any:
    """CloudTrail names IAM's parameters in lowerCamelCase (PolicyDocument -> policyDocument)."""
    if isinstance(value, dict):
        return {(k[:1].lower() + k[1:]): _camel(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_camel(v) for v in value]
    return value


def _plain(value: Any) -> Any:
    """JSON-ready: times as CloudTrail writes them, and no secrets."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if k[:1].lower() + k[1:] not in _SECRETS}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return value


def _resources(service: str, params: Any, region: str, owner: str) -> list[dict[str, str]]:
    if service != "ecr" or not isinstance(params, dict):
        return []
    name = params.get("repositoryName")
    if not isinstance(name, str):
        return []
    given = params.get("registryId")
    registry = given if isinstance(given, str) else owner
    arn = f"arn:aws:ecr:{region}:{registry}:repository/{name}"
    return [{"accountId": registry, "ARN": arn}]


# --- where records go ----------------------------------------------------------------


def _deliver(call: Call, account: str) -> None:
    # Plain dict reads: an account without trails has no CloudTrail backend,
    # and looking one up through BackendDict would create it on every call.
    regions = dict.get(cloudtrail_backends, account)
    with _lock:
        emulator_state().event_history.setdefault((account, call.region), []).append(
            (call, account)
        )
        for backend in list(regions.values()) if regions is not None else ():
            for trail in list(backend.trails.values()):
                if _takes(trail, call):
                    trail.__dict__.setdefault(_PENDING, []).append((call, account))


def _takes(trail: Trail, call: Call) -> bool:
    if not trail.status.is_logging:
        return False
    region, read_only, source = call.region, call.read_only, _SOURCES[call.service]
    if call.service in _GLOBAL:
        if not trail.include_global_service_events:
            return False
    elif not (trail.is_multi_region or trail.region_name == region):
        return False
    if trail.advanced_event_selectors:
        return any(_advanced_takes(s, read_only, source) for s in trail.advanced_event_selectors)
    return any(
        s.get("IncludeManagementEvents", True)
        and s.get("ReadWriteType", "All") in ("All", "ReadOnly" if read_only else "WriteOnly")
        and source not in (s.get("ExcludeManagementEventSources") or ())
        for s in trail.event_selectors or _DEFAULT_SELECTORS
    )


def _advanced_takes(selector: dict[str, Any], read_only: bool, source: str) -> bool:
    fields = {f.get("Field"): f for f in selector.get("FieldSelectors") or ()}
    category = fields.get("eventCategory") or {}
    if "Management" not in (category.get("Equals") or ()):
        return False
    flag = fields.get("readOnly") or {}
    if flag.get("Equals") and str(read_only).lower() not in [v.lower() for v in flag["Equals"]]:
        return False
    sources = fields.get("eventSource") or {}
    if sources.get("Equals") and source not in sources["Equals"]:
        return False
    return source not in (sources.get("NotEquals") or ())


def flush() -> list[dict[str, Any]]:
    """Write every trail's waiting records to its bucket; what was written, per object."""
    from moto.s3.models import s3_backends

    delivered = []
    now = datetime.now(UTC)
    trails: list[Trail] = [
        trail
        for backends in list(cloudtrail_backends.values())
        for backend in list(backends.values())
        for trail in backend.trails.values()
    ]
    for trail in trails:
        with _lock:
            waiting: list[tuple[Call, str]] = trail.__dict__.pop(_PENDING, [])
        for region, records in _by_region(waiting).items():
            account = trail.account_id
            name = (
                f"{account}_CloudTrail_{region}_{now:%Y%m%dT%H%MZ}_"
                f"{''.join(secrets.choice(_ALNUM) for _ in range(16))}.json.gz"
            )
            prefix = f"{trail.s3_key_prefix.strip('/')}/" if trail.s3_key_prefix else ""
            key = f"{prefix}AWSLogs/{account}/CloudTrail/{region}/{now:%Y/%m/%d}/{name}"
            # default=str: a parameter type JSON lacks must not lose a whole file.
            body = gzip.compress(json.dumps({"Records": records}, default=str).encode())
            outcome: dict[str, Any] = {
                "trail": trail.arn,
                "bucket": trail.bucket_name,
                "key": key,
                "records": len(records),
            }
            try:
                s3_backends[account][trail.partition].put_object(trail.bucket_name, key, body)
            except Exception as err:  # a deleted bucket: CloudTrail's delivery fails too
                outcome["error"] = f"{type(err).__name__}: {err}"
            delivered.append(outcome)
    return delivered


def _by_region(waiting: Iterable[tuple[Call, str]]) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = {}
    for call, recipient in waiting:
        grouped.setdefault(call.region, []).append(event(call, recipient))
    return grouped


# --- LookupEvents over the event history ------------------------------------------------

_ATTRIBUTES: dict[str, Callable[[dict[str, Any]], Iterable[str]]] = {
    "EventId": lambda e: (e["eventID"],),
    "EventName": lambda e: (e["eventName"],),
    "ReadOnly": lambda e: (str(e["readOnly"]).lower(),),
    "Username": lambda e: (_username(e),),
    "EventSource": lambda e: (e["eventSource"],),
    "AccessKeyId": lambda e: (e["userIdentity"].get("accessKeyId", ""),),
    "ResourceType": lambda e: tuple(r["ResourceType"] for r in _lookup_resources(e)),
    "ResourceName": lambda e: tuple(r["ResourceName"] for r in _lookup_resources(e)),
}


def lookup_events(self: CloudTrailResponse) -> ActionResult:
    params = check_input(self, "LookupEvents", "cloudtrail")
    attributes = params.get("LookupAttributes") or []
    if len(attributes) > 1:
        raise InvalidLookupAttributesException("You cannot use more than one lookup attribute.")
    start, end = _when(params.get("StartTime")), _when(params.get("EndTime"))
    if start and end and start > end:
        raise InvalidTimeRangeException("Start time must not be after end time.")
    if params.get("EventCategory") == "insight":
        return ActionResult({"Events": []})  # no Insights in the emulator
    with _lock:
        history = list(emulator_state().event_history.get((self.current_account, self.region), ()))
    events = []
    for call, recipient in reversed(history):  # newest first, as CloudTrail lists them
        moment = call.time.replace(microsecond=0)
        if (start and moment < start) or (end and moment > end):
            continue
        record = event(call, recipient)
        if attributes:
            wanted = attributes[0]
            if wanted["AttributeValue"] not in _ATTRIBUTES[wanted["AttributeKey"]](record):
                continue
        events.append((moment, record))
    shown, token = page(
        events,
        params.get("MaxResults", _LOOKUP_PAGE),
        params.get("NextToken"),
        InvalidNextTokenException,
    )
    result: dict[str, Any] = {
        "Events": [
            {
                "EventId": event["eventID"],
                "EventName": event["eventName"],
                "ReadOnly": str(event["readOnly"]).lower(),
                "AccessKeyId": event["userIdentity"].get("accessKeyId"),
                "EventTime": moment,
                "EventSource": event["eventSource"],
                "Username": _username(event),
                "Resources": _lookup_resources(event),
                "CloudTrailEvent": json.dumps(event, default=str),
            }
            for moment, event in shown
        ]
    }
    if token:
        result["NextToken"] = token
    return ActionResult(result)


def _when(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def _username(event: dict[str, Any]) -> str:
    identity = event["userIdentity"]
    if identity.get("type") == "Root":
        return "root"
    if identity.get("type") == "AssumedRole":
        return str(identity.get("arn", "")).rsplit("/", 1)[-1]
    return str(identity.get("userName", ""))


_IAM_RESOURCES = (
    ("roleName", "AWS::IAM::Role"),
    ("userName", "AWS::IAM::User"),
    ("policyArn", "AWS::IAM::Policy"),
)


def _lookup_resources(event: dict[str, Any]) -> list[dict[str, str]]:
    params = event.get("requestParameters")
    if not isinstance(params, dict):
        return []
    if event["eventSource"] == _SOURCES["ecr"]:
        name = params.get("repositoryName")
        return (
            [{"ResourceType": "AWS::ECR::Repository", "ResourceName": name}]
            if isinstance(name, str)
            else []
        )
    return [
        {"ResourceType": kind, "ResourceName": params[key]}
        for key, kind in _IAM_RESOURCES
        if isinstance(params.get(key), str)
    ]
