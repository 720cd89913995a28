package proxy46

import (
	"encoding/binary"
	"net/netip"

	"github.com/sixgate/sixgate/ftpalg"
	"github.com/sixgate/sixgate/packet"
)

// The FTP gateway of the splice: an IPv4 client's control connection to an
// IPv6 server behind a VIP goes through an ftpalg.Conn, which turns PASV
// into EPSV and PORT/EPRT |1| into EPRT |2| with the client's pool6
// address, and asks the engine (ftpSplicer) to expect the data connection
// each announces. Rewritten lines change lengths, so every segment of the
// control connection has its sequence number, acknowledgement and SACK
// blocks mapped by the gateway; that costs a full checksum, which only
// control connections pay.
//
// The numbers: the gateway takes each segment in its sender's own space
// (the client's, or the backend's before the splice's shift) and gives
// the sequence number as its receiver sees it. The engine maps payload
// and sequence number before the established path runs, so that the
// RFC 5961 bookkeeping sees the numbers each end sees, and maps the
// acknowledgement and SACK blocks of what that path produced.

// ftpControl is the gateway of one control connection.
type ftpControl struct {
	g  *ftpalg.Conn
	sp ftpSplicer
	// win is the client's latest raw window, for the segments the
	// gateway sends the backend on its behalf.
	win uint16
	// unacked is the gateway's own text (or bytes it acknowledged to
	// their sender) not yet acknowledged, by receiver: 0 the client, 1
	// the backend. Sent again on the timer until it is.
	unacked [2]ftpalg.Unacked
	idx     int // position in Engine.ftpConns
	nexp    int // expectations of this control connection
}

// maxExpectPerControl bounds the data connections one control connection
// has announced and not yet opened: a client that sends PASV again and
// again takes the place of its own oldest expectation, not others'.
const maxExpectPerControl = 4

// ftpSplicer is the engine as the gateway of one control connection sees
// it. The gateway calls it within Handle, under the engine's lock.
type ftpSplicer struct {
	e *Engine
	c *conn
}

var _ ftpalg.Splicer = (*ftpSplicer)(nil)

// Passive lends a VIP port for the server's port.
func (s *ftpSplicer) Passive(serverPort uint16) (netip.AddrPort, bool) {
	return s.e.expectPassive(s.c, serverPort)
}

// Active lets the server's connection to the client's address through.
func (s *ftpSplicer) Active(client netip.AddrPort) (netip.AddrPort, bool) {
	return s.e.expectActive(s.c, client)
}

// expectation is a data connection a control connection announced.
type expectation struct {
	ctl *conn
	// active: the server connects to client6 and port (PORT, EPRT);
	// otherwise the client connects to vip and port (PASV, EPSV), and
	// is spliced to server and serverPort.
	active     bool
	client     [4]byte
	vip        [4]byte
	port       uint16
	client6    [16]byte
	server     [16]byte
	serverPort uint16
	deadline   int64
	idx        int // position in Engine.expects
}

// activeKey finds the expectation of a server's SYN: its source address
// and its destination, the client's pool6 address and data port.
type activeKey struct {
	server, client6 [16]byte
	port            uint16
}

// newFTPControl starts the gateway of a control connection at the
// splice, within MaxControl.
func (e *Engine) newFTPControl(c *conn) {
	if len(e.ftpConns) >= e.cfg.FTP.MaxControl {
		e.stats.FTP.ControlFull++
		return
	}
	f := &ftpControl{sp: ftpSplicer{e: e, c: c}, idx: len(e.ftpConns), win: c.windowClient}
	f.g = ftpalg.NewSpliceConn(&f.sp, &e.ftpc)
	// Bytes the client sent before the splice were replayed unparsed.
	f.g.SYN(true, c.isnClient+uint32(len(c.held)))
	f.g.SYN(false, c.isnBackend)
	c.ftp = f
	e.ftpConns = append(e.ftpConns, c)
}

// dropFTPControl forgets the gateway of a connection being removed, and
// the data connections it announced that have not come.
func (e *Engine) dropFTPControl(c *conn) {
	f := c.ftp
	last := e.ftpConns[len(e.ftpConns)-1]
	e.ftpConns[f.idx] = last
	last.ftp.idx = f.idx
	e.ftpConns[len(e.ftpConns)-1] = nil
	e.ftpConns = e.ftpConns[:len(e.ftpConns)-1]
	e.unexpectAll(c)
	c.ftp = nil
}

