"""CloudTrail records of the emulator's ECR and IAM calls, delivered to trail buckets."""

from __future__ import annotations

import gzip
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError
from emulator_images import manifest

from ecrguard.emulator import OUTSIDER_ACCOUNT, Emulator

ACCOUNT = "123456789012"
BUCKET = "audit-logs"
KEY = re.compile(
    rf"^(?P<prefix>.*)AWSLogs/{ACCOUNT}/CloudTrail/(?P<region>[a-z0-9-]+)/\d{{4}}/\d{{2}}/\d{{2}}/"
    rf"{ACCOUNT}_CloudTrail_(?P=region)_\d{{8}}T\d{{4}}Z_[A-Za-z0-9]{{16}}\.json\.gz$"
)
PUBLIC_PULL = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": "*", "Action": ["ecr:BatchGetImage"]},
        ],
    }
)


@pytest.fixture
def emu(emulator: Emulator) -> Emulator:
    emulator.reset()
    emulator.client("s3").create_bucket(Bucket=BUCKET)
    return emulator


def trail(emu: Emulator, name: str = "audit", region: str = "us-east-1", **options: Any) -> Any:
    cloudtrail = emu.client("cloudtrail", region)
    cloudtrail.create_trail(Name=name, S3BucketName=BUCKET, **options)
    cloudtrail.start_logging(Name=name)
    return cloudtrail


def delivered(emu: Emulator) -> list[dict[str, Any]]:
    """Flush, then read back the records of the files just written."""
    s3 = emu.client("s3")
    records = []
    for written in emu.flush_trail_logs():
        body = s3.get_object(Bucket=written["bucket"], Key=written["key"])["Body"].read()
        records.extend(json.loads(gzip.decompress(body))["Records"])
    return records


def test_a_logging_trail_receives_cloudtrail_log_files(emu: Emulator) -> None:
    trail(emu, IsMultiRegionTrail=True, S3KeyPrefix="org")
    ecr = emu.client("ecr")
    ecr.create_repository(repositoryName="app")
    ecr.describe_repositories()

    files = emu.flush_trail_logs()

    (written,) = files
    assert written["trail"] == f"arn:aws:cloudtrail:us-east-1:{ACCOUNT}:trail/audit"
    assert (written["bucket"], written["records"]) == (BUCKET, 2)
    match = KEY.match(written["key"])
    assert match and (match["prefix"], match["region"]) == ("org/", "us-east-1")
    body = emu.client("s3").get_object(Bucket=BUCKET, Key=written["key"])["Body"].read()
    create, describe = json.loads(gzip.decompress(body))["Records"]
    assert create["eventVersion"] == "1.08"
    assert create["eventSource"] == "ecr.amazonaws.com"
    assert (create["eventName"], create["awsRegion"]) == ("CreateRepository", "us-east-1")
    assert create["userIdentity"] == {
        "type": "Root",
        "principalId": ACCOUNT,
        "arn": f"arn:aws:iam::{ACCOUNT}:root",
        "accountId": ACCOUNT,
        "accessKeyId": create["userIdentity"]["accessKeyId"],
    }
    assert create["requestParameters"] == {"repositoryName": "app"}
    assert create["responseElements"]["repository"]["repositoryName"] == "app"
    assert create["resources"] == [
        {"accountId": ACCOUNT, "ARN": f"arn:aws:ecr:us-east-1:{ACCOUNT}:repository/app"}
    ]
    assert (create["readOnly"], describe["readOnly"]) == (False, True)
    assert describe["responseElements"] is None
    assert create["sourceIPAddress"] == "127.0.0.1"
    assert "Boto3" in create["userAgent"] or "botocore" in create["userAgent"]
    assert create["eventType"] == "AwsApiCall" and create["managementEvent"] is True
    assert (create["recipientAccountId"], create["eventCategory"]) == (ACCOUNT, "Management")
    assert create["eventID"] != describe["eventID"] and create["requestID"]
    moment = datetime.fromisoformat(create["eventTime"].replace("Z", "+00:00"))
    assert abs(datetime.now(UTC) - moment) < timedelta(minutes=1)
    assert emu.flush_trail_logs() == []  # delivered once


