package topo

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// NAT64 is the stateful NAT64 (RFC 6146): IPv6-only hosts reach IPv4
// through pool4, IPv4 addresses appearing in IPv6 under Pool6.
type NAT64 struct {
	Pool6                     netip.Prefix
	Pool4                     []NAT64Pool4
	StaticBIB                 []NAT64Static
	AddressDependentFiltering bool
	ZeroizeTrafficClass       bool
	LowestIPv6MTU             int
	Timeouts                  NAT64Timeouts
	Limits                    NAT64Limits
	// IPv4 and IPv6 are the NAT64's own addresses (the sources of the
	// ICMP errors it sends), MTUs, and the IPv4 gateway toward the
	// Internet.
	IPv4, IPv6 SIITSide
	Line       int

	// Where the NAT64 sits in the fabric: the MAC it answers ARP and NDP
	// with, its data path and engine ports.
	MAC   net.HardwareAddr
	Mode  DataPath
	Ports []*EnginePort
}

// NAT64Pool4 is one pool4 entry: an address, its ports, its protocols
// ("tcp", "udp", "icmp").
type NAT64Pool4 struct {
	Address     netip.Addr
	First, Last uint16
	Protocols   []string
	Line        int
}

// NAT64Static is a static BIB entry.
type NAT64Static struct {
	Protocol   string
	IPv4, IPv6 netip.AddrPort
	Line       int
}

// NAT64Timeouts are the session lifetimes; zero takes the RFC default.
type NAT64Timeouts struct {
	TCPEstablished, TCPTransitory, UDP, ICMP, SYNHold, Fragment time.Duration
}

// NAT64Limits bound the tables; zero takes the engine's default.
type NAT64Limits struct {
	Sessions, Bindings, BindingsPerHost, SessionsPerHost, HeldSYNs, FragmentBytes int
}

// Defaults and RFC 6146 minimums of the nat64 section.
var (
	DefaultNAT64PortFirst uint16 = 61001
	DefaultNAT64PortLast  uint16 = 65535
	nat64Minimums                = map[string]time.Duration{
		"tcp_established": 2*time.Hour + 4*time.Minute, "tcp_transitory": 4 * time.Minute,
		"udp": 2 * time.Minute, "icmp": 60 * time.Second, "syn_hold": 6 * time.Second, "fragment": 2 * time.Second,
	}
)

type fileNAT64 struct {
	Pool6                     string             `yaml:"pool6"`
	Pool4                     []fileNAT64Pool4   `yaml:"pool4"`
	StaticBIB                 []fileNAT64Static  `yaml:"static_bib"`
	AddressDependentFiltering bool               `yaml:"address_dependent_filtering"`
	ZeroizeTrafficClass       bool               `yaml:"zeroize_traffic_class"`
	LowestIPv6MTU             string             `yaml:"lowest_ipv6_mtu"`
	Timeouts                  *fileNAT64Timeouts `yaml:"timeouts"`
	Limits                    *fileNAT64Limits   `yaml:"limits"`
	IPv4                      *fileSIITSide      `yaml:"ipv4"`
	IPv6                      *fileSIITSide      `yaml:"ipv6"`
	MAC                       string             `yaml:"mac"`
	Mode                      string             `yaml:"mode"`
	Ports                     []fileEnginePort   `yaml:"ports"`
}

type fileNAT64Timeouts struct {
	TCPEstablished string `yaml:"tcp_established"`
	TCPTransitory  string `yaml:"tcp_transitory"`
	UDP            string `yaml:"udp"`
	ICMP           string `yaml:"icmp"`
	SYNHold        string `yaml:"syn_hold"`
	Fragment       string `yaml:"fragment"`
}

type fileNAT64Limits struct {
	Sessions        string `yaml:"sessions"`
	Bindings        string `yaml:"bindings"`
	BindingsPerHost string `yaml:"bindings_per_host"`
	SessionsPerHost string `yaml:"sessions_per_host"`
	HeldSYNs        string `yaml:"held_syns"`
	FragmentBytes   string `yaml:"fragment_bytes"`
}

