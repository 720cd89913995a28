package splice46

import (
	"io"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"

	"github.com/sixgate/sixgate/packet"
	"github.com/sixgate/sixgate/proxy46"
	"github.com/sixgate/sixgate/topo"
)

// dnsServer answers AAAA 2001:db8:5::80 for site.example on loopback.
func dnsServer(t *testing.T) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(q)
		if q.Question[0].Name == "site.example." && q.Question[0].Qtype == dns.TypeAAAA {
			rr, _ := dns.NewRR("site.example. 60 IN AAAA 2001:db8:5::80")
			m.Answer = append(m.Answer, rr)
		} else {
			m.Rcode = dns.RcodeNameError
		}
		_ = w.WriteMsg(m)
	})
	started := make(chan struct{})
	srv := &dns.Server{PacketConn: pc, Handler: h, NotifyStartedFunc: func() { close(started) }}
	go func() { _ = srv.ActivateAndServe() }()
	select {
	case <-started:
	case <-time.After(5 * time.Second):
		t.Fatal("DNS server did not start")
	}
	t.Cleanup(func() { _ = srv.Shutdown() })
	return pc.LocalAddr().String()
}

func dnsTopology(t *testing.T, server, rate string) *topo.Topology {
	t.Helper()
	top, err := topo.Parse("t.yaml", []byte(`
switches: [{name: s1, dpid: "0x1"}]
hosts: [{name: h1, switch: s1, port: 1, mac: "00:00:0a:00:00:01", ipv6: ["2001:db8:5::80"]}]
splice46:
  mac: "00:00:0a:00:00:42"
  pool6: "2001:db8:ffff::/96"
  services:
    - vip: "10.0.0.42"
      port: 80
      select: http-host
      backends_from_dns: {resolvers: ["`+server+`"], prefixes: ["2001:db8:5::/48"], port: 8080, rate: `+rate+`}
`))
	if err != nil {
		t.Fatal(err)
	}
	return top
}

func tcp4(t *testing.T, seq, ack uint32, syn bool, payload string) []byte {
	t.Helper()
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: net.IP{10, 0, 0, 3}, DstIP: net.IP{10, 0, 0, 42}}
	tcp := &layers.TCP{SrcPort: 40000, DstPort: 80, Seq: seq, Ack: ack, SYN: syn, ACK: !syn, Window: 64240}
	_ = tcp.SetNetworkLayerForChecksum(ip)
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
		ip, tcp, gopacket.Payload(payload)); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestDNSBackendsThroughTheApp: the app builds a resolver for the
// service, a held connection goes on when the answer comes, a reload
// keeps the resolver unless its settings change, and the metrics show it.
func TestDNSBackendsThroughTheApp(t *testing.T) {
	server := dnsServer(t)
	log := logrus.New()
	log.SetOutput(io.Discard)
	app, err := New(dnsTopology(t, server, "5"), logrus.NewEntry(log))
	if err != nil {
		t.Fatal(err)
	}
	defer app.dns.closeAll()
	e := app.Engine()
	out := packet.NewBatch(4, 2048)
	e.Handle(tcp4(t, 1000, 0, true, ""), out)
	if out.Len() != 1 {
		t.Fatalf("no SYN-ACK: %d packets", out.Len())
	}
	isn := uint32(0)
	{
		p := gopacket.NewPacket(out.Packets[0].Data, layers.LayerTypeIPv4, gopacket.Default)
		isn = p.Layer(layers.LayerTypeTCP).(*layers.TCP).Seq
	}
	out.Reset()
	e.Handle(tcp4(t, 1001, isn+1, false, ""), out)
	e.Handle(tcp4(t, 1001, isn+1, false, "GET / HTTP/1.1\r\nHost: site.example\r\n\r\n"), out)
	if out.Len() != 0 {
		t.Fatalf("%d packets before the answer", out.Len())
	}
	deadline := time.Now().Add(10 * time.Second)
	for e.Stats().DNSResolved == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("not resolved: %+v", e.Stats())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if st := e.Stats(); st.ByState[proxy46.StateBackendSyn] != 1 || st.DNSWaits != 1 {
		t.Fatalf("%+v", st)
	}

	first := app.dns.cur
	if err := app.Reload(dnsTopology(t, server, "5")); err != nil {
		t.Fatal(err)
	}
	if len(app.dns.cur) != 1 || fmtKeys(app.dns.cur) != fmtKeys(first) || app.dns.cur[fmtKeys(first)] != first[fmtKeys(first)] {
		t.Fatalf("resolver not kept: %v -> %v", fmtKeys(first), fmtKeys(app.dns.cur))
	}
	if err := app.Reload(dnsTopology(t, server, "7")); err != nil {
		t.Fatal(err)
	}
	if len(app.dns.cur) != 1 || fmtKeys(app.dns.cur) == fmtKeys(first) {
		t.Fatalf("resolver kept across a change: %v", fmtKeys(app.dns.cur))
	}
	for _, r := range first {
		if _, st := r.r.Lookup(netip.MustParseAddr("10.0.0.3"), "other.example"); st != proxy46.LookupFailed {
			t.Fatalf("old resolver still asks: %v", st)
		}
	}

	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(newDNSCollector(app.dns))
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range families {
		names = append(names, f.GetName())
	}
	if got := strings.Join(names, " "); !strings.Contains(got, "sixgate_splice46_dns_lookups_total") ||
		!strings.Contains(got, "sixgate_splice46_dns_query_results_total") {
		t.Fatalf("families: %s", got)
	}
}

func fmtKeys(m map[string]*dnsResolver) string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return strings.Join(ks, ",")
}
