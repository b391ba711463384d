#!/usr/bin/env bash
# The test command: README.md and .ci/run both run exactly this. The harness Docker engines and
# sshd are started by a pytest session fixture (tests/harness) and torn down at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
exec .venv/bin/python -m pytest "$@"
