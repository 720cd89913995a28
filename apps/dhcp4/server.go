package dhcp4

import (
	"encoding/binary"
	"encoding/hex"
	"hash/fnv"
	"net"
	"net/netip"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"github.com/sixgate/sixgate/packet"
	"github.com/sixgate/sixgate/topo"
)

// verdict says what became of one DHCP packet; each has a counter.
type verdict uint8

const (
	replied       verdict = iota // an OFFER, ACK or NAK went out
	noReply                      // handled, nothing to send (RELEASE, DECLINE, another server chosen)
	malformed                    // not a well-formed BOOTREQUEST (RFC 2131 section 2)
	unknownHost                  // the MAC is not a host of the model, or not on that port
	noSubnet                     // the host has no subnet to be served on
	poolExhausted                // no free address in the pool
	relayed                      // sent through a relay agent, which the fabric does not use
	notForUs                     // a message type a server does not answer
	silent                       // RFC 2131 asks the server to stay silent (INIT-REBOOT without a record)
	notStored                    // with ha: not master, or the lease could not be written to etcd: no answer
)

var verdictNames = [...]string{"replied", "no_reply", "malformed", "unknown_host", "no_subnet", "pool_exhausted", "relayed", "not_for_server", "silent", "not_stored"}

func (v verdict) String() string { return verdictNames[v] }

// Ports of DHCP (RFC 2131 section 4.1).
const (
	serverPort = 67
	clientPort = 68
)

// server decides the answers from the model and the lease table. It is
// not safe for concurrent use; the app holds a lock around it.
type server struct {
	topo  *topo.Topology
	cfg   *topo.DHCP4
	table *table
	now   func() time.Time
	// dirty is set when the bound leases or quarantines changed: the file
	// and the neighbor registrations are behind.
	dirty bool
	// sent108 counts answers that carried option 108.
	sent108 uint64
}

// request is a decoded client message and where it came from.
type request struct {
	msg  *dhcpv4.DHCPv4
	host *topo.Host
	key  string
	// sub is the subnet the host is served on; static its address there
	// when the model gives one.
	sub    *topo.DHCP4Subnet
	static netip.Addr
}

// handle decodes one Ethernet frame from port inPort of switch dpid and
// returns the frame to send back out of that port.
func (s *server) handle(frame []byte, dpid uint64, inPort uint32) ([]byte, dhcpv4.MessageType, verdict) {
	req, v := s.decode(frame, dpid, inPort)
	if v != replied {
		var mt dhcpv4.MessageType
		if req.msg != nil {
			mt = req.msg.MessageType()
		}
		return nil, mt, v
	}
	mt := req.msg.MessageType()
	sub, static, ok := s.cfg.SubnetFor(req.host)
	if !ok {
		return nil, mt, noSubnet
	}
	req.sub, req.static = sub, static
	reply, v := s.answer(req)
	if v != replied {
		return nil, mt, v
	}
	out, err := s.frame(req, reply)
	if err != nil {
		return nil, mt, malformed
	}
	return out, mt, replied
}

// decode checks the Ethernet, IPv4 and UDP headers with the packet
// toolkit and the DHCP message with dhcpv4, and finds the host.
func (s *server) decode(frame []byte, dpid uint64, inPort uint32) (request, verdict) {
	eth := packet.Ethernet(frame)
	if !eth.IsValid() || eth.Type() != packet.EtherTypeIPv4 {
		return request{}, malformed
	}
	ip := packet.IPv4(eth.Payload())
	if !ip.IsValid() || ip.Protocol() != packet.ProtoUDP || ip.IsFragment() || !ip.HeaderChecksumOK() {
		return request{}, malformed
	}
	udp := packet.UDP(ip.Payload())
	if !udp.IsValid() || udp.DstPort() != serverPort {
		return request{}, malformed
	}
	if c := udp.Checksum(); c != 0 && !packet.ChecksumOK(ip.PseudoHeaderSum(packet.ProtoUDP, int(udp.Length())), udp[:udp.Length()]) {
		return request{}, malformed
	}
	msg, err := dhcpv4.FromBytes(udp.Payload())
	if err != nil || msg.OpCode != dhcpv4.OpcodeBootRequest || msg.HWType != 1 || len(msg.ClientHWAddr) != 6 {
		return request{}, malformed
	}
	req := request{msg: msg}
	if mt := msg.MessageType(); mt == dhcpv4.MessageTypeNone {
		return req, malformed
	}
	if !msg.GatewayIPAddr.IsUnspecified() && msg.GatewayIPAddr != nil {
		return req, relayed
	}
	h, ok := s.topo.HostByMAC(msg.ClientHWAddr)
	if !ok || h.DPID != dpid || h.Port != inPort || string(eth.Src()) != string(msg.ClientHWAddr) {
		return req, unknownHost
	}
	req.host = h
	req.key = "mac:" + msg.ClientHWAddr.String()
	if id := msg.Options.Get(dhcpv4.OptionClientIdentifier); len(id) > 0 {
		req.key = "id:" + hex.EncodeToString(id)
	}
	return req, replied
}

