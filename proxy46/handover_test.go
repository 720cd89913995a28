package proxy46

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"
	"github.com/sixgate/sixgate/packet"
)

// moveState exports old's state, sends it through its encoding and imports
// it into a new engine built from cfg, as a hand-over between two
// processes does.
func moveState(t testing.TB, old *Engine, cfg Config) (*Engine, ImportReport) {
	t.Helper()
	b, err := old.Export().MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var st HandoverState
	if err := st.UnmarshalBinary(b); err != nil {
		t.Fatalf("decode own export: %v", err)
	}
	again, _ := st.MarshalBinary()
	if !bytes.Equal(again, b) {
		t.Fatalf("export does not survive its encoding: %d bytes, then %d", len(b), len(again))
	}
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := e.Import(&st)
	if err != nil {
		t.Fatal(err)
	}
	return e, rep
}

// TestHandoverNetstack hands the engine over in the middle of two bulk
// transfers (10 MB each way, through backends whose window scales differ
// from the client's) and of a request whose Host header has not arrived:
// real TCP stacks on both sides finish every transfer intact through the
// importing engine, which has a key of its own in its configuration and
// must take the exporter's.
func TestHandoverNetstack(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	f := e2eFabric(t, impairment{}, impairment{})

	// A request held before its backend is chosen.
	hc, err := f.dial(ctx, 80)
	if err != nil {
		t.Fatal(err)
	}
	defer hc.Close()
	hc.SetDeadline(time.Now().Add(60 * time.Second))
	if _, err := io.WriteString(hc, "GET / HTTP/1.1\r\nUser-Agent: test\r\n"); err != nil {
		t.Fatal(err)
	}

	errs := make(chan error, 2)
	for _, port := range []uint16{9000, 9001} {
		go func() { errs <- bulk(ctx, f, port, 10<<20, 10<<20, uint64(port)) }()
	}
	// Hand over once both transfers are well under way.
	deadline := time.Now().Add(30 * time.Second)
	for {
		moving := 0
		f.gate.RLock()
		for _, c := range f.current().Connections() {
			if c.BytesToClient > 1<<20 && c.BytesToBackend > 1<<20 {
				moving++
			}
		}
		f.gate.RUnlock()
		if moving == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("transfers did not get going")
		}
		time.Sleep(5 * time.Millisecond)
	}
	var rep ImportReport
	var states map[uint16]State
	f.swapEngine(func(old *Engine) *Engine {
		cfg := e2eEngineConfig()
		cfg.ISNKey = [16]byte{7, 7, 7}
		e, r := moveState(t, old, cfg)
		rep = r
		states = map[uint16]State{}
		for _, c := range e.Connections() {
			states[c.VIP.Port()] = c.State
		}
		return e
	})
	if rep.Imported != 3 || rep.Dropped != 0 {
		t.Fatalf("import: %+v, want 3 connections and none dropped", rep)
	}
	if states[9000] != StateEstablished || states[9001] != StateEstablished || states[80] != StateHolding {
		t.Fatalf("imported states %v", states)
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if _, err := io.WriteString(hc, "Host: b.example\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(hc).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "HTTP/1.1 200") {
		t.Fatalf("held request after the hand-over: %q, %v", line, err)
	}
	f.gate.RLock()
	st := f.current().Stats()
	f.gate.RUnlock()
	if st.ClientResets != 0 || st.BackendResets != 0 {
		t.Errorf("resets after the hand-over: %d to clients, %d to backends", st.ClientResets, st.BackendResets)
	}
	if st.Replayed == 0 {
		t.Errorf("the held request was not replayed from the imported bytes")
	}
}

