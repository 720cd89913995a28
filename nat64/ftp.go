package nat64

import (
	"encoding/binary"
	"net/netip"

	"github.com/sixgate/sixgate/ftpalg"
	"github.com/sixgate/sixgate/packet"
)

// DefaultFTPConnections bounds the control connections the FTP gateway
// follows at once.
const DefaultFTPConnections = 4096

// ftpConn is the gateway of one FTP control connection, with what the
// segments it originates need: the last window and timestamp each side
// sent.
type ftpConn struct {
	g *ftpalg.Conn
	// win and tsval by direction: 0 from the client, 1 from the server.
	win   [2]uint16
	tsval [2]uint32
	ts    [2]bool
	// unacked is the gateway's text not yet acknowledged, by receiver (0
	// the client, 1 the server): sent again on the timer until it is.
	unacked [2]ftpalg.Unacked
}

// ftpBinder makes the bindings an EPRT asks for, within the NAT64's lock.
type ftpBinder struct {
	e   *NAT64
	s   *state
	now int64
	// client is the control connection's IPv6 client: the only host an
	// EPRT may ask a binding for.
	client [16]byte
}

// BindActive lends a pool4 address and port to the client's data port
// and opens a session toward the server, so that the server's connection
// comes through whatever the filtering (RFC 6384 §6).
func (f *ftpBinder) BindActive(client netip.AddrPort, server netip.Addr) (netip.AddrPort, bool) {
	e, s := f.e, f.s
	a6 := client.Addr().As16()
	if a6 != f.client || !server.Is4() {
		return netip.AddrPort{}, false
	}
	srv := server.As4()
	b := e.t.bib6[key6{a6, client.Port(), TCP}]
	var ss *session
	if b != nil {
		ss = e.t.sessions[skey{local: b.addr4, remote: srv, lport: b.port4, rport: ftpDataPort, proto: TCP}]
	}
	if ss == nil {
		var r dropReason
		b, ss, r = e.open6(s, f.now, &a6, client.Port(), TCP, srv, ftpDataPort, b)
		if ss == nil {
			e.drop(r)
			return netip.AddrPort{}, false
		}
		ss.state = stV6Init
	}
	e.t.setTimer(ss, listTCPTrans, f.now+s.life[listTCPTrans])
	return netip.AddrPortFrom(netip.AddrFrom4(b.addr4), b.port4), true
}

// ftpDataPort is the port an active-mode server connects from (RFC 959);
// a server connecting from another port is let in by the binding.
const ftpDataPort = 20

// isFTP reports whether port is a control port the gateway serves.
func (s *state) isFTP(port uint16) bool {
	for _, p := range s.cfg.ALG.FTPPorts {
		if p == port {
			return true
		}
	}
	return false
}

