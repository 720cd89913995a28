package nat64

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/sixgate/sixgate/packet"
)

// handOver exports e's tables, encodes and decodes them, and imports them
// into a new NAT64 of configuration c.
func handOver(t *testing.T, e *NAT64, c Config) (*NAT64, ImportReport) {
	t.Helper()
	data, err := e.Export().MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var st HandoverState
	if err := st.UnmarshalBinary(data); err != nil {
		t.Fatal(err)
	}
	again, _ := st.MarshalBinary()
	if string(again) != string(data) {
		t.Fatal("decode then encode changed the state")
	}
	n := newTest(t, c)
	rep, err := n.Import(&st)
	if err != nil {
		t.Fatal(err)
	}
	return n, rep
}

// After a hand-over the sessions translate as before, with the same pool4
// mapping, state and time left; a new binding takes no port in use.
func TestHandoverRoundTrip(t *testing.T) {
	e, clk, _ := live(t)
	clk.advance(30 * time.Second)
	wantBIB, wantSessions := e.BIB(), e.Sessions()
	if len(wantSessions) < 4 {
		t.Fatalf("live engine has %d sessions", len(wantSessions))
	}

	// The new process: its own clock (another epoch) and seed; the same
	// configuration.
	clk2 := &fakeClock{t: time.Unix(5_000_000, 0)}
	c := testConfig(clk2)
	c.Seed = 99
	c.StaticBIB = []StaticBinding{{Protocol: UDP, IPv4: ap(p4, 999), IPv6: ap(h2, 999)}}
	n, rep := handOver(t, e, c)
	if rep.Dropped != 0 || rep.DroppedBindings != 0 || rep.Sessions != len(wantSessions) {
		t.Fatalf("report %+v, want %d sessions and nothing dropped", rep, len(wantSessions))
	}
	gotBIB, gotSessions := n.BIB(), n.Sessions()
	if len(gotBIB) != len(wantBIB) {
		t.Fatalf("BIB %+v, want %+v", gotBIB, wantBIB)
	}
	for i := range wantBIB {
		if gotBIB[i] != wantBIB[i] {
			t.Fatalf("binding %d: %+v, want %+v", i, gotBIB[i], wantBIB[i])
		}
	}
	if len(gotSessions) != len(wantSessions) {
		t.Fatalf("%d sessions, want %d", len(gotSessions), len(wantSessions))
	}
	for i, w := range wantSessions {
		g := gotSessions[i]
		d := w.ExpiresIn - g.ExpiresIn
		g.ExpiresIn = w.ExpiresIn
		if g != w {
			t.Fatalf("session %d: %+v, want %+v", i, gotSessions[i], w)
		}
		// Only the time the state took between the processes is lost.
		if d < 0 || d > time.Second {
			t.Fatalf("session %d expires in %v, want %v", i, gotSessions[i].ExpiresIn, w.ExpiresIn)
		}
	}

	// The sessions translate, both ways, through the same pool4 address
	// and port.
	wantEnds(t, one(t, n, udp4(t, ap(r1, 5300), ap(p4, 2000), "answer")), "[64:ff9b::cb00:7109]:5300", "[2001:db8::5]:2000")
	wantEnds(t, one(t, n, udp6(t, ap(h1, 2000), ap(r1v6, 5300), "query")), "192.0.2.2:2000", "203.0.113.9:5300")
	data := one(t, n, tcp4(t, ap(r1, 80), ap(p4, 2100), layers.TCP{ACK: true, PSH: true, Seq: 6, Ack: 7}))
	wantEnds(t, data, "[64:ff9b::cb00:7109]:80", "[2001:db8::5]:2100")
	if tcp := data.Layer(layers.LayerTypeTCP).(*layers.TCP); tcp.Seq != 6 || tcp.Ack != 7 {
		t.Fatalf("segment %+v", tcp)
	}
	echo := serialize(t, v4(r1, p4, layers.IPProtocolICMPv4),
		&layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(0, 0), Id: 7, Seq: 2}, gopacket.Payload("ping"))
	wantEnds(t, one(t, n, echo), "[64:ff9b::cb00:7109]:7", "[2001:db8::5]:7")

	// Port 2000 of 192.0.2.2 is h1's: h2's UDP port 2000 gets another,
	// of the same address (the allocator's hash travelled).
	p := one(t, n, udp6(t, ap(h2, 2000), ap(r1v6, 5300), "other"))
	src, _ := ends(t, p)
	if src.Port() == 2000 || src.Addr() != p4 {
		t.Fatalf("h2 lent %v", src)
	}
}

