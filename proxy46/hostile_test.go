package proxy46

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/sixgate/sixgate/packet"
)

// hostileEngine is an engine in the state FuzzHandle starts from: one
// connection established (client port 50000 to port 22), one holding 18
// bytes of an HTTP request (41000+8000 to 8000), one waiting for its
// backend (41080 to 80) with one byte held.
func hostileEngine(t *testing.T) (*Engine, [][]byte, []byte, []byte) {
	t.Helper()
	setup, p4, p6 := fuzzSetup(t)
	e, _ := newTestEngine(t, func(c *Config) { *c = fuzzConfig(newFakeClock()) })
	out := packet.NewBatch(8, 2048)
	for _, p := range setup {
		out.Reset()
		e.Handle(p, out)
	}
	return e, setup, p4, p6
}

// refix4 recomputes the IPv4 header and TCP checksums of a packet built
// by pkt4 and then edited.
func refix4(p []byte) []byte {
	ip := packet.IPv4(p)
	ip.SetChecksum(0)
	ip.SetChecksum(packet.Checksum(0, ip[:ip.HeaderLength()]))
	seg := packet.TCP(p[ip.HeaderLength():])
	seg.SetChecksum(0)
	seg.SetChecksum(packet.Checksum(ip.PseudoHeaderSum(packet.ProtoTCP, len(seg)), seg))
	return p
}

// refix6 recomputes the TCP checksum of an IPv6 packet.
func refix6(p []byte) []byte {
	seg := packet.TCP(p[packet.IPv6HeaderLen:])
	seg.SetChecksum(0)
	seg.SetChecksum(packet.Checksum(packet.IPv6(p).PseudoHeaderSum(packet.ProtoTCP, len(seg)), seg))
	return p
}

// badOpts is an option list whose last option claims more bytes than the
// header has: NOP, NOP, then a timestamp of length 10 with 6 bytes left.
func badOpts(p []byte, ihl int) []byte {
	// Rewrite the first option bytes of a segment with 12 bytes of
	// options (NOP NOP TS) so that the TS length runs past the header.
	opts := p[ihl+packet.TCPMinLen:]
	opts[2], opts[3] = packet.TCPOptTimestamps, 14
	return p
}

// ptb builds an ICMPv6 Packet Too Big to client6 quoting q.
func ptb(t testing.TB, q []byte) []byte {
	router := backendA.Addr()
	icmp := &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(layers.ICMPv6TypePacketTooBig, 0)}
	ip6 := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolICMPv6,
		SrcIP: router.AsSlice(), DstIP: client6.AsSlice()}
	icmp.SetNetworkLayerForChecksum(ip6)
	body := binary.BigEndian.AppendUint32(nil, 1280)
	return serialize(t, ip6, icmp, gopacket.Payload(append(body, q...)))
}

// hostileCase is one kind of bad input. build may feed packets first
// (through send, which records them) and returns the packet under test.
type hostileCase struct {
	name    string
	build   func(t *testing.T, e *Engine, send func([]byte) []decoded, p4, p6 []byte) []byte
	verdict packet.Verdict
	reason  DropReason // numDropReasons: none counted
	check   func(t *testing.T, e *Engine, ds []decoded)
}

var tsOnly = []layers.TCPOption{optNOPv(), optNOPv(), optTS(300, 0)}

