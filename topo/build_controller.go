package topo

import (
	"net/netip"
	"strings"
	"time"
)

// Defaults for the controller section. The echo interval matches the
// inactivity probe Open vSwitch uses towards its controller.
const (
	DefaultListen       = "tcp:0.0.0.0:6653"
	DefaultEchoInterval = 5 * time.Second
	DefaultEchoTimeout  = 15 * time.Second
	// DefaultHTTP serves /metrics, /healthz and the read API on loopback.
	DefaultHTTP          = "127.0.0.1:9464"
	DefaultStatsInterval = 10 * time.Second
)

func (b *builder) buildController(fc *fileController) {
	if fc == nil {
		fc = &fileController{}
	}
	c := &b.t.Controller
	listen := fc.Listen
	if listen == "" {
		listen = DefaultListen
	}
	c.Listen = b.listen("controller.listen", listen)

	switch {
	case fc.TLS != nil:
		c.TLS = &TLS{Cert: fc.TLS.Cert, Key: fc.TLS.Key, CA: fc.TLS.CA}
		if c.TLS.Cert == "" {
			b.p.add("controller.tls.cert", "missing certificate file")
		}
		if c.TLS.Key == "" {
			b.p.add("controller.tls.key", "missing key file")
		}
		if c.Listen.Scheme == "tcp" {
			b.p.add("controller.listen", "listen is %q but a tls section is given; use \"tls:\" to listen with TLS", listen)
		}
	case c.Listen.Scheme == "tls":
		b.p.add("controller.listen", "listen uses tls: but there is no controller.tls section with cert and key")
	}

	httpPath, httpAddr := "controller.http", fc.HTTP
	switch {
	case fc.HTTP != "" && fc.Metrics != "":
		b.p.add("controller.metrics", "metrics is the old name of http and both are given (line %d); keep http only", b.p.lines.line("controller.http"))
	case fc.Metrics != "":
		httpPath, httpAddr = "controller.metrics", fc.Metrics
		b.warn("controller.metrics", "deprecated: metrics is now called http (it also serves /healthz and the read API); rename the key")
	case fc.HTTP == "":
		httpAddr = DefaultHTTP
	}
	if httpAddr != "off" {
		ap, err := netip.ParseAddrPort(httpAddr)
		if err != nil || ap.Port() == 0 {
			b.p.add(httpPath, "malformed address %q (want 127.0.0.1:9464, [::1]:9464 or off)", httpAddr)
		}
		c.HTTP = ap
	}

	c.StatsInterval = b.duration("controller.stats_interval", fc.StatsInterval, DefaultStatsInterval)
	if c.StatsInterval > 0 && c.StatsInterval < time.Second {
		b.p.add("controller.stats_interval", "%v is too short (at least 1s, or 0 to turn polling off)", c.StatsInterval)
	}

	c.EchoInterval = b.duration("controller.echo_interval", fc.EchoInterval, DefaultEchoInterval)
	c.EchoTimeout = b.duration("controller.echo_timeout", fc.EchoTimeout, DefaultEchoTimeout)
	if c.EchoInterval < 100*time.Millisecond && fc.EchoInterval != "" {
		b.p.add("controller.echo_interval", "%v is too short (at least 100ms)", c.EchoInterval)
	}
	c.PacketInRate, c.PacketInBurst = fc.PacketInRate, fc.PacketInBurst
	if fc.PacketInRate < 0 {
		b.p.add("controller.packet_in_rate", "%d is negative (0 means unbounded)", fc.PacketInRate)
	}
	if fc.PacketInBurst < 0 {
		b.p.add("controller.packet_in_burst", "%d is negative", fc.PacketInBurst)
	}
	c.MaxHandshakes, c.MaxHandshakesPerSource = fc.MaxHandshakes, fc.MaxHandshakesPerSource
	c.MaxMultipartBytes, c.MaxMultipartBytesTotal = fc.MaxMultipartBytes, fc.MaxMultipartBytesTotal
	for _, v := range []struct {
		key string
		n   int
	}{
		{"max_handshakes", fc.MaxHandshakes}, {"max_handshakes_per_source", fc.MaxHandshakesPerSource},
		{"max_multipart_bytes", fc.MaxMultipartBytes}, {"max_multipart_bytes_total", fc.MaxMultipartBytesTotal},
	} {
		if v.n < 0 {
			b.p.add("controller."+v.key, "%d is negative (0 takes the default)", v.n)
		}
	}
	if fc.MaxMultipartBytes > 0 && fc.MaxMultipartBytesTotal > 0 && fc.MaxMultipartBytes > fc.MaxMultipartBytesTotal {
		b.p.add("controller.max_multipart_bytes", "%d is more than max_multipart_bytes_total (%d)", fc.MaxMultipartBytes, fc.MaxMultipartBytesTotal)
	}
	if fc.MaxHandshakes > 0 && fc.MaxHandshakesPerSource > fc.MaxHandshakes {
		b.p.add("controller.max_handshakes_per_source", "%d is more than max_handshakes (%d)", fc.MaxHandshakesPerSource, fc.MaxHandshakes)
	}
	c.TakeoverProbeTimeout = b.duration("controller.takeover_probe_timeout", fc.TakeoverProbeTimeout, 0)
	if fc.TakeoverProbeTimeout != "" && (c.TakeoverProbeTimeout < 10*time.Millisecond || c.TakeoverProbeTimeout > time.Minute) {
		b.p.add("controller.takeover_probe_timeout", "%v is out of range (10ms to 1m)", c.TakeoverProbeTimeout)
	}
	if c.EchoTimeout <= c.EchoInterval {
		b.p.add("controller.echo_timeout", "echo_timeout (%v) must be longer than echo_interval (%v)", c.EchoTimeout, c.EchoInterval)
	}
}

// listen reads "tcp:IP:PORT" or "tls:IP:PORT".
func (b *builder) listen(path, s string) Listen {
	scheme, rest, _ := strings.Cut(s, ":")
	if scheme != "tcp" && scheme != "tls" {
		b.p.add(path, "malformed listen address %q (want tcp:0.0.0.0:6653 or tls:[::]:6653)", s)
		return Listen{}
	}
	ap, err := netip.ParseAddrPort(rest)
	if err != nil || ap.Port() == 0 {
		b.p.add(path, "malformed listen address %q (want tcp:0.0.0.0:6653 or tls:[::]:6653)", s)
		return Listen{Scheme: scheme}
	}
	return Listen{Scheme: scheme, Addr: ap}
}

// duration reads an optional duration, using def when it is absent.
func (b *builder) duration(path, s string, def time.Duration) time.Duration {
	if s == "" {
		return def
	}
	d, err := parseDuration(s)
	if err != nil {
		b.p.add(path, "%v", err)
		return def
	}
	return d
}
