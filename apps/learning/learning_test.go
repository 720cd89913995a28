package learning

import (
	"io"
	"net"
	"strconv"
	"testing"

	"github.com/sirupsen/logrus"

	"github.com/sixgate/sixgate/controller"
	"github.com/sixgate/sixgate/controller/controllertest"
	"github.com/sixgate/sixgate/controller/ofp"
	"github.com/sixgate/sixgate/controller/ofptest"
)

var (
	macA = net.HardwareAddr{2, 0, 0, 0, 0, 0xa}
	macB = net.HardwareAddr{2, 0, 0, 0, 0, 0xb}
)

func frame(dst, src net.HardwareAddr, ethType uint16) []byte {
	b := make([]byte, 60)
	copy(b, dst)
	copy(b[6:], src)
	b[12], b[13] = byte(ethType>>8), byte(ethType)
	return b
}

func packetIn(port uint32, data []byte) *ofp.PacketIn {
	return &ofp.PacketIn{BufferID: ofp.NoBufferID, TotalLen: uint16(len(data)), Reason: ofp.PacketInNoMatch,
		Cookie: controller.AppCookie(CookieID, 0), Match: ofp.NewMatch(ofp.InPort(port)), Data: data}
}

func quiet() *logrus.Entry {
	l := logrus.New()
	l.SetOutput(io.Discard)
	return logrus.NewEntry(l)
}

func outPort(t *testing.T, as []ofp.Action) uint32 {
	t.Helper()
	if len(as) != 1 {
		t.Fatalf("actions %v, want one output", as)
	}
	o, ok := as[0].(*ofp.ActionOutput)
	if !ok {
		t.Fatalf("action %v, want output", as[0])
	}
	return o.Port
}

// TestLearningSwitch runs the app in a real controller against the fake
// switch: table-miss on connect, flood for an unknown destination, then a
// flow and a direct packet-out once both ends are known.
func TestLearningSwitch(t *testing.T) {
	app := New(quiet())
	_, addr, ctx := controllertest.Start(t, app)
	sw := &ofptest.Switch{DPID: 7, NTables: 254}
	go sw.Dial(ctx, addr)

	ofptest.WaitFor(t, "table-miss flow", func() bool { return len(sw.Flows()) == 1 })
	miss := sw.Flows()[0]
	if miss.Priority != 0 || len(miss.Match.Fields) != 0 || miss.Cookie>>controller.CookieShift != CookieID {
		t.Fatalf("table-miss flow %+v", miss)
	}

	// A -> B from port 1: B unknown, flooded; A learned on port 1.
	if err := sw.SendMessage(packetIn(1, frame(macB, macA, 0x0800))); err != nil {
		t.Fatal(err)
	}
	ofptest.WaitFor(t, "flood packet-out", func() bool { return len(sw.PacketOuts()) == 1 })
	po := sw.PacketOuts()[0]
	if p := outPort(t, po.Actions); p != ofp.PortFlood {
		t.Errorf("first packet-out to port %#x, want FLOOD", p)
	}
	if po.InPort != 1 || len(po.Data) != 60 {
		t.Errorf("first packet-out in_port %d with %d bytes, want 1 and the whole frame", po.InPort, len(po.Data))
	}
	if sw.FlowMods() != 1 {
		t.Errorf("%d flow-mods after a flood, want only the table-miss", sw.FlowMods())
	}

	// B -> A from port 2: A known on port 1, so a flow and a packet-out there.
	if err := sw.SendMessage(packetIn(2, frame(macA, macB, 0x0800))); err != nil {
		t.Fatal(err)
	}
	ofptest.WaitFor(t, "second packet-out", func() bool { return len(sw.PacketOuts()) == 2 })
	if p := outPort(t, sw.PacketOuts()[1].Actions); p != 1 {
		t.Errorf("second packet-out to port %d, want 1", p)
	}
	flows := sw.Flows()
	if len(flows) != 2 {
		t.Fatalf("flows %+v, want table-miss and one learned", flows)
	}
	learned := flows[0]
	if learned.Priority != 1 || outPort(t, learned.Instructions[0].(*ofp.InstructionActions).Actions) != 1 {
		t.Errorf("learned flow %+v, want priority 1 to port 1", learned)
	}
	for _, want := range []struct {
		field uint8
		value string
	}{{ofp.FieldInPort, "2"}, {ofp.FieldEthDst, macA.String()}, {ofp.FieldEthSrc, macB.String()}} {
		o, ok := learned.Match.Field(want.field)
		if !ok {
			t.Errorf("learned flow lacks field %d", want.field)
			continue
		}
		got := net.HardwareAddr(o.Value).String()
		if want.field == ofp.FieldInPort {
			got = strconv.FormatUint(o.Uint(), 10)
		}
		if got != want.value {
			t.Errorf("learned flow field %d = %s, want %s", want.field, got, want.value)
		}
	}
}

// TestHandle checks the switch logic on its own: LLDP and short frames are
// ignored, the MAC bound is kept, and a moved host is re-learned.
func TestHandle(t *testing.T) {
	app := New(quiet())
	app.SetMaxMACs(2)
	if _, ok := app.Handle(nil, packetIn(1, frame(macB, macA, 0x88cc))); ok {
		t.Error("LLDP answered")
	}
	if _, ok := app.Handle(nil, packetIn(1, []byte{1, 2, 3})); ok {
		t.Error("runt frame answered")
	}
	if _, ok := app.Handle(nil, &ofp.PacketIn{Data: frame(macB, macA, 0x0800)}); ok {
		t.Error("packet-in without in_port answered")
	}
	if _, ok := app.Known(nil, macA); ok {
		t.Error("ignored packets taught a MAC")
	}

	app.Handle(nil, packetIn(1, frame(macB, macA, 0x0800)))
	app.Handle(nil, packetIn(3, frame(macA, macA, 0x0800))) // A moved to port 3
	if p, _ := app.Known(nil, macA); p != 3 {
		t.Errorf("A on port %d after moving, want 3", p)
	}
	app.Handle(nil, packetIn(2, frame(macA, macB, 0x0800)))
	c := net.HardwareAddr{2, 0, 0, 0, 0, 0xc}
	msgs, _ := app.Handle(nil, packetIn(4, frame(macA, c, 0x0800)))
	if _, ok := app.Known(nil, c); ok {
		t.Error("a third MAC was learned past the bound of 2")
	}
	if len(msgs) != 2 {
		t.Fatalf("%d messages for a known destination, want flow-mod and packet-out", len(msgs))
	}
	if fm, ok := msgs[0].(*ofp.FlowMod); !ok || fm.Command != ofp.FlowAdd {
		t.Errorf("first message %v, want a flow add", msgs[0])
	}
	if po := msgs[1].(*ofp.PacketOut); po.InPort != 4 || outPort(t, po.Actions) != 3 {
		t.Errorf("packet-out in_port %d, want 4 to port 3", po.InPort)
	}
}

func BenchmarkHandle(b *testing.B) {
	app := New(quiet())
	pis := make([]*ofp.PacketIn, 256)
	for i := range pis {
		src := net.HardwareAddr{2, 0, 0, 0, 0, byte(i)}
		dst := net.HardwareAddr{2, 0, 0, 0, 0, byte(i + 1)}
		pis[i] = packetIn(uint32(1+i%4), frame(dst, src, 0x0800))
		app.Handle(nil, pis[i])
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		app.Handle(nil, pis[i%len(pis)])
	}
}
