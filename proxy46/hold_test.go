package proxy46

import (
	"testing"

	"github.com/gopacket/gopacket/layers"
	"github.com/sixgate/sixgate/packet"
)

// TestHeldPastGapKept: held data that arrives past a gap is kept, and
// joins the held bytes in order once the gap fills, so the choice and
// the replay need not wait for the client to retransmit it.
func TestHeldPastGapKept(t *testing.T) {
	e, _ := newTestEngine(t, nil)
	const cport, isnC = 41000, 5000
	isnV, tsV := handshake(t, e, 8000, cport, isnC)
	data := func(off uint32, ts uint32, s string) []byte {
		return pkt4(t, client4, vip, cport, 8000, seg{seq: isnC + 1 + off, ack: isnV + 1, flags: "PA", window: 1000,
			opts: []layers.TCPOption{optNOPv(), optNOPv(), optTS(ts, tsV)}, payload: []byte(s)})
	}
	const part1, part2, part3 = "GET / HTTP/1.1\r\n", "Host: b.exa", "mple\r\n\r\n"
	// The last part, then the middle one, both past a gap.
	for i, p := range []struct {
		off uint32
		s   string
	}{{uint32(len(part1) + len(part2)), part3}, {uint32(len(part1)), part2}} {
		if v, ds := handle(t, e, data(p.off, 200+uint32(i), p.s)); v != packet.Consumed || len(ds) != 0 {
			t.Fatalf("part past the gap %d: %v, %d packets", i, v, len(ds))
		}
	}
	// A copy of one of them is a duplicate.
	if v, _ := handle(t, e, data(uint32(len(part1)), 202, part2)); v != packet.Drop {
		t.Fatalf("duplicate past the gap: %v", v)
	}
	if st := e.Stats(); st.HeldOutOfOrder != 2 || st.HeldBytes != uint64(len(part2)+len(part3)) {
		t.Fatalf("out of order %d, held bytes %d", st.HeldOutOfOrder, st.HeldBytes)
	}
	// The first part fills the gap: the Host header decides at once.
	_, ds := handle(t, e, data(0, 203, part1))
	if len(ds) != 1 || !ds[0].tcp.SYN || ip(ds[0].ip6.DstIP) != backendB.Addr() {
		t.Fatalf("no SYN to backend B once the gap filled: %+v", ds)
	}
	_, ds = handle(t, e, pkt6(t, backendB.Addr(), client6, 80, cport, seg{seq: 77, ack: isnC + 1, flags: "SA", window: 65535,
		opts: []layers.TCPOption{optMSSv(1400), optSACKOK(), optTS(9, 203)}}))
	if len(ds) != 1 || string(ds[0].tcp.Payload) != part1+part2+part3 || ds[0].tcp.Seq != isnC+1 {
		t.Fatalf("replay: %+v", ds)
	}
	if st := e.Stats(); st.HeldBytes != 0 {
		t.Fatalf("held bytes %d after the replay", st.HeldBytes)
	}
}

// TestHeldPastGapBounded: what is kept past a gap stays inside the window
// the edge offered and the per-connection bound.
func TestHeldPastGapBounded(t *testing.T) {
	e, _ := newTestEngine(t, func(c *Config) { c.MaxHeldBytes = 100 })
	const cport, isnC = 41001, 6000
	isnV, tsV := handshake(t, e, 8000, cport, isnC)
	data := func(off uint32, n int) packet.Verdict {
		v, _ := handle(t, e, pkt4(t, client4, vip, cport, 8000, seg{seq: isnC + 1 + off, ack: isnV + 1, flags: "PA", window: 1000,
			opts: []layers.TCPOption{optNOPv(), optNOPv(), optTS(300, tsV)}, payload: make([]byte, n)}))
		return v
	}
	if data(100, 10) != packet.Drop || data(50, 40) != packet.Consumed || data(95, 40) != packet.Consumed {
		t.Fatal("window bound not applied")
	}
	if st := e.Stats(); st.HeldBytes != 45 || st.Drops[DropOutOfOrder] != 1 {
		t.Fatalf("held %d, out-of-order drops %d", st.HeldBytes, st.Drops[DropOutOfOrder])
	}
	if data(10, 30) != packet.Consumed || data(5, 30) != packet.Drop {
		t.Fatal("per-connection bound not applied")
	}
}

// TestWindowScaleZero: a window scale of 0 is offered as 0, not taken for
// the default.
func TestWindowScaleZero(t *testing.T) {
	for _, tc := range []struct {
		ws   *uint8
		want byte
	}{{nil, 7}, {new(uint8), 0}} {
		e, _ := newTestEngine(t, func(c *Config) { c.WindowScale = tc.ws })
		_, ds := handle(t, e, pkt4(t, client4, vip, 42000, 80, seg{seq: 1, flags: "S",
			opts: []layers.TCPOption{optMSSv(1460), optNOPv(), optWS(9)}}))
		if ws := tcpOpts(ds[0].tcp)[layers.TCPOptionKindWindowScale]; len(ws) != 1 || ws[0] != tc.want {
			t.Errorf("window scale %v offered, want %d", ws, tc.want)
		}
	}
}
