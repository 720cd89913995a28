package nat64

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"

	"github.com/sixgate/sixgate/packet"
)

// ftpConfig is a NAT64 with the FTP gateway on port 21, on clock clk.
func ftpConfig(clk *fakeClock) Config {
	c := testConfig(clk)
	c.ALG.FTPPorts = []uint16{21}
	return c
}

// ftpHandoverScript is a control connection h1:40000 -> r2:21 (its SYN
// and SYN-ACK first) in the middle of rewrites: an EPRT rewritten to a
// line of another length, a command held incomplete, retransmissions of
// rewritten lines both ways, an EPSV refused and retried as PASV whose
// 227 reply comes in two segments. It returns the packets and the
// position of the first one after the EPRT (before it, a hand-over would
// change which pool4 port the EPRT is lent, which is the allocator's
// choice, not the gateway's).
func ftpHandoverScript(t testing.TB) ([][]byte, int) {
	clk := &fakeClock{t: time.Unix(1_000_000, 0)}
	e := newTest(t, ftpConfig(clk))
	var pkts [][]byte
	c6 := func(seq uint32, payload string) {
		p := tcpData6(t, ap(h1, 40000), ap(r2v6, 21), layers.TCP{ACK: true, PSH: true, Seq: seq, Ack: 5001}, payload)
		pkts = append(pkts, p)
		run(t, e, p)
	}
	pkts = append(pkts, tcp6(t, ap(h1, 40000), ap(r2v6, 21), layers.TCP{SYN: true, Seq: 100}))
	syn := one(t, e, pkts[0])
	src, _ := ends(t, syn)
	c4 := func(seq uint32, payload string) {
		p := tcpData4(t, ap(r2, 21), src, layers.TCP{ACK: true, PSH: true, Seq: seq, Ack: 101}, payload)
		pkts = append(pkts, p)
		run(t, e, p)
	}
	synAck := tcp4(t, ap(r2, 21), src, layers.TCP{SYN: true, ACK: true, Seq: 5000, Ack: 101})
	pkts = append(pkts, synAck)
	one(t, e, synAck)
	c4(5001, "220 hi\r\n")
	cmds := "EPRT |2|2001:db8::5|50000|\r\nRETR f\r\n"
	c6(101, cmds[:29])
	after := len(pkts)
	c4(5009, "200 ok\r\n")
	c6(101+29, "RET")
	c6(101+29, "RET") // again: the gateway acknowledges it
	c6(101, cmds)     // everything again, the rest of RETR with it
	c4(5017, "150 go\r\n226 done\r\n")
	c6(101+uint32(len(cmds)), "EPSV\r\n")
	c4(5035, "500 no\r\n")
	r227 := "227 Entering Passive Mode (198,51,100,7,156,64).\r\n"
	c4(5043, r227[:20])
	c4(5043+20, r227[20:])
	c4(5035, "500 no\r\n"+r227)
	c6(101+uint32(len(cmds))+6, "QUIT\r\n")
	return pkts, after
}

// moveNAT hands e over to a new NAT64 of configuration c through the
// encoding, with no time spent in transit.
func moveNAT(t *testing.T, e *NAT64, c Config) (*NAT64, ImportReport) {
	t.Helper()
	data, err := e.Export().MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var st HandoverState
	if err := st.UnmarshalBinary(data); err != nil {
		t.Fatal(err)
	}
	if again, _ := st.MarshalBinary(); !bytes.Equal(again, data) {
		t.Fatal("decode then encode changed the state")
	}
	st.wall = time.Now().Add(time.Hour).UnixNano()
	n := newTest(t, c)
	rep, err := n.Import(&st)
	if err != nil {
		t.Fatal(err)
	}
	return n, rep
}

// stripIPv4ID clears the IPv4 identification and header checksum, the
// NAT64's own count of packets sent.
func stripIPv4ID(o packet.Out) []byte {
	b := bytes.Clone(o.Data)
	if o.Family == packet.IPv4Family && len(b) >= 20 {
		b[4], b[5], b[10], b[11] = 0, 0, 0, 0
	}
	return b
}

