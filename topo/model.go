package topo

import (
	"fmt"
	"net"
	"net/netip"
	"time"
)

// Topology is a validated topology file. It is never changed after Parse
// returns, so it may be shared between goroutines; link state lives apart, in
// LinkState and Forwarding.
type Topology struct {
	File string
	// Hash is the SHA-256 of the file's bytes, in hex, telling which
	// configuration is live; ShortHash is its first 12 digits.
	Hash       string
	Controller Controller
	// Warnings are what loads but should change, such as a deprecated
	// key, in the same FILE:LINE: field: message form as errors. The
	// caller shows them.
	Warnings Errors
	Subnets  []netip.Prefix // empty when the file declares none; then addresses are not checked against subnets
	Switches []*Switch      // in file order
	Links    []*Link
	Hosts    []*Host
	Gateways []*Gateway
	Splice46 *Splice46 // nil when the section is absent
	SIIT     *SIIT     // nil when the section is absent
	DNS64    *DNS64    // nil when the section is absent
	DHCP4    *DHCP4    // nil when the section is absent
	NAT64    *NAT64    // nil when the section is absent
	HA       *HA       // nil when the section is absent: one controller alone

	switchByName map[string]*Switch
	switchByDPID map[uint64]*Switch
	hostByName   map[string]*Host
	hostByMAC    map[[6]byte]*Host
	hostByAddr   map[netip.Addr]*Host
	hostByPort   map[portKey]*Host
	linkPorts    map[uint64][]uint32 // inter-switch ports of each switch, sorted
	neighbors    []Neighbor
	neighborMAC  map[netip.Addr]net.HardwareAddr
	keyLines     lineIndex // see KeyLine
}

// Controller is how the controller itself listens.
type Controller struct {
	Listen Listen
	TLS    *TLS // set exactly when Listen.Scheme is "tls"
	// HTTP is where /metrics, /healthz and the read API are served;
	// invalid (zero) when disabled with "off".
	HTTP netip.AddrPort
	// StatsInterval is how often PORT_STATS is polled (0: never).
	StatsInterval time.Duration
	EchoInterval  time.Duration // how often to send ECHO_REQUEST to an idle switch
	EchoTimeout   time.Duration // how long without any message before a switch is dropped
	// PacketInRate bounds packet-ins per second per switch (0: unbounded);
	// PacketInBurst is the burst above it (0: a tenth of the rate).
	PacketInRate  int
	PacketInBurst int
	// Bounds on hostile or broken peers; zero takes the controller's
	// default (docs/configuration.md).
	MaxHandshakes          int           // connections in handshake
	MaxHandshakesPerSource int           // the same per remote address
	MaxMultipartBytes      int           // one multipart reply
	MaxMultipartBytesTotal int           // every multipart reply in progress
	TakeoverProbeTimeout   time.Duration // a live session's echo when its datapath id is claimed again
}

// Listen is an OpenFlow listening endpoint written the Open vSwitch way,
// "tcp:0.0.0.0:6653" or "tls:[::]:6653".
type Listen struct {
	Scheme string // "tcp" or "tls"
	Addr   netip.AddrPort
}

// ShortHash is the first 12 hex digits of Hash, as the metrics and the
// status command show it.
func (t *Topology) ShortHash() string {
	if len(t.Hash) < 12 {
		return t.Hash
	}
	return t.Hash[:12]
}

func (l Listen) String() string { return l.Scheme + ":" + l.Addr.String() }

// TLS names the PEM files for a TLS listener. Load makes relative paths
// relative to the topology file; Parse leaves them as written.
type TLS struct {
	Cert string
	Key  string
	CA   string // when set, switches must present a certificate signed by it
}

// Switch is one OpenFlow switch of the fabric.
type Switch struct {
	Name string
	DPID uint64
	// TLSSubject is the common name (CN) of the certificate the switch
	// must present over mutual TLS; empty: not checked.
	TLSSubject string
	Line       int // where the entry starts in the file
}

func (s *Switch) String() string { return fmt.Sprintf("%s (dpid %#x)", s.Name, s.DPID) }

// Link is a cable between two switch ports.
type Link struct {
	A, B LinkEnd
	Line int
}

// LinkEnd is one end of a link, written "s1:4" in the file.
type LinkEnd struct {
	Switch string
	DPID   uint64
	Port   uint32
}

func (e LinkEnd) String() string { return fmt.Sprintf("%s:%d", e.Switch, e.Port) }

// Host is a machine plugged into a switch port.
type Host struct {
	Name   string
	Switch string
	DPID   uint64
	Port   uint32
	MAC    net.HardwareAddr
	IPv4   []netip.Addr
	IPv6   []netip.Addr
	Line   int
}

// Addrs returns the host's IPv4 then IPv6 addresses.
func (h *Host) Addrs() []netip.Addr {
	out := make([]netip.Addr, 0, len(h.IPv4)+len(h.IPv6))
	out = append(out, h.IPv4...)
	return append(out, h.IPv6...)
}

// Gateway is a router address that does not belong to any machine: the
// controller answers ARP and Neighbor Solicitations for it and, when asked to,
// Router Solicitations.
type Gateway struct {
	Name string // from the file, or "gateways[N]" when it has none
	MAC  net.HardwareAddr
	IPv4 []netip.Prefix // address with the prefix length of its subnet, like 10.0.0.254/24
	IPv6 []netip.Prefix
	// LinkLocal is the fe80::/64 address routers send Router Advertisements
	// from. Derived from MAC (modified EUI-64) unless the file gives one;
	// invalid when the gateway has no IPv6 address.
	LinkLocal netip.Addr
	RA        *RouterAdvertisement // nil unless router_advertisements is true
	Line      int
}

// RouterAdvertisement holds what goes into the gateway's Router
// Advertisements (RFC 4861 section 4.2 and 4.6.2).
type RouterAdvertisement struct {
	Interval          time.Duration // between unsolicited advertisements
	RouterLifetime    time.Duration // 0 means "not a default router"
	HopLimit          uint8         // 0 means unspecified
	MTU               uint32        // 0 means no MTU option
	Managed           bool          // M flag: addresses from DHCPv6
	Other             bool          // O flag: other configuration from DHCPv6
	Prefixes          []netip.Prefix
	ValidLifetime     time.Duration
	PreferredLifetime time.Duration

	// Host configuration options (RFC 8781, RFC 8106), resolved against
	// the other sections once the whole file is read (hostcfg.go).
	PREF64 netip.Prefix // the NAT64 prefix; zero: no PREF64 option
	RDNSS  []netip.Addr // recursive DNS servers; empty: no RDNSS option
	DNSSL  []string     // DNS search list; empty: no DNSSL option

	// How the file set them, for the resolution.
	pref64Mode pref64Mode
	rdnssSet   bool
}
