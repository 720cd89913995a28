package topo

import (
	"cmp"
	"fmt"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// DefaultMTU6 is the IPv6-side MTU when splice46.mtu6 is not given.
const DefaultMTU6 = 1500

// pool6Lengths are the prefix lengths RFC 6052 section 2.2 defines for
// embedding an IPv4 address in IPv6.
var pool6Lengths = []int{32, 40, 48, 56, 64, 96}

// vipGroup lets several services share one VIP (on different ports).
const vipGroup = "vip"

func (b *builder) buildSplice46(fs *fileSplice46) {
	if fs == nil {
		return
	}
	const entry = "splice46"
	s := &Splice46{MTU6: DefaultMTU6, Line: b.p.lines.line(entry)}
	b.t.Splice46 = s

	mac, err := parseUnicastMAC(fs.MAC)
	if err != nil {
		b.p.add(entry+".mac", "%v", err)
	} else {
		o := b.ownerAt(entry, entry+".mac")
		o.group = virtualMAC
		claim(b, b.macs, macKey(mac), o, entry+".mac", "MAC "+mac.String())
		s.MAC = mac
	}

	if pool, err := parsePrefix(fs.Pool6); err != nil {
		b.p.add(entry+".pool6", "%v", err)
	} else if !pool.Addr().Is6() {
		b.p.add(entry+".pool6", "%s is not an IPv6 prefix", pool)
	} else if !slices.Contains(pool6Lengths, pool.Bits()) {
		b.p.add(entry+".pool6", "prefix length /%d is not one RFC 6052 allows (32, 40, 48, 56, 64 or 96)", pool.Bits())
	} else {
		s.Pool6 = pool
		b.checkPoolAgainstHosts(pool)
	}

	if fs.MTU6 != "" {
		v, err := parseUint(fs.MTU6, 1280, 65535)
		if err != nil {
			b.p.add(entry+".mtu6", "%v", err)
		}
		s.MTU6 = int(v)
	}

	if fs.WindowScale != "" {
		v, err := parseUint(fs.WindowScale, 0, 14)
		if err != nil {
			b.p.add(entry+".window_scale", "%v", err)
		} else {
			ws := uint8(v)
			s.WindowScale = &ws
		}
	}

	s.Mode, s.Ports = b.dataPath(entry, fs.Mode, fs.Ports)
	b.buildLimits(s, fs.Limits, fs.Timeouts)
	if fs.ALG != nil && fs.ALG.FTP != nil {
		b.buildSplice46FTP(entry+".alg.ftp", fs.ALG.FTP, &s.FTP)
	}

	if len(fs.Services) == 0 {
		b.p.add(entry+".services", "at least one service must be declared")
	}
	seen := map[netip.AddrPort]owner{}
	var paths []string // of s.Services, in the file
	for i, fsvc := range fs.Services {
		path := fmt.Sprintf("%s.services[%d]", entry, i)
		if svc, ok := b.service(path, fsvc, s.Pool6); ok {
			if embryonic := cmp.Or(s.Timeouts.Embryonic, engineEmbryonic); svc.DNS != nil && svc.DNS.Timeout >= embryonic {
				b.p.add(path+".backends_from_dns.timeout", "the lookup timeout %v must be below the embryonic timeout %v, which bounds the wait", svc.DNS.Timeout, embryonic)
			}
			key := netip.AddrPortFrom(svc.VIP, svc.Port)
			if claim(b, seen, key, b.ownerAt(path, path), path, "service "+key.String()) {
				s.Services = append(s.Services, svc)
				paths = append(paths, path)
			}
		}
	}
	b.checkPassivePorts(s, paths)
}

// buildSplice46FTP reads splice46.alg.ftp: the passive ports ("50000-50999"),
// the expectation timeout and the bounds.
func (b *builder) buildSplice46FTP(path string, f *fileSplice46FTP, n *Splice46FTP) {
	n.Line = b.p.lines.line(path)
	if f.PassivePorts != "" {
		lo, hi, ok := strings.Cut(f.PassivePorts, "-")
		first, err1 := parseTCPPort(strings.TrimSpace(lo))
		last, err2 := parseTCPPort(strings.TrimSpace(hi))
		switch {
		case !ok || err1 != nil || err2 != nil:
			b.p.add(path+".passive_ports", "malformed port range %q (want FIRST-LAST, such as 50000-50999)", f.PassivePorts)
		case first > last:
			b.p.add(path+".passive_ports", "range %q runs backwards", f.PassivePorts)
		default:
			n.PassiveFirst, n.PassiveLast = first, last
		}
	}
	if f.ExpectTimeout != "" {
		d, err := parseDuration(f.ExpectTimeout)
		switch {
		case err != nil:
			b.p.add(path+".expect_timeout", "%v", err)
		case d < 100*time.Millisecond || d > time.Hour:
			b.p.add(path+".expect_timeout", "%v out of range 100ms to 1h", d)
		default:
			n.ExpectTimeout = d
		}
	}
	for _, v := range []struct {
		key, s string
		dst    *int
	}{{"expectations", f.Expectations, &n.Expectations}, {"connections", f.Connections, &n.Connections}} {
		if v.s == "" {
			continue
		}
		x, err := parseUint(v.s, 1, 1<<20)
		if err != nil {
			b.p.add(path+"."+v.key, "%v", err)
			continue
		}
		*v.dst = int(x)
	}
}

// checkPassivePorts refuses a service listening inside the passive ports
// on the VIP of an FTP service: the gateway lends those ports. paths are
// the services' keys in the file.
func (b *builder) checkPassivePorts(s *Splice46, paths []string) {
	first, last := s.FTP.PassivePorts()
	ftpVIPs := map[netip.Addr]bool{}
	for _, svc := range s.Services {
		if svc.ALG == ALGFTP {
			ftpVIPs[svc.VIP] = true
		}
	}
	for i, svc := range s.Services {
		if ftpVIPs[svc.VIP] && svc.Port >= first && svc.Port <= last {
			b.p.add(paths[i]+".port", "port %d is inside the FTP passive ports %d-%d of VIP %s (splice46.alg.ftp.passive_ports)",
				svc.Port, first, last, svc.VIP)
		}
	}
}

// dataPath reads mode and ports. In port mode every engine port must be on
// one switch: that switch balances over them with a select group, and the
// others route to it.
func (b *builder) dataPath(entry, mode string, ports []fileEnginePort) (DataPath, []*EnginePort) {
	var out []*EnginePort
	switch DataPath(mode) {
	case "", DataPathController:
		if len(ports) > 0 {
			b.p.add(entry+".ports", "ports are only used with mode: port")
		}
		return DataPathController, nil
	case DataPathPort:
	default:
		b.p.add(entry+".mode", "unknown mode %q (want controller or port)", mode)
		return DataPathController, nil
	}
	if len(ports) == 0 {
		b.p.add(entry+".ports", "mode port needs at least one port")
	}
	for i, fp := range ports {
		path := fmt.Sprintf("%s.ports[%d]", entry, i)
		p := &EnginePort{Interface: fp.Interface, Switch: fp.Switch, Ring: fp.Ring, Offload: fp.Offload, Line: b.p.lines.line(path)}
		ok := true
		if fp.Ring && fp.Offload {
			b.p.add(path+".offload", "offload and ring exclude each other (a ring's frames cannot hold a 64 KB super-packet)")
			ok = false
		}
		if err := checkInterfaceName(fp.Interface); err != nil {
			b.p.add(path+".interface", "%v", err)
			ok = false
		} else if !claim(b, b.ifaces, fp.Interface, b.ownerAt(path, path+".interface"), path+".interface", "interface "+fp.Interface) {
			ok = false
		}
		sw, known := b.t.switchByName[fp.Switch]
		switch {
		case fp.Switch == "":
			b.p.add(path+".switch", "missing switch")
			ok = false
		case !known:
			b.p.add(path+".switch", "unknown switch %q", fp.Switch)
			ok = false
		case len(out) > 0 && out[0].Switch != fp.Switch:
			b.p.add(path+".switch", "every engine port must be on one switch (%s is on %s)", out[0].Interface, out[0].Switch)
			ok = false
		}
		port, err := parseSwitchPort(fp.Port)
		if err != nil {
			b.p.add(path+".port", "%v", err)
			ok = false
		}
		if !ok {
			continue
		}
		p.DPID, p.Port = sw.DPID, port
		if claim(b, b.ports, portKey{sw.DPID, port}, b.ownerAt(path, path+".port"), path+".port", fmt.Sprintf("port %s:%d", sw.Name, port)) {
			out = append(out, p)
		}
	}
	return DataPathPort, out
}

// checkInterfaceName applies the kernel's rules for network device names
// (dev_valid_name): at most 15 bytes, not "." or "..", no '/', ':' or
// white space.
func checkInterfaceName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("missing interface name")
	case len(name) > 15:
		return fmt.Errorf("interface name %q is longer than 15 bytes", name)
	case name == "." || name == "..":
		return fmt.Errorf("%q is not an interface name", name)
	case strings.ContainsAny(name, "/: \t\n\r\x00"):
		return fmt.Errorf("interface name %q may not contain '/', ':' or white space", name)
	}
	return nil
}

