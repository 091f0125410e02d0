#!/usr/bin/env bash
# Unpack Debian's Prometheus servers into DEST without installing them or starting any service:
#
#   tools/prometheus-binaries.sh DEST
#
# for the monitoring tests (tools/monitoring/), which start them on 127.0.0.1 themselves. It runs
# `apt-get download` (after `apt-get update` when the package lists do not know the packages yet,
# as on a fresh CI machine) and `dpkg-deb -x` of prometheus-pushgateway, prometheus-node-exporter
# and prometheus (for promtool) into DEST; then DEST/usr/bin holds prometheus-pushgateway,
# prometheus-node-exporter and promtool. Idempotent: when they are there it does nothing, and two
# runs at once take turns (a lock in DEST). Needs apt-get and dpkg-deb (Debian, Ubuntu) and root
# for `apt-get update`.
set -euo pipefail

dest=${1:?usage: tools/prometheus-binaries.sh DEST}
packages=(prometheus-pushgateway prometheus-node-exporter prometheus)
programs=(prometheus-pushgateway prometheus-node-exporter promtool)

all_there() {
  local program
  for program in "${programs[@]}"; do
    [[ -x $dest/usr/bin/$program ]] || return 1
  done
}

mkdir -p "$dest"
dest=$(cd "$dest" && pwd)
exec 9>"$dest/.lock"
flock 9
all_there && exit 0

downloads=$(mktemp -d "$dest/.download.XXXXXX")
trap 'rm -rf "$downloads"' EXIT
cd "$downloads"
# APT::Sandbox::User=root: the download folder is root's, which apt's own _apt user cannot write.
if ! apt-get download -q -o APT::Sandbox::User=root "${packages[@]}" >/dev/null 2>&1; then
  apt-get update -q >/dev/null
  apt-get download -q -o APT::Sandbox::User=root "${packages[@]}" >/dev/null
fi
for deb in ./*.deb; do
  dpkg-deb -x "$deb" "$dest"
done
if ! all_there; then
  echo "tools/prometheus-binaries.sh: ${programs[*]} are not all in $dest/usr/bin after unpacking ${packages[*]}" >&2
  exit 1
fi