def test_a_push_records_the_tag_and_the_digest_it_got(emu: Emulator) -> None:
    trail(emu)
    ecr = emu.client("ecr")
    ecr.create_repository(repositoryName="app")

    pushed = ecr.put_image(repositoryName="app", imageManifest=manifest("v1"), imageTag="v1.0")

    (put,) = [r for r in delivered(emu) if r["eventName"] == "PutImage"]
    assert put["requestParameters"]["imageTag"] == "v1.0"
    assert json.loads(put["requestParameters"]["imageManifest"])["schemaVersion"] == 2
    assert (
        put["responseElements"]["image"]["imageId"]["imageDigest"]
        == pushed["image"]["imageId"]["imageDigest"]
    )


def test_refused_calls_carry_the_error(emu: Emulator) -> None:
    trail(emu)

    with pytest.raises(ClientError):
        emu.client("ecr").delete_repository(repositoryName="missing")

    (deleted,) = delivered(emu)
    assert deleted["errorCode"] == "RepositoryNotFoundException"
    assert "missing" in deleted["errorMessage"]
    assert deleted["responseElements"] is None


def test_calls_before_logging_started_or_after_it_stopped_are_not_delivered(
    emu: Emulator,
) -> None:
    ecr = emu.client("ecr")
    ecr.create_repository(repositoryName="before")
    cloudtrail = trail(emu)
    ecr.create_repository(repositoryName="during")
    cloudtrail.stop_logging(Name="audit")
    ecr.create_repository(repositoryName="after")

    names = [r["requestParameters"]["repositoryName"] for r in delivered(emu)]

    assert names == ["during"]


def test_a_single_region_trail_sees_its_region_only(emu: Emulator) -> None:
    trail(emu, region="eu-west-1")
    emu.client("ecr", "us-east-1").create_repository(repositoryName="east")
    emu.client("ecr", "eu-west-1").create_repository(repositoryName="west")

    records = delivered(emu)

    assert [(r["awsRegion"], r["requestParameters"]["repositoryName"]) for r in records] == [
        ("eu-west-1", "west")
    ]


def test_a_multi_region_trail_writes_one_file_per_region(emu: Emulator) -> None:
    trail(emu, IsMultiRegionTrail=True)
    emu.client("ecr", "us-east-1").create_repository(repositoryName="east")
    emu.client("ecr", "eu-west-1").create_repository(repositoryName="west")

    files = emu.flush_trail_logs()

    assert sorted(KEY.match(f["key"])["region"] for f in files) == ["eu-west-1", "us-east-1"]  # type: ignore[index]


def test_event_selectors_decide_what_is_recorded(emu: Emulator) -> None:
    cloudtrail = trail(emu)
    default = cloudtrail.get_event_selectors(TrailName="audit")
    assert default["EventSelectors"] == [
        {
            "ReadWriteType": "All",
            "IncludeManagementEvents": True,
            "DataResources": [],
            "ExcludeManagementEventSources": [],
        }
    ]
    cloudtrail.put_event_selectors(
        TrailName="audit",
        EventSelectors=[{"ReadWriteType": "WriteOnly", "IncludeManagementEvents": True}],
    )
    ecr = emu.client("ecr")
    ecr.create_repository(repositoryName="written")
    ecr.describe_repositories()
    writes = [r["eventName"] for r in delivered(emu)]
    cloudtrail.put_event_selectors(
        TrailName="audit",
        AdvancedEventSelectors=[
            {
                "Name": "reads only",
                "FieldSelectors": [
                    {"Field": "eventCategory", "Equals": ["Management"]},
                    {"Field": "readOnly", "Equals": ["true"]},
                ],
            }
        ],
    )
    ecr.create_repository(repositoryName="unseen")
    ecr.describe_repositories()
    reads = [r["eventName"] for r in delivered(emu)]

    assert writes == ["CreateRepository"]
    assert reads == ["DescribeRepositories"]
    assert cloudtrail.get_event_selectors(TrailName="audit")["EventSelectors"] == []


