package dns64

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/miekg/dns"
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
