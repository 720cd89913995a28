// Command flood sends hostile IPv4 traffic at a VIP for the soak test: TCP
// SYNs from spoofed sources, and malformed packets (truncated headers, bad
// checksums, lying lengths, fragments, overrunning TCP options), at a fixed
// rate for a fixed time. It needs CAP_NET_RAW; run it inside a test
// namespace only.
//
//	flood -dst 10.0.0.42:80 -spoof 10.9.0.0/16 -rate 2000 -duration 60s -malformed 0.2
package main

import (
	"encoding/binary"
	"flag"
	"fmt"
	"log"
	"math/rand/v2"
	"net/netip"
	"os"
	"syscall"
	"time"

	"github.com/sixgate/sixgate/packet"
)

func main() {
	dst := flag.String("dst", "10.0.0.42:80", "target `address:port`")
	spoof := flag.String("spoof", "10.9.0.0/16", "source `prefix` to draw spoofed addresses from")
	rate := flag.Int("rate", 1000, "packets per second")
	duration := flag.Duration("duration", 10*time.Second, "how long to send")
	malformed := flag.Float64("malformed", 0.2, "fraction of malformed packets")
	flag.Parse()
	target, err := netip.ParseAddrPort(*dst)
	if err != nil || !target.Addr().Is4() {
		log.Fatalf("-dst: want an IPv4 address:port, got %q", *dst)
	}
	pool, err := netip.ParsePrefix(*spoof)
	if err != nil || !pool.Addr().Is4() {
		log.Fatalf("-spoof: want an IPv4 prefix, got %q", *spoof)
	}
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_RAW, syscall.IPPROTO_RAW)
	if err != nil {
		log.Fatalf("raw socket: %v", err)
	}
	defer syscall.Close(fd)
	sa := &syscall.SockaddrInet4{Addr: target.Addr().As4()}

	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 42))
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	perTick := max(1, *rate/100)
	end := time.Now().Add(*duration)
	var sent, bad, errs int
	buf := make([]byte, 128)
	for time.Now().Before(end) {
		<-tick.C
		for range perTick {
			src := randomAddr(rng, pool)
			var pkt []byte
			if rng.Float64() < *malformed {
				pkt = malformedPacket(rng, buf, src, target)
				bad++
			} else {
				pkt = syn(buf, src, target, rng.Uint32(), uint16(1024+rng.IntN(60000)))
			}
			if err := syscall.Sendto(fd, pkt, 0, sa); err != nil {
				errs++
				continue
			}
			sent++
		}
	}
	fmt.Fprintf(os.Stdout, "flood: sent %d packets (%d malformed), %d send errors\n", sent, bad, errs)
}

func randomAddr(rng *rand.Rand, p netip.Prefix) [4]byte {
	a := p.Masked().Addr().As4()
	host := rng.Uint32() & (1<<(32-p.Bits()) - 1)
	v := binary.BigEndian.Uint32(a[:]) | host
	binary.BigEndian.PutUint32(a[:], v)
	return a
}

// ipv4 writes a 20-byte IPv4 header with DF set for a payload of n bytes.
func ipv4(b []byte, src [4]byte, dst netip.AddrPort, proto byte, n int) {
	packet.IPv4(b).Encode(&packet.IPv4Fields{
		TotalLen: uint16(packet.IPv4MinLen + n), Flags: packet.IPv4FlagDF,
		TTL: 64, Protocol: proto, Src: src, Dst: dst.Addr().As4(),
	})
}

// syn builds a SYN with an MSS option and correct checksums.
func syn(b []byte, src [4]byte, dst netip.AddrPort, seq uint32, sport uint16) []byte {
	mss := [packet.TCPOptMSSLen]byte{packet.TCPOptMSS, packet.TCPOptMSSLen}
	binary.BigEndian.PutUint16(mss[2:], 1460)
	t := packet.TCP(b[packet.IPv4MinLen:])
	n := t.Encode(&packet.TCPFields{
		SrcPort: sport, DstPort: dst.Port(), Seq: seq,
		Flags: packet.TCPFlagSYN, Window: 64240, Options: mss[:],
	})
	t = t[:n]
	ipv4(b, src, dst, packet.ProtoTCP, n)
	t.SetChecksum(packet.Checksum(packet.IPv4(b).PseudoHeaderSum(packet.ProtoTCP, n), t))
	return b[:packet.IPv4MinLen+n]
}

// malformedPacket starts from a valid SYN and breaks it in one of the ways
// an attacker or a broken stack would. The IPv4 header checksum is left as
// it was, so that only the breakage chosen differs from a valid packet.
func malformedPacket(rng *rand.Rand, b []byte, src [4]byte, dst netip.AddrPort) []byte {
	return breakPacket(syn(b, src, dst, rng.Uint32(), uint16(1024+rng.IntN(60000))), rng.IntN(breakages))
}

// breakages is the number of ways breakPacket knows.
const breakages = 6

// breakPacket breaks the SYN p in way number how.
func breakPacket(p []byte, how int) []byte {
	const tcp = packet.IPv4MinLen
	switch how {
	case 0: // TCP header cut short
		p = p[:tcp+8]
		binary.BigEndian.PutUint16(p[packet.IPv4TotalLength:], uint16(len(p)))
	case 1: // bad TCP checksum
		p[tcp+packet.TCPChecksum] ^= 0xff
	case 2: // data offset beyond the segment
		p[tcp+packet.TCPDataOffset] = 15 << 4
	case 3: // options that overrun: the MSS option's length runs past the header
		p[tcp+packet.TCPMinLen+1] = 40
	case 4: // a fragment (more fragments set)
		binary.BigEndian.PutUint16(p[packet.IPv4FlagsFrag:], packet.IPv4FlagMF)
	case 5: // IHL smaller than 5
		p[packet.IPv4VersionIHL] = 0x44
	}
	return p
}
