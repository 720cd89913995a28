#!/usr/bin/env bash
# The seed demo: one Open vSwitch bridge (userspace datapath), two IPv6-only
# servers and one IPv4-only client in network namespaces, sixgate in the
# middle. The client reaches both servers through the VIP 10.0.0.42, and
# sixgate picks the server from what the client sends first. The topology
# is topo/examples/seed.yaml; the addresses below are the ones it declares.
#
# Run as root from the repository: make demo. Exit 0 when every check
# passed. Everything it creates is removed on exit, Ctrl-C included.
set -euo pipefail
cd "$(dirname "$0")/.."

CONFIG=topo/examples/seed.yaml
BIN=bin/sixgate
SERVER=bin/demoserver
BR=sgdemo
WORK=$(mktemp -d /tmp/sixgate-demo.XXXXXX)
SIXGATE_PID=""
failed=0

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
ok() { printf '   ok: %s\n' "$*"; }
bad() { printf '   FAILED: %s\n' "$*"; failed=1; }

cleanup() {
	set +e
	[ -n "$SIXGATE_PID" ] && kill "$SIXGATE_PID" 2>/dev/null && wait "$SIXGATE_PID" 2>/dev/null
	for h in h1 h2 h3; do
		ip netns pids "sgdemo-$h" 2>/dev/null | xargs -r kill 2>/dev/null
		ip netns del "sgdemo-$h" 2>/dev/null
	done
	ovs-vsctl --if-exists del-br "$BR" 2>/dev/null
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

[ "$(id -u)" = 0 ] || { echo "demo: run as root (it creates namespaces and an Open vSwitch bridge)"; exit 1; }
[ -x "$BIN" ] || { echo "demo: $BIN missing: run make demo, which builds it"; exit 1; }
go build -o "$SERVER" ./test/demoserver

say "Checking $CONFIG"
"$BIN" check -config "$CONFIG"

say "Starting Open vSwitch and bridge $BR (datapath_type=netdev, OpenFlow 1.3, fail-mode secure)"
scripts/start-ovs.sh
ovs-vsctl --if-exists del-br "$BR"
# Data segments reach the controller as packet-ins in this mode: raise the
# switch's packet-in queue from its default of 100.
ovs-vsctl add-br "$BR" -- set bridge "$BR" datapath_type=netdev protocols=OpenFlow13 \
	fail-mode=secure other-config:datapath-id=0000000000000001 \
	-- --id=@c create controller target='"tcp:127.0.0.1:6653"' controller_queue_size=512 \
	-- set bridge "$BR" controller=@c

# host NAME PORT MAC ADDR...: a namespace on a veth pair plugged into PORT.
host() {
	local name=$1 port=$2 mac=$3 ns=sgdemo-$1
	shift 3
	ip netns del "$ns" 2>/dev/null || true
	ip netns add "$ns"
	ip link add "sgd-$name" type veth peer name eth0 netns "$ns"
	ip link set "sgd-$name" up
	ip netns exec "$ns" ip link set lo up
	ip netns exec "$ns" ip link set eth0 address "$mac"
	ip netns exec "$ns" sysctl -qw net.ipv6.conf.eth0.accept_dad=0 net.ipv6.conf.eth0.accept_ra=0
	# The userspace datapath does not complete checksums left to offload.
	ip netns exec "$ns" ethtool -K eth0 tx off >/dev/null
	ip netns exec "$ns" ip link set eth0 up
	for a in "$@"; do ip netns exec "$ns" ip addr add "$a" dev eth0 nodad 2>/dev/null || ip netns exec "$ns" ip addr add "$a" dev eth0; done
	ovs-vsctl add-port "$BR" "sgd-$name" -- set interface "sgd-$name" ofport_request="$port"
}
say "Creating hosts: h1 and h2 IPv6-only servers, h3 an IPv4-only client"
host h1 1 00:00:0a:00:00:01 2001:db8::1/64
host h2 2 00:00:0a:00:00:02 2001:db8::2/64
host h3 3 00:00:0a:00:00:03 10.0.0.3/24
# Spliced clients appear to the servers as pool6 addresses (2001:db8:ffff::/96),
# on the link; sixgate answers neighbor discovery for them.
for h in h1 h2; do ip netns exec "sgdemo-$h" ip -6 route add 2001:db8:ffff::/96 dev eth0; done
echo "   no host has a static neighbor entry:"
for h in h1 h2 h3; do printf '   %s: %s entries\n' "$h" "$(ip netns exec "sgdemo-$h" ip neigh show nud permanent | wc -l)"; done

say "Starting sixgate -config $CONFIG (log: $WORK/sixgate.log)"
"$BIN" -config "$CONFIG" >"$WORK/sixgate.log" 2>&1 &
SIXGATE_PID=$!
for _ in $(seq 100); do
	grep -q "flows synced" "$WORK/sixgate.log" && break
	kill -0 "$SIXGATE_PID" 2>/dev/null || { cat "$WORK/sixgate.log"; echo "demo: sixgate exited"; exit 1; }
	sleep 0.1
done
grep -q "flows synced" "$WORK/sixgate.log" || { cat "$WORK/sixgate.log"; echo "demo: the switch did not connect"; exit 1; }
ok "bridge connected; $(ovs-ofctl -O OpenFlow13 dump-flows "$BR" | grep -c cookie) flows installed"

say "Starting the servers: h1 answers \"A\" names, h2 answers \"B\" names"
for h in h1 h2; do
	ip netns exec "sgdemo-$h" "$SERVER" -name "$h" -line "[::]:80" -http "[::]:8080" -https "[::]:443" >"$WORK/$h.log" 2>&1 &
done
for h in h1 h2; do
	for _ in $(seq 50); do grep -q serving "$WORK/$h.log" && break; sleep 0.1; done
done

c() { ip netns exec sgdemo-h3 "$@"; }
expect() { # expect WHAT WANT GOT
	if [[ "$3" == *"$2"* ]]; then ok "$1: $3"; else bad "$1: got \"$3\", want it to mention \"$2\""; fi
}

say "Client h3 (10.0.0.3) -> VIP 10.0.0.42: the first bytes choose the server"
expect 'echo A | socat - TCP:10.0.0.42:80' "h1 got" "$(echo A | c timeout 10 socat -t 5 - TCP:10.0.0.42:80 2>&1 || true)"
expect 'echo B | socat - TCP:10.0.0.42:80' "h2 got" "$(echo B | c timeout 10 socat -t 5 - TCP:10.0.0.42:80 2>&1 || true)"

say "HTTP: the Host header chooses"
expect 'curl -H "Host: b.example" http://10.0.0.42:8080/' "h2: Host b.example" \
	"$(c curl -s --max-time 10 -H 'Host: b.example' http://10.0.0.42:8080/ || true)"

say "TLS: the server name in the ClientHello chooses"
expect 'curl https://a.example/ (SNI a.example)' "h1: Host a.example" \
	"$(c curl -sk --max-time 10 --resolve a.example:443:10.0.0.42 https://a.example/ || true)"

say "The servers saw the client's IPv4 address inside pool6 (2001:db8:ffff::10.0.0.3 = 2001:db8:ffff::a00:3)"
if grep -h "2001:db8:ffff::a00:3" "$WORK/h1.log" "$WORK/h2.log" | head -4 | sed 's/^/   /'; then :; else bad "no server logged the embedded address"; fi

say "Live connections (sixgate connections)"
"$BIN" connections -http 127.0.0.1:9464 | sed 's/^/   /' || true

say "Switches and ports (sixgate status)"
"$BIN" status -http 127.0.0.1:9464 | sed 's/^/   /' || true

if ((failed)); then
	say "Demo FAILED; sixgate's log:"
	tail -50 "$WORK/sixgate.log"
	exit 1
fi
say "Demo passed: an IPv4-only client reached IPv6-only servers through one shared IPv4 address."
