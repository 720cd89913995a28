package siit

import (
	"context"
	"crypto/sha256"
	"io"
	"math/rand/v2"
	"net/netip"
	"sync"
	"testing"
	"time"

	"gvisor.dev/gvisor/pkg/buffer"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/link/channel"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv6"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/icmp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/udp"
	"gvisor.dev/gvisor/pkg/waiter"

	"github.com/sixgate/sixgate/packet"
)

// This file wires two real IP stacks (gVisor's netstack) through the
// translator: an IPv6-only host and an IPv4-only host, each on its own
// link, the translator between them. They check every checksum and
// reassemble every fragment the translator makes.

func gstack(t *testing.T, addr netip.Addr, mtu uint32) (*stack.Stack, *channel.Endpoint) {
	t.Helper()
	s := stack.New(stack.Options{
		NetworkProtocols:   []stack.NetworkProtocolFactory{ipv4.NewProtocol, ipv6.NewProtocol},
		TransportProtocols: []stack.TransportProtocolFactory{tcp.NewProtocol, udp.NewProtocol, icmp.NewProtocol4, icmp.NewProtocol6},
	})
	ep := channel.New(4096, mtu, "")
	if err := s.CreateNIC(1, ep); err != nil {
		t.Fatal(err)
	}
	pa := tcpip.ProtocolAddress{AddressWithPrefix: tcpip.AddrFromSlice(addr.AsSlice()).WithPrefix(), Protocol: ipv6.ProtocolNumber}
	if addr.Is4() {
		pa.Protocol = ipv4.ProtocolNumber
	}
	if err := s.AddProtocolAddress(1, pa, stack.AddressProperties{}); err != nil {
		t.Fatal(err)
	}
	s.SetRouteTable([]tcpip.Route{{Destination: header.IPv4EmptySubnet, NIC: 1}, {Destination: header.IPv6EmptySubnet, NIC: 1}})
	return s, ep
}

type gfabric struct {
	tr       *Translator
	s6, s4   *stack.Stack
	ep6, ep4 *channel.Endpoint
	loss     float64
	mu       sync.Mutex
	rng      *rand.Rand
}

// pump carries what one stack sends through the translator to the other,
// losing a share of packets when asked to.
func (f *gfabric) pump(ctx context.Context, wg *sync.WaitGroup, from *channel.Endpoint) {
	defer wg.Done()
	out := packet.NewBatch(16, 2048)
	for {
		pkb := from.ReadContext(ctx)
		if pkb == nil {
			return
		}
		v := pkb.ToView()
		pkb.DecRef()
		out.Reset()
		f.tr.Handle(v.AsSlice(), out)
		v.Release()
		for _, o := range out.Packets {
			f.mu.Lock()
			lose := f.rng.Float64() < f.loss
			f.mu.Unlock()
			if lose {
				continue
			}
			ep, proto := f.ep4, ipv4.ProtocolNumber
			if o.Family == packet.IPv6Family {
				ep, proto = f.ep6, ipv6.ProtocolNumber
			}
			p := stack.NewPacketBuffer(stack.PacketBufferOptions{Payload: buffer.MakeWithData(append([]byte(nil), o.Data...))})
			ep.InjectInbound(proto, p)
			p.DecRef()
		}
	}
}

func newGFabric(t *testing.T, c Config, mtu6, mtu4 uint32, loss float64) *gfabric {
	tr := newTest(t, c)
	f := &gfabric{tr: tr, loss: loss, rng: rand.New(rand.NewPCG(1, 2))}
	f.s6, f.ep6 = gstack(t, host6, mtu6)
	f.s4, f.ep4 = gstack(t, host4, mtu4)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go f.pump(ctx, &wg, f.ep6)
	go f.pump(ctx, &wg, f.ep4)
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		f.s6.Close()
		f.s4.Close()
	})
	return f
}

func full(a netip.Addr, port uint16) tcpip.FullAddress {
	return tcpip.FullAddress{NIC: 1, Addr: tcpip.AddrFromSlice(a.AsSlice()), Port: port}
}

