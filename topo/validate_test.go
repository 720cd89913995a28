package topo

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// validationCases are small files with one kind of mistake each, and the
// exact messages they must produce. Most texts start with a newline, so their
// first written line is line 2.
var validationCases = []struct {
	name string
	yaml string
	want []string
}{
	{
		name: "duplicate MAC",
		yaml: `
switches: [{name: s1, dpid: "0x1"}]
hosts:
  - name: h1
    switch: s1
    port: 1
    mac: "00:00:0a:00:00:01"
  - {name: h2, switch: s1, port: 2, mac: "00:00:0a:00:00:02"}
  - {name: h3, switch: s1, port: 3, mac: "00:00:0A:00:00:01"}
`,
		want: []string{`t.yaml:9: hosts[2].mac: duplicate MAC 00:00:0a:00:00:01 (also hosts[0] at line 7)`},
	},
	{
		name: "duplicate IP",
		yaml: `
switches: [{name: s1, dpid: "0x1"}]
hosts:
  - {name: h1, switch: s1, port: 1, mac: "00:00:0a:00:00:01", ipv6: ["2001:db8::1"]}
  - {name: h2, switch: s1, port: 2, mac: "00:00:0a:00:00:02", ipv6: ["2001:db8::2", "2001:DB8:0::1"]}
`,
		want: []string{`t.yaml:5: hosts[1].ipv6[1]: duplicate address 2001:db8::1 (also hosts[0] at line 4)`},
	},
	{
		name: "gateway address taken by a host",
		yaml: `
switches: [{name: s1, dpid: "0x1"}]
hosts: [{name: h1, switch: s1, port: 1, mac: "00:00:0a:00:00:01", ipv4: ["10.0.0.1/24"]}]
gateways: [{mac: "00:00:0a:00:00:fe", ipv4: ["10.0.0.1/24"]}]
`,
		want: []string{`t.yaml:4: gateways[0].ipv4[0]: duplicate address 10.0.0.1 (also hosts[0] at line 3)`},
	},
	{
		name: "VIP taken by a host",
		yaml: `
switches: [{name: s1, dpid: "0x1"}]
hosts: [{name: h1, switch: s1, port: 1, mac: "00:00:0a:00:00:01", ipv4: ["10.0.0.42"]}]
splice46:
  mac: "00:00:0a:00:00:42"
  pool6: "64:ff9b::/96"
  services:
    - vip: "10.0.0.42"
      port: 80
      backends: [{address: "[2001:db8::1]:80"}]
`,
		want: []string{`t.yaml:8: splice46.services[0].vip: duplicate address 10.0.0.42 (also hosts[0] at line 3)`},
	},
	{
		name: "duplicate datapath id",
		yaml: `
switches:
  - {name: s1, dpid: "0x1"}
  - {name: s2, dpid: 1}
  - {name: s3, dpid: "00:00:00:00:00:00:00:01"}
`,
		want: []string{
			`t.yaml:4: switches[1].dpid: duplicate datapath id 0x1 (also switches[0] at line 3)`,
			`t.yaml:5: switches[2].dpid: duplicate datapath id 0x1 (also switches[0] at line 3)`,
		},
	},
	{
		name: "malformed datapath id",
		yaml: `
switches: [{name: s1, dpid: "0xzz"}, {name: s2}]
`,
		want: []string{
			`t.yaml:2: switches[0].dpid: malformed datapath id "0xzz" (want 0x1, 1 or 00:00:00:00:00:00:00:01)`,
			`t.yaml:2: switches[1].dpid: missing datapath id`,
		},
	},
	{
		name: "duplicate switch name",
		yaml: `
switches:
  - {name: s1, dpid: "0x1"}
  - {name: s1, dpid: "0x2"}
`,
		want: []string{`t.yaml:4: switches[1].name: duplicate name s1 (also switches[0] at line 3)`},
	},
	{
		name: "duplicate host name, also against a switch",
		yaml: `
switches: [{name: s1, dpid: "0x1"}]
hosts:
  - {name: h1, switch: s1, port: 1, mac: "00:00:0a:00:00:01"}
  - {name: h1, switch: s1, port: 2, mac: "00:00:0a:00:00:02"}
  - {name: s1, switch: s1, port: 3, mac: "00:00:0a:00:00:03"}
`,
		want: []string{
			`t.yaml:5: hosts[1].name: duplicate name h1 (also hosts[0] at line 4)`,
			`t.yaml:6: hosts[2].name: duplicate name s1 (also switches[0] at line 2)`,
		},
	},
	{
		name: "port used by two hosts",
		yaml: `
switches: [{name: s1, dpid: "0x1"}]
hosts:
  - {name: h1, switch: s1, port: 1, mac: "00:00:0a:00:00:01"}
  - {name: h2, switch: s1, port: 1, mac: "00:00:0a:00:00:02"}
`,
		want: []string{`t.yaml:5: hosts[1].port: duplicate port s1:1 (also hosts[0] at line 4)`},
	},
	{
		name: "port used by a host and a link",
		yaml: `
switches: [{name: s1, dpid: "0x1"}, {name: s2, dpid: "0x2"}]
links:
  - {a: "s1:4", b: "s2:1"}
hosts:
  - {name: h1, switch: s2, port: 1, mac: "00:00:0a:00:00:01"}
`,
		want: []string{`t.yaml:6: hosts[0].port: duplicate port s2:1 (also links[0] at line 4)`},
	},
	{
		name: "link to unknown switch and malformed ends",
		yaml: `
switches: [{name: s1, dpid: "0x1"}, {name: s2, dpid: "0x2"}]
links:
  - {a: "s1:1", b: "s9:1"}
  - {a: "s1", b: "s2:1"}
  - {a: "s1:x", b: "s2:2"}
  - {a: "s1:0", b: "s2:3"}
  - {a: "s1:5", b: "s1:6"}
  - {a: "s1:7"}
`,
		want: []string{
			`t.yaml:4: links[0].b: unknown switch "s9"`,
			`t.yaml:5: links[1].a: malformed link end "s1" (want switch:port, like "s1:4")`,
			`t.yaml:6: links[2].a: malformed link end "s1:x": malformed port "x" (want 1 to 4294967040)`,
			`t.yaml:7: links[3].a: malformed link end "s1:0": malformed port "0" (want 1 to 4294967040)`,
			`t.yaml:8: links[4]: a link must join two different switches, both ends are on s1`,
			`t.yaml:9: links[5].b: missing link end (want "s1:4")`,
		},
	},
	{
		name: "host on unknown switch",
		yaml: `
switches: [{name: s1, dpid: "0x1"}]
hosts:
  - name: h1
    switch: s2
    port: 1
    mac: "00:00:0a:00:00:01"
`,
		want: []string{`t.yaml:5: hosts[0].switch: unknown switch "s2"`},
	},
	{
		name: "address outside its subnet",
		yaml: `
subnets: ["10.0.0.0/24", "2001:db8::/64"]
switches: [{name: s1, dpid: "0x1"}]
hosts:
  - name: h1
    switch: s1
    port: 1
    mac: "00:00:0a:00:00:01"
    ipv4: ["10.0.1.3", "10.0.0.3/16", "10.0.0.255"]
    ipv6: ["2001:db8:1::1"]
gateways:
  - {mac: "00:00:0a:00:00:fe", ipv6: ["2001:db9::1/64"]}
`,
		want: []string{
			`t.yaml:9: hosts[0].ipv4[0]: address 10.0.1.3 is outside every declared subnet (10.0.0.0/24, 2001:db8::/64)`,
			`t.yaml:9: hosts[0].ipv4[1]: 10.0.0.3/16 does not match its declared subnet 10.0.0.0/24`,
			`t.yaml:9: hosts[0].ipv4[2]: 10.0.0.255 is the network or broadcast address of 10.0.0.0/24`,
			`t.yaml:10: hosts[0].ipv6[0]: address 2001:db8:1::1 is outside every declared subnet (10.0.0.0/24, 2001:db8::/64)`,
			`t.yaml:12: gateways[0].ipv6[0]: address 2001:db9::1 is outside every declared subnet (10.0.0.0/24, 2001:db8::/64)`,
		},
	},
	{
		name: "malformed subnets",
		yaml: `
subnets: ["10.0.0.1/24", "10.0.0.0/16", "10.0.0.0/33"]
switches: [{name: s1, dpid: "0x1"}]
`,
		want: []string{
			`t.yaml:2: subnets[0]: 10.0.0.1/24 has bits set beyond its length; did you mean 10.0.0.0/24?`,
			`t.yaml:2: subnets[2]: malformed prefix "10.0.0.0/33" (want 10.0.0.0/24 or 2001:db8::/64)`,
		},
	},
	{
		name: "malformed addresses and MACs",
		yaml: `
switches: [{name: s1, dpid: "0x1"}]
hosts:
  - name: h1
    switch: s1
    port: 1
    mac: "00:00:0a:00:01"
    ipv4: ["10.0.0.300", "2001:db8::1", "224.0.0.1"]
    ipv6: ["10.0.0.1", "::ffff:10.0.0.1", "2001:db8::1/129"]
  - {name: h2, switch: s1, port: 2, mac: "01:00:5e:00:00:01"}
  - {name: h3, switch: s1, port: 3, mac: "00:00:00:00:00:00"}
  - {name: h4, switch: s1, port: 4}
`,
		want: []string{
			`t.yaml:7: hosts[0].mac: malformed MAC "00:00:0a:00:01" (want 00:00:0a:00:00:01)`,
			`t.yaml:8: hosts[0].ipv4[0]: malformed address "10.0.0.300"`,
			`t.yaml:8: hosts[0].ipv4[1]: 2001:db8::1 is not an IPv4 address`,
			`t.yaml:8: hosts[0].ipv4[2]: 224.0.0.1 is not a unicast address`,
			`t.yaml:9: hosts[0].ipv6[0]: 10.0.0.1 is not an IPv6 address`,
			`t.yaml:9: hosts[0].ipv6[1]: ::ffff:10.0.0.1 is an IPv4-mapped address; write the IPv4 address under ipv4`,
			`t.yaml:9: hosts[0].ipv6[2]: malformed address "2001:db8::1/129"`,
			`t.yaml:10: hosts[1].mac: 01:00:5e:00:00:01 is a multicast MAC, not one interface's`,
			`t.yaml:11: hosts[2].mac: the all-zero MAC cannot be used`,
			`t.yaml:12: hosts[3].mac: missing MAC address`,
		},
	},
	{
		name: "malformed host port",
		yaml: `
switches: [{name: s1, dpid: "0x1"}]
hosts:
  - {name: h1, switch: s1, port: "eth0", mac: "00:00:0a:00:00:01"}
  - {name: h2, switch: s1, port: 4294967295, mac: "00:00:0a:00:00:02"}
  - {name: h3, switch: s1, mac: "00:00:0a:00:00:03"}
`,
		want: []string{
			`t.yaml:4: hosts[0].port: malformed port "eth0" (want 1 to 4294967040)`,
			`t.yaml:5: hosts[1].port: malformed port "4294967295" (want 1 to 4294967040)`,
			`t.yaml:6: hosts[2].port: missing port number`,
		},
	},
	{
		name: "VIP not IPv4 and backend not IPv6",
		yaml: `
switches: [{name: s1, dpid: "0x1"}]
splice46:
  mac: "00:00:0a:00:00:42"
  pool6: "2001:db8:ffff::/96"
  services:
    - vip: "2001:db8::42"
      port: 80
      backends:
        - {address: "10.0.0.1:80"}
        - {address: "[::ffff:10.0.0.1]:80"}
        - {address: "[2001:db8:ffff::1]:80"}
        - {address: "2001:db8::1"}
`,
		want: []string{
			`t.yaml:7: splice46.services[0].vip: VIP must be IPv4: 2001:db8::42 is not an IPv4 address`,
			`t.yaml:10: splice46.services[0].backends[0].address: backend 10.0.0.1:80 must be an IPv6 unicast address`,
			`t.yaml:11: splice46.services[0].backends[1].address: backend [::ffff:10.0.0.1]:80 must be an IPv6 unicast address`,
			`t.yaml:12: splice46.services[0].backends[2].address: backend [2001:db8:ffff::1]:80 is inside pool6 2001:db8:ffff::/96`,
			`t.yaml:13: splice46.services[0].backends[3].address: malformed backend address "2001:db8::1" (want "[2001:db8::1]:80")`,
		},
	},
	{
		name: "pool6 prefix length",
		yaml: `
switches: [{name: s1, dpid: "0x1"}]
splice46:
  mac: "00:00:0a:00:00:42"
  pool6: "2001:db8:ffff::/80"
  services: [{vip: "10.0.0.42", port: 80, backends: [{address: "[2001:db8::1]:80"}]}]
`,
		want: []string{`t.yaml:5: splice46.pool6: prefix length /80 is not one RFC 6052 allows (32, 40, 48, 56, 64 or 96)`},
	},
	{
		name: "pool6 not IPv6 or not masked",
		yaml: `
switches: [{name: s1, dpid: "0x1"}]
splice46:
  mac: "00:00:0a:00:00:42"
  pool6: "10.0.0.0/8"
  services: [{vip: "10.0.0.42", port: 80, backends: [{address: "[2001:db8::1]:80"}]}]
---
`,
		want: []string{`t.yaml:5: splice46.pool6: 10.0.0.0/8 is not an IPv6 prefix`},
	},
	{
		name: "unknown select policy",
		yaml: `
switches: [{name: s1, dpid: "0x1"}]
splice46:
  mac: "00:00:0a:00:00:42"
  pool6: "2001:db8:ffff::/96"
  services:
    - vip: "10.0.0.42"
      port: 80
      select: least-conn
      backends: [{address: "[2001:db8::1]:80"}]
`,
		want: []string{`t.yaml:9: splice46.services[0].select: unknown select policy "least-conn" (want prefix, http-host, sni, hash or round-robin)`},
	},
	{
		name: "match and default rules",
		yaml: `
switches: [{name: s1, dpid: "0x1"}]
splice46:
  mac: "00:00:0a:00:00:42"
  pool6: "2001:db8:ffff::/96"
  services:
    - vip: "10.0.0.42"
      port: 443
      select: sni
      default: "[2001:db8::9]:443"
      backends:
        - {address: "[2001:db8::1]:443", match: ["A.example"]}
        - {address: "[2001:db8::2]:443", match: ["a.example"]}
        - {address: "[2001:db8::3]:443"}
        - {address: "[2001:db8::1]:443", match: ["c.example"], default: true}
    - vip: "10.0.0.42"
      port: 443
      select: round-robin
      backends: [{address: "[2001:db8::1]:443", match: ["x"]}]
`,
		want: []string{
			`t.yaml:10: splice46.services[0].default: the service already has a default backend (splice46.services[0].backends[3])`,
			`t.yaml:14: splice46.services[0].backends[2].match: with select sni a backend needs match values or default: true`,
			`t.yaml:15: splice46.services[0].backends[3].address: duplicate backend [2001:db8::1]:443 (also splice46.services[0].backends[0] at line 12)`,
			`t.yaml:19: splice46.services[1].backends[0].match: match is only used with select prefix, http-host or sni, not round-robin`,
		},
	},
	{
		name: "duplicate match within a backend; shared across backends for failover",
		yaml: `
switches: [{name: s1, dpid: "0x1"}]
splice46:
  mac: "00:00:0a:00:00:42"
  pool6: "2001:db8:ffff::/96"
  services:
    - vip: "10.0.0.42"
      port: 443
      select: sni
      backends:
        - {address: "[2001:db8::1]:443", match: ["a.example", "A.example"]}
        - {address: "[2001:db8::2]:443", match: ["a.example"]}
`,
		want: []string{`t.yaml:11: splice46.services[0].backends[0].match[1]: duplicate match "a.example" (also splice46.services[0].backends[0] at line 11)`},
	},
	{
		name: "engine limits and timeouts",
		yaml: `
switches: [{name: s1, dpid: "0x1"}]
splice46:
  mac: "00:00:0a:00:00:42"
  pool6: "2001:db8:ffff::/96"
  services: [{vip: "10.0.0.42", port: 80, backends: [{address: "[2001:db8::1]:80"}]}]
  limits: {max_connections: -5, max_held_bytes: 70000, syn_cookie_threshold: -1}
  timeouts: {idle: forever}
`,
		want: []string{
			`t.yaml:7: splice46.limits.max_connections: -5 is negative (0 takes the default)`,
			`t.yaml:7: splice46.limits.max_held_bytes: 70000 is above 65535 (it is also the window offered to clients)`,
			`t.yaml:8: splice46.timeouts.idle: malformed duration "forever" (want 5s, 1500ms or a number of seconds)`,
		},
	},
	{
		name: "engine timeouts out of order",
		yaml: `
switches: [{name: s1, dpid: "0x1"}]
splice46:
  mac: "00:00:0a:00:00:42"
  pool6: "2001:db8:ffff::/96"
  services: [{vip: "10.0.0.42", port: 80, backends: [{address: "[2001:db8::1]:80"}]}]
  timeouts:
    idle: 1h
    transitory: 2h
    closed: 3h
    linger: 5s
`,
		want: []string{
			`t.yaml:9: splice46.timeouts.transitory: 2h0m0s is above idle (1h0m0s)`,
			`t.yaml:10: splice46.timeouts.closed: 3h0m0s is above transitory (2h0m0s)`,
			`t.yaml:11: splice46.timeouts.linger: linger is the old name of closed, also given (line 10): keep only closed`,
		},
	},
	{
		name: "engine limits that contradict each other",
		yaml: `
switches: [{name: s1, dpid: "0x1"}]
splice46:
  mac: "00:00:0a:00:00:42"
  pool6: "2001:db8:ffff::/96"
  services: [{vip: "10.0.0.42", port: 80, backends: [{address: "[2001:db8::1]:80"}]}]
  limits:
    max_connections: 500
    syn_cookie_threshold: 600
    max_held_bytes: 8192
    max_held_bytes_global: 4096
`,
		want: []string{
			`t.yaml:9: splice46.limits.syn_cookie_threshold: 600 is above max_connections, which max_embryonic defaults to (500): SYN cookies would never be sent`,
			`t.yaml:11: splice46.limits.max_held_bytes_global: 4096 is below max_held_bytes (8192)`,
		},
	},
	{
		name: "both names of the global held bytes limit",
		yaml: `
switches: [{name: s1, dpid: "0x1"}]
splice46:
  mac: "00:00:0a:00:00:42"
  pool6: "2001:db8:ffff::/96"
  services: [{vip: "10.0.0.42", port: 80, backends: [{address: "[2001:db8::1]:80"}]}]
  limits:
    max_held_bytes_global: 1048576
    max_held_bytes_total: 1048576
`,
		want: []string{`t.yaml:9: splice46.limits.max_held_bytes_total: max_held_bytes_total is the old name of max_held_bytes_global, also given (line 8): keep only max_held_bytes_global`},
	},
	{
		name: "duplicate service",
		yaml: `
switches: [{name: s1, dpid: "0x1"}]
splice46:
  mac: "00:00:0a:00:00:42"
  pool6: "2001:db8:ffff::/96"
  services:
    - {vip: "10.0.0.42", port: 80, backends: [{address: "[2001:db8::1]:80"}]}
    - {vip: "10.0.0.42", port: 443, backends: [{address: "[2001:db8::1]:443"}]}
    - {vip: "10.0.0.42", port: 80, backends: [{address: "[2001:db8::2]:80"}]}
`,
		want: []string{`t.yaml:9: splice46.services[2]: duplicate service 10.0.0.42:80 (also splice46.services[0] at line 7)`},
	},
	{
		name: "splice46 MAC taken by a host, shared with a gateway",
		yaml: `
switches: [{name: s1, dpid: "0x1"}]
hosts: [{name: h1, switch: s1, port: 1, mac: "00:00:0a:00:00:42"}]
gateways: [{mac: "00:00:0a:00:00:42", ipv4: ["10.0.0.1/24"]}]
splice46:
  mac: "00:00:0a:00:00:42"
  pool6: "2001:db8:ffff::/96"
  services: [{vip: "10.0.0.42", port: 80, backends: [{address: "[2001:db8::1]:80"}]}]
`,
		want: []string{
			`t.yaml:4: gateways[0].mac: duplicate MAC 00:00:0a:00:00:42 (also hosts[0] at line 3)`,
			`t.yaml:6: splice46.mac: duplicate MAC 00:00:0a:00:00:42 (also hosts[0] at line 3)`,
		},
	},
	{
		name: "gateway and router advertisement mistakes",
		yaml: `
switches: [{name: s1, dpid: "0x1"}]
gateways:
  - {name: a, mac: "00:00:0a:00:00:fe", ipv4: ["10.0.0.1"]}
  - {name: b, mac: "00:00:0a:00:00:fd", ipv4: ["10.0.0.2/24"], router_advertisements: true}
  - {name: c, mac: "00:00:0a:00:00:fc", ipv6: ["2001:db8::1/64"], ra: {interval: 10s}}
  - name: d
    mac: "00:00:0a:00:00:fb"
    ipv6: ["2001:db8::2/64"]
    router_advertisements: true
    ra: {interval: 1s, hop_limit: 300, mtu: 100, prefixes: ["fe80::/64"], preferred_lifetime: 2h, valid_lifetime: 1h}
  - {name: e, ipv4: ["10.0.0.3/24"]}
`,
		want: []string{
			`t.yaml:4: gateways[0].ipv4[0]: a gateway address needs a prefix length (like 10.0.0.1/24) or a declared subnet containing it`,
			`t.yaml:5: gateways[1].router_advertisements: router advertisements need at least one ipv6 address on the gateway`,
			`t.yaml:6: gateways[2].ra: ra parameters are given but router_advertisements is not true`,
			`t.yaml:11: gateways[3].ra.interval: 1s is out of range (4s to 1800s)`,
			`t.yaml:11: gateways[3].ra.preferred_lifetime: preferred lifetime 2h0m0s is longer than valid lifetime 1h0m0s`,
			`t.yaml:11: gateways[3].ra.hop_limit: malformed number "300" (want 0 to 255)`,
			`t.yaml:11: gateways[3].ra.mtu: malformed number "100" (want 1280 to 65535)`,
			`t.yaml:11: gateways[3].ra.prefixes[0]: fe80::/64 is not a global IPv6 prefix`,
			`t.yaml:12: gateways[4].mac: missing MAC (a gateway without one answers with splice46.mac, but there is none)`,
		},
	},
	{
		name: "controller section",
		yaml: `
controller:
  listen: "udp:0.0.0.0:6653"
  http: "localhost:9464"
  echo_interval: 10s
  echo_timeout: 5
  packet_in_rate: -1
  stats_interval: 500ms
  max_handshakes: 8
  max_handshakes_per_source: 16
  max_multipart_bytes: -1
  takeover_probe_timeout: 2m
switches: [{name: s1, dpid: "0x1", tls_subject: s1.example}]
`,
		want: []string{
			`t.yaml:3: controller.listen: malformed listen address "udp:0.0.0.0:6653" (want tcp:0.0.0.0:6653 or tls:[::]:6653)`,
			`t.yaml:4: controller.http: malformed address "localhost:9464" (want 127.0.0.1:9464, [::1]:9464 or off)`,
			`t.yaml:6: controller.echo_timeout: echo_timeout (5s) must be longer than echo_interval (10s)`,
			`t.yaml:7: controller.packet_in_rate: -1 is negative (0 means unbounded)`,
			`t.yaml:8: controller.stats_interval: 500ms is too short (at least 1s, or 0 to turn polling off)`,
			`t.yaml:10: controller.max_handshakes_per_source: 16 is more than max_handshakes (8)`,
			`t.yaml:11: controller.max_multipart_bytes: -1 is negative (0 takes the default)`,
			`t.yaml:12: controller.takeover_probe_timeout: 2m0s is out of range (10ms to 1m)`,
			`t.yaml:13: switches[0].tls_subject: a certificate subject needs mutual TLS (controller.tls with a ca)`,
		},
	},
	{
		name: "http and its old name metrics",
		yaml: `
controller:
  http: "127.0.0.1:9464"
  metrics: "127.0.0.1:9465"
  stats_interval: soon
switches: [{name: s1, dpid: "0x1"}]
`,
		want: []string{
			`t.yaml:4: controller.metrics: metrics is the old name of http and both are given (line 3); keep http only`,
			`t.yaml:5: controller.stats_interval: malformed duration "soon" (want 5s, 1500ms or a number of seconds)`,
		},
	},
	{
		name: "tls without keys",
		yaml: `
controller:
  listen: "tls:[::]:6653"
  tls: {ca: ca.pem}
switches: [{name: s1, dpid: "0x1"}]
`,
		want: []string{
			`t.yaml:4: controller.tls.cert: missing certificate file`,
			`t.yaml:4: controller.tls.key: missing key file`,
		},
	},
	{
		name: "unknown and repeated keys",
		yaml: `
switches:
  - {name: s1, dpid: "0x1", model: ovs}
hosts:
  - name: h1
    name: h2
nat46: {}
`,
		want: []string{
			`t.yaml:3: switches[0].model: unknown field (known fields: dpid, name, tls_subject)`,
			`t.yaml:6: hosts[0].name: key given twice (also at line 5)`,
			`t.yaml:7: nat46: unknown field (known fields: controller, dhcp4, dns64, gateways, ha, hosts, links, nat64, siit, splice46, subnets, switches)`,
		},
	},
	{
		name: "wrong shapes",
		yaml: `
switches: {name: s1}
hosts:
  - [h1]
subnets: "10.0.0.0/24"
gateways: [{name: [x], router_advertisements: "yes"}]
`,
		want: []string{
			`t.yaml:2: switches: expected a list, got a mapping`,
			`t.yaml:4: hosts[0]: expected a mapping of fields, got a list`,
			`t.yaml:5: subnets: expected a list, got "10.0.0.0/24"`,
			`t.yaml:6: gateways[0].name: expected a single value, got a list`,
			`t.yaml:6: gateways[0].router_advertisements: expected true or false, got "yes"`,
		},
	},
	{
		name: "syntax error",
		yaml: "switches: [\n  {name: s1\n",
		want: []string{`t.yaml:1: did not find expected ',' or '}'`},
	},
	{
		name: "empty",
		yaml: "# nothing here\n",
		want: []string{`t.yaml: empty file: declare at least one switch, or a dns64 section`},
	},
	{
		name: "no switches",
		yaml: "hosts: []\n",
		want: []string{`t.yaml: switches: at least one switch must be declared`},
	},
	{
		name: "two documents",
		yaml: "switches: [{name: s1, dpid: 1}]\n---\nswitches: []\n",
		want: []string{`t.yaml:2: a second YAML document is not allowed; put everything in one`},
	},
}

