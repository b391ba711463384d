#!/usr/bin/env bash
# The test command (README.md gives it; .ci/run runs exactly it). Does all set-up on a fresh
# Debian machine: system packages, the virtualenv, then static checks and pytest. The harness
# Docker engines and sshd are started by a pytest session fixture (testkit/harness) and torn down at
# the end. Extra arguments go to pytest (e.g. `bash scripts/test.sh tests/spec -q`).
#
# Without arguments the suite runs as two pytest sessions at once: the tests that use the harness
# engines (marked `engines`) and everything else (pure code, the in-memory rollout grid, suites
# with engines of their own). The engine tests mostly wait on health checks while the others burn
# CPU, so side by side the whole takes about the longer of the two instead of their sum. Each
# session's output is printed whole once both are done, then one line with the totals.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-system-deps.sh
bash scripts/setup-venv.sh
echo "== layer contracts (import-linter)"
.venv/bin/lint-imports
echo "== pytest"
if [ $# -gt 0 ]; then
  exec .venv/bin/python -m pytest "$@"
fi

logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
.venv/bin/python -m pytest -p no:cacheprovider -m engines >"$logs/engines.log" 2>&1 &
engines_pid=$!
.venv/bin/python -m pytest -p no:cacheprovider -m "not engines" >"$logs/other.log" 2>&1 &
other_pid=$!
engines_rc=0; wait "$engines_pid" || engines_rc=$?
other_rc=0; wait "$other_pid" || other_rc=$?

echo "== pytest -m engines (exit $engines_rc)"
cat "$logs/engines.log"
echo "== pytest -m 'not engines' (exit $other_rc)"
cat "$logs/other.log"

# pytest's summary line, e.g. "=== 12 failed, 4000 passed, 1 xfailed in 500.00s ===": add them up.
count() { grep -E '^=+ .* in [0-9.]+s' "$1" | tail -n 1 | grep -oE "[0-9]+ $2" | grep -oE '^[0-9]+' || echo 0; }
passed=$(( $(count "$logs/engines.log" passed) + $(count "$logs/other.log" passed) ))
failed=$(( $(count "$logs/engines.log" failed) + $(count "$logs/other.log" failed) ))
errors=$(( $(count "$logs/engines.log" error) + $(count "$logs/other.log" error) ))
echo "== both sessions"
echo "total: ${passed} passed, $(( failed + errors )) failed"
# exit 5 is "no tests collected": with `-m`, one side may legitimately be empty for a subset
for rc in "$engines_rc" "$other_rc"; do
  if [ "$rc" -ne 0 ] && [ "$rc" -ne 5 ]; then exit "$rc"; fi
done
if [ "$passed" -eq 0 ]; then
  echo "no test ran" >&2
  exit 1
fi
