//go:build linux

package afpacket

import (
	"fmt"
	"os"
	"testing"
	"time"
)

// TestHandoverGroup hands a receiving group over in the middle of a
// stream of frames, as an upgrade does: frames read before by the old
// sockets, and frames the adopting sockets read after, are every frame
// sent, each once, with the old sockets closed in between as the old
// process exits. A ring is mapped again and read from the block where the
// old reader stopped.
func TestHandoverGroup(t *testing.T) {
	for _, noRing := range []bool{false, true} {
		t.Run(fmt.Sprintf("ring=%v", !noRing), func(t *testing.T) {
			a, b := vethPair(t)
			// Small blocks, so the stream fills several and the reader
			// position matters.
			g, err := Open(Config{Interface: a, Sockets: 2, NoRing: noRing, Promiscuous: true, Batch: 16,
				BlockSize: os.Getpagesize() * 4, Blocks: 8})
			if err != nil {
				t.Fatal(err)
			}
			tx, err := OpenSender(b, 16)
			if err != nil {
				t.Fatal(err)
			}
			defer tx.Close()
			send := func(from, to int) {
				for i := from; i < to; i++ {
					head, body := testFrame(i, 200)
					if !tx.Queue(head, body) {
						tx.Flush()
						tx.Queue(head, body)
					}
				}
				if _, err := tx.Flush(); err != nil {
					t.Fatal(err)
				}
			}
			seen := map[int]int{}
			send(0, 100)
			for _, m := range collect(t, g, 100, 5*time.Second) {
				for seq := range m {
					seen[seq]++
				}
			}
			// Frames that arrive while no one reads: they wait for the
			// adopting process.
			send(100, 150)

			files, st, err := g.Handover()
			if err != nil {
				t.Fatal(err)
			}
			sf, sst, err := tx.Handover()
			if err != nil {
				t.Fatal(err)
			}
			g.Close()
			adopted, err := AdoptGroup(files, st)
			if err != nil {
				t.Fatal(err)
			}
			defer adopted.Close()
			sender, err := Adopt(sf, sst)
			if err != nil {
				t.Fatal(err)
			}
			defer sender.Close()
			if adopted.Sockets()[0].Ring() == noRing || adopted.Fallback == nil != !noRing {
				t.Fatalf("adopted ring %v, fallback %v", adopted.Sockets()[0].Ring(), adopted.Fallback)
			}
			tx.Close()
			tx = sender // the adopted sender sends the rest
			send(150, 300)
			for _, m := range collect(t, adopted, 300-len(seen), 5*time.Second) {
				for seq := range m {
					seen[seq]++
				}
			}
			for i := range 300 {
				if seen[i] != 1 {
					t.Errorf("frame %d received %d times", i, seen[i])
				}
			}
		})
	}
}

// TestAdoptRefuses: a descriptor that is not what the state says is
// refused, and closed.
func TestAdoptRefuses(t *testing.T) {
	r, w, _ := os.Pipe()
	defer w.Close()
	if _, err := Adopt(r, SocketState{Batch: 16}); err == nil {
		t.Error("a pipe adopted as an AF_PACKET socket")
	}
	if _, err := AdoptGroup(nil, GroupState{Sockets: []SocketState{{}}}); err == nil {
		t.Error("a group adopted without descriptors")
	}
}
