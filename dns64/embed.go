package dns64

import (
	"fmt"
	"net/netip"
	"strings"
)

// RFC 6052 section 2.2: the IPv4 address fills the bits after the prefix,
// skipping bits 64 to 71 (the "u" octet, always zero); whatever is left
// after the IPv4 address is the suffix, also zero.
//
//	+--+---+---+---+---+---+---+---+---+---+---+---+---+---+---+---+
//	|PL| 0-------------32--40--48--56--64--72--80--88--96--104---------|
//	+--+---+---+---+---+---+---+---+---+---+---+---+---+---+---+---+
//	|32|     prefix    |v4(32)         | u | suffix                    |
//	|40|     prefix        |v4(24)     | u |(8)| suffix                |
//	|48|     prefix            |v4(16) | u | (16)  | suffix            |
//	|56|     prefix                |(8)| u |  v4(24)   | suffix        |
//	|64|     prefix                    | u |   v4(32)      | suffix    |
//	|96|     prefix                                    |    v4(32)     |
//	+--+---+---+---+---+---+---+---+---+---+---+---+---+---+---+---+

// CheckPrefix reports whether p can hold IPv4 addresses by RFC 6052: an
// IPv6 prefix of length 32, 40, 48, 56, 64 or 96, with no host bits set
// and bits 64 to 71 zero.
func CheckPrefix(p netip.Prefix) error {
	if !p.IsValid() || !p.Addr().Is6() || p.Addr().Is4In6() {
		return fmt.Errorf("%s is not an IPv6 prefix", p)
	}
	switch p.Bits() {
	case 32, 40, 48, 56, 64, 96:
	default:
		return fmt.Errorf("%s: an RFC 6052 prefix is /32, /40, /48, /56, /64 or /96", p)
	}
	if p.Masked() != p {
		return fmt.Errorf("%s has bits set beyond its length", p)
	}
	if p.Addr().As16()[8] != 0 {
		return fmt.Errorf("%s: bits 64 to 71 must be zero (RFC 6052 section 2.2)", p)
	}
	return nil
}

// Embed returns the IPv6 address that represents v4 under prefix p, which
// CheckPrefix accepts.
func Embed(p netip.Prefix, v4 netip.Addr) netip.Addr {
	a := p.Addr().As16()
	b := v4.As4()
	at := p.Bits() / 8
	for _, x := range b {
		if at == 8 {
			at++ // the u octet
		}
		a[at] = x
		at++
	}
	return netip.AddrFrom16(a)
}

// Extract returns the IPv4 address embedded in a, which must lie inside
// prefix p, which CheckPrefix accepts.
func Extract(p netip.Prefix, a netip.Addr) (netip.Addr, bool) {
	if !a.Is6() || !p.Contains(a) {
		return netip.Addr{}, false
	}
	s := a.As16()
	var v4 [4]byte
	at := p.Bits() / 8
	for i := range v4 {
		if at == 8 {
			at++
		}
		v4[i] = s[at]
		at++
	}
	return netip.AddrFrom4(v4), true
}

// wellKnownPrefix is 64:ff9b::/96 (RFC 6052 section 2.1).
var wellKnownPrefix = netip.MustParsePrefix("64:ff9b::/96")

// nonGlobal4 are the IPv4 blocks that RFC 6052 section 3.1 forbids under
// the Well-Known Prefix: RFC 1918 and the special-use blocks of RFC 5735
// section 3, with the shared address space of RFC 6598.
var nonGlobal4 = [...]netip.Prefix{
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

// Global4 reports whether v4 may be represented under the Well-Known
// Prefix (RFC 6052 section 3.1).
func Global4(v4 netip.Addr) bool {
	for _, p := range nonGlobal4 {
		if p.Contains(v4) {
			return false
		}
	}
	return true
}

// synthesizable reports whether v4 may be embedded in p.
func synthesizable(p netip.Prefix, v4 netip.Addr) bool {
	return p != wellKnownPrefix || Global4(v4)
}

const hexDigits = "0123456789abcdef"

// parseIP6Arpa reads a full reverse name, 32 nibble labels under
// ip6.arpa. (RFC 3596 section 2.5), in any case; ok is false for anything
// else, shorter names included.
func parseIP6Arpa(name string) (netip.Addr, bool) {
	const suffix = "ip6.arpa."
	if len(name) != 64+len(suffix) || !strings.EqualFold(name[64:], suffix) {
		return netip.Addr{}, false
	}
	var a [16]byte
	for i := range 32 {
		if name[2*i+1] != '.' {
			return netip.Addr{}, false
		}
		c := name[2*i]
		if c >= 'A' && c <= 'F' {
			c += 'a' - 'A'
		}
		n := strings.IndexByte(hexDigits, c)
		if n < 0 {
			return netip.Addr{}, false
		}
		// The first label is the lowest nibble.
		at := 31 - i
		if at%2 == 0 {
			a[at/2] |= byte(n) << 4
		} else {
			a[at/2] |= byte(n)
		}
	}
	return netip.AddrFrom16(a), true
}

// inAddrArpa is the reverse name of an IPv4 address (RFC 1035 section 3.5).
func inAddrArpa(v4 netip.Addr) string {
	b := v4.As4()
	return fmt.Sprintf("%d.%d.%d.%d.in-addr.arpa.", b[3], b[2], b[1], b[0])
}
