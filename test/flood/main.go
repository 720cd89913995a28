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

// ipv4 writes a 20-byte IPv4 header for a payload of n bytes.
func ipv4(b []byte, src [4]byte, dst netip.AddrPort, proto byte, n int) {
	b[0] = 0x45
	b[1] = 0
	binary.BigEndian.PutUint16(b[2:], uint16(20+n))
	binary.BigEndian.PutUint16(b[4:], 0)
	binary.BigEndian.PutUint16(b[6:], 0x4000)
	b[8] = 64
	b[9] = proto
	b[10], b[11] = 0, 0
	copy(b[12:16], src[:])
	d := dst.Addr().As4()
	copy(b[16:20], d[:])
	binary.BigEndian.PutUint16(b[10:], checksum(b[:20], 0))
}

// syn builds a SYN with an MSS option and correct checksums.
func syn(b []byte, src [4]byte, dst netip.AddrPort, seq uint32, sport uint16) []byte {
	const tcpLen = 24
	ipv4(b, src, dst, 6, tcpLen)
	t := b[20 : 20+tcpLen]
	binary.BigEndian.PutUint16(t[0:], sport)
	binary.BigEndian.PutUint16(t[2:], dst.Port())
	binary.BigEndian.PutUint32(t[4:], seq)
	binary.BigEndian.PutUint32(t[8:], 0)
	t[12] = 6 << 4
	t[13] = 0x02
	binary.BigEndian.PutUint16(t[14:], 64240)
	t[16], t[17], t[18], t[19] = 0, 0, 0, 0
	t[20], t[21] = 2, 4
	binary.BigEndian.PutUint16(t[22:], 1460)
	binary.BigEndian.PutUint16(t[16:], tcpChecksum(b[12:20], t))
	return b[:20+tcpLen]
}

func tcpChecksum(addrs, seg []byte) uint16 {
	var pseudo [12]byte
	copy(pseudo[:8], addrs)
	pseudo[9] = 6
	binary.BigEndian.PutUint16(pseudo[10:], uint16(len(seg)))
	return checksum(seg, sum(pseudo[:], 0))
}

func sum(b []byte, s uint32) uint32 {
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	if len(b)%2 == 1 {
		s += uint32(b[len(b)-1]) << 8
	}
	return s
}

func checksum(b []byte, initial uint32) uint16 {
	s := sum(b, initial)
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	return ^uint16(s)
}

// malformedPacket starts from a valid SYN and breaks it in one of the ways
// an attacker or a broken stack would.
func malformedPacket(rng *rand.Rand, b []byte, src [4]byte, dst netip.AddrPort) []byte {
	p := syn(b, src, dst, rng.Uint32(), uint16(1024+rng.IntN(60000)))
	switch rng.IntN(6) {
	case 0: // TCP header cut short
		p = p[:20+8]
		binary.BigEndian.PutUint16(p[2:], uint16(len(p)))
	case 1: // bad TCP checksum
		p[20+16] ^= 0xff
	case 2: // data offset beyond the segment
		p[20+12] = 15 << 4
	case 3: // options that overrun: a length running past the header
		p[20+21] = 40
	case 4: // a fragment (more fragments set)
		binary.BigEndian.PutUint16(p[6:], 0x2000)
	case 5: // IHL smaller than 5
		p[0] = 0x44
	}
	return p
}