// checkPoolAgainstHosts rejects host addresses inside pool6: the controller
// answers for the whole pool, so such a host would be unreachable.
func (b *builder) checkPoolAgainstHosts(pool netip.Prefix) {
	for _, h := range b.t.Hosts {
		for _, a := range h.IPv6 {
			if pool.Contains(a) {
				o := b.addrs[a]
				b.p.add("splice46.pool6", "%s contains %s of host %s (%s at line %d)", pool, a, h.Name, o.entry, o.line)
			}
		}
	}
}

func (b *builder) service(path string, fs fileService, pool netip.Prefix) (*Service, bool) {
	errs := b.p.count
	svc := &Service{Line: b.p.lines.line(path)}

	if vip, err := parseAddrSpec(fs.VIP); fs.VIP == "" {
		b.p.add(path+".vip", "missing VIP")
	} else if err != nil {
		b.p.add(path+".vip", "%v", err)
	} else if vip.bits >= 0 {
		b.p.add(path+".vip", "write the VIP as a bare address, without /%d", vip.bits)
	} else if err := checkUnicast(vip.addr, true); err != nil {
		b.p.add(path+".vip", "VIP must be IPv4: %v", err)
	} else {
		svc.VIP = vip.addr
		o := b.ownerAt(path, path+".vip")
		o.group = vipGroup
		claim(b, b.addrs, vip.addr, o, path+".vip", "address "+vip.addr.String())
	}

	if port, err := parseTCPPort(fs.Port); err != nil {
		b.p.add(path+".port", "%v", err)
	} else {
		svc.Port = port
	}

	svc.Select = SelectHash
	if fs.Select != "" {
		svc.Select = SelectPolicy(fs.Select)
		if !slices.Contains(selectPolicies, svc.Select) {
			b.p.add(path+".select", "unknown select policy %q (want prefix, http-host, sni, hash or round-robin)", fs.Select)
		}
	}

	if len(fs.Backends) == 0 && fs.Default == "" && fs.BackendsFile == "" && fs.BackendsFromDNS == nil {
		b.p.add(path+".backends", "at least one backend must be declared (or backends_from_dns)")
	}
	defaultFrom := ""
	addrs := make(map[netip.AddrPort]owner, len(fs.Backends))
	for i, fb := range fs.Backends {
		bp := fmt.Sprintf("%s.backends[%d]", path, i)
		be := b.backend(bp, fb, svc.Select, pool, fs.BackendsFile != "")
		if be == nil {
			continue
		}
		claim(b, addrs, be.Address, b.ownerAt(bp, bp+".address"), bp+".address", "backend "+be.Address.String())
		if be.Default {
			if defaultFrom != "" {
				b.p.add(bp+".default", "only one backend may be the default (also %s)", defaultFrom)
			}
			defaultFrom = bp
			svc.Default = be.Address
		}
		svc.Backends = append(svc.Backends, be)
	}

	if fs.Default != "" {
		dp := path + ".default"
		ap, err := backendAddress(fs.Default, pool)
		switch {
		case err != nil:
			b.p.add(dp, "%v", err)
		case defaultFrom != "":
			b.p.add(dp, "the service already has a default backend (%s)", defaultFrom)
		case !svc.Select.NeedsPayload() && len(fs.Backends) > 0:
			b.p.add(dp, "a default backend is only used with select prefix, http-host or sni")
		default:
			svc.Default = ap
		}
	}
	if fs.BackendsFile != "" {
		b.mapFile(path+".backends_file", fs.BackendsFile, svc, pool)
	}
	if fs.BackendsFromDNS != nil {
		svc.DNS = b.dnsBackends(path+".backends_from_dns", fs.BackendsFromDNS, svc, pool) // splice46_dns.go
	}
	switch fs.ALG {
	case "":
	case ALGFTP:
		if svc.Select.NeedsPayload() {
			b.p.add(path+".alg", "an FTP service needs select hash or round-robin, not %s: the server speaks first", svc.Select)
		}
		svc.ALG = ALGFTP
	default:
		b.p.add(path+".alg", "unknown ALG %q (want ftp)", fs.ALG)
	}
	return svc, b.p.count == errs
}

