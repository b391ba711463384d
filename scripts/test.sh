#!/usr/bin/env bash
# The test command (README.md gives it; .ci/run runs exactly it). Does all set-up on a fresh
# Debian machine: system packages, the virtualenv, then static checks and pytest. The harness
# Docker engines and sshd are started by a pytest session fixture (testkit/harness) and torn down at
# the end. Extra arguments go to pytest (e.g. `bash scripts/test.sh tests/spec -q`).
#
# Without arguments the suite runs as three pytest sessions at once: the tests that use the
# harness engines (marked `engines`) in two halves, each half with a harness of its own (its own
# engines and sshd on ports of their own), and everything else (pure code, the in-memory rollout
# grid, suites with engines of their own). The engine tests mostly wait on health checks while the
# others burn CPU, so side by side the whole takes about the longest of the three instead of their
# sum. The first half holds every test that binds a node proxy's fixed loopback ports (tests/proxy,
# tests/traffic), so no two sessions ever contend for one; every engine test not in its folders is
# in the second half. Each session's output is printed whole once all are done, then one line with
# the totals.
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
# the first engine half, by folder (the second half is every other engine test)
first_half=(tests/proxy tests/traffic tests/web tests/nodes tests/swarm tests/shards tests/tooling
  tests/notify tests/api tests/plan)
pytest_run() { .venv/bin/python -m pytest -p no:cacheprovider "$@"; }
pytest_run -m engines --durations=15 "${first_half[@]}" >"$logs/engines-1.log" 2>&1 &
first_pid=$!
pytest_run -m engines --durations=15 "${first_half[@]/#/--ignore=}" >"$logs/engines-2.log" 2>&1 &
second_pid=$!
pytest_run -m "not engines" >"$logs/other.log" 2>&1 &
other_pid=$!
first_rc=0; wait "$first_pid" || first_rc=$?
second_rc=0; wait "$second_pid" || second_rc=$?
other_rc=0; wait "$other_pid" || other_rc=$?

echo "== pytest -m engines, first half: ${first_half[*]} (exit $first_rc)"
cat "$logs/engines-1.log"
echo "== pytest -m engines, second half: the other folders (exit $second_rc)"
cat "$logs/engines-2.log"
echo "== pytest -m 'not engines' (exit $other_rc)"
cat "$logs/other.log"

# pytest's summary line, e.g. "=== 12 failed, 4000 passed, 1 xfailed in 500.00s ===": add them up.
count() { grep -E '^=+ .* in [0-9.]+s' "$1" | tail -n 1 | grep -oE "[0-9]+ $2" | grep -oE '^[0-9]+' || echo 0; }
sessions=("$logs/engines-1.log" "$logs/engines-2.log" "$logs/other.log")
passed=0; failed=0
for log in "${sessions[@]}"; do
  passed=$(( passed + $(count "$log" passed) ))
  failed=$(( failed + $(count "$log" failed) + $(count "$log" error) ))
done
echo "== all sessions"
echo "total: ${passed} passed, ${failed} failed"
# exit 5 is "no tests collected": with `-m`, one side may legitimately be empty for a subset
for rc in "$first_rc" "$second_rc" "$other_rc"; do
  if [ "$rc" -ne 0 ] && [ "$rc" -ne 5 ]; then exit "$rc"; fi
done
if [ "$passed" -eq 0 ]; then
  echo "no test ran" >&2
  exit 1
fi