// The timers keep their time left: a UDP session lives out what it had
// left at the export, not a new lifetime; an established TCP session
// stays established.
func TestHandoverTimers(t *testing.T) {
	e, clk := newDefault(t)
	one(t, e, udp6(t, ap(h1, 2000), ap(r1v6, 5300), "a"))
	one(t, e, tcp6(t, ap(h1, 2100), ap(r1v6, 80), layers.TCP{SYN: true, Seq: 1}))
	one(t, e, tcp4(t, ap(r1, 80), ap(p4, 2100), layers.TCP{SYN: true, ACK: true, Seq: 5, Ack: 2}))
	clk.advance(DefaultUDP - time.Minute)

	clk2 := &fakeClock{t: time.Unix(7_000_000, 0)}
	n, _ := handOver(t, e, testConfig(clk2))
	clk2.advance(time.Minute - 2*time.Second)
	n.Expire(packet.NewBatch(1, 64))
	if len(n.Sessions()) != 2 {
		t.Fatalf("sessions %+v, want both still there", n.Sessions())
	}
	clk2.advance(4 * time.Second)
	n.Expire(packet.NewBatch(1, 64))
	ss := n.Sessions()
	if len(ss) != 1 || ss[0].Protocol != "tcp" || ss[0].State != "ESTABLISHED" {
		t.Fatalf("sessions %+v, want the TCP one alone, established", ss)
	}
	if len(n.BIB()) != 1 {
		t.Fatalf("BIB %+v: the UDP binding outlived its session", n.BIB())
	}
}

// The importer's configuration wins: sessions whose pool4 address and port
// it no longer has, or whose static binding it no longer makes, are
// dropped and counted; a lowered lifetime applies to the time left.
func TestHandoverNewConfiguration(t *testing.T) {
	e, _, _ := live(t)
	one(t, e, tcp6(t, ap(h1, 62000), ap(r1v6, 80), layers.TCP{SYN: true}))
	before := len(e.Sessions())

	clk2 := &fakeClock{t: time.Unix(1_000_000, 0)}
	c := testConfig(clk2)
	c.Pool4 = c.Pool4[:1]        // 192.0.2.3 goes
	c.Timeouts.UDP = time.Second // below the RFC, for the test
	n, rep := handOver(t, e, c)
	// The TCP session through 192.0.2.3 and the one of the static binding
	// (hairpinned) go, and their bindings.
	if rep.Dropped != 2 || rep.Sessions != before-2 || rep.DroppedBindings != 1 {
		t.Fatalf("report %+v with %d sessions before", rep, before)
	}
	for _, s := range n.Sessions() {
		if s.IPv4Local.Addr() == p4b || s.IPv4Local.Port() == 999 {
			t.Fatalf("session %+v kept", s)
		}
		if s.Protocol == "udp" && s.ExpiresIn > time.Second {
			t.Fatalf("session %+v: the new lifetime does not apply", s)
		}
	}
	dropped(t, n, tcp4(t, ap(r1, 80), ap(p4b, 62000), layers.TCP{ACK: true, Seq: 1}))
}

// Import refuses a NAT64 that translated already.
func TestHandoverIntoBusyEngine(t *testing.T) {
	e, _, _ := live(t)
	n, _ := newDefault(t)
	one(t, n, udp6(t, ap(h1, 2000), ap(r1v6, 5300), "a"))
	if _, err := n.Import(e.Export()); !errors.Is(err, ErrNotEmpty) {
		t.Fatalf("import into a busy engine: %v", err)
	}
}

// Every truncation and every corrupted field is an error.
func TestHandoverDecodeErrors(t *testing.T) {
	e, _, _ := live(t)
	data, _ := e.Export().MarshalBinary()
	for i := range len(data) {
		var st HandoverState
		if err := st.UnmarshalBinary(data[:i]); err == nil {
			t.Fatalf("%d of %d bytes accepted", i, len(data))
		}
	}
	var st HandoverState
	if err := st.UnmarshalBinary(append(data[:len(data):len(data)], 0)); err == nil {
		t.Fatal("trailing byte accepted")
	}
	sess := handoverHeaderLen + 4 + e.Export().Bindings()*handoverBindingLen + 4
	for _, c := range []struct {
		name string
		at   int
		v    byte
	}{
		{"magic", 0, 'x'},
		{"version", 5, 3},
		{"flags", 7, 1},
		{"binding count", handoverHeaderLen, 0xff},
		{"binding protocol", handoverHeaderLen + 4, 3},
		{"session count", sess - 4, 0x10},
		{"session protocol", sess, 9},
		{"TCP state", sess + handoverBindingLen + 6, 8},
		{"timer class", sess + handoverBindingLen + 7, numLists},
		{"time left", sess + handoverBindingLen + 8, 0x7f},
	} {
		bad := append([]byte(nil), data...)
		bad[c.at] = c.v
		if err := st.UnmarshalBinary(bad); err == nil {
			t.Errorf("%s corrupted: accepted", c.name)
		}
	}
}