// unexpectAll forgets the data connections c announced that have not
// come: c is closed or gone.
func (e *Engine) unexpectAll(c *conn) {
	for i := 0; i < len(e.expects) && c.ftp.nexp > 0; {
		if x := e.expects[i]; x.ctl == c {
			e.unexpect(x)
			continue
		}
		i++
	}
}

// expectPassive lends a port of the passive range on the control
// connection's VIP: the client's next connection there is spliced to the
// server's port.
func (e *Engine) expectPassive(c *conn, serverPort uint16) (netip.AddrPort, bool) {
	if !e.roomToExpect(c) {
		return netip.AddrPort{}, false
	}
	first, last := e.cfg.FTP.PassiveFirst, e.cfg.FTP.PassiveLast
	n := int(last-first) + 1
	for i := 0; i < n; i++ {
		p := first + uint16((int(e.ftpNextPort)+i)%n)
		k := vipKey{c.k4.vip, p}
		if e.passive[k] != nil || e.services[k] != nil {
			continue
		}
		e.ftpNextPort = uint16((int(p-first) + 1) % n)
		x := e.expect(expectation{ctl: c, client: c.k4.client, vip: c.k4.vip, port: p,
			server: c.k6.backend, serverPort: serverPort})
		if e.passive == nil {
			e.passive = make(map[vipKey]*expectation)
		}
		e.passive[k] = x
		return netip.AddrPortFrom(netip.AddrFrom4(c.k4.vip), p), true
	}
	e.stats.FTP.ExpectFull++
	return netip.AddrPort{}, false
}

// expectActive lets the server's connection to the client's data port
// through: only to the control connection's own client (an FTP bounce
// toward another host is refused).
func (e *Engine) expectActive(c *conn, client netip.AddrPort) (netip.AddrPort, bool) {
	if !client.Addr().Is4() || client.Addr().As4() != c.k4.client || client.Port() == 0 {
		e.stats.FTP.Refused++
		return netip.AddrPort{}, false
	}
	k := activeKey{server: c.k6.backend, client6: c.k6.client6, port: client.Port()}
	if old := e.active[k]; old != nil {
		e.unexpect(old) // the client announces the same port again
	}
	if !e.roomToExpect(c) {
		return netip.AddrPort{}, false
	}
	x := e.expect(expectation{ctl: c, active: true, client: c.k4.client, vip: c.k4.vip, port: client.Port(),
		client6: c.k6.client6, server: c.k6.backend})
	if e.active == nil {
		e.active = make(map[activeKey]*expectation)
	}
	e.active[k] = x
	return netip.AddrPortFrom(netip.AddrFrom16(c.k6.client6), client.Port()), true
}

// roomToExpect makes room for one more expectation of c: its own oldest
// goes if it has maxExpectPerControl; false if the engine has
// MaxExpectations.
func (e *Engine) roomToExpect(c *conn) bool {
	if c.ftp.nexp >= maxExpectPerControl {
		for _, x := range e.expects {
			if x.ctl == c {
				e.unexpect(x)
				e.stats.FTP.ExpectReplaced++
				break
			}
		}
	}
	if len(e.expects) >= e.cfg.FTP.MaxExpectations {
		e.stats.FTP.ExpectFull++
		return false
	}
	return true
}

// expect adds v to the list, in deadline order (one timeout for all),
// in an entry used before if there is one.
func (e *Engine) expect(v expectation) *expectation {
	var x *expectation
	if n := len(e.expectFree); n > 0 {
		x = e.expectFree[n-1]
		e.expectFree = e.expectFree[:n-1]
	} else {
		x = new(expectation)
	}
	*x = v
	x.deadline = e.now + int64(e.cfg.FTP.ExpectTimeout)
	x.idx = len(e.expects)
	e.expects = append(e.expects, x)
	x.ctl.ftp.nexp++
	e.stats.FTP.Expected++
	return x
}

// unexpect forgets x, keeping the list in order.
func (e *Engine) unexpect(x *expectation) {
	copy(e.expects[x.idx:], e.expects[x.idx+1:])
	e.expects[len(e.expects)-1] = nil
	e.expects = e.expects[:len(e.expects)-1]
	for i := x.idx; i < len(e.expects); i++ {
		e.expects[i].idx = i
	}
	if x.active {
		delete(e.active, activeKey{server: x.server, client6: x.client6, port: x.port})
	} else {
		delete(e.passive, vipKey{x.vip, x.port})
	}
	if x.ctl.ftp != nil {
		x.ctl.ftp.nexp--
	}
	*x = expectation{}
	if len(e.expectFree) < e.cfg.FTP.MaxExpectations {
		e.expectFree = append(e.expectFree, x)
	}
}

