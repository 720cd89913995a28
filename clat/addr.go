package clat

import (
	"crypto/sha256"
	"encoding/binary"
	"net"
	"net/netip"
)

// DeriveAddress returns the CLAT's dedicated IPv6 address in the /64
// that contains prefix. Its interface identifier is the first 64 bits of
// SHA-256("sixgate-clat", 0, name, 0, mac, counter): the same interface
// gets the same address after every restart and on every host with the
// same MAC, two interfaces get different ones, and the address stays
// apart from the host's own SLAAC addresses (EUI-64, RFC 7217, privacy
// addresses), which are made differently. Identifiers RFC 5453 reserves
// (all zero, the subnet-router anycast; fdff:ffff:ffff:ff80 and up, the
// reserved subnet anycast range) are skipped by counting on.
func DeriveAddress(prefix netip.Prefix, mac net.HardwareAddr, name string) netip.Addr {
	p, _ := prefix.Addr().Unmap().Prefix(64)
	a := p.Addr().As16()
	for counter := byte(0); ; counter++ {
		h := sha256.New()
		h.Write([]byte("sixgate-clat\x00"))
		h.Write([]byte(name))
		h.Write([]byte{0})
		h.Write(mac)
		h.Write([]byte{counter})
		iid := binary.BigEndian.Uint64(h.Sum(nil)[:8])
		if reservedIID(iid) {
			continue
		}
		binary.BigEndian.PutUint64(a[8:], iid)
		return netip.AddrFrom16(a)
	}
}

// reservedIID says whether RFC 5453 reserves an interface identifier.
func reservedIID(iid uint64) bool {
	return iid == 0 || iid >= 0xfdff_ffff_ffff_ff80
}

// UplinkPrefix picks, among the uplink's IPv6 addresses, the one whose
// /64 the dedicated address comes from: the first global unicast address
// outside fc00::/7, else the first unique local address. It reports false
// when there is none.
func UplinkPrefix(addrs []netip.Prefix) (netip.Prefix, bool) {
	ula := netip.Prefix{}
	for _, p := range addrs {
		a := p.Addr()
		if !a.Is6() || a.Is4In6() || !a.IsGlobalUnicast() {
			continue
		}
		if a.IsPrivate() {
			if !ula.IsValid() {
				ula = p
			}
			continue
		}
		return p, true
	}
	return ula, ula.IsValid()
}