// TestHandoverSynCookie: a SYN-ACK sent as a cookie by the old engine is
// accepted by the new one, with the options it encoded.
func TestHandoverSynCookie(t *testing.T) {
	old, clock := newTestEngine(t, func(c *Config) { c.SynCookieThreshold, c.MaxEmbryonic = 1, 8 })
	handle(t, old, pkt4(t, client4, vip, 44000, 22, seg{seq: 1, flags: "S"})) // stateful: one embryonic
	sa := handle1(t, old, pkt4(t, client4, vip, 44001, 22, seg{seq: 5000, flags: "S",
		opts: []layers.TCPOption{optMSSv(1460), optSACKOK(), optTS(77, 0), optNOPv(), optWS(9)}}))
	if old.Len() != 1 {
		t.Fatal("the cookie SYN kept state")
	}
	if old.Stats().SynCookiesSent != 1 {
		t.Fatal("no cookie sent")
	}
	tsv, _ := tsOf(t, sa.tcp)
	clock.Advance(3 * time.Second)
	cfg := testConfig(clock)
	cfg.ISNKey = [16]byte{0xee}
	cfg.SynCookieThreshold, cfg.MaxEmbryonic = 1, 8
	e, rep := moveState(t, old, cfg)
	if rep.Imported != 1 {
		t.Fatalf("import: %+v", rep)
	}
	_, ds := handle(t, e, pkt4(t, client4, vip, 44001, 22, seg{seq: 5001, ack: sa.tcp.Seq + 1, flags: "A",
		opts: []layers.TCPOption{optNOPv(), optNOPv(), optTS(78, tsv)}}))
	if e.Stats().SynCookiesAccepted != 1 || len(ds) != 1 || !ds[0].tcp.SYN || ds[0].tcp.Seq != 5000 {
		t.Fatalf("cookie from the old engine refused by the new one: accepted %d, out %+v", e.Stats().SynCookiesAccepted, ds)
	}
	// The stateful connection kept its SYN-ACK retransmission timer.
	clock.Advance(2 * time.Second)
	synAck := false
	for _, d := range expire(t, e) {
		synAck = synAck || d.ip4 != nil && d.tcp.SYN && d.tcp.ACK && d.tcp.DstPort == 44000
	}
	if !synAck {
		t.Fatal("imported embryonic connection: no SYN-ACK retransmitted")
	}
}

// TestHandoverSplicedSegment: segments of a spliced connection after the
// hand-over come out of the new engine exactly as the old one would have
// translated them.
func TestHandoverSplicedSegment(t *testing.T) {
	old, clock := newTestEngine(t, nil)
	twin, _ := newTestEngine(t, nil)
	isnV := spliceRR(t, old)
	if spliceRR(t, twin) != isnV {
		t.Fatal("twin engines differ")
	}
	e, rep := moveState(t, old, testConfig(clock))
	if rep.Imported != 1 {
		t.Fatalf("import: %+v", rep)
	}
	seg4 := pkt4(t, client4, vip, 40000, 22, seg{seq: 1001, ack: isnV + 1, flags: "PA", payload: []byte("more")})
	seg6 := pkt6(t, backendA.Addr(), client6, backendA.Port(), 40000, seg{seq: 7001, ack: 1005, flags: "PA", payload: []byte("reply")})
	for _, p := range [][]byte{seg4, seg6} {
		_, want := handle(t, twin, p)
		_, got := handle(t, e, p)
		if len(got) != 1 || len(want) != 1 || !sameSegment(got[0], want[0]) {
			t.Fatalf("after the hand-over:\n got %s\nwant %s", segments(got), segments(want))
		}
	}
}

