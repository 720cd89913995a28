package dhcp4

import (
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

// FuzzHandle feeds arbitrary frames to the server: an error verdict or a
// reply, never a panic, and a reply only to a well-formed request.
func FuzzHandle(f *testing.F) {
	top := loadTestTopo(&testing.T{}, "unused", true, true)
	discover, _ := dhcpv4.NewDiscovery(h2MAC, dhcpv4.WithRequestedOptions(dhcpv4.OptionIPv6OnlyPreferred))
	f.Add(clientFrame(f, discover, bcast, "0.0.0.0", "255.255.255.255"), uint32(2))
	f.Add([]byte{}, uint32(1))
	f.Add(make([]byte, 14+20+8+240), uint32(2))
	f.Fuzz(func(t *testing.T, frame []byte, port uint32) {
		s := &server{topo: top, cfg: top.DHCP4, table: newTable(), now: func() time.Time { return time.Unix(1_800_000_000, 0) }}
		out, _, v := s.handle(frame, 1, port)
		if (out != nil) != (v == replied) {
			t.Fatalf("verdict %v with reply %v", v, out != nil)
		}
	})
}