func TestValidationErrors(t *testing.T) {
	for _, tc := range validationCases {
		t.Run(tc.name, func(t *testing.T) {
			topo, err := Parse("t.yaml", []byte(tc.yaml))
			if err == nil {
				t.Fatalf("Parse succeeded: %+v", topo)
			}
			var list Errors
			if !errors.As(err, &list) {
				t.Fatalf("error %T is not Errors: %v", err, err)
			}
			var got []string
			for _, e := range list {
				got = append(got, e.Error())
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("got:\n\t%s\nwant:\n\t%s", strings.Join(got, "\n\t"), strings.Join(tc.want, "\n\t"))
			}
		})
	}
}

// manyBackends writes n distinct backends for a flow list.
func manyBackends(n int) string {
	var bs []string
	for i := range n {
		bs = append(bs, fmt.Sprintf(`{address: "[2001:db8::%x]:80"}`, i+1))
	}
	return strings.Join(bs, ", ")
}

// TestManyBackends: a service takes any number of backends.
func TestManyBackends(t *testing.T) {
	top, err := Parse("t.yaml", []byte(`
switches: [{name: s1, dpid: "0x1"}]
splice46:
  mac: "00:00:0a:00:00:42"
  pool6: "2001:db8:ffff::/96"
  services:
    - vip: "10.0.0.42"
      port: 80
      backends: [`+manyBackends(1000)+`]
`))
	if err != nil {
		t.Fatal(err)
	}
	if n := len(top.Splice46.Services[0].Backends); n != 1000 {
		t.Errorf("%d backends", n)
	}
}