// mapFile reads a service's backends_file into svc.Names, adding the
// backends only it names. Its problems name the map file and its lines.
func (b *builder) mapFile(path, file string, svc *Service, pool netip.Prefix) {
	if !svc.Select.NeedsPayload() || svc.Select == SelectPrefix {
		b.p.add(path, "a map file routes host names: only with select http-host or sni, not %s", svc.Select)
		return
	}
	if !filepath.IsAbs(file) {
		file = filepath.Join(b.dir, file)
	}
	svc.BackendsFile = file
	data, err := readMapFile(file)
	if err != nil {
		b.p.add(path, "%v", err)
		return
	}
	q := newProblems(file)
	entries := parseMap(q, data, pool)
	b.p.merge(q)
	if q.count > 0 {
		return
	}
	index := make(map[netip.AddrPort]uint32, len(svc.Backends))
	for i, be := range svc.Backends {
		index[be.Address] = uint32(i)
	}
	svc.Names = make([]NameRoute, len(entries))
	// One backing array for every route's indices.
	total := 0
	for _, e := range entries {
		total += len(e.Backends)
	}
	all := make([]uint32, 0, total)
	for k, e := range entries {
		start := len(all)
		for _, ap := range e.Backends {
			i, ok := index[ap]
			if !ok {
				i = uint32(len(svc.Backends))
				index[ap] = i
				svc.Backends = append(svc.Backends, &Backend{Address: ap})
			}
			all = append(all, i)
		}
		svc.Names[k] = NameRoute{Name: e.Name, Backends: all[start:len(all):len(all)], Line: e.Line}
	}
}