type fileNAT64Pool4 struct {
	Address   string   `yaml:"address"`
	Ports     string   `yaml:"ports"`
	Protocols []string `yaml:"protocols"`
}

type fileNAT64Static struct {
	Protocol string `yaml:"protocol"`
	IPv4     string `yaml:"ipv4"`
	IPv6     string `yaml:"ipv6"`
}

func validNAT64Protocol(p string) bool { return p == "tcp" || p == "udp" || p == "icmp" }

func (b *builder) buildNAT64(fs *fileNAT64) {
	if fs == nil {
		return
	}
	const entry = "nat64"
	n := &NAT64{LowestIPv6MTU: DefaultSIITLowestIPv6MTU, AddressDependentFiltering: fs.AddressDependentFiltering,
		ZeroizeTrafficClass: fs.ZeroizeTrafficClass, Line: b.p.lines.line(entry)}
	b.t.NAT64 = n
	if fs.Pool6 == "" {
		b.p.add(entry+".pool6", "missing: the prefix IPv4 addresses appear under (64:ff9b::/96)")
	} else if p, err := b.rfc6052Prefix(fs.Pool6); err != nil {
		b.p.add(entry+".pool6", "%v", err)
	} else {
		n.Pool6 = p
	}
	if len(fs.Pool4) == 0 {
		b.p.add(entry+".pool4", "missing: at least one IPv4 address to share")
	}
	for i, fp := range fs.Pool4 {
		path := fmt.Sprintf("%s.pool4[%d]", entry, i)
		e := NAT64Pool4{First: DefaultNAT64PortFirst, Last: DefaultNAT64PortLast, Protocols: fp.Protocols, Line: b.p.lines.line(path)}
		a, err := netip.ParseAddr(fp.Address)
		if err != nil || a.Zone() != "" {
			b.p.add(path+".address", "malformed address %q", fp.Address)
			continue
		}
		if err := checkUnicast(a, true); err != nil {
			b.p.add(path+".address", "%v", err)
			continue
		}
		e.Address = a
		if fp.Ports != "" {
			lo, hi, err := parsePortRange(fp.Ports)
			if err != nil {
				b.p.add(path+".ports", "%v", err)
				continue
			}
			e.First, e.Last = lo, hi
		}
		if len(e.Protocols) == 0 {
			e.Protocols = []string{"tcp", "udp", "icmp"}
		}
		ok := true
		for j, p := range e.Protocols {
			if !validNAT64Protocol(p) {
				b.p.add(fmt.Sprintf("%s.protocols[%d]", path, j), "unknown protocol %q (want tcp, udp or icmp)", p)
				ok = false
			}
		}
		for j, o := range n.Pool4 {
			if o.Address != e.Address || o.First > e.Last || e.First > o.Last {
				continue
			}
			for _, p := range e.Protocols {
				if containsString(o.Protocols, p) {
					b.p.add(path+".ports", "%s %s ports %d-%d overlap %s.pool4[%d] (line %d) %d-%d", a, p, e.First, e.Last, entry, j, o.Line, o.First, o.Last)
					ok = false
					break
				}
			}
		}
		if ok {
			n.Pool4 = append(n.Pool4, e)
		}
	}
	for i, fsb := range fs.StaticBIB {
		path := fmt.Sprintf("%s.static_bib[%d]", entry, i)
		s := NAT64Static{Protocol: fsb.Protocol, Line: b.p.lines.line(path)}
		if !validNAT64Protocol(s.Protocol) {
			b.p.add(path+".protocol", "unknown protocol %q (want tcp, udp or icmp)", s.Protocol)
			continue
		}
		v4, err4 := netip.ParseAddrPort(fsb.IPv4)
		if err4 != nil || !v4.Addr().Is4() {
			b.p.add(path+".ipv4", "malformed IPv4 address and port %q (want 192.0.2.2:2000)", fsb.IPv4)
		}
		v6, err6 := netip.ParseAddrPort(fsb.IPv6)
		if err6 != nil || !v6.Addr().Is6() || v6.Addr().Is4In6() {
			b.p.add(path+".ipv6", "malformed IPv6 address and port %q (want [2001:db8::5]:2000)", fsb.IPv6)
		}
		if err4 != nil || err6 != nil {
			continue
		}
		inPool := false
		for _, p := range n.Pool4 {
			inPool = inPool || p.Address == v4.Addr()
		}
		if !inPool {
			b.p.add(path+".ipv4", "%s is not a pool4 address", v4.Addr())
			continue
		}
		s.IPv4, s.IPv6 = v4, v6
		n.StaticBIB = append(n.StaticBIB, s)
	}
	if fs.LowestIPv6MTU != "" {
		v, err := parseUint(fs.LowestIPv6MTU, 1280, 65535)
		if err != nil {
			b.p.add(entry+".lowest_ipv6_mtu", "%v", err)
		}
		n.LowestIPv6MTU = int(v)
	}
	ft := fs.Timeouts
	if ft == nil {
		ft = &fileNAT64Timeouts{}
	}
	for _, d := range []struct {
		key string
		v   string
		to  *time.Duration
	}{
		{"tcp_established", ft.TCPEstablished, &n.Timeouts.TCPEstablished}, {"tcp_transitory", ft.TCPTransitory, &n.Timeouts.TCPTransitory},
		{"udp", ft.UDP, &n.Timeouts.UDP}, {"icmp", ft.ICMP, &n.Timeouts.ICMP}, {"syn_hold", ft.SYNHold, &n.Timeouts.SYNHold}, {"fragment", ft.Fragment, &n.Timeouts.Fragment},
	} {
		if d.v == "" {
			continue
		}
		path := entry + ".timeouts." + d.key
		t, err := parseDuration(d.v)
		if err != nil || t == 0 {
			b.p.add(path, "malformed duration %q (want 5s, 1500ms or a number of seconds, not zero)", d.v)
			continue
		}
		if t < nat64Minimums[d.key] {
			b.warn(path, "%s %v is below the RFC 6146 minimum %v", d.key, t, nat64Minimums[d.key])
		}
		*d.to = t
	}
	fl := fs.Limits
	if fl == nil {
		fl = &fileNAT64Limits{}
	}
	for _, l := range []struct {
		key string
		v   string
		to  *int
	}{
		{"sessions", fl.Sessions, &n.Limits.Sessions}, {"bindings", fl.Bindings, &n.Limits.Bindings},
		{"bindings_per_host", fl.BindingsPerHost, &n.Limits.BindingsPerHost}, {"sessions_per_host", fl.SessionsPerHost, &n.Limits.SessionsPerHost},
		{"held_syns", fl.HeldSYNs, &n.Limits.HeldSYNs}, {"fragment_bytes", fl.FragmentBytes, &n.Limits.FragmentBytes},
	} {
		if l.v == "" {
			continue
		}
		x, err := parseUint(l.v, 1, 1<<31-1)
		if err != nil {
			b.p.add(entry+".limits."+l.key, "%v", err)
			continue
		}
		*l.to = int(x)
	}
	n.IPv4 = b.siitSide(entry+".ipv4", fs.IPv4, true)
	n.IPv6 = b.siitSide(entry+".ipv6", fs.IPv6, false)
	b.nat64Overlaps(n)
	b.buildNAT64Fabric(fs, n)
}