func TestOldHeldBytesKeyWarns(t *testing.T) {
	const file = `
switches: [{name: s1, dpid: "0x1"}]
splice46:
  mac: "00:00:0a:00:00:42"
  pool6: "2001:db8:ffff::/96"
  services: [{vip: "10.0.0.42", port: 80, backends: [{address: "[2001:db8::1]:80"}]}]
  limits:
    max_held_bytes_total: 1048576
`
	top, err := Parse("t.yaml", []byte(file))
	if err != nil {
		t.Fatal(err)
	}
	if got := top.Splice46.Limits.MaxHeldBytesGlobal; got != 1<<20 {
		t.Errorf("MaxHeldBytesGlobal = %d, want the old key's 1048576", got)
	}
	var got []string
	for _, w := range top.Warnings {
		got = append(got, w.Error())
	}
	want := []string{`t.yaml:8: splice46.limits.max_held_bytes_total: deprecated: rename it max_held_bytes_global (same meaning)`}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("warnings %q, want %q", got, want)
	}

	top, err = Parse("t.yaml", []byte(strings.Replace(file, "max_held_bytes_total", "max_held_bytes_global", 1)))
	if err != nil {
		t.Fatal(err)
	}
	if top.Splice46.Limits.MaxHeldBytesGlobal != 1<<20 || len(top.Warnings) != 0 {
		t.Errorf("new key: limit %d, warnings %v", top.Splice46.Limits.MaxHeldBytesGlobal, top.Warnings)
	}
}

