package clat

import (
	"net"
	"net/netip"
	"testing"
)

func TestDeriveAddress(t *testing.T) {
	mac := net.HardwareAddr{0x02, 0, 0, 0, 0, 0x10}
	p := netip.MustParsePrefix("2001:db8:c1a7::10/64")
	a := DeriveAddress(p, mac, "eth0")
	if !netip.MustParsePrefix("2001:db8:c1a7::/64").Contains(a) {
		t.Fatalf("%s is not in the uplink's /64", a)
	}
	// Stable: the same inputs, the same address, whatever the host part
	// or length of the address it came from.
	if b := DeriveAddress(netip.MustParsePrefix("2001:db8:c1a7::99/128"), mac, "eth0"); b != a {
		t.Errorf("same /64, MAC and name: %s then %s", a, b)
	}
	// Golden value: a change of the derivation changes the address of
	// every installed CLAT, which must be on purpose.
	if want := netip.MustParseAddr("2001:db8:c1a7:0:8125:1926:eb10:ca18"); a != want {
		t.Errorf("DeriveAddress = %s, want %s", a, want)
	}
	if b := DeriveAddress(p, net.HardwareAddr{0x02, 0, 0, 0, 0, 0x11}, "eth0"); b == a {
		t.Error("another MAC, the same address")
	}
	if b := DeriveAddress(p, mac, "eth1"); b == a {
		t.Error("another interface name, the same address")
	}
	if b := DeriveAddress(p, nil, "eth0"); !p.Masked().Contains(b) || b == a {
		t.Errorf("no MAC: %s", b)
	}
}

func TestReservedIID(t *testing.T) {
	for _, iid := range []uint64{0, 0xfdff_ffff_ffff_ff80, 0xfdff_ffff_ffff_ffff, 0xffff_ffff_ffff_ffff} {
		if !reservedIID(iid) {
			t.Errorf("%#x not reserved", iid)
		}
	}
	for _, iid := range []uint64{1, 0xfdff_ffff_ffff_ff7f, 0x8125_1926_eb10_ca18} {
		if reservedIID(iid) {
			t.Errorf("%#x reserved", iid)
		}
	}
}

func TestUplinkPrefix(t *testing.T) {
	pp := func(ss ...string) (out []netip.Prefix) {
		for _, s := range ss {
			out = append(out, netip.MustParsePrefix(s))
		}
		return out
	}
	for _, c := range []struct {
		addrs []netip.Prefix
		want  string
	}{
		{pp("fe80::1/64", "fd00::5/64", "2001:db8:1::5/64"), "2001:db8:1::5/64"},
		{pp("fe80::1/64", "fd00::5/64"), "fd00::5/64"},
		{pp("::1/128", "fe80::1/64", "ff02::1/128"), ""},
		{nil, ""},
	} {
		got, ok := UplinkPrefix(c.addrs)
		if c.want == "" {
			if ok {
				t.Errorf("%v: got %v", c.addrs, got)
			}
			continue
		}
		if !ok || got != netip.MustParsePrefix(c.want) {
			t.Errorf("%v: got %v, want %s", c.addrs, got, c.want)
		}
	}
}

func TestIPv6DstFilterWords(t *testing.T) {
	f := ipv6DstFilter(netip.MustParseAddr("2001:db8::1:2"))
	if len(f) != 10 || f[1].K != 0x20010db8 || f[7].K != 0x00010002 {
		t.Errorf("filter %+v", f)
	}
	// Every failing comparison jumps to the last instruction, "drop".
	for i := 1; i < 8; i += 2 {
		if int(f[i].Jf)+i+1 != len(f)-1 {
			t.Errorf("instruction %d jumps to %d on mismatch", i, int(f[i].Jf)+i+1)
		}
	}
}
