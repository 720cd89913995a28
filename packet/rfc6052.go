package packet

import (
	"fmt"
	"net/netip"
)

// IPv4-embedded IPv6 addresses (RFC 6052 section 2.2): the 32 bits of the
// IPv4 address follow the prefix, skipping bits 64 to 71 (the "u" octet,
// always zero); what is left after them is the suffix, zero too.
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

// CheckRFC6052Prefix reports whether p can hold IPv4 addresses: an IPv6
// prefix of length 32, 40, 48, 56, 64 or 96, without bits set beyond its
// length, and with bits 64 to 71 zero.
func CheckRFC6052Prefix(p netip.Prefix) error {
	if !p.IsValid() || !p.Addr().Is6() || p.Addr().Is4In6() {
		return fmt.Errorf("%v is not an IPv6 prefix", p)
	}
	switch p.Bits() {
	case 32, 40, 48, 56, 64, 96:
	default:
		return fmt.Errorf("%v: RFC 6052 allows only /32, /40, /48, /56, /64 or /96", p)
	}
	if p.Masked() != p {
		return fmt.Errorf("%v has bits set beyond its length", p)
	}
	if a := p.Addr().As16(); a[8] != 0 {
		return fmt.Errorf("%v: bits 64-71 (the u octet) must be zero (RFC 6052 section 2.2)", p)
	}
	return nil
}

// Embed4 returns the address that stands for v4 under the prefix of bits
// bits (one CheckRFC6052Prefix accepts) whose first bytes are prefix.
func Embed4(prefix [16]byte, bits int, v4 [4]byte) [16]byte {
	out := prefix
	pos := bits / 8
	clear(out[pos:])
	for _, b := range v4 {
		if pos == 8 {
			pos++
		}
		out[pos] = b
		pos++
	}
	return out
}

// Extract4 is the inverse of Embed4: the IPv4 address embedded in a under
// a prefix of bits bits. Neither the u octet nor the suffix is looked at.
func Extract4(a *[16]byte, bits int) [4]byte {
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

// IsWellKnownPrefix reports whether p is 64:ff9b::/96 (RFC 6052 section
// 2.1), under which only global IPv4 addresses may appear (Global4).
func IsWellKnownPrefix(p netip.Prefix) bool {
	return p.Bits() == 96 && p.Addr() == netip.AddrFrom16([16]byte{0, 0x64, 0xff, 0x9b})
}

// Global4 reports whether a may appear under the Well-Known Prefix: it is
// in none of the ranges RFC 6052 section 3.1 keeps out of it (RFC 1918,
// the special-purpose blocks of RFC 5735 section 3, and the shared address
// space of RFC 6598), none of which is reachable as itself across the
// Internet.
func Global4(a [4]byte) bool {
	switch {
	case a[0] == 0, a[0] == 10, a[0] == 127, a[0] >= 224: // this network, private, loopback, multicast and reserved
		return false
	case a[0] == 100 && a[1]&0xc0 == 64: // 100.64.0.0/10
		return false
	case a[0] == 169 && a[1] == 254, a[0] == 172 && a[1]&0xf0 == 16, a[0] == 192 && a[1] == 168:
		return false
	case a[0] == 192 && a[1] == 0 && (a[2] == 0 || a[2] == 2), a[0] == 192 && a[1] == 88 && a[2] == 99:
		return false
	case a[0] == 198 && a[1]&0xfe == 18, a[0] == 198 && a[1] == 51 && a[2] == 100, a[0] == 203 && a[1] == 0 && a[2] == 113:
		return false
	}
	return true
}
