package proxy46

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/sixgate/sixgate/ftpalg"
	"github.com/sixgate/sixgate/statecodec"
)

// The FTP gateway's part of a hand-over (version 2, handover.go): each
// control connection carries its gateway (ftpalg's own encoding) and the
// gateway's text waiting for an acknowledgement; the data connections
// announced and not yet opened follow the connections, each naming its
// control connection by position, with its time left.
//
//	per connection, after its candidates:
//	  kind u8 (FTP control, FTP data, opened by the backend)
//	  FTP data: server [16] | server port u16 (its service's one backend)
//	  FTP control: window u16 | 2 * (seq u32 | ack u32 | at i64 | len u16 + bytes)
//	               gateway len u16 + ftpalg state
//	after the connections:
//	  expectations u32 + (control u32 | active u8 | port u16 | server port u16 | time left i64)*

// Kinds of a connection in the encoding (version 2).
const (
	hkFTPControl uint8 = 1 << iota
	hkFTPData
	hkFromBackend
	hkAll = hkFromBackend<<1 - 1
)

const (
	expectLen = 4 + 1 + 2 + 2 + 8
	// maxHandoverExpects bounds the expectations a decoder takes.
	maxHandoverExpects = 1 << 20
)

// exportedFTP is a control connection's gateway detached from its engine.
type exportedFTP struct {
	win     uint16
	unacked [2]ftpalg.UnackedState
	g       ftpalg.State
}

// exportedExpect is an expectation: its control connection by position
// in the state's connections, its time left.
type exportedExpect struct {
	ctl              uint32
	active           bool
	port, serverPort uint16
	left             int64
}

func exportFTP(f *ftpControl, now int64) *exportedFTP {
	x := &exportedFTP{win: f.win, g: f.g.State()}
	for i := range f.unacked {
		x.unacked[i] = f.unacked[i].State(now)
	}
	return x
}

// exportExpects lists the engine's expectations in deadline order, their
// control connections by position in conns (pos: connection to position).
func (e *Engine) exportExpects(pos map[*conn]uint32, now int64) []exportedExpect {
	var out []exportedExpect
	for _, x := range e.expects {
		i, ok := pos[x.ctl]
		if !ok {
			continue
		}
		out = append(out, exportedExpect{ctl: i, active: x.active, port: x.port, serverPort: x.serverPort,
			left: max(x.deadline-now, 0)})
	}
	return out
}

// importFTP gives c, just imported, the gateway it had; false: it cannot
// (the gateway follows MaxControl connections already).
func (e *Engine) importFTP(c *conn, x *exportedFTP, now int64) bool {
	if len(e.ftpConns) >= e.cfg.FTP.MaxControl {
		e.stats.FTP.ControlFull++
		return false
	}
	f := &ftpControl{sp: ftpSplicer{e: e, c: c}, idx: len(e.ftpConns), win: x.win}
	f.g = ftpalg.NewSpliceConn(&f.sp, &e.ftpc)
	if err := f.g.Restore(&x.g); err != nil {
		return false // the decoder refuses a NAT64's gateway already
	}
	for i := range x.unacked {
		f.unacked[i].Restore(&x.unacked[i], now)
	}
	c.ftp = f
	e.ftpConns = append(e.ftpConns, c)
	return true
}

// importExpects puts back the expectations whose control connection was
// imported with its gateway (conns: by position in the state, nil if
// dropped) and whose port is free; it returns how many it dropped.
func (e *Engine) importExpects(xs []exportedExpect, conns []*conn, now int64) int {
	xs = slices.Clone(xs)
	slices.SortStableFunc(xs, func(a, b exportedExpect) int { return cmp.Compare(a.left, b.left) })
	dropped := 0
	for _, v := range xs {
		c := conns[v.ctl]
		if c == nil || c.ftp == nil || c.state == StateClosed || !e.roomToExpect(c) {
			dropped++
			continue
		}
		if v.active {
			k := activeKey{server: c.k6.backend, client6: c.k6.client6, port: v.port}
			if e.active[k] != nil {
				dropped++
				continue
			}
			x := e.expect(expectation{ctl: c, active: true, client: c.k4.client, vip: c.k4.vip, port: v.port,
				client6: c.k6.client6, server: c.k6.backend})
			x.deadline = now + min(v.left, int64(e.cfg.FTP.ExpectTimeout))
			if e.active == nil {
				e.active = make(map[activeKey]*expectation)
			}
			e.active[k] = x
			continue
		}
		k := vipKey{c.k4.vip, v.port}
		if e.passive[k] != nil || e.services[k] != nil || v.port < e.cfg.FTP.PassiveFirst || v.port > e.cfg.FTP.PassiveLast {
			dropped++
			continue
		}
		x := e.expect(expectation{ctl: c, client: c.k4.client, vip: c.k4.vip, port: v.port,
			server: c.k6.backend, serverPort: v.serverPort})
		x.deadline = now + min(v.left, int64(e.cfg.FTP.ExpectTimeout))
		if e.passive == nil {
			e.passive = make(map[vipKey]*expectation)
		}
		e.passive[k] = x
	}
	// Announced in the exporter, not here (as ConnectionsOpened).
	e.stats.FTP.Expected -= uint64(len(e.expects))
	// The deadlines came from the state, clamped: keep the list in order.
	slices.SortStableFunc(e.expects, func(a, b *expectation) int { return cmp.Compare(a.deadline, b.deadline) })
	for i, x := range e.expects {
		x.idx = i
	}
	return dropped
}

