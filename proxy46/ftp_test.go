package proxy46

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sixgate/sixgate/packet"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv6"
)

// The FTP gateway with real TCP stacks: an IPv4 client (gVisor) talks FTP
// through the VIP to an IPv6-only server (gVisor, with a small FTP server
// written here that knows EPSV and EPRT only, as a server on an IPv6-only
// host may), in passive and active mode.

var hostFTP = netip.MustParseAddr("2001:db8::f")

func ftpEngineConfig(mod func(*Config)) Config {
	c := Config{
		Pool6: pool6,
		Services: []Service{
			{VIP: vip, Port: 21, Policy: PolicyHash, ALG: ALGFTP, Backends: []Backend{{Addr: ap(hostFTP, 21)}}},
		},
		FTP:    FTP{PassiveFirst: 50000, PassiveLast: 50009},
		ISNKey: [16]byte{4, 6},
	}
	if mod != nil {
		mod(&c)
	}
	return c
}

// ftpServer is a minimal IPv6-only FTP server: EPSV, EPRT, RETR, QUIT.
// It records the commands it received.
type ftpServer struct {
	t    testing.TB
	f    *fabric
	data []byte
	mu   sync.Mutex
	cmds []string
	// peers are the client addresses of the data connections, and
	// locals the server's.
	peers, locals []string
	// activeFrom are the source ports of the active-mode connections in
	// turn (0: any); port 20 once, as TIME_WAIT holds it afterwards.
	activeFrom []uint16
}

func (s *ftpServer) commands() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.cmds...)
}

func (s *ftpServer) serve(l net.Listener) {
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go s.control(c)
		}
	}()
}

func (s *ftpServer) control(c net.Conn) {
	defer c.Close()
	r := bufio.NewReader(c)
	fmt.Fprintf(c, "220 IPv6-only FTP ready\r\n")
	var pasv net.Listener
	var eprt netip.AddrPort
	port := uint16(40000)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimRight(line, "\r\n")
		s.mu.Lock()
		s.cmds = append(s.cmds, line)
		s.mu.Unlock()
		verb, arg, _ := strings.Cut(line, " ")
		switch verb {
		case "EPSV":
			port++
			pasv = s.f.listen(ap(hostFTP, port))
			fmt.Fprintf(c, "229 Entering Extended Passive Mode (|||%d|)\r\n", port)
		case "EPRT":
			f := strings.Split(arg, "|")
			if len(f) != 5 || f[1] != "2" {
				fmt.Fprintf(c, "522 Network protocol not supported, use (2)\r\n")
				continue
			}
			p, _ := strconv.Atoi(f[3])
			eprt = netip.AddrPortFrom(netip.MustParseAddr(f[2]), uint16(p))
			fmt.Fprintf(c, "200 EPRT command successful.\r\n")
		case "RETR":
			var d net.Conn
			if pasv != nil {
				d, err = pasv.Accept()
				pasv.Close()
				pasv = nil
			} else if eprt.IsValid() {
				var from uint16
				s.mu.Lock()
				if len(s.activeFrom) > 0 {
					from, s.activeFrom = s.activeFrom[0], s.activeFrom[1:]
				}
				s.mu.Unlock()
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				d, err = gonet.DialTCPWithBind(ctx, s.f.backends[hostFTP].stack,
					tcpip.FullAddress{NIC: 1, Addr: tcpip.AddrFrom16(hostFTP.As16()), Port: from},
					tcpip.FullAddress{NIC: 1, Addr: tcpip.AddrFrom16(eprt.Addr().As16()), Port: eprt.Port()},
					ipv6.ProtocolNumber)
				cancel()
				eprt = netip.AddrPort{}
			} else {
				fmt.Fprintf(c, "425 Use PORT or PASV first.\r\n")
				continue
			}
			if err != nil {
				fmt.Fprintf(c, "425 Can't open data connection.\r\n")
				continue
			}
			s.mu.Lock()
			s.peers = append(s.peers, d.RemoteAddr().String())
			s.locals = append(s.locals, d.LocalAddr().String())
			s.mu.Unlock()
			fmt.Fprintf(c, "150 Opening BINARY mode data connection.\r\n")
			d.Write(s.data)
			d.Close()
			fmt.Fprintf(c, "226 Transfer complete.\r\n")
		case "QUIT":
			fmt.Fprintf(c, "221 Goodbye.\r\n")
			return
		default:
			fmt.Fprintf(c, "502 Command not implemented.\r\n")
		}
	}
}

