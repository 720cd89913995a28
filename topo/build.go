package topo

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"strings"
)

// builder converts the decoded file into a Topology, reporting every problem
// through p. Checks across entries (the same MAC twice, a port used by two
// things) go through the claim maps, which remember who used a value first so
// that the error can point there too.
type builder struct {
	p *problems
	t *Topology
	// dir is the directory of the file, which relative map files are in.
	dir string

	names map[string]owner // switch and host names share one namespace, as in Mininet
	dpids map[uint64]owner
	macs  map[[6]byte]owner
	addrs map[netip.Addr]owner
	ports map[portKey]owner
	// ifaces are the engine ports' Linux interfaces, which no two
	// engine ports (of any section) may share.
	ifaces map[string]owner
}

// owner is the entry that first used a value.
type owner struct {
	entry string // like "hosts[0]"
	line  int
	// group lets several virtual entries answer with one value: gateways and
	// splice46 may share a MAC, services may share a VIP. Values with an
	// empty group are never shared.
	group string
}

type portKey struct {
	dpid uint64
	port uint32
}

func newBuilder(p *problems, file string) *builder {
	return &builder{
		p:      p,
		t:      &Topology{File: file},
		dir:    filepath.Dir(file),
		names:  map[string]owner{},
		dpids:  map[uint64]owner{},
		macs:   map[[6]byte]owner{},
		addrs:  map[netip.Addr]owner{},
		ports:  map[portKey]owner{},
		ifaces: map[string]owner{},
	}
}

// claim records that entry o uses key for the field at path, and reports a
// duplicate when another entry used it first.
func claim[K comparable](b *builder, seen map[K]owner, key K, o owner, path, what string) bool {
	prev, taken := seen[key]
	if !taken {
		seen[key] = o
		return true
	}
	if prev.group != "" && prev.group == o.group {
		return true
	}
	b.p.add(path, "duplicate %s (also %s at line %d)", what, prev.entry, prev.line)
	return false
}

// warn records a warning at the line where path is written.
func (b *builder) warn(path, format string, args ...any) {
	b.p.warn(path, format, args...)
}

// ownerAt names entry as the user of the value written at path.
func (b *builder) ownerAt(entry, path string) owner {
	return owner{entry: entry, line: b.p.lines.line(path)}
}

func (b *builder) build(fc *fileConfig) {
	b.buildController(fc.Controller)
	b.buildHA(fc.HA)
	b.buildSubnets(fc.Subnets)
	// A file for a translator alone (sixgate translate) or a DNS64
	// resolver alone declares no switch.
	b.buildSwitches(fc.Switches, fc.SIIT != nil || fc.NAT64 != nil || fc.DNS64 != nil)
	b.buildLinks(fc.Links)
	b.buildHosts(fc.Hosts)
	// splice46 goes before the gateways because a gateway without a MAC of
	// its own answers with the splice46 one.
	b.buildSplice46(fc.Splice46)
	b.buildGateways(fc.Gateways)
	b.buildSIIT(fc.SIIT)
	b.buildSIITFabric(fc.SIIT)
	b.buildNAT64(fc.NAT64)
	// The DNS64 prefix defaults to the NAT64's pool6.
	var pool6 netip.Prefix
	if b.t.NAT64 != nil {
		pool6 = b.t.NAT64.Pool6
	}
	b.buildDNS64(fc.DNS64, pool6)
	b.buildDHCP4(fc.DHCP4)
	// Defaults that come from other sections, now that all are read.
	ResolveHostConfig(b.t, b.hostConfigSources())
}

func (b *builder) buildSubnets(subnets []string) {
	for i, s := range subnets {
		path := fmt.Sprintf("subnets[%d]", i)
		p, err := parsePrefix(s)
		if err != nil {
			b.p.add(path, "%v", err)
			continue
		}
		clash := false
		for j, q := range b.t.Subnets {
			if p.Overlaps(q) {
				b.p.add(path, "%s overlaps subnets[%d] %s", p, j, q)
				clash = true
			}
		}
		if !clash {
			b.t.Subnets = append(b.t.Subnets, p)
		}
	}
}