// spliceRR opens one round-robin connection (port 22) from client4:40000
// to backendA with client ISN 1000 and backend ISN 7000, and returns the
// edge's ISN.
func spliceRR(t testing.TB, e *Engine) uint32 {
	t.Helper()
	_, ds := handle(t, e, pkt4(t, client4, vip, 40000, 22, seg{seq: 1000, flags: "S", opts: []layers.TCPOption{optMSSv(1460)}}))
	if len(ds) != 1 {
		t.Fatalf("no SYN-ACK: %+v", ds)
	}
	isnV := ds[0].tcp.Seq
	_, ds = handle(t, e, pkt4(t, client4, vip, 40000, 22, seg{seq: 1001, ack: isnV + 1, flags: "A"}))
	if len(ds) != 1 || !ds[0].tcp.SYN {
		t.Fatalf("no backend SYN: %+v", ds)
	}
	handle(t, e, pkt6(t, backendA.Addr(), client6, backendA.Port(), 40000, seg{seq: 7000, ack: 1001, flags: "SA", opts: []layers.TCPOption{optMSSv(1440)}}))
	if e.Stats().Spliced != 1 {
		t.Fatalf("not spliced: %+v", e.Connections())
	}
	return isnV
}

func sameSegment(a, b decoded) bool {
	x, y := a.tcp, b.tcp
	return x.Seq == y.Seq && x.Ack == y.Ack && x.Window == y.Window && x.SrcPort == y.SrcPort && x.DstPort == y.DstPort &&
		x.Checksum == y.Checksum && bytes.Equal(x.Payload, y.Payload) && (a.ip4 == nil) == (b.ip4 == nil)
}

func segments(ds []decoded) []string {
	var out []string
	for _, d := range ds {
		out = append(out, fmt.Sprintf("%d>%d seq %d ack %d win %d %q", d.tcp.SrcPort, d.tcp.DstPort, d.tcp.Seq, d.tcp.Ack, d.tcp.Window, d.tcp.Payload))
	}
	return out
}

// TestHandoverImportRefusals: what an importing engine cannot carry.
func TestHandoverImportRefusals(t *testing.T) {
	old, clock := newTestEngine(t, nil)
	spliceRR(t, old)
	st := old.Export()

	other := testConfig(clock)
	other.Pool6 = netip.MustParsePrefix("2001:db8:ffff::/96")
	e, _ := New(other)
	if _, err := e.Import(st); err == nil || !strings.Contains(err.Error(), "pool6 changed") {
		t.Errorf("import across a pool6 change: %v", err)
	}

	busy, _ := newTestEngine(t, nil)
	spliceRR(t, busy)
	if _, err := busy.Import(st); err == nil {
		t.Error("import into an engine with connections accepted")
	}

	// The service is gone, or its backend is: the spliced connection
	// drains in the new engine as after a reload, and is reset towards
	// both ends once the drain timeout has passed.
	for name, mod := range map[string]func(*Config){
		"service": func(c *Config) { c.Services = c.Services[:3] },
		"backend": func(c *Config) { c.Services[3].Backends = c.Services[3].Backends[1:] },
	} {
		cfg := testConfig(clock)
		cfg.Timeouts.Drain = 5 * time.Second
		mod(&cfg)
		e, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		rep, err := e.Import(st)
		if err != nil || rep.Imported != 1 || rep.Dropped != 0 || rep.Draining != 1 || e.Len() != 1 {
			t.Errorf("%s removed: %+v, %v, %d connections", name, rep, err, e.Len())
			continue
		}
		if name == "service" {
			if o := e.Orphans(); len(o) != 1 {
				t.Errorf("service removed: orphans %v, want the connection's VIP and port", o)
			}
		}
		clock.Advance(cfg.Timeouts.Drain + time.Second)
		out := packet.NewBatch(0, 0)
		e.Expire(out)
		var v4, v6 int
		for _, p := range out.Packets {
			if p.Family == packet.IPv4Family {
				v4++
			} else {
				v6++
			}
		}
		if draining, drained := e.Drains(); draining != 0 || drained != 1 || e.Len() != 0 || v4 == 0 || v6 == 0 {
			t.Errorf("%s removed, after the drain: draining %d drained %d, %d connections, %d resets to the client and %d to the backend",
				name, draining, drained, e.Len(), v4, v6)
		}
	}
}

