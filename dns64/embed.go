package dns64

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/sixgate/sixgate/packet"
)

// CheckPrefix reports whether p can hold IPv4 addresses by RFC 6052
// (packet.CheckRFC6052Prefix).
func CheckPrefix(p netip.Prefix) error { return packet.CheckRFC6052Prefix(p) }

// Embed returns the IPv6 address that represents v4 under prefix p, which
// CheckPrefix accepts.
func Embed(p netip.Prefix, v4 netip.Addr) netip.Addr {
	return netip.AddrFrom16(packet.Embed4(p.Addr().As16(), p.Bits(), v4.As4()))
}

// Extract returns the IPv4 address embedded in a, which must lie inside
// prefix p, which CheckPrefix accepts.
func Extract(p netip.Prefix, a netip.Addr) (netip.Addr, bool) {
	if !a.Is6() || !p.Contains(a) {
		return netip.Addr{}, false
	}
	s := a.As16()
	return netip.AddrFrom4(packet.Extract4(&s, p.Bits())), true
}

// synthesizable reports whether v4 may be embedded in p: anything, except
// a non-global address under the Well-Known Prefix (RFC 6052 section 3.1).
func synthesizable(p netip.Prefix, v4 netip.Addr) bool {
	return !packet.IsWellKnownPrefix(p) || packet.Global4(v4.As4())
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
