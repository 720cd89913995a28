package dns64

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestParseQueryAgreesWithUnpack(t *testing.T) {
	for _, edit := range []func(*dns.Msg){
		func(*dns.Msg) {},
		func(m *dns.Msg) { m.SetEdns0(4096, true) },
		func(m *dns.Msg) { m.SetEdns0(100, false); m.CheckingDisabled = true; m.RecursionDesired = false },
	} {
		m := question("V4.Example.", dns.TypeAAAA)
		edit(m)
		b, err := m.Pack()
		if err != nil {
			t.Fatal(err)
		}
		var q wireQuery
		if !parseQuery(b, &q) {
			t.Fatalf("%v not read", m)
		}
		checkParsed(t, b, &q)
	}
	// What goes to the full decoder.
	m := question("v4.example.", dns.TypeAAAA)
	m.Opcode = dns.OpcodeNotify
	b, _ := m.Pack()
	if parseQuery(b, new(wireQuery)) {
		t.Error("NOTIFY read as a plain query")
	}
	m = question("v4.example.", dns.TypeAAAA)
	m.SetEdns0(1232, false)
	m.IsEdns0().SetVersion(1)
	b, _ = m.Pack()
	if parseQuery(b, new(wireQuery)) {
		t.Error("EDNS version 1 read as a plain query")
	}
	b, _ = question("v4.example.", dns.TypeAAAA).Pack()
	if parseQuery(append(b, 0), new(wireQuery)) {
		t.Error("trailing byte accepted")
	}
}

// checkParsed compares parseQuery's reading of b with miekg's.
func checkParsed(t *testing.T, b []byte, q *wireQuery) {
	t.Helper()
	m := new(dns.Msg)
	if err := m.Unpack(b); err != nil {
		t.Fatalf("parseQuery read what Unpack refuses (%v): %x", err, b)
	}
	opt := m.IsEdns0()
	var flags byte
	for bit, set := range map[byte]bool{keyRD: m.RecursionDesired, keyCD: m.CheckingDisabled, keyEDNS: opt != nil, keyDO: opt != nil && opt.Do()} {
		if set {
			flags |= bit
		}
	}
	want := []byte{flags, byte(m.Question[0].Qtype >> 8), byte(m.Question[0].Qtype), byte(m.Question[0].Qclass >> 8), byte(m.Question[0].Qclass)}
	wire := make([]byte, 256)
	n, err := dns.PackDomainName(strings.ToLower(m.Question[0].Name), wire, 0, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	want = append(want, wire[:n]...)
	if string(q.keyBytes()) != string(want) || q.id != m.Id || m.Response || m.Opcode != dns.OpcodeQuery {
		t.Fatalf("parseQuery key %x, Unpack %x (id %d, %v)", q.keyBytes(), want, m.Id, m)
	}
	size := 512
	if opt != nil {
		size = min(max(int(opt.UDPSize()), 512), bufferSize)
	}
	if q.udpSize != size || q.qlen != n+4 {
		t.Fatalf("parseQuery size %d, question %d bytes; Unpack %d, %d", q.udpSize, q.qlen, size, n+4)
	}
}

func FuzzParseQuery(f *testing.F) {
	for _, edit := range []func(*dns.Msg){func(*dns.Msg) {}, func(m *dns.Msg) { m.SetEdns0(4096, true) }} {
		m := question("v4.example.", dns.TypeAAAA)
		edit(m)
		b, _ := m.Pack()
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var q wireQuery
		if parseQuery(b, &q) {
			checkParsed(t, b, &q)
		}
		if offs, ok := ttlOffsets(b); ok {
			for _, o := range offs {
				if int(o)+4 > len(b) {
					t.Fatalf("TTL offset %d past %d bytes", o, len(b))
				}
			}
		}
	})
}

func TestTTLOffsets(t *testing.T) {
	m := question("v4.example.", dns.TypeAAAA)
	m.Answer = []dns.RR{mustRR(t, "v4.example. 300 IN AAAA 64:ff9b::c629:4"), mustRR(t, "v4.example. 100 IN AAAA 64:ff9b::c629:5")}
	m.Ns = []dns.RR{mustRR(t, testSOA)}
	m.SetEdns0(1232, false)
	m.Compress = true
	b, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	offs, ok := ttlOffsets(b)
	if !ok || len(offs) != 3 {
		t.Fatalf("%v %v", offs, ok)
	}
	for i, want := range []uint32{300, 100, 3600} {
		if got := uint32(b[offs[i]])<<24 | uint32(b[offs[i]+1])<<16 | uint32(b[offs[i]+2])<<8 | uint32(b[offs[i]+3]); got != want {
			t.Errorf("TTL %d: %d, want %d", i, got, want)
		}
	}
}

// TestFastPath: a repeated query is answered from the packed reply, with
// the client's id and name case and the TTLs counted down.
func TestFastPath(t *testing.T) {
	up := newFakeUpstream(t, testSOA, "v4.example. 3000 IN A 198.41.0.4")
	r := newTestResolver(t, Config{Upstreams: []netip.AddrPort{up.addr}})
	srv := serve(t, r)
	wantAnswer(t, askAt(t, srv, "udp", "v4.example", dns.TypeAAAA, nil), dns.RcodeSuccess, "v4.example. 300 IN AAAA 64:ff9b::c629:4")
	wantAnswer(t, askAt(t, srv, "udp", "v4.example", dns.TypeAAAA, nil), dns.RcodeSuccess, "v4.example. 300 IN AAAA 64:ff9b::c629:4")
	n := 0
	for i := range r.cache.wire {
		sh := &r.cache.wire[i]
		sh.mu.Lock()
		n += len(sh.m)
		for k, e := range sh.m {
			// Entries are not changed once kept: replace it with one
			// kept 7 s ago.
			old := *e
			old.stored = old.stored.Add(-7 * time.Second)
			sh.m[k] = &old
		}
		sh.mu.Unlock()
	}
	if n != 1 {
		t.Fatalf("%d packed replies kept, want 1", n)
	}
	in := askAt(t, srv, "udp", "V4.eXample", dns.TypeAAAA, nil)
	wantAnswer(t, in, dns.RcodeSuccess, "v4.example. 293 IN AAAA 64:ff9b::c629:4")
	if in.Question[0].Name != "V4.eXample." {
		t.Errorf("question %q, want the client's case", in.Question[0].Name)
	}
	if v := testutil.ToFloat64(r.metrics.cacheHits); v != 2 {
		t.Errorf("cache hits %v, want 2", v)
	}
	if n := up.queries.Load(); n != 2 {
		t.Errorf("%d upstream queries, want 2", n)
	}
}
