package nat64

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"
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
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"

	"github.com/sixgate/sixgate/ftpalg"
	"github.com/sixgate/sixgate/packet"
)

// Two real TCP stacks (gVisor's netstack) talk FTP's control protocol
// through the NAT64 and its FTP gateway over links that lose, duplicate
// and reorder packets: the gateway's sequence bookkeeping meets real
// retransmissions (of rewritten lines, of held halves, of the gateway's
// own segments' neighbours) and real SACK blocks.

func ftpStack(t *testing.T, addr netip.Addr) (*stack.Stack, *channel.Endpoint) {
	t.Helper()
	s := stack.New(stack.Options{
		NetworkProtocols:   []stack.NetworkProtocolFactory{ipv4.NewProtocol, ipv6.NewProtocol},
		TransportProtocols: []stack.TransportProtocolFactory{tcp.NewProtocol},
	})
	sack := tcpip.TCPSACKEnabled(true)
	s.SetTransportProtocolOption(tcp.ProtocolNumber, &sack)
	ep := channel.New(4096, 1500, "")
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

type ftpFabric struct {
	e        *NAT64
	ep6, ep4 *channel.Endpoint
	mu       sync.Mutex
	rng      *rand.Rand
	loss     float64
	// late holds a packet delivered after the next one (reordering).
	late []packet.Out
	// trace records what went in and out, for the failure message.
	trace []string
}

// describe is one line about a TCP segment: its ends' family, flags,
// numbers and payload.
func describe(data []byte) string {
	var t packet.TCP
	var fam string
	if data[0]>>4 == 4 {
		ip := packet.IPv4(data)
		t, fam = packet.TCP(ip[ip.HeaderLength():ip.TotalLength()]), "v4"
	} else {
		t, fam = packet.TCP(data[packet.IPv6HeaderLen:]), "v6"
	}
	if !t.IsValid() {
		return fam + " ?"
	}
	return fmt.Sprintf("%s %d->%d f=%02x seq=%d ack=%d %q", fam, t.SrcPort(), t.DstPort(), t.Flags(), t.Seq(), t.Ack(), t.Payload())
}

func (f *ftpFabric) pump(ctx context.Context, wg *sync.WaitGroup, from *channel.Endpoint) {
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
		f.mu.Lock()
		f.trace = append(f.trace, "in  "+describe(v.AsSlice()))
		f.mu.Unlock()
		f.e.Handle(v.AsSlice(), out)
		v.Release()
		f.deliver(out)
	}
}

// deliver hands the NAT64's output to the stacks, losing, duplicating
// and delaying some of it.
func (f *ftpFabric) deliver(out *packet.Batch) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, o := range out.Packets {
		r := f.rng.Float64()
		f.trace = append(f.trace, fmt.Sprintf("out %.2f %s", r/f.loss, describe(o.Data)))
		var send []packet.Out
		switch {
		case r < f.loss:
		case r < 2*f.loss:
			send = []packet.Out{o, o} // duplicated
		case r < 3*f.loss:
			f.late = append(f.late, packet.Out{Family: o.Family, Data: append([]byte(nil), o.Data...)})
		default:
			send = append([]packet.Out{o}, f.late...)
			f.late = f.late[:0]
		}
		for _, s := range send {
			ep, proto := f.ep4, ipv4.ProtocolNumber
			if s.Family == packet.IPv6Family {
				ep, proto = f.ep6, ipv6.ProtocolNumber
			}
			p := stack.NewPacketBuffer(stack.PacketBufferOptions{Payload: buffer.MakeWithData(append([]byte(nil), s.Data...))})
			ep.InjectInbound(proto, p)
			p.DecRef()
		}
	}
}

// timers runs the NAT64's timers as the data path does.
func (f *ftpFabric) timers(ctx context.Context, wg *sync.WaitGroup) {
	defer wg.Done()
	out := packet.NewBatch(16, 2048)
	tk := time.NewTicker(50 * time.Millisecond)
	defer tk.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tk.C:
		}
		out.Reset()
		f.e.Expire(out)
		f.deliver(out)
	}
}

