package topo

import (
	"net"
	"net/netip"
)

// SIIT is the stateless translator (RFC 7915): IPv6 hosts reach IPv4
// hosts as pool6 + their address (RFC 6052) or through explicit address
// mappings (RFC 7757), and declared IPv4-only hosts have their traffic
// translated toward a NAT64 prefix (CLAT).
type SIIT struct {
	Pool6                netip.Prefix // invalid when not given
	EAM                  []EAMEntry
	RFC6791v4, RFC6791v6 []netip.Prefix
	LowestIPv6MTU        int // 0: the engine's default (1280)
	AmendUDPChecksumZero bool
	IPv4, IPv6           SIITSide

	// Where the translator sits in the fabric, as for splice46. MAC is
	// nil in a file without hosts (the translator offline).
	MAC   net.HardwareAddr
	Mode  DataPath
	Ports []*EnginePort

	// CLAT are the declared IPv4-only hosts whose traffic is translated;
	// CLATPref64 is where their IPv4 destinations go in IPv6.
	CLAT       []*CLATHost
	CLATPref64 netip.Prefix
	Line       int
}

// EAMEntry is one explicit address mapping (RFC 7757): the IPv4 prefix
// and the IPv6 prefix stand for each other.
type EAMEntry struct {
	IPv4, IPv6 netip.Prefix
	Line       int
	path       string // "siit.eam[N]"
}

// SIITSide is the translator on one side: its own address (with the
// prefix length of its subnet), the link MTU, and the next hop for
// destinations outside the model.
type SIITSide struct {
	Address netip.Prefix // invalid when not given
	MTU     int          // 0 when not given: the engine's default (1500)
	// Gateway is the declared host that routes what no host of the
	// model owns; nil: the translator reaches declared addresses only.
	Gateway *Host
}

// CLATHost is a declared IPv4-only host in the CLAT role: its IPv4
// address stands as IPv6 on the IPv6 side.
type CLATHost struct {
	Host *Host
	IPv4 netip.Addr
	IPv6 netip.Addr
	Line int
	path string // "siit.clat[N]"
}

type fileSIIT struct {
	Pool6                string           `yaml:"pool6"`
	EAM                  []fileEAM        `yaml:"eam"`
	RFC6791IPv4          []string         `yaml:"rfc6791_ipv4"`
	RFC6791IPv6          []string         `yaml:"rfc6791_ipv6"`
	LowestIPv6MTU        string           `yaml:"lowest_ipv6_mtu"`
	AmendUDPChecksumZero bool             `yaml:"amend_udp_checksum_zero"`
	IPv4                 *fileSIITSide    `yaml:"ipv4"`
	IPv6                 *fileSIITSide    `yaml:"ipv6"`
	MAC                  string           `yaml:"mac"`
	Mode                 string           `yaml:"mode"`
	Ports                []fileEnginePort `yaml:"ports"`
	CLAT                 []fileCLAT       `yaml:"clat"`
	CLATPref64           string           `yaml:"clat_pref64"`
}

type fileEAM struct {
	IPv4 string `yaml:"ipv4"`
	IPv6 string `yaml:"ipv6"`
}

type fileSIITSide struct {
	Address string `yaml:"address"`
	MTU     string `yaml:"mtu"`
	Gateway string `yaml:"gateway"`
}

type fileCLAT struct {
	Host string `yaml:"host"`
	IPv6 string `yaml:"ipv6"`
}