// ftpClient is the IPv4 client's side of a control connection.
type ftpClient struct {
	t *testing.T
	f *fabric
	c net.Conn
	r *bufio.Reader
}

func dialFTP(ctx context.Context, t *testing.T, f *fabric) *ftpClient {
	t.Helper()
	c, err := f.dial(ctx, 21)
	if err != nil {
		t.Fatalf("dial VIP:21: %v", err)
	}
	fc := &ftpClient{t: t, f: f, c: c, r: bufio.NewReader(c)}
	t.Cleanup(func() { c.Close() })
	if l := fc.reply(); !strings.HasPrefix(l, "220 ") {
		t.Fatalf("banner %q", l)
	}
	return fc
}

func (fc *ftpClient) reply() string {
	fc.t.Helper()
	fc.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	l, err := fc.r.ReadString('\n')
	if err != nil {
		fc.t.Fatalf("reading a reply: %v (got %q)", err, l)
	}
	return l
}

func (fc *ftpClient) cmd(line string) string {
	fc.t.Helper()
	if _, err := fmt.Fprintf(fc.c, "%s\r\n", line); err != nil {
		fc.t.Fatalf("%s: %v", line, err)
	}
	return fc.reply()
}

// parse227 reads the address of a 227 reply.
func parse227(t *testing.T, l string) netip.AddrPort {
	t.Helper()
	i, j := strings.IndexByte(l, '('), strings.IndexByte(l, ')')
	if !strings.HasPrefix(l, "227 ") || i < 0 || j < i {
		t.Fatalf("not a 227 reply: %q", l)
	}
	var n [6]int
	if _, err := fmt.Sscanf(l[i+1:j], "%d,%d,%d,%d,%d,%d", &n[0], &n[1], &n[2], &n[3], &n[4], &n[5]); err != nil {
		t.Fatalf("227 reply %q: %v", l, err)
	}
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte{byte(n[0]), byte(n[1]), byte(n[2]), byte(n[3])}), uint16(n[4]<<8|n[5]))
}

// retrieve sends RETR and reads the file from d (nil: accept it from l).
func (fc *ftpClient) retrieve(d net.Conn, l net.Listener) ([]byte, net.Addr) {
	fc.t.Helper()
	if l := fc.cmd("RETR file"); !strings.HasPrefix(l, "150 ") {
		fc.t.Fatalf("RETR: %q", l)
	}
	if d == nil {
		var err error
		if d, err = l.Accept(); err != nil {
			fc.t.Fatalf("accepting the data connection: %v", err)
		}
	}
	defer d.Close()
	d.SetReadDeadline(time.Now().Add(20 * time.Second))
	got, err := io.ReadAll(d)
	if err != nil {
		fc.t.Fatalf("reading the data connection: %v after %d bytes", err, len(got))
	}
	if l := fc.reply(); !strings.HasPrefix(l, "226 ") {
		fc.t.Fatalf("after RETR: %q", l)
	}
	return got, d.RemoteAddr()
}

func newFTPFabric(t *testing.T, mod func(*Config), imp impairment) (*fabric, *ftpServer) {
	f := newFabric(t, fabricConfig{
		engine:    ftpEngineConfig(mod),
		backends:  map[netip.Addr]netstackOptions{hostFTP: {}},
		toClient:  imp,
		toBackend: imp,
		seed:      46,
	})
	data := make([]byte, 300<<10)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	s := &ftpServer{t: t, f: f, data: data, activeFrom: []uint16{20}}
	s.serve(f.listen(ap(hostFTP, 21)))
	return f, s
}

