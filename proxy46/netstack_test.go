package proxy46

import (
	"cmp"
	"context"
	"crypto/tls"
	"math/rand/v2"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sixgate/sixgate/packet"
	"gvisor.dev/gvisor/pkg/buffer"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/link/channel"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv6"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
)

// This file wires real TCP stacks (gVisor's netstack) through an Engine:
// one IPv4 client stack and one IPv6 stack per backend address, joined by
// pumps that read each stack's link, hand the packets to the engine and
// inject what comes out into the other side, optionally losing,
// duplicating and reordering them.

// impairment makes a direction of the fabric lossy.
type impairment struct {
	Loss, Duplicate, Reorder float64
}

// netstackOptions configures one stack.
type netstackOptions struct {
	// rcvBuf sets the default receive buffer, which decides the window
	// scale the stack offers.
	rcvBuf int
	mtu    uint32
}

// fabric is the test network.
type fabric struct {
	t      testing.TB
	engine *Engine
	// gate and next let a test hand the traffic over to another engine
	// between two packets (swapEngine); the pumps and timers hold gate
	// while they use the engine.
	gate   sync.RWMutex
	next   *Engine
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	client   *stack.Stack
	clientEP *channel.Endpoint
	backends map[netip.Addr]*backendHost

	toClient, toBackend *impairedLink
	tlsCert             tls.Certificate
	// clientDrop, if set, drops the client packets it returns true for
	// before the engine sees them.
	clientDrop atomic.Pointer[func([]byte) bool]
	// clientPath is the MTU of a router between the engine and the
	// client (0: none): larger packets to the client are dropped and, if
	// they carry DF, answered with ICMPv4 Fragmentation Needed from
	// pathRouter, as a router does (RFC 1191).
	clientPath int
	// tooBig counts the packets the client path dropped.
	tooBig atomic.Int64
	// backendTooBig counts the packets larger than a backend's link.
	backendTooBig atomic.Int64
	// unreachable is a backend address a router on the backends' side
	// answers with ICMPv6 Destination Unreachable (address unreachable).
	unreachable netip.Addr
	// backendNoTS strips the timestamp option from SYNs to the backends,
	// which then answer without timestamps, as a host with them turned
	// off does.
	backendNoTS bool
	// noTSToClient counts the segments to the client, other than SYNs
	// and RSTs, that carry no timestamp option.
	noTSToClient atomic.Int64
}

// pathRouter is the router of fabricConfig.clientPathMTU.
var pathRouter = netip.MustParseAddr("198.51.100.1")

type backendHost struct {
	stack *stack.Stack
	ep    *channel.Endpoint
	// dead cuts the host off, as a crash or a pulled cable would.
	dead atomic.Bool
	// mtu is the host's link MTU: larger packets are lost on the way in,
	// as a NIC drops an oversize frame.
	mtu int
}

// newStack builds a stack with one NIC on a channel link.
func newStack(t testing.TB, addr netip.Addr, o netstackOptions) (*stack.Stack, *channel.Endpoint) {
	t.Helper()
	s := stack.New(stack.Options{
		NetworkProtocols:   []stack.NetworkProtocolFactory{ipv4.NewProtocol, ipv6.NewProtocol},
		TransportProtocols: []stack.TransportProtocolFactory{tcp.NewProtocol},
	})
	sack := tcpip.TCPSACKEnabled(true)
	s.SetTransportProtocolOption(tcp.ProtocolNumber, &sack)
	if o.rcvBuf > 0 {
		opt := tcpip.TCPReceiveBufferSizeRangeOption{Min: 4096, Default: o.rcvBuf, Max: o.rcvBuf}
		if err := s.SetTransportProtocolOption(tcp.ProtocolNumber, &opt); err != nil {
			t.Fatalf("receive buffer: %v", err)
		}
		mod := tcpip.TCPModerateReceiveBufferOption(false)
		s.SetTransportProtocolOption(tcp.ProtocolNumber, &mod)
	}
	mtu := o.mtu
	if mtu == 0 {
		mtu = 1500
	}
	ep := channel.New(4096, mtu, "")
	if err := s.CreateNIC(1, ep); err != nil {
		t.Fatalf("CreateNIC: %v", err)
	}
	pa := tcpip.ProtocolAddress{AddressWithPrefix: tcpip.AddrFromSlice(addr.AsSlice()).WithPrefix()}
	if addr.Is4() {
		pa.Protocol = ipv4.ProtocolNumber
	} else {
		pa.Protocol = ipv6.ProtocolNumber
	}
	if err := s.AddProtocolAddress(1, pa, stack.AddressProperties{}); err != nil {
		t.Fatalf("AddProtocolAddress: %v", err)
	}
	s.SetRouteTable([]tcpip.Route{
		{Destination: header.IPv4EmptySubnet, NIC: 1},
		{Destination: header.IPv6EmptySubnet, NIC: 1},
	})
	return s, ep
}

