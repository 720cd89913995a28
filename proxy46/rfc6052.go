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
