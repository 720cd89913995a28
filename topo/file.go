package topo

// The types in this file mirror the YAML text one to one. Scalars are read as
// strings and converted by this package, so that a bad number or address gets
// the same clear message as any other mistake instead of a decoder type error.
// The yaml tags are also the list of known keys: anything else is an error.

type fileConfig struct {
	Controller *fileController `yaml:"controller"`
	Subnets    []string        `yaml:"subnets"`
	Switches   []fileSwitch    `yaml:"switches"`
	Links      []fileLink      `yaml:"links"`
	Hosts      []fileHost      `yaml:"hosts"`
	Gateways   []fileGateway   `yaml:"gateways"`
	Splice46   *fileSplice46   `yaml:"splice46"`
	SIIT       *fileSIIT       `yaml:"siit"`
	DNS64      *fileDNS64      `yaml:"dns64"`
	DHCP4      *fileDHCP4      `yaml:"dhcp4"`
	NAT64      *fileNAT64      `yaml:"nat64"`
	HA         *fileHA         `yaml:"ha"`
}

type fileHA struct {
	Etcd   []string `yaml:"etcd"`
	Lease  string   `yaml:"lease"`
	Name   string   `yaml:"name"`
	Prefix string   `yaml:"prefix"`
	TLS    *fileTLS `yaml:"tls"`
}

type fileController struct {
	Listen        string   `yaml:"listen"`
	TLS           *fileTLS `yaml:"tls"`
	HTTP          string   `yaml:"http"`
	Metrics       string   `yaml:"metrics"` // deprecated alias of http
	StatsInterval string   `yaml:"stats_interval"`
	EchoInterval  string   `yaml:"echo_interval"`
	EchoTimeout   string   `yaml:"echo_timeout"`
	PacketInRate  int      `yaml:"packet_in_rate"`
	PacketInBurst int      `yaml:"packet_in_burst"`

	MaxHandshakes          int    `yaml:"max_handshakes"`
	MaxHandshakesPerSource int    `yaml:"max_handshakes_per_source"`
	MaxMultipartBytes      int    `yaml:"max_multipart_bytes"`
	MaxMultipartBytesTotal int    `yaml:"max_multipart_bytes_total"`
	TakeoverProbeTimeout   string `yaml:"takeover_probe_timeout"`
}

type fileTLS struct {
	Cert string `yaml:"cert"`
	Key  string `yaml:"key"`
	CA   string `yaml:"ca"`
}

type fileSwitch struct {
	Name       string `yaml:"name"`
	DPID       string `yaml:"dpid"`
	TLSSubject string `yaml:"tls_subject"`
}

type fileLink struct {
	A string `yaml:"a"`
	B string `yaml:"b"`
}

type fileHost struct {
	Name   string   `yaml:"name"`
	Switch string   `yaml:"switch"`
	Port   string   `yaml:"port"`
	MAC    string   `yaml:"mac"`
	IPv4   []string `yaml:"ipv4"`
	IPv6   []string `yaml:"ipv6"`
}

type fileGateway struct {
	Name                 string   `yaml:"name"`
	MAC                  string   `yaml:"mac"`
	IPv4                 []string `yaml:"ipv4"`
	IPv6                 []string `yaml:"ipv6"`
	LinkLocal            string   `yaml:"link_local"`
	RouterAdvertisements bool     `yaml:"router_advertisements"`
	RA                   *fileRA  `yaml:"ra"`
}

type fileRA struct {
	Interval          string   `yaml:"interval"`
	RouterLifetime    string   `yaml:"router_lifetime"`
	HopLimit          string   `yaml:"hop_limit"`
	MTU               string   `yaml:"mtu"`
	Managed           bool     `yaml:"managed"`
	Other             bool     `yaml:"other"`
	Prefixes          []string `yaml:"prefixes"`
	ValidLifetime     string   `yaml:"valid_lifetime"`
	PreferredLifetime string   `yaml:"preferred_lifetime"`
	// PREF64 is "" (the default), "off", or a prefix.
	PREF64 string `yaml:"pref64"`
	// RDNSS and DNSSL are pointers so that an empty list (advertise
	// none) differs from an absent key (the default).
	RDNSS *[]string `yaml:"rdnss"`
	DNSSL []string  `yaml:"dnssl"`
}

type fileSplice46 struct {
	MAC      string           `yaml:"mac"`
	Pool6    string           `yaml:"pool6"`
	MTU6     string           `yaml:"mtu6"`
	Mode     string           `yaml:"mode"`
	Ports    []fileEnginePort `yaml:"ports"`
	Services []fileService    `yaml:"services"`
	Limits   *fileLimits      `yaml:"limits"`
	Timeouts *fileTimeouts    `yaml:"timeouts"`

	// WindowScale is a string so that an absent key ("") and 0 differ.
	WindowScale string           `yaml:"window_scale"`
	ALG         *fileSplice46ALG `yaml:"alg"`
}

type fileSplice46ALG struct {
	FTP *fileSplice46FTP `yaml:"ftp"`
}

type fileSplice46FTP struct {
	PassivePorts  string `yaml:"passive_ports"`
	ExpectTimeout string `yaml:"expect_timeout"`
	Expectations  string `yaml:"expectations"`
	Connections   string `yaml:"connections"`
}

type fileEnginePort struct {
	Interface string `yaml:"interface"`
	Switch    string `yaml:"switch"`
	Port      string `yaml:"port"`
	Ring      bool   `yaml:"ring"`
	Offload   bool   `yaml:"offload"`
}

type fileService struct {
	VIP          string        `yaml:"vip"`
	Port         string        `yaml:"port"`
	Select       string        `yaml:"select"`
	Backends     []fileBackend `yaml:"backends"`
	BackendsFile string        `yaml:"backends_file"`
	Default      string        `yaml:"default"`
	// BackendsFromDNS is a pointer so that an empty mapping still
	// turns the feature on (and its missing keys are reported).
	BackendsFromDNS *fileDNSBackends `yaml:"backends_from_dns"`
	ALG             string           `yaml:"alg"`
}

type fileBackend struct {
	Address string   `yaml:"address"`
	Match   []string `yaml:"match"`
	Default bool     `yaml:"default"`
}
