package test

import (
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mdlayher/ndp"

	"github.com/sixgate/sixgate/clat"
	"github.com/sixgate/sixgate/test/ovs"
)

// raFabric is one switch, one IPv6 host and an advertising gateway whose
// ra section ends with RAKEYS.
const raFabric = `
controller:
  listen: "tcp:127.0.0.1:PORT"
  http: "off"
switches: [{name: s1, dpid: "0x1"}]
hosts:
  - {name: h1, switch: s1, port: 1, mac: "00:00:0d:00:00:01", ipv6: ["2001:db8:d::1/64"]}
gateways:
  - name: gw
    mac: "00:00:0d:00:00:fe"
    ipv6: ["2001:db8:d::fe/64"]
    router_advertisements: true
    ra: {interval: 10s, RAKEYS}
`

// kernelOpts are the ND options the kernel of a namespace passed to user
// space, read by clat's netlink decoder.
type kernelOpts struct {
	l  *clat.UserOptListener
	ch chan []byte // the raw options of one RTM_NEWNDUSEROPT
}

func listenKernelOpts(t *testing.T, ns string) *kernelOpts {
	t.Helper()
	var err error
	k := &kernelOpts{ch: make(chan []byte, 256)}
	inNetns(t, ns, func() { k.l, err = clat.ListenUserOpts() })
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(k.ch)
		for {
			opts, _, err := k.l.Read()
			if err != nil {
				return
			}
			for _, o := range opts {
				if o.ICMPType == 134 {
					k.ch <- slices.Clone(o.Options)
				}
			}
		}
	}()
	t.Cleanup(func() { k.l.Close() })
	return k
}

// ndOptions decodes raw ND options with ndp, behind an RA header of
// zeros: ndp parses options only as part of a message.
func ndOptions(t *testing.T, raw []byte) []ndp.Option {
	t.Helper()
	msg := append([]byte{134, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, raw...)
	m, err := ndp.ParseMessage(msg)
	if err != nil {
		t.Fatalf("options %x from the kernel: %v", raw, err)
	}
	return m.(*ndp.RouterAdvertisement).Options
}

// waitPREF64 waits for the kernel to pass on a PREF64 option for prefix
// with the given lifetime, decoded by clat.PREF64s.
func (k *kernelOpts) waitPREF64(t *testing.T, prefix netip.Prefix, lifetime time.Duration) {
	t.Helper()
	var seen []clat.PREF64
	deadline := time.After(10 * time.Second)
	for {
		select {
		case raw, ok := <-k.ch:
			if !ok {
				t.Fatal("netlink listener closed")
			}
			ps, err := clat.PREF64s(raw)
			if err != nil {
				t.Fatalf("PREF64 from the kernel: %v", err)
			}
			for _, p := range ps {
				if p.Prefix == prefix && p.Lifetime == lifetime {
					return
				}
				seen = append(seen, p)
			}
		case <-deadline:
			t.Fatalf("no PREF64 %s lifetime %v from the kernel within 10s; saw %+v", prefix, lifetime, seen)
		}
	}
}

// waitOption waits for an option the kernel passed on that match accepts.
func (k *kernelOpts) waitOption(t *testing.T, what string, match func(ndp.Option) bool) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	var seen []string
	for {
		select {
		case raw, ok := <-k.ch:
			if !ok {
				t.Fatal("netlink listener closed")
			}
			for _, o := range ndOptions(t, raw) {
				if match(o) {
					return
				}
				seen = append(seen, fmt.Sprintf("%+v", o))
			}
		case <-deadline:
			t.Fatalf("no %s from the kernel within 10s; saw %v", what, seen)
		}
	}
}

// TestRAHostConfigFromKernel: a host namespace that accepts RAs gets
// sixgate's PREF64, RDNSS and DNSSL options from its kernel over
// RTNLGRP_ND_USEROPT, for every RFC 6052 prefix length in turn (each
// reload withdrawing the previous prefix with lifetime 0), and a final
// withdrawal when the prefix and a server are removed.
func TestRAHostConfigFromKernel(t *testing.T) {
	ovs.Require(t)
	start := time.Now()
	bin := ovs.BuildSixgate(t)
	port := freePort(t)
	write := func(path, keys string) {
		cfg := strings.Replace(strings.Replace(raFabric, "PORT", fmt.Sprint(port), 1), "RAKEYS", keys, 1)
		if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	br := ovs.NewBridge(t, "sgra", 1, fmt.Sprintf("tcp:127.0.0.1:%d", port))
	h := ovs.AddNetns(t, br, "sgra-h1", 1, "00:00:0d:00:00:01", "2001:db8:d::1/64")
	h.Run(t, "sysctl", "-qw", "net.ipv6.conf.eth0.accept_ra=1", "net.ipv6.conf.eth0.forwarding=0")
	k := listenKernelOpts(t, h.Name)

	config := ovs.WriteFile(t, "ra.yaml", "")
	lengths := []string{"64:ff9b::/96", "2001:db8:64::/64", "2001:db8:64::/56", "2001:db8:64::/48", "2001:db8:6400::/40", "2001:db8::/32"}
	// interval 10s: lifetime 30 s, rounded up to 32 s.
	const lifetime = 32 * time.Second
	write(config, fmt.Sprintf(`pref64: %q, rdnss: ["2001:db8:d::53", "2001:db8:d::54"], dnssl: [lab.example]`, lengths[0]))
	d := ovs.StartSixgate(t, bin, "-config", config)
	k.waitPREF64(t, netip.MustParsePrefix(lengths[0]), lifetime)
	t.Logf("PREF64 %s from the kernel after %v", lengths[0], time.Since(start).Round(time.Millisecond))

	for i := 1; i < len(lengths); i++ {
		write(config, fmt.Sprintf(`pref64: %q, rdnss: ["2001:db8:d::53", "2001:db8:d::54"], dnssl: [lab.example]`, lengths[i]))
		if err := d.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		k.waitPREF64(t, netip.MustParsePrefix(lengths[i]), lifetime)
		k.waitPREF64(t, netip.MustParsePrefix(lengths[i-1]), 0)
	}
	k.waitOption(t, "RDNSS 2001:db8:d::53 and ::54, lifetime 30s", func(o ndp.Option) bool {
		r, ok := o.(*ndp.RecursiveDNSServer)
		return ok && r.Lifetime == 30*time.Second && slices.Equal(r.Servers, []netip.Addr{netip.MustParseAddr("2001:db8:d::53"), netip.MustParseAddr("2001:db8:d::54")})
	})
	k.waitOption(t, "DNSSL lab.example, lifetime 30s", func(o ndp.Option) bool {
		d, ok := o.(*ndp.DNSSearchList)
		return ok && d.Lifetime == 30*time.Second && slices.Equal(d.DomainNames, []string{"lab.example"})
	})

	// The NAT64 prefix and one server go: both are withdrawn.
	write(config, `rdnss: ["2001:db8:d::54"]`)
	if err := d.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	k.waitPREF64(t, netip.MustParsePrefix(lengths[len(lengths)-1]), 0)
	k.waitOption(t, "RDNSS 2001:db8:d::53 withdrawn", func(o ndp.Option) bool {
		r, ok := o.(*ndp.RecursiveDNSServer)
		return ok && r.Lifetime == 0 && slices.Equal(r.Servers, []netip.Addr{netip.MustParseAddr("2001:db8:d::53")})
	})
	t.Logf("every prefix length and the withdrawals read from the kernel in %v", time.Since(start).Round(time.Millisecond))
}
