#!/usr/bin/env bash
# The main job: sync example-repo to a local Docker engine, offline, as a user would.
#
#  1. installs what it needs (Debian packages, .venv), starts one Docker engine at
#     /run/syncd-demo/docker.sock (the `local` node of example-repo/nodes/local.yaml) and gives it
#     the offline base image syncd-test/busybox (no registry is reachable);
#  2. makes a Git repo of example-repo and a daemon config around it;
#  3. validates, previews the plan, runs one daemon pass, prints `syncd deployment list`;
#  4. commits a change and shows the pull-request preview (offline plan, markdown), then syncs it;
#  5. updates the routed user service (example-repo/definitions/def_user_api.yaml) while a bounded
#     request loop goes through the node's proxy at 127.0.0.1:18090, and counts failed requests.
#
# Deployments that target clusters with no reachable node (us-east1, gpu-cluster-a100) or ask for
# more than this machine has end in Error with the reason: that is the demo too.
# `bash scripts/demo.sh --keep` leaves the engine running; `bash scripts/demo.sh --stop` stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
DEMO=/run/syncd-demo
WORK=${SYNCD_DEMO_WORK:-/tmp/syncd-demo}

stop_engine() {
  if [ -f "$DEMO/docker.pid" ]; then
    kill "$(cat "$DEMO/docker.pid")" 2>/dev/null || true
    for _ in $(seq 50); do [ -f "$DEMO/docker.pid" ] || break; sleep 0.2; done
  fi
}
if [ "${1:-}" = "--stop" ]; then stop_engine; exit 0; fi

echo "== set-up"
bash scripts/install-system-deps.sh
bash scripts/setup-venv.sh
export PATH="$ROOT/.venv/bin:$PATH"

if ! curl -sf --unix-socket "$DEMO/docker.sock" http://localhost/_ping >/dev/null 2>&1; then
  echo "== starting a Docker engine at $DEMO/docker.sock"
  mkdir -p "$DEMO"
  # offline: a pull of an image the engine lacks fails at once on a closed loopback port
  # instead of resolving a registry (as the test harness engines do)
  HTTP_PROXY=http://127.0.0.1:9 HTTPS_PROXY=http://127.0.0.1:9 NO_PROXY= \
  dockerd --bridge=none --iptables=false --ip-masq=false \
    -H "unix://$DEMO/docker.sock" --data-root /var/lib/syncd-demo/docker \
    --exec-root "$DEMO/exec" --pidfile "$DEMO/docker.pid" >"$DEMO/dockerd.log" 2>&1 &
  for _ in $(seq 100); do
    curl -sf --unix-socket "$DEMO/docker.sock" http://localhost/_ping >/dev/null 2>&1 && break
    sleep 0.2
  done
fi
export DOCKER_HOST="unix://$DEMO/docker.sock"
# The demo shows a first sync: containers an earlier demo left on this engine (its data root is
# kept between runs, with whatever owner that run had) would only crowd the node.
leftovers=$(docker ps -aq --filter label=io.syncd.managed=true)
if [ -n "$leftovers" ]; then
  echo "== removing $(echo "$leftovers" | wc -l) container(s) an earlier demo left"
  docker rm -f $leftovers >/dev/null
fi
if ! docker image inspect syncd-test/busybox:latest >/dev/null 2>&1; then
  echo "== importing the offline base image syncd-test/busybox:latest"
  rootfs=$(mktemp -d)
  mkdir -p "$rootfs/bin" "$rootfs/tmp" "$rootfs/www"
  cp /bin/busybox "$rootfs/bin/"
  for applet in $(/bin/busybox --list); do
    [ "$applet" = busybox ] || ln -s busybox "$rootfs/bin/$applet"
  done
  tar -C "$rootfs" -c . | docker import - syncd-test/busybox:latest >/dev/null
  rm -rf "$rootfs"
fi

if ! docker image inspect haproxy:2.6 >/dev/null 2>&1; then
  # The node proxy's default image, made offline from Debian's haproxy (as the test harness does)
  echo "== importing the offline proxy image as haproxy:2.6 (the nodes' default proxy.image)"
  python -c 'import sys; from testkit.harness.proxy_image import proxy_image_tar
sys.stdout.buffer.write(proxy_image_tar())' | docker import - haproxy:2.6 >/dev/null
fi