func hostileCases() []hostileCase {
	synOpts := []layers.TCPOption{optMSSv(1400), optSACKOK(), optTS(300, 0), optNOPv(), optWS(7)}
	syn := func(t *testing.T, port uint16, payload string) []byte {
		return pkt4(t, client4, vip, port, 8000, seg{seq: 7000, flags: "S", opts: synOpts, payload: []byte(payload)})
	}
	// cookieACK answers a cookie SYN-ACK as a client would.
	cookieACK := func(t *testing.T, sa decoded, cport uint16, cookie uint32, payload string) []byte {
		tsv, _ := tsOf(t, sa.tcp)
		return pkt4(t, client4, vip, cport, 8000, seg{seq: 7001, ack: cookie + 1, flags: "PA",
			opts: []layers.TCPOption{optNOPv(), optNOPv(), optTS(301, tsv)}, payload: []byte(payload)})
	}
	const isnC, isnB = 1, 900 // the established connection's ISNs
	return []hostileCase{
		{name: "ipv4-truncated", verdict: packet.Drop, reason: DropMalformed,
			build: func(t *testing.T, e *Engine, send func([]byte) []decoded, p4, p6 []byte) []byte {
				return p4[:30]
			}},
		{name: "tcp-truncated", verdict: packet.Drop, reason: DropMalformed,
			build: func(t *testing.T, e *Engine, send func([]byte) []decoded, p4, p6 []byte) []byte {
				p := append([]byte(nil), p4[:30]...)
				binary.BigEndian.PutUint16(p[packet.IPv4TotalLength:], 30)
				packet.IPv4(p).SetChecksum(0)
				packet.IPv4(p).SetChecksum(packet.Checksum(0, p[:20]))
				return p
			}},
		{name: "ipv6-truncated", verdict: packet.Drop, reason: DropMalformed,
			build: func(t *testing.T, e *Engine, send func([]byte) []decoded, p4, p6 []byte) []byte {
				return p6[:60]
			}},
		{name: "ihl-too-small", verdict: packet.Drop, reason: DropBadHeaderLength,
			build: func(t *testing.T, e *Engine, send func([]byte) []decoded, p4, p6 []byte) []byte {
				p := append([]byte(nil), p4...)
				p[0] = 0x44
				return p
			}},
		{name: "ihl-beyond-packet", verdict: packet.Drop, reason: DropBadHeaderLength,
			build: func(t *testing.T, e *Engine, send func([]byte) []decoded, p4, p6 []byte) []byte {
				p := append([]byte(nil), p4[:40]...)
				p[0] = 0x4f
				binary.BigEndian.PutUint16(p[packet.IPv4TotalLength:], 40)
				return p
			}},
		{name: "ipv4-checksum", verdict: packet.Drop, reason: DropIPChecksum,
			build: func(t *testing.T, e *Engine, send func([]byte) []decoded, p4, p6 []byte) []byte {
				p := append([]byte(nil), p4...)
				p[packet.IPv4Checksum] ^= 0x40
				return p
			}},
		{name: "data-offset-too-small", verdict: packet.Drop, reason: DropBadHeaderLength,
			build: func(t *testing.T, e *Engine, send func([]byte) []decoded, p4, p6 []byte) []byte {
				p := append([]byte(nil), p4...)
				p[20+packet.TCPDataOffset] = 4 << 4
				return refix4(p)
			}},
		{name: "data-offset-beyond-segment", verdict: packet.Drop, reason: DropBadHeaderLength,
			build: func(t *testing.T, e *Engine, send func([]byte) []decoded, p4, p6 []byte) []byte {
				p := append([]byte(nil), p6[:40+32]...)
				binary.BigEndian.PutUint16(p[packet.IPv6PayloadLength:], 32)
				p[40+packet.TCPDataOffset] = 15 << 4
				return refix6(p)
			}},
		{name: "tcp-checksum-syn", verdict: packet.Drop, reason: DropTCPChecksum,
			build: func(t *testing.T, e *Engine, send func([]byte) []decoded, p4, p6 []byte) []byte {
				p := syn(t, 42000, "")
				p[20+packet.TCPChecksum] ^= 1
				return p
			},
			check: func(t *testing.T, e *Engine, ds []decoded) {
				if len(ds) != 0 {
					t.Errorf("answered a corrupted SYN")
				}
			}},
		{name: "tcp-checksum-synack", verdict: packet.Drop, reason: DropTCPChecksum,
			build: func(t *testing.T, e *Engine, send func([]byte) []decoded, p4, p6 []byte) []byte {
				p := pkt6(t, backendC.Addr(), client6, 80, 41080, seg{seq: 5, ack: 5001, flags: "SA"})
				p[40+packet.TCPChecksum] ^= 1
				return p
			}},
		{name: "tcp-checksum-established-passes-bad", verdict: packet.Consumed, reason: numDropReasons,
			build: func(t *testing.T, e *Engine, send func([]byte) []decoded, p4, p6 []byte) []byte {
				p := append([]byte(nil), p4...)
				p[20+packet.TCPChecksum] ^= 1
				return p
			},
			check: func(t *testing.T, e *Engine, ds []decoded) {
				// The incremental update carries the error through: the
				// backend sees a wrong checksum and drops the segment.
				out := packet.NewBatch(1, 2048)
				_, _, p4, _ := hostileEngine(t)
				p := append([]byte(nil), p4...)
				p[20+packet.TCPChecksum] ^= 1
				e.Handle(p, out)
				ip := packet.IPv6(out.Packets[0].Data)
				if packet.ChecksumOK(ip.PseudoHeaderSum(packet.ProtoTCP, len(ip.Payload())), ip.Payload()) {
					t.Errorf("a bad checksum came out good")
				}
			}},
		{name: "options-overrun-syn", verdict: packet.Drop, reason: DropBadOptions,
			build: func(t *testing.T, e *Engine, send func([]byte) []decoded, p4, p6 []byte) []byte {
				p := pkt4(t, client4, vip, 42001, 8000, seg{seq: 7000, flags: "S", opts: tsOnly})
				return refix4(badOpts(p, 20))
			}},
		{name: "options-overrun-established", verdict: packet.Drop, reason: DropBadOptions,
			build: func(t *testing.T, e *Engine, send func([]byte) []decoded, p4, p6 []byte) []byte {
				return refix4(badOpts(append([]byte(nil), p4...), 20))
			},
			check: func(t *testing.T, e *Engine, ds []decoded) {
				if len(ds) != 0 {
					t.Errorf("%d packets out", len(ds))
				}
			}},
		{name: "options-overrun-backend", verdict: packet.Drop, reason: DropBadOptions,
			build: func(t *testing.T, e *Engine, send func([]byte) []decoded, p4, p6 []byte) []byte {
				return refix6(badOpts(append([]byte(nil), p6...), 40))
			}},
		{name: "fragment-first", verdict: packet.Drop, reason: DropFragment,
			build: func(t *testing.T, e *Engine, send func([]byte) []decoded, p4, p6 []byte) []byte {
				p := append([]byte(nil), p4...)
				binary.BigEndian.PutUint16(p[packet.IPv4FlagsFrag:], packet.IPv4FlagMF)
				return refix4(p)
			}},
		{name: "fragment-later", verdict: packet.Drop, reason: DropFragment,
			build: func(t *testing.T, e *Engine, send func([]byte) []decoded, p4, p6 []byte) []byte {
				p := append([]byte(nil), p4...)
				binary.BigEndian.PutUint16(p[packet.IPv4FlagsFrag:], 185)
				return refix4(p)
			}},
		{name: "fragment-ipv6", verdict: packet.Drop, reason: DropFragment,
			build: func(t *testing.T, e *Engine, send func([]byte) []decoded, p4, p6 []byte) []byte {
				p := append([]byte(nil), p6...)
				p[packet.IPv6NextHeader] = packet.ProtoFragment
				return p
			}},
		{name: "icmpv4-to-vip", verdict: packet.Drop, reason: DropICMPUnhandled,
			build: func(t *testing.T, e *Engine, send func([]byte) []decoded, p4, p6 []byte) []byte {
				// An ICMP error from the client side: not answered, not
				// translated.
				p := append([]byte(nil), p4...)
				p[packet.IPv4Protocol] = packet.ProtoICMPv4
				p = refix4(p)
				icmp := packet.ICMP(p[20:])
				icmp[packet.ICMPType], icmp[packet.ICMPCode] = packet.ICMPv4DestUnreachable, packet.ICMPv4CodePortUnreachable
				icmp.SetChecksum(0)
				icmp.SetChecksum(packet.Checksum(0, icmp))
				return p
			}},
		{name: "syn-with-data", verdict: packet.Consumed, reason: DropSYNData,
			build: func(t *testing.T, e *Engine, send func([]byte) []decoded, p4, p6 []byte) []byte {
				return syn(t, 42002, "GET / HTTP/1.1\r\n")
			},
			check: func(t *testing.T, e *Engine, ds []decoded) {
				if len(ds) != 1 || !ds[0].tcp.SYN || ds[0].tcp.Ack != 7001 {
					t.Errorf("SYN with data not answered acknowledging the SYN alone: %+v", ds)
				}
			}},
		{name: "rst-out-of-window", verdict: packet.Drop, reason: DropRSTOutOfWindow,
			build: func(t *testing.T, e *Engine, send func([]byte) []decoded, p4, p6 []byte) []byte {
				return pkt4(t, client4, vip, 50000, 22, seg{seq: isnC + 1 + 1<<20, flags: "R"})
			},
			check: func(t *testing.T, e *Engine, ds []decoded) {
				if len(ds) != 0 || e.Stats().ByState[StateEstablished] != 1 {
					t.Errorf("blind RST passed or closed the connection")
				}
			}},
		{name: "rst-in-window-passed-on", verdict: packet.Consumed, reason: numDropReasons,
			build: func(t *testing.T, e *Engine, send func([]byte) []decoded, p4, p6 []byte) []byte {
				return pkt4(t, client4, vip, 50000, 22, seg{seq: isnC + 1 + 100, flags: "R"})
			},
			check: func(t *testing.T, e *Engine, ds []decoded) {
				if len(ds) != 1 || !ds[0].tcp.RST || e.Stats().ByState[StateEstablished] != 1 {
					t.Errorf("in-window RST: %d packets, state %v", len(ds), e.Stats().ByState)
				}
			}},
		{name: "rst-exact-closes", verdict: packet.Consumed, reason: numDropReasons,
			build: func(t *testing.T, e *Engine, send func([]byte) []decoded, p4, p6 []byte) []byte {
				return pkt4(t, client4, vip, 50000, 22, seg{seq: isnC + 1, flags: "R"})
			},
			check: func(t *testing.T, e *Engine, ds []decoded) {
				if len(ds) != 1 || e.Stats().ByState[StateClosed] != 1 {
					t.Errorf("exact RST did not close")
				}
			}},
		{name: "rst-backend-out-of-window", verdict: packet.Drop, reason: DropRSTOutOfWindow,
			build: func(t *testing.T, e *Engine, send func([]byte) []decoded, p4, p6 []byte) []byte {
				return pkt6(t, backendA.Addr(), client6, backendA.Port(), 50000, seg{seq: wrapSub(isnB+1, 5000), flags: "R"})
			}},
		{name: "rst-syn-received", verdict: packet.Drop, reason: DropRSTOutOfWindow,
			build: func(t *testing.T, e *Engine, send func([]byte) []decoded, p4, p6 []byte) []byte {
				send(syn(t, 42003, "")) // stateful: two embryonic so far
				return pkt4(t, client4, vip, 42003, 8000, seg{seq: 7005, flags: "R"})
			}},
		{name: "rst-holding-challenged", verdict: packet.Drop, reason: DropRSTChallenged,
			build: func(t *testing.T, e *Engine, send func([]byte) []decoded, p4, p6 []byte) []byte {
				return pkt4(t, client4, vip, 49000, 8000, seg{seq: 5001 + 5, flags: "R"})
			},
			check: func(t *testing.T, e *Engine, ds []decoded) {
				if len(ds) != 1 || !ds[0].tcp.ACK || ds[0].tcp.RST || ds[0].tcp.Ack != 5001 {
					t.Errorf("no challenge ACK: %+v", ds)
				}
				if st := e.Stats(); st.ChallengeACKs != 1 || st.ByState[StateHolding] != 1 {
					t.Errorf("challenge %d, holding %d", st.ChallengeACKs, st.ByState[StateHolding])
				}
			}},
		{name: "rst-holding-exact", verdict: packet.Consumed, reason: numDropReasons,
			build: func(t *testing.T, e *Engine, send func([]byte) []decoded, p4, p6 []byte) []byte {
				return pkt4(t, client4, vip, 49000, 8000, seg{seq: 5001 + 18, flags: "R"})
			},
			check: func(t *testing.T, e *Engine, ds []decoded) {
				if e.Stats().ByState[StateHolding] != 0 {
					t.Errorf("exact RST left the connection")
				}
			}},
		{name: "ack-beyond-sent", verdict: packet.Drop, reason: DropACKOutOfWindow,
			build: func(t *testing.T, e *Engine, send func([]byte) []decoded, p4, p6 []byte) []byte {
				p := append([]byte(nil), p4...)
				ack := binary.BigEndian.Uint32(p[20+packet.TCPAck:])
				binary.BigEndian.PutUint32(p[20+packet.TCPAck:], ack+1<<20)
				return refix4(p)
			}},
		{name: "ack-far-behind-backend", verdict: packet.Drop, reason: DropACKOutOfWindow,
			build: func(t *testing.T, e *Engine, send func([]byte) []decoded, p4, p6 []byte) []byte {
				p := append([]byte(nil), p6...)
				binary.BigEndian.PutUint32(p[40+packet.TCPAck:], wrapSub(isnC+1, 1<<24))
				return refix6(p)
			}},
		{name: "handshake-ack-wrong", verdict: packet.Drop, reason: DropBadAck,
			build: func(t *testing.T, e *Engine, send func([]byte) []decoded, p4, p6 []byte) []byte {
				return pkt4(t, client4, vip, 49000, 8000, seg{seq: 5001 + 18, ack: 12345, flags: "A", opts: tsOnly})
			}},
		{name: "icmp-unknown-connection", verdict: packet.Drop, reason: DropICMPUnknown,
			build: func(t *testing.T, e *Engine, send func([]byte) []decoded, p4, p6 []byte) []byte {
				q := pkt6(t, client6, backendA.Addr(), 50001, 22, seg{seq: isnC + 1, ack: 1, flags: "A"})
				return ptb(t, q)
			}},
		{name: "icmp-stale-sequence", verdict: packet.Drop, reason: DropICMPUnknown,
			build: func(t *testing.T, e *Engine, send func([]byte) []decoded, p4, p6 []byte) []byte {
				q := pkt6(t, client6, backendA.Addr(), 50000, backendA.Port(), seg{seq: isnC + 1 + 1<<20, ack: 1, flags: "A"})
				return ptb(t, q)
			}},
		{name: "icmp-quote-stops-before-flags", verdict: packet.Consumed, reason: numDropReasons,
			build: func(t *testing.T, e *Engine, send func([]byte) []decoded, p4, p6 []byte) []byte {
				// A router may quote as little as it likes; 12 bytes of
				// TCP reach the acknowledgment but not the flags.
				q := pkt6(t, client6, backendA.Addr(), 50000, backendA.Port(), seg{seq: isnC + 1, ack: 1, flags: "A"})
				return ptb(t, q[:packet.IPv6HeaderLen+12])
			}},
		{name: "icmp-checksum", verdict: packet.Drop, reason: DropICMPChecksum,
			build: func(t *testing.T, e *Engine, send func([]byte) []decoded, p4, p6 []byte) []byte {
				q := pkt6(t, client6, backendA.Addr(), 50000, backendA.Port(), seg{seq: isnC + 1, ack: 1, flags: "A"})
				p := ptb(t, q)
				p[40+2] ^= 1
				return p
			}},
		{name: "bad-cookie", verdict: packet.Drop, reason: DropBadCookie,
			build: func(t *testing.T, e *Engine, send func([]byte) []decoded, p4, p6 []byte) []byte {
				send(syn(t, 42004, "")) // stateful: three embryonic
				ds := send(syn(t, 42005, ""))
				if e.Stats().SynCookiesSent != 1 {
					t.Fatalf("no cookie sent")
				}
				return cookieACK(t, ds[0], 42005, ds[0].tcp.Seq^0x5a5a0000, "")
			},
			check: func(t *testing.T, e *Engine, ds []decoded) {
				if len(ds) != 1 || !ds[0].tcp.RST {
					t.Errorf("no reset for a bad cookie")
				}
			}},
		{name: "cookie-accepted", verdict: packet.Consumed, reason: numDropReasons,
			build: func(t *testing.T, e *Engine, send func([]byte) []decoded, p4, p6 []byte) []byte {
				send(syn(t, 42006, ""))
				ds := send(syn(t, 42007, ""))
				return cookieACK(t, ds[0], 42007, ds[0].tcp.Seq, "GET / HTTP/1.1\r\nHost: a.example\r\n\r\n")
			},
			check: func(t *testing.T, e *Engine, ds []decoded) {
				if st := e.Stats(); st.SynCookiesAccepted != 1 || len(ds) != 1 || !ds[0].tcp.SYN || ds[0].tcp.Seq != 7000 {
					t.Errorf("cookie connection did not open its backend: %d accepted, %+v", st.SynCookiesAccepted, ds)
				}
			}},
		{name: "embryonic-full", verdict: packet.Drop, reason: DropEmbryonicFull,
			build: func(t *testing.T, e *Engine, send func([]byte) []decoded, p4, p6 []byte) []byte {
				send(syn(t, 42008, ""))
				ds := send(syn(t, 42009, ""))
				send(cookieACK(t, ds[0], 42009, ds[0].tcp.Seq, "GET"))
				ds = send(syn(t, 42010, ""))
				return cookieACK(t, ds[0], 42010, ds[0].tcp.Seq, "GET")
			}},
		{name: "held-total-full", verdict: packet.Consumed, reason: DropHeldTotalFull,
			build: func(t *testing.T, e *Engine, send func([]byte) []decoded, p4, p6 []byte) []byte {
				// One byte more than the total bound leaves room for,
				// within this connection's own bound.
				more := make([]byte, 512-18-1+1)
				for i := range more {
					more[i] = 'x'
				}
				return pkt4(t, client4, vip, 49000, 8000, seg{seq: 5001 + 18, ack: holdingISN(t, e) + 1, flags: "PA",
					opts: tsOnly, payload: more})
			},
			check: func(t *testing.T, e *Engine, ds []decoded) {
				if st := e.Stats(); st.HeldBytes != 512 {
					t.Errorf("holding %d bytes, bound 512", st.HeldBytes)
				}
			}},
		// What the engine answers for its VIPs as a host (host.go).
		{name: "echo-request", verdict: packet.Consumed, reason: numDropReasons,
			build: func(t *testing.T, e *Engine, send func([]byte) []decoded, p4, p6 []byte) []byte {
				return ping(t, client4, 7, 9, "ping!")
			}},
		{name: "tcp-closed-port", verdict: packet.Drop, reason: DropNoService,
			build: func(t *testing.T, e *Engine, send func([]byte) []decoded, p4, p6 []byte) []byte {
				return pkt4(t, client4, vip, 40000, 9999, seg{seq: 1000, flags: "S"})
			},
			check: func(t *testing.T, e *Engine, ds []decoded) {
				if len(ds) != 1 || !ds[0].tcp.RST || ds[0].tcp.Ack != 1001 {
					t.Errorf("SYN to a closed port answered %+v", ds)
				}
			}},
		{name: "udp-port-unreachable", verdict: packet.Drop, reason: DropNoService,
			build: func(t *testing.T, e *Engine, send func([]byte) []decoded, p4, p6 []byte) []byte {
				return udpTo(t, client4, 5353, 53, "query")
			}},
		{name: "udp-checksum", verdict: packet.Drop, reason: DropUDPChecksum,
			build: func(t *testing.T, e *Engine, send func([]byte) []decoded, p4, p6 []byte) []byte {
				p := udpTo(t, client4, 5353, 53, "query")
				p[len(p)-1] ^= 0x55
				return p
			}},
		{name: "source-multicast", verdict: packet.Drop, reason: DropBadSource,
			build: func(t *testing.T, e *Engine, send func([]byte) []decoded, p4, p6 []byte) []byte {
				return pkt4(t, netip.MustParseAddr("224.0.0.1"), vip, 40000, 80, seg{seq: 1000, flags: "S"})
			}},
	}
}

