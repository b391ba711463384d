"""The config's ``owner`` key: optional, checked, and the one the daemon plans for."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from syncd.daemon.config import load_config
from syncd.errors import SpecError
from syncd.source.owner import OWNER_PATTERN, daemon_owner

ROOT = Path(__file__).resolve().parents[2]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "syncd.yaml"
    path.write_text(text)
    return path


def test_owner_is_optional_and_read(tmp_path: Path) -> None:
    assert load_config(write(tmp_path, "repo: {url: /srv/d.git}\n")).owner is None
    settings = load_config(write(tmp_path, "repo: {url: /srv/d.git}\nowner: team-b-prod\n"))
    assert settings.owner == "team-b-prod"
    assert daemon_owner(settings.repo.url, settings.repo.path, settings.owner) == "team-b-prod"


@pytest.mark.parametrize(
    ("bad", "said"),
    [
        ('"team b"', "letters, digits and ._:/@+-"),
        ('""', "letters, digits and ._:/@+-"),
        ("-x", "starting with a letter or digit"),
        ("[team]", "string"),
    ],
)
def test_a_bad_owner_is_located_and_says_what_fits(tmp_path: Path, bad: str, said: str) -> None:
    path = write(tmp_path, f"repo: {{url: /srv/d.git}}\nowner: {bad}\n")
    with pytest.raises(SpecError) as invalid:
        load_config(path)
    lines = [str(problem) for problem in invalid.value.problems]
    assert any(line.startswith(f"{path}:2:") and "$.owner" in line for line in lines), lines
    assert any(said in line for line in lines), lines


def test_the_schema_pattern_is_the_code_pattern() -> None:
    schema = json.loads((ROOT / "schemas" / "config.schema.json").read_text())
    assert schema["properties"]["owner"]["pattern"] == f"^{OWNER_PATTERN.pattern}$"
