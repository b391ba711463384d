#!/bin/sh
# Start, describe or stop the test harness (three Docker engines, tcp+TLS, sshd) by hand.
#   scripts/harness.sh up|down|env|status [DIR]      (DIR defaults to /tmp/syncd-harness)
# Then e.g.: eval "$(scripts/harness.sh env)"; SYNCD_HARNESS_DIR makes pytest reuse it.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
action=${1:?usage: scripts/harness.sh up|down|env|status [DIR]}
dir=${2:-${SYNCD_HARNESS_DIR:-/tmp/syncd-harness}}
python=${PYTHON:-$here/.venv/bin/python}
cd "$here"
exec "$python" -m testkit.harness "$action" --dir "$dir"