// impairedLink delivers packets into one stack, impaired.
type impairedLink struct {
	mu      sync.Mutex
	imp     impairment
	rng     *rand.Rand
	held    []byte // a packet delayed behind the next one
	heldEP  *channel.Endpoint
	heldFam packet.Family
}

func (l *impairedLink) deliver(ep *channel.Endpoint, fam packet.Family, data []byte) {
	pkt := append([]byte(nil), data...)
	l.mu.Lock()
	if l.rng.Float64() < l.imp.Loss {
		l.mu.Unlock()
		return
	}
	dup := l.rng.Float64() < l.imp.Duplicate
	if l.held == nil && l.rng.Float64() < l.imp.Reorder {
		l.held, l.heldEP, l.heldFam = pkt, ep, fam
		l.mu.Unlock()
		return
	}
	late, lateEP, lateFam := l.held, l.heldEP, l.heldFam
	l.held = nil
	l.mu.Unlock()
	inject(ep, fam, pkt)
	if dup {
		inject(ep, fam, pkt)
	}
	if late != nil {
		inject(lateEP, lateFam, late)
	}
}

// flush releases a delayed packet when no other packet followed it.
func (l *impairedLink) flush() {
	l.mu.Lock()
	late, lateEP, lateFam := l.held, l.heldEP, l.heldFam
	l.held = nil
	l.mu.Unlock()
	if late != nil {
		inject(lateEP, lateFam, late)
	}
}

func inject(ep *channel.Endpoint, fam packet.Family, data []byte) {
	proto := ipv4.ProtocolNumber
	if fam == packet.IPv6Family {
		proto = ipv6.ProtocolNumber
	}
	pkb := stack.NewPacketBuffer(stack.PacketBufferOptions{Payload: buffer.MakeWithData(data)})
	ep.InjectInbound(proto, pkb)
	pkb.DecRef()
}

// fabricConfig describes a test network.
type fabricConfig struct {
	engine    Config
	client    netstackOptions
	backends  map[netip.Addr]netstackOptions
	toClient  impairment
	toBackend impairment
	seed      uint64
	// clientPathMTU puts a router with a smaller MTU on the client's
	// path (towards the client only).
	clientPathMTU int
	// unreachable is answered by a router with Destination Unreachable.
	unreachable netip.Addr
	// backendNoTS makes the backends refuse timestamps.
	backendNoTS bool
}

func newFabric(t testing.TB, fc fabricConfig) *fabric {
	t.Helper()
	e, err := New(fc.engine)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	f := &fabric{
		t: t, engine: e, ctx: ctx, cancel: cancel,
		backends:   make(map[netip.Addr]*backendHost),
		toClient:   &impairedLink{imp: fc.toClient, rng: rand.New(rand.NewPCG(fc.seed, 1))},
		toBackend:  &impairedLink{imp: fc.toBackend, rng: rand.New(rand.NewPCG(fc.seed, 2))},
		clientPath: fc.clientPathMTU, unreachable: fc.unreachable, backendNoTS: fc.backendNoTS,
	}
	f.client, f.clientEP = newStack(t, client4, fc.client)
	for a, o := range fc.backends {
		s, ep := newStack(t, a, o)
		f.backends[a] = &backendHost{stack: s, ep: ep, mtu: int(cmp.Or(o.mtu, 1500))}
	}
	f.pump(f.clientEP, nil)
	for _, b := range f.backends {
		f.pump(b.ep, &b.dead)
	}
	f.wg.Add(1)
	go f.timers()
	t.Cleanup(f.close)
	return f
}

