"""Bounds whatever the input: replicas a commit may ask for, and the size of every status
string, note and log line (a commit of 100,000 replicas once made an 11.8 MB status file)."""

from __future__ import annotations

import io
import json
import logging
from dataclasses import replace
from pathlib import Path

import pytest

from syncd.daemon.commits import replica_problems
from syncd.daemon.config import DEFAULT_MAX_REPLICAS, parse_config
from syncd.daemon.logs import MAX_MESSAGE_CHARS, JsonFormatter, TextFormatter
from syncd.errors import ConfigError, SpecProblem
from syncd.spec.models import AutoScaling, Deployment, SourceLocation
from syncd.status.model import MAX_TEXT_CHARS, MAX_VALIDATION_ERRORS, bounded_text
from syncd.status.notes_format import NOTE_JSON_CHARS, render_note, statuses_in_note
from tests.status.samples import sample_status


def test_bounded_text_keeps_short_text_and_cuts_long_text_once():
    assert bounded_text("fine.") == "fine."
    cut = bounded_text("x" * 100_000)
    assert len(cut) <= MAX_TEXT_CHARS and cut.endswith("more characters)")
    assert bounded_text(cut) == cut  # read back and written again: unchanged


def test_every_status_string_is_bounded():
    status = sample_status()
    huge = "y" * 1_000_000
    problems = tuple(SpecProblem("a.yaml", i, 1, "$", "bad") for i in range(1000))
    bounded = replace(
        status,
        source_error=huge,
        head_error=huge,
        commit_subject=huge,
        validation_errors=problems,
        deployments=(replace(status.deployments[0], details=huge, last_error=huge),),
    )
    size = len(json.dumps(bounded.to_json_dict()))
    assert size < 6 * MAX_TEXT_CHARS + MAX_VALIDATION_ERRORS * 200 + 4096
    assert len(bounded.validation_errors) == MAX_VALIDATION_ERRORS


def test_a_note_stays_small_with_thousands_of_instances():
    status = sample_status()
    one = status.deployments[0]
    instance = one.instances[0]
    many = replace(
        status,
        deployments=tuple(
            replace(one, id=f"depl_{i}", instances=(instance,) * 200) for i in range(100)
        ),
    )
    note = render_note(many)
    assert len(note) < NOTE_JSON_CHARS + 20_000
    assert "... and 50 more deployments" in note
    (read,) = statuses_in_note(note)
    assert len(read.deployments) == 100 and not read.deployments[0].instances


@pytest.mark.parametrize("formatter", [TextFormatter(), JsonFormatter()])
def test_a_log_line_is_bounded(formatter):
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    logger = logging.getLogger("syncd.test-bounds")
    logger.addHandler(handler)
    try:
        logger.error("plan: %s", "z" * 1_000_000)
    finally:
        logger.removeHandler(handler)
    line = stream.getvalue()
    assert len(line) < MAX_MESSAGE_CHARS + 500 and "more characters)" in line


def test_a_deployment_above_max_replicas_is_refused_naming_the_file():
    big = Deployment(
        id="depl_big",
        definition_id="def_svc",
        replicas=2000,
        auto_scaling=AutoScaling(min_replicas=1, max_replicas=5000, cpu_threshold=80),
        source=SourceLocation("deployments/big.yaml", 1),
    )
    state = [big, Deployment(id="depl_small", definition_id="def_svc", replicas=3)]
    problems = replica_problems(state, DEFAULT_MAX_REPLICAS)
    assert [p.path for p in problems] == ["$.replicas", "$.autoScaling.maxReplicas"]
    assert all(p.file == "deployments/big.yaml" for p in problems)
    assert "raise maxReplicas in the daemon config" in problems[0].message
    assert replica_problems(state, 10000) == []


def test_max_replicas_in_the_config_is_bounded_by_the_schema(tmp_path: Path):
    base = "repo: {url: /srv/repo.git}\nstateDir: /tmp/x\n"
    settings = parse_config((base + "maxReplicas: 5000\n").encode(), "c", base_dir=tmp_path)
    assert settings.max_replicas == 5000
    assert parse_config(base.encode(), "c", base_dir=tmp_path).max_replicas == 1000
    with pytest.raises(ConfigError):
        parse_config((base + "maxReplicas: 20000\n").encode(), "c", base_dir=tmp_path)
