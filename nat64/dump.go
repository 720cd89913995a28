package nat64

import (
	"cmp"
	"net/netip"
	"slices"
	"time"
)

// BindingInfo is a BIB entry as listed to operators.
type BindingInfo struct {
	Protocol string         `json:"protocol"`
	IPv6     netip.AddrPort `json:"ipv6"`
	IPv4     netip.AddrPort `json:"ipv4"`
	Static   bool           `json:"static"`
	Sessions int            `json:"sessions"`
}

// SessionInfo is a session as listed to operators: the IPv6 host's
// transport address and the remote as it sees it (in pool6), the pool4
// transport address and the remote as IPv4 sees them.
type SessionInfo struct {
	Protocol   string         `json:"protocol"`
	IPv6Local  netip.AddrPort `json:"ipv6_local"`
	IPv6Remote netip.AddrPort `json:"ipv6_remote"`
	IPv4Local  netip.AddrPort `json:"ipv4_local"`
	IPv4Remote netip.AddrPort `json:"ipv4_remote"`
	State      string         `json:"state,omitempty"`
	ExpiresIn  time.Duration  `json:"expires_in"`
}

// BIB lists the bindings, ordered by protocol and IPv4 address and port.
func (e *NAT64) BIB() []BindingInfo {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]BindingInfo, 0, len(e.t.bib4))
	for _, b := range e.t.bib4 {
		out = append(out, BindingInfo{
			Protocol: b.proto.String(),
			IPv6:     netip.AddrPortFrom(netip.AddrFrom16(b.addr6), b.port6),
			IPv4:     netip.AddrPortFrom(netip.AddrFrom4(b.addr4), b.port4),
			Static:   b.static, Sessions: int(b.nsess),
		})
	}
	slices.SortFunc(out, func(a, b BindingInfo) int {
		return cmp.Or(cmp.Compare(a.Protocol, b.Protocol), a.IPv4.Compare(b.IPv4))
	})
	return out
}

// Sessions lists the sessions, ordered by protocol, IPv4 local then
// remote transport address.
func (e *NAT64) Sessions() []SessionInfo {
	e.mu.Lock()
	defer e.mu.Unlock()
	now := e.now().UnixNano()
	out := make([]SessionInfo, 0, len(e.t.sessions))
	for _, ss := range e.t.sessions {
		b := ss.b
		r6, _ := e.st.m.Map4(ss.remote)
		rport := ss.rport
		if b.proto == ICMP {
			rport = b.port6
		}
		si := SessionInfo{
			Protocol:   b.proto.String(),
			IPv6Local:  netip.AddrPortFrom(netip.AddrFrom16(b.addr6), b.port6),
			IPv6Remote: netip.AddrPortFrom(netip.AddrFrom16(r6), rport),
			IPv4Local:  netip.AddrPortFrom(netip.AddrFrom4(b.addr4), b.port4),
			IPv4Remote: netip.AddrPortFrom(netip.AddrFrom4(ss.remote), ss.rport),
			ExpiresIn:  time.Duration(max(ss.expires-now, 0)),
		}
		if b.proto == TCP {
			si.State = ss.state.String()
		}
		out = append(out, si)
	}
	slices.SortFunc(out, func(a, b SessionInfo) int {
		return cmp.Or(cmp.Compare(a.Protocol, b.Protocol), a.IPv4Local.Compare(b.IPv4Local), a.IPv4Remote.Compare(b.IPv4Remote))
	})
	return out
}
