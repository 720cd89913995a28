package dns64

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// FuzzAnswer feeds a query as a client sent it and an upstream's answer
// as it came off the wire through the resolver: a reply that packs, or
// none, never a panic.
func FuzzAnswer(f *testing.F) {
	pack := func(m *dns.Msg) []byte {
		b, err := m.Pack()
		if err != nil {
			f.Fatal(err)
		}
		return b
	}
	q := question("v4.example.", dns.TypeAAAA)
	ans := new(dns.Msg)
	ans.SetReply(q)
	ans.Ns = []dns.RR{mustRR(f, testSOA)}
	a := new(dns.Msg)
	a.SetReply(question("v4.example.", dns.TypeA))
	a.Answer = []dns.RR{mustRR(f, "v4.example. 60 IN CNAME x.example."), mustRR(f, "x.example. 60 IN A 198.41.0.4")}
	ptr, _ := dns.ReverseAddr("64:ff9b::c629:4")
	f.Add(pack(q), pack(ans), pack(a))
	f.Add(pack(question(ptr, dns.TypePTR)), pack(a), pack(a))
	f.Add(pack(question("ipv4only.arpa.", dns.TypeAAAA)), []byte{}, []byte{})
	f.Fuzz(func(t *testing.T, query, first, second []byte) {
		req := new(dns.Msg)
		if req.Unpack(query) != nil {
			return
		}
		r, err := New(Config{Upstreams: []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:1")}, Prefix: netip.MustParsePrefix("2001:db8:122::/48")})
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		r.exchange = func(_ context.Context, m *dns.Msg, _ netip.AddrPort, _ time.Duration) (*dns.Msg, error) {
			b := first
			if n++; n > 1 {
				b = second
			}
			in := new(dns.Msg)
			if err := in.Unpack(b); err != nil {
				return nil, err
			}
			// Most answers are to the question asked.
			in.Response = true
			if len(b)%2 == 0 {
				in.Question = m.Question
			}
			return in, nil
		}
		for _, tcp := range []bool{false, true} {
			n = 0
			out := r.Answer(context.Background(), req.Copy(), tcp)
			if out == nil {
				continue
			}
			b, err := out.Pack()
			if err != nil {
				return // a record the upstream sent that does not pack again
			}
			if !tcp && len(b) > bufferSize {
				t.Fatalf("UDP reply of %d bytes", len(b))
			}
		}
	})
}
