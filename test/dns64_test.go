package test

import (
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/sixgate/sixgate/test/ovs"
)

// The DNS64 lab, all on loopback: an unbound serving the zone dns64.test
// and a reverse zone with auth-zone (the upstream), sixgate's DNS64 in
// front of it, and a second unbound with its own dns64 module forwarding
// to the same upstream. Both DNS64s get the same queries; their answers
// must agree except where the list of differences below says, with the
// RFC clause that makes sixgate's answer the right one.
const dns64Zone = `$ORIGIN dns64.test.
@        3600 IN SOA ns hostmaster 1 3600 600 86400 300
@        3600 IN NS  ns
ns       3600 IN A   198.41.0.53
v6       3000 IN AAAA 2001:db8::1
dual     3000 IN AAAA 2001:db8::2
dual     3000 IN A   198.41.0.2
v4       3000 IN A   198.41.0.4
v4       3000 IN A   198.41.0.5
short      60 IN A   198.41.0.6
www       100 IN CNAME v4
mapped   3000 IN AAAA ::ffff:198.41.0.7
mapped   3000 IN A   198.41.0.7
private  3000 IN A   10.0.0.1
txt      3000 IN TXT "no address"
`

const dns64ReverseZone = `$ORIGIN 0.41.198.in-addr.arpa.
@        3600 IN SOA ns.dns64.test. hostmaster.dns64.test. 1 3600 600 86400 300
@        3600 IN NS  ns.dns64.test.
4        2000 IN PTR v4.dns64.test.
`

// bigRecords puts 100 A records on one name, more than a UDP answer holds.
func bigRecords() string {
	var b strings.Builder
	for i := range 100 {
		fmt.Fprintf(&b, "big 3000 IN A 198.41.1.%d\n", i+1)
	}
	return b.String()
}

type dns64Query struct {
	label  string
	name   string
	qtype  uint16
	do, cd bool
	tcp    bool
	noEDNS bool
}

// dns64Answer is what is compared: the RCODE, TC and the answer section,
// TTLs apart (a cache counts them down).
type dns64Answer struct {
	rcode   string
	tc      bool
	records []string       // "name type rdata", sorted
	ttls    map[string]int // by record
}

func (a dns64Answer) String() string {
	var lines []string
	for _, r := range a.records {
		lines = append(lines, fmt.Sprintf("%s ttl=%d", r, a.ttls[r]))
	}
	return fmt.Sprintf("%s tc=%v [%s]", a.rcode, a.tc, strings.Join(lines, "; "))
}

func askDNS64(t *testing.T, addr string, q dns64Query) dns64Answer {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(q.name), q.qtype)
	m.CheckingDisabled = q.cd
	if !q.noEDNS {
		m.SetEdns0(1232, q.do)
	}
	c := &dns.Client{Timeout: 3 * time.Second}
	if q.tcp {
		c.Net = "tcp"
	}
	var in *dns.Msg
	var err error
	for range 3 { // a lost UDP datagram on a loaded machine
		if in, _, err = c.Exchange(m, addr); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("%s at %s: %v", q.label, addr, err)
	}
	a := dns64Answer{rcode: dns.RcodeToString[in.Rcode], tc: in.Truncated, ttls: map[string]int{}}
	for _, rr := range in.Answer {
		ttl := int(rr.Header().Ttl)
		rr = dns.Copy(rr)
		rr.Header().Ttl = 0
		s := strings.ToLower(strings.Join(strings.Fields(rr.String()), " "))
		s = strings.Replace(s, " 0 in ", " in ", 1)
		a.records = append(a.records, s)
		a.ttls[s] = ttl
	}
	sort.Strings(a.records)
	return a
}

// sameAnswer compares two answers, TTLs within slack seconds.
func sameAnswer(a, b dns64Answer, slack int) bool {
	if a.rcode != b.rcode || a.tc != b.tc || strings.Join(a.records, "\n") != strings.Join(b.records, "\n") {
		return false
	}
	for r, ttl := range a.ttls {
		if d := ttl - b.ttls[r]; d > slack || d < -slack {
			return false
		}
	}
	return true
}