func TestFTPPassiveAndActive(t *testing.T) {
	for _, tc := range []struct {
		name string
		imp  impairment
	}{{"clean", impairment{}}, {"lossy", impairment{Loss: 0.02, Duplicate: 0.02, Reorder: 0.02}}} {
		t.Run(tc.name, func(t *testing.T) {
			f, srv := newFTPFabric(t, nil, tc.imp)
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			fc := dialFTP(ctx, t, f)
			want := sha256.Sum256(srv.data)

			// PASV: the server gets EPSV, the client a 227 with the VIP.
			a := parse227(t, fc.cmd("PASV"))
			if a.Addr() != vip || a.Port() < 50000 || a.Port() > 50009 {
				t.Fatalf("227 gives %v, want the VIP and a port of 50000-50009", a)
			}
			d, err := f.dial(ctx, a.Port())
			if err != nil {
				t.Fatalf("dial the passive port %v: %v", a, err)
			}
			got, _ := fc.retrieve(d, nil)
			if sha256.Sum256(got) != want {
				t.Fatalf("PASV: %d bytes, not the file's %d", len(got), len(srv.data))
			}

			// EPSV: passes, its 229 gets the lent port.
			l := fc.cmd("EPSV")
			var p uint16
			if _, err := fmt.Sscanf(l, "229 Entering Extended Passive Mode (|||%d|)", &p); err != nil {
				t.Fatalf("EPSV reply %q: %v", l, err)
			}
			d, err = f.dial(ctx, p)
			if err != nil {
				t.Fatalf("dial the passive port %d: %v", p, err)
			}
			if got, _ = fc.retrieve(d, nil); sha256.Sum256(got) != want {
				t.Fatalf("EPSV: %d bytes", len(got))
			}

			// PORT and EPRT: the server connects from port 20, then
			// from a port of its choice, to the client's pool6 address;
			// the client sees the VIP and the server's port.
			for i, cmd := range []string{"PORT 198,51,100,7,175,200", "EPRT |1|198.51.100.7|45001|"} {
				port := uint16(45000 + i)
				lst, err := gonet.ListenTCP(f.client, tcpip.FullAddress{NIC: 1, Addr: tcpip.AddrFrom4(client4.As4()), Port: port}, ipv4.ProtocolNumber)
				if err != nil {
					t.Fatal(err)
				}
				if l := fc.cmd(cmd); !strings.HasPrefix(l, "200 ") {
					t.Fatalf("%s: %q", cmd, l)
				}
				got, from := fc.retrieve(nil, lst)
				lst.Close()
				if sha256.Sum256(got) != want {
					t.Fatalf("%s: %d bytes", cmd, len(got))
				}
				srv.mu.Lock()
				local := netip.MustParseAddrPort(srv.locals[len(srv.locals)-1])
				srv.mu.Unlock()
				if i == 0 && local.Port() != 20 {
					t.Fatalf("the server connected from %v, not port 20", local)
				}
				if want := netip.AddrPortFrom(vip, local.Port()); from.String() != want.String() {
					t.Errorf("%s: the data connection came from %v, want %v", cmd, from, want)
				}
			}
			if l := fc.cmd("QUIT"); !strings.HasPrefix(l, "221 ") {
				t.Fatalf("QUIT: %q", l)
			}
			cmds := srv.commands()
			wantCmds := []string{"EPSV", "RETR file", "EPSV", "RETR file",
				"EPRT |2|2001:db8:d246::c633:6407|45000|", "RETR file",
				"EPRT |2|2001:db8:d246::c633:6407|45001|", "RETR file", "QUIT"}
			if strings.Join(cmds, "\n") != strings.Join(wantCmds, "\n") {
				t.Errorf("the server got %q, want %q", cmds, wantCmds)
			}
			st := f.engine.Stats().FTP
			if st.PassiveOpened != 2 || st.ActiveOpened != 2 || st.Expectations != 0 || st.Control != 1 {
				t.Errorf("FTP stats %+v", st)
			}
		})
	}
}

