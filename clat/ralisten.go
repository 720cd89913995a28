package clat

import (
	"fmt"
	"net"
	"net/netip"

	"github.com/mdlayher/ndp"
	"github.com/sixgate/sixgate/packet"
	"golang.org/x/net/ipv6"
)

// RAListener reads the router advertisements arriving on one interface
// itself, from an ICMPv6 socket. It serves an uplink whose kernel does
// not process advertisements (accept_ra=0, as when NetworkManager or
// systemd-networkd handle them in user space), for which the kernel
// passes no options over netlink.
type RAListener struct {
	c   *ndp.Conn
	ifi *net.Interface
}

// ListenRAs opens an RAListener on ifi.
func ListenRAs(ifi *net.Interface) (*RAListener, error) {
	// Bound to no address: the link-local one comes and goes with the
	// interface. The interface is checked on every message instead.
	c, _, err := ndp.Listen(ifi, ndp.Unspecified)
	if err != nil {
		return nil, fmt.Errorf("ICMPv6 socket on %s: %w", ifi.Name, err)
	}
	var f ipv6.ICMPFilter
	f.SetAll(true)
	f.Accept(ipv6.ICMPTypeRouterAdvertisement)
	if err := c.SetICMPFilter(&f); err != nil {
		c.Close()
		return nil, fmt.Errorf("ICMPv6 filter on %s: %w", ifi.Name, err)
	}
	if err := c.SetControlMessage(ipv6.FlagHopLimit|ipv6.FlagInterface, true); err != nil {
		c.Close()
		return nil, fmt.Errorf("ICMPv6 control messages on %s: %w", ifi.Name, err)
	}
	return &RAListener{c: c, ifi: ifi}, nil
}

// Read waits for the next valid router advertisement on the interface
// and returns its sender and PREF64 options (none, for one without).
// Advertisements RFC 4861 section 6.1.2 has a host discard (hop limit
// other than 255, a source that is not link-local) and those of other
// interfaces are skipped.
func (l *RAListener) Read() (router netip.Addr, prefs []PREF64, err error) {
	for {
		m, cm, src, err := l.c.ReadFrom()
		if err != nil {
			return netip.Addr{}, nil, err
		}
		ra, ok := m.(*ndp.RouterAdvertisement)
		if !ok || cm == nil || cm.HopLimit != ndp.HopLimit || cm.IfIndex != l.ifi.Index || !src.IsLinkLocalUnicast() {
			continue
		}
		return src.WithZone(""), raPREF64s(ra), nil
	}
}

// raPREF64s returns the valid PREF64 options of an advertisement.
func raPREF64s(ra *ndp.RouterAdvertisement) []PREF64 {
	var prefs []PREF64
	for _, o := range ra.Options {
		p, ok := o.(*ndp.PREF64)
		if !ok || packet.CheckRFC6052Prefix(p.Prefix.Masked()) != nil {
			continue
		}
		prefs = append(prefs, PREF64{Prefix: p.Prefix.Masked(), Lifetime: p.Lifetime})
	}
	return prefs
}

// Close closes the socket, interrupting a blocked Read.
func (l *RAListener) Close() error { return l.c.Close() }
