package ftpalg

import (
	"net/netip"
	"testing"
)

type fakeSplicer struct {
	passive []uint16
	active  []netip.AddrPort
	fail    bool
}

func (f *fakeSplicer) Passive(port uint16) (netip.AddrPort, bool) {
	f.passive = append(f.passive, port)
	return netip.AddrPortFrom(netip.MustParseAddr("192.0.2.10"), port), !f.fail
}

func (f *fakeSplicer) Active(client netip.AddrPort) (netip.AddrPort, bool) {
	f.active = append(f.active, client)
	a := client.Addr().As4()
	six := netip.AddrFrom16([16]byte{0, 0x64, 0xff, 0x9b, 12: a[0], 13: a[1], 14: a[2], 15: a[3]})
	return netip.AddrPortFrom(six, client.Port()), !f.fail
}

func newSplicePipe(t *testing.T) (*pipe, *fakeSplicer) {
	p := newPipe(t)
	f := &fakeSplicer{}
	p.c = NewSpliceConn(f, &p.cnt)
	p.c.SYN(true, p.cl.isn)
	p.c.SYN(false, p.sv.isn)
	return p, f
}

func TestSplicePASVBecomesEPSV(t *testing.T) {
	p, f := newSplicePipe(t)
	p.write(false, "220 hi\r\n")
	p.write(true, "PASV\r\n")
	p.write(false, "229 Entering Extended Passive Mode (|||40001|)\r\n")
	p.expect("server got", p.sv.rcv, "EPSV\r\n")
	p.expect("client got", p.cl.rcv, "220 hi\r\n227 Entering Passive Mode (192,0,2,10,156,65).\r\n")
	if len(f.passive) != 1 || f.passive[0] != 40001 {
		t.Fatalf("passive %v", f.passive)
	}
	// The client's own EPSV passes; its 229 is steered all the same.
	p.write(true, "EPSV\r\n")
	p.write(false, "229 Entering Extended Passive Mode (|||40002|)\r\n")
	p.expect("client got", p.cl.rcv[len("220 hi\r\n227 Entering Passive Mode (192,0,2,10,156,65).\r\n"):], "229 Entering Extended Passive Mode (|||40002|).\r\n")
	if len(f.passive) != 2 || f.passive[1] != 40002 {
		t.Fatalf("passive %v", f.passive)
	}
	if got := p.c.Ack(true, p.sv.isn+1+uint32(len(p.cl.rcv))); got != p.sv.isn+1+uint32(len(p.sv.sent)) {
		t.Fatalf("client ack maps to %d of %d", got-p.sv.isn-1, len(p.sv.sent))
	}
}

func TestSplicePORTBecomesEPRT(t *testing.T) {
	p, f := newSplicePipe(t)
	p.write(true, "PORT 198,51,100,7,195,80\r\n")
	p.write(true, "EPRT |1|198.51.100.7|50001|\r\n")
	p.expect("server got", p.sv.rcv, "EPRT |2|64:ff9b::c633:6407|50000|\r\nEPRT |2|64:ff9b::c633:6407|50001|\r\n")
	if len(f.active) != 2 || f.active[0] != netip.MustParseAddrPort("198.51.100.7:50000") {
		t.Fatalf("active %v", f.active)
	}
	r := p.write(true, "PORT 1,2,3\r\n")
	p.expect("answer", r.Back, "501 Syntax error in parameters or arguments.\r\n")
	r = p.write(true, "LPSV\r\n")
	p.expect("answer", r.Back, "500 Command not understood.\r\n")
}

func TestSpliceSteeringRefused(t *testing.T) {
	p, f := newSplicePipe(t)
	f.fail = true
	p.write(true, "PASV\r\n")
	p.write(false, "229 Entering Extended Passive Mode (|||40001|)\r\n")
	p.expect("client got", p.cl.rcv, "425 Can't open data connection.\r\n")
	r := p.write(true, "PORT 198,51,100,7,195,80\r\n")
	p.expect("answer", r.Back, "425 Can't open data connection.\r\n")
	if p.cnt.Failures.Load() != 2 {
		t.Fatalf("failures %d", p.cnt.Failures.Load())
	}
}