// wrapSub subtracts in sequence space.
func wrapSub(a, b uint32) uint32 { return a - b }

// holdingISN returns the edge ISN of the connection holding on port 8000.
func holdingISN(t *testing.T, e *Engine) uint32 {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, c := range e.all {
		if c.k4.vipPort == 8000 && c.state == StateHolding {
			return c.isnEdge
		}
	}
	t.Fatal("no holding connection")
	return 0
}

// TestHostileInput feeds one packet of each bad kind to an engine with live
// connections and checks the verdict and the counter. With
// PROXY46_WRITE_CORPUS=1 it also writes each case as a FuzzHandle seed.
func TestHostileInput(t *testing.T) {
	write := os.Getenv("PROXY46_WRITE_CORPUS") != ""
	for _, tc := range hostileCases() {
		t.Run(tc.name, func(t *testing.T) {
			e, _, p4, p6 := hostileEngine(t)
			var fed [][]byte
			send := func(p []byte) []decoded {
				fed = append(fed, p)
				_, ds := handle(t, e, p)
				return ds
			}
			p := tc.build(t, e, send, p4, p6)
			before := e.Stats()
			v, ds := handleLoose(t, e, p)
			after := e.Stats()
			if v != tc.verdict {
				t.Errorf("verdict %v, want %v", v, tc.verdict)
			}
			for r := DropReason(0); r < numDropReasons; r++ {
				want := before.Drops[r]
				if r == tc.reason {
					want++
				}
				if after.Drops[r] != want {
					t.Errorf("drops[%v] = %d, want %d", r, after.Drops[r], want)
				}
			}
			if tc.check != nil {
				tc.check(t, e, ds)
			}
			if write {
				writeSeed(t, tc.name, append(fed, p))
			}
		})
	}
}