// ftp runs the gateway on the TCP segment just translated, the last
// packet of out, of session ss; fromClient: it came from the IPv6 side.
// It rewrites the packet in place, or takes it back, and may add a
// segment toward its sender.
func (e *NAT64) ftp(s *state, now int64, ss *session, fromClient bool, flags uint8, out *packet.Batch) {
	i := out.Len() - 1
	pkt := out.Packets[i].Data
	var hl int
	if fromClient {
		hl = packet.IPv4(pkt).HeaderLength()
	} else {
		hl = packet.IPv6HeaderLen
	}
	t := packet.TCP(pkt[hl:])
	if !t.IsValid() {
		return
	}
	k := ss.key()
	fc := e.t.ftp[k]
	syn := flags&packet.TCPFlagSYN != 0
	dir := 0
	if !fromClient {
		dir = 1
	}
	if fc == nil {
		if !syn || !fromClient || flags&packet.TCPFlagACK != 0 {
			return // a connection the gateway did not see open
		}
		if len(e.t.ftp) >= s.cfg.ALG.FTPConnections {
			e.c.ftpFull.Add(1)
			return
		}
		if e.t.ftp == nil {
			e.t.ftp = map[skey]*ftpConn{}
		}
		fc = &ftpConn{g: ftpalg.NewConn(netip.AddrFrom4(ss.remote), &e.ftpBind, &e.ftpc)}
		e.t.ftp[k] = fc
	}
	fc.win[dir] = t.Window()
	if flags&packet.TCPFlagACK != 0 {
		fc.unacked[dir].Acked(t.Ack()) // the sender has the gateway's text
	}
	tsOff := -1
	opts := packet.NewTCPOptions(t.Options())
	for opts.Next() {
		if opts.Kind() == packet.TCPOptTimestamps && opts.Len() == 10 {
			tsOff = packet.TCPMinLen + opts.Offset()
			fc.tsval[dir], fc.ts[dir] = binary.BigEndian.Uint32(t[tsOff+2:]), true
		}
	}
	if syn {
		fc.g.SYN(fromClient, t.Seq())
		return
	}
	e.ftpBind.s, e.ftpBind.now, e.ftpBind.client = s, now, ss.b.addr6
	var r ftpalg.Result
	fc.g.Segment(fromClient, t.Seq(), t.Payload(), flags&packet.TCPFlagFIN != 0, &r)
	if r.Drop {
		out.Unnext()
		return
	}
	payload := t.Payload()
	doff := t.DataOffset()
	n := hl + doff + len(r.Payload)
	if n > cap(pkt) || n > 65535 {
		e.c.ftpTooBig.Add(1)
		out.Unnext()
		return
	}
	if len(r.Payload) != len(payload) || string(r.Payload) != string(payload) {
		pkt = pkt[:n]
		copy(pkt[hl+doff:], r.Payload)
		out.Packets[i].Data = pkt
		t = packet.TCP(pkt[hl:])
	}
	binary.BigEndian.PutUint32(t[packet.TCPSeq:], r.Seq)
	if flags&packet.TCPFlagACK != 0 && fc.g.Shifted() {
		binary.BigEndian.PutUint32(t[packet.TCPAck:], fc.g.Ack(fromClient, t.Ack()))
		opts := packet.NewTCPOptions(t.Options())
		for opts.Next() {
			if opts.Kind() != packet.TCPOptSACK {
				continue
			}
			d := opts.Data()
			for j := 0; j+4 <= len(d); j += 4 {
				binary.BigEndian.PutUint32(d[j:], fc.g.Ack(fromClient, binary.BigEndian.Uint32(d[j:])))
			}
		}
	}
	fixLengths(pkt, fromClient, hl)
	if r.Own && len(r.Payload) > 0 {
		fc.unacked[1-dir].Keep(r.Seq, t.Ack(), r.Payload, now)
	}
	if len(r.Back) > 0 || r.AckBack {
		to := 1
		if fromClient {
			to = 0
		}
		e.ftpSend(s, ss, fc, to, r.BackSeq, r.BackAck, r.Back, out)
		if len(r.Back) > 0 {
			fc.unacked[to].Keep(r.BackSeq, r.BackAck, r.Back, now)
		}
	}
}

// ftpExpire sends again the gateway's text whose acknowledgement is late:
// nothing else would (the peer does not have it to retransmit).
func (e *NAT64) ftpExpire(s *state, now int64, out *packet.Batch) {
	for k, fc := range e.t.ftp {
		for to := range fc.unacked {
			u := &fc.unacked[to]
			if !u.Due(now) {
				continue
			}
			ss := e.t.sessions[k]
			if ss == nil {
				continue
			}
			u.At = now
			e.ftpSend(s, ss, fc, to, u.Seq, u.Ack, u.Text(), out)
			e.c.ftpResent.Add(1)
		}
	}
}

// fixLengths sets the IP length fields and recomputes the checksums of
// a rewritten segment (IPv4 if v4). Only the control connection's
// segments come here, a few a second.
func fixLengths(pkt []byte, v4 bool, hl int) {
	t := packet.TCP(pkt[hl:])
	t.SetChecksum(0)
	if v4 {
		ip := packet.IPv4(pkt)
		binary.BigEndian.PutUint16(pkt[packet.IPv4TotalLength:], uint16(len(pkt)))
		ip.SetChecksum(0)
		ip.SetChecksum(^packet.Sum(pkt[:hl]))
		t.SetChecksum(packet.Checksum(ip.PseudoHeaderSum(packet.ProtoTCP, len(t)), t))
		return
	}
	ip := packet.IPv6(pkt)
	ip.SetPayloadLength(len(pkt) - packet.IPv6HeaderLen)
	t.SetChecksum(packet.Checksum(ip.PseudoHeaderSum(packet.ProtoTCP, len(t)), t))
}

