package dns64

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// BenchmarkAnswerCached is one synthesized answer served from the cache,
// from the unpacked query to the reply ready to pack.
func BenchmarkAnswerCached(b *testing.B) {
	r, err := New(Config{Upstreams: []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:1")}, Prefix: netip.MustParsePrefix("64:ff9b::/96")})
	if err != nil {
		b.Fatal(err)
	}
	r.exchange = func(_ context.Context, m *dns.Msg, _ netip.AddrPort, _ time.Duration) (*dns.Msg, error) {
		in := new(dns.Msg)
		in.SetReply(m)
		if m.Question[0].Qtype == dns.TypeA {
			in.Answer = []dns.RR{mustRR(b, "v4.example. 3000 IN A 198.41.0.4")}
		} else {
			in.Ns = []dns.RR{mustRR(b, testSOA)}
		}
		return in, nil
	}
	q := question("v4.example.", dns.TypeAAAA)
	q.SetEdns0(1232, false)
	wire, _ := q.Pack()
	r.Answer(context.Background(), q, false)
	b.ReportAllocs()
	buf := make([]byte, 0, 512)
	for b.Loop() {
		req := new(dns.Msg)
		if err := req.Unpack(wire); err != nil {
			b.Fatal(err)
		}
		out := r.Answer(context.Background(), req, false)
		if _, err := out.PackBuffer(buf); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDatagramCached is one plain query over UDP answered by the fast
// path: from the datagram as read to the reply ready to send, the rate
// limit on. It must not allocate.
func BenchmarkDatagramCached(b *testing.B) {
	r, pkt := cachedDatagram(b)
	cfg := r.cfg.Load()
	client := netip.MustParseAddr("192.0.2.1")
	buf := make([]byte, 0, bufferSize)
	b.ReportAllocs()
	for b.Loop() {
		out, later := r.serveDatagram(pkt, client, cfg, time.Now(), buf[:0])
		if len(out) == 0 || later != nil {
			b.Fatal("not answered from the cache")
		}
	}
}

// cachedDatagram returns a resolver whose cache holds the packed answer
// to the query it returns, with the rate limit on.
func cachedDatagram(tb testing.TB) (*Resolver, []byte) {
	r, err := New(Config{Upstreams: []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:1")}, Prefix: netip.MustParsePrefix("64:ff9b::/96"),
		Rate: 1e9, Burst: 1e9})
	if err != nil {
		tb.Fatal(err)
	}
	r.exchange = func(_ context.Context, m *dns.Msg, _ netip.AddrPort, _ time.Duration) (*dns.Msg, error) {
		in := new(dns.Msg)
		in.SetReply(m)
		if m.Question[0].Qtype == dns.TypeA {
			in.Answer = []dns.RR{mustRR(tb, "v4.example. 3000 IN A 198.41.0.4")}
		} else {
			in.Ns = []dns.RR{mustRR(tb, testSOA)}
		}
		return in, nil
	}
	q := question("V4.example.", dns.TypeAAAA)
	q.SetEdns0(1232, false)
	pkt, err := q.Pack()
	if err != nil {
		tb.Fatal(err)
	}
	cfg := r.cfg.Load()
	client := netip.MustParseAddr("192.0.2.1")
	_, later := r.serveDatagram(pkt, client, cfg, time.Now(), nil)
	if later == nil {
		tb.Fatal("the first query was not sent upstream")
	}
	pack(r, r.resolve(later.req, false), nil, later.keep, cfg, time.Now())
	return r, pkt
}
