package main

import (
	"bytes"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

var (
	nHost1  = net.ParseIP("2001:db8::5")
	nHost2  = net.ParseIP("2001:db8::6") // static binding 192.0.2.2:2053 <- :53
	nPool4  = net.ParseIP("192.0.2.2").To4()
	nPool46 = net.ParseIP("64:ff9b::c000:202")
	nR4     = net.ParseIP("203.0.113.9").To4()
	nR46    = net.ParseIP("64:ff9b::cb00:7109")
	nRouter = net.ParseIP("198.51.100.7").To4()
)

// TestTranslateNAT64Golden feeds the NAT64 the cases of RFC 6146 that
// need state across records, with the packets' clock driving its timers:
// UDP out and back, an ICMP error through the session, a simultaneous
// open, an unsolicited SYN answered after 6 s, hairpinning (and an ICMP
// error hairpinned), echo, and a session expiring on its timer.
func TestTranslateNAT64Golden(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	var in []capture
	at := time.Duration(0)
	add := func(d time.Duration, b []byte) {
		at += d
		in = append(in, capture{t0.Add(at), b})
	}
	ms := time.Millisecond
	udpOut := buildPkt(t, tip6(nHost1, nR46, layers.IPProtocolUDP, 64), &layers.UDP{SrcPort: 2000, DstPort: 5300}, gopacket.Payload("query"))
	add(ms, udpOut)
	udpBack := buildPkt(t, tip4(nR4, nPool4, layers.IPProtocolUDP, 64, true), &layers.UDP{SrcPort: 5300, DstPort: 2000}, gopacket.Payload("answer"))
	add(ms, udpBack)
	// What the NAT64 sent for udpOut, quoted by a router.
	sent := buildPkt(t, tip4(nPool4, nR4, layers.IPProtocolUDP, 10, false), &layers.UDP{SrcPort: 2000, DstPort: 5300}, gopacket.Payload("query"))
	add(ms, buildPkt(t, tip4(nRouter, nPool4, layers.IPProtocolICMPv4, 64, false), &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(11, 0)}, gopacket.Payload(sent)))
	// Simultaneous open: the remote's SYN is held, host1's SYN makes the
	// session, the remote's SYN again completes it.
	syn4 := buildPkt(t, tip4(nR4, nPool4, layers.IPProtocolTCP, 64, true), &layers.TCP{SrcPort: 80, DstPort: 2100, SYN: true, Seq: 1000, Window: 100})
	add(ms, syn4)
	add(ms, buildPkt(t, tip6(nHost1, nR46, layers.IPProtocolTCP, 64), &layers.TCP{SrcPort: 2100, DstPort: 80, SYN: true, Seq: 5000, Window: 100}))
	add(ms, syn4)
	// An unsolicited SYN to another port: port unreachable after 6 s.
	add(ms, buildPkt(t, tip4(nR4, nPool4, layers.IPProtocolTCP, 64, true), &layers.TCP{SrcPort: 81, DstPort: 2200, SYN: true, Seq: 7, Window: 100}))
	// Hairpinning: host1 reaches host2's static binding through pool4,
	// host2 answers, host1 refuses the answer with an ICMPv6 error.
	add(ms, buildPkt(t, tip6(nHost1, nPool46, layers.IPProtocolUDP, 64), &layers.UDP{SrcPort: 2001, DstPort: 2053}, gopacket.Payload("hi")))
	back := buildPkt(t, tip6(nHost2, nPool46, layers.IPProtocolUDP, 64), &layers.UDP{SrcPort: 53, DstPort: 2001}, gopacket.Payload("ho"))
	add(ms, back)
	got := buildPkt(t, tip6(nPool46, nHost1, layers.IPProtocolUDP, 62), &layers.UDP{SrcPort: 2053, DstPort: 2001}, gopacket.Payload("ho"))
	add(ms, buildPkt(t, tip6(nHost1, nPool46, layers.IPProtocolICMPv6, 64), &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(1, 4)}, gopacket.Payload(append([]byte{0, 0, 0, 0}, got...))))
	// Echo out and back.
	add(ms, buildPkt(t, tip6(nHost1, nR46, layers.IPProtocolICMPv6, 64), &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(128, 0)}, &layers.ICMPv6Echo{Identifier: 9, SeqNumber: 1}))
	add(ms, buildPkt(t, tip4(nR4, nPool4, layers.IPProtocolICMPv4, 64, false), &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(0, 0), Id: 9, Seq: 1}))
	// 7 s later: the held SYN is answered; 31 s later the UDP session
	// is gone and the answer gets port unreachable.
	add(7*time.Second, udpBack)
	add(31*time.Second, udpBack)

	var out, errb bytes.Buffer
	code := translate([]string{"-config", "testdata/translate-nat64.yaml", "-clock", "packets"}, bytes.NewReader(writePcap(t, layers.LinkTypeRaw, in)), &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if !strings.Contains(errb.String(), "udp 30s is below the RFC 6146 minimum") {
		t.Errorf("no warning for the short timeout: %q", errb.String())
	}
	var lines []string
	for _, c := range readPcap(t, out.Bytes()) {
		lines = append(lines, c.ts.Format("15:04:05.000")+" "+describe(t, c.data))
	}
	golden(t, "translate-nat64.golden", strings.Join(lines, "\n")+"\n")
}