// expireFTP gives up the expectations whose time ran out and sends again
// the gateway's text whose acknowledgement is late: nothing else would,
// as the peer does not have it to retransmit.
func (e *Engine) expireFTP(now int64, out *packet.Batch) {
	for len(e.expects) > 0 && now >= e.expects[0].deadline {
		e.unexpect(e.expects[0])
		e.stats.FTP.ExpectExpired++
	}
	for _, c := range e.ftpConns {
		for to := range c.ftp.unacked {
			u := &c.ftp.unacked[to]
			if !u.Due(now) {
				continue
			}
			u.At = now
			e.ftpSend(c, to, u.Seq, u.Ack, u.Text(), out)
			e.stats.FTP.Resent++
		}
	}
}

// ftpControlSegment runs a segment of a control connection, on the
// established path, through the gateway: the payload and sequence number
// it gives are put in a copy of the segment, which the established path
// translates; the acknowledgement and SACK blocks of what comes out are
// mapped, and its checksums computed in full.
func (e *Engine) ftpControlSegment(c *conn, fromClient bool, pkt []byte, tcp packet.TCP, doff int, out *packet.Batch) packet.Verdict {
	f := c.ftp
	flags := tcp.Flags()
	// The checks of the established path that drop a segment come
	// first: what they drop (a blind injection) must not reach the
	// gateway's streams.
	if fromClient && flags&packet.TCPFlagACK != 0 && !ackAcceptable(tcp.Ack()+c.seqShift, c.sndNxtB, c.maxWinC) ||
		!fromClient && flags&packet.TCPFlagACK != 0 && !ackAcceptable(tcp.Ack(), c.sndNxtC, c.maxWinB) {
		return e.drop(DropACKOutOfWindow)
	}
	recv := 1 // the receiver of the segment: 0 the client, 1 the backend
	if !fromClient {
		recv = 0
	}
	if flags&packet.TCPFlagACK != 0 {
		f.unacked[1-recv].Acked(tcp.Ack()) // the sender has the gateway's text
	}
	if fromClient {
		f.win = tcp.Window()
	}
	payload := tcp[doff:]
	var r ftpalg.Result
	f.g.Segment(fromClient, tcp.Seq(), payload, flags&packet.TCPFlagFIN != 0, &r)
	if r.Drop {
		return e.drop(DropFTPGap)
	}
	hl := len(pkt) - len(tcp)
	n := hl + doff + len(r.Payload)
	if n > 0xffff || fromClient && n-hl+packet.IPv6HeaderLen > e.cfg.MTU6 && len(r.Payload) > len(payload) {
		e.stats.FTP.TooBig++
		return e.drop(DropTooBig)
	}
	if e.ftpBuf == nil {
		e.ftpBuf = make([]byte, 0xffff)
	}
	b := e.ftpBuf[:n]
	copy(b, pkt[:hl+doff])
	copy(b[hl+doff:], r.Payload)
	seg := packet.TCP(b[hl:])
	binary.BigEndian.PutUint32(seg[packet.TCPSeq:], r.Seq)
	if fromClient {
		binary.BigEndian.PutUint16(b[packet.IPv4TotalLength:], uint16(n))
	} else {
		packet.IPv6(b).SetPayloadLength(n - hl)
	}
	first := out.Len()
	var v packet.Verdict
	if fromClient {
		v = e.clientToBackend(c, b, seg, doff, 0, out)
	} else {
		v = e.backendToClient(c, b, seg, doff, 0, out)
		if len(r.Payload) > len(payload) && out.Len() > first {
			// A longer line must still fit the client's MSS.
			e.splitLast(out, c.clientLimit(packet.TCP(out.Packets[out.Len()-1].Data[packet.IPv4MinLen:]).DataOffset()))
		}
	}
	for i := first; i < out.Len(); i++ {
		p := &out.Packets[i]
		if fromClient != (p.Family == packet.IPv6Family) {
			continue // an ICMP error back to the sender
		}
		e.ftpMapAcks(c, fromClient, p.Data)
	}
	// What the gateway answered, or acknowledged in the sender's name, is
	// its own to deliver even if the segment itself was not sent on: the
	// streams already count it.
	ack := tcp.Ack()
	if fromClient {
		ack += c.seqShift
	}
	ack = f.g.Ack(fromClient, ack)
	if r.Own && len(r.Payload) > 0 {
		seq := r.Seq
		if !fromClient {
			seq -= c.seqShift
		}
		f.unacked[recv].Keep(seq, ack, r.Payload, e.now)
	}
	if len(r.Back) > 0 || r.AckBack {
		to := 1 - recv // back to the sender
		seq := r.BackSeq
		if to == 0 {
			seq -= c.seqShift
		}
		e.ftpSend(c, to, seq, r.BackAck, r.Back, out)
		if len(r.Back) > 0 {
			f.unacked[to].Keep(seq, r.BackAck, r.Back, e.now)
			// The inserted text is the other side's to acknowledge.
			if end := seq + uint32(len(r.Back)); to == 0 && int32(end+c.seqShift-c.sndNxtB) > 0 {
				c.sndNxtB = end + c.seqShift
			} else if to == 1 && int32(end-c.sndNxtC) > 0 {
				c.sndNxtC = end
			}
		}
	}
	return v
}