func (b *builder) buildSwitches(switches []fileSwitch, optional bool) {
	if len(switches) == 0 && !optional {
		b.p.add("switches", "at least one switch must be declared")
	}
	b.t.switchByName = map[string]*Switch{}
	for i, fs := range switches {
		entry := fmt.Sprintf("switches[%d]", i)
		sw := &Switch{Name: fs.Name, TLSSubject: fs.TLSSubject, Line: b.p.lines.line(entry)}
		if fs.TLSSubject != "" && (b.t.Controller.TLS == nil || b.t.Controller.TLS.CA == "") {
			b.p.add(entry+".tls_subject", "a certificate subject needs mutual TLS (controller.tls with a ca)")
		}
		ok := b.checkName(entry, fs.Name)
		dpid, err := parseDPID(fs.DPID)
		if err != nil {
			b.p.add(entry+".dpid", "%v", err)
			ok = false
		} else if !claim(b, b.dpids, dpid, b.ownerAt(entry, entry+".dpid"), entry+".dpid", fmt.Sprintf("datapath id %#x", dpid)) {
			ok = false
		}
		sw.DPID = dpid
		if ok {
			b.t.Switches = append(b.t.Switches, sw)
			b.t.switchByName[sw.Name] = sw
		}
	}
}

// checkName checks the name of a switch or host, which links and hosts refer
// to as "name:port" and which Mininet uses as an interface name prefix.
func (b *builder) checkName(entry, name string) bool {
	path := entry + ".name"
	switch {
	case name == "":
		b.p.add(path, "missing name")
		return false
	case strings.ContainsAny(name, ": \t/"):
		b.p.add(path, "name %q may not contain ':', '/' or spaces", name)
		return false
	}
	return claim(b, b.names, name, b.ownerAt(entry, path), path, "name "+name)
}

func (b *builder) buildLinks(links []fileLink) {
	for i, fl := range links {
		entry := fmt.Sprintf("links[%d]", i)
		a, okA := b.linkEnd(entry, "a", fl.A)
		z, okB := b.linkEnd(entry, "b", fl.B)
		if !okA || !okB {
			continue
		}
		if a.Switch == z.Switch {
			b.p.add(entry, "a link must join two different switches, both ends are on %s", a.Switch)
			continue
		}
		b.t.Links = append(b.t.Links, &Link{A: a, B: z, Line: b.p.lines.line(entry)})
	}
}

// linkEnd reads one "switch:port" end of a link and claims the port.
func (b *builder) linkEnd(entry, field, s string) (LinkEnd, bool) {
	path := entry + "." + field
	if s == "" {
		b.p.add(path, "missing link end (want \"s1:4\")")
		return LinkEnd{}, false
	}
	name, portText, found := strings.Cut(s, ":")
	if !found || name == "" {
		b.p.add(path, "malformed link end %q (want switch:port, like \"s1:4\")", s)
		return LinkEnd{}, false
	}
	port, err := parseSwitchPort(portText)
	if err != nil {
		b.p.add(path, "malformed link end %q: %v", s, err)
		return LinkEnd{}, false
	}
	sw, known := b.t.switchByName[name]
	if !known {
		b.p.add(path, "unknown switch %q", name)
		return LinkEnd{}, false
	}
	end := LinkEnd{Switch: sw.Name, DPID: sw.DPID, Port: port}
	ok := claim(b, b.ports, portKey{sw.DPID, port}, b.ownerAt(entry, path), path, "port "+end.String())
	return end, ok
}