func unboundServer(dir string, port int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "server:\n  interface: 127.0.0.1\n  port: %d\n  do-daemonize: no\n  username: \"\"\n  chroot: \"\"\n", port)
	fmt.Fprintf(&b, "  directory: %q\n  pidfile: \"\"\n  use-syslog: no\n  logfile: \"\"\n  verbosity: 1\n", dir)
	b.WriteString("  do-ip6: no\n  access-control: 127.0.0.0/8 allow\n")
	return b.String()
}

// startDNS64Upstream runs the upstream: the two zones as auth-zones, and
// REFUSED for every other name, at once (nothing is resolved from the
// Internet).
func startDNS64Upstream(t *testing.T, bin string, port int) {
	t.Helper()
	dir := t.TempDir()
	zones := map[string]string{"dns64.test.": dns64Zone + bigRecords(), "0.41.198.in-addr.arpa.": dns64ReverseZone}
	conf := unboundServer(dir, port) + "  module-config: \"iterator\"\n  local-zone: \".\" refuse\n"
	var auth strings.Builder
	for name, text := range zones {
		file := filepath.Join(dir, name+"zone")
		if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		conf += fmt.Sprintf("  local-zone: %q transparent\n", name)
		fmt.Fprintf(&auth, "auth-zone:\n  name: %q\n  zonefile: %q\n  for-downstream: yes\n  for-upstream: yes\n  fallback-enabled: no\n", name, file)
	}
	probe := new(dns.Msg)
	probe.SetQuestion("v6.dns64.test.", dns.TypeAAAA)
	runUnbound(t, bin, dir, port, conf+auth.String(), probe, func(in *dns.Msg) bool { return len(in.Answer) == 1 })
}

// startUnboundDNS64 runs Unbound's own DNS64 (module-config "dns64
// iterator") forwarding everything to the upstream.
func startUnboundDNS64(t *testing.T, bin string, port, upstream int) {
	t.Helper()
	dir := t.TempDir()
	conf := unboundServer(dir, port) + "  module-config: \"dns64 iterator\"\n  dns64-prefix: 64:ff9b::/96\n" +
		"  do-not-query-localhost: no\n  local-zone: \"test.\" nodefault\n" +
		fmt.Sprintf("forward-zone:\n  name: \".\"\n  forward-addr: 127.0.0.1@%d\n", upstream)
	probe := new(dns.Msg)
	probe.SetQuestion("v6.dns64.test.", dns.TypeAAAA)
	runUnbound(t, bin, dir, port, conf, probe, func(in *dns.Msg) bool { return len(in.Answer) == 1 })
}

