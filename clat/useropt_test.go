package clat

import (
	"encoding/binary"
	"errors"
	"io"
	"net/netip"
	"reflect"
	"testing"
	"time"

	"github.com/mdlayher/ndp"
	"github.com/sixgate/sixgate/packet"
)

// userOptMessage builds an RTM_NEWNDUSEROPT netlink message the way the
// kernel's ndisc_ra_useropt does: header, nduseroptmsg, the options,
// then NDUSEROPT_SRCADDR.
func userOptMessage(ifindex int, icmpType uint8, src netip.Addr, opts []byte) []byte {
	b := make([]byte, nlmsgHdrLen+ndUserOptHdrLen)
	binary.NativeEndian.PutUint16(b[4:6], rtmNewNDUserOpt)
	h := b[nlmsgHdrLen:]
	h[0] = 10 // AF_INET6
	binary.NativeEndian.PutUint16(h[2:4], uint16(len(opts)))
	binary.NativeEndian.PutUint32(h[4:8], uint32(ifindex))
	h[8] = icmpType
	b = append(b, opts...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	if src.IsValid() {
		attr := make([]byte, 4, 20)
		binary.NativeEndian.PutUint16(attr[0:2], 20)
		binary.NativeEndian.PutUint16(attr[2:4], ndUserOptSrcAddr)
		a := src.As16()
		b = append(b, append(attr, a[:]...)...)
	}
	binary.NativeEndian.PutUint32(b[0:4], uint32(len(b)))
	return b
}

// pref64Option marshals a PREF64 option with mdlayher/ndp, as a router
// would send it, by marshalling a router advertisement carrying it and
// cutting the options out.
func pref64Option(t testing.TB, p netip.Prefix, lifetime time.Duration) []byte {
	t.Helper()
	b, err := ndp.MarshalMessage(&ndp.RouterAdvertisement{Options: []ndp.Option{&ndp.PREF64{Prefix: p, Lifetime: lifetime}}})
	if err != nil {
		t.Fatal(err)
	}
	return b[16:] // ICMPv6 header (4) and RA fields (12)
}

func TestParseNetlinkPREF64(t *testing.T) {
	router := netip.MustParseAddr("fe80::1")
	var opts []byte
	// An RDNSS option first: skipped by type.
	opts = append(opts, 25, 3, 0, 0, 0, 0, 0, 60)
	opts = append(opts, make([]byte, 16)...)
	opts = append(opts, pref64Option(t, netip.MustParsePrefix("64:ff9b::/96"), 600*time.Second)...)
	opts = append(opts, pref64Option(t, netip.MustParsePrefix("2001:db8:6400::/40"), 0)...)
	// Another message type before it, and one after: skipped.
	other := make([]byte, 20)
	binary.NativeEndian.PutUint32(other[0:4], 20)
	binary.NativeEndian.PutUint16(other[4:6], 20) // RTM_NEWADDR
	buf := append(append(append([]byte{}, other...), userOptMessage(7, icmpv6RouterAdv, router, opts)...), other...)

	msgs, links, err := ParseNetlink(buf)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 1 || len(links) != 0 {
		t.Fatalf("%d messages, want 1", len(msgs))
	}
	m := msgs[0]
	if m.Ifindex != 7 || m.ICMPType != icmpv6RouterAdv || m.Source != router || m.Family != 10 {
		t.Errorf("got %+v", m)
	}
	prefs, err := PREF64s(m.Options)
	if err != nil {
		t.Fatal(err)
	}
	want := []PREF64{
		{Prefix: netip.MustParsePrefix("64:ff9b::/96"), Lifetime: 600 * time.Second},
		{Prefix: netip.MustParsePrefix("2001:db8:6400::/40"), Lifetime: 0},
	}
	if !reflect.DeepEqual(prefs, want) {
		t.Errorf("PREF64s = %v, want %v", prefs, want)
	}
}

// linkMessage builds an RTM_NEWLINK message with an IFLA_IFNAME
// attribute, as the kernel sends on a change of state.
func linkMessage(ifindex int, flags uint32) []byte {
	b := make([]byte, nlmsgHdrLen+ifInfoMsgLen, nlmsgHdrLen+ifInfoMsgLen+12)
	binary.NativeEndian.PutUint16(b[4:6], rtmNewLink)
	m := b[nlmsgHdrLen:]
	binary.NativeEndian.PutUint32(m[4:8], uint32(ifindex))
	binary.NativeEndian.PutUint32(m[8:12], flags)
	b = append(b, 9, 0, 3, 0, 'e', 't', 'h', '0', 0, 0, 0, 0) // IFLA_IFNAME "eth0"
	binary.NativeEndian.PutUint32(b[0:4], uint32(len(b)))
	return b
}

func TestParseNetlinkLink(t *testing.T) {
	buf := append(linkMessage(3, 0x1003), linkMessage(4, 0x1002)...)
	buf = append(buf, userOptMessage(3, icmpv6RouterAdv, netip.Addr{}, nil)...)
	opts, links, err := ParseNetlink(buf)
	if err != nil {
		t.Fatal(err)
	}
	want := []LinkEvent{{Ifindex: 3, Flags: 0x1003}, {Ifindex: 4, Flags: 0x1002}}
	if !reflect.DeepEqual(links, want) || len(opts) != 1 || opts[0].Source.IsValid() {
		t.Errorf("links %v, options %+v", links, opts)
	}
	short := linkMessage(3, 1)[:nlmsgHdrLen+8]
	binary.NativeEndian.PutUint32(short[0:4], uint32(len(short)))
	if _, _, err := ParseNetlink(short); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("short ifinfomsg: %v", err)
	}
}