// TestFTPExpectationBounds checks that a control connection's
// expectations are bounded, engine-wide and per connection, that they
// time out, and that a lent port serves only its client, once.
func TestFTPExpectationBounds(t *testing.T) {
	f, _ := newFTPFabric(t, func(c *Config) {
		c.FTP.MaxExpectations = 3
		c.FTP.ExpectTimeout = 300 * time.Millisecond
		c.Timeouts.Closed = 200 * time.Millisecond
	}, impairment{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	fc := dialFTP(ctx, t, f)
	var ports []uint16
	for range 3 {
		ports = append(ports, parse227(t, fc.cmd("PASV")).Port())
	}
	if l := fc.cmd("PASV"); !strings.HasPrefix(l, "425 ") {
		t.Fatalf("a fourth PASV with 3 expectations allowed: %q, want 425", l)
	}
	if l := fc.cmd("PORT 192,0,2,99,4,0"); !strings.HasPrefix(l, "425 ") {
		t.Fatalf("PORT toward another host: %q, want 425", l)
	}
	if st := f.engine.Stats().FTP; st.Expectations != 3 || st.ExpectFull != 1 || st.Refused != 1 {
		t.Fatalf("FTP stats %+v", st)
	}
	// The first lent port is used once.
	d, err := f.dial(ctx, ports[0])
	if err != nil {
		t.Fatalf("dial lent port %d: %v", ports[0], err)
	}
	d.Close()
	if _, err := f.dial(ctx, ports[0]); err == nil {
		t.Fatalf("a second connection to lent port %d got through", ports[0])
	}
	// The others time out, and their ports are then closed.
	deadline := time.Now().Add(5 * time.Second)
	for f.engine.Stats().FTP.Expectations != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("expectations never timed out: %+v", f.engine.Stats().FTP)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if st := f.engine.Stats().FTP; st.ExpectExpired != 2 || st.PassiveOpened != 1 {
		t.Fatalf("FTP stats %+v", st)
	}
	if _, err := f.dial(ctx, ports[1]); err == nil {
		t.Fatalf("lent port %d still open after the timeout", ports[1])
	}
	// Per control connection: the fifth PASV replaces the oldest.
	var last uint16
	for range maxExpectPerControl + 1 {
		// Engine-wide bound 3 < per-connection bound: raise it.
		f.gate.Lock()
		f.engine.mu.Lock()
		f.engine.cfg.FTP.MaxExpectations = 100
		f.engine.mu.Unlock()
		f.gate.Unlock()
		last = parse227(t, fc.cmd("PASV")).Port()
	}
	if st := f.engine.Stats().FTP; st.Expectations != maxExpectPerControl || st.ExpectReplaced != 1 {
		t.Fatalf("FTP stats %+v", st)
	}
	if d, err = f.dial(ctx, last); err != nil {
		t.Fatalf("the newest lent port %d: %v", last, err)
	}
	d.Close()
	// Closing the control connection forgets its expectations, and
	// the gateway goes with the connection.
	fc.cmd("QUIT")
	fc.c.Close()
	deadline = time.Now().Add(5 * time.Second)
	for st := f.engine.Stats().FTP; st.Control != 0 || st.Expectations != 0; st = f.engine.Stats().FTP {
		if time.Now().After(deadline) {
			t.Fatalf("control connection still followed: %+v", f.engine.Stats().FTP)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestFTPControlAllocatesNothing checks the control connection's path
// through the gateway, a line rewritten each way, for allocations.
func TestFTPControlAllocatesNothing(t *testing.T) {
	e, err := New(ftpEngineConfig(nil))
	if err != nil {
		t.Fatal(err)
	}
	c4, c6 := openFTP(t, e)
	out := packet.NewBatch(8, 2048)
	// Built beforehand: one exchange per run, and one more for the
	// run AllocsPerRun makes first.
	const runs = 200
	var cmds, replies [][]byte
	for range runs + 1 {
		cmds = append(cmds, c4.next([]byte("PASV\r\n")))
		replies = append(replies, c6.next([]byte("229 Entering Extended Passive Mode (|||40001|)\r\n")))
	}
	i := 0
	allocs := testing.AllocsPerRun(runs, func() {
		out.Reset()
		e.Handle(cmds[i], out)
		out.Reset()
		e.Handle(replies[i], out)
		i++
	})
	if out.Len() != 1 || !bytes.HasPrefix(decodeOut(t, out.Packets[0]).tcp.Payload, []byte("227 ")) {
		t.Fatalf("the reply was not rewritten: %d packets", out.Len())
	}
	if allocs != 0 {
		t.Fatalf("%v allocations per exchange on a control connection", allocs)
	}
	if st := e.Stats().FTP; st.Control != 1 || st.Rewrites != 2*(runs+1) {
		t.Fatalf("FTP stats %+v", st)
	}
}

// scripted is one side of a scripted connection: each call to next is its
// next segment, in order, acknowledging nothing new.
type scripted struct {
	t          testing.TB
	v4         bool
	seq, ack   uint32
	sport, dpt uint16
}

func (s *scripted) next(payload []byte) []byte {
	// A full window: the acknowledgement stays where it is, which
	// RFC 5961 allows up to twice the window behind.
	sg := seg{seq: s.seq, ack: s.ack, flags: "AP", payload: payload, window: 0xffff}
	s.seq += uint32(len(payload))
	if s.v4 {
		return pkt4(s.t, client4, vip, s.sport, s.dpt, sg)
	}
	return pkt6(s.t, hostFTP, client6, s.sport, s.dpt, sg)
}

// openFTP opens a control connection through e with scripted packets.
func openFTP(t testing.TB, e *Engine) (*scripted, *scripted) {
	t.Helper()
	out := packet.NewBatch(8, 2048)
	const isnC, isnB = 1000, 900000
	e.Handle(pkt4(t, client4, vip, 40000, 21, seg{seq: isnC, flags: "S", window: 0xffff}), out)
	synAck := decodeOut(t, out.Packets[0])
	isnE := synAck.tcp.Seq
	out.Reset()
	e.Handle(pkt4(t, client4, vip, 40000, 21, seg{seq: isnC + 1, ack: isnE + 1, flags: "A", window: 0xffff}), out)
	if out.Len() != 1 {
		t.Fatalf("no SYN to the server: %d packets", out.Len())
	}
	out.Reset()
	e.Handle(pkt6(t, hostFTP, client6, 21, 40000, seg{seq: isnB, ack: isnC + 1, flags: "SA", window: 0xffff}), out)
	c4 := &scripted{t: t, v4: true, seq: isnC + 1, ack: isnE + 1, sport: 40000, dpt: 21}
	c6 := &scripted{t: t, seq: isnB + 1, ack: isnC + 1, sport: 21, dpt: 40000}
	out.Reset()
	e.Handle(c6.next([]byte("220 hi\r\n")), out)
	if out.Len() != 1 || !bytes.Equal(decodeOut(t, out.Packets[0]).tcp.Payload, []byte("220 hi\r\n")) {
		t.Fatalf("banner not translated: %d packets", out.Len())
	}
	return c4, c6
}

// FuzzFTP feeds a control connection through the gateway arbitrary lines
// both ways, in segments of arbitrary cuts, with SYNs to the ports it
// lends and from the server to the addresses it lets through, then runs
// the timers. The engine must not panic, must keep its expectations and
// table within their bounds, and every packet it sends must have
// consistent lengths.
func FuzzFTP(f *testing.F) {
	f.Add([]byte("\x01220 hi\r\n\x00PASV\r\n\x01229 Entering Extended Passive Mode (|||40001|)\r\n\x02\x00"))
	f.Add([]byte("\x00PORT 198,51,100,7,195,80\r\n\x01200 ok\r\n\x03\xc3\x50\x00EPRT |1|198.51.100.7|50001|\r\n"))
	f.Add([]byte("\x00PA\x00SV\r\nEPSV\r\n\x01229 (|||1|)\r\n229 (|||2|)\r\n\x02\x01\x02\x00\x00LPSV\r\n"))
	f.Add([]byte("\x00AUTH TLS\r\n\x01234 go\r\n\x00PASV\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		clock := newFakeClock()
		e, err := New(ftpEngineConfig(func(c *Config) {
			c.Clock = clock.Now
			c.MaxConnections = 8
			c.FTP = FTP{PassiveFirst: 50000, PassiveLast: 50003, ExpectTimeout: time.Second, MaxExpectations: 3}
		}))
		if err != nil {
			t.Fatal(err)
		}
		c4, c6 := openFTP(t, e)
		out := packet.NewBatch(8, 2048)
		// Chunks: a byte saying what, then up to the next byte below
		// 0x04 (lines end in "\n", which is 0x0a).
		for n := 0; len(data) > 0 && n < 64; n++ {
			what := data[0]
			data = data[1:]
			end := 0
			for end < len(data) && data[end] >= 0x04 {
				end++
			}
			chunk := data[:end]
			data = data[end:]
			switch what % 4 {
			case 0:
				e.Handle(c4.next(chunk), out)
			case 1:
				e.Handle(c6.next(chunk), out)
			case 2: // the client's SYN to a lent port
				p := uint16(50000)
				if len(chunk) > 0 {
					p += uint16(chunk[0] % 4)
				}
				e.Handle(pkt4(t, client4, vip, 41000+uint16(n), p, seg{seq: 77, flags: "S"}), out)
			case 3: // the server's SYN to the client
				p := uint16(50000)
				if len(chunk) > 1 {
					p = uint16(chunk[0])<<8 | uint16(chunk[1])
				}
				e.Handle(pkt6(t, hostFTP, client6, 20, p, seg{seq: 99, flags: "S"}), out)
			}
			if len(e.expects) > e.cfg.FTP.MaxExpectations || len(e.passive)+len(e.active) != len(e.expects) {
				t.Fatalf("%d expectations (%d passive, %d active), bound %d", len(e.expects), len(e.passive), len(e.active), e.cfg.FTP.MaxExpectations)
			}
			for i, x := range e.expects {
				if x.idx != i || x.ctl.ftp == nil {
					t.Fatalf("expectation %d of %d misplaced", i, len(e.expects))
				}
			}
			clock.Advance(50 * time.Millisecond)
			e.Expire(out)
			for _, p := range out.Packets {
				checkLengths(t, p)
			}
			out.Reset()
		}
		clock.Advance(2 * time.Second)
		e.Expire(out)
		if len(e.expects) != 0 {
			t.Fatalf("%d expectations after their timeout", len(e.expects))
		}
		if e.Len() > 8 || len(e.by6) > e.Len() {
			t.Fatalf("table out of bounds: %d by4, %d by6", e.Len(), len(e.by6))
		}
	})
}

// BenchmarkFTPControlSegment measures a plain line of a control
// connection through the gateway (copy, parse, full checksum) beside the
// same segment of a connection without it.
func BenchmarkFTPControlSegment(b *testing.B) {
	for _, alg := range []ALG{ALGNone, ALGFTP} {
		b.Run(map[ALG]string{ALGNone: "plain", ALGFTP: "ftp"}[alg], func(b *testing.B) {
			e, err := New(ftpEngineConfig(func(c *Config) { c.Services[0].ALG = alg }))
			if err != nil {
				b.Fatal(err)
			}
			c4, _ := openFTP(b, e)
			p := c4.next([]byte("NOOP\r\n"))
			out := packet.NewBatch(4, 2048)
			seq := binary.BigEndian.Uint32(p[20+packet.TCPSeq:])
			b.ReportAllocs()
			for b.Loop() {
				out.Reset()
				if e.Handle(p, out) != packet.Consumed {
					b.Fatal("not consumed")
				}
				// The next line: the established path does not check
				// the checksum, which the engine computes in full.
				seq += 6
				binary.BigEndian.PutUint32(p[20+packet.TCPSeq:], seq)
			}
		})
	}
}

// TestFTPActiveHandshakeExported checks that a hand-over carries an
// active-mode data connection in its handshake beside its control
// connection (TestFTPHandoverMidRewrite has the new engine complete it).
func TestFTPActiveHandshakeExported(t *testing.T) {
	e, err := New(ftpEngineConfig(nil))
	if err != nil {
		t.Fatal(err)
	}
	c4, c6 := openFTP(t, e)
	out := packet.NewBatch(8, 2048)
	e.Handle(c4.next([]byte("PORT 198,51,100,7,195,80\r\n")), out)
	if out.Len() != 1 || !bytes.Contains(decodeOut(t, out.Packets[0]).tcp.Payload, []byte("EPRT |2|2001:db8:d246::c633:6407|50000|")) {
		t.Fatalf("PORT not rewritten: %d packets", out.Len())
	}
	out.Reset()
	e.Handle(c6.next([]byte("200 ok\r\n")), out)
	out.Reset()
	e.Handle(pkt6(t, hostFTP, client6, 20, 50000, seg{seq: 5, flags: "S"}), out)
	if out.Len() != 1 || out.Packets[0].Family != packet.IPv4Family {
		t.Fatalf("the server's SYN not sent on to the client: %d packets", out.Len())
	}
	d := decodeOut(t, out.Packets[0])
	if ip(d.ip4.SrcIP) != vip || d.tcp.SrcPort != 20 || d.tcp.DstPort != 50000 || !d.tcp.SYN || d.tcp.Seq != 5 {
		t.Fatalf("SYN to the client: %v:%d -> %d, SYN %v, seq %d", d.ip4.SrcIP, d.tcp.SrcPort, d.tcp.DstPort, d.tcp.SYN, d.tcp.Seq)
	}
	if e.Len() != 2 {
		t.Fatalf("%d connections, want the control and the data connection", e.Len())
	}
	st := e.Export()
	if n := st.Connections(); n != 2 {
		t.Fatalf("%d connections exported, want the control and the data connection", n)
	}
	for _, c := range st.conns {
		if c.state == StateBackendSyn && c.kind != hkFTPData|hkFromBackend || c.state == StateEstablished && c.ftp == nil {
			t.Fatalf("connection in state %v exported as kind %b", c.state, c.kind)
		}
	}
}

// TestFTPBlindSegmentNotParsed checks that a control segment the
// established path refuses (an acknowledgement of data never sent, RFC
// 5961) does not reach the gateway: its command is not taken.
func TestFTPBlindSegmentNotParsed(t *testing.T) {
	e, err := New(ftpEngineConfig(nil))
	if err != nil {
		t.Fatal(err)
	}
	c4, _ := openFTP(t, e)
	out := packet.NewBatch(8, 2048)
	blind := pkt4(t, client4, vip, 40000, 21, seg{seq: c4.seq, ack: c4.ack + 1<<30, flags: "AP", window: 0xffff,
		payload: []byte("PORT 198,51,100,7,195,80\r\n")})
	if v := e.Handle(blind, out); v != packet.Drop || out.Len() != 0 {
		t.Fatalf("blind segment: %v, %d packets", v, out.Len())
	}
	st := e.Stats()
	if st.FTP.Rewrites != 0 || st.FTP.Expected != 0 || st.Drops[DropACKOutOfWindow] != 1 {
		t.Fatalf("blind segment reached the gateway: %+v", st.FTP)
	}
	e.Handle(c4.next([]byte("PORT 198,51,100,7,195,80\r\n")), out)
	if out.Len() != 1 || !bytes.Contains(decodeOut(t, out.Packets[0]).tcp.Payload, []byte("EPRT |2|")) {
		t.Fatalf("the real PORT after it not rewritten: %d packets", out.Len())
	}
}
