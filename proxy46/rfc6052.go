package proxy46

import (
	"fmt"
	"net/netip"
)

// validPool6 reports whether p can embed IPv4 addresses per RFC 6052 §2.2.
func validPool6(p netip.Prefix) error {
	if !p.IsValid() || !p.Addr().Is6() || p.Addr().Is4In6() {
		return fmt.Errorf("proxy46: pool6 %v is not an IPv6 prefix", p)
	}
	switch p.Bits() {
	case 32, 40, 48, 56, 64, 96:
	default:
		return fmt.Errorf("proxy46: pool6 %v: RFC 6052 allows only /32, /40, /48, /56, /64 or /96", p)
	}
	if p.Masked() != p {
		return fmt.Errorf("proxy46: pool6 %v has host bits set", p)
	}
	if a := p.Addr().As16(); a[8] != 0 {
		return fmt.Errorf("proxy46: pool6 %v: bits 64-71 (the u octet) must be zero", p)
	}
	return nil
}

// embed4in6 places v4 inside the prefix (RFC 6052 §2.2): the 32 bits go
// right after the prefix, skipping bits 64-71 (the "u" octet, kept zero);
// the suffix is zero. bits must be one of the lengths validPool6 accepts.
func embed4in6(prefix [16]byte, bits int, v4 [4]byte) [16]byte {
	out := prefix
	pos := bits / 8
	for i := pos; i < 16; i++ {
		out[i] = 0
	}
	for _, b := range v4 {
		if pos == 8 {
			pos++
		}
		out[pos] = b
		pos++
	}
	return out
}

// extract4from6 is the inverse of embed4in6.
func extract4from6(a [16]byte, bits int) [4]byte {
	var v4 [4]byte
	pos := bits / 8
	for i := range v4 {
		if pos == 8 {
			pos++
		}
		v4[i] = a[pos]
		pos++
	}
	return v4
}

// inPool6 reports whether a starts with the pool prefix (whole bytes, as
// every RFC 6052 length is a multiple of eight).
func inPool6(a, prefix *[16]byte, bits int) bool {
	return string(a[:bits/8]) == string(prefix[:bits/8])
}

// wellKnownPrefix is RFC 6052's Well-Known Prefix.
var wellKnownPrefix = netip.MustParsePrefix("64:ff9b::/96")

// nonGlobal4 are the IPv4 ranges RFC 6052 §3.1 keeps out of the
// Well-Known Prefix: private and special-purpose addresses (RFC 1918,
// RFC 5735 §3 and the shared address space of RFC 6598), none of which
// is reachable as itself across the Internet.
var nonGlobal4 = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("10.0.0.0/8"),
	netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("127.0.0.0/8"),
	netip.MustParsePrefix("169.254.0.0/16"),
	netip.MustParsePrefix("172.16.0.0/12"),
	netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("192.0.2.0/24"),
	netip.MustParsePrefix("192.88.99.0/24"),
	netip.MustParsePrefix("192.168.0.0/16"),
	netip.MustParsePrefix("198.18.0.0/15"),
	netip.MustParsePrefix("198.51.100.0/24"),
	netip.MustParsePrefix("203.0.113.0/24"),
	netip.MustParsePrefix("224.0.0.0/4"),
	netip.MustParsePrefix("240.0.0.0/4"),
}

// global4 reports whether a may be embedded in the Well-Known Prefix.
func global4(a [4]byte) bool {
	addr := netip.AddrFrom4(a)
	for _, p := range nonGlobal4 {
		if p.Contains(addr) {
			return false
		}
	}
	return true
}

// embeddable reports whether an IPv4 address may appear embedded in pool6:
// a single host's address and, under the Well-Known Prefix, a global one.
func (e *Engine) embeddable(a [4]byte) bool {
	return hostAddr4(a) && (!e.wkp || global4(a))
}
