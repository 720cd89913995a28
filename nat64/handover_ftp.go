package nat64

import (
	"encoding/binary"
	"fmt"
	"net/netip"

	"github.com/sixgate/sixgate/ftpalg"
	"github.com/sixgate/sixgate/statecodec"
)

// The FTP gateway's part of a hand-over (version 2, handover.go): each
// control connection's gateway (ftpalg's own encoding), named by its
// session, with the last window and timestamp each side sent and the
// gateway's text not yet acknowledged.
//
//	control connections u32, per control connection:
//	  pool4 [4] | pool4 port u16 | server [4] | server port u16
//	  2 * (window u16 | tsval u32) | timestamps u8 (bit 0 client, bit 1 server)
//	  2 * (seq u32 | ack u32 | at i64 | len u16 + bytes)
//	  gateway len u16 + ftpalg state

const (
	handoverFTPMin  = 4 + 2 + 4 + 2 + 2*(2+4) + 1 + 2*ftpalg.UnackedStateMin + 2
	maxHandoverFTPs = 1 << 20
)

// exportedFTP is a control connection's gateway detached from its NAT64.
type exportedFTP struct {
	local, remote [4]byte
	lport, rport  uint16
	win           [2]uint16
	tsval         [2]uint32
	ts            [2]bool
	unacked       [2]ftpalg.UnackedState
	g             ftpalg.State
}

// FTPConnections counts the control connections the state holds.
func (s *HandoverState) FTPConnections() int { return len(s.ftp) }

func (e *NAT64) exportFTP(now int64) []exportedFTP {
	var out []exportedFTP
	for k, fc := range e.t.ftp {
		if e.t.sessions[k] == nil {
			continue
		}
		x := exportedFTP{local: k.local, remote: k.remote, lport: k.lport, rport: k.rport,
			win: fc.win, tsval: fc.tsval, ts: fc.ts, g: fc.g.State()}
		for i := range fc.unacked {
			x.unacked[i] = fc.unacked[i].State(now)
		}
		out = append(out, x)
	}
	return out
}

// importFTP gives the imported sessions of control connections their
// gateways back; it returns how many it could not (their session
// dropped, their port no longer a control port, the bound reached).
func (e *NAT64) importFTP(s *state, xs []exportedFTP, now int64) int {
	dropped := 0
	for i := range xs {
		x := &xs[i]
		k := skey{local: x.local, lport: x.lport, remote: x.remote, rport: x.rport, proto: TCP}
		ss := e.t.sessions[k]
		if ss == nil || e.t.ftp[k] != nil || !s.isFTP(x.rport) || len(e.t.ftp) >= s.cfg.ALG.FTPConnections {
			dropped++
			continue
		}
		fc := &ftpConn{g: ftpalg.NewConn(netip.AddrFrom4(ss.remote), &e.ftpBind, &e.ftpc), win: x.win, tsval: x.tsval, ts: x.ts}
		if err := fc.g.Restore(&x.g); err != nil {
			dropped++ // the decoder refuses a splice's gateway already
			continue
		}
		for j := range x.unacked {
			fc.unacked[j].Restore(&x.unacked[j], now)
		}
		if e.t.ftp == nil {
			e.t.ftp = map[skey]*ftpConn{}
		}
		e.t.ftp[k] = fc
	}
	return dropped
}

func appendFTP(b []byte, x *exportedFTP) []byte {
	b = append(b, x.local[:]...)
	b = binary.BigEndian.AppendUint16(b, x.lport)
	b = append(b, x.remote[:]...)
	b = binary.BigEndian.AppendUint16(b, x.rport)
	var ts byte
	for i := range x.win {
		b = binary.BigEndian.AppendUint16(b, x.win[i])
		b = binary.BigEndian.AppendUint32(b, x.tsval[i])
		if x.ts[i] {
			ts |= 1 << i
		}
	}
	b = append(b, ts)
	for i := range x.unacked {
		b = x.unacked[i].Append(b)
	}
	b = binary.BigEndian.AppendUint16(b, uint16(x.g.Len()))
	b, _ = x.g.AppendBinary(b)
	return b
}

func ftpLen(x *exportedFTP) int {
	return handoverFTPMin + len(x.unacked[0].Text) + len(x.unacked[1].Text) + x.g.Len()
}

func readFTPs(r *statecodec.Reader) ([]exportedFTP, error) {
	n := r.U32()
	if r.Err() != nil {
		return nil, r.Err()
	}
	if n > maxHandoverFTPs || int(n) > r.Left()/handoverFTPMin {
		return nil, r.Fail(fmt.Sprintf("%d FTP control connections in %d bytes", n, r.Left()))
	}
	if n == 0 {
		return nil, nil
	}
	out := make([]exportedFTP, n)
	for i := range out {
		if err := readFTP(r, &out[i]); err != nil {
			return nil, fmt.Errorf("%w (FTP control connection %d)", err, i)
		}
	}
	return out, nil
}

func readFTP(r *statecodec.Reader, x *exportedFTP) error {
	copy(x.local[:], r.Bytes(4))
	x.lport = r.U16()
	copy(x.remote[:], r.Bytes(4))
	x.rport = r.U16()
	for i := range x.win {
		x.win[i], x.tsval[i] = r.U16(), r.U32()
	}
	ts := r.U8()
	if r.Err() == nil && ts > 3 {
		return r.Fail("bad FTP timestamp flags")
	}
	x.ts = [2]bool{ts&1 != 0, ts&2 != 0}
	for i := range x.unacked {
		u, err := ftpalg.ReadUnackedState(r, maxHandoverLeft)
		if err != nil {
			return err
		}
		x.unacked[i] = u
	}
	n := r.U16()
	if r.Err() != nil {
		return r.Err()
	}
	if int(n) > r.Left() {
		return r.Fail("truncated")
	}
	sub := statecodec.NewReader("nat64: hand-over state", r.Bytes(int(n)))
	g, err := ftpalg.ReadState(sub)
	if err != nil {
		return fmt.Errorf("%w (its gateway)", err)
	}
	if sub.Left() != 0 {
		return r.Fail("bytes after the FTP gateway")
	}
	if g.Splice() {
		return r.Fail("a splice's FTP gateway")
	}
	x.g = g
	return nil
}

// checkFTPSessions requires every control connection of st to name a TCP
// session of st, once.
func checkFTPSessions(r *statecodec.Reader, st *HandoverState) error {
	if len(st.ftp) == 0 {
		return nil
	}
	tcp := make(map[skey]bool, len(st.ftp))
	for i := range st.sessions {
		x := &st.sessions[i]
		if x.b.proto == TCP {
			tcp[skey{local: x.b.addr4, lport: x.b.port4, remote: x.remote, rport: x.rport, proto: TCP}] = false
		}
	}
	for i := range st.ftp {
		x := &st.ftp[i]
		k := skey{local: x.local, lport: x.lport, remote: x.remote, rport: x.rport, proto: TCP}
		seen, ok := tcp[k]
		switch {
		case !ok:
			return r.Fail(fmt.Sprintf("FTP control connection %d of no session", i))
		case seen:
			return r.Fail(fmt.Sprintf("FTP control connection %d twice", i))
		}
		tcp[k] = true
	}
	return nil
}
