package clat

import (
	"bytes"
	"net"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// requireRoot skips t unless it runs as root; with CI=true it fails.
func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("needs root (packet and raw sockets)")
		}
		t.Skip("needs root (packet and raw sockets); set CI=true to fail instead")
	}
}

// TestSenderReceiverLoopback sends IPv6 packets with the raw socket on
// the loopback interface and reads them back with the filtered packet
// socket: unchanged, only those to the filtered address, and without
// allocating.
func TestSenderReceiverLoopback(t *testing.T) {
	requireRoot(t)
	lo, err := net.InterfaceByName("lo")
	if err != nil {
		t.Fatal(err)
	}
	dst := netip.IPv6Loopback()
	recv, err := ListenFor(lo.Index, dst)
	if err != nil {
		t.Fatal(err)
	}
	defer recv.Close()
	send, err := NewSender("lo")
	if err != nil {
		t.Fatal(err)
	}
	defer send.Close()

	udp6 := func(dst netip.Addr, marker string) []byte {
		ip := &layers.IPv6{Version: 6, NextHeader: layers.IPProtocolUDP, HopLimit: 64, SrcIP: net.IPv6loopback, DstIP: dst.AsSlice()}
		udp := &layers.UDP{SrcPort: 9, DstPort: 9}
		udp.SetNetworkLayerForChecksum(ip)
		buf := gopacket.NewSerializeBuffer()
		if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ip, udp, gopacket.Payload(marker)); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	// A packet to another loopback address first: the filter drops it.
	other := udp6(netip.MustParseAddr("::2"), "sixgate-clat-other")
	send.Send(other, netip.MustParseAddr("::2"))
	want := udp6(dst, "sixgate-clat-loopback-test")
	if err := send.Send(want, dst); err != nil {
		t.Fatal(err)
	}
	// Bound the reads: close the socket if the packet never comes.
	timer := time.AfterFunc(5*time.Second, func() { recv.Close() })
	defer timer.Stop()
	buf := make([]byte, 1<<16)
	for i := 0; ; i++ {
		n, err := recv.Read(buf)
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		if bytes.Contains(buf[:n], []byte("sixgate-clat-other")) {
			t.Fatal("the filter let a packet to ::2 through")
		}
		if bytes.Equal(buf[:n], want) {
			break
		}
		if i > 1000 {
			t.Fatal("the packet sent is not among the first 1000 read")
		}
	}
	// One send and one read each round; other traffic to ::1 only adds
	// reads that the next round's packet waits behind, still without
	// allocating.
	if a := testing.AllocsPerRun(50, func() {
		send.Send(want, dst)
		recv.Read(buf)
	}); a != 0 {
		t.Errorf("%v allocations per packet sent and read", a)
	}
}
