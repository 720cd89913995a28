package siit

import (
	"net/netip"

	"github.com/sixgate/sixgate/packet"
	xlat "github.com/sixgate/sixgate/siit"
)

// dispatch is the engine the data path runs: the translator of the siit
// section and, when CLAT hosts are declared, a second translator for
// them (their IPv4 addresses mapped one to one onto their IPv6 ones,
// every other IPv4 address onto clat_pref64). A packet goes to the CLAT
// translator when it comes from a CLAT host's IPv4 address or goes to a
// CLAT host's IPv6 address, and to the main one otherwise. Either may be
// nil: a section with CLAT hosts alone has no main translator.
type dispatch struct {
	main, clat   *xlat.Translator
	clat4, clat6 map[netip.Addr]struct{}
}

func (d *dispatch) Handle(pkt []byte, out *packet.Batch) packet.Verdict {
	if d.clat != nil && d.forCLAT(pkt) {
		return d.clat.Handle(pkt, out)
	}
	if d.main != nil {
		return d.main.Handle(pkt, out)
	}
	return packet.Pass
}

// forCLAT reports whether pkt is a CLAT host's traffic.
func (d *dispatch) forCLAT(pkt []byte) bool {
	switch packet.EtherTypeOf(pkt) {
	case packet.EtherTypeIPv4:
		ip := packet.IPv4(pkt)
		if !ip.IsValid() {
			return false
		}
		_, ok := d.clat4[ip.SrcAddr()]
		return ok
	case packet.EtherTypeIPv6:
		ip := packet.IPv6(pkt)
		if !ip.IsValid() {
			return false
		}
		_, ok := d.clat6[ip.DstAddr()]
		return ok
	}
	return false
}

func (d *dispatch) Expire(out *packet.Batch) {
	if d.main != nil {
		d.main.Expire(out)
	}
	if d.clat != nil {
		d.clat.Expire(out)
	}
}