func ftpServerLoop(c *gonet.TCPConn, errc chan<- error) {
	defer c.Close()
	w := bufio.NewWriter(c)
	send := func(s string) {
		w.WriteString(s)
		w.Flush()
	}
	send("220 ready\r\n")
	r := bufio.NewReader(c)
	port := 40000
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			errc <- nil
			return
		}
		verb, arg := ftpalg.ParseCommand([]byte(line))
		switch {
		case verb == ftpalg.VerbEPSV || verb == ftpalg.VerbEPRT:
			send("500 Unknown command.\r\n")
		case verb == ftpalg.VerbPASV:
			port++
			reply := fmt.Sprintf("227 Entering Passive Mode (198,51,100,7,%d,%d).\r\n", port>>8, port&0xff)
			send(reply[:17])
			time.Sleep(time.Millisecond)
			send(reply[17:])
		case verb == ftpalg.VerbPORT:
			ap, ok := ftpalg.ParsePORT(arg)
			if !ok {
				send("501 bad PORT\r\n")
				continue
			}
			send(fmt.Sprintf("200 PORT %s\r\n", ap))
		case strings.HasPrefix(line, "QUIT"):
			send("221 bye\r\n")
			errc <- nil
			return
		default:
			send("200 " + strings.TrimSpace(line) + "\r\n")
		}
	}
}

func TestFTPNetstackLossyLinks(t *testing.T) {
	_, clk := newDefault(t)
	c := testConfig(clk)
	c.Clock = time.Now
	c.ALG.FTPPorts = []uint16{21}
	f := &ftpFabric{e: newTest(t, c), rng: rand.New(rand.NewPCG(7, 8)), loss: 0.05}
	s6, ep6 := ftpStack(t, h1)
	s4, ep4 := ftpStack(t, r2)
	f.ep6, f.ep4 = ep6, ep4
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(3)
	go f.pump(ctx, &wg, ep6)
	go f.pump(ctx, &wg, ep4)
	go f.timers(ctx, &wg)
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		s6.Close()
		s4.Close()
	})

	ln, err := gonet.ListenTCP(s4, tcpip.FullAddress{NIC: 1, Addr: tcpip.AddrFromSlice(r2.AsSlice()), Port: 21}, ipv4.ProtocolNumber)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	errc := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			errc <- err
			return
		}
		ftpServerLoop(c.(*gonet.TCPConn), errc)
	}()
	dctx, dcancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer dcancel()
	conn, err := gonet.DialContextTCP(dctx, s6, tcpip.FullAddress{NIC: 1, Addr: tcpip.AddrFromSlice(r2v6.AsSlice()), Port: 21}, ipv6.ProtocolNumber)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(40 * time.Second))
	r := bufio.NewReader(conn)
	expect := func(prefix string) string {
		t.Helper()
		line, err := r.ReadString('\n')
		if err != nil || !strings.HasPrefix(line, prefix) {
			f.mu.Lock()
			tr := f.trace
			if len(tr) > 150 {
				tr = tr[len(tr)-150:]
			}
			t.Log(strings.Join(tr, "\n"))
			f.mu.Unlock()
			t.Fatalf("got %q (%v), want %q... (stats %+v)", line, err, prefix, f.e.Stats().FTP)
		}
		return line
	}
	// write sends a command in pieces of a few bytes, so that lines are
	// cut across segments.
	write := func(s string) {
		for len(s) > 0 {
			n := min(len(s), 1+len(s)%7)
			if _, err := conn.Write([]byte(s[:n])); err != nil {
				t.Fatal(err)
			}
			s = s[n:]
		}
	}
	expect("220 ")
	const rounds = 20
	for i := 0; i < rounds; i++ {
		write("EPSV\r\n")
		want := fmt.Sprintf("229 Entering Extended Passive Mode (|||%d|).\r\n", 40001+i)
		if got := expect("229 "); got != want {
			t.Fatalf("round %d: %q, want %q", i, got, want)
		}
		write(fmt.Sprintf("EPRT |2|%s|%d|\r\n", h1, 50000+i))
		got := expect("200 PORT ")
		if !strings.Contains(got, p4.String()) && !strings.Contains(got, p4b.String()) {
			t.Fatalf("round %d: the server got %q", i, got)
		}
		write(fmt.Sprintf("NOOP %d and some text to make the line longer than a few bytes\r\n", i))
		expect(fmt.Sprintf("200 NOOP %d ", i))
		write("LPSV\r\n")
		expect("500 ")
	}
	write("QUIT\r\n")
	expect("221 ")
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	st := f.e.Stats().FTP
	t.Logf("gateway: %+v", st)
	if st.Retries != 2 || st.Rewrites < 2*rounds || st.Answered != rounds {
		t.Fatalf("stats %+v", st)
	}
}