// pump moves the packets one stack sends through the engine, unless the
// stack's host is dead.
func (f *fabric) pump(ep *channel.Endpoint, dead *atomic.Bool) {
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		out := packet.NewBatch(16, 2048)
		for {
			pkb := ep.ReadContext(f.ctx)
			if pkb == nil {
				return
			}
			v := pkb.ToView()
			pkb.DecRef()
			if dead != nil && dead.Load() {
				v.Release()
				continue
			}
			if fn := f.clientDrop.Load(); ep == f.clientEP && fn != nil && (*fn)(v.AsSlice()) {
				v.Release()
				continue
			}
			out.Reset()
			f.gate.RLock()
			f.current().Handle(v.AsSlice(), out)
			f.gate.RUnlock()
			v.Release()
			f.send(out)
		}
	}()
}

// timers runs Expire as a controller would, and releases delayed packets.
func (f *fabric) timers() {
	defer f.wg.Done()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	out := packet.NewBatch(16, 2048)
	for {
		select {
		case <-f.ctx.Done():
			return
		case <-tick.C:
		}
		out.Reset()
		f.gate.RLock()
		f.current().Expire(out)
		f.gate.RUnlock()
		f.send(out)
		f.toClient.flush()
		f.toBackend.flush()
	}
}

// current is the engine the traffic goes through; call it with gate held.
func (f *fabric) current() *Engine {
	if f.next != nil {
		return f.next
	}
	return f.engine
}

// swapEngine stops the traffic at a packet boundary, lets move build the
// engine that takes it over from the current one, and resumes with it.
func (f *fabric) swapEngine(move func(old *Engine) *Engine) {
	f.gate.Lock()
	defer f.gate.Unlock()
	f.next = move(f.current())
}

func (f *fabric) send(out *packet.Batch) {
	for _, p := range out.Packets {
		switch p.Family {
		case packet.IPv4Family:
			if p.Dst != client4 {
				continue
			}
			if !hasTimestamps(p.Data, packet.IPv4MinLen) {
				f.noTSToClient.Add(1)
			}
			if f.clientPath > 0 && len(p.Data) > f.clientPath {
				f.tooBig.Add(1)
				f.fragNeeded(p.Data)
				continue
			}
			f.toClient.deliver(f.clientEP, packet.IPv4Family, p.Data)
		case packet.IPv6Family:
			if f.backendNoTS {
				stripSynTimestamps(p.Data)
			}
			if b := f.backends[p.Dst]; b != nil && len(p.Data) > b.mtu {
				f.backendTooBig.Add(1)
			} else if b != nil && !b.dead.Load() {
				f.toBackend.deliver(b.ep, packet.IPv6Family, p.Data)
			} else if p.Dst == f.unreachable {
				f.destUnreachable(p.Data)
			}
		}
	}
}

func (f *fabric) close() {
	f.cancel()
	f.wg.Wait()
	f.client.Close()
	for _, b := range f.backends {
		b.stack.Close()
	}
}

// dial opens a TCP connection from the client stack to a VIP port.
func (f *fabric) dial(ctx context.Context, port uint16) (*gonet.TCPConn, error) {
	return gonet.DialContextTCP(ctx, f.client, tcpip.FullAddress{
		NIC: 1, Addr: tcpip.AddrFrom4(vip.As4()), Port: port,
	}, ipv4.ProtocolNumber)
}

// listen opens a listener on a backend stack.
func (f *fabric) listen(ap netip.AddrPort) *gonet.TCPListener {
	f.t.Helper()
	b := f.backends[ap.Addr()]
	l, err := gonet.ListenTCP(b.stack, tcpip.FullAddress{
		NIC: 1, Addr: tcpip.AddrFrom16(ap.Addr().As16()), Port: ap.Port(),
	}, ipv6.ProtocolNumber)
	if err != nil {
		f.t.Fatalf("listen %v: %v", ap, err)
	}
	f.t.Cleanup(func() { l.Close() })
	return l
}

