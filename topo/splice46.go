package topo

import (
	"fmt"
	"net"
	"net/netip"
	"time"
)

// Splice46 is the 4->6 TCP splicing service: IPv4 clients connect to a VIP
// and are spliced to IPv6 backends, appearing there as pool6 + their IPv4
// address (RFC 6052).
type Splice46 struct {
	MAC      net.HardwareAddr // answers ARP for the VIPs and NDP for pool6
	Pool6    netip.Prefix     // length is one of 32, 40, 48, 56, 64, 96 (RFC 6052)
	MTU6     int              // MTU of the IPv6 side; MSS to clients is at most MTU6-60
	Mode     DataPath         // where the engine sees the packets
	Ports    []*EnginePort    // the engine's switch ports, in port mode
	Services []*Service
	Limits   Limits
	Timeouts Timeouts
	Line     int

	// WindowScale is the shift the engine offers clients that offer
	// window scaling (RFC 7323), 0 to 14; nil when window_scale is not
	// given, which means the engine's default (7). 0 is a value of its
	// own: scaling negotiated, the engine's windows unscaled.
	WindowScale *uint8

	// FTP configures the FTP gateway of the services with alg: ftp
	// (splice46.alg.ftp).
	FTP Splice46FTP
}

// Splice46FTP configures the splice's FTP gateway. Zero values take the
// engine's defaults.
type Splice46FTP struct {
	// PassiveFirst and PassiveLast are the VIP ports lent to passive-mode
	// data connections.
	PassiveFirst, PassiveLast uint16
	// ExpectTimeout bounds the wait for an announced data connection.
	ExpectTimeout time.Duration
	// Expectations bounds the data connections expected at once, and
	// Connections the control connections followed at once.
	Expectations, Connections int
	Line                      int
}

// The engine's passive ports when splice46.alg.ftp.passive_ports is not
// given (proxy46.DefaultFTPPassiveFirst and Last).
const (
	DefaultFTPPassiveFirst = 50000
	DefaultFTPPassiveLast  = 50999
)

// PassivePorts returns the passive port range in force.
func (f *Splice46FTP) PassivePorts() (first, last uint16) {
	if f.PassiveFirst == 0 {
		return DefaultFTPPassiveFirst, DefaultFTPPassiveLast
	}
	return f.PassiveFirst, f.PassiveLast
}

// HasFTP reports whether a service of s goes through the FTP gateway.
func (s *Splice46) HasFTP() bool {
	for _, svc := range s.Services {
		if svc.ALG == ALGFTP {
			return true
		}
	}
	return false
}

// DataPath says how spliced packets reach the engine.
type DataPath string

const (
	// DataPathController sends every spliced segment to the controller as
	// a packet-in and back as a packet-out.
	DataPathController DataPath = "controller"
	// DataPathPort steers spliced segments to switch ports whose other
	// ends are Linux interfaces the engine reads and writes directly.
	DataPathPort DataPath = "port"
)

// EnginePort is a Linux interface of the machine running sixgate, cabled
// to a switch port; in port mode the engine reads and writes frames on it.
type EnginePort struct {
	Interface string // Linux interface name
	Switch    string
	DPID      uint64
	Port      uint32
	// Ring selects a TPACKET_V3 receive ring over recvmmsg: more packets
	// per system call under sustained load, but a segment may wait up to
	// the ring's 1 ms block timeout, which short connections feel.
	Ring bool
	// Offload reads and writes the port with PACKET_VNET_HDR, so that
	// GRO super-packets of established connections are translated whole
	// and leave as one for the kernel to cut up (docs/splice46.md,
	// "Segment offload"). It excludes Ring.
	Offload bool
	Line    int
}

func (p *EnginePort) String() string {
	return fmt.Sprintf("%s (%s:%d)", p.Interface, p.Switch, p.Port)
}

// Service is one VIP and TCP port and the backends behind it.
type Service struct {
	VIP      netip.Addr // IPv4
	Port     uint16
	Select   SelectPolicy
	Backends []*Backend // in file order, the order in which they are tried
	// Default is the backend used when nothing matches: either the one
	// marked "default: true" or the service's own "default:" address.
	// Invalid (zero) when there is none; then a connection that matches
	// nothing is reset.
	Default netip.AddrPort
	// BackendsFile is the service's map file (backends_file), made
	// relative to the working directory; empty when it has none.
	BackendsFile string
	// Names are the map file's lines: host names with the backends they
	// go to, as indices into Backends. A backend that only the map file
	// names is added to Backends, after the ones the YAML lists.
	Names []NameRoute
	// DNS, if set, finds the backend of a name nothing above matches in
	// DNS (backends_from_dns).
	DNS *DNSBackends
	// ALG is the application-level gateway of the service's connections:
	// "" (none) or ALGFTP.
	ALG  string
	Line int
}

// ALGFTP is the value of services[].alg for FTP control connections.
const ALGFTP = "ftp"

// NameRoute sends one host name (or a "*.example.com" wildcard) to
// backends, tried in the order given.
type NameRoute struct {
	Name     string   // lower case, without a final dot
	Backends []uint32 // indices into Service.Backends
	Line     int      // in BackendsFile
}

// Backend is one IPv6 server behind a service.
type Backend struct {
	Address netip.AddrPort // IPv6
	Match   []string       // SNI or Host names (lower case), or payload prefixes
	Default bool
	Line    int // 0 for a backend that only the map file names
}

// SelectPolicy says how a service picks the backend of a new connection.
type SelectPolicy string

const (
	SelectPrefix     SelectPolicy = "prefix"      // the first payload bytes start with a backend's match
	SelectHTTPHost   SelectPolicy = "http-host"   // the HTTP/1.x Host header equals a backend's match
	SelectSNI        SelectPolicy = "sni"         // the TLS ClientHello server name equals a backend's match
	SelectHash       SelectPolicy = "hash"        // a hash of the client address and port
	SelectRoundRobin SelectPolicy = "round-robin" // each new connection takes the next backend
)

var selectPolicies = []SelectPolicy{SelectPrefix, SelectHTTPHost, SelectSNI, SelectHash, SelectRoundRobin}

// NeedsPayload reports whether the policy waits for the client's first
// bytes before it can choose, which is when backends carry match values.
func (s SelectPolicy) NeedsPayload() bool {
	return s == SelectPrefix || s == SelectHTTPHost || s == SelectSNI
}

// ServiceFor returns the service listening on vip and port.
func (s *Splice46) ServiceFor(vip netip.Addr, port uint16) (*Service, bool) {
	for _, svc := range s.Services {
		if svc.VIP == vip && svc.Port == port {
			return svc, true
		}
	}
	return nil, false
}

// VIPs returns each distinct VIP once, in file order.
func (s *Splice46) VIPs() []netip.Addr {
	var out []netip.Addr
	seen := map[netip.Addr]bool{}
	for _, svc := range s.Services {
		if !seen[svc.VIP] {
			seen[svc.VIP] = true
			out = append(out, svc.VIP)
		}
	}
	return out
}
