package proxy46

import (
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/sixgate/sixgate/packet"
)

// fakeResolver answers from a table; names in pending say LookupPending
// until answer moves them to the table.
type fakeResolver struct {
	mu      sync.Mutex
	answers map[string]fakeAnswer
	asked   []string
}

type fakeAnswer struct {
	addrs []netip.Addr
	state LookupState
}

func (f *fakeResolver) Lookup(_ netip.Addr, name string) ([]netip.Addr, LookupState) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.asked = append(f.asked, name)
	a, ok := f.answers[name]
	if !ok {
		return nil, LookupPending
	}
	return a.addrs, a.state
}

func (f *fakeResolver) set(name string, st LookupState, addrs ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var as []netip.Addr
	for _, a := range addrs {
		as = append(as, netip.MustParseAddr(a))
	}
	f.answers[name] = fakeAnswer{as, st}
}

var dnsPrefix = netip.MustParsePrefix("2001:db8:5::/48")

// dnsEngine has an SNI service on 443 and an http-host one on 80 whose
// backends come from res, on port 8443 and 8080.
func dnsEngine(t *testing.T, res Resolver, mod func(*Config)) (*Engine, *fakeClock) {
	return newTestEngine(t, func(c *Config) {
		c.Services = []Service{
			{VIP: vip, Port: 443, Policy: PolicySNI, Backends: []Backend{{Addr: backendD, Match: []string{"static.example"}}},
				DNS: &DNSBackends{Resolver: res, Prefixes: []netip.Prefix{dnsPrefix}, Port: 8443}},
			{VIP: vip, Port: 80, Policy: PolicyHTTPHost,
				DNS: &DNSBackends{Resolver: res, Prefixes: []netip.Prefix{dnsPrefix}, Port: 8080}},
		}
		if mod != nil {
			mod(c)
		}
	})
}

func resolved(t *testing.T, e *Engine, name string) []decoded {
	t.Helper()
	out := packet.NewBatch(4, 2048)
	e.Resolved(name, out)
	var ds []decoded
	for _, p := range out.Packets {
		ds = append(ds, decodeOut(t, p))
	}
	return ds
}

func isReset4(ds []decoded) bool {
	return len(ds) == 1 && ds[0].ip4 != nil && ds[0].tcp.RST
}

func TestDNSPendingThenResolved(t *testing.T) {
	res := &fakeResolver{answers: map[string]fakeAnswer{}}
	e, clock := dnsEngine(t, res, nil)
	hello := captureHello(t, "Site.Example")
	_, ds := openToBackend(t, e, 443, 41000, string(hello))
	if len(ds) != 0 {
		t.Fatalf("output before the answer: %+v", ds)
	}
	if len(res.asked) != 1 || res.asked[0] != "site.example" {
		t.Fatalf("asked %q", res.asked)
	}
	if st := e.Stats(); st.DNSWaits != 1 || st.ByState[StateHolding] != 1 || st.HeldBytes != uint64(len(hello)) {
		t.Fatalf("not held while pending: %+v", st)
	}
	// The first bytes' timer does not force a choice while the name is
	// looked up.
	clock.Advance(2 * time.Second)
	if ds := expire(t, e); len(ds) != 0 {
		t.Fatalf("timer output while pending: %+v", ds)
	}
	res.set("site.example", LookupFound, "2001:db8:1::1", "2001:db8:5::7", "2001:db8:5::8")
	ds = resolved(t, e, "site.example")
	if len(ds) != 1 || ds[0].ip6 == nil || !ds[0].tcp.SYN || ip(ds[0].ip6.DstIP) != netip.MustParseAddr("2001:db8:5::7") ||
		ds[0].tcp.DstPort != 8443 {
		t.Fatalf("want a SYN to [2001:db8:5::7]:8443, got %+v", ds)
	}
	// The second address inside the prefix is the failover.
	_, ds = handle(t, e, pkt6(t, netip.MustParseAddr("2001:db8:5::7"), client6, 8443, 41000, seg{ack: 1001, flags: "RA"}))
	if len(ds) != 1 || !ds[0].tcp.SYN || ip(ds[0].ip6.DstIP) != netip.MustParseAddr("2001:db8:5::8") {
		t.Fatalf("failover: %+v", ds)
	}
	// Static names are matched before DNS is asked.
	asked := len(res.asked)
	_, ds = openToBackend(t, e, 443, 41001, string(captureHello(t, "static.example")))
	if len(ds) != 1 || ip(ds[0].ip6.DstIP) != backendD.Addr() || len(res.asked) != asked {
		t.Fatalf("static name: %+v, asked %q", ds, res.asked)
	}
	// A cached answer splices at once, on the same resolved backend slot.
	_, ds = openToBackend(t, e, 80, 41002, "GET / HTTP/1.1\r\nHost: site.example\r\n\r\n")
	if len(ds) != 1 || ip(ds[0].ip6.DstIP) != netip.MustParseAddr("2001:db8:5::7") || ds[0].tcp.DstPort != 8080 {
		t.Fatalf("cached: %+v", ds)
	}
	st := e.Stats()
	if st.DNSResolved != 2 || st.DNSWaits != 1 || e.Waiting() != 0 {
		t.Fatalf("counters: resolved %d waits %d waiting %d", st.DNSResolved, st.DNSWaits, e.Waiting())
	}
	for _, b := range st.Backends {
		if b.Backend.Addr() != backendD.Addr() {
			t.Fatalf("resolved backend in per-backend stats: %+v", b)
		}
	}
}