func TestPREF64EveryLength(t *testing.T) {
	for _, s := range []string{"2001:db8::/32", "2001:db8:100::/40", "2001:db8:122::/48", "2001:db8:122:300::/56", "2001:db8:122:344::/64", "64:ff9b::/96"} {
		p := netip.MustParsePrefix(s)
		// The largest scaled lifetime: 8191 * 8 s.
		got, err := PREF64s(pref64Option(t, p, 65528*time.Second))
		if err != nil || len(got) != 1 || got[0].Prefix != p || got[0].Lifetime != 65528*time.Second {
			t.Errorf("%s: got %v, %v", s, got, err)
		}
	}
}

func TestPREF64Malformed(t *testing.T) {
	good := pref64Option(t, netip.MustParsePrefix("64:ff9b::/96"), 8*time.Second)
	badPLC := append([]byte{}, good...)
	badPLC[3] |= 7
	long := append([]byte{38, 3}, make([]byte, 22)...)
	for name, b := range map[string][]byte{
		"one byte":      {38},
		"zero length":   {38, 0, 0, 0, 0, 0, 0, 0},
		"beyond":        good[:12],
		"bad PLC":       badPLC,
		"three units":   long,
		"good then bad": append(append([]byte{}, good...), 38, 0),
	} {
		_, err := PREF64s(b)
		if err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if _, err := PREF64s(good[:1]); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("truncated: %v, want io.ErrUnexpectedEOF", err)
	}
}

func TestParseNetlinkMalformed(t *testing.T) {
	good := userOptMessage(2, icmpv6RouterAdv, netip.MustParseAddr("fe80::1"), pref64Option(t, netip.MustParsePrefix("64:ff9b::/96"), time.Minute))
	if _, _, err := ParseNetlink(good); err != nil {
		t.Fatalf("good message: %v", err)
	}
	// Every truncation is refused: the netlink length no longer fits.
	for n := 1; n < len(good); n++ {
		if _, _, err := ParseNetlink(good[:n]); err == nil {
			t.Errorf("truncated to %d bytes: no error", n)
		}
	}
	withLen := func(f func(b []byte)) []byte {
		b := append([]byte{}, good...)
		f(b)
		return b
	}
	for name, b := range map[string][]byte{
		"options beyond the message": withLen(func(b []byte) { binary.NativeEndian.PutUint16(b[nlmsgHdrLen+2:], 200) }),
		"netlink length too small":   withLen(func(b []byte) { binary.NativeEndian.PutUint32(b[0:4], 8) }),
		"attribute too long":         withLen(func(b []byte) { binary.NativeEndian.PutUint16(b[len(b)-20:], 40) }),
		"source of 8 bytes": withLen(func(b []byte) {
			binary.NativeEndian.PutUint16(b[len(b)-20:], 12)
			binary.NativeEndian.PutUint32(b[0:4], uint32(len(b)-8))
		})[:len(good)-8],
	} {
		if _, _, err := ParseNetlink(b); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// FuzzParseNetlink feeds arbitrary bytes to the netlink and ND option
// decoders: an error or a result, never a panic; and every option slice
// stays inside the input.
func FuzzParseNetlink(f *testing.F) {
	f.Add(userOptMessage(2, icmpv6RouterAdv, netip.MustParseAddr("fe80::1"), pref64Option(f, netip.MustParsePrefix("64:ff9b::/96"), time.Minute)))
	f.Add(userOptMessage(2, icmpv6RouterAdv, netip.Addr{}, nil))
	f.Add(linkMessage(2, 0x11043))
	f.Add([]byte{})
	f.Add(make([]byte, 16))
	f.Fuzz(func(t *testing.T, b []byte) {
		msgs, _, _ := ParseNetlink(b)
		for _, m := range msgs {
			if len(m.Options) > len(b) {
				t.Fatalf("options of %d bytes from %d", len(m.Options), len(b))
			}
			prefs, _ := PREF64s(m.Options)
			for _, p := range prefs {
				if err := packet.CheckRFC6052Prefix(p.Prefix); err != nil {
					t.Fatalf("decoded an invalid prefix: %v", err)
				}
			}
		}
		PREF64s(b)
	})
}

func TestRAPREF64s(t *testing.T) {
	ra := &ndp.RouterAdvertisement{Options: []ndp.Option{
		&ndp.LinkLayerAddress{Direction: ndp.Source, Addr: []byte{2, 0, 0, 0, 0, 1}},
		&ndp.PREF64{Prefix: netip.MustParsePrefix("64:ff9b::/96"), Lifetime: time.Minute},
		&ndp.MTU{MTU: 1500},
		&ndp.PREF64{Prefix: netip.MustParsePrefix("2001:db8:6400::/40"), Lifetime: 0},
	}}
	got := raPREF64s(ra)
	want := []PREF64{
		{Prefix: netip.MustParsePrefix("64:ff9b::/96"), Lifetime: time.Minute},
		{Prefix: netip.MustParsePrefix("2001:db8:6400::/40")},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}
