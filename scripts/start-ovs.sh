#!/usr/bin/env bash
# Starts ovsdb-server and ovs-vswitchd unless they already run. Bridges use
# the userspace datapath (datapath_type=netdev), so no kernel module is
# needed; ovs-ctl says it skips modprobe where modules can't be loaded.
set -euo pipefail
if ovs-vsctl --timeout=3 show >/dev/null 2>&1; then
	exit 0
fi
/usr/share/openvswitch/scripts/ovs-ctl start --system-id=random
ovs-vsctl --timeout=10 show >/dev/null
