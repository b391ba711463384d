#!/usr/bin/env bash
# Install syncd on a control host the way systemd/syncd.service expects it (docs/operations.md):
#
#   /opt/syncd/                      a virtualenv holding syncd and its dependencies
#   /usr/local/bin/syncd             -> /opt/syncd/bin/syncd (the unit's ExecStart)
#   syncd system user and group      home /var/lib/syncd, no login shell; in group docker if any
#   /etc/systemd/system/syncd.service
#   /etc/syncd/                      root:syncd 0750; config.yaml 0640 (from the example, never
#                                    overwritten), config.example.yaml, secrets/ syncd 0700
#   /var/lib/syncd/                  syncd:syncd 0750 (the unit's StateDirectory)
#   /usr/share/doc/syncd/            the docs (the unit's Documentation=)
#
# Usage (as root, from a checkout or with --source):
#   scripts/install-control-host.sh [--source DIR|WHEEL] [--python PYTHON] [--root DIR]
#   scripts/install-control-host.sh --uninstall [--purge] [--root DIR]
#
# Running it again upgrades syncd in place and keeps the config. --uninstall stops and removes
# the service, the link, the virtualenv and the docs, and keeps /etc/syncd, /var/lib/syncd and
# the user; --purge removes those too. --root DIR installs under DIR instead of / (DESTDIR
# style, for tests and chroots): the user is created in DIR/etc/passwd when that file exists
# (useradd --prefix), and systemctl is left alone. The virtualenv names its interpreter by the
# path it was created at, so a tree built with --root runs where it was built, or in a chroot.
set -euo pipefail

usage() {
  sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'
  exit "${1:-0}"
}

here="$(cd "$(dirname "$0")/.." && pwd)"
source_spec="$here"
python="python3"
root=""
mode="install"
purge=0
while [ $# -gt 0 ]; do
  case "$1" in
    --source) source_spec="${2:?--source needs a directory or a wheel}"; shift 2 ;;
    --python) python="${2:?--python needs an interpreter}"; shift 2 ;;
    --root) root="${2:?--root needs a directory}"; root="${root%/}"; shift 2 ;;
    --uninstall) mode="uninstall"; shift ;;
    --purge) purge=1; shift ;;
    -h|--help) usage 0 ;;
    *) echo "install-control-host.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
if [ "$purge" = 1 ] && [ "$mode" != uninstall ]; then
  echo "install-control-host.sh: --purge goes with --uninstall" >&2; exit 2
fi

venv="$root/opt/syncd"
link="$root/usr/local/bin/syncd"
unit="$root/etc/systemd/system/syncd.service"
etc="$root/etc/syncd"
state="$root/var/lib/syncd"
docs="$root/usr/share/doc/syncd"