def test_iam_calls_are_global_events_without_secrets(emu: Emulator) -> None:
    trail(emu, region="eu-west-1")  # a single-region trail still gets global service events
    iam = emu.client("iam")
    iam.create_user(UserName="ci")
    key = iam.create_access_key(UserName="ci")["AccessKey"]
    ci_ecr = emu.session(access_key=key["AccessKeyId"], secret=key["SecretAccessKey"]).client(
        "ecr", endpoint_url=emu.endpoint_url
    )
    ci_ecr.describe_repositories()

    user, access_key = delivered(emu)

    assert (user["eventSource"], user["awsRegion"]) == ("iam.amazonaws.com", "us-east-1")
    assert user["requestParameters"] == {"userName": "ci"}
    assert access_key["responseElements"]["accessKey"]["accessKeyId"] == key["AccessKeyId"]
    assert "secretAccessKey" not in json.dumps(access_key)
    assert key["SecretAccessKey"] not in json.dumps(access_key)
    history = emu.client("cloudtrail").lookup_events(
        LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "DescribeRepositories"}]
    )["Events"]
    identity = json.loads(history[0]["CloudTrailEvent"])["userIdentity"]
    assert identity["type"] == "IAMUser"
    assert identity["arn"] == f"arn:aws:iam::{ACCOUNT}:user/ci"
    assert identity["accessKeyId"] == key["AccessKeyId"]
    assert history[0]["Username"] == "ci"


# --- another account ----------------------------------------------------------------


def test_an_outsider_pull_allowed_by_the_policy_reaches_the_owners_trail(emu: Emulator) -> None:
    trail(emu)
    ecr = emu.client("ecr")
    ecr.create_repository(repositoryName="app")
    ecr.put_image(repositoryName="app", imageManifest=manifest("v1"), imageTag="v1")
    ecr.set_repository_policy(repositoryName="app", policyText=PUBLIC_PULL)
    outsider = emu.session_as().client("ecr", endpoint_url=emu.endpoint_url)

    pulled = outsider.batch_get_image(
        registryId=ACCOUNT, repositoryName="app", imageIds=[{"imageTag": "v1"}]
    )

    assert [i["imageId"]["imageTag"] for i in pulled["images"]] == ["v1"]
    (pull,) = [r for r in delivered(emu) if r["eventName"] == "BatchGetImage"]
    identity = pull["userIdentity"]
    assert identity["type"] == "AssumedRole"
    assert identity["accountId"] == OUTSIDER_ACCOUNT
    assert identity["arn"] == f"arn:aws:sts::{OUTSIDER_ACCOUNT}:assumed-role/outsider/outsider"
    assert identity["sessionContext"]["sessionIssuer"]["arn"] == (
        f"arn:aws:iam::{OUTSIDER_ACCOUNT}:role/outsider"
    )
    assert pull["recipientAccountId"] == ACCOUNT
    assert pull["sharedEventID"] == pull["eventID"]
    assert "errorCode" not in pull


def test_an_outsider_push_the_policy_does_not_allow_is_refused(emu: Emulator) -> None:
    trail(emu)
    ecr = emu.client("ecr")
    ecr.create_repository(repositoryName="app")
    ecr.set_repository_policy(repositoryName="app", policyText=PUBLIC_PULL)
    outsider = emu.session_as().client("ecr", endpoint_url=emu.endpoint_url)

    with pytest.raises(ClientError) as refused:
        outsider.put_image(
            registryId=ACCOUNT, repositoryName="app", imageManifest=manifest("x"), imageTag="v1"
        )

    error = refused.value.response["Error"]
    assert error["Code"] == "AccessDeniedException"
    assert error["Message"] == (
        f"User: arn:aws:sts::{OUTSIDER_ACCOUNT}:assumed-role/outsider/outsider is not "
        f"authorized to perform: ecr:PutImage on resource: "
        f"arn:aws:ecr:us-east-1:{ACCOUNT}:repository/app because no resource-based policy "
        "allows the ecr:PutImage action"
    )
    assert ecr.describe_images(repositoryName="app")["imageDetails"] == []
    (put,) = [r for r in delivered(emu) if r["eventName"] == "PutImage"]
    assert (put["errorCode"], put["recipientAccountId"]) == ("AccessDeniedException", ACCOUNT)