// answer applies RFC 2131 section 4.3 to one request.
func (s *server) answer(req request) (*dhcpv4.DHCPv4, verdict) {
	sub, static := req.sub, req.static
	now := s.now()
	if s.table.expire(now) {
		s.dirty = true
	}
	m := req.msg
	switch m.MessageType() {
	case dhcpv4.MessageTypeDiscover:
		addr, ok := s.choose(req, sub, static, now)
		if !ok {
			return nil, poolExhausted
		}
		if !static.IsValid() {
			s.hold(req, addr, now.Add(offerHold), false)
		}
		return s.reply(req, sub, dhcpv4.MessageTypeOffer, addr), replied
	case dhcpv4.MessageTypeRequest:
		return s.request(req, sub, static, now)
	case dhcpv4.MessageTypeDecline:
		if !s.ours(m, sub) {
			return nil, noReply
		}
		addr, _ := netip.AddrFromSlice(m.RequestedIPAddress().To4())
		if l, ok := s.table.byKey[req.key]; ok && l.addr == addr {
			s.table.remove(l)
		}
		if sub.InPool(addr) {
			s.table.decline(addr, now.Add(s.cfg.DeclineHold))
			s.dirty = true
		}
		return nil, noReply
	case dhcpv4.MessageTypeRelease:
		if !s.ours(m, sub) {
			return nil, noReply
		}
		addr, _ := netip.AddrFromSlice(m.ClientIPAddr.To4())
		if l, ok := s.table.byKey[req.key]; ok && l.addr == addr {
			s.table.remove(l)
			s.dirty = s.dirty || l.bound
		}
		return nil, noReply
	case dhcpv4.MessageTypeInform:
		ci, _ := netip.AddrFromSlice(m.ClientIPAddr.To4())
		if !sub.Prefix.Contains(ci) {
			return nil, malformed
		}
		r := s.reply(req, sub, dhcpv4.MessageTypeAck, netip.Addr{})
		// RFC 2131 section 3.4: no address, no lease time.
		r.Options.Del(dhcpv4.OptionIPAddressLeaseTime)
		return r, replied
	}
	return nil, notForUs
}

// request answers a REQUEST in each of its states (RFC 2131 section
// 4.3.2).
func (s *server) request(req request, sub *topo.DHCP4Subnet, static netip.Addr, now time.Time) (*dhcpv4.DHCPv4, verdict) {
	m := req.msg
	requested, _ := netip.AddrFromSlice(m.RequestedIPAddress().To4())
	ciaddr, _ := netip.AddrFromSlice(m.ClientIPAddr.To4())
	if ciaddr.IsUnspecified() {
		ciaddr = netip.Addr{}
	}
	serverID := m.ServerIdentifier()
	switch {
	case serverID != nil:
		// SELECTING: the answer to an offer.
		if !s.ours(m, sub) {
			// The client took another server's offer: free ours.
			if l, ok := s.table.byKey[req.key]; ok && !l.bound {
				s.table.remove(l)
			}
			return nil, noReply
		}
		if ciaddr.IsValid() || !requested.IsValid() {
			return nil, malformed
		}
		return s.confirm(req, sub, static, requested, now, true)
	case !ciaddr.IsValid() && requested.IsValid():
		// INIT-REBOOT: a client checking the address it remembers.
		if !sub.Prefix.Contains(requested) {
			return s.nak(req, sub), replied
		}
		return s.confirm(req, sub, static, requested, now, false)
	case ciaddr.IsValid() && !requested.IsValid():
		// RENEWING (unicast) or REBINDING (broadcast): extend.
		return s.confirm(req, sub, static, ciaddr, now, true)
	}
	return nil, malformed
}

