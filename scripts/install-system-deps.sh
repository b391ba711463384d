#!/usr/bin/env bash
# Debian packages syncd's demo and tests need: Docker Engine (several engines run as nodes),
# busybox (the offline base image), haproxy (its binary and libraries make the offline proxy
# image; nothing runs the packaged service), sshd (ssh:// nodes on loopback), git, zsh (its completion
# script is tested), systemd (systemd-analyze verifies the unit; in a container it is only a
# tool, nothing starts it), python3-venv (scripts/install-control-host.sh makes a virtualenv).
# Idempotent.
set -euo pipefail
need=()
for pkg in docker.io busybox-static haproxy openssh-server git ca-certificates zsh systemd python3-venv; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || need+=("$pkg")
done
for pkg in chromium chromium-driver; do dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || need+=("$pkg"); done  # the web page's browser tests
if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
