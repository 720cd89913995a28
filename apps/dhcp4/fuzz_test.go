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

// FuzzLeaseFile feeds arbitrary lease files to the reader: an error or a
// table whose every lease is in a pool, of a host, unexpired, and unique.
func FuzzLeaseFile(f *testing.F) {
	top := loadTestTopo(&testing.T{}, "unused", false, false)
	now := time.Unix(1_800_000_000, 0)
	f.Add([]byte(`{"version": 1, "leases": [{"key": "mac:00:00:0c:00:00:02", "mac": "00:00:0c:00:00:02", "addr": "192.0.2.100", "expires": "2030-01-01T00:00:00Z"}], "declined": [{"addr": "192.0.2.101", "until": "2030-01-01T00:00:00Z"}]}`))
	f.Add([]byte(`{"version": 1, "leases": null}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		tab, _, err := parseTable(data, top, now)
		if err != nil {
			return
		}
		for k, l := range tab.byKey {
			if _, host := top.HostByMAC(l.mac); !host || !inSomePool(top, l.addr) || !now.Before(l.expiry) || tab.byAddr[l.addr] != l || k != l.key {
				t.Fatalf("lease kept: %+v", l)
			}
		}
		if len(tab.byAddr) != len(tab.byKey) {
			t.Fatalf("%d addresses for %d keys", len(tab.byAddr), len(tab.byKey))
		}
	})
}