func TestDNSRefusalsResetTheClient(t *testing.T) {
	res := &fakeResolver{answers: map[string]fakeAnswer{}}
	e, _ := dnsEngine(t, res, nil)
	res.set("outside.example", LookupFound, "2001:db8:1::1", "::ffff:192.0.2.1")
	res.set("bad.example", LookupOutsidePrefix)
	res.set("none.example", LookupNotFound)
	res.set("fail.example", LookupFailed)
	res.set("greedy.example", LookupRateLimited)
	for i, tc := range []struct {
		name  string
		count func(Stats) uint64
	}{
		{"outside.example", func(s Stats) uint64 { return s.DNSOutsidePrefix }},
		{"bad.example", func(s Stats) uint64 { return s.DNSOutsidePrefix }},
		{"none.example", func(s Stats) uint64 { return s.DNSNotFound }},
		{"fail.example", func(s Stats) uint64 { return s.DNSFailed }},
		{"greedy.example", func(s Stats) uint64 { return s.DNSRateLimited }},
	} {
		before := tc.count(e.Stats())
		_, ds := openToBackend(t, e, 80, uint16(42000+i), "GET / HTTP/1.1\r\nHost: "+tc.name+"\r\n\r\n")
		if !isReset4(ds) {
			t.Fatalf("%s: want a RST to the client, got %+v", tc.name, ds)
		}
		if got := tc.count(e.Stats()); got != before+1 {
			t.Fatalf("%s: counter %d -> %d", tc.name, before, got)
		}
	}
	// The same after a pending lookup.
	_, ds := openToBackend(t, e, 443, 42100, string(captureHello(t, "late.example")))
	if len(ds) != 0 {
		t.Fatalf("%+v", ds)
	}
	res.set("late.example", LookupFound, "2001:db8:6::1")
	if ds := resolved(t, e, "late.example"); !isReset4(ds) {
		t.Fatalf("resolved outside the prefix: %+v", ds)
	}
	if st := e.Stats(); st.DNSOutsidePrefix != 3 || st.ByState[StateHolding] != 0 || st.HeldBytes != 0 || len(e.all) != 0 {
		t.Fatalf("left: %+v", st)
	}
}

func TestDNSNothingHeldPastTheEmbryonicTimeout(t *testing.T) {
	res := &fakeResolver{answers: map[string]fakeAnswer{}}
	e, clock := dnsEngine(t, res, func(c *Config) { c.Timeouts.Embryonic = 5 * time.Second })
	for i := range 3 {
		openToBackend(t, e, 80, uint16(43000+i), "GET / HTTP/1.1\r\nHost: silent.example\r\n\r\n")
	}
	var resets int
	for range 20 {
		clock.Advance(500 * time.Millisecond)
		for _, d := range expire(t, e) {
			if d.ip4 != nil && d.tcp.RST {
				resets++
			}
		}
	}
	st := e.Stats()
	if resets != 3 || st.DNSTimeouts != 3 || len(e.all) != 0 || st.HeldBytes != 0 || st.EmbryonicExpired != 3 {
		t.Fatalf("resets %d, timeouts %d, conns %d, held %d, expired %d", resets, st.DNSTimeouts, len(e.all), st.HeldBytes, st.EmbryonicExpired)
	}
	// The late answer finds nobody.
	res.set("silent.example", LookupFound, "2001:db8:5::1")
	if ds := resolved(t, e, "silent.example"); len(ds) != 0 || e.Waiting() != 0 {
		t.Fatalf("late answer: %+v", ds)
	}
}

func TestDNSBackendsBounded(t *testing.T) {
	res := &fakeResolver{answers: map[string]fakeAnswer{}}
	e, _ := dnsEngine(t, res, func(c *Config) { c.Services[1].DNS.MaxBackends = 2 })
	res.set("a.example", LookupFound, "2001:db8:5::a")
	res.set("b.example", LookupFound, "2001:db8:5::b")
	res.set("c.example", LookupFound, "2001:db8:5::c")
	host := func(n string) string { return "GET / HTTP/1.1\r\nHost: " + n + "\r\n\r\n" }
	_, ds := openToBackend(t, e, 80, 44000, host("a.example"))
	_, ds2 := openToBackend(t, e, 80, 44001, host("b.example"))
	if len(ds) != 1 || len(ds2) != 1 {
		t.Fatalf("%+v %+v", ds, ds2)
	}
	// Both slots are in use: c is refused.
	_, ds = openToBackend(t, e, 80, 44002, host("c.example"))
	if !isReset4(ds) || e.Stats().DNSBackendsFull != 1 {
		t.Fatalf("full: %+v", ds)
	}
	// a's connection goes away; its slot takes c.
	handle(t, e, pkt4(t, client4, vip, 44000, 80, seg{seq: 1001, flags: "R"}))
	_, ds = openToBackend(t, e, 80, 44003, host("c.example"))
	if len(ds) != 1 || ip(ds[0].ip6.DstIP) != netip.MustParseAddr("2001:db8:5::c") {
		t.Fatalf("reclaimed: %+v", ds)
	}
	if n := len(e.svcs[1].backends); n != 2 {
		t.Fatalf("%d resolved backends kept", n)
	}
}

