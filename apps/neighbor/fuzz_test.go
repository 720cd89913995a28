package neighbor

import (
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// FuzzHandle feeds arbitrary frames to the ARP/NDP answerer: it must never
// panic, and every answer it builds must be a well-formed frame.
func FuzzHandle(f *testing.F) {
	f.Add(arpRequest(f, mac("00:00:0a:00:00:01"), "10.0.0.1", "10.0.0.2"))
	f.Add(neighborSolicitation(f, mac("00:00:0a:00:00:01"), "2001:db8::1", "2001:db8::2"))
	f.Add(neighborSolicitation(f, mac("00:00:0a:00:00:01"), "::", "2001:db8::2"))
	f.Add([]byte{})
	f.Add(make([]byte, 14))
	v := New(loadTopo(f, "fabric.yaml"), quietLog()).view.Load()
	f.Fuzz(func(t *testing.T, frame []byte) {
		frames, _, vd := v.handle(frame)
		if vd != answered {
			return
		}
		for _, out := range frames {
			p := gopacket.NewPacket(out, layers.LayerTypeEthernet, gopacket.Default)
			if el := p.ErrorLayer(); el != nil {
				t.Fatalf("answer to %x does not decode: %v", frame, el.Error())
			}
		}
	})
}
