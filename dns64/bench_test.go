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
