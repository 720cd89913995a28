package dns64

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// fakeUpstream is a DNS server on loopback, UDP and TCP on one port,
// answering from a zone of records given as text. A name with records of
// other types only gets NODATA with the zone's SOA; a name with none gets
// NXDOMAIN. CNAMEs are followed within the zone as a resolver would.
type fakeUpstream struct {
	addr    netip.AddrPort
	mu      sync.Mutex
	rrs     []dns.RR
	soa     *dns.SOA // nil: negative answers carry none
	rcode   int      // when not 0, every answer has this RCODE
	queries atomic.Int64
	// truncateUDP sets TC, with no records, on every UDP answer.
	truncateUDP bool
	tcpQueries  atomic.Int64
}

func newFakeUpstream(t *testing.T, soa string, records ...string) *fakeUpstream {
	t.Helper()
	f := &fakeUpstream{}
	f.set(t, soa, records...)
	var pc net.PacketConn
	var l net.Listener
	for range 20 {
		var err error
		pc, err = net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		if l, err = net.Listen("tcp", pc.LocalAddr().String()); err == nil {
			break
		}
		pc.Close()
		pc = nil
	}
	if pc == nil {
		t.Fatal("no port free for both UDP and TCP")
	}
	f.addr = netip.MustParseAddrPort(pc.LocalAddr().String())
	for _, srv := range []*dns.Server{{PacketConn: pc, Handler: f}, {Listener: l, Handler: f}} {
		started := make(chan struct{})
		srv.NotifyStartedFunc = func() { close(started) }
		go func() { _ = srv.ActivateAndServe() }()
		<-started
		t.Cleanup(func() { _ = srv.Shutdown() })
	}
	return f
}

func (f *fakeUpstream) set(t *testing.T, soa string, records ...string) {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rrs, f.soa = nil, nil
	if soa != "" {
		f.soa = mustRR(t, soa).(*dns.SOA)
	}
	for _, s := range records {
		f.rrs = append(f.rrs, mustRR(t, s))
	}
}

func mustRR(t testing.TB, s string) dns.RR {
	t.Helper()
	rr, err := dns.NewRR(s)
	if err != nil || rr == nil {
		t.Fatalf("%q: %v", s, err)
	}
	return rr
}

func (f *fakeUpstream) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	f.queries.Add(1)
	_, tcp := w.RemoteAddr().(*net.TCPAddr)
	if tcp {
		f.tcpQueries.Add(1)
	}
	m := new(dns.Msg)
	m.SetReply(req)
	m.RecursionAvailable = true
	if opt := req.IsEdns0(); opt != nil {
		m.SetEdns0(4096, opt.Do())
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.rcode != 0 {
		m.Rcode = f.rcode
		_ = w.WriteMsg(m)
		return
	}
	q := req.Question[0]
	name := q.Name
	for range 8 {
		exists, cname := false, ""
		for _, rr := range f.rrs {
			h := rr.Header()
			if !strings.EqualFold(h.Name, name) {
				continue
			}
			exists = true
			switch {
			case h.Rrtype == q.Qtype:
				m.Answer = append(m.Answer, dns.Copy(rr))
			case h.Rrtype == dns.TypeCNAME:
				m.Answer = append(m.Answer, dns.Copy(rr))
				cname = rr.(*dns.CNAME).Target
			}
		}
		if cname != "" && q.Qtype != dns.TypeCNAME {
			name = cname
			continue
		}
		if !exists {
			m.Rcode = dns.RcodeNameError
		}
		break
	}
	if !hasType(m.Answer, q.Qtype) && f.soa != nil {
		m.Ns = append(m.Ns, dns.Copy(f.soa))
	}
	if !tcp {
		size := dns.MinMsgSize
		if opt := req.IsEdns0(); opt != nil {
			size = int(opt.UDPSize())
		}
		m.Truncate(size)
	}
	if f.truncateUDP && !tcp {
		m.Truncated = true
		m.Answer, m.Ns = nil, nil
	}
	_ = w.WriteMsg(m)
}

const testSOA = "example. 3600 IN SOA ns.example. host.example. 1 3600 600 86400 300"

