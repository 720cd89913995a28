#!/usr/bin/env bash
# Installs what the tests and the demo need from Debian's packages, plus
# any packages named as arguments, then starts Open vSwitch. Run as root on
# Debian 12 with Go already installed.
set -euo pipefail
pkgs=(openvswitch-switch iproute2 ethtool iputils-ping iperf3 socat curl openssl tcpdump mininet python3-yaml unbound etcd-server lintian file systemd tayga nftables traceroute dhcpcd-base udhcpc "$@")
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
"$(dirname "$0")/start-ovs.sh"