def test_a_policy_scoped_to_the_organization_admits_members_only(emu: Emulator) -> None:
    org = emu.client("organizations")
    org_id = org.create_organization(FeatureSet="ALL")["Organization"]["Id"]
    member = org.create_account(AccountName="dev", Email="dev@example.com")
    member_id = member["CreateAccountStatus"]["AccountId"]
    ecr = emu.client("ecr")
    ecr.create_repository(repositoryName="shared")
    ecr.put_image(repositoryName="shared", imageManifest=manifest("s"), imageTag="v1")
    statement = {
        "Effect": "Allow",
        "Principal": "*",
        "Action": "ecr:BatchGetImage",
        "Condition": {"StringEquals": {"aws:PrincipalOrgID": org_id}},
    }
    ecr.set_repository_policy(
        repositoryName="shared",
        policyText=json.dumps({"Version": "2012-10-17", "Statement": [statement]}),
    )
    request = {"registryId": ACCOUNT, "repositoryName": "shared", "imageIds": [{"imageTag": "v1"}]}

    insider = emu.session_as(member_id).client("ecr", endpoint_url=emu.endpoint_url)
    outsider = emu.session_as().client("ecr", endpoint_url=emu.endpoint_url)

    assert len(insider.batch_get_image(**request)["images"]) == 1
    with pytest.raises(ClientError, match="AccessDeniedException"):
        outsider.batch_get_image(**request)


def test_an_outsider_without_a_registry_id_works_in_its_own_account(emu: Emulator) -> None:
    outsider = emu.session_as().client("ecr", endpoint_url=emu.endpoint_url)
    outsider.create_repository(repositoryName="mine")

    assert [r["registryId"] for r in outsider.describe_repositories()["repositories"]] == [
        OUTSIDER_ACCOUNT
    ]
    assert emu.client("ecr").describe_repositories()["repositories"] == []


# --- LookupEvents -------------------------------------------------------------------


def test_lookup_events_lists_the_event_history_newest_first(emu: Emulator) -> None:
    ecr = emu.client("ecr")  # no trail needed: the event history is always kept
    for name in ("one", "two", "three"):
        ecr.create_repository(repositoryName=name)
    ecr.describe_repositories()
    cloudtrail = emu.client("cloudtrail")

    everything = cloudtrail.lookup_events()["Events"]
    by_resource = cloudtrail.lookup_events(
        LookupAttributes=[{"AttributeKey": "ResourceName", "AttributeValue": "two"}]
    )["Events"]
    writes = cloudtrail.lookup_events(
        LookupAttributes=[{"AttributeKey": "ReadOnly", "AttributeValue": "false"}], MaxResults=2
    )
    rest = cloudtrail.lookup_events(
        LookupAttributes=[{"AttributeKey": "ReadOnly", "AttributeValue": "false"}],
        MaxResults=2,
        NextToken=writes["NextToken"],
    )
    future = cloudtrail.lookup_events(StartTime=datetime.now(UTC) + timedelta(hours=1))["Events"]

    assert [e["EventName"] for e in everything] == [
        "DescribeRepositories",
        "CreateRepository",
        "CreateRepository",
        "CreateRepository",
    ]
    (two,) = by_resource
    assert two["Resources"] == [{"ResourceType": "AWS::ECR::Repository", "ResourceName": "two"}]
    assert (two["EventSource"], two["ReadOnly"], two["Username"]) == (
        "ecr.amazonaws.com",
        "false",
        "root",
    )
    assert json.loads(two["CloudTrailEvent"])["eventID"] == two["EventId"]
    assert len(writes["Events"]) == 2 and len(rest["Events"]) == 1 and "NextToken" not in rest
    assert future == []
    assert emu.client("cloudtrail", "eu-west-1").lookup_events()["Events"] == []


def test_lookup_events_takes_one_attribute(emu: Emulator) -> None:
    attributes = [
        {"AttributeKey": "EventName", "AttributeValue": "PutImage"},
        {"AttributeKey": "ReadOnly", "AttributeValue": "false"},
    ]

    with pytest.raises(ClientError) as refused:
        emu.client("cloudtrail").lookup_events(LookupAttributes=attributes)

    assert refused.value.response["Error"]["Code"] == "InvalidLookupAttributesException"


def test_reset_forgets_history_and_waiting_records(emu: Emulator) -> None:
    trail(emu)
    emu.client("ecr").create_repository(repositoryName="app")

    emu.reset()

    assert emu.client("cloudtrail").lookup_events()["Events"] == []
    assert emu.flush_trail_logs() == []
