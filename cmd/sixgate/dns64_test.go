package main

import (
	"bytes"
	"context"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/sirupsen/logrus"

	"github.com/sixgate/sixgate/topo"
)

func writeDNS64File(t *testing.T, dir, listen, prefix string) string {
	t.Helper()
	path := filepath.Join(dir, "dns64.yaml")
	text := "controller: {listen: \"tcp:127.0.0.1:6653\", http: \"off\"}\ndns64:\n  listen: [\"" + listen + "\"]\n  upstream: [\"127.0.0.1:9\"]\n  prefix: \"" + prefix + "\"\n"
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestCheckDNS64Alone(t *testing.T) {
	path := writeDNS64File(t, t.TempDir(), "[::1]:53", "64:ff9b::/96")
	var out, errOut bytes.Buffer
	if code := check([]string{"-config", path}, &out, &errOut); code != 0 {
		t.Fatalf("check: %d: %s", code, errOut.String())
	}
	if !strings.Contains(out.String(), "ok: 0 switches, 0 links, 0 hosts, DNS64 on 1 addresses with 1 upstreams in 64:ff9b::/96") {
		t.Errorf("check said %q", out.String())
	}
	tp, err := topo.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, n := range capsNeeded(tp, 1024) {
		found = found || (n.field == "dns64.listen[0]" && n.cap == capNetBindService)
	}
	if !found {
		t.Errorf("port 53 does not need CAP_NET_BIND_SERVICE: %+v", capsNeeded(tp, 1024))
	}
}

// TestDNS64ReloadMovesSockets reloads a new prefix and a new address: the
// old socket closes, the new one answers (from ipv4only.arpa, which needs
// no upstream) in the new prefix; a reload to an address that cannot be
// opened is refused and the running one keeps serving.
func TestDNS64ReloadMovesSockets(t *testing.T) {
	dir := t.TempDir()
	log := logrus.New()
	log.SetOutput(&bytes.Buffer{})
	first := freeLoopback(t)
	path := writeDNS64File(t, dir, first, "64:ff9b::/96")
	tp, err := topo.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	s, err := newDNSService(tp.DNS64, logrus.NewEntry(log))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.start(tp.DNS64); err != nil {
		t.Fatal(err)
	}
	defer s.stop()
	wantPrefix(t, first, "64:ff9b::c000:aa")

	second := freeLoopback(t)
	tp2, err := topo.Load(writeDNS64File(t, dir, second, "2001:db8:64::/96"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.reload(tp2.DNS64); err != nil {
		t.Fatal(err)
	}
	wantPrefix(t, second, "2001:db8:64::c000:aa")
	if _, err := ipv4only(first); err == nil {
		t.Errorf("the old address %s still answers", first)
	}

	// An address of another machine cannot be bound.
	tp3, err := topo.Load(writeDNS64File(t, dir, "192.0.2.1:5353", "64:ff9b::/96"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.reload(tp3.DNS64); err == nil || !strings.Contains(err.Error(), "dns64.listen") {
		t.Errorf("reload to an address not ours: %v", err)
	}
	wantPrefix(t, second, "2001:db8:64::c000:aa")
}

// freeLoopback returns a loopback address with a UDP port free right now.
func freeLoopback(t *testing.T) string {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().String()
}

func ipv4only(addr string) (*dns.Msg, error) {
	m := new(dns.Msg)
	m.SetQuestion("ipv4only.arpa.", dns.TypeAAAA)
	c := &dns.Client{Timeout: 300 * time.Millisecond}
	in, _, err := c.ExchangeContext(context.Background(), m, addr)
	return in, err
}

func wantPrefix(t *testing.T, addr, want string) {
	t.Helper()
	in, err := ipv4only(addr)
	if err != nil {
		t.Fatalf("%s: %v", addr, err)
	}
	if len(in.Answer) != 2 || netip.MustParseAddr(in.Answer[0].(*dns.AAAA).AAAA.String()).String() != want {
		t.Errorf("%s: %v, want %s first", addr, in.Answer, want)
	}
}