// ftpMapAcks maps the acknowledgement and SACK blocks of a translated
// control segment (IPv6 toward the backend if fromClient, IPv4 toward the
// client otherwise) and computes its checksums in full.
func (e *Engine) ftpMapAcks(c *conn, fromClient bool, pkt []byte) {
	hl := packet.IPv6HeaderLen
	if !fromClient {
		hl = packet.IPv4(pkt).HeaderLength()
	}
	t := packet.TCP(pkt[hl:])
	if len(t) < packet.TCPMinLen || t.DataOffset() > len(t) {
		return
	}
	g := c.ftp.g
	if t.Flags()&packet.TCPFlagACK != 0 && g.Shifted() {
		binary.BigEndian.PutUint32(t[packet.TCPAck:], g.Ack(fromClient, t.Ack()))
		opts := packet.NewTCPOptions(t.Options())
		for opts.Next() {
			if opts.Kind() != packet.TCPOptSACK {
				continue
			}
			d := opts.Data()
			for j := 0; j+4 <= len(d); j += 4 {
				binary.BigEndian.PutUint32(d[j:], g.Ack(fromClient, binary.BigEndian.Uint32(d[j:])))
			}
		}
	}
	t.SetChecksum(0)
	if fromClient {
		t.SetChecksum(packet.Checksum(packet.IPv6(pkt).PseudoHeaderSum(packet.ProtoTCP, len(t)), t))
	} else {
		ip := packet.IPv4(pkt)
		t.SetChecksum(packet.Checksum(ip.PseudoHeaderSum(packet.ProtoTCP, len(t)), t))
	}
}

// ftpSend sends a segment of the gateway's own toward the client (to 0,
// on the backend's behalf) or the backend (to 1, on the client's): text,
// or an acknowledgement alone; seq is in the receiver's space.
func (e *Engine) ftpSend(c *conn, to int, seq, ack uint32, text []byte, out *packet.Batch) {
	var w optionWriter
	flags := uint8(packet.TCPFlagACK)
	if len(text) > 0 {
		flags |= packet.TCPFlagPSH
	}
	if to == 0 {
		if c.translateTS || c.insertTS {
			w.alignedTimestamps(c.tsValToClient(e.now), c.tsClient)
		}
		window := c.winB
		if c.rescaleB2C {
			window = rescaleWindow(window, c.scaleBackend, c.scaleClientView())
		}
		s := segment{srcPort: c.k4.vipPort, dstPort: c.k4.clientPort, seq: seq, ack: ack, flags: flags,
			window: window, opts: w.bytes(), payload: text}
		e.emit4(out, c.k4.vip, c.k4.client, &s)
	} else {
		if c.translateTS {
			w.alignedTimestamps(c.tsClient, c.tsValB)
		}
		window := c.ftp.win
		if c.rescaleC2B {
			window = rescaleWindow(window, c.scaleClient, 0)
		}
		s := segment{srcPort: c.k6.clientPort, dstPort: c.k6.backendPort, seq: seq, ack: ack, flags: flags,
			window: window, opts: w.bytes(), payload: text}
		e.emit6(out, c.k6.client6, c.k6.backend, &s)
	}
	e.stats.FTP.Sent++
}
