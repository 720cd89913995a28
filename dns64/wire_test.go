package dns64

import (
	"net"
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
		// Unpack also checks the content of the options it knows,
		// which the fast path ignores: the query must then unpack
		// without them, and their framing must hold.
		stripped, ok := withoutOptions(b)
		if !ok || m.Unpack(stripped) != nil {
			t.Fatalf("parseQuery read what Unpack refuses (%v): %x", err, b)
		}
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

// TestFastPathKeepsClientsApart: clients sharing a packed reply get
// nothing of one another's query: not an EDNS option (client subnet,
// cookie), not the DO bit, not the OPT record of a client that sent one.
func TestFastPathKeepsClientsApart(t *testing.T) {
	up := newFakeUpstream(t, testSOA, "v4.example. 3000 IN A 198.41.0.4")
	r := newTestResolver(t, Config{Upstreams: []netip.AddrPort{up.addr}})
	srv := serve(t, r)
	withOptions := func(subnet string, cookie string, do bool) func(*dns.Msg) {
		return func(m *dns.Msg) {
			m.SetEdns0(1232, do)
			opt := m.IsEdns0()
			opt.Option = append(opt.Option,
				&dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: 1, SourceNetmask: 24, Address: net.ParseIP(subnet).To4()},
				&dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: cookie})
		}
	}
	type client struct {
		edit       func(*dns.Msg)
		opt, do    bool
		name, what string
	}
	for round := range 2 { // resolved, then from the packed replies
		for _, c := range []client{
			{withOptions("198.51.100.0", "0102030405060708", false), true, false, "v4.example", "subnet and cookie"},
			{withOptions("203.0.113.0", "1112131415161718", false), true, false, "V4.example", "another subnet and cookie"},
			{withOptions("203.0.113.0", "2122232425262728", true), true, true, "v4.EXAMPLE", "DO"},
			{nil, false, false, "v4.example", "no EDNS"},
		} {
			in := askAt(t, srv, "udp", c.name, dns.TypeAAAA, c.edit)
			wantAnswer(t, in, dns.RcodeSuccess, "v4.example. 300 IN AAAA 64:ff9b::c629:4")
			opt := in.IsEdns0()
			switch {
			case (opt != nil) != c.opt:
				t.Errorf("round %d, %s: OPT record %v", round, c.what, opt)
			case opt != nil && (len(opt.Option) != 0 || opt.Do() != c.do):
				t.Errorf("round %d, %s: OPT record %v, want no options and DO %v", round, c.what, opt, c.do)
			}
			if in.Question[0].Name != dns.Fqdn(c.name) {
				t.Errorf("round %d, %s: question %q", round, c.what, in.Question[0].Name)
			}
		}
	}
	if v := testutil.ToFloat64(r.metrics.cacheHits); v < 4 {
		t.Errorf("cache hits %v, want the second round's 4 at least", v)
	}
}

