package proxy46

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/sixgate/sixgate/packet"
)

// manyNames is a service on port 80 (http-host) with n names over
// backends backends, name i going to backend i%backends, plus a few
// shapes the tests below rely on.
func manyNames(n, backends int) Service {
	s := Service{VIP: vip, Port: 80, Policy: PolicyHTTPHost}
	for i := range backends {
		s.Backends = append(s.Backends, Backend{Addr: netip.AddrPortFrom(netip.AddrFrom16([16]byte{
			0x20, 0x01, 0x0d, 0xb8, 15: byte(i), 14: byte(i >> 8)}), 80)})
	}
	s.Names = make([]NameRoute, 0, n)
	for i := range n {
		s.Names = append(s.Names, NameRoute{Name: fmt.Sprintf("site%d.example", i), Backends: []uint32{uint32(i % backends)}})
	}
	return s
}

func TestNameIndexLookup(t *testing.T) {
	s := Service{VIP: vip, Port: 80, Policy: PolicySNI, Backends: []Backend{
		{Addr: backendA, Match: []string{"a.example", "*.example"}},
		{Addr: backendB, Match: []string{"*.b.example", "B.Example."}},
		{Addr: backendC, Match: []string{"*.deep.b.example", "a.example"}},
	}}
	svc := newService(s)
	for _, tc := range []struct {
		name string
		want []int // candidates in order; nil: no match
	}{
		{"a.example", []int{0, 2}},
		{"A.EXAMPLE.", []int{0, 2}},
		{"b.example", []int{1}},
		{"x.b.example", []int{1}},
		{"x.y.b.example", []int{1}},
		{"deep.b.example", []int{1}},
		{"z.deep.b.example", []int{2}},
		{"other.example", []int{0}},
		{"example", nil},
		{".example", nil},
		{"a.example.org", nil},
		{"", nil},
		{strings.Repeat("a", 250) + ".example", nil}, // longer than a name can be
	} {
		sp, ok := svc.names.lookup([]byte(tc.name))
		var got []int
		if ok {
			for _, i := range svc.cands[sp.off : sp.off+sp.n] {
				got = append(got, int(i))
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("%q: candidates %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestCheckName(t *testing.T) {
	for _, ok := range []string{"a.example", "*.example", "x", "A.Example.", strings.Repeat("a", 253)} {
		if err := CheckName(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "*.", "*", "a b", "a/b", "a.*.example", "**.example", strings.Repeat("a", 254)} {
		if err := CheckName(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// TestFailoverBeyond64Backends lists one name on three backends of a
// service with 300, the last far beyond what one 64-bit word could
// record, and refuses the first two: the third is tried, then the
// client is reset.
func TestFailoverBeyond64Backends(t *testing.T) {
	s := manyNames(1000, 300)
	s.Names = append(s.Names, NameRoute{Name: "shared.example", Backends: []uint32{7, 150, 299}})
	e, _ := newTestEngine(t, func(c *Config) { c.Services = []Service{s} })
	const cport = 40100
	req := "GET / HTTP/1.1\r\nHost: Shared.Example\r\n\r\n"
	_, ds := openToBackend(t, e, 80, cport, req)
	for n, want := range []int{7, 150, 299} {
		b := s.Backends[want].Addr
		if len(ds) != 1 || ds[0].ip6 == nil || !ds[0].tcp.SYN || ip(ds[0].ip6.DstIP) != b.Addr() {
			t.Fatalf("attempt %d: want a SYN to %v, got %+v", n, b, ds)
		}
		_, ds = handle(t, e, pkt6(t, b.Addr(), client6, b.Port(), cport, seg{ack: 1001, flags: "RA"}))
	}
	if len(ds) != 1 || ds[0].ip4 == nil || !ds[0].tcp.RST {
		t.Fatalf("no reset to the client after the last candidate: %+v", ds)
	}
	if st := e.Stats(); st.Failovers != 2 || st.NoBackend != 1 || e.Len() != 0 {
		t.Fatalf("failovers %d, no backend %d, %d connections", st.Failovers, st.NoBackend, e.Len())
	}
}

// TestManyNamesReachTheirBackend sends one request per name for a
// sample of 10^4 names over 100 backends.
func TestManyNamesReachTheirBackend(t *testing.T) {
	s := manyNames(10_000, 100)
	e, _ := newTestEngine(t, func(c *Config) { c.Services = []Service{s} })
	for i := 0; i < 10_000; i += 97 {
		cport := uint16(20000 + i)
		_, ds := openToBackend(t, e, 80, cport, fmt.Sprintf("GET / HTTP/1.1\r\nHost: SITE%d.example:80\r\n\r\n", i))
		want := s.Backends[i%100].Addr.Addr()
		if len(ds) != 1 || ds[0].ip6 == nil || ip(ds[0].ip6.DstIP) != want {
			t.Fatalf("site%d: want a SYN to %v, got %+v", i, want, ds)
		}
	}
}

// chooseCost is what BenchmarkChooseByName and the allocation test run:
// the choice for one held request, from scratch.
func chooseSetup(tb testing.TB, names int) (*Engine, *conn) {
	s := manyNames(names, 100)
	s.Names = append(s.Names, NameRoute{Name: "*.wild.example", Backends: []uint32{3}})
	e, _ := newTestEngine(tb, func(c *Config) { c.Services = []Service{s} })
	svc := e.services[vipKey{vip.As4(), 80}]
	c := &conn{svc: svc, held: []byte(fmt.Sprintf("GET / HTTP/1.1\r\nHost: Site%d.Example\r\n\r\n", names/2))}
	return e, c
}

func TestChooseByNameAllocatesNothing(t *testing.T) {
	for _, n := range []int{10, 100_000} {
		e, c := chooseSetup(t, n)
		want := (n / 2) % 100
		allocs := testing.AllocsPerRun(1000, func() {
			c.pick = choice{}
			if idx, ok := e.choose(c, false, false); !ok || idx != want {
				t.Fatalf("chose %d %v, want %d", idx, ok, want)
			}
		})
		if allocs != 0 {
			t.Errorf("%d names: %v allocations per choice", n, allocs)
		}
		c.held = []byte("GET / HTTP/1.1\r\nHost: a.b.wild.example\r\n\r\n")
		allocs = testing.AllocsPerRun(1000, func() {
			c.pick = choice{}
			if idx, _ := e.choose(c, false, false); idx != 3 {
				t.Fatalf("wildcard chose %d", idx)
			}
		})
		if allocs != 0 {
			t.Errorf("%d names, wildcard: %v allocations per choice", n, allocs)
		}
	}
}

// BenchmarkChooseByName is the backend choice of one connection (the Host
// header read from its held bytes, the name looked up, the first
// candidate handed out) for 10 to 10^5 names.
func BenchmarkChooseByName(b *testing.B) {
	for _, n := range []int{10, 1000, 100_000} {
		e, c := chooseSetup(b, n)
		b.Run(fmt.Sprintf("names=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				c.pick = choice{}
				e.choose(c, false, false)
			}
		})
	}
}

// TestSetServicesKeepsConnections moves a name to another backend while a
// connection to its first backend is spliced: the connection goes on, a
// new one for the name goes to the new backend.
func TestSetServicesKeepsConnections(t *testing.T) {
	s := manyNames(100, 10)
	e, _ := newTestEngine(t, func(c *Config) { c.Services = []Service{s} })
	const cport = 40200
	req := "GET / HTTP/1.1\r\nHost: site5.example\r\n\r\n"
	isnV, ds := openToBackend(t, e, 80, cport, req)
	b5 := s.Backends[5].Addr
	if len(ds) != 1 || ip(ds[0].ip6.DstIP) != b5.Addr() {
		t.Fatalf("first SYN: %+v", ds)
	}
	handle(t, e, pkt6(t, b5.Addr(), client6, b5.Port(), cport, seg{seq: 5000, ack: 1001, flags: "SA"}))
	if e.Len() != 1 || e.Connections()[0].State != StateEstablished {
		t.Fatalf("not spliced: %+v", e.Connections())
	}

	moved := s
	moved.Names = append([]NameRoute(nil), s.Names...)
	moved.Names[5] = NameRoute{Name: "site5.example", Backends: []uint32{6}}
	if _, err := e.SetServices([]Service{moved}, packet.NewBatch(0, 0)); err != nil {
		t.Fatal(err)
	}
	// The spliced connection still translates, to its backend.
	_, ds = handle(t, e, pkt4(t, client4, vip, cport, 80, seg{seq: 1001 + uint32(len(req)), ack: isnV + 1, flags: "A", payload: []byte("x")}))
	if len(ds) != 1 || ds[0].ip6 == nil || ip(ds[0].ip6.DstIP) != b5.Addr() {
		t.Fatalf("spliced connection after the change: %+v", ds)
	}
	// A new one for the name goes to its new backend.
	_, ds = openToBackend(t, e, 80, cport+1, req)
	if b6 := s.Backends[6].Addr; len(ds) != 1 || ds[0].ip6 == nil || ip(ds[0].ip6.DstIP) != b6.Addr() {
		t.Fatalf("new connection: %+v, want a SYN to %v", ds, b6)
	}
	var chosen5 uint64
	for _, b := range e.Stats().Backends {
		if b.Backend == b5 {
			chosen5 = b.Chosen
		}
	}
	if chosen5 != 1 {
		t.Errorf("backend 5's chosen counter %d after the change, want 1 carried over", chosen5)
	}
	bad := moved
	bad.Names = []NameRoute{{Name: "x.example", Backends: []uint32{99}}}
	if _, err := e.SetServices([]Service{bad}, packet.NewBatch(0, 0)); err == nil {
		t.Error("a route to a backend out of range was taken")
	}
}
