"""A ``{{secret:NAME}}`` (or ``{{env:NAME}}``) in a definition's label is refused at validation.

Labels are not templated: the node would get the reference as written while the plan showed
``(secret NAME)``, and a label is readable by anyone who can list containers on the engine, so
resolving a secret there would publish it. Refusing says where and what to do instead.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

DEFINITION = """\
id: def_labelled
image:
  name: "syncd-test/busybox:latest"
  internalPorts: []
labels:
  team: users
  token: "{{secret:api_token}}"
  region: "{{env:REGION}}"
"""
DEPLOYMENT = "id: depl_labelled\ndefinitionId: def_labelled\nreplicas: 1\n"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    (tmp_path / "definitions").mkdir()
    (tmp_path / "deployments").mkdir()
    (tmp_path / "definitions" / "def_labelled.yaml").write_text(DEFINITION)
    (tmp_path / "deployments" / "depl_labelled.yaml").write_text(DEPLOYMENT)
    return tmp_path


def test_a_template_reference_in_a_label_is_refused_with_what_to_do(repo: Path):
    done = subprocess.run(
        [sys.executable, "-m", "syncd", "validate", str(repo)], capture_output=True, text=True
    )
    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    assert "definitions/def_labelled.yaml:7" in output  # the token label's line
    assert "label 'token' refers to secret 'api_token'" in output
    assert "pass the secret as an envar instead" in output
    assert "label 'region' refers to {{env:REGION}}" in output
    assert "label 'team'" not in output  # a plain label is fine


def test_a_plain_label_is_valid(repo: Path):
    plain = DEFINITION.split("  token:")[0]
    (repo / "definitions" / "def_labelled.yaml").write_text(plain)
    done = subprocess.run(
        [sys.executable, "-m", "syncd", "validate", str(repo)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr
