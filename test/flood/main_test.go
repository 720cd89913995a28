package main

import (
	"net/netip"
	"testing"

	"github.com/sixgate/sixgate/packet"
)

var (
	target = netip.MustParseAddrPort("10.0.0.42:80")
	source = [4]byte{10, 9, 1, 2}
)

// TestSYN checks that the SYN flood's packets are valid to the byte.
func TestSYN(t *testing.T) {
	p := packet.IPv4(syn(make([]byte, 128), source, target, 12345, 4321))
	if !p.IsValid() || !p.HeaderChecksumOK() || p.IsFragment() || p.Protocol() != packet.ProtoTCP {
		t.Fatalf("invalid IPv4 header: %x", p)
	}
	if p.SrcAddr() != netip.AddrFrom4(source) || p.DstAddr() != target.Addr() {
		t.Fatalf("addresses %v -> %v", p.SrcAddr(), p.DstAddr())
	}
	seg := packet.TCP(p.Payload())
	if !seg.IsValid() || !packet.ChecksumOK(p.PseudoHeaderSum(packet.ProtoTCP, len(seg)), seg) {
		t.Fatalf("invalid TCP segment: %x", seg)
	}
	if seg.Flags() != packet.TCPFlagSYN || seg.Seq() != 12345 || seg.SrcPort() != 4321 || seg.DstPort() != 80 {
		t.Fatalf("segment flags %#x seq %d ports %d -> %d", seg.Flags(), seg.Seq(), seg.SrcPort(), seg.DstPort())
	}
	it := packet.NewTCPOptions(seg.Options())
	if !it.Next() || it.Kind() != packet.TCPOptMSS || it.Len() != packet.TCPOptMSSLen {
		t.Fatalf("options %x", seg.Options())
	}
}

// TestBreakPacket checks that each breakage makes the packet fail the
// check it is meant to fail.
func TestBreakPacket(t *testing.T) {
	broken := map[int]func(packet.IPv4) bool{
		0: func(p packet.IPv4) bool { return !packet.TCP(p.Payload()).IsValid() },
		1: func(p packet.IPv4) bool {
			seg := p.Payload()
			return !packet.ChecksumOK(p.PseudoHeaderSum(packet.ProtoTCP, len(seg)), seg)
		},
		2: func(p packet.IPv4) bool { return !packet.TCP(p.Payload()).IsValid() },
		3: func(p packet.IPv4) bool { return !packet.TCPOptionsOK(packet.TCP(p.Payload()).Options()) },
		4: func(p packet.IPv4) bool { return p.IsFragment() },
		5: func(p packet.IPv4) bool { return !p.IsValid() },
	}
	for how := range breakages {
		p := packet.IPv4(breakPacket(syn(make([]byte, 128), source, target, 1, 2), how))
		if !broken[how](p) {
			t.Errorf("breakage %d left the packet valid: %x", how, p)
		}
	}
}
