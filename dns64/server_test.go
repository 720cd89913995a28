package dns64

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestWildcardAddress: on 0.0.0.0 UDP goes through miekg/dns's server,
// which answers from the address the query came to; TCP too.
func TestWildcardAddress(t *testing.T) {
	up := newFakeUpstream(t, testSOA, "v4.example. 3000 IN A 198.41.0.4")
	r := newTestResolver(t, Config{Upstreams: []netip.AddrPort{up.addr}})
	s, err := Listen([]netip.AddrPort{netip.MustParseAddrPort("0.0.0.0:0")}, r)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if err := s.Close(ctx); err != nil {
			t.Error(err)
		}
	}()
	port := s.LocalAddrs()[0].(*net.UDPAddr).Port
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	for _, netw := range []string{"udp", "tcp"} {
		for range 2 { // resolved, then cached
			wantAnswer(t, askAt(t, addr, netw, "v4.example", dns.TypeAAAA, nil), dns.RcodeSuccess, "v4.example. 300 IN AAAA 64:ff9b::c629:4")
		}
	}
}

// TestMalformedDatagram: bytes that are not a DNS message get FORMERR
// when their header is a query's, nothing otherwise.
func TestMalformedDatagram(t *testing.T) {
	r := newTestResolver(t, Config{Upstreams: []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:1")}})
	c, err := net.Dial("udp", serve(t, r))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// A query header announcing a question that is not there.
	if _, err := c.Write([]byte{0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 3, 'a'}); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
	buf := make([]byte, 512)
	n, err := c.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	m := new(dns.Msg)
	if err := m.Unpack(buf[:n]); err != nil || m.Id != 0x1234 || !m.Response || m.Rcode != dns.RcodeFormatError || !m.RecursionDesired {
		t.Errorf("reply %v (%v)", m, err)
	}
}

// TestSecondServerOnSameAddress: the process taking over in an upgrade
// binds the running one's addresses while it still serves; once the first
// closes, the second answers every query, over UDP and TCP.
func TestSecondServerOnSameAddress(t *testing.T) {
	up := newFakeUpstream(t, testSOA, "v4.example. 3000 IN A 198.41.0.4")
	r := newTestResolver(t, Config{Upstreams: []netip.AddrPort{up.addr}})
	first, err := Listen([]netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:0")}, r)
	if err != nil {
		t.Fatal(err)
	}
	addr := first.LocalAddrs()[0].(*net.UDPAddr).AddrPort()
	second, err := Listen([]netip.AddrPort{addr}, r)
	if err != nil {
		t.Fatalf("second server on %v: %v", addr, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	defer second.Close(ctx)
	if err := first.Close(ctx); err != nil {
		t.Fatal(err)
	}
	for _, netw := range []string{"udp", "tcp"} {
		for range 4 {
			wantAnswer(t, askAt(t, addr.String(), netw, "v4.example", dns.TypeAAAA, nil), dns.RcodeSuccess, "v4.example. 300 IN AAAA 64:ff9b::c629:4")
		}
	}
}

// TestMalformedDatagramRateLimited: a datagram that is not a DNS message
// takes a token like a query before it gets its FORMERR, so a flood of
// them is no way around the limit.
func TestMalformedDatagramRateLimited(t *testing.T) {
	r := newTestResolver(t, Config{Upstreams: []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:1")}, Rate: 0.001, Burst: 2})
	c, err := net.Dial("udp", serve(t, r))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	bad := []byte{0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 3, 'a'}
	buf := make([]byte, 512)
	for i := range 3 {
		if _, err := c.Write(bad); err != nil {
			t.Fatal(err)
		}
		wait := 2 * time.Second
		if i == 2 {
			wait = 300 * time.Millisecond // long enough: the first two came back at once
		}
		_ = c.SetReadDeadline(time.Now().Add(wait))
		_, err := c.Read(buf)
		if i < 2 && err != nil {
			t.Fatalf("datagram %d: no FORMERR: %v", i+1, err)
		}
		if i == 2 && err == nil {
			t.Fatal("third datagram answered beyond a burst of 2")
		}
	}
	if v := testutil.ToFloat64(r.metrics.rateLimited); v != 1 {
		t.Errorf("rate-limited counter %v, want 1", v)
	}
	if v := testutil.ToFloat64(r.metrics.malformed); v != 2 {
		t.Errorf("malformed counter %v, want 2 (the third was dropped before it was decoded)", v)
	}
}

// TestEverySocketAnswers: an address has a socket per core, and the kernel
// spreads clients over them by their port; queries from many ports are
// all answered, from the cache after the first.
func TestEverySocketAnswers(t *testing.T) {
	up := newFakeUpstream(t, testSOA, "v4.example. 3000 IN A 198.41.0.4")
	r := newTestResolver(t, Config{Upstreams: []netip.AddrPort{up.addr}})
	srv := serve(t, r)
	const clients = 32
	for range clients {
		wantAnswer(t, askAt(t, srv, "udp", "v4.example", dns.TypeAAAA, nil), dns.RcodeSuccess, "v4.example. 300 IN AAAA 64:ff9b::c629:4")
	}
	if v := testutil.ToFloat64(r.metrics.cacheHits); v != clients-1 {
		t.Errorf("cache hits %v, want %d", v, clients-1)
	}
}

// TestDatagramHitAllocatesNothing: the fast path's promise, checked.
func TestDatagramHitAllocatesNothing(t *testing.T) {
	r, pkt := cachedDatagram(t)
	cfg := r.cfg.Load()
	client := netip.MustParseAddr("192.0.2.1")
	buf := make([]byte, 0, bufferSize)
	if n := testing.AllocsPerRun(1000, func() {
		if out, _ := r.serveDatagram(pkt, client, cfg, time.Now(), buf[:0]); len(out) == 0 {
			t.Fatal("not answered from the cache")
		}
	}); n != 0 {
		t.Errorf("%v allocations per cached answer", n)
	}
}

// TestWildcardRateLimitsMalformed: on a wildcard address too, a datagram
// that does not decode takes a token before it gets FORMERR, and a query
// is counted once.
func TestWildcardRateLimitsMalformed(t *testing.T) {
	up := newFakeUpstream(t, testSOA, "v4.example. 3000 IN A 198.41.0.4")
	r := newTestResolver(t, Config{Upstreams: []netip.AddrPort{up.addr}, Rate: 0.001, Burst: 2})
	s, err := Listen([]netip.AddrPort{netip.MustParseAddrPort("0.0.0.0:0")}, r)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if err := s.Close(ctx); err != nil {
			t.Error(err)
		}
	}()
	addr := fmt.Sprintf("127.0.0.1:%d", s.LocalAddrs()[0].(*net.UDPAddr).Port)
	wantAnswer(t, askAt(t, addr, "udp", "v4.example", dns.TypeAAAA, nil), dns.RcodeSuccess, "v4.example. 300 IN AAAA 64:ff9b::c629:4")
	c, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	bad := []byte{0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 3, 'a'}
	buf := make([]byte, 512)
	for i, want := range []bool{true, false} {
		if _, err := c.Write(bad); err != nil {
			t.Fatal(err)
		}
		wait := 2 * time.Second
		if !want {
			wait = 300 * time.Millisecond
		}
		_ = c.SetReadDeadline(time.Now().Add(wait))
		if _, err := c.Read(buf); (err == nil) != want {
			t.Fatalf("malformed datagram %d: answered %v, want %v", i+1, err == nil, want)
		}
	}
	if v := testutil.ToFloat64(r.metrics.rateLimited); v != 1 {
		t.Errorf("rate-limited counter %v, want 1", v)
	}
	if v := testutil.ToFloat64(r.metrics.queriesUDP); v != 3 {
		t.Errorf("UDP queries counted %v, want 3", v)
	}
	if v := testutil.ToFloat64(r.metrics.malformed); v != 1 {
		t.Errorf("malformed counter %v, want 1", v)
	}
}