// transfer sends n bytes over TCP from the IPv6 host to the IPv4 host
// and n back, and compares digests.
func transfer(t *testing.T, f *gfabric, n int) {
	t.Helper()
	ln, err := gonet.ListenTCP(f.s4, full(host4, 8080), ipv4.ProtocolNumber)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	data := make([]byte, n)
	for i := range data {
		data[i] = byte(i * 7 / 3)
	}
	want := sha256.Sum256(data)
	errc := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			errc <- err
			return
		}
		defer c.Close()
		h := sha256.New()
		if _, err := io.CopyN(h, c, int64(n)); err != nil {
			errc <- err
			return
		}
		if [32]byte(h.Sum(nil)) != want {
			errc <- io.ErrUnexpectedEOF
			return
		}
		_, err = c.Write(data)
		errc <- err
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, err := gonet.DialContextTCP(ctx, f.s6, full(host4v6, 8080), ipv6.ProtocolNumber)
	if err != nil {
		t.Fatalf("dial through the translator: %v", err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(60 * time.Second))
	if _, err := c.Write(data); err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	if _, err := io.CopyN(h, c, int64(n)); err != nil {
		t.Fatalf("reading back: %v (stats %+v)", err, f.tr.Stats())
	}
	if [32]byte(h.Sum(nil)) != want {
		t.Fatal("data came back changed")
	}
	select {
	case err := <-errc:
		if err != nil {
			t.Fatalf("IPv4 side: %v", err)
		}
	case <-ctx.Done():
		t.Fatal("IPv4 side did not finish")
	}
}

func TestNetstackTCP(t *testing.T) {
	transfer(t, newGFabric(t, testConfig(), 1500, 1500, 0), 2<<20)
}

// With loss both ways the stacks retransmit through the translator.
func TestNetstackTCPLoss(t *testing.T) {
	transfer(t, newGFabric(t, testConfig(), 1500, 1500, 0.02), 256<<10)
}

// A small IPv4 link: the IPv6 host learns the path MTU from the Packet
// Too Big the translator sends, and the transfer completes.
func TestNetstackPathMTU(t *testing.T) {
	c := testConfig()
	c.IPv4.MTU = 1300 // the IPv4 host's own link is 1500: only the translator knows
	f := newGFabric(t, c, 1500, 1500, 0)
	transfer(t, f, 512<<10)
	if s := f.tr.Stats(); s.ICMPErrors6 == 0 || s.Drops6["too_big"] == 0 {
		t.Fatalf("no Packet Too Big sent (stats %+v)", s)
	}
}

// UDP datagrams larger than the IPv6 minimum MTU from the IPv4 host
// (DF clear) arrive as IPv6 fragments the IPv6 stack reassembles.
func TestNetstackUDPFragments(t *testing.T) {
	f := newGFabric(t, testConfig(), 1500, 1500, 0)
	rx, err := gonet.DialUDP(f.s6, &tcpip.FullAddress{NIC: 1, Addr: tcpip.AddrFromSlice(host6.AsSlice()), Port: 9000}, nil, ipv6.ProtocolNumber)
	if err != nil {
		t.Fatal(err)
	}
	defer rx.Close()
	// A sender that lets routers fragment (DF clear), as Linux's UDP
	// does with IP_PMTUDISC_DONT.
	var wq waiter.Queue
	ep, terr := f.s4.NewEndpoint(udp.ProtocolNumber, ipv4.ProtocolNumber, &wq)
	if terr != nil {
		t.Fatal(terr)
	}
	if terr := ep.SetSockOptInt(tcpip.MTUDiscoverOption, int(tcpip.PMTUDiscoveryDont)); terr != nil {
		t.Fatal(terr)
	}
	if terr := ep.Connect(tcpip.FullAddress{NIC: 1, Addr: tcpip.AddrFromSlice(host6v4.AsSlice()), Port: 9000}); terr != nil {
		t.Fatal(terr)
	}
	tx := gonet.NewUDPConn(&wq, ep)
	defer tx.Close()
	msg := make([]byte, 3000)
	for i := range msg {
		msg[i] = byte(i)
	}
	if _, err := tx.Write(msg); err != nil {
		t.Fatal(err)
	}
	rx.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 4000)
	n, err := rx.Read(buf)
	if err != nil || n != len(msg) || string(buf[:n]) != string(msg) {
		t.Fatalf("read %d bytes, %v (stats %+v)", n, err, f.tr.Stats())
	}
}