func newTestResolver(t *testing.T, cfg Config) *Resolver {
	t.Helper()
	if !cfg.Prefix.IsValid() {
		cfg.Prefix = netip.MustParsePrefix("64:ff9b::/96")
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 300 * time.Millisecond
	}
	r, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// ask sends one query through the resolver as a client would, over the
// network, and returns the answer.
func ask(t *testing.T, r *Resolver, name string, qtype uint16, edit func(*dns.Msg)) *dns.Msg {
	t.Helper()
	srv := serve(t, r)
	return askAt(t, srv, "udp", name, qtype, edit)
}

func serve(t *testing.T, r *Resolver) string {
	t.Helper()
	s, err := Listen([]netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:0")}, r)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if err := s.Close(ctx); err != nil {
			t.Error(err)
		}
	})
	return s.LocalAddrs()[0].String()
}

func askAt(t *testing.T, addr, netw, name string, qtype uint16, edit func(*dns.Msg)) *dns.Msg {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	if edit != nil {
		edit(m)
	}
	c := &dns.Client{Net: netw, Timeout: 3 * time.Second, UDPSize: 65535}
	in, _, err := c.Exchange(m, addr)
	if err != nil {
		t.Fatalf("%s %s: %v", name, dns.TypeToString[qtype], err)
	}
	if in.Id != m.Id || !in.Response {
		t.Fatalf("%s: reply id %d response %v", name, in.Id, in.Response)
	}
	return in
}

// records lists the answer section as sorted zone-file lines.
func records(rrs []dns.RR) []string {
	var out []string
	for _, rr := range rrs {
		out = append(out, strings.Join(strings.Fields(rr.String()), " "))
	}
	sort.Strings(out)
	return out
}

