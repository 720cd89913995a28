package topo

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"
)

// DHCP4 is the DHCPv4 server (docs/dhcp4.md): static leases for the
// hosts the model gives an IPv4 address, and dynamic ones from pools for
// the other hosts of the model.
type DHCP4 struct {
	// LeaseFile is where dynamic leases are kept across restarts.
	LeaseFile string
	// PREF64 is the NAT64 prefix that makes option 108 worth sending:
	// without one, IPv6-only hosts could not reach IPv4. Zero: none known.
	PREF64 netip.Prefix
	// DeclineHold is how long an address a client declined (RFC 2131
	// section 4.3.3: someone else uses it) is kept out of the pool.
	DeclineHold time.Duration
	Subnets     []*DHCP4Subnet
	Line        int

	pref64Set bool
}

// DHCP4Subnet is one IPv4 subnet the server hands out configuration on.
type DHCP4Subnet struct {
	Prefix netip.Prefix
	// PoolFirst and PoolLast bound the dynamic addresses, both included;
	// invalid when the subnet has no pool (static leases only).
	PoolFirst, PoolLast netip.Addr
	// Router is a gateway's address on the subnet, the default route and
	// the server identifier; RouterMAC is that gateway's MAC.
	Router    netip.Addr
	RouterMAC net.HardwareAddr
	DNS       []netip.Addr
	Domain    string
	Lease     time.Duration
	// IPv6OnlyPreferred is V6ONLY_WAIT (RFC 8925); 0: option 108 is never
	// sent on this subnet.
	IPv6OnlyPreferred time.Duration
	Line              int
}

// PoolSize is the number of addresses in the subnet's pool.
func (s *DHCP4Subnet) PoolSize() int {
	if !s.PoolFirst.IsValid() {
		return 0
	}
	return int(addr4Uint(s.PoolLast)-addr4Uint(s.PoolFirst)) + 1
}

// PoolAddr returns the i-th address of the pool.
func (s *DHCP4Subnet) PoolAddr(i int) netip.Addr {
	return uint4Addr(addr4Uint(s.PoolFirst) + uint32(i))
}

// InPool reports whether a is in the subnet's pool.
func (s *DHCP4Subnet) InPool(a netip.Addr) bool {
	if !s.PoolFirst.IsValid() || !a.Is4() {
		return false
	}
	v := addr4Uint(a)
	return v >= addr4Uint(s.PoolFirst) && v <= addr4Uint(s.PoolLast)
}