// buildNAT64Fabric reads and checks what the NAT64 needs in a fabric: its
// MAC, data path and engine ports; its own addresses and pool4 addresses
// that no host has; gateways that are declared hosts; a pool6 that holds
// no host's address. A file without hosts (sixgate translate) needs none
// of it.
func (b *builder) buildNAT64Fabric(fs *fileNAT64, n *NAT64) {
	const entry = "nat64"
	switch {
	case fs.MAC != "":
		mac, err := parseUnicastMAC(fs.MAC)
		if err != nil {
			b.p.add(entry+".mac", "%v", err)
		} else if claim(b, b.macs, macKey(mac), b.ownerAt(entry, entry+".mac"), entry+".mac", "MAC "+mac.String()) {
			n.MAC = mac
		}
	case len(b.t.Hosts) > 0:
		b.p.add(entry+".mac", "missing MAC: the NAT64 in the fabric answers ARP and NDP with it")
	}
	n.Mode, n.Ports = b.dataPath(entry, fs.Mode, fs.Ports)
	if len(b.t.Hosts) == 0 {
		return
	}
	group := owner{entry: entry, line: n.Line, group: "nat64-pool4"}
	for _, side := range []struct {
		path string
		s    SIITSide
	}{{entry + ".ipv4", n.IPv4}, {entry + ".ipv6", n.IPv6}} {
		if a := side.s.Address; a.IsValid() {
			o := b.ownerAt(entry, side.path+".address")
			if a.Addr().Is4() {
				// The NAT64's own IPv4 address may be a pool4 address.
				o.group = group.group
			}
			claim(b, b.addrs, a.Addr(), o, side.path+".address", "address "+a.Addr().String())
		}
		if g := side.s.Gateway; g.IsValid() {
			if _, ok := b.hostByAddr(g); !ok {
				b.p.add(side.path+".gateway", "no declared host owns %s: the gateway must be a host of the model", g)
			}
		}
	}
	for i, p := range n.Pool4 {
		path := fmt.Sprintf("%s.pool4[%d].address", entry, i)
		o := b.ownerAt(entry, path)
		o.group = group.group
		claim(b, b.addrs, p.Address, o, path, "address "+p.Address.String())
	}
	if n.Pool6.IsValid() {
		for _, h := range b.t.Hosts {
			for _, a := range h.IPv6 {
				if n.Pool6.Contains(a) {
					b.p.add(entry+".pool6", "%s contains %s of host %s: the NAT64 answers for the whole pool", n.Pool6, a, h.Name)
				}
			}
		}
	}
}