// ftpSend sends a segment of the gateway's own toward the client (to 0)
// or the server (to 1): text, or an acknowledgement alone.
func (e *NAT64) ftpSend(s *state, ss *session, fc *ftpConn, to int, seq, ack uint32, text []byte, out *packet.Batch) {
	b := ss.b
	var opt [12]byte
	var opts []byte
	if fc.ts[0] && fc.ts[1] {
		opt[0], opt[1], opt[2], opt[3] = packet.TCPOptNOP, packet.TCPOptNOP, packet.TCPOptTimestamps, 10
		binary.BigEndian.PutUint32(opt[4:], fc.tsval[1-to])
		binary.BigEndian.PutUint32(opt[8:], fc.tsval[to])
		opts = opt[:]
	}
	flags := uint8(packet.TCPFlagACK)
	if len(text) > 0 {
		flags |= packet.TCPFlagPSH
	}
	tf := packet.TCPFields{Seq: seq, Ack: ack, Flags: flags, Window: fc.win[1-to], Options: opts}
	tl := packet.TCPMinLen + len(opts) + len(text)
	if to == 0 {
		// To the client: from the server's IPv6 address and port.
		srv6, _ := s.m.Map4(ss.remote)
		n := packet.IPv6HeaderLen + tl
		pkt := out.Next(n, packet.IPv6Family, netip.AddrFrom16(b.addr6))
		packet.IPv6(pkt).Encode(&packet.IPv6Fields{PayloadLen: uint16(tl), NextHeader: packet.ProtoTCP, HopLimit: 64, Src: srv6, Dst: b.addr6})
		tf.SrcPort, tf.DstPort = ss.rport, b.port6
		h := packet.TCP(pkt[packet.IPv6HeaderLen:]).Encode(&tf)
		copy(pkt[packet.IPv6HeaderLen+h:], text)
		fixLengths(pkt, false, packet.IPv6HeaderLen)
	} else {
		n := packet.IPv4MinLen + tl
		pkt := out.Next(n, packet.IPv4Family, netip.AddrFrom4(ss.remote))
		packet.IPv4(pkt).Encode(&packet.IPv4Fields{TotalLen: uint16(n), ID: e.nextID(), Flags: packet.IPv4FlagDF, TTL: 64,
			Protocol: packet.ProtoTCP, Src: b.addr4, Dst: ss.remote})
		tf.SrcPort, tf.DstPort = b.port4, ss.rport
		h := packet.TCP(pkt[packet.IPv4MinLen:]).Encode(&tf)
		copy(pkt[packet.IPv4MinLen+h:], text)
		fixLengths(pkt, true, packet.IPv4MinLen)
	}
	e.c.ftpSent.Add(1)
}

// FTPStats are the FTP gateway's counters.
type FTPStats struct {
	Connections                                                    int
	Rewrites, Answered, Retries, Failures, LinesTooLong, Held, TLS uint64
	HeldAcked, OutOfOrder, Full, TooBig, Sent, Resent              uint64
}

func (e *NAT64) ftpStats() FTPStats {
	c := &e.ftpc
	return FTPStats{
		Connections: len(e.t.ftp),
		Rewrites:    c.Rewrites.Load(), Answered: c.Answered.Load(), Retries: c.Retries.Load(),
		Failures: c.Failures.Load(), LinesTooLong: c.LinesTooLong.Load(), Held: c.Held.Load(), TLS: c.TLS.Load(),
		HeldAcked: c.HeldAcked.Load(), OutOfOrder: c.OutOfOrder.Load(), Full: e.c.ftpFull.Load(), TooBig: e.c.ftpTooBig.Load(), Sent: e.c.ftpSent.Load(),
		Resent: e.c.ftpResent.Load(),
	}
}
