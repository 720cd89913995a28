package proxy46

import (
	"fmt"
	"net/netip"

	"github.com/sixgate/sixgate/packet"
)

// validPool6 reports whether p can embed IPv4 addresses per RFC 6052 §2.2.
func validPool6(p netip.Prefix) error {
	if err := packet.CheckRFC6052Prefix(p); err != nil {
		return fmt.Errorf("proxy46: pool6 %w", err)
	}
	return nil
}

// inPool6 reports whether a starts with the pool prefix (whole bytes, as
// every RFC 6052 length is a multiple of eight).
func inPool6(a, prefix *[16]byte, bits int) bool {
	return string(a[:bits/8]) == string(prefix[:bits/8])
}

// embeddable reports whether an IPv4 address may appear embedded in pool6:
// a single host's address and, under the Well-Known Prefix, a global one.
func (e *Engine) embeddable(a [4]byte) bool {
	return hostAddr4(a) && (!e.wkp || packet.Global4(a))
}