// nat64Overlaps refuses pools the NAT64 would share with the other
// translators, naming both fields.
func (b *builder) nat64Overlaps(n *NAT64) {
	if s := b.t.SIIT; s != nil {
		if n.Pool6.IsValid() && s.Pool6.IsValid() && n.Pool6.Overlaps(s.Pool6) {
			b.p.add("nat64.pool6", "%s overlaps siit.pool6 %s (line %d)", n.Pool6, s.Pool6, s.Line)
		}
		for i, p := range n.Pool4 {
			for j, e := range s.EAM {
				if e.IPv4.Contains(p.Address) {
					b.p.add(fmt.Sprintf("nat64.pool4[%d].address", i), "%s is in siit.eam[%d].ipv4 %s (line %d)", p.Address, j, e.IPv4, e.Line)
				}
			}
		}
	}
	if s := b.t.Splice46; s != nil {
		if n.Pool6.IsValid() && s.Pool6.IsValid() && n.Pool6.Overlaps(s.Pool6) {
			b.p.add("nat64.pool6", "%s overlaps splice46.pool6 %s", n.Pool6, s.Pool6)
		}
		for i, p := range n.Pool4 {
			for _, v := range s.VIPs() {
				if v == p.Address {
					b.p.add(fmt.Sprintf("nat64.pool4[%d].address", i), "%s is a splice46 VIP", p.Address)
				}
			}
		}
	}
}

// parsePortRange reads "1-3000" or a single port.
func parsePortRange(s string) (uint16, uint16, error) {
	lo, hi, found := strings.Cut(s, "-")
	if !found {
		hi = lo
	}
	a, err1 := strconv.ParseUint(strings.TrimSpace(lo), 10, 16)
	z, err2 := strconv.ParseUint(strings.TrimSpace(hi), 10, 16)
	if err1 != nil || err2 != nil || a > z {
		return 0, 0, fmt.Errorf("malformed port range %q (want 1-3000)", s)
	}
	return uint16(a), uint16(z), nil
}

func containsString(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}