func (b *builder) buildHosts(hosts []fileHost) {
	for i, fh := range hosts {
		entry := fmt.Sprintf("hosts[%d]", i)
		h := &Host{Name: fh.Name, Switch: fh.Switch, Line: b.p.lines.line(entry)}
		ok := b.checkName(entry, fh.Name)
		if !b.hostPort(entry, fh, h) {
			ok = false
		}
		mac, err := parseUnicastMAC(fh.MAC)
		if err != nil {
			b.p.add(entry+".mac", "%v", err)
			ok = false
		} else if !claim(b, b.macs, macKey(mac), b.ownerAt(entry, entry+".mac"), entry+".mac", "MAC "+mac.String()) {
			ok = false
		}
		h.MAC = mac
		for j, s := range fh.IPv4 {
			if a, good := b.hostAddr(entry, fmt.Sprintf("%s.ipv4[%d]", entry, j), s, true); good {
				h.IPv4 = append(h.IPv4, a)
			} else {
				ok = false
			}
		}
		for j, s := range fh.IPv6 {
			if a, good := b.hostAddr(entry, fmt.Sprintf("%s.ipv6[%d]", entry, j), s, false); good {
				h.IPv6 = append(h.IPv6, a)
			} else {
				ok = false
			}
		}
		if ok {
			b.t.Hosts = append(b.t.Hosts, h)
		}
	}
}

// hostPort checks where a host is plugged in and claims the port.
func (b *builder) hostPort(entry string, fh fileHost, h *Host) bool {
	ok := true
	if fh.Switch == "" {
		b.p.add(entry+".switch", "missing switch")
		ok = false
	}
	sw, known := b.t.switchByName[fh.Switch]
	if fh.Switch != "" && !known {
		b.p.add(entry+".switch", "unknown switch %q", fh.Switch)
		ok = false
	}
	port, err := parseSwitchPort(fh.Port)
	if err != nil {
		b.p.add(entry+".port", "%v", err)
		return false
	}
	h.Port = port
	if !ok {
		return false
	}
	h.DPID = sw.DPID
	return claim(b, b.ports, portKey{sw.DPID, port}, b.ownerAt(entry, entry+".port"), entry+".port",
		fmt.Sprintf("port %s:%d", sw.Name, port))
}

// hostAddr reads one host address and claims it.
func (b *builder) hostAddr(entry, path, s string, want4 bool) (netip.Addr, bool) {
	p, ok := b.ifaceAddr(path, s, want4)
	if !ok {
		return netip.Addr{}, false
	}
	return p.Addr(), claim(b, b.addrs, p.Addr(), b.ownerAt(entry, path), path, "address "+p.Addr().String())
}

// ifaceAddr reads an interface address, bare or with a prefix length, checks
// it against the declared subnets, and returns it with the prefix length of
// its subnet (or a host-length prefix when it has none).
func (b *builder) ifaceAddr(path, s string, want4 bool) (netip.Prefix, bool) {
	if s == "" {
		b.p.add(path, "missing address")
		return netip.Prefix{}, false
	}
	spec, err := parseAddrSpec(s)
	if err == nil {
		err = checkUnicast(spec.addr, want4)
	}
	if err != nil {
		b.p.add(path, "%v", err)
		return netip.Prefix{}, false
	}
	bits := spec.bits
	if len(b.t.Subnets) > 0 {
		subnet, found := b.t.SubnetOf(spec.addr)
		switch {
		case !found:
			b.p.add(path, "address %s is outside every declared subnet (%s)", spec.addr, joinPrefixes(b.t.Subnets))
			return netip.Prefix{}, false
		case spec.bits >= 0 && spec.bits != subnet.Bits():
			b.p.add(path, "%s does not match its declared subnet %s", s, subnet)
			return netip.Prefix{}, false
		case spec.addr.Is4() && subnet.Bits() <= 30 && (spec.addr == subnet.Addr() || spec.addr == lastAddr(subnet)):
			b.p.add(path, "%s is the network or broadcast address of %s", spec.addr, subnet)
			return netip.Prefix{}, false
		}
		bits = subnet.Bits()
	}
	if bits < 0 {
		bits = spec.addr.BitLen()
	}
	return netip.PrefixFrom(spec.addr, bits), true
}

// lastAddr returns the highest address of p, the IPv4 broadcast address.
func lastAddr(p netip.Prefix) netip.Addr {
	a := p.Masked().Addr().As4()
	host := uint32(1)<<(32-p.Bits()) - 1
	v := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3]) | host
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

func joinPrefixes(ps []netip.Prefix) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	return strings.Join(s, ", ")
}
