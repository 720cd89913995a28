package splice46

import (
	"net/netip"
	"slices"

	"github.com/sixgate/sixgate/controller/ofp"
	"github.com/sixgate/sixgate/datapath"
	"github.com/sixgate/sixgate/packet"
	"github.com/sixgate/sixgate/topo"
)

// Cookie low bits of the flows that are not per service.
const (
	cookieVIP      = 0x1000
	cookiePool6    = 0x2000
	cookiePool6PTB = 0x2001
	cookieGuard    = 0x3000
	cookieFTP      = 0x4000 // TCP to the VIPs of FTP services
	engineGroupLow = 1      // the select group over several engine ports
)

// serviceCookie is the cookie of the steering flow of the service at ap:
// its VIP and port, above the other cookies' bits. It does not depend on the
// service's place in the file, so that adding or removing a service
// leaves the other services' flows as they are on the switches.
func serviceCookie(ap netip.AddrPort) uint64 {
	v := ap.Addr().As4()
	return 1<<48 | uint64(v[0])<<40 | uint64(v[1])<<32 | uint64(v[2])<<24 | uint64(v[3])<<16 | uint64(ap.Port())
}

// serviceSteer steers TCP to one VIP and port.
func serviceSteer(ap netip.AddrPort) datapath.Steer {
	return datapath.Steer{
		Priority: prioService, Cookie: serviceCookie(ap),
		Match: ofp.NewMatch(ofp.EthType(packet.EtherTypeIPv4), ofp.IPProto(packet.ProtoTCP),
			ofp.IPv4Dst(netip.PrefixFrom(ap.Addr(), 32)), ofp.TCPDst(ap.Port())),
	}
}

// vips are the VIPs of s and those of orphans, each once.
func vips(s *topo.Splice46, orphans []netip.AddrPort) []netip.Addr {
	out := s.VIPs()
	for _, o := range orphans {
		if !slices.Contains(out, o.Addr()) {
			out = append(out, o.Addr())
		}
	}
	return out
}

// steering is what the engine must see: TCP to each service, and TCP and
// Packet Too Big to pool6, on the data path of the configured mode; the
// rest of the IPv4 traffic to a VIP (pings, closed ports), which the
// engine answers as a host would, always by way of the controller.
// orphans are the VIPs and ports of removed services whose connections
// still drain: their traffic is steered as before until the drain ends.
func steering(s *topo.Splice46, orphans []netip.AddrPort) []datapath.Steer {
	out := make([]datapath.Steer, 0, len(s.Services)+len(orphans)+2)
	for _, svc := range s.Services {
		out = append(out, serviceSteer(netip.AddrPortFrom(svc.VIP, svc.Port)))
	}
	for _, o := range orphans {
		out = append(out, serviceSteer(o))
	}
	out = append(out, ftpSteering(s)...)
	for _, vip := range vips(s, orphans) {
		out = append(out, datapath.Steer{
			Priority: prioVIP, Cookie: cookieVIP, Controller: true,
			Match: ofp.NewMatch(ofp.EthType(packet.EtherTypeIPv4), ofp.IPv4Dst(netip.PrefixFrom(vip, 32))),
		})
	}
	// Backends answer to pool6 addresses. Only TCP and Packet Too Big:
	// neighbor discovery for pool6 addresses belongs to the neighbor app.
	return append(out,
		datapath.Steer{Priority: prioService, Cookie: cookiePool6,
			Match: ofp.NewMatch(ofp.EthType(packet.EtherTypeIPv6), ofp.IPProto(packet.ProtoTCP), ofp.IPv6Dst(s.Pool6))},
		datapath.Steer{Priority: prioService, Cookie: cookiePool6PTB,
			Match: ofp.NewMatch(ofp.EthType(packet.EtherTypeIPv6), ofp.IPProto(packet.ProtoICMPv6), ofp.IPv6Dst(s.Pool6),
				ofp.ICMPv6Type(packet.ICMPv6PacketTooBig))},
	)
}

// guarded is what must never come back in from an engine port: anything
// to a VIP or to pool6 (the engine sends only to clients and backends).
func guarded(s *topo.Splice46, orphans []netip.AddrPort) []ofp.Match {
	var out []ofp.Match
	for _, vip := range vips(s, orphans) {
		out = append(out, ofp.NewMatch(ofp.EthType(packet.EtherTypeIPv4), ofp.IPv4Dst(netip.PrefixFrom(vip, 32))))
	}
	return append(out, ofp.NewMatch(ofp.EthType(packet.EtherTypeIPv6), ofp.IPv6Dst(s.Pool6)))
}

// ftpSteering steers all TCP to the VIPs of FTP services to the engine,
// in either mode: the data connections come to ports other than the
// services' (the passive ports lent, and whatever port an active-mode
// server connects from, 20 in general, which the client answers to). On
// such a VIP the engine then also answers closed TCP ports from the data
// path rather than from the controller; the rest to the VIP (pings, UDP)
// stays on the controller path.
func ftpSteering(s *topo.Splice46) []datapath.Steer {
	var out []datapath.Steer
	seen := map[netip.Addr]bool{}
	for _, svc := range s.Services {
		if svc.ALG != topo.ALGFTP || seen[svc.VIP] {
			continue
		}
		seen[svc.VIP] = true
		out = append(out, datapath.Steer{Priority: prioFTP, Cookie: cookieFTP,
			Match: ofp.NewMatch(ofp.EthType(packet.EtherTypeIPv4), ofp.IPProto(packet.ProtoTCP), ofp.IPv4Dst(netip.PrefixFrom(svc.VIP, 32)))})
	}
	return out
}
