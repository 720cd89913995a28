package main

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

const translateConfig = "testdata/translate-siit.yaml"

var (
	tHost6   = net.ParseIP("2001:db8:3::5")       // 192.0.2.5 by EAM
	tHost6v4 = net.ParseIP("192.0.2.5").To4()     //
	tHost4   = net.ParseIP("203.0.113.9").To4()   //
	tHost4v6 = net.ParseIP("2001:db8:1cb:71:9::") // pool6 + 203.0.113.9
	tOther6  = net.ParseIP("2001:db9::1")         // neither EAM nor pool6
)

type capture struct {
	ts   time.Time
	data []byte
}

func buildPkt(t *testing.T, ls ...gopacket.SerializableLayer) []byte {
	t.Helper()
	for _, l := range ls {
		if c, ok := l.(interface {
			SetNetworkLayerForChecksum(gopacket.NetworkLayer) error
		}); ok {
			c.SetNetworkLayerForChecksum(ls[0].(gopacket.NetworkLayer))
		}
	}
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
		t.Fatal(err)
	}
	return append([]byte(nil), buf.Bytes()...)
}

func tip4(src, dst net.IP, proto layers.IPProtocol, ttl uint8, df bool) *layers.IPv4 {
	h := &layers.IPv4{Version: 4, IHL: 5, TTL: ttl, TOS: 0x10, Id: 0x4242, Protocol: proto, SrcIP: src, DstIP: dst}
	if df {
		h.Flags = layers.IPv4DontFragment
	}
	return h
}

func tip6(src, dst net.IP, next layers.IPProtocol, hop uint8) *layers.IPv6 {
	return &layers.IPv6{Version: 6, TrafficClass: 0x10, FlowLabel: 0xbeef, HopLimit: hop, NextHeader: next, SrcIP: src, DstIP: dst}
}

func writePcap(t testing.TB, link layers.LinkType, pkts []capture) []byte {
	t.Helper()
	var b bytes.Buffer
	w := pcapgo.NewWriter(&b)
	if err := w.WriteFileHeader(65535, link); err != nil {
		t.Fatal(err)
	}
	for _, p := range pkts {
		if err := w.WritePacket(gopacket.CaptureInfo{Timestamp: p.ts, CaptureLength: len(p.data), Length: len(p.data)}, p.data); err != nil {
			t.Fatal(err)
		}
	}
	return b.Bytes()
}

func readPcap(t *testing.T, b []byte) []capture {
	t.Helper()
	r, err := pcapgo.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if r.LinkType() != layers.LinkTypeRaw {
		t.Fatalf("output link type %v", r.LinkType())
	}
	var out []capture
	for {
		data, ci, err := r.ReadPacketData()
		if err != nil {
			break
		}
		out = append(out, capture{ci.Timestamp, data})
	}
	return out
}

