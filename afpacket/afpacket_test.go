//go:build linux

package afpacket

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// vethPair makes a veth pair for t and returns its two ends. The tests need
// root (CAP_NET_ADMIN for the pair, CAP_NET_RAW for the sockets); without
// it they skip, except with CI=true, where a missing prerequisite is a
// broken build.
func vethPair(t testing.TB) (a, b string) {
	t.Helper()
	missing := ""
	if os.Geteuid() != 0 {
		missing = "not root"
	} else if _, err := exec.LookPath("ip"); err != nil {
		missing = "ip (iproute2) not installed"
	}
	if missing != "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("afpacket tests need a veth pair: %s", missing)
		}
		t.Skipf("afpacket tests need a veth pair: %s (set CI=true to fail instead)", missing)
	}
	// The pid keeps concurrent test binaries apart.
	a, b = fmt.Sprintf("afp%da", os.Getpid()%100000), fmt.Sprintf("afp%db", os.Getpid()%100000)
	exec.Command("ip", "link", "del", a).Run()
	run(t, "ip", "link", "add", a, "type", "veth", "peer", "name", b)
	t.Cleanup(func() { exec.Command("ip", "link", "del", a).Run() })
	for _, dev := range []string{a, b} {
		// No IPv6 on the pair, so that the kernel's own solicitations do
		// not mix with the test's frames.
		run(t, "sysctl", "-qw", "net.ipv6.conf."+dev+".disable_ipv6=1")
		exec.Command("ethtool", "-K", dev, "tx", "off", "rx", "off", "gro", "off", "gso", "off", "tso", "off").Run()
		run(t, "ip", "link", "set", dev, "up")
	}
	return a, b
}

func run(t testing.TB, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %v: %v: %s", name, args, err, out)
	}
}

// testFrame is an IPv4/UDP frame to a MAC nobody owns (the way a switch
// steers traffic to an engine port), numbered by seq in its source port
// and payload so that flows differ and the fanout hash spreads them.
func testFrame(seq int, size int) (head, body []byte) {
	head = []byte{0x02, 0, 0, 0, 0, 0x42, 0x02, 0, 0, 0, 0, 0x01, 0x08, 0x00}
	body = make([]byte, size-len(head))
	body[0], body[9] = 0x45, 17
	binary.BigEndian.PutUint16(body[2:], uint16(len(body)))
	copy(body[12:], []byte{10, 0, 0, 1, 10, 0, 0, 2})
	binary.BigEndian.PutUint16(body[20:], uint16(1024+seq))
	binary.BigEndian.PutUint16(body[22:], 9)
	binary.BigEndian.PutUint32(body[28:], uint32(seq))
	return head, body
}

// collect receives on every socket of g until want test frames arrived or
// timeout passes, and returns how many each socket got, by sequence.
func collect(t *testing.T, g *Group, want int, timeout time.Duration) []map[int]bool {
	t.Helper()
	got := make([]map[int]bool, len(g.Sockets()))
	var total sync.WaitGroup
	var mu sync.Mutex
	count := 0
	deadline := time.Now().Add(timeout)
	for i, s := range g.Sockets() {
		got[i] = map[int]bool{}
		total.Add(1)
		go func() {
			defer total.Done()
			for time.Now().Before(deadline) {
				_, err := s.Receive(20*time.Millisecond, func(f []byte) {
					if len(f) < 46 || f[12] != 0x08 || f[23] != 17 || f[0] != 0x02 {
						return
					}
					seq := int(binary.BigEndian.Uint32(f[42:]))
					mu.Lock()
					got[i][seq] = true
					count++
					mu.Unlock()
				})
				if err != nil {
					t.Errorf("socket %d: %v", i, err)
					return
				}
				mu.Lock()
				done := count >= want
				mu.Unlock()
				if done {
					return
				}
			}
		}()
	}
	total.Wait()
	return got
}

// receiveModes are the ways a socket receives: the TPACKET_V3 ring, the
// TPACKET_V2 frame ring, recvmmsg.
var receiveModes = []struct {
	name          string
	noRing, frame bool
}{{"ring=true", false, false}, {"frame-ring", false, true}, {"ring=false", true, false}}