func TestDNS64AgainstUnbound(t *testing.T) {
	unbound := requireUnbound(t)
	bin := ovs.BuildSixgate(t)
	upPort, theirs, ours, ours2 := freeUDPPort(t), freeUDPPort(t), freePort(t), freePort(t)
	startDNS64Upstream(t, unbound, upPort)
	startUnboundDNS64(t, unbound, theirs, upPort)

	dir := t.TempDir()
	config := filepath.Join(dir, "dns64.yaml")
	ctlPort, httpPort := freePort(t), freePort(t)
	write := func(listen int, prefix string) {
		t.Helper()
		cfg := fmt.Sprintf(`controller: {listen: "tcp:127.0.0.1:%d", http: "127.0.0.1:%d"}
dns64:
  listen: ["127.0.0.1:%d"]
  upstream: ["127.0.0.1:%d"]
  prefix: %q
  rate: "off"
`, ctlPort, httpPort, listen, upPort, prefix)
		if err := os.WriteFile(config, []byte(cfg), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(ours, "64:ff9b::/96")
	if out, err := exec.Command(bin, "check", "-config", config).CombinedOutput(); err != nil ||
		!strings.Contains(string(out), "DNS64 on 1 addresses with 1 upstreams in 64:ff9b::/96") {
		t.Fatalf("sixgate check: %v: %s", err, out)
	}
	d := ovs.StartSixgate(t, bin, "-config", config)
	oursAddr, theirsAddr := fmt.Sprintf("127.0.0.1:%d", ours), fmt.Sprintf("127.0.0.1:%d", theirs)
	probe := new(dns.Msg)
	probe.SetQuestion("v4.dns64.test.", dns.TypeAAAA)
	if !ovs.Wait(10*time.Second, func() bool {
		in, _, err := (&dns.Client{Timeout: 300 * time.Millisecond}).Exchange(probe, oursAddr)
		return err == nil && len(in.Answer) > 0
	}) {
		t.Fatalf("sixgate's DNS64 does not answer on %s:\n%s", oursAddr, d.Logs())
	}

	ptr, _ := dns.ReverseAddr("64:ff9b::198.41.0.4")
	queries := []dns64Query{
		{label: "real AAAA", name: "v6.dns64.test", qtype: dns.TypeAAAA},
		{label: "AAAA beside A", name: "dual.dns64.test", qtype: dns.TypeAAAA},
		{label: "synthesized", name: "v4.dns64.test", qtype: dns.TypeAAAA},
		{label: "synthesized, A TTL below the negative TTL", name: "short.dns64.test", qtype: dns.TypeAAAA},
		{label: "CNAME chain", name: "www.dns64.test", qtype: dns.TypeAAAA},
		{label: "excluded AAAA", name: "mapped.dns64.test", qtype: dns.TypeAAAA},
		{label: "private IPv4", name: "private.dns64.test", qtype: dns.TypeAAAA},
		{label: "NODATA without A", name: "txt.dns64.test", qtype: dns.TypeAAAA},
		{label: "NXDOMAIN", name: "none.dns64.test", qtype: dns.TypeAAAA},
		{label: "A", name: "v4.dns64.test", qtype: dns.TypeA},
		{label: "TXT", name: "txt.dns64.test", qtype: dns.TypeTXT},
		{label: "PTR under the prefix", name: ptr, qtype: dns.TypePTR},
		{label: "ipv4only.arpa", name: "ipv4only.arpa", qtype: dns.TypeAAAA},
		{label: "DO and CD", name: "v4.dns64.test", qtype: dns.TypeAAAA, do: true, cd: true},
		{label: "DO alone", name: "v4.dns64.test", qtype: dns.TypeAAAA, do: true},
		{label: "large, UDP without EDNS", name: "big.dns64.test", qtype: dns.TypeAAAA, noEDNS: true},
		{label: "large, TCP", name: "big.dns64.test", qtype: dns.TypeAAAA, tcp: true},
	}
	// The differences, each with the clause sixgate follows and its
	// answer there, "name type rdata ttl" per record.
	type difference struct {
		clause string
		// rfc reports whether sixgate's answer is the one the
		// clause asks for.
		rfc func(mine, theirs dns64Answer) bool
	}
	// ttl: the records are the same and sixgate's AAAA records have
	// this TTL.
	ttl := func(want int) func(mine, theirs dns64Answer) bool {
		return func(mine, theirs dns64Answer) bool {
			if mine.rcode != theirs.rcode || strings.Join(mine.records, "\n") != strings.Join(theirs.records, "\n") {
				return false
			}
			for r, v := range mine.ttls {
				if strings.Contains(r, " aaaa ") && v != want {
					return false
				}
			}
			return len(mine.records) > 0
		}
	}
	exactly := func(rcode string, records ...string) func(mine, theirs dns64Answer) bool {
		return func(mine, _ dns64Answer) bool {
			var got []string
			for _, r := range mine.records {
				got = append(got, fmt.Sprintf("%s %d", r, mine.ttls[r]))
			}
			sort.Strings(records)
			return mine.rcode == rcode && !mine.tc && strings.Join(got, "\n") == strings.Join(records, "\n")
		}
	}
	negativeTTL := "RFC 6147 5.1.7: TTL = min(A TTL 3000, negative TTL of the AAAA answer = min(SOA TTL 3600, MINIMUM 300)) = 300; Unbound 1.17 keeps the A TTL"
	differences := map[string]difference{
		"synthesized":   {negativeTTL, ttl(300)},
		"DO alone":      {negativeTTL, ttl(300)},
		"large, TCP":    {negativeTTL, ttl(300)},
		"CNAME chain":   {"RFC 6147 5.1.7: the upstream's AAAA answer for the chain carries no SOA, so TTL = min(A TTL 3000, 600) = 600; Unbound 1.17 keeps the A TTL", ttl(600)},
		"excluded AAAA": {"RFC 6147 5.1.4: ::ffff:0:0/96 is excluded, so the AAAA is treated as absent and synthesized (no SOA: min(3000, 600)); Unbound 1.17 returns the ::ffff: record", exactly("NOERROR", "mapped.dns64.test. in aaaa 64:ff9b::c629:7 600")},
		"private IPv4":  {"RFC 6052 3.1: 10.0.0.1 is not global and may not be represented under 64:ff9b::/96, so NODATA; Unbound 1.17 synthesizes 64:ff9b::a00:1", exactly("NOERROR")},
		"ipv4only.arpa": {"RFC 8880 7.2: a DNS64 resolver answers ipv4only.arpa itself with the well-known addresses in its prefix; Unbound 1.17 asks its upstream, which refuses", exactly("NOERROR", "ipv4only.arpa. in aaaa 64:ff9b::c000:aa 300", "ipv4only.arpa. in aaaa 64:ff9b::c000:ab 300")},
	}

	for _, q := range queries {
		mine, theirs := askDNS64(t, oursAddr, q), askDNS64(t, theirsAddr, q)
		if diff, listed := differences[q.label]; listed {
			if !diff.rfc(mine, theirs) {
				t.Errorf("%s: sixgate does not give the answer of %s:\n  sixgate %s\n  unbound %s", q.label, diff.clause, mine, theirs)
			} else {
				t.Logf("%s: expected difference (%s)", q.label, diff.clause)
			}
			continue
		}
		if !sameAnswer(mine, theirs, 2) {
			t.Errorf("%s: unlisted difference:\n  sixgate %s\n  unbound %s", q.label, mine, theirs)
		} else {
			t.Logf("%s: same: %s", q.label, mine)
		}
	}

	// Reload: another prefix, live on the same sockets.
	write(ours, "2001:db8:64::/96")
	if err := d.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	inPrefix := func(addr, prefix string) bool {
		in, _, err := (&dns.Client{Timeout: 300 * time.Millisecond}).Exchange(probe, addr)
		return err == nil && len(in.Answer) > 0 && strings.HasPrefix(in.Answer[0].(*dns.AAAA).AAAA.String(), prefix)
	}
	if !ovs.Wait(10*time.Second, func() bool { return inPrefix(oursAddr, "2001:db8:64::") }) {
		t.Fatalf("after reload, no answer in the new prefix on %s:\n%s", oursAddr, d.Logs())
	}
	if got := askDNS64(t, oursAddr, dns64Query{label: "after reload", name: "v4.dns64.test", qtype: dns.TypeAAAA, tcp: true}); len(got.records) != 2 {
		t.Errorf("after reload, over TCP: %s", got)
	}
	// Another port needs a restart: the reload is refused, naming the
	// key, and the running sockets keep serving.
	write(ours2, "64:ff9b::/96")
	if err := d.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	refused := fmt.Sprintf("dns64.listen: changed from 127.0.0.1:%d to 127.0.0.1:%d: restart sixgate to apply it", ours, ours2)
	if !ovs.Wait(10*time.Second, func() bool { return strings.Contains(d.Logs(), refused) }) {
		t.Fatalf("a reload changing the listen port was not refused with %q:\n%s", refused, d.Logs())
	}
	if !inPrefix(oursAddr, "2001:db8:64::") {
		t.Errorf("after the refused reload, %s does not answer as before", oursAddr)
	}
	if _, _, err := (&dns.Client{Timeout: 300 * time.Millisecond}).Exchange(probe, fmt.Sprintf("127.0.0.1:%d", ours2)); err == nil {
		t.Errorf("the refused address 127.0.0.1:%d answers", ours2)
	}
	if code := d.Stop(); code != 0 {
		t.Errorf("sixgate exited with %d after SIGTERM:\n%s", code, d.Logs())
	}
}

// TestDNS64FromTheFabric: a host on the fabric queries the resolver at an
// address the sixgate machine has on the fabric, an Open vSwitch internal
// port declared as a host in the topology (docs/dns64.md, "Reaching it
// from the fabric"), over UDP and TCP.
func TestDNS64FromTheFabric(t *testing.T) {
	ovs.Require(t)
	unbound := requireUnbound(t)
	bin := ovs.BuildSixgate(t)
	upPort, ctlPort := freeUDPPort(t), freePort(t)
	startDNS64Upstream(t, unbound, upPort)

	br := ovs.NewBridge(t, "sgd64", 0xd6, fmt.Sprintf("tcp:127.0.0.1:%d", ctlPort))
	h1 := ovs.AddNetns(t, br, "sgd64-h1", 1, "00:00:0a:00:00:01", "2001:db8:d6::1/64")
	ovs.AddInternalPort(t, br, "sgd64dns", 5, "00:00:0a:00:00:35", "2001:db8:d6::53/64")

	config := filepath.Join(t.TempDir(), "fabric.yaml")
	cfg := fmt.Sprintf(`controller: {listen: "tcp:127.0.0.1:%d", http: "off"}
switches: [{name: s1, dpid: "0xd6"}]
hosts:
  - {name: h1, switch: s1, port: 1, mac: "00:00:0a:00:00:01", ipv6: ["2001:db8:d6::1/64"]}
  - {name: resolver, switch: s1, port: 5, mac: "00:00:0a:00:00:35", ipv6: ["2001:db8:d6::53/64"]}
dns64:
  listen: ["[2001:db8:d6::53]:53"]
  upstream: ["127.0.0.1:%d"]
  prefix: "64:ff9b::/96"
`, ctlPort, upPort)
	if err := os.WriteFile(config, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	d := ovs.StartSixgate(t, bin, "-config", config)
	if !ovs.Wait(20*time.Second, func() bool { return strings.Contains(d.Logs(), "flows synced") }) {
		t.Fatalf("sixgate did not sync the bridge:\n%s", d.Logs())
	}
	// A query from the host, over UDP then TCP, with Python's sockets
	// (the host has no DNS tools); the answer comes back as hex.
	const query = `
import socket, struct, sys
name, tcp = sys.argv[1], sys.argv[2] == "tcp"
q = struct.pack(">HHHHHH", 0x4242, 0x0100, 1, 0, 0, 0)
q += b"".join(bytes([len(l)]) + l.encode() for l in name.split(".")) + b"\0" + struct.pack(">HH", 28, 1)
if tcp:
    s = socket.create_connection(("2001:db8:d6::53", 53), timeout=3)
    s.sendall(struct.pack(">H", len(q)) + q)
    n = struct.unpack(">H", s.recv(2))[0]
    r = b""
    while len(r) < n:
        r += s.recv(n - len(r))
else:
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.settimeout(3)
    s.sendto(q, ("2001:db8:d6::53", 53))
    r = s.recv(4096)
print(r.hex())
`
	for _, transport := range []string{"udp", "tcp"} {
		var out string
		var err error
		if !ovs.Wait(10*time.Second, func() bool {
			out, err = h1.Output(5*time.Second, "", "python3", "-c", query, "v4.dns64.test", transport)
			return err == nil
		}) {
			t.Fatalf("%s query from h1: %v: %s\n%s", transport, err, out, d.Logs())
		}
		b, err := hex.DecodeString(strings.TrimSpace(out))
		if err != nil {
			t.Fatalf("%s: %q: %v", transport, out, err)
		}
		m := new(dns.Msg)
		if err := m.Unpack(b); err != nil {
			t.Fatalf("%s: %v", transport, err)
		}
		got := records(m)
		want := "v4.dns64.test. in aaaa 64:ff9b::c629:4; v4.dns64.test. in aaaa 64:ff9b::c629:5"
		if m.Id != 0x4242 || m.Rcode != dns.RcodeSuccess || got != want {
			t.Errorf("%s: id %#x %s [%s], want [%s]", transport, m.Id, dns.RcodeToString[m.Rcode], got, want)
		}
	}
}

// records lists an answer section as "name class type rdata", sorted.
func records(m *dns.Msg) string {
	var out []string
	for _, rr := range m.Answer {
		rr = dns.Copy(rr)
		rr.Header().Ttl = 0
		out = append(out, strings.Replace(strings.ToLower(strings.Join(strings.Fields(rr.String()), " ")), " 0 in ", " in ", 1))
	}
	sort.Strings(out)
	return strings.Join(out, "; ")
}
