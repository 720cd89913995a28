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
	err = missingCaps(tp, 0, 1024)
	if want := path + ":3: dns64.listen[0]: port 53, below net.ipv4.ip_unprivileged_port_start (1024), needs CAP_NET_BIND_SERVICE, which this process does not hold"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("port 53 without CAP_NET_BIND_SERVICE: %v\nwant %q", err, want)
	}
}

// TestDNS64Reload: a reload puts a new prefix in force for the next
// query; one that changes the listen addresses, adds or removes the
// section is refused, naming the key and its line, and the running
// configuration keeps serving.
func TestDNS64Reload(t *testing.T) {
	dir := t.TempDir()
	var logs bytes.Buffer
	l := logrus.New()
	l.SetOutput(&logs)
	log := logrus.NewEntry(l)
	first := freeLoopback(t)
	path := writeDNS64File(t, dir, first, "64:ff9b::/96")
	p, err := prepare(path, "", log)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.dns.start(p.topo.DNS64); err != nil {
		t.Fatal(err)
	}
	defer p.dns.stop()
	wantPrefix(t, first, "64:ff9b::c000:aa")

	writeDNS64File(t, dir, first, "2001:db8:64::/96")
	if !reload(path, p.live, p.apps, p.ctl, p.dns, log) {
		t.Fatalf("a new prefix refused:\n%s", logs.String())
	}
	wantPrefix(t, first, "2001:db8:64::c000:aa")

	second := freeLoopback(t)
	for _, c := range []struct{ file, want string }{
		{readFile(t, writeDNS64File(t, dir, second, "2001:db8:64::/96")),
			path + ":3: dns64.listen: changed from " + first + " to " + second + ": restart sixgate to apply it"},
		{"controller: {listen: \"tcp:127.0.0.1:6653\", http: \"off\"}\nswitches: [{name: s1, dpid: 1}]\n",
			path + ": dns64: section removed: restart sixgate to apply it"},
	} {
		logs.Reset()
		if err := os.WriteFile(path, []byte(c.file), 0o644); err != nil {
			t.Fatal(err)
		}
		if reload(path, p.live, p.apps, p.ctl, p.dns, log) {
			t.Errorf("reload to\n%s\ntaken", c.file)
		}
		if !strings.Contains(logs.String(), c.want) {
			t.Errorf("reload logged\n%s\nwant %q", logs.String(), c.want)
		}
	}
	wantPrefix(t, first, "2001:db8:64::c000:aa")
	if _, err := ipv4only(second); err == nil {
		t.Errorf("%s answers, though its reload was refused", second)
	}
}

func TestDNS64SectionAddedNeedsARestart(t *testing.T) {
	without, err := topo.Parse("t.yaml", []byte("switches: [{name: s1, dpid: 1}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	with, err := topo.Parse("t.yaml", []byte("switches: [{name: s1, dpid: 1}]\ndns64: {listen: [\"127.0.0.1:5353\"], upstream: [\"127.0.0.1\"], prefix: \"64:ff9b::/96\"}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := dns64Changes(without, with); err == nil || err.Error() != "t.yaml:2: dns64: section added: restart sixgate to apply it" {
		t.Errorf("section added: %v", err)
	}
	if err := dns64Changes(with, with); err != nil {
		t.Errorf("nothing changed: %v", err)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
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