// backend reads one backend. Several backends may share a match value:
// they are tried in file order when one refuses or does not answer.
func (b *builder) backend(path string, fb fileBackend, policy SelectPolicy, pool netip.Prefix, mapFile bool) *Backend {
	errs := b.p.count
	matches := map[string]owner{}
	be := &Backend{Default: fb.Default, Line: b.p.lines.line(path)}
	if ap, err := backendAddress(fb.Address, pool); err != nil {
		b.p.add(path+".address", "%v", err)
	} else {
		be.Address = ap
	}

	if !policy.NeedsPayload() {
		if len(fb.Match) > 0 {
			b.p.add(path+".match", "match is only used with select prefix, http-host or sni, not %s", policy)
		}
		if fb.Default {
			b.p.add(path+".default", "a default backend is only used with select prefix, http-host or sni, not %s", policy)
		}
		return keepIf(be, b.p.count == errs)
	}
	if len(fb.Match) == 0 && !fb.Default && !mapFile {
		b.p.add(path+".match", "with select %s a backend needs match values or default: true", policy)
	}
	for i, m := range fb.Match {
		mp := fmt.Sprintf("%s.match[%d]", path, i)
		if m == "" {
			b.p.add(mp, "empty match value")
			continue
		}
		if policy != SelectPrefix {
			// Server names and Host headers compare without case (RFC 4343).
			if err := checkHostName(m); err != nil {
				b.p.add(mp, "%v", err)
				continue
			}
			m = strings.ToLower(strings.TrimSuffix(m, "."))
		}
		if claim(b, matches, m, b.ownerAt(path, mp), mp, fmt.Sprintf("match %q", m)) {
			be.Match = append(be.Match, m)
		}
	}
	return keepIf(be, b.p.count == errs)
}

// backendAddress reads "[2001:db8::1]:80", which must be IPv6 and outside
// pool6 (an address there would be spliced back to the controller).
func backendAddress(s string, pool netip.Prefix) (netip.AddrPort, error) {
	if s == "" {
		return netip.AddrPort{}, fmt.Errorf("missing backend address")
	}
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("malformed backend address %q (want \"[2001:db8::1]:80\")", s)
	}
	if err := checkUnicast(ap.Addr(), false); err != nil || ap.Addr().Zone() != "" {
		return netip.AddrPort{}, fmt.Errorf("backend %s must be an IPv6 unicast address", s)
	}
	if ap.Port() == 0 {
		return netip.AddrPort{}, fmt.Errorf("backend %s has port 0", s)
	}
	if pool.IsValid() && pool.Contains(ap.Addr()) {
		return netip.AddrPort{}, fmt.Errorf("backend %s is inside pool6 %s", s, pool)
	}
	return ap, nil
}

func keepIf[T any](v *T, keep bool) *T {
	if keep {
		return v
	}
	return nil
}