func appendFTP(b []byte, x *exportedFTP) []byte {
	b = binary.BigEndian.AppendUint16(b, x.win)
	for i := range x.unacked {
		b = x.unacked[i].Append(b)
	}
	b = binary.BigEndian.AppendUint16(b, uint16(x.g.Len()))
	b, _ = x.g.AppendBinary(b)
	return b
}

func ftpLen(x *exportedFTP) int {
	return 2 + x.unacked[0].Len() + x.unacked[1].Len() + 2 + x.g.Len()
}

func readFTP(r *statecodec.Reader) (*exportedFTP, error) {
	x := &exportedFTP{win: r.U16()}
	for i := range x.unacked {
		u, err := ftpalg.ReadUnackedState(r, maxHandoverTime)
		if err != nil {
			return nil, err
		}
		x.unacked[i] = u
	}
	n := r.U16()
	if r.Err() != nil {
		return nil, r.Err()
	}
	if int(n) > r.Left() {
		return nil, r.Fail("truncated")
	}
	sub := statecodec.NewReader("proxy46: hand-over state", r.Bytes(int(n)))
	g, err := ftpalg.ReadState(sub)
	if err != nil {
		return nil, fmt.Errorf("%w (its FTP gateway)", err)
	}
	if sub.Left() != 0 {
		return nil, r.Fail("bytes after the FTP gateway")
	}
	if !g.Splice() {
		return nil, r.Fail("a NAT64's FTP gateway")
	}
	x.g = g
	return x, nil
}

func appendExpect(b []byte, x *exportedExpect) []byte {
	b = binary.BigEndian.AppendUint32(b, x.ctl)
	b = append(b, boolByte(x.active))
	b = binary.BigEndian.AppendUint16(b, x.port)
	b = binary.BigEndian.AppendUint16(b, x.serverPort)
	return binary.BigEndian.AppendUint64(b, uint64(x.left))
}

// readExpects reads the expectations of a state whose connections are
// conns.
func readExpects(r *statecodec.Reader, conns []exportedConn) ([]exportedExpect, error) {
	n := r.U32()
	if r.Err() != nil {
		return nil, r.Err()
	}
	if n > maxHandoverExpects || int(n) > r.Left()/expectLen {
		return nil, r.Fail(fmt.Sprintf("%d expectations in %d bytes", n, r.Left()))
	}
	if n == 0 {
		return nil, nil
	}
	out := make([]exportedExpect, n)
	for i := range out {
		x := &out[i]
		x.ctl = r.U32()
		a := r.U8()
		x.port, x.serverPort = r.U16(), r.U16()
		x.left = int64(r.U64())
		if r.Err() != nil {
			return nil, r.Err()
		}
		switch {
		case int(x.ctl) >= len(conns) || conns[x.ctl].ftp == nil:
			return nil, r.Fail("an expectation of no FTP control connection")
		case a > 1 || x.port == 0 || x.left < 0 || x.left > maxHandoverTime:
			return nil, r.Fail("bad expectation")
		case a == 1 && x.serverPort != 0:
			return nil, r.Fail("an active-mode expectation with a server port")
		case a == 0 && x.serverPort == 0:
			return nil, r.Fail("a passive-mode expectation without a server port")
		}
		x.active = a == 1
	}
	return out, nil
}