// FuzzHandoverState decodes arbitrary bytes: an error or a state that
// encodes back to the same bytes and imports without harm.
func FuzzHandoverState(f *testing.F) {
	e, _, _ := live(f)
	data, _ := e.Export().MarshalBinary()
	f.Add(data)
	f.Add(data[:handoverHeaderLen+4])
	f.Add([]byte("n64h\x00\x01\x00\x00"))
	if v1, err := os.ReadFile(filepath.Join("testdata", "handover-v1.bin")); err == nil {
		f.Add(v1)
	}
	pkts, after := ftpHandoverScript(f)
	clk := &fakeClock{t: time.Unix(1_000_000, 0)}
	ftp := newTest(f, ftpConfig(clk))
	for _, p := range pkts[:after+3] {
		run(f, ftp, p)
	}
	data, _ = ftp.Export().MarshalBinary()
	f.Add(data)
	f.Fuzz(func(t *testing.T, b []byte) {
		var st HandoverState
		if err := st.UnmarshalBinary(b); err != nil {
			return
		}
		again, _ := st.MarshalBinary()
		if st.version == 1 {
			// An older version is encoded as the current one, which
			// must then go round unchanged.
			var st2 HandoverState
			if err := st2.UnmarshalBinary(again); err != nil {
				t.Fatalf("version 1 state re-encoded does not decode: %v", err)
			}
			b, again = again, nil
			again, _ = st2.MarshalBinary()
		}
		if string(again) != string(b) {
			t.Fatalf("re-encoded %x, want %x", again, b)
		}
		clk := &fakeClock{t: time.Unix(1_000_000, 0)}
		n := newTest(t, ftpConfig(clk))
		if _, err := n.Import(&st); err != nil {
			t.Fatal(err)
		}
		clk.advance(10 * time.Minute)
		n.Expire(packet.NewBatch(4, packet.DefaultBufSize))
		st2 := n.Stats()
		if st2.Sessions["udp"]+st2.Sessions["icmp"] != 0 {
			t.Fatalf("sessions outlived their lifetime: %+v", st2)
		}
	})
}

// The per-host counts are rebuilt on import: a host at its binding limit
// before the hand-over is at it after.
func TestHandoverHostCounts(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1_000_000, 0)}
	c := testConfig(clk)
	c.Limits = Limits{BindingsPerHost: 5}
	e := newTest(t, c)
	for i := range 5 {
		one(t, e, tcp6(t, ap(h1, uint16(4000+i)), ap(r1v6, 80), layers.TCP{SYN: true}))
	}
	n, rep := handOver(t, e, c)
	if rep.Bindings != 5 || rep.Sessions != 5 {
		t.Fatalf("report %+v", rep)
	}
	dropped(t, n, tcp6(t, ap(h1, 4100), ap(r1v6, 80), layers.TCP{SYN: true}))
	if d := n.Stats().Drops["host_binding_limit"]; d != 1 {
		t.Fatalf("h1's sixth binding: %d host limit drops, want 1", d)
	}
	one(t, n, tcp6(t, ap(h2, 4100), ap(r1v6, 80), layers.TCP{SYN: true}))
}

// BenchmarkHandover exports, encodes, decodes and imports the tables of
// 100 000 UDP sessions: the time the engines stand still for them.
func BenchmarkHandover(b *testing.B) {
	clk := &fakeClock{t: time.Unix(1_000_000, 0)}
	c := testConfig(clk)
	c.Pool4 = []Pool4Entry{{Address: p4, First: 1, Last: 65535}}
	c.Limits = Limits{SessionsPerHost: 1 << 20, BindingsPerHost: 1 << 20}
	e := newTest(b, c)
	out := packet.NewBatch(4, packet.DefaultBufSize)
	// 5000 bindings (50 hosts, 100 ports each), 20 remotes each.
	for i := range 100_000 {
		h, r := h1.As16(), r1v6.As16()
		h[15], r[15] = byte(i%5000/100), byte(i/5000)
		e.Handle(udp6(b, ap(netip.AddrFrom16(h), uint16(1024+i%100)), ap(netip.AddrFrom16(r), 53), "q"), out)
		out.Reset()
	}
	if n := len(e.Sessions()); n != 100_000 {
		b.Fatalf("%d sessions", n)
	}
	b.ResetTimer()
	for range b.N {
		data, _ := e.Export().MarshalBinary()
		var st HandoverState
		if err := st.UnmarshalBinary(data); err != nil {
			b.Fatal(err)
		}
		n := newTest(b, c)
		if rep, err := n.Import(&st); err != nil || rep.Sessions != 100_000 {
			b.Fatalf("%+v %v", rep, err)
		}
		b.ReportMetric(float64(len(data))/100_000, "bytes/session")
	}
}