// handleLoose is handle for packets whose output may itself be unusual
// (a bad checksum carried through): outputs that do not decode cleanly
// are left out rather than failing the test.
func handleLoose(t *testing.T, e *Engine, pkt []byte) (packet.Verdict, []decoded) {
	out := packet.NewBatch(4, 2048)
	v := e.Handle(pkt, out)
	var ds []decoded
	for _, p := range out.Packets {
		first := layers.LayerTypeIPv4
		if p.Family == packet.IPv6Family {
			first = layers.LayerTypeIPv6
		}
		pk := gopacket.NewPacket(p.Data, first, gopacket.Default)
		tcp, _ := pk.Layer(layers.LayerTypeTCP).(*layers.TCP)
		if tcp == nil {
			continue
		}
		d := decoded{tcp: tcp}
		d.ip4, _ = pk.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
		d.ip6, _ = pk.Layer(layers.LayerTypeIPv6).(*layers.IPv6)
		ds = append(ds, d)
	}
	return v, ds
}

// writeSeed writes packets as a FuzzHandle corpus entry: a single packet
// as kind 0, a sequence as kind 3 (length-prefixed packets).
func writeSeed(t *testing.T, name string, pkts [][]byte) {
	kind, data := byte(0), pkts[0]
	if len(pkts) > 1 {
		kind, data = 3, nil
		for _, p := range pkts {
			data = binary.BigEndian.AppendUint16(data, uint16(len(p)))
			data = append(data, p...)
		}
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzHandle")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	body := fmt.Sprintf("go test fuzz v1\nbyte(%s)\n[]byte(%s)\n", strconv.QuoteRune(rune(kind)), strconv.Quote(string(data)))
	if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}