func TestLingerKeyWarns(t *testing.T) {
	const file = `
switches: [{name: s1, dpid: "0x1"}]
splice46:
  mac: "00:00:0a:00:00:42"
  pool6: "2001:db8:ffff::/96"
  services: [{vip: "10.0.0.42", port: 80, backends: [{address: "[2001:db8::1]:80"}]}]
  timeouts:
    linger: 30s
`
	top, err := Parse("t.yaml", []byte(file))
	if err != nil {
		t.Fatal(err)
	}
	if got := top.Splice46.Timeouts.Closed; got != 30*time.Second {
		t.Errorf("Closed = %v, want the old key's 30s", got)
	}
	var got []string
	for _, w := range top.Warnings {
		got = append(got, w.Error())
	}
	want := []string{`t.yaml:8: splice46.timeouts.linger: deprecated: rename it closed (kept after both FINs are acknowledged or a RST, refreshed by every segment)`}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("warnings %q, want %q", got, want)
	}
	top, err = Parse("t.yaml", []byte(strings.Replace(file, "    linger: 30s", "    closed: 30s\n    transitory: 5m\n    idle: 3h", 1)))
	if err != nil {
		t.Fatal(err)
	}
	if tm := top.Splice46.Timeouts; tm.Closed != 30*time.Second || tm.Transitory != 5*time.Minute || tm.Idle != 3*time.Hour || len(top.Warnings) != 0 {
		t.Errorf("new keys: %+v, warnings %v", tm, top.Warnings)
	}
}
