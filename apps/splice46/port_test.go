package splice46

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/sirupsen/logrus"

	"github.com/sixgate/sixgate/afpacket"
	"github.com/sixgate/sixgate/topo"
)

// TestPortWorkersAnswerSYN runs port mode on one end of a veth pair,
// without a switch: a client SYN to the VIP written into the other end
// comes back as the engine's SYN-ACK, in a frame from splice46.mac to the
// client's MAC. Needs root for the pair; skips without it unless CI=true.
func TestPortWorkersAnswerSYN(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("port mode test needs root for a veth pair")
		}
		t.Skip("port mode test needs root for a veth pair (set CI=true to fail instead)")
	}
	eng, peer := fmt.Sprintf("spt%de", os.Getpid()%100000), fmt.Sprintf("spt%dp", os.Getpid()%100000)
	exec.Command("ip", "link", "del", eng).Run()
	if out, err := exec.Command("ip", "link", "add", eng, "type", "veth", "peer", "name", peer).CombinedOutput(); err != nil {
		t.Fatalf("veth: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "link", "del", eng).Run() })
	for _, d := range []string{eng, peer} {
		exec.Command("sysctl", "-qw", "net.ipv6.conf."+d+".disable_ipv6=1").Run()
		exec.Command("ip", "link", "set", d, "up").Run()
	}

	top, err := topo.Parse("t.yaml", []byte(twoSwitches+"  mode: port\n  ports: [{interface: "+eng+", switch: s2, port: 10}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	log := logrus.New()
	log.SetOutput(io.Discard)
	a, err := New(top, logrus.NewEntry(log))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := a.Start(ctx, nil); err != nil {
		t.Fatal(err)
	}

	client, err := afpacket.Open(afpacket.Config{Interface: peer, Sockets: 1, Promiscuous: true})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	buf := gopacket.NewSerializeBuffer()
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: h3, DstIP: vip}
	tcp := &layers.TCP{SrcPort: 40000, DstPort: 80, SYN: true, Seq: 1000, Window: 65535,
		Options: []layers.TCPOption{{OptionType: layers.TCPOptionKindMSS, OptionLength: 4, OptionData: []byte{5, 0xb4}}}}
	tcp.SetNetworkLayerForChecksum(ip)
	eth := &layers.Ethernet{SrcMAC: h3MAC, DstMAC: spliceMAC, EthernetType: layers.EthernetTypeIPv4}
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, eth, ip, tcp); err != nil {
		t.Fatal(err)
	}
	s := client.Sockets()[0]
	var reply gopacket.Packet
	for deadline := time.Now().Add(5 * time.Second); reply == nil && time.Now().Before(deadline); {
		f := buf.Bytes()
		s.Queue(f[:14], f[14:])
		s.Flush()
		s.Receive(200*time.Millisecond, func(frame []byte) {
			p := gopacket.NewPacket(frame, layers.LayerTypeEthernet, gopacket.Default)
			if t, ok := p.Layer(layers.LayerTypeTCP).(*layers.TCP); ok && t.SYN && t.ACK {
				reply = p
			}
		})
	}
	if reply == nil {
		t.Fatalf("no SYN-ACK from the engine port; port stats %+v", a.PortStats())
	}
	e := reply.Layer(layers.LayerTypeEthernet).(*layers.Ethernet)
	r4 := reply.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
	rt := reply.Layer(layers.LayerTypeTCP).(*layers.TCP)
	if e.DstMAC.String() != h3MAC.String() || e.SrcMAC.String() != spliceMAC.String() {
		t.Errorf("SYN-ACK frame %v -> %v, want %v -> %v", e.SrcMAC, e.DstMAC, spliceMAC, h3MAC)
	}
	if !r4.SrcIP.Equal(vip) || !r4.DstIP.Equal(h3) || rt.Ack != 1001 || rt.DstPort != 40000 {
		t.Errorf("SYN-ACK %v:%d -> %v:%d ack %d", r4.SrcIP, rt.SrcPort, r4.DstIP, rt.DstPort, rt.Ack)
	}
	verifyChecksums(t, reply)
	st := a.PortStats()
	if len(st) != 1 || st[0].Interface != eng || st[0].Received == 0 || st[0].Sent == 0 {
		t.Errorf("port stats %+v", st)
	}
}
