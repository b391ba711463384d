"""Secret and env references: parsing, masking, resolution."""

import pytest

from syncd.spec import templating


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("{{secret:jwt-secret}}", "(secret jwt-secret)"),
        ("postgres://u:{{ secret:db.pw }}@h/db", "postgres://u:(secret db.pw)@h/db"),
        ("{{env:DEPLOY_ENV}}", "{{env:DEPLOY_ENV}}"),
        ("plain", "plain"),
    ],
)
def test_mask_secrets_shows_only_the_name(value, expected):
    assert templating.mask_secrets(value) == expected


@pytest.mark.parametrize(
    "value", ["{{secret:}}", "{{sekret:x}}", "{{env:1BAD}}", "{{secret:x}", "a {{ b"]
)
def test_malformed_references_are_reported(value):
    assert templating.problems(value), value


@pytest.mark.parametrize("value", ["{{secret:a}}", "x{{env:B_1}}y{{secret:c-d}}", "no refs"])
def test_well_formed_references_have_no_problems(value):
    assert templating.problems(value) == []


def test_resolve_env_reports_missing_names_and_keeps_secrets():
    value, missing = templating.resolve_env(
        "{{env:HOST}}:{{env:PORT}}/{{secret:pw}}", {"HOST": "db"}
    )
    assert value == "db:{{env:PORT}}/{{secret:pw}}"
    assert missing == ["PORT"]


def test_resolve_secrets_replaces_only_secrets():
    resolved = templating.resolve_secrets("{{env:X}}-{{secret:a}}", lambda name: name.upper())
    assert resolved == "{{env:X}}-A"
