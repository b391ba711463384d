#!/usr/bin/env bash
# The test command (README.md gives it; .ci/run runs exactly it). Does all set-up on a fresh
# Debian machine: system packages, the virtualenv, then static checks and pytest. The harness
# Docker engines and sshd are started by a pytest session fixture (testkit/harness) and torn down at
# the end. Extra arguments go to pytest (e.g. `bash scripts/test.sh tests/spec -q`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-system-deps.sh
bash scripts/setup-venv.sh
echo "== layer contracts (import-linter)"
.venv/bin/lint-imports
echo "== pytest"
exec .venv/bin/python -m pytest "$@"
