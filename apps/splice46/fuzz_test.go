package splice46

import (
	"io"
	"testing"

	"github.com/sirupsen/logrus"

	"github.com/sixgate/sixgate/controller/ofp"
	"github.com/sixgate/sixgate/topo"
)

// FuzzPacketIn feeds arbitrary frames to the app as packet-ins: the app
// and the engine, which also answers for the VIPs, must never panic.
func FuzzPacketIn(f *testing.F) {
	top, err := topo.Load("../../topo/examples/seed.yaml")
	if err != nil {
		f.Fatal(err)
	}
	log := logrus.New()
	log.SetOutput(io.Discard)
	app, err := New(top, logrus.NewEntry(log))
	if err != nil {
		f.Fatal(err)
	}
	eth := []byte{0, 0, 0xa, 0, 0, 0x42, 0, 0, 0xa, 0, 0, 3, 0x08, 0x00}
	ipv4 := func(proto byte, l4 ...byte) []byte {
		h := []byte{0x45, 0, 0, byte(20 + len(l4)), 0, 0, 0x40, 0, 64, proto, 0, 0, 10, 0, 0, 3, 10, 0, 0, 42}
		return append(append(append([]byte(nil), eth...), h...), l4...)
	}
	f.Add(ipv4(1, 8, 0, 0, 0, 0, 1, 0, 1))                                                        // echo request
	f.Add(ipv4(6, 0x9c, 0x40, 0, 22, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff, 0, 0, 0, 0)) // SYN to a closed port
	f.Add(ipv4(6, 0x9c, 0x40, 0, 80, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff, 0, 0, 0, 0)) // SYN to a service
	f.Add(ipv4(17, 0x14, 0xe9, 0, 53, 0, 8, 0, 0))                                                // UDP
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, frame []byte) {
		app.PacketIn(nil, &ofp.PacketIn{BufferID: ofp.NoBufferID, Data: frame})
	})
}