# A bounded request loop through the proxy: at least 1,000 requests, then until the file $1
# exists, never more than 100,000; loopback only, 1 s timeout each.
request_loop() {
  python - "$1" <<'PY'
import os, sys, urllib.request
stop, made, failed = sys.argv[1], 0, 0
while made < 100_000 and (made < 1000 or not os.path.exists(stop)):
    try:
        with urllib.request.urlopen("http://127.0.0.1:18090/", timeout=1) as response:
            response.read()
    except OSError:
        failed += 1
    made += 1
print(f"request loop: {made} requests through the proxy at 127.0.0.1:18090, {failed} failed")
PY
}

echo "== a Git repo of example-repo"
rm -rf "$WORK" && mkdir -p "$WORK"
cp -r example-repo "$WORK/deployments"
git -C "$WORK/deployments" init -q -b main
git -C "$WORK/deployments" -c user.name=demo -c user.email=demo@localhost add -A
git -C "$WORK/deployments" -c user.name=demo -c user.email=demo@localhost commit -qm "Initial deployments"
# The one secret example-repo references ({{secret:jwt-secret}}): a file per secret, owner-only.
install -d -m 700 "$WORK/secrets"
( umask 077; head -c 24 /dev/urandom | base64 > "$WORK/secrets/jwt-secret" )
cat > "$WORK/config.yaml" <<YAML
repo:
  url: $WORK/deployments
  branch: main
  pollInterval: 60s
stateDir: $WORK/state
statusFile: $WORK/state/status.json
notes:
  ref: refs/notes/syncd
  push: false
listen: 127.0.0.1:0
reconcileInterval: 15s
onlyNodes: [local]
progressDeadline: 2m
secrets:
  dir: $WORK/secrets
YAML

echo; echo "\$ syncd validate $WORK/deployments"
syncd validate "$WORK/deployments"
echo; echo "\$ syncd plan --repo $WORK/deployments --node local"
syncd plan --repo "$WORK/deployments" --node local || true
echo; echo "\$ syncd daemon --config $WORK/config.yaml --once"
syncd daemon --config "$WORK/config.yaml" --once || true
echo; echo "\$ syncd deployment list --status-file $WORK/state/status.json"
syncd deployment list --status-file "$WORK/state/status.json"

echo; echo "== a change, previewed as a pull request would show it, then synced"
sed -i 's/LOG_LEVEL: "debug"/LOG_LEVEL: "info"/' "$WORK/deployments/deployments/depl_dev_api.yaml"
git -C "$WORK/deployments" -c user.name=demo -c user.email=demo@localhost commit -qam "dev api: log at info"
echo "\$ syncd plan --repo $WORK/deployments --base main~1 --head main --format markdown"
syncd plan --repo "$WORK/deployments" --base main~1 --head main --format markdown
syncd daemon --config "$WORK/config.yaml" --once || true
echo; echo "\$ syncd deployment list"
syncd deployment list --status-file "$WORK/state/status.json"
echo; echo "== the routed user service, served by the node's proxy at 127.0.0.1:18090"
echo "\$ curl -s http://127.0.0.1:18090/ | head -3"
curl -s --max-time 2 http://127.0.0.1:18090/ | head -3 || echo "(not served)"
sed -i 's/DATABASE_NAME: "users"/DATABASE_NAME: "users_v2"/' \
  "$WORK/deployments/deployments/depl_user_service.yaml"
git -C "$WORK/deployments" -c user.name=demo -c user.email=demo@localhost commit -qam \
  "user service: new database name"
echo "\$ syncd plan --repo $WORK/deployments --node local"
syncd plan --repo "$WORK/deployments" --node local || true
rm -f "$WORK/loop.stop"
request_loop "$WORK/loop.stop" &
LOOP=$!
echo "\$ syncd daemon --config $WORK/config.yaml --once   (a RollingUpdate, requests running)"
syncd daemon --config "$WORK/config.yaml" --once || true
touch "$WORK/loop.stop"
wait "$LOOP"
syncd deployment list --status-file "$WORK/state/status.json"

echo; echo "\$ git notes --ref=syncd show HEAD   (status written back to the synced commit)"
git -C "$WORK/state/checkout" notes --ref=refs/notes/syncd show HEAD 2>/dev/null | head -20 || true

if [ "${1:-}" != "--keep" ]; then
  echo; echo "== stopping the demo engine (run with --keep to leave it running)"
  stop_engine
fi