func TestReceiveAndSend(t *testing.T) {
	for _, m := range receiveModes {
		noRing := m.noRing
		t.Run(m.name, func(t *testing.T) {
			a, b := vethPair(t)
			g, err := Open(Config{Interface: a, Sockets: 2, NoRing: noRing, FrameRing: m.frame, Promiscuous: true, Batch: 16})
			if err != nil {
				t.Fatal(err)
			}
			defer g.Close()
			if ring := g.Fallback == nil; ring == noRing {
				t.Fatalf("fallback %v with NoRing %v", g.Fallback, noRing)
			}
			for _, s := range g.Sockets() {
				if s.Ring() == noRing || s.FrameRing() != m.frame {
					t.Errorf("socket ring %v, frame ring %v with NoRing %v, FrameRing %v", s.Ring(), s.FrameRing(), noRing, m.frame)
				}
			}
			tx, err := OpenSender(b, 16)
			if err != nil {
				t.Fatal(err)
			}
			defer tx.Close()

			// 200 frames in batches of 16 (the last Queue of each batch
			// finds it full and flushes).
			const n = 200
			for i := range n {
				head, body := testFrame(i, 60+i*7)
				if !tx.Queue(head, body) {
					if _, err := tx.Flush(); err != nil {
						t.Fatal(err)
					}
					tx.Queue(head, body)
				}
			}
			if _, err := tx.Flush(); err != nil {
				t.Fatal(err)
			}
			got := collect(t, g, n, 5*time.Second)
			seen := map[int]bool{}
			for i, m := range got {
				if len(m) == 0 {
					t.Errorf("socket %d of the fanout got nothing: the hash did not spread 200 flows", i)
				}
				for seq := range m {
					if seen[seq] {
						t.Errorf("frame %d delivered to two sockets", seq)
					}
					seen[seq] = true
				}
			}
			if len(seen) != n {
				t.Errorf("received %d of %d frames", len(seen), n)
			}
			if st := tx.Stats(); st.Sent != n || st.SendErrors != 0 {
				t.Errorf("sender stats %+v", st)
			}

			// And back: a group socket sends, the other end receives the
			// exact bytes.
			back, err := Open(Config{Interface: b, Sockets: 1, NoRing: noRing, FrameRing: m.frame, Promiscuous: true})
			if err != nil {
				t.Fatal(err)
			}
			defer back.Close()
			head, body := testFrame(7, 1514)
			s := g.Sockets()[0]
			s.Queue(head, body)
			if _, err := s.Flush(); err != nil {
				t.Fatal(err)
			}
			var echoed []byte
			deadline := time.Now().Add(5 * time.Second)
			for echoed == nil && time.Now().Before(deadline) {
				back.Sockets()[0].Receive(20*time.Millisecond, func(f []byte) {
					if len(f) == 1514 && f[12] == 0x08 {
						echoed = bytes.Clone(f)
					}
				})
			}
			if !bytes.Equal(echoed, append(head, body...)) {
				t.Errorf("frame sent by a group socket arrived as % x", echoed)
			}
			// A group socket does not receive what it sent itself.
			if _, err := s.Receive(50*time.Millisecond, func(f []byte) {
				if len(f) == 1514 {
					t.Error("a socket received its own frame")
				}
			}); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestNoAllocations checks that receiving and sending a frame allocates
// nothing once the sockets exist.
func TestNoAllocations(t *testing.T) {
	a, b := vethPair(t)
	for _, m := range receiveModes {
		g, err := Open(Config{Interface: a, Sockets: 1, NoRing: m.noRing, FrameRing: m.frame, Promiscuous: true, Retire: time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		tx, err := OpenSender(b, 8)
		if err != nil {
			t.Fatal(err)
		}
		rx := g.Sockets()[0]
		head, body := testFrame(1, 100)
		got := 0
		fn := func([]byte) { got++ }
		allocs := testing.AllocsPerRun(200, func() {
			tx.Queue(head, body)
			tx.Flush()
			// Bounded: a frame lost on the veth fails the count below
			// instead of hanging the test.
			for i, n := 0, 0; n == 0 && i < 40; i++ {
				n, _ = rx.Receive(50*time.Millisecond, fn)
			}
		})
		if allocs != 0 {
			t.Errorf("%s: %v allocations per frame sent and received", m.name, allocs)
		}
		if got < 200 {
			t.Errorf("%s: %d of the 200+ frames sent arrived", m.name, got)
		}
		g.Close()
		tx.Close()
	}
}

// BenchmarkSendReceive moves 64-frame batches of 1514-byte frames across a
// veth pair: sendmmsg on one end, the ring (or recvmmsg) on the other. The
// figure is per frame and includes the kernel's veth path.
func BenchmarkSendReceive(b *testing.B) {
	for _, m := range receiveModes {
		b.Run(m.name, func(b *testing.B) {
			x, y := vethPair(b)
			g, err := Open(Config{Interface: x, Sockets: 1, NoRing: m.noRing, FrameRing: m.frame, Promiscuous: true})
			if err != nil {
				b.Fatal(err)
			}
			defer g.Close()
			tx, err := OpenSender(y, 64)
			if err != nil {
				b.Fatal(err)
			}
			defer tx.Close()
			rx := g.Sockets()[0]
			head, body := testFrame(1, 1514)
			received := 0
			fn := func([]byte) { received++ }
			b.ReportAllocs()
			b.SetBytes(1514)
			b.ResetTimer()
			sent := 0
			for sent < b.N {
				for i := 0; i < 64 && sent < b.N; i++ {
					tx.Queue(head, body)
					sent++
				}
				tx.Flush()
				// Drain what is ready; a ring block also leaves after
				// its timeout when not full.
				for received < sent-128 {
					if n, _ := rx.Receive(5*time.Millisecond, fn); n == 0 {
						break
					}
				}
			}
			for {
				if n, _ := rx.Receive(5*time.Millisecond, fn); n == 0 {
					break
				}
			}
			b.StopTimer()
			st := rx.Stats()
			b.ReportMetric(float64(received)/float64(b.N), "delivered/op")
			b.ReportMetric(float64(st.KernelDrops), "kernel-drops")
		})
	}
}

// TestServe checks that Serve passes every frame once across several
// batches, calls batch after each, returns when its time is up, and
// allocates nothing.
func TestServe(t *testing.T) {
	a, b := vethPair(t)
	for _, m := range receiveModes {
		noRing := m.noRing
		t.Run(m.name, func(t *testing.T) {
			g, err := Open(Config{Interface: a, Sockets: 1, NoRing: noRing, FrameRing: m.frame, Promiscuous: true, Batch: 8})
			if err != nil {
				t.Fatal(err)
			}
			defer g.Close()
			tx, err := OpenSender(b, 8)
			if err != nil {
				t.Fatal(err)
			}
			defer tx.Close()
			const n = 100
			for i := range n {
				head, body := testFrame(i, 100)
				if !tx.Queue(head, body) {
					tx.Flush()
					tx.Queue(head, body)
				}
			}
			tx.Flush()
			rx := g.Sockets()[0]
			seen := map[int]int{}
			batches, inBatch, emptyBatches := 0, 0, 0
			frame := func(f []byte) {
				if len(f) >= 46 && f[23] == 17 && f[0] == 0x02 {
					seen[int(binary.BigEndian.Uint32(f[42:]))]++
				}
				inBatch++
			}
			batch := func() {
				batches++
				if inBatch == 0 && noRing {
					emptyBatches++
				}
				inBatch = 0
			}
			// Bounded: each Serve returns after 100 ms.
			for i := 0; i < 30 && len(seen) < n; i++ {
				if _, err := rx.Serve(100*time.Millisecond, frame, batch); err != nil {
					t.Fatal(err)
				}
			}
			if len(seen) != n {
				t.Errorf("served %d of %d frames", len(seen), n)
			}
			for seq, c := range seen {
				if c != 1 {
					t.Errorf("frame %d passed %d times", seq, c)
				}
			}
			if batches == 0 || emptyBatches > 0 {
				t.Errorf("%d batches, %d of them empty", batches, emptyBatches)
			}
			if noRing && batches < n/8 {
				t.Errorf("%d batches of at most 8 frames for %d frames", batches, n)
			}

			head, body := testFrame(1, 100)
			allocs := testing.AllocsPerRun(20, func() {
				tx.Queue(head, body)
				tx.Flush()
				rx.Serve(5*time.Millisecond, frame, batch)
			})
			if allocs != 0 {
				t.Errorf("%v allocations per Serve", allocs)
			}
		})
	}
}

// steeringFrames returns, for client i, a TCP frame from 10.1.x.y port
// p to a VIP and the backend's reply to the client's address embedded in
// the IPv6 destination at the given bytes (prefix 2001:db8:...), port p.
func steeringFrames(i int, embedded [4]int) (v4, v6 []byte) {
	client := [4]byte{10, 1, byte(i >> 8), byte(i)}
	port := uint16(20000 + i*7)
	eth := func(et uint16) []byte {
		b := []byte{0x02, 0, 0, 0, 0, 0x42, 0x02, 0, 0, 0, 0, 0x01, 0, 0}
		binary.BigEndian.PutUint16(b[12:], et)
		return b
	}
	v4 = append(eth(0x0800), make([]byte, 40)...)
	ip := v4[14:]
	ip[0], ip[9] = 0x45, 6
	binary.BigEndian.PutUint16(ip[2:], 40)
	copy(ip[12:], client[:])
	copy(ip[16:], []byte{192, 0, 2, 42})
	binary.BigEndian.PutUint16(ip[20:], port)
	binary.BigEndian.PutUint16(ip[22:], 80)

	v6 = append(eth(0x86dd), make([]byte, 60)...)
	ip = v6[14:]
	ip[0], ip[6], ip[7] = 0x60, 6, 64
	binary.BigEndian.PutUint16(ip[4:], 20)
	copy(ip[8:], []byte{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1})
	dst := ip[24:40]
	copy(dst, []byte{0x20, 0x01, 0x0d, 0xb8, 0xff, 0xff})
	for k, o := range embedded {
		dst[o] = client[k]
	}
	binary.BigEndian.PutUint16(ip[40:], 80)
	binary.BigEndian.PutUint16(ip[42:], port)
	return v4, v6
}

// TestClientSteering checks that the fanout program puts both halves of
// each client's connection on one socket, and spreads clients over all.
func TestClientSteering(t *testing.T) {
	a, b := vethPair(t)
	layouts := map[string][4]int{"/96": {12, 13, 14, 15}, "/40": {5, 6, 7, 9}, "/64": {9, 10, 11, 12}}
	for name, emb := range layouts {
		t.Run(name, func(t *testing.T) {
			g, err := Open(Config{Interface: a, Sockets: 2, NoRing: true, Promiscuous: true, Steering: &ClientSteering{Embedded: emb}})
			if err != nil {
				t.Fatal(err)
			}
			defer g.Close()
			tx, err := OpenSender(b, 64)
			if err != nil {
				t.Fatal(err)
			}
			defer tx.Close()
			const clients = 64
			for i := range clients {
				v4, v6 := steeringFrames(i, emb)
				for _, f := range [][]byte{v4, v6} {
					if !tx.Queue(f[:14], f[14:]) {
						tx.Flush()
						tx.Queue(f[:14], f[14:])
					}
				}
			}
			tx.Flush()

			// where[client][0 for IPv4, 1 for IPv6] is the socket + 1.
			var mu sync.Mutex
			where := make([][2]int, clients)
			got := 0
			var wg sync.WaitGroup
			for si, s := range g.Sockets() {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for range 20 { // bounded: 20 × 50 ms
						s.Serve(50*time.Millisecond, func(f []byte) {
							var c, fam int
							switch binary.BigEndian.Uint16(f[12:]) {
							case 0x0800:
								c, fam = (int(binary.BigEndian.Uint16(f[14+20:]))-20000)/7, 0
							case 0x86dd:
								c, fam = (int(binary.BigEndian.Uint16(f[14+42:]))-20000)/7, 1
							default:
								return
							}
							if c < 0 || c >= clients {
								return
							}
							mu.Lock()
							where[c][fam] = si + 1
							got++
							mu.Unlock()
						}, func() {})
						mu.Lock()
						done := got >= 2*clients
						mu.Unlock()
						if done {
							return
						}
					}
				}()
			}
			wg.Wait()
			per := make([]int, len(g.Sockets()))
			for c, w := range where {
				if w[0] == 0 || w[1] == 0 {
					t.Errorf("client %d: halves received on sockets %v (0: not received)", c, w)
					continue
				}
				if w[0] != w[1] {
					t.Errorf("client %d: IPv4 half on socket %d, IPv6 half on socket %d", c, w[0]-1, w[1]-1)
				}
				per[w[0]-1]++
			}
			for si, n := range per {
				if n == 0 {
					t.Errorf("socket %d got no client of %d", si, clients)
				}
			}
			t.Logf("clients per socket: %v", per)
		})
	}
}

// A recvmmsg socket queues as much as a ring would hold, and one with
// VnetHdr more: a scheduling delay or a hand-over's pause must not
// overflow it.
func TestReceiveBuffer(t *testing.T) {
	a, _ := vethPair(t)
	for _, vnet := range []bool{false, true} {
		g, err := Open(Config{Interface: a, Sockets: 1, NoRing: true, VnetHdr: vnet})
		if err != nil {
			t.Fatal(err)
		}
		got, err := unix.GetsockoptInt(g.Sockets()[0].fd, unix.SOL_SOCKET, unix.SO_RCVBUF)
		g.Close()
		want := DefaultBlockSize * DefaultBlocks
		if vnet {
			want = superRcvBuf
		}
		// The kernel reports twice what was set (its bookkeeping share).
		if err != nil || got < want {
			t.Errorf("vnet %v: receive buffer %d (%v), want at least %d", vnet, got, err, want)
		}
	}
}