// TestHandoverDecodeErrors: truncated and altered encodings are errors.
func TestHandoverDecodeErrors(t *testing.T) {
	old, _ := newTestEngine(t, nil)
	spliceRR(t, old)
	b, _ := old.Export().MarshalBinary()
	var st HandoverState
	for n := range len(b) {
		if err := st.UnmarshalBinary(b[:n]); err == nil {
			t.Fatalf("truncated to %d of %d bytes: accepted", n, len(b))
		}
	}
	if err := st.UnmarshalBinary(append(bytes.Clone(b), 0)); err == nil {
		t.Error("trailing byte accepted")
	}
	v3 := bytes.Clone(b)
	v3[5] = 3
	if err := st.UnmarshalBinary(v3); err == nil || !strings.Contains(err.Error(), "version 3") {
		t.Errorf("version 3: %v", err)
	}
	huge := bytes.Clone(b)
	copy(huge[63:], []byte{0xff, 0xff, 0xff, 0xff}) // the connection count
	if err := st.UnmarshalBinary(huge); err == nil {
		t.Error("connection count beyond the input accepted")
	}
}

// FuzzHandoverState: any input decodes to an error or to a state that
// encodes back to the same bytes, and imports without a panic.
func FuzzHandoverState(f *testing.F) {
	old, clock := newTestEngine(f, nil)
	spliceRR(f, old)
	handle(f, old, pkt4(f, client4, vip, 41000, 80, seg{seq: 1, flags: "S"}))
	b, _ := old.Export().MarshalBinary()
	f.Add(b)
	empty, _ := newTestEngine(f, nil)
	b, _ = empty.Export().MarshalBinary()
	f.Add(b)
	if v1, err := os.ReadFile(filepath.Join("testdata", "handover-v1.bin")); err == nil {
		f.Add(v1)
	}
	ftp, _ := New(ftpEngineConfig(nil))
	openFTP(f, ftp)
	for _, p := range ftpScript(f)[:10] {
		ftp.Handle(p, packet.NewBatch(8, 2048))
	}
	b, _ = ftp.Export().MarshalBinary()
	f.Add(b)
	f.Fuzz(func(t *testing.T, data []byte) {
		var st HandoverState
		if err := st.UnmarshalBinary(data); err != nil {
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
			data, again = again, nil
			again, _ = st2.MarshalBinary()
		}
		if !bytes.Equal(again, data) {
			t.Fatalf("decode then encode changed the bytes")
		}
		e, err := New(testConfig(clock))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.Import(&st); err != nil {
			return
		}
		expire(t, e)
		e.Connections()
	})
}

// TestHandoverKeepsDrainDeadline: a connection draining when it is handed
// over keeps what was left of its drain, not a fresh one.
func TestHandoverKeepsDrainDeadline(t *testing.T) {
	old, clock := newTestEngine(t, func(c *Config) { c.Timeouts.Drain = 5 * time.Second })
	spliceRR(t, old)
	cfg := testConfig(clock)
	cfg.Timeouts.Drain = 5 * time.Second
	cfg.Services[3].Backends = cfg.Services[3].Backends[1:]
	if r, err := old.Reconfigure(cfg, packet.NewBatch(0, 0)); err != nil || r.Draining != 1 {
		t.Fatalf("reconfigure: %+v, %v", r, err)
	}
	clock.Advance(3 * time.Second)
	st := old.Export()

	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if rep, err := e.Import(st); err != nil || rep.Draining != 1 {
		t.Fatalf("import: %+v, %v", rep, err)
	}
	out := packet.NewBatch(0, 0)
	clock.Advance(time.Second) // 4 s of 5
	if e.Expire(out); e.Len() != 1 {
		t.Fatal("reset before its drain deadline")
	}
	clock.Advance(1500 * time.Millisecond) // 5.5 s
	if e.Expire(out); e.Len() != 0 || out.Len() == 0 {
		t.Errorf("%d connections and %d resets after the drain deadline, want 0 and some", e.Len(), out.Len())
	}
}