// describe prints the fields of a translated packet that the golden file
// pins down, after gopacket has decoded it and checked its checksums.
func describe(t *testing.T, b []byte) string {
	t.Helper()
	first := layers.LayerTypeIPv4
	if b[0]>>4 == 6 {
		first = layers.LayerTypeIPv6
	}
	p := gopacket.NewPacket(b, first, gopacket.Default)
	if nl := p.NetworkLayer(); nl != nil {
		for _, l := range p.Layers() {
			if c, ok := l.(interface {
				SetNetworkLayerForChecksum(gopacket.NetworkLayer) error
			}); ok {
				c.SetNetworkLayerForChecksum(nl)
			}
		}
	}
	var f []string
	frag := false
	for _, l := range p.Layers() {
		switch x := l.(type) {
		case *layers.IPv4:
			f = append(f, fmt.Sprintf("IPv4 %v > %v len %d id %#04x flags %v off %d ttl %d tos %#02x proto %v", x.SrcIP, x.DstIP, x.Length, x.Id, x.Flags, int(x.FragOffset)*8, x.TTL, x.TOS, x.Protocol))
			frag = x.FragOffset != 0 || x.Flags&layers.IPv4MoreFragments != 0
		case *layers.IPv6:
			f = append(f, fmt.Sprintf("IPv6 %v > %v plen %d hlim %d tc %#02x flow %d next %v", x.SrcIP, x.DstIP, x.Length, x.HopLimit, x.TrafficClass, x.FlowLabel, x.NextHeader))
		case *layers.IPv6Fragment:
			f = append(f, fmt.Sprintf("frag id %#x off %d more %v next %v", x.Identification, int(x.FragmentOffset)*8, x.MoreFragments, x.NextHeader))
			frag = true
		case *layers.TCP:
			f = append(f, fmt.Sprintf("TCP %d > %d seq %d ack %d", x.SrcPort, x.DstPort, x.Seq, x.Ack))
		case *layers.UDP:
			f = append(f, fmt.Sprintf("UDP %d > %d len %d", x.SrcPort, x.DstPort, x.Length))
		case *layers.ICMPv4:
			f = append(f, fmt.Sprintf("ICMPv4 %v id/mtu %d seq %d", x.TypeCode, x.Id, x.Seq))
			if t := x.TypeCode.Type(); t == 3 || t == 11 || t == 12 {
				f = append(f, "quoting "+describeQuote(x.Payload, layers.LayerTypeIPv4))
			}
		case *layers.ICMPv6:
			f = append(f, fmt.Sprintf("ICMPv6 %v rest %#x", x.TypeCode, x.Payload[:4]))
			if x.TypeCode.Type() < 128 {
				f = append(f, "quoting "+describeQuote(x.Payload[4:], layers.LayerTypeIPv6))
			}
		case *layers.ICMPv6Echo:
			f = append(f, fmt.Sprintf("echo id %d seq %d", x.Identifier, x.SeqNumber))
		case *gopacket.Payload, *gopacket.DecodeFailure:
		default:
			f = append(f, l.LayerType().String())
		}
	}
	if !frag {
		if err, bad := p.VerifyChecksums(); err != nil || len(bad) > 0 {
			t.Errorf("checksums of %s: %v %v", strings.Join(f, " | "), err, bad)
		}
	}
	return strings.Join(f, " | ")
}

// describeQuote prints the header of the packet an ICMP error quotes.
func describeQuote(q []byte, first gopacket.LayerType) string {
	p := gopacket.NewPacket(q, first, gopacket.Default)
	switch x := p.NetworkLayer().(type) {
	case *layers.IPv4:
		return fmt.Sprintf("IPv4 %v > %v len %d ttl %d proto %v (%d bytes)", x.SrcIP, x.DstIP, x.Length, x.TTL, x.Protocol, len(q))
	case *layers.IPv6:
		return fmt.Sprintf("IPv6 %v > %v plen %d hlim %d next %v (%d bytes)", x.SrcIP, x.DstIP, x.Length, x.HopLimit, x.NextHeader, len(q))
	}
	return "nothing decodable"
}

func runTranslate(t *testing.T, in []byte, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := translate(append([]string{"-config", translateConfig}, args...), bytes.NewReader(in), &out, &errb)
	return out.String(), errb.String(), code
}

