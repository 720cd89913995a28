#!/usr/bin/env bash
# Installs what `make bench` needs beyond the tests' packages: os-ken (the
# peer controller), haproxy (the peer proxy), wrk, iperf3 and dnsperf (the
# clients), tayga (the peer translator).
# Run as root on Debian 12; scripts/install-deps.sh installs them with the
# tests' packages and starts Open vSwitch.
set -euo pipefail
"$(cd "$(dirname "$0")" && pwd)/../scripts/install-deps.sh" python3-os-ken haproxy wrk iperf3 dnsperf tayga
# The packaged haproxy service is not wanted: the benchmark runs its own
# haproxy inside a namespace.
systemctl disable --now haproxy >/dev/null 2>&1 || true