// fragNeeded answers a packet too big for the client path, as the router
// on it would: ICMPv4 Fragmentation Needed to the packet's source, quoting
// its header and first 8 bytes of data, handed to the engine.
func (f *fabric) fragNeeded(pkt []byte) {
	ip := packet.IPv4(pkt)
	if !ip.DontFragment() {
		return
	}
	quote := pkt[:ip.HeaderLength()+8]
	b := make([]byte, packet.IPv4MinLen+packet.ICMPHeaderLen+len(quote))
	packet.IPv4(b).Encode(&packet.IPv4Fields{TotalLen: uint16(len(b)), TTL: 64, Protocol: packet.ProtoICMPv4,
		Src: pathRouter.As4(), Dst: ip.Src()})
	icmp := packet.ICMP(b[packet.IPv4MinLen:])
	icmp[packet.ICMPType], icmp[packet.ICMPCode] = packet.ICMPv4DestUnreachable, packet.ICMPv4CodeFragNeeded
	icmp[6], icmp[7] = byte(f.clientPath>>8), byte(f.clientPath)
	copy(icmp.Body(), quote)
	icmp.SetChecksum(packet.Checksum(0, icmp))
	out := packet.NewBatch(4, 2048)
	f.engine.Handle(b, out)
	f.send(out)
}

// backendRouter is the router that reports fabric.unreachable.
var backendRouter = netip.MustParseAddr("2001:db8::1")

// destUnreachable answers a packet to fabric.unreachable as the router
// in front of it would (RFC 4443 §3.1, address unreachable), handing the
// error to the engine.
func (f *fabric) destUnreachable(pkt []byte) {
	ip := packet.IPv6(pkt)
	quote := pkt[:min(len(pkt), packet.ICMPv6ErrorMax-packet.ICMPHeaderLen)]
	b := make([]byte, packet.IPv6HeaderLen+packet.ICMPHeaderLen+len(quote))
	packet.IPv6(b).Encode(&packet.IPv6Fields{PayloadLen: uint16(len(b) - packet.IPv6HeaderLen), NextHeader: packet.ProtoICMPv6,
		HopLimit: 64, Src: backendRouter.As16(), Dst: ip.Src()})
	icmp := packet.ICMP(b[packet.IPv6HeaderLen:])
	icmp[packet.ICMPType], icmp[packet.ICMPCode] = packet.ICMPv6DestUnreachable, packet.ICMPv6CodeAddrUnreachable
	copy(icmp.Body(), quote)
	icmp.SetChecksum(packet.Checksum(packet.IPv6(b).PseudoHeaderSum(packet.ProtoICMPv6, len(icmp)), icmp))
	out := packet.NewBatch(4, 2048)
	f.engine.Handle(b, out)
	f.send(out)
}

// hasTimestamps reports whether a TCP segment at pkt[hl:] other than a
// SYN or a RST carries a timestamp option (true for anything else).
func hasTimestamps(pkt []byte, hl int) bool {
	if len(pkt) < hl+packet.TCPMinLen || pkt[packet.IPv4Protocol] != packet.ProtoTCP {
		return true
	}
	tcp := packet.TCP(pkt[hl:])
	if tcp.HasAny(packet.TCPFlagSYN|packet.TCPFlagRST) || !tcp.IsValid() {
		return true
	}
	it := packet.NewTCPOptions(tcp.Options())
	for it.Next() {
		if it.Kind() == packet.TCPOptTimestamps {
			return true
		}
	}
	return false
}

// stripSynTimestamps overwrites the timestamp option of an IPv6 SYN with
// NOPs and fixes its checksum.
func stripSynTimestamps(pkt []byte) {
	ip := packet.IPv6(pkt)
	if !ip.IsValid() || ip.NextHeader() != packet.ProtoTCP {
		return
	}
	tcp := packet.TCP(ip.Payload())
	if !tcp.IsValid() || !tcp.HasAny(packet.TCPFlagSYN) {
		return
	}
	opts := tcp.Options()
	it := packet.NewTCPOptions(opts)
	for it.Next() {
		if it.Kind() == packet.TCPOptTimestamps {
			for i := it.Offset(); i < it.Offset()+it.Len(); i++ {
				opts[i] = packet.TCPOptNOP
			}
		}
	}
	tcp.SetChecksum(0)
	tcp.SetChecksum(packet.Checksum(ip.PseudoHeaderSum(packet.ProtoTCP, len(tcp)), tcp))
}