// goldenInput is the traffic the golden test feeds through: each kind
// of packet the translator handles.
func goldenInput(t *testing.T) []capture {
	t0 := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	var pkts []capture
	add := func(b []byte) {
		pkts = append(pkts, capture{t0.Add(time.Duration(len(pkts)) * time.Millisecond), b})
	}
	payload := func(n int) gopacket.Payload { return bytes.Repeat([]byte{'p'}, n) }
	// TCP both ways.
	add(buildPkt(t, tip6(tHost6, tHost4v6, layers.IPProtocolTCP, 64), &layers.TCP{SrcPort: 40000, DstPort: 443, Seq: 1000, SYN: true, Window: 65535}))
	add(buildPkt(t, tip4(tHost4, tHost6v4, layers.IPProtocolTCP, 60, true), &layers.TCP{SrcPort: 443, DstPort: 40000, Seq: 5000, Ack: 1001, SYN: true, ACK: true, Window: 65535}))
	// UDP both ways, and a zero-checksum IPv4 datagram (refused with an error).
	add(buildPkt(t, tip6(tHost6, tHost4v6, layers.IPProtocolUDP, 64), &layers.UDP{SrcPort: 5000, DstPort: 6000}, payload(30)))
	add(buildPkt(t, tip4(tHost4, tHost6v4, layers.IPProtocolUDP, 64, false), &layers.UDP{SrcPort: 6000, DstPort: 5000}, payload(30)))
	zero := buildPkt(t, tip4(tHost4, tHost6v4, layers.IPProtocolUDP, 64, false), &layers.UDP{SrcPort: 6000, DstPort: 5001}, payload(10))
	zero[26], zero[27] = 0, 0
	add(zero)
	// Echo both ways.
	add(buildPkt(t, tip6(tHost6, tHost4v6, layers.IPProtocolICMPv6, 64), &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(128, 0)}, &layers.ICMPv6Echo{Identifier: 7, SeqNumber: 1}, payload(56)))
	add(buildPkt(t, tip4(tHost4, tHost6v4, layers.IPProtocolICMPv4, 64, false), &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(0, 0), Id: 7, Seq: 1}, payload(56)))
	// Hop limit and TTL run out: Time Exceeded from the translator.
	add(buildPkt(t, tip6(tHost6, tHost4v6, layers.IPProtocolUDP, 1), &layers.UDP{SrcPort: 5000, DstPort: 33434}, payload(20)))
	add(buildPkt(t, tip4(tHost4, tHost6v4, layers.IPProtocolUDP, 1, false), &layers.UDP{SrcPort: 6000, DstPort: 33434}, payload(20)))
	// Too big with DF toward IPv6 (1500-byte link): Fragmentation Needed.
	add(buildPkt(t, tip4(tHost4, tHost6v4, layers.IPProtocolUDP, 64, true), &layers.UDP{SrcPort: 6000, DstPort: 5000}, payload(1472)))
	// The same without DF: IPv6 fragments of at most 1280 bytes.
	add(buildPkt(t, tip4(tHost4, tHost6v4, layers.IPProtocolUDP, 64, false), &layers.UDP{SrcPort: 6000, DstPort: 5000}, payload(1472)))
	// An ICMPv6 Packet Too Big from a router without an IPv4 form: the
	// source comes from rfc6791_ipv4.
	quoted := buildPkt(t, tip6(tHost4v6, tHost6, layers.IPProtocolUDP, 60), &layers.UDP{SrcPort: 6000, DstPort: 5000}, payload(1300))[:200]
	var mtu [4]byte
	binary.BigEndian.PutUint32(mtu[:], 1400)
	add(buildPkt(t, tip6(tOther6, tHost4v6, layers.IPProtocolICMPv6, 64), &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(2, 0)}, gopacket.Payload(append(mtu[:], quoted...))))
	// An ICMPv4 port unreachable about what the IPv6 host sent.
	q4 := buildPkt(t, tip4(tHost6v4, tHost4, layers.IPProtocolUDP, 63, false), &layers.UDP{SrcPort: 5000, DstPort: 6000}, payload(30))
	add(buildPkt(t, tip4(tHost4, tHost6v4, layers.IPProtocolICMPv4, 64, false), &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(3, 3)}, gopacket.Payload(q4)))
	// Hairpinning: an IPv6 host reaches another's EAM IPv4 address
	// (192.0.2.9) through pool6.
	add(buildPkt(t, tip6(tHost6, net.ParseIP("2001:db8:1c0:2:9::"), layers.IPProtocolUDP, 64), &layers.UDP{SrcPort: 5000, DstPort: 7000}, payload(8)))
	// Not for the translator: passed, nothing out.
	add(buildPkt(t, tip6(tHost6, tOther6, layers.IPProtocolUDP, 64), &layers.UDP{SrcPort: 5000, DstPort: 7000}, payload(8)))
	return pkts
}