say() { echo "syncd install: $*"; }
die() { echo "syncd install: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root (it creates a system user and writes /opt, /etc, /usr/local)"

# The user and group: on this host, or in ROOT's passwd files when --root gives one.
user_tool_args=()
accounts=1
if [ -n "$root" ]; then
  if [ -f "$root/etc/passwd" ] && [ -f "$root/etc/group" ]; then
    user_tool_args=(--prefix "$root")
  else
    accounts=0
  fi
fi
field_of() { # field_of FILE NAME FIELD: a field of NAME's line in ROOT's passwd or group file
  awk -F: -v name="$2" -v field="$3" '$1 == name { print $field }' "$root/etc/$1"
}
systemd_running() { [ -z "$root" ] && [ -d /run/systemd/system ] && command -v systemctl >/dev/null; }

install_accounts() {
  if [ "$accounts" = 0 ]; then
    say "no $root/etc/passwd: the syncd user is not created and files stay owned by root"
    return
  fi
  if [ -z "$(field_of group syncd 1)" ]; then
    groupadd --system "${user_tool_args[@]}" syncd
    say "created group syncd"
  fi
  if [ -z "$(field_of passwd syncd 1)" ]; then
    useradd --system "${user_tool_args[@]}" --gid syncd --home-dir /var/lib/syncd --no-create-home \
      --shell /usr/sbin/nologin --comment "syncd GitOps sync daemon" syncd
    say "created user syncd"
  fi
  # The unit adds the docker group (SupplementaryGroups=docker) when a node is the local engine.
  if [ -n "$(field_of group docker 1)" ]; then
    usermod "${user_tool_args[@]}" -a -G docker syncd
  fi
}

owner() { # owner USER GROUP: numeric ids from ROOT's files (the host may not know them by name)
  if [ "$accounts" = 0 ]; then echo "0:0"; return; fi
  local uid gid
  uid="$([ "$1" = root ] && echo 0 || field_of passwd "$1" 3)"
  gid="$(field_of group "$2" 3)"
  echo "${uid:-0}:${gid:-0}"
}

install_files() {
  "$python" -c 'import sys, venv; sys.exit(sys.version_info < (3, 11))' 2>/dev/null \
    || die "$python is not Python 3.11 or newer with the venv module (Debian: apt-get install python3-venv)"
  [ -e "$source_spec" ] || die "--source $source_spec does not exist"
  if [ ! -x "$venv/bin/python" ]; then
    say "creating the virtualenv $venv"
    "$python" -m venv "$venv"
  fi
  say "installing syncd from $source_spec"
  "$venv/bin/python" -m pip install --quiet --upgrade "$source_spec"
  "$venv/bin/syncd" --version >/dev/null || die "$venv/bin/syncd does not run"

  install -d -m 0755 "$(dirname "$link")"
  ln -sfn /opt/syncd/bin/syncd "$link"

  local syncd_group syncd_user
  syncd_group="$(owner root syncd)"
  syncd_user="$(owner syncd syncd)"
  install -d -m 0755 "$(dirname "$unit")"
  install -m 0644 "$here/systemd/syncd.service" "$unit"
  install -d -m 0750 "$etc"
  chown "$syncd_group" "$etc"
  install -m 0640 "$here/systemd/config.example.yaml" "$etc/config.example.yaml"
  chown "$syncd_group" "$etc/config.example.yaml"
  if [ ! -e "$etc/config.yaml" ]; then
    install -m 0640 "$here/systemd/config.example.yaml" "$etc/config.yaml"
    chown "$syncd_group" "$etc/config.yaml"
    say "wrote $etc/config.yaml from the example: edit it before starting syncd"
  fi
  # Secrets and tokens are refused when group or others may read them: syncd's alone.
  install -d -m 0700 "$etc/secrets"
  chown "$syncd_user" "$etc/secrets"
  install -d -m 0750 "$state"
  chown "$syncd_user" "$state"
  install -d -m 0755 "$docs"
  install -m 0644 "$here"/docs/*.md "$docs/"

  if systemd_running; then
    systemctl daemon-reload
    say "installed; edit /etc/syncd/config.yaml, then: systemctl enable --now syncd"
  else
    say "installed under ${root:-/}"
  fi
}

uninstall_files() {
  if systemd_running && systemctl list-unit-files syncd.service >/dev/null 2>&1; then
    systemctl disable --now syncd.service 2>/dev/null || true
  fi
  rm -f "$unit" "$link"
  rm -rf "$venv" "$docs"
  if systemd_running; then systemctl daemon-reload; fi
  if [ "$purge" = 1 ]; then
    rm -rf "$etc" "$state"
    if [ "$accounts" = 1 ] && [ -n "$(field_of passwd syncd 1)" ]; then
      userdel "${user_tool_args[@]}" syncd
    fi
    if [ "$accounts" = 1 ] && [ -n "$(field_of group syncd 1)" ]; then
      groupdel "${user_tool_args[@]}" syncd
    fi
    say "removed syncd, its configuration, its state and its user"
  else
    say "removed syncd; kept $etc, $state and the syncd user (--purge removes them)"
  fi
}

[ -d "${root:-/}" ] || die "--root $root is not a directory"
if [ "$mode" = install ]; then
  install_accounts
  install_files
else
  uninstall_files
fi
