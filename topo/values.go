package topo

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// maxOpenFlowPort is OFPP_MAX: numbers above it are reserved (IN_PORT, FLOOD,
// CONTROLLER, ...) and cannot be a physical port.
const maxOpenFlowPort = 0xffffff00

// parseDPID reads a datapath id written as hex with a 0x prefix, as eight
// colon-separated octets (the form ovs-ofctl prints), or in decimal.
func parseDPID(s string) (uint64, error) {
	bad := fmt.Errorf("malformed datapath id %q (want 0x1, 1 or 00:00:00:00:00:00:00:01)", s)
	switch {
	case s == "":
		return 0, fmt.Errorf("missing datapath id")
	case strings.HasPrefix(s, "0x") || strings.HasPrefix(s, "0X"):
		v, err := strconv.ParseUint(s[2:], 16, 64)
		if err != nil {
			return 0, bad
		}
		return v, nil
	case strings.Contains(s, ":"):
		octets := strings.Split(s, ":")
		if len(octets) != 8 {
			return 0, bad
		}
		var v uint64
		for _, o := range octets {
			b, err := strconv.ParseUint(o, 16, 8)
			if err != nil || len(o) != 2 {
				return 0, bad
			}
			v = v<<8 | b
		}
		return v, nil
	default:
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return 0, bad
		}
		return v, nil
	}
}

// parseSwitchPort reads an OpenFlow port number.
func parseSwitchPort(s string) (uint32, error) {
	if s == "" {
		return 0, fmt.Errorf("missing port number")
	}
	v, err := strconv.ParseUint(s, 10, 32)
	if err != nil || v == 0 || v > maxOpenFlowPort {
		return 0, fmt.Errorf("malformed port %q (want 1 to %d)", s, maxOpenFlowPort)
	}
	return uint32(v), nil
}

// parseTCPPort reads a TCP port number.
func parseTCPPort(s string) (uint16, error) {
	if s == "" {
		return 0, fmt.Errorf("missing port number")
	}
	v, err := strconv.ParseUint(s, 10, 16)
	if err != nil || v == 0 {
		return 0, fmt.Errorf("malformed port %q (want 1 to 65535)", s)
	}
	return uint16(v), nil
}

// parseUint reads a decimal number in [lo, hi].
func parseUint(s string, lo, hi uint64) (uint64, error) {
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil || v < lo || v > hi {
		return 0, fmt.Errorf("malformed number %q (want %d to %d)", s, lo, hi)
	}
	return v, nil
}

// parseUnicastMAC reads an Ethernet address that can belong to one interface.
func parseUnicastMAC(s string) (net.HardwareAddr, error) {
	if s == "" {
		return nil, fmt.Errorf("missing MAC address")
	}
	mac, err := net.ParseMAC(s)
	if err != nil || len(mac) != 6 {
		return nil, fmt.Errorf("malformed MAC %q (want 00:00:0a:00:00:01)", s)
	}
	if mac[0]&1 != 0 {
		return nil, fmt.Errorf("%s is a multicast MAC, not one interface's", mac)
	}
	if macKey(mac) == ([6]byte{}) {
		return nil, fmt.Errorf("the all-zero MAC cannot be used")
	}
	return mac, nil
}

func macKey(mac net.HardwareAddr) [6]byte {
	var k [6]byte
	copy(k[:], mac)
	return k
}

// parseDuration reads "1500ms", "5s", "30m" or a bare number of seconds.
func parseDuration(s string) (time.Duration, error) {
	if v, err := strconv.ParseUint(s, 10, 32); err == nil {
		return time.Duration(v) * time.Second, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("malformed duration %q (want 5s, 1500ms or a number of seconds)", s)
	}
	return d, nil
}

// addrSpec is an address as written in the file: bare, or with the prefix
// length of its subnet.
type addrSpec struct {
	addr netip.Addr
	bits int // -1 when written bare
}

func parseAddrSpec(s string) (addrSpec, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return addrSpec{}, fmt.Errorf("malformed address %q", s)
		}
		return addrSpec{addr: p.Addr(), bits: p.Bits()}, nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return addrSpec{}, fmt.Errorf("malformed address %q", s)
	}
	return addrSpec{addr: a, bits: -1}, nil
}

// checkUnicast rejects addresses of the wrong family and addresses that can
// never be an interface's own.
func checkUnicast(a netip.Addr, want4 bool) error {
	switch {
	case want4 && !a.Is4():
		return fmt.Errorf("%s is not an IPv4 address", a)
	case !want4 && a.Is4In6():
		return fmt.Errorf("%s is an IPv4-mapped address; write the IPv4 address under ipv4", a)
	case !want4 && !a.Is6():
		return fmt.Errorf("%s is not an IPv6 address", a)
	case a.IsUnspecified(), a.IsMulticast(), a.IsLoopback(), a == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return fmt.Errorf("%s is not a unicast address", a)
	}
	return nil
}

// parsePrefix reads a network prefix whose host bits must be zero, because a
// prefix like 10.0.0.1/24 is more often a typo than a wish.
func parsePrefix(s string) (netip.Prefix, error) {
	if s == "" {
		return netip.Prefix{}, fmt.Errorf("missing prefix")
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("malformed prefix %q (want 10.0.0.0/24 or 2001:db8::/64)", s)
	}
	if p != p.Masked() {
		return netip.Prefix{}, fmt.Errorf("%s has bits set beyond its length; did you mean %s?", p, p.Masked())
	}
	if p.Addr().Is4In6() {
		return netip.Prefix{}, fmt.Errorf("%s is an IPv4-mapped prefix", p)
	}
	return p, nil
}

// eui64LinkLocal derives fe80::/64 + modified EUI-64 from a MAC (RFC 4291
// appendix A), the address a router's interface would have.
func eui64LinkLocal(mac net.HardwareAddr) netip.Addr {
	var a [16]byte
	a[0], a[1] = 0xfe, 0x80
	a[8] = mac[0] ^ 0x02
	a[9], a[10] = mac[1], mac[2]
	a[11], a[12] = 0xff, 0xfe
	a[13], a[14], a[15] = mac[3], mac[4], mac[5]
	return netip.AddrFrom16(a)
}