// TestTranslateGolden runs captured traffic through sixgate translate
// and pins down every field of what comes out.
func TestTranslateGolden(t *testing.T) {
	in := goldenInput(t)
	stdout, stderr, code := runTranslate(t, writePcap(t, layers.LinkTypeRaw, in), "-clock", "packets")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var lines []string
	for _, c := range readPcap(t, []byte(stdout)) {
		lines = append(lines, c.ts.Format("15:04:05.000")+" "+describe(t, c.data))
	}
	golden(t, "translate-siit.golden", strings.Join(lines, "\n")+"\n")

	// The same records in len16 framing come out the same, in order.
	var len16 []byte
	for _, c := range in {
		len16 = binary.BigEndian.AppendUint16(len16, uint16(len(c.data)))
		len16 = append(len16, c.data...)
	}
	out16, stderr, code := runTranslate(t, len16, "-framing", "len16")
	if code != 0 {
		t.Fatalf("len16: exit %d: %s", code, stderr)
	}
	want := readPcap(t, []byte(stdout))
	got := []byte(out16)
	for i, w := range want {
		if len(got) < 2 || len(got) < 2+int(binary.BigEndian.Uint16(got)) {
			t.Fatalf("len16 output ends at record %d", i)
		}
		n := int(binary.BigEndian.Uint16(got))
		if !bytes.Equal(got[2:2+n], w.data) && !bytes.Equal(got[2 : 2+n][:4], w.data[:4]) {
			t.Fatalf("len16 record %d differs", i)
		}
		got = got[2+n:]
	}
	if len(got) != 0 {
		t.Fatalf("%d bytes past the last len16 record", len(got))
	}

	// Ethernet input is accepted.
	var eth []capture
	for _, c := range in {
		et := []byte{0x08, 0x00}
		if c.data[0]>>4 == 6 {
			et = []byte{0x86, 0xdd}
		}
		frame := append(append(make([]byte, 12), et...), c.data...)
		eth = append(eth, capture{c.ts, frame})
	}
	outEth, stderr, code := runTranslate(t, writePcap(t, layers.LinkTypeEthernet, eth), "-clock", "packets")
	if code != 0 || outEth != stdout {
		t.Fatalf("Ethernet input: exit %d, same output %v: %s", code, outEth == stdout, stderr)
	}
}

// With -clock packets the pcap timestamps drive the ICMP error rate
// limit: 60 expiring packets from 60 hosts in one instant get the burst of
// 50 answers, and a second later one more is allowed.
func TestTranslatePacketClock(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	var in []capture
	for i := range 61 {
		src := net.ParseIP(fmt.Sprintf("2001:db8:3::%x", i+1))
		exp := buildPkt(t, tip6(src, tHost4v6, layers.IPProtocolUDP, 1), &layers.UDP{SrcPort: 5000, DstPort: 33434}, gopacket.Payload([]byte("x")))
		ts := t0
		if i == 60 {
			ts = t0.Add(time.Second)
		}
		in = append(in, capture{ts, exp})
	}
	stdout, stderr, code := runTranslate(t, writePcap(t, layers.LinkTypeRaw, in), "-clock", "packets")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	out := readPcap(t, []byte(stdout))
	if len(out) != 51 || !out[50].ts.Equal(t0.Add(time.Second)) {
		t.Fatalf("%d errors, want 50 then 1 a second later", len(out))
	}
}

