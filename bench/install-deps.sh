#!/usr/bin/env bash
# Installs what `make bench` needs beyond the tests' packages: os-ken (the
# peer controller), haproxy (the peer proxy), wrk and iperf3 (the clients).
# Run as root on Debian 12; it first runs scripts/install-deps.sh, which
# installs and starts Open vSwitch.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
"$here/../scripts/install-deps.sh"
pkgs=(python3-os-ken haproxy wrk iperf3)
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
# The packaged haproxy service is not wanted: the benchmark runs its own
# haproxy inside a namespace.
systemctl disable --now haproxy >/dev/null 2>&1 || true