func wantAnswer(t *testing.T, in *dns.Msg, rcode int, want ...string) {
	t.Helper()
	if in.Rcode != rcode {
		t.Errorf("rcode %s, want %s\n%s", dns.RcodeToString[in.Rcode], dns.RcodeToString[rcode], in)
	}
	var norm []string
	for _, w := range want {
		norm = append(norm, strings.Join(strings.Fields(mustRR(t, w).String()), " "))
	}
	sort.Strings(norm)
	if got := records(in.Answer); fmt.Sprint(got) != fmt.Sprint(norm) {
		t.Errorf("answer\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(norm, "\n  "))
	}
}

func TestSynthesis(t *testing.T) {
	up := newFakeUpstream(t, testSOA,
		"v6.example. 3000 IN AAAA 2001:db8::1",
		"v6.example. 3000 IN A 198.41.0.4",
		"v4.example. 3000 IN A 198.41.0.4",
		"v4.example. 3000 IN A 198.41.0.5",
		"short.example. 30 IN A 198.41.0.4",
		"mapped.example. 3000 IN AAAA ::ffff:198.41.0.4",
		"mapped.example. 3000 IN A 198.41.0.4",
		"mixed.example. 3000 IN AAAA ::ffff:198.41.0.4",
		"mixed.example. 3000 IN AAAA 2001:db8::2",
		"private.example. 3000 IN A 10.0.0.1",
		"some-private.example. 3000 IN A 10.0.0.1",
		"some-private.example. 3000 IN A 198.41.0.4",
		"www.example. 100 IN CNAME v4.example.",
		"txt.example. 3000 IN TXT hello",
	)
	r := newTestResolver(t, Config{Upstreams: []netip.AddrPort{up.addr}})
	srv := serve(t, r)
	q := func(name string, qtype uint16) *dns.Msg { return askAt(t, srv, "udp", name, qtype, nil) }

	// A real AAAA record is the answer, even with A records beside it.
	wantAnswer(t, q("v6.example", dns.TypeAAAA), dns.RcodeSuccess, "v6.example. 3000 IN AAAA 2001:db8::1")
	// NODATA: synthesized, TTL capped by the SOA (min of 3600 and 300).
	wantAnswer(t, q("v4.example", dns.TypeAAAA), dns.RcodeSuccess,
		"v4.example. 300 IN AAAA 64:ff9b::c629:4", "v4.example. 300 IN AAAA 64:ff9b::c629:5")
	// ... or by the A record's own TTL.
	wantAnswer(t, q("short.example", dns.TypeAAAA), dns.RcodeSuccess, "short.example. 30 IN AAAA 64:ff9b::c629:4")
	// Excluded AAAA records count as absent.
	wantAnswer(t, q("mapped.example", dns.TypeAAAA), dns.RcodeSuccess, "mapped.example. 600 IN AAAA 64:ff9b::c629:4") // no SOA: 600 s
	wantAnswer(t, q("mixed.example", dns.TypeAAAA), dns.RcodeSuccess, "mixed.example. 3000 IN AAAA 2001:db8::2")
	// The chain stays; the target's A records are synthesized.
	wantAnswer(t, q("www.example", dns.TypeAAAA), dns.RcodeSuccess, "www.example. 100 IN CNAME v4.example.",
		"v4.example. 300 IN AAAA 64:ff9b::c629:4", "v4.example. 300 IN AAAA 64:ff9b::c629:5")
	// No private IPv4 under the Well-Known Prefix.
	in := q("private.example", dns.TypeAAAA)
	wantAnswer(t, in, dns.RcodeSuccess)
	if len(in.Ns) != 1 || in.Ns[0].Header().Rrtype != dns.TypeSOA {
		t.Errorf("NODATA without its SOA: %v", in.Ns)
	}
	wantAnswer(t, q("some-private.example", dns.TypeAAAA), dns.RcodeSuccess, "some-private.example. 300 IN AAAA 64:ff9b::c629:4")
	// NODATA without A records, NXDOMAIN, and other types pass through.
	in = q("txt.example", dns.TypeAAAA)
	wantAnswer(t, in, dns.RcodeSuccess)
	if len(in.Ns) != 1 {
		t.Errorf("NODATA without its SOA: %v", in.Ns)
	}
	wantAnswer(t, q("none.example", dns.TypeAAAA), dns.RcodeNameError)
	wantAnswer(t, q("v4.example", dns.TypeA), dns.RcodeSuccess, "v4.example. 3000 IN A 198.41.0.4", "v4.example. 3000 IN A 198.41.0.5")
	wantAnswer(t, q("txt.example", dns.TypeTXT), dns.RcodeSuccess, `txt.example. 3000 IN TXT "hello"`)
	if v := testutil.ToFloat64(r.metrics.synthesized); v != 5 {
		t.Errorf("synthesized counter %v, want 5", v)
	}

	// A private prefix may hold private addresses.
	if err := r.SetConfig(Config{Upstreams: []netip.AddrPort{up.addr}, Prefix: netip.MustParsePrefix("2001:db8:64::/96")}); err != nil {
		t.Fatal(err)
	}
	wantAnswer(t, q("private.example", dns.TypeAAAA), dns.RcodeSuccess, "private.example. 300 IN AAAA 2001:db8:64::a00:1")
	// Every prefix length, from the live configuration.
	for _, c := range rfc6052Examples {
		if err := r.SetConfig(Config{Upstreams: []netip.AddrPort{up.addr}, Prefix: netip.MustParsePrefix(c.prefix)}); err != nil {
			t.Fatal(err)
		}
		up.set(t, testSOA, "x.example. 3000 IN A 192.0.2.33")
		want := "x.example. 300 IN AAAA " + c.addr
		if c.prefix == "64:ff9b::/96" {
			wantAnswer(t, q("x.example", dns.TypeAAAA), dns.RcodeSuccess)
			continue
		}
		wantAnswer(t, q("x.example", dns.TypeAAAA), dns.RcodeSuccess, want)
	}
}

func TestNegativeTTL(t *testing.T) {
	for _, c := range []struct {
		soa  string
		want uint32
	}{
		{"example. 3600 IN SOA ns.example. host.example. 1 3600 600 86400 300", 300}, // MINIMUM
		{"example. 120 IN SOA ns.example. host.example. 1 3600 600 86400 300", 120},  // the SOA's TTL
		{"", 600}, // no SOA: capped at 600 s
		{"example. 3600 IN SOA ns.example. host.example. 1 3600 600 86400 7200", 1000}, // the A TTL
	} {
		up := newFakeUpstream(t, c.soa, "v4.example. 1000 IN A 198.41.0.4")
		r := newTestResolver(t, Config{Upstreams: []netip.AddrPort{up.addr}})
		wantAnswer(t, ask(t, r, "v4.example", dns.TypeAAAA, nil), dns.RcodeSuccess, fmt.Sprintf("v4.example. %d IN AAAA 64:ff9b::c629:4", c.want))
	}
}

func TestDNAMEChain(t *testing.T) {
	// The fake does not follow DNAME: the upstream's answer is given.
	r := newTestResolver(t, Config{Upstreams: []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:1")}})
	r.exchange = func(_ context.Context, m *dns.Msg, _ netip.AddrPort, _ time.Duration) (*dns.Msg, error) {
		in := new(dns.Msg)
		in.SetReply(m)
		chain := []dns.RR{
			mustRR(t, "old.example. 500 IN DNAME new.example."),
			mustRR(t, "www.old.example. 500 IN CNAME www.new.example."),
		}
		switch m.Question[0].Qtype {
		case dns.TypeAAAA:
			in.Answer = chain
			in.Ns = []dns.RR{mustRR(t, testSOA)}
		case dns.TypeA:
			in.Answer = append(chain, mustRR(t, "www.new.example. 900 IN A 198.41.0.4"))
		}
		return in, nil
	}
	in := r.Answer(context.Background(), question("www.old.example.", dns.TypeAAAA), false)
	wantAnswer(t, in, dns.RcodeSuccess, "old.example. 500 IN DNAME new.example.", "www.old.example. 500 IN CNAME www.new.example.",
		"www.new.example. 300 IN AAAA 64:ff9b::c629:4")
}

func question(name string, qtype uint16) *dns.Msg {
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	return m
}

func TestReverse(t *testing.T) {
	up := newFakeUpstream(t, testSOA, "4.0.41.198.in-addr.arpa. 777 IN PTR v4.example.")
	r := newTestResolver(t, Config{Upstreams: []netip.AddrPort{up.addr}})
	name, _ := dns.ReverseAddr("64:ff9b::c629:4")
	wantAnswer(t, ask(t, r, name, dns.TypePTR, nil), dns.RcodeSuccess, name+" 777 IN PTR v4.example.")
	// Unknown in in-addr.arpa: NXDOMAIN.
	name5, _ := dns.ReverseAddr("64:ff9b::c629:5")
	wantAnswer(t, ask(t, r, name5, dns.TypePTR, nil), dns.RcodeNameError)
	// Outside the prefix: forwarded as it is.
	other, _ := dns.ReverseAddr("2001:db8::1")
	wantAnswer(t, ask(t, r, other, dns.TypePTR, nil), dns.RcodeNameError)
	// ipv4only.arpa's addresses point back to it.
	name170, _ := dns.ReverseAddr("64:ff9b::192.0.0.170")
	wantAnswer(t, ask(t, r, name170, dns.TypePTR, nil), dns.RcodeSuccess, name170+" 300 IN PTR ipv4only.arpa.")
}

func TestIPv4OnlyArpa(t *testing.T) {
	up := newFakeUpstream(t, testSOA)
	r := newTestResolver(t, Config{Upstreams: []netip.AddrPort{up.addr}, Prefix: netip.MustParsePrefix("2001:db8:122::/48")})
	in := ask(t, r, "IPv4only.arpa", dns.TypeAAAA, nil)
	wantAnswer(t, in, dns.RcodeSuccess, "IPv4only.arpa. 300 IN AAAA 2001:db8:122:c000:0:aa00::", "IPv4only.arpa. 300 IN AAAA 2001:db8:122:c000:0:ab00::")
	if !in.Authoritative {
		t.Error("ipv4only.arpa answer not authoritative")
	}
	wantAnswer(t, ask(t, r, "ipv4only.arpa", dns.TypeA, nil), dns.RcodeSuccess, "ipv4only.arpa. 300 IN A 192.0.0.170", "ipv4only.arpa. 300 IN A 192.0.0.171")
	in = ask(t, r, "ipv4only.arpa", dns.TypeMX, nil)
	wantAnswer(t, in, dns.RcodeSuccess)
	if len(in.Ns) != 1 {
		t.Errorf("NODATA without SOA: %v", in)
	}
	wantAnswer(t, ask(t, r, "www.ipv4only.arpa", dns.TypeAAAA, nil), dns.RcodeNameError)
	if n := up.queries.Load(); n != 0 {
		t.Errorf("%d queries went upstream", n)
	}
	// DS belongs to the parent zone: asked upstream, not authoritative.
	if in := ask(t, r, "ipv4only.arpa", dns.TypeDS, nil); in.Authoritative || up.queries.Load() != 1 {
		t.Errorf("DS: AA %v, %d upstream queries", in.Authoritative, up.queries.Load())
	}
}

func TestDNSSECPassThrough(t *testing.T) {
	up := newFakeUpstream(t, testSOA, "v4.example. 3000 IN A 198.41.0.4")
	r := newTestResolver(t, Config{Upstreams: []netip.AddrPort{up.addr}})
	// DO and CD: the NODATA as it is.
	in := ask(t, r, "v4.example", dns.TypeAAAA, func(m *dns.Msg) { m.SetEdns0(4096, true); m.CheckingDisabled = true })
	wantAnswer(t, in, dns.RcodeSuccess)
	if opt := in.IsEdns0(); opt == nil || !opt.Do() || !in.CheckingDisabled {
		t.Errorf("DO or CD lost: %v", in)
	}
	// DO alone, or CD alone: synthesized.
	wantAnswer(t, ask(t, r, "v4.example", dns.TypeAAAA, func(m *dns.Msg) { m.SetEdns0(4096, true) }), dns.RcodeSuccess, "v4.example. 300 IN AAAA 64:ff9b::c629:4")
	wantAnswer(t, ask(t, r, "v4.example", dns.TypeAAAA, func(m *dns.Msg) { m.CheckingDisabled = true }), dns.RcodeSuccess, "v4.example. 300 IN AAAA 64:ff9b::c629:4")
}

func TestEDNSAndTruncation(t *testing.T) {
	var many []string
	for i := range 120 {
		many = append(many, fmt.Sprintf("big.example. 3000 IN A 198.41.%d.%d", i/250, i%250+1))
	}
	up := newFakeUpstream(t, testSOA, many...)
	r := newTestResolver(t, Config{Upstreams: []netip.AddrPort{up.addr}})
	srv := serve(t, r)

	// Without EDNS: no OPT, 512 bytes, TC.
	in := askAt(t, srv, "udp", "big.example", dns.TypeAAAA, nil)
	in.Compress = true // as it came: Len is then the size on the wire
	if !in.Truncated || in.IsEdns0() != nil || in.Len() > 512 || len(in.Answer) != 0 {
		t.Errorf("no EDNS: TC %v, OPT %v, %d bytes", in.Truncated, in.IsEdns0(), in.Len())
	}
	// With a 4096-byte buffer: our 1232 bytes at most, OPT with our size.
	in = askAt(t, srv, "udp", "big.example", dns.TypeAAAA, func(m *dns.Msg) { m.SetEdns0(4096, false) })
	in.Compress = true
	if opt := in.IsEdns0(); !in.Truncated || opt == nil || opt.UDPSize() != 1232 || opt.Do() || in.Len() > 1232 {
		t.Errorf("EDNS 4096: TC %v, OPT %v, %d bytes", in.Truncated, opt, in.Len())
	}
	// Over TCP: all 120.
	in = askAt(t, srv, "tcp", "big.example", dns.TypeAAAA, func(m *dns.Msg) { m.SetEdns0(4096, false) })
	if in.Truncated || len(in.Answer) != 120 {
		t.Errorf("TCP: TC %v, %d records", in.Truncated, len(in.Answer))
	}
	// An unknown EDNS version: BADVERS.
	in = askAt(t, srv, "udp", "big.example", dns.TypeA, func(m *dns.Msg) { m.SetEdns0(4096, false); m.IsEdns0().SetVersion(1) })
	if in.Rcode != dns.RcodeBadVers {
		t.Errorf("EDNS version 1: rcode %s", dns.RcodeToString[in.Rcode])
	}

	// An upstream that truncates over UDP is asked again over TCP.
	up.mu.Lock()
	up.truncateUDP = true
	up.mu.Unlock()
	in = askAt(t, srv, "tcp", "big.example", dns.TypeA, nil)
	if len(in.Answer) != 120 || up.tcpQueries.Load() == 0 {
		t.Errorf("upstream truncation: %d records, %d TCP queries upstream", len(in.Answer), up.tcpQueries.Load())
	}
}

func TestFailover(t *testing.T) {
	silent, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	failing := newFakeUpstream(t, testSOA)
	failing.mu.Lock()
	failing.rcode = dns.RcodeServerFailure
	failing.mu.Unlock()
	good := newFakeUpstream(t, testSOA, "v4.example. 3000 IN A 198.41.0.4")
	silentAddr := netip.MustParseAddrPort(silent.LocalAddr().String())
	r := newTestResolver(t, Config{Upstreams: []netip.AddrPort{silentAddr, failing.addr, good.addr}, Timeout: 200 * time.Millisecond})
	wantAnswer(t, ask(t, r, "v4.example", dns.TypeAAAA, nil), dns.RcodeSuccess, "v4.example. 300 IN AAAA 64:ff9b::c629:4")
	for _, c := range []struct{ up, reason string }{{silentAddr.String(), "timeout"}, {failing.addr.String(), "servfail"}} {
		// Two upstream queries: AAAA and A.
		if v := testutil.ToFloat64(r.metrics.upstreamFailures.WithLabelValues(c.up, c.reason)); v != 2 {
			t.Errorf("failures of %s (%s): %v, want 2", c.up, c.reason, v)
		}
	}
	// Every upstream failing: SERVFAIL.
	r2 := newTestResolver(t, Config{Upstreams: []netip.AddrPort{silentAddr}, Timeout: 100 * time.Millisecond})
	wantAnswer(t, ask(t, r2, "v4.example", dns.TypeA, nil), dns.RcodeServerFailure)
	r3 := newTestResolver(t, Config{Upstreams: []netip.AddrPort{failing.addr}})
	wantAnswer(t, ask(t, r3, "v4.example", dns.TypeA, nil), dns.RcodeServerFailure)
}

func TestAAAAFailureSynthesizes(t *testing.T) {
	// RFC 6147 section 5.1.2: an RCODE other than 0 or 3 on the AAAA
	// query is an empty answer.
	r := newTestResolver(t, Config{Upstreams: []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:1")}})
	r.exchange = func(_ context.Context, m *dns.Msg, _ netip.AddrPort, _ time.Duration) (*dns.Msg, error) {
		in := new(dns.Msg)
		in.SetReply(m)
		if m.Question[0].Qtype == dns.TypeAAAA {
			in.Rcode = dns.RcodeServerFailure
		} else {
			in.Answer = []dns.RR{mustRR(t, "v4.example. 3000 IN A 198.41.0.4")}
		}
		return in, nil
	}
	wantAnswer(t, r.Answer(context.Background(), question("v4.example.", dns.TypeAAAA), false), dns.RcodeSuccess, "v4.example. 600 IN AAAA 64:ff9b::c629:4")
}

func TestRateLimit(t *testing.T) {
	up := newFakeUpstream(t, testSOA, "v4.example. 3000 IN A 198.41.0.4")
	r := newTestResolver(t, Config{Upstreams: []netip.AddrPort{up.addr}, Rate: 0.001, Burst: 3})
	srv := serve(t, r)
	for range 3 {
		askAt(t, srv, "udp", "v4.example", dns.TypeA, nil)
	}
	m := new(dns.Msg)
	m.SetQuestion("v4.example.", dns.TypeA)
	if in, _, err := (&dns.Client{Timeout: 300 * time.Millisecond}).Exchange(m, srv); err == nil {
		t.Errorf("fourth query over UDP answered: %v", in)
	}
	if in := askAt(t, srv, "tcp", "v4.example", dns.TypeA, nil); in.Rcode != dns.RcodeRefused {
		t.Errorf("fifth query over TCP: %s, want REFUSED", dns.RcodeToString[in.Rcode])
	}
	if v := testutil.ToFloat64(r.metrics.rateLimited); v != 2 {
		t.Errorf("rate-limited counter %v, want 2", v)
	}
}

func TestLimiterBounded(t *testing.T) {
	l := newLimiter()
	l.configure(1, 2, 100)
	now := time.Unix(1000, 0)
	for i := range 10000 {
		l.allow(netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}), now)
	}
	if len(l.clients) > 100 {
		t.Fatalf("%d clients kept, bound 100", len(l.clients))
	}
	c := netip.MustParseAddr("192.0.2.1")
	for i, want := range []bool{true, true, false} {
		if got := l.allow(c, now); got != want {
			t.Errorf("query %d of a burst of 2: allowed %v", i+1, got)
		}
	}
	if !l.allow(c, now.Add(time.Second)) {
		t.Error("bucket did not refill")
	}
	if got := clientOf(&net.UDPAddr{IP: net.ParseIP("2001:db8::1:2:3:4")}); got != netip.MustParseAddr("2001:db8::") {
		t.Errorf("IPv6 client key %s, want its /64", got)
	}
}

func TestQueryErrors(t *testing.T) {
	r := newTestResolver(t, Config{Upstreams: []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:1")}})
	m := question("x.example.", dns.TypeA)
	m.Opcode = dns.OpcodeNotify
	if in := r.Answer(context.Background(), m, false); in.Rcode != dns.RcodeNotImplemented {
		t.Errorf("NOTIFY: %s", dns.RcodeToString[in.Rcode])
	}
	m = question("x.example.", dns.TypeA)
	m.Question = append(m.Question, m.Question[0])
	if in := r.Answer(context.Background(), m, false); in.Rcode != dns.RcodeFormatError {
		t.Errorf("two questions: %s", dns.RcodeToString[in.Rcode])
	}
	m = question("x.example.", dns.TypeA)
	m.Response = true
	if in := r.Answer(context.Background(), m, false); in != nil {
		t.Errorf("a response was answered: %v", in)
	}
}