func TestDNSConfigChecks(t *testing.T) {
	res := &fakeResolver{}
	for name, d := range map[string]Service{
		"no resolver": {VIP: vip, Port: 80, Policy: PolicySNI, DNS: &DNSBackends{Prefixes: []netip.Prefix{dnsPrefix}, Port: 1}},
		"no prefix":   {VIP: vip, Port: 80, Policy: PolicySNI, DNS: &DNSBackends{Resolver: res, Port: 1}},
		"v4 prefix":   {VIP: vip, Port: 80, Policy: PolicySNI, DNS: &DNSBackends{Resolver: res, Port: 1, Prefixes: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}},
		"pool6": {VIP: vip, Port: 80, Policy: PolicySNI, DNS: &DNSBackends{Resolver: res, Port: 1,
			Prefixes: []netip.Prefix{netip.PrefixFrom(pool6.Addr(), 64)}}},
		"no port": {VIP: vip, Port: 80, Policy: PolicySNI, DNS: &DNSBackends{Resolver: res, Prefixes: []netip.Prefix{dnsPrefix}}},
		"hash":    {VIP: vip, Port: 80, Policy: PolicyHash, DNS: &DNSBackends{Resolver: res, Port: 1, Prefixes: []netip.Prefix{dnsPrefix}}},
		"default": {VIP: vip, Port: 80, Policy: PolicySNI, Default: backendA,
			DNS: &DNSBackends{Resolver: res, Port: 1, Prefixes: []netip.Prefix{dnsPrefix}}},
	} {
		if _, err := New(Config{Pool6: pool6, Services: []Service{d}}); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := New(Config{Pool6: pool6, Services: []Service{{VIP: vip, Port: 80, Policy: PolicySNI,
		DNS: &DNSBackends{Resolver: res, Port: 1, Prefixes: []netip.Prefix{dnsPrefix}}}}}); err != nil {
		t.Fatal(err)
	}
}

func TestDNSKey(t *testing.T) {
	for in, want := range map[string]string{
		"Site.Example.": "site.example", "a_b-c.example": "a_b-c.example",
		"": "", ".": "", "a b.example": "", "a/b": "", "é.example": "",
	} {
		if got := dnsKey([]byte(in)); got != want {
			t.Errorf("%q: %q, want %q", in, got, want)
		}
	}
}

// TestDNSWaitingBounded: names whose answer never comes do not keep
// entries once their connections are gone.
func TestDNSWaitingBounded(t *testing.T) {
	res := &fakeResolver{answers: map[string]fakeAnswer{}}
	e, clock := dnsEngine(t, res, func(c *Config) { c.Timeouts.Embryonic = 2 * time.Second })
	for i := range 500 {
		openToBackend(t, e, 80, uint16(45000+i), fmt.Sprintf("GET / HTTP/1.1\r\nHost: n%d.example\r\n\r\n", i))
		if i%50 == 49 {
			clock.Advance(3 * time.Second)
			expire(t, e)
		}
	}
	if n := e.Waiting(); n > 200 {
		t.Fatalf("%d names waited on, with %d connections", n, len(e.all))
	}
	if st := e.Stats(); st.DNSWaits != 500 || st.DNSTimeouts != 500 {
		t.Fatalf("waits %d, timeouts %d", st.DNSWaits, st.DNSTimeouts)
	}
}

// TestDNSResumedByAnotherResolver: an answer for the same name from
// another service's resolver wakes the connection, which waits again
// without being counted twice.
func TestDNSResumedByAnotherResolver(t *testing.T) {
	res := &fakeResolver{answers: map[string]fakeAnswer{}}
	e, _ := dnsEngine(t, res, nil)
	openToBackend(t, e, 80, 46000, "GET / HTTP/1.1\r\nHost: x.example\r\n\r\n")
	if ds := resolved(t, e, "x.example"); len(ds) != 0 {
		t.Fatalf("%+v", ds)
	}
	if st := e.Stats(); st.DNSWaits != 1 || e.Waiting() != 1 {
		t.Fatalf("waits %d, waiting %d", st.DNSWaits, e.Waiting())
	}
	res.set("x.example", LookupFound, "2001:db8:5::1")
	if ds := resolved(t, e, "x.example"); len(ds) != 1 || ds[0].ip6 == nil {
		t.Fatalf("%+v", ds)
	}
}