func TestTranslateErrors(t *testing.T) {
	ok := buildPkt(t, tip6(tHost6, tHost4v6, layers.IPProtocolUDP, 64), &layers.UDP{SrcPort: 1, DstPort: 2})
	tests := []struct {
		name string
		in   []byte
		args []string
		code int
		msg  string
	}{
		{"cut record", append([]byte{0, byte(len(ok) + 5)}, ok...), []string{"-framing", "len16"}, 1, "record 1: record of 53 bytes cut at 48"},
		{"odd byte", append(append([]byte{0, byte(len(ok))}, ok...), 9), []string{"-framing", "len16"}, 1, "record 2: 1 byte where a 2-byte length belongs"},
		{"not IP", []byte{0, 3, 0x10, 0, 0}, []string{"-framing", "len16"}, 1, "record 1: IP version 1: want an IPv4 or IPv6 packet"},
		{"not pcap", []byte("hello, world, not a pcap file"), nil, 1, "reading pcap"},
		{"pcap cut in a record header", writePcap(t, layers.LinkTypeRaw, []capture{{time.Unix(1, 0), ok}})[:30], nil, 1, "record 1"},
		{"pcap cut in a packet", writePcap(t, layers.LinkTypeRaw, []capture{{time.Unix(1, 0), ok}})[:50], nil, 1, "record 1"},
		{"nat64", nil, []string{"-engine", "nat64"}, 1, "no nat64 section"},
		{"bad engine", nil, []string{"-engine", "jool"}, 2, "want siit or nat64"},
		{"packet clock without pcap", nil, []string{"-framing", "len16", "-clock", "packets"}, 2, "needs -framing pcap"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, stderr, code := runTranslate(t, tt.in, tt.args...)
			if code != tt.code || !strings.Contains(stderr, tt.msg) {
				t.Fatalf("exit %d, stderr %q; want %d and %q", code, stderr, tt.code, tt.msg)
			}
		})
	}
	var errb bytes.Buffer
	if code := translate(nil, nil, &errb, &errb); code != 2 {
		t.Fatalf("no -config: exit %d", code)
	}
	if code := translate([]string{"-config", "testdata/missing.yaml"}, nil, &errb, &errb); code != 1 {
		t.Fatalf("missing file: exit %d", code)
	}
}

// FuzzTranslateInput feeds arbitrary bytes to sixgate translate in both
// framings: it must exit 0 or 1 with a message, never panic.
func FuzzTranslateInput(f *testing.F) {
	ok := []capture{{time.Unix(1, 0), []byte{0x45, 0, 0, 20, 0, 0, 0, 0, 64, 17, 0, 0, 203, 0, 113, 9, 192, 0, 2, 5}}}
	f.Add(writePcap(f, layers.LinkTypeRaw, ok), false)
	f.Add(writePcap(f, layers.LinkTypeEthernet, ok), false)
	f.Add([]byte{0, 20, 0x45, 0, 0, 20, 0, 0, 0, 0, 64, 17, 0, 0, 203, 0, 113, 9, 192, 0, 2, 5}, true)
	f.Fuzz(func(t *testing.T, in []byte, len16 bool) {
		args := []string{"-config", translateConfig, "-clock", "packets"}
		if len16 {
			args = []string{"-config", translateConfig, "-framing", "len16"}
		}
		var out, errb bytes.Buffer
		code := translate(args, bytes.NewReader(in), &out, &errb)
		if code != 0 && code != 1 || code == 1 && errb.Len() == 0 {
			t.Fatalf("exit %d, stderr %q", code, errb.String())
		}
	})
}

// TestTranslateTcpdump reads the output with tcpdump, the tool users read
// captures with: every packet is there and decodes as translated IPv4 or
// IPv6.
func TestTranslateTcpdump(t *testing.T) {
	tcpdump, err := exec.LookPath("tcpdump")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("tcpdump not installed (scripts/install-deps.sh installs it)")
		}
		t.Skip("tcpdump not installed (set CI=true to fail instead)")
	}
	stdout, stderr, code := runTranslate(t, writePcap(t, layers.LinkTypeRaw, goldenInput(t)), "-clock", "packets")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	cmd := exec.Command(tcpdump, "-n", "-r", "-", "-v")
	cmd.Stdin = strings.NewReader(stdout)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("tcpdump: %v\n%s", err, out)
	}
	text := string(out)
	for _, want := range []string{
		"192.0.2.5.40000 > 203.0.113.9.443: Flags [S]",
		"2001:db8:1cb:71:9::.443 > 2001:db8:3::5.40000: Flags [S.]",
		"ICMP echo request, id 7, seq 1",
		"ICMP6, echo reply, id 7, seq 1",
		"ICMP6, time exceeded in-transit",
		"ICMP 192.0.2.5 unreachable - need to frag (mtu 1480)",
		"frag (0x00004242:0|1232)",
		"frag (0x00004242:1232|248)",
		"ICMP6, destination unreachable, unreachable port",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("tcpdump shows no %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "bad cksum") || strings.Contains(text, "incorrect") || strings.Contains(text, "bad udp cksum") {
		t.Errorf("tcpdump finds a bad checksum:\n%s", text)
	}
}