// confirm acknowledges addr for the client if it is the client's, and
// refuses it otherwise. grant says whether a free pool address the
// client has no record of may be given (RFC 2131 asks for silence in
// INIT-REBOOT without a record).
func (s *server) confirm(req request, sub *topo.DHCP4Subnet, static, addr netip.Addr, now time.Time, grant bool) (*dhcpv4.DHCPv4, verdict) {
	if static.IsValid() {
		if addr != static {
			return s.nak(req, sub), replied
		}
		return s.reply(req, sub, dhcpv4.MessageTypeAck, addr), replied
	}
	l, has := s.table.byKey[req.key]
	switch {
	case has && l.addr == addr:
	case has || !sub.InPool(addr) || s.table.taken(addr, req.key, now) || s.owned(addr):
		return s.nak(req, sub), replied
	case !grant:
		return nil, silent
	}
	s.hold(req, addr, now.Add(sub.Lease), true)
	return s.reply(req, sub, dhcpv4.MessageTypeAck, addr), replied
}

// ours reports whether the message names this subnet's server.
func (s *server) ours(m *dhcpv4.DHCPv4, sub *topo.DHCP4Subnet) bool {
	id, ok := netip.AddrFromSlice(m.ServerIdentifier().To4())
	return ok && id == sub.Router
}

// owned reports whether the model gives addr to someone (a host, a
// gateway, a VIP): such an address is never leased.
func (s *server) owned(addr netip.Addr) bool {
	_, ok := s.topo.MACFor(addr)
	return ok
}

// choose picks the address to offer: the model's, the client's current
// lease, the address it asks for, or the first free one from a point of
// the pool that depends on the client, so that clients spread.
func (s *server) choose(req request, sub *topo.DHCP4Subnet, static netip.Addr, now time.Time) (netip.Addr, bool) {
	if static.IsValid() {
		return static, true
	}
	if l, ok := s.table.byKey[req.key]; ok && sub.InPool(l.addr) {
		return l.addr, true
	}
	free := func(a netip.Addr) bool { return sub.InPool(a) && !s.table.taken(a, req.key, now) && !s.owned(a) }
	if a, ok := netip.AddrFromSlice(req.msg.RequestedIPAddress().To4()); ok && free(a) {
		return a, true
	}
	n := sub.PoolSize()
	h := fnv.New32a()
	h.Write([]byte(req.key))
	start := int(h.Sum32() % uint32(n))
	for i := range n {
		if a := sub.PoolAddr((start + i) % n); free(a) {
			return a, true
		}
	}
	return netip.Addr{}, false
}

// hold records addr as the client's until expiry.
func (s *server) hold(req request, addr netip.Addr, expiry time.Time, bound bool) {
	if old, ok := s.table.byKey[req.key]; ok && old.bound && !bound && old.addr == addr {
		// Offering again what the client holds keeps its lease.
		return
	}
	s.table.put(&lease{key: req.key, mac: append(net.HardwareAddr(nil), req.msg.ClientHWAddr...), addr: addr, expiry: expiry, bound: bound})
	if bound {
		s.dirty = true
	}
}

// reply builds an OFFER or ACK with the subnet's configuration.
func (s *server) reply(req request, sub *topo.DHCP4Subnet, mt dhcpv4.MessageType, yiaddr netip.Addr) *dhcpv4.DHCPv4 {
	mods := []dhcpv4.Modifier{
		dhcpv4.WithMessageType(mt),
		dhcpv4.WithOption(dhcpv4.OptServerIdentifier(sub.Router.AsSlice())),
		dhcpv4.WithNetmask(net.CIDRMask(sub.Prefix.Bits(), 32)),
		dhcpv4.WithOption(dhcpv4.OptRouter(sub.Router.AsSlice())),
		dhcpv4.WithLeaseTime(uint32(sub.Lease / time.Second)),
	}
	if yiaddr.IsValid() {
		mods = append(mods, dhcpv4.WithYourIP(yiaddr.AsSlice()))
	}
	if len(sub.DNS) > 0 {
		ips := make([]net.IP, len(sub.DNS))
		for i, a := range sub.DNS {
			ips[i] = a.AsSlice()
		}
		mods = append(mods, dhcpv4.WithOption(dhcpv4.OptDNS(ips...)))
	}
	if sub.Domain != "" {
		mods = append(mods, dhcpv4.WithOption(dhcpv4.OptDomainName(sub.Domain)))
	}
	if s.send108(req, sub) {
		mods = append(mods, dhcpv4.WithIPv6OnlyPreferred(uint32(sub.IPv6OnlyPreferred/time.Second)))
		s.sent108++
	}
	r, err := dhcpv4.NewReplyFromRequest(req.msg, mods...)
	if err != nil {
		// NewReplyFromRequest fails only when it cannot draw a
		// transaction id, which a reply copies from the request.
		panic(err)
	}
	return r
}