// FuzzPatchReply keeps a packed reply for a query and serves it to another
// query with the same key, some seconds later: what comes out must be what
// miekg's decoder reads in the kept reply, with the second query's id and
// question (letter case included) and every TTL but the OPT record's
// counted down by the age, never below 0.
func FuzzPatchReply(f *testing.F) {
	q := question("v4.example.", dns.TypeAAAA)
	q.SetEdns0(1232, true)
	first, _ := q.Pack()
	q.Question[0].Name = "V4.eXAMPLE."
	q.Id = 0xbeef
	second, _ := q.Pack()
	reply := new(dns.Msg)
	reply.SetReply(question("v4.example.", dns.TypeAAAA))
	reply.Answer = []dns.RR{mustRR(f, "v4.example. 300 IN CNAME x.example."), mustRR(f, "x.example. 5 IN AAAA 64:ff9b::c629:4")}
	reply.Ns = []dns.RR{mustRR(f, testSOA)}
	reply.SetEdns0(1232, true)
	for _, compress := range []bool{false, true} {
		reply.Compress = compress
		b, _ := reply.Pack()
		f.Add(first, second, b, uint32(7))
	}
	f.Fuzz(func(t *testing.T, first, second, reply []byte, age uint32) {
		var q1, q2 wireQuery
		if !parseQuery(first, &q1) || !parseQuery(second, &q2) || string(q1.keyBytes()) != string(q2.keyBytes()) {
			return
		}
		kept := new(dns.Msg)
		if kept.Unpack(reply) != nil || len(kept.Question) != 1 || len(reply) < headerLen+q1.qlen ||
			!strings.EqualFold(string(reply[headerLen:headerLen+q1.qlen]), string(first[headerLen:headerLen+q1.qlen])) {
			return
		}
		c := newCache()
		c.reset(16)
		cfg := &Config{}
		now := time.Unix(1e9, 0)
		c.wirePut(&q1, reply, kept.Rcode, maxCacheTTL, cfg, now)
		later := now.Add(time.Duration(age%maxCacheTTL) * time.Second)
		out, rcode, hit := c.wireGet(&q2, second, cfg, later, nil)
		if !hit {
			if offs, ok := ttlOffsets(reply); ok && patchSafe(reply, offs) && len(reply) <= q2.udpSize {
				t.Fatal("a reply kept is not served")
			}
			return
		}
		if rcode != kept.Rcode {
			t.Fatalf("rcode %d, kept %d", rcode, kept.Rcode)
		}
		got := new(dns.Msg)
		if err := got.Unpack(out); err != nil {
			t.Fatalf("patched reply does not unpack: %v", err)
		}
		asked := new(dns.Msg)
		if err := asked.Unpack(second); err != nil {
			t.Fatal(err)
		}
		if got.Id != asked.Id || got.Question[0] != asked.Question[0] {
			t.Fatalf("id %d question %v, want %d %v", got.Id, got.Question[0], asked.Id, asked.Question[0])
		}
		d := uint32(age % maxCacheTTL)
		want := kept.Copy()
		for _, sec := range [][]dns.RR{want.Answer, want.Ns, want.Extra} {
			for _, rr := range sec {
				if h := rr.Header(); h.Rrtype != dns.TypeOPT {
					h.Ttl -= min(d, h.Ttl)
				}
			}
		}
		want.Id, want.Question = got.Id, got.Question
		// Names compressed to the question take its case: the same
		// names (RFC 4343), as Unbound's replies have them too.
		if !strings.EqualFold(got.String(), want.String()) {
			t.Fatalf("patched reply\n%v\nwant\n%v", got, want)
		}
	})
}

// TestPatchSafe: miekg's compressed replies are patched in place; a reply
// with a name pointing into a TTL is not.
func TestPatchSafe(t *testing.T) {
	m := new(dns.Msg)
	m.SetReply(question("v4.example.", dns.TypeAAAA))
	m.Answer = []dns.RR{mustRR(t, "v4.example. 300 IN CNAME x.example."), mustRR(t, "x.example. 5 IN AAAA 64:ff9b::c629:4")}
	m.Ns = []dns.RR{mustRR(t, testSOA)}
	m.Compress = true
	b, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	offs, ok := ttlOffsets(b)
	if !ok || !patchSafe(b, offs) {
		t.Fatalf("compressed reply refused: %v %v", offs, ok)
	}
	// An answer whose owner name is a pointer to its own TTL field,
	// which reads as the name "\000" (a label of one zero byte) first.
	q := question("v4.example.", dns.TypeA)
	b, _ = q.Pack()
	b[3] |= 0x80
	b[7] = 1 // ANCOUNT
	ttl := len(b) + 2 + 4
	b = append(b, 0xc0|byte(ttl>>8), byte(ttl), 0, 1, 0, 1, 1, 0, 0, 0, 0, 4, 198, 41, 0, 4)
	if err := new(dns.Msg).Unpack(b); err != nil {
		t.Fatalf("crafted reply does not unpack: %v", err)
	}
	if offs, ok := ttlOffsets(b); !ok || patchSafe(b, offs) {
		t.Errorf("a name pointing into a TTL accepted (%v %v)", offs, ok)
	}
}

// withoutOptions returns query b, whose OPT record ends it, with the
// OPT record's options removed, after checking that they fill its RDATA.
func withoutOptions(b []byte) ([]byte, bool) {
	off := headerLen
	for off < len(b) && b[off] != 0 {
		off += 1 + int(b[off])
	}
	off += 1 + 4 // root label, QTYPE, QCLASS
	if off+11 > len(b) {
		return nil, false
	}
	rd := off + 11
	for o := rd; o < len(b); {
		if o+4 > len(b) {
			return nil, false
		}
		if o += 4 + int(b[o+2])<<8 | int(b[o+3]); o > len(b) {
			return nil, false
		}
	}
	out := append([]byte(nil), b[:rd]...)
	out[rd-2], out[rd-1] = 0, 0
	return out, true
}