// TestFTPHandoverMidRewrite hands the NAT64 over before each packet after
// the EPRT: every packet after it comes out exactly as from a NAT64 that
// never handed over.
func TestFTPHandoverMidRewrite(t *testing.T) {
	pkts, after := ftpHandoverScript(t)
	for at := after; at <= len(pkts); at++ {
		t.Run(fmt.Sprint(at), func(t *testing.T) {
			clk := &fakeClock{t: time.Unix(1_000_000, 0)}
			ref, moved := newTest(t, ftpConfig(clk)), newTest(t, ftpConfig(clk))
			for i, p := range pkts {
				if i == at {
					var rep ImportReport
					moved, rep = moveNAT(t, moved, ftpConfig(clk))
					if rep.FTP != 1 || rep.DroppedFTP != 0 {
						t.Fatalf("import %+v", rep)
					}
				}
				v1, o1 := run(t, ref, p)
				v2, o2 := run(t, moved, p)
				if v1 != v2 || len(o1) != len(o2) {
					t.Fatalf("packet %d: verdict %v, %d packets; want %v, %d", i, v2, len(o2), v1, len(o1))
				}
				for j := range o1 {
					if !bytes.Equal(stripIPv4ID(o1[j]), stripIPv4ID(o2[j])) {
						s1, a1, p1 := seg(t, decode(t, o1[j]))
						s2, a2, p2 := seg(t, decode(t, o2[j]))
						t.Fatalf("packet %d, output %d: seq %d ack %d %q; want seq %d ack %d %q", i, j, s2, a2, p2, s1, a1, p1)
					}
				}
			}
		})
	}
	// The script does what it says.
	clk := &fakeClock{t: time.Unix(1_000_000, 0)}
	e := newTest(t, ftpConfig(clk))
	for _, p := range pkts {
		run(t, e, p)
	}
	if st := e.Stats().FTP; st.Rewrites < 2 || st.Retries != 1 || st.HeldAcked != 1 {
		t.Fatalf("script: %+v", st)
	}
}

// A state from the previous release (version 1, without the gateway)
// still imports; a state naming a control connection of no session is
// refused; a gateway whose port is no longer a control port is dropped.
func TestFTPHandoverVersionsAndRefusals(t *testing.T) {
	pkts, after := ftpHandoverScript(t)
	clk := &fakeClock{t: time.Unix(1_000_000, 0)}
	e := newTest(t, ftpConfig(clk))
	for _, p := range pkts[:after+1] {
		run(t, e, p)
	}
	st := e.Export()
	if st.FTPConnections() != 1 {
		t.Fatalf("%d control connections exported", st.FTPConnections())
	}
	data, _ := st.MarshalBinary()

	// Version 1: the same without the control connections.
	v1 := *st
	v1.ftp = nil
	old, _ := v1.MarshalBinary()
	old = old[:len(old)-4]
	old[5] = 1
	var got HandoverState
	if err := got.UnmarshalBinary(old); err != nil || got.version != 1 || got.Sessions() != st.Sessions() {
		t.Fatalf("version 1: %v", err)
	}
	n := newTest(t, ftpConfig(clk))
	if rep, err := n.Import(&got); err != nil || rep.Sessions != st.Sessions() || rep.FTP != 0 {
		t.Fatalf("version 1 import: %+v %v", rep, err)
	}

	// The previous release's own encoding (testdata, from a control
	// connection whose EPRT it rewrote).
	old, err := os.ReadFile(filepath.Join("testdata", "handover-v1.bin"))
	if err != nil {
		t.Fatal(err)
	}
	if err := got.UnmarshalBinary(old); err != nil || got.version != 1 || got.Sessions() == 0 {
		t.Fatalf("the previous release's state: %v", err)
	}
	if rep, err := newTest(t, ftpConfig(clk)).Import(&got); err != nil || rep.Sessions != got.Sessions() || rep.FTP != 0 {
		t.Fatalf("the previous release's state imported: %+v %v", rep, err)
	}

	bad := *st
	bad.ftp = append([]exportedFTP(nil), st.ftp...)
	bad.ftp[0].rport = 2121
	b, _ := bad.MarshalBinary()
	if err := got.UnmarshalBinary(b); err == nil || !strings.Contains(err.Error(), "no session") {
		t.Fatalf("control connection of no session: %v", err)
	}

	c := ftpConfig(clk)
	c.ALG.FTPPorts = []uint16{2121}
	if err := got.UnmarshalBinary(data); err != nil {
		t.Fatal(err)
	}
	n = newTest(t, c)
	if rep, err := n.Import(&got); err != nil || rep.FTP != 0 || rep.DroppedFTP != 1 {
		t.Fatalf("import without the control port: %+v %v", rep, err)
	}
}