// send108 says whether option 108 goes to this client (RFC 8925 section
// 3.3): only when it asked for it in option 55, the subnet prefers
// IPv6-only hosts, and a NAT64 prefix gives them IPv4 reachability.
func (s *server) send108(req request, sub *topo.DHCP4Subnet) bool {
	return sub.IPv6OnlyPreferred > 0 && s.cfg.PREF64.IsValid() && req.msg.IsOptionRequested(dhcpv4.OptionIPv6OnlyPreferred)
}

// nak refuses a REQUEST (RFC 2131 section 4.3.2): no address, no
// configuration, only the server identifier.
func (s *server) nak(req request, sub *topo.DHCP4Subnet) *dhcpv4.DHCPv4 {
	r, err := dhcpv4.NewReplyFromRequest(req.msg,
		dhcpv4.WithMessageType(dhcpv4.MessageTypeNak),
		dhcpv4.WithOption(dhcpv4.OptServerIdentifier(sub.Router.AsSlice())),
	)
	if err != nil {
		panic(err)
	}
	r.ClientIPAddr = net.IPv4zero
	return r
}

// frame puts a reply in UDP, IPv4 and Ethernet from the subnet's router,
// addressed as RFC 2131 section 4.1 says: a NAK and a reply to a client
// that asked for broadcast go to everyone on the link, a reply to a
// client with an address to that address, the rest to the offered
// address at the client's MAC.
func (s *server) frame(rq request, r *dhcpv4.DHCPv4) ([]byte, error) {
	req, sub := rq.msg, rq.sub
	payload := r.ToBytes()
	dstMAC := net.HardwareAddr(req.ClientHWAddr)
	dst := netip.AddrFrom4([4]byte{255, 255, 255, 255})
	ci, _ := netip.AddrFromSlice(req.ClientIPAddr.To4())
	yi, _ := netip.AddrFromSlice(r.YourIPAddr.To4())
	switch {
	case r.MessageType() == dhcpv4.MessageTypeNak || req.IsBroadcast():
		dstMAC = net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	case ci.IsValid() && !ci.IsUnspecified():
		dst = ci
	case yi.IsValid() && !yi.IsUnspecified():
		dst = yi
	default:
		dstMAC = net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	}
	const ipOff = packet.EthernetHeaderLen
	const udpOff = ipOff + packet.IPv4MinLen
	const dataOff = udpOff + packet.UDPLen
	out := make([]byte, dataOff+len(payload))
	packet.Ethernet(out).Encode(dstMAC, sub.RouterMAC, packet.EtherTypeIPv4)
	packet.IPv4(out[ipOff:]).Encode(&packet.IPv4Fields{
		TotalLen: uint16(len(out) - ipOff), TTL: 64, Protocol: packet.ProtoUDP,
		Src: sub.Router.As4(), Dst: dst.As4(),
	})
	udp := out[udpOff:]
	binary.BigEndian.PutUint16(udp[packet.UDPSrcPort:], serverPort)
	binary.BigEndian.PutUint16(udp[packet.UDPDstPort:], clientPort)
	binary.BigEndian.PutUint16(udp[packet.UDPLength:], uint16(len(udp)))
	copy(udp[packet.UDPLen:], payload)
	c := packet.Checksum(packet.IPv4(out[ipOff:]).PseudoHeaderSum(packet.ProtoUDP, len(udp)), udp)
	if c == 0 {
		c = 0xffff // 0 means "no checksum" in UDP over IPv4
	}
	binary.BigEndian.PutUint16(udp[packet.UDPChecksum:], c)
	return out, nil
}