func addr4Uint(a netip.Addr) uint32 {
	b := a.As4()
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

func uint4Addr(v uint32) netip.Addr {
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// Defaults and bounds of the dhcp4 section.
const (
	DefaultDHCP4LeaseFile   = "/var/lib/sixgate/dhcp4.leases"
	DefaultDHCP4Lease       = time.Hour
	DefaultDHCP4DeclineHold = 10 * time.Minute
	// DefaultV6OnlyWait and MinV6OnlyWait are RFC 8925's V6ONLY_WAIT
	// default and MIN_V6ONLY_WAIT.
	DefaultV6OnlyWait = 1800 * time.Second
	MinV6OnlyWait     = 300 * time.Second
	// MaxDHCP4PoolSize bounds one pool, and with it the lease table.
	MaxDHCP4PoolSize = 65536
)

type fileDHCP4 struct {
	LeaseFile   string            `yaml:"lease_file"`
	PREF64      string            `yaml:"pref64"`
	DeclineHold string            `yaml:"decline_hold"`
	Subnets     []fileDHCP4Subnet `yaml:"subnets"`
}

type fileDHCP4Subnet struct {
	Prefix            string   `yaml:"prefix"`
	Pool              string   `yaml:"pool"`
	Router            string   `yaml:"router"`
	DNS               []string `yaml:"dns"`
	Domain            string   `yaml:"domain"`
	Lease             string   `yaml:"lease"`
	IPv6OnlyPreferred string   `yaml:"ipv6_only_preferred"`
}

func (b *builder) buildDHCP4(fd *fileDHCP4) {
	if fd == nil {
		return
	}
	d := &DHCP4{LeaseFile: fd.LeaseFile, Line: b.p.lines.line("dhcp4")}
	if d.LeaseFile == "" {
		d.LeaseFile = DefaultDHCP4LeaseFile
	}
	if fd.PREF64 != "" {
		p, err := b.rfc6052Prefix(fd.PREF64)
		if err != nil {
			b.p.add("dhcp4.pref64", "%v", err)
		}
		d.PREF64, d.pref64Set = p, true
	}
	d.DeclineHold = b.duration("dhcp4.decline_hold", fd.DeclineHold, DefaultDHCP4DeclineHold)
	if len(fd.Subnets) == 0 {
		b.p.add("dhcp4.subnets", "at least one subnet must be declared")
	}
	for i, fs := range fd.Subnets {
		if s, ok := b.dhcp4Subnet(fmt.Sprintf("dhcp4.subnets[%d]", i), fs); ok {
			for j, o := range d.Subnets {
				if o.Prefix.Overlaps(s.Prefix) {
					b.p.add(fmt.Sprintf("dhcp4.subnets[%d].prefix", i), "%s overlaps dhcp4.subnets[%d] %s", s.Prefix, j, o.Prefix)
					ok = false
				}
			}
			if ok {
				d.Subnets = append(d.Subnets, s)
			}
		}
	}
	b.t.DHCP4 = d
}

func (b *builder) dhcp4Subnet(path string, fs fileDHCP4Subnet) (*DHCP4Subnet, bool) {
	errs := b.p.count
	s := &DHCP4Subnet{Line: b.p.lines.line(path), Domain: strings.TrimSuffix(strings.ToLower(fs.Domain), ".")}
	p, err := parsePrefix(fs.Prefix)
	switch {
	case err != nil:
		b.p.add(path+".prefix", "%v", err)
		return nil, false
	case !p.Addr().Is4() || p.Bits() > 30:
		b.p.add(path+".prefix", "%s is not an IPv4 subnet of at least 4 addresses", p)
		return nil, false
	}
	s.Prefix = p
	s.Router = b.dhcp4Router(path+".router", fs.Router, s)
	if fs.Pool != "" {
		b.dhcp4Pool(path+".pool", fs.Pool, s)
	}
	for i, v := range fs.DNS {
		a, err := netip.ParseAddr(v)
		if err != nil || !a.Is4() || a.IsUnspecified() || a.IsMulticast() {
			b.p.add(fmt.Sprintf("%s.dns[%d]", path, i), "malformed IPv4 address %q", v)
			continue
		}
		s.DNS = append(s.DNS, a)
	}
	if fs.Domain != "" {
		if err := checkDomainName(fs.Domain); err != nil {
			b.p.add(path+".domain", "%v", err)
		}
	}
	s.Lease = b.duration(path+".lease", fs.Lease, DefaultDHCP4Lease)
	if s.Lease < time.Minute || s.Lease > 0xfffffffe*time.Second {
		b.p.add(path+".lease", "%v is out of range (1m to 136y)", s.Lease)
	}
	switch v := fs.IPv6OnlyPreferred; v {
	case "", "false", "off":
	case "true", "on":
		s.IPv6OnlyPreferred = DefaultV6OnlyWait
	default:
		s.IPv6OnlyPreferred = b.duration(path+".ipv6_only_preferred", v, DefaultV6OnlyWait)
		if s.IPv6OnlyPreferred < MinV6OnlyWait || s.IPv6OnlyPreferred > 0xffffffff*time.Second {
			b.p.add(path+".ipv6_only_preferred", "%v is below RFC 8925's minimum of %v (or above 2^32 s)", s.IPv6OnlyPreferred, MinV6OnlyWait)
		}
	}
	return s, b.p.count == errs
}

// dhcp4Router checks that the router is a gateway's address on the subnet.
func (b *builder) dhcp4Router(path, v string, s *DHCP4Subnet) netip.Addr {
	if v == "" {
		b.p.add(path, "missing router (a gateway's IPv4 address on the subnet; it is also the server identifier)")
		return netip.Addr{}
	}
	a, err := netip.ParseAddr(v)
	if err != nil || !a.Is4() {
		b.p.add(path, "malformed IPv4 address %q", v)
		return netip.Addr{}
	}
	if !s.Prefix.Contains(a) {
		b.p.add(path, "%s is outside the subnet %s", a, s.Prefix)
		return netip.Addr{}
	}
	for _, g := range b.t.Gateways {
		for _, p := range g.IPv4 {
			if p.Addr() == a {
				s.RouterMAC = g.MAC
				return a
			}
		}
	}
	b.p.add(path, "%s is not a gateway's address (declare it under gateways)", a)
	return netip.Addr{}
}

// dhcp4Pool reads "first-last" inside the subnet, neither end its network
// or broadcast address.
func (b *builder) dhcp4Pool(path, v string, s *DHCP4Subnet) {
	lo, hi, found := strings.Cut(v, "-")
	first, err1 := netip.ParseAddr(strings.TrimSpace(lo))
	last, err2 := netip.ParseAddr(strings.TrimSpace(hi))
	switch {
	case !found || err1 != nil || err2 != nil || !first.Is4() || !last.Is4():
		b.p.add(path, "malformed pool %q (want \"192.0.2.100-192.0.2.199\")", v)
	case !s.Prefix.Contains(first) || !s.Prefix.Contains(last):
		b.p.add(path, "pool %s is not inside the subnet %s", v, s.Prefix)
	case last.Less(first):
		b.p.add(path, "pool %s ends before it starts", v)
	case first == s.Prefix.Addr() || last == lastAddr(s.Prefix):
		b.p.add(path, "pool %s includes the subnet's network or broadcast address", v)
	case addr4Uint(last)-addr4Uint(first) >= MaxDHCP4PoolSize:
		b.p.add(path, "pool %s holds more than %d addresses", v, MaxDHCP4PoolSize)
	default:
		s.PoolFirst, s.PoolLast = first, last
	}
}

// SubnetFor returns the subnet a host is served on: the one holding its
// declared IPv4 address, else the first with a pool; false when neither.
func (d *DHCP4) SubnetFor(h *Host) (*DHCP4Subnet, netip.Addr, bool) {
	for _, s := range d.Subnets {
		for _, a := range h.IPv4 {
			if s.Prefix.Contains(a) {
				return s, a, true
			}
		}
	}
	for _, s := range d.Subnets {
		if s.PoolSize() > 0 {
			return s, netip.Addr{}, true
		}
	}
	return nil, netip.Addr{}, false
}
