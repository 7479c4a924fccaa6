"""Malformed input gives PolicyParseError with one line a user can act on, never a crash."""

from __future__ import annotations

import datetime
import json
import time

import pytest

from ecrguard.errors import InputError, PolicyParseError
from ecrguard.policy import parse_policy


def _stmt(**fields: object) -> str:
    base: dict[str, object] = {"Effect": "Allow", "Principal": "*", "Action": "ecr:BatchGetImage"}
    base.update(fields)
    return json.dumps({"Version": "2012-10-17", "Statement": [base]})


VALID = _stmt()

# (input, words the message must contain)
MALFORMED = [
    pytest.param(VALID[:40], "invalid JSON at line 1 column", id="truncated-json"),
    pytest.param("", "invalid JSON", id="empty-text"),
    pytest.param(b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe", "not UTF-8", id="binary-bytes"),
    pytest.param(b"\x00\x01\x02\x03", "binary file (it holds NUL bytes)", id="control-bytes"),
    pytest.param("[1, 2]", "must be a JSON object, got a list", id="json-list"),
    pytest.param('"a string"', "got a string", id="json-string"),
    pytest.param("null", "got null", id="json-null"),
    pytest.param("42", "got a number", id="json-number"),
    pytest.param('{"name": "not a policy"}', "no Statement", id="object-without-statement"),
    pytest.param(
        '{"Statement": "Allow"}', "Statement must be an object or a list", id="string-stmt"
    ),
    pytest.param('{"Statement": [1]}', "Statement #1 must be an object", id="number-in-list"),
    pytest.param(
        '{"Version": "2020-01-01", "Statement": []}', "unknown policy Version", id="version"
    ),
    pytest.param(_stmt(Effect="allow"), 'Effect must be "Allow" or "Deny"', id="effect-lowercase"),
    pytest.param(_stmt(Effect="Permit"), "got 'Permit'", id="effect-unknown"),
    pytest.param(_stmt(Effect=["Allow"]), 'Effect must be "Allow"', id="effect-list"),
    pytest.param(
        _stmt(Condition={"StringEqualz": {"aws:PrincipalOrgID": "o-1"}}),
        "unknown condition operator 'StringEqualz'",
        id="unknown-operator",
    ),
    pytest.param(
        _stmt(Condition={"ForSomeValues:StringEquals": {"aws:TagKeys": "a"}}),
        "unknown condition qualifier",
        id="unknown-qualifier",
    ),
    pytest.param(
        _stmt(Condition={"NullIfExists": {"aws:SourceVpce": "true"}}),
        "Null cannot be combined with IfExists",
        id="null-ifexists",
    ),
    pytest.param(
        _stmt(Condition={"StringEquals": {"aws:SourceVpce": {"nested": 1}}}),
        "must be a string, number or boolean, got an object",
        id="condition-value-object",
    ),
    pytest.param(_stmt(Condition="yes"), "Condition must be an object", id="condition-string"),
    pytest.param(_stmt(Principal=["*"]), 'Principal must be "*"', id="principal-list"),
    pytest.param(_stmt(Principal={"Robot": "x"}), "unknown principal type 'Robot'", id="p-type"),
    pytest.param(_stmt(Action=5), "Action must be a string or a list", id="action-number"),
    pytest.param(_stmt(NotAction="ecr:*"), "exactly one of Action or NotAction", id="both-actions"),
    pytest.param(
        _stmt(NotPrincipal={"AWS": "111122223333"}), "both Principal and NotPrincipal", id="both-p"
    ),
    pytest.param(
        '{"Statement": [], "Id": ' + "7" * 5000 + "}",
        "a number has thousands of digits",
        id="5000-digit-number",
    ),
    pytest.param(
        _stmt().replace('"ecr:BatchGetImage"', "NaN"), "NaN is not a JSON value", id="nan-literal"
    ),
    pytest.param(_stmt(Effect="x" * 10_000), "...", id="huge-value-is-shortened"),
]


@pytest.mark.parametrize(("text", "words"), MALFORMED)
def test_malformed_policy_gives_one_line_message(text: str | bytes, words: str) -> None:
    with pytest.raises(PolicyParseError) as caught:
        parse_policy(text)
    message = str(caught.value)
    assert words in message
    assert "\n" not in message
    assert len(message) < 200


# A 20,000-level nesting blows Python's recursion limit in json.loads; the parser
# must turn that into a message quickly, wherever the nesting sits.
DEEP = 20_000
NESTED = [
    pytest.param("[" * DEEP + "]" * DEEP, id="nested-lists"),
    pytest.param('{"a":' * DEEP + "1" + "}" * DEEP, id="nested-objects"),
    pytest.param('{"Statement":' + "[" * DEEP + "]" * DEEP + "}", id="nested-inside-statement"),
    pytest.param("[" * DEEP, id="nested-and-truncated"),
]


@pytest.mark.parametrize("text", NESTED)
def test_deeply_nested_json_fails_fast_without_recursion_error(text: str) -> None:
    start = time.perf_counter()
    with pytest.raises(PolicyParseError, match="nested too deeply"):
        parse_policy(text)
    assert time.perf_counter() - start < 1.0


def test_parse_error_is_an_input_error_so_the_cli_exits_2() -> None:
    with pytest.raises(InputError):
        parse_policy("{")


def test_oversized_document_is_refused_before_decoding() -> None:
    with pytest.raises(PolicyParseError, match="larger than"):
        parse_policy('{"Statement": [' + " " * 1_000_001 + "]}")


# ---- valid documents that must parse ----------------------------------------


def test_both_versions_and_statement_object_or_list() -> None:
    stmt = {"Effect": "Allow", "Principal": "*", "Action": "ecr:BatchGetImage"}
    old = parse_policy({"Version": "2008-10-17", "Statement": stmt})
    new = parse_policy({"Version": "2012-10-17", "Statement": [stmt, stmt]})
    assert (old.version, len(old.statements)) == ("2008-10-17", 1)
    assert (new.version, len(new.statements)) == ("2012-10-17", 2)


def test_missing_version_defaults_to_2008() -> None:
    assert parse_policy('{"Statement": []}').version == "2008-10-17"


def test_byte_order_mark_is_accepted() -> None:
    # Windows editors save JSON with a BOM; AWS accepts such files.
    assert len(parse_policy(b"\xef\xbb\xbf" + VALID.encode()).statements) == 1
    assert len(parse_policy("\ufeff" + VALID).statements) == 1


def test_yaml_dates_from_cloudformation_are_read_as_text() -> None:
    # PyYAML loads an unquoted `Version: 2012-10-17` as a date, and Date* values too.
    doc = {
        "Version": datetime.date(2012, 10, 17),
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": "*",
                "Action": "ecr:BatchGetImage",
                "Condition": {
                    "DateLessThan": {"aws:CurrentTime": datetime.date(2030, 1, 1)},
                },
            }
        ],
    }
    policy = parse_policy(doc)
    assert policy.version == "2012-10-17"
    assert policy.statements[0].conditions[0].values == ("2030-01-01",)


def test_condition_operator_parts_and_scalar_values() -> None:
    policy = parse_policy(
        _stmt(
            Condition={
                "ForAnyValue:StringLikeIfExists": {"AWS:PrincipalOrgPaths": ["o-1/*", "o-2/*"]},
                "Bool": {"aws:SecureTransport": True},
                "NumericLessThan": {"s3:max-keys": 10},
            }
        )
    )
    by_base = {c.base: c for c in policy.statements[0].conditions}
    like = by_base["stringlike"]
    assert (like.qualifier, like.if_exists, like.key) == (
        "foranyvalue",
        True,
        "aws:principalorgpaths",
    )
    assert like.values == ("o-1/*", "o-2/*")
    assert by_base["bool"].values == ("true",)
    assert by_base["numericlessthan"].values == ("10",)


def test_principal_star_is_aws_star() -> None:
    principal = parse_policy(VALID).statements[0].principal
    assert principal is not None
    assert principal.entries == (("AWS", ("*",)),)
    assert principal.is_wildcard
