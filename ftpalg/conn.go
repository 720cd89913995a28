package ftpalg

import (
	"net/netip"
	"sync/atomic"
)

// MaxLine is the longest command or reply line the gateway holds and
// parses. A longer line is passed on unparsed and counted.
const MaxLine = 512

// maxPayload bounds the payload of one segment the gateway rewrites; a
// control connection never comes close (its lines are short and few).
const maxPayload = 8192

// Counters are a gateway's counters, shared by its connections.
type Counters struct {
	// Rewrites counts lines sent rewritten (EPRT, PORT, 229 replies).
	Rewrites atomic.Uint64
	// Answered counts commands the gateway answered itself (LPRT, LPSV,
	// ALGS, EPSV ALL refused by the server).
	Answered atomic.Uint64
	// Retries counts EPSV and EPRT retried as PASV and PORT.
	Retries atomic.Uint64
	// Failures counts lines the gateway could not translate: no binding
	// for an EPRT, a reply it could not parse, a segment too large.
	Failures atomic.Uint64
	// LinesTooLong counts lines longer than MaxLine, passed unparsed.
	LinesTooLong atomic.Uint64
	// Held counts segments whose last line was incomplete and held.
	Held atomic.Uint64
	// HeldAcked counts acknowledgements the gateway sent for held bytes
	// their sender sent again.
	HeldAcked atomic.Uint64
	// OutOfOrder counts segments dropped because they came before the
	// bytes in front of them (the sender sends them again).
	OutOfOrder atomic.Uint64
	// TLS counts control connections that started TLS (no more rewriting).
	TLS atomic.Uint64
}

// Binder makes the translator ready for an active-mode data connection:
// the server will connect to the address it returns, which must lead to
// the client's address and port. ok false: none can be made.
type Binder interface {
	BindActive(client netip.AddrPort, server netip.Addr) (netip.AddrPort, bool)
}

// Splicer is what the splice does for the data connections of a control
// connection between an IPv4 client and an IPv6 server behind a VIP.
type Splicer interface {
	// Passive: the server listens on port for the client's data
	// connection; the splice steers a connection from the client to the
	// address it returns (the VIP and a port) to that port of the server.
	Passive(serverPort uint16) (netip.AddrPort, bool)
	// Active: the client listens on client; the splice lets a connection
	// from the server to the address it returns (the client's address in
	// pool6 and a port) through to it.
	Active(client netip.AddrPort) (netip.AddrPort, bool)
}

// pending is what the gateway waits for in the reply to one command.
type pending uint8

const (
	waitNone pending = iota
	waitEPSV
	waitPASVFor229
	waitEPSVAll
	waitEPRT
	waitPORT
	waitAUTH
	// The splice: an EPSV sent for the client's PASV, and the client's
	// own EPSV.
	waitEPSVFor227
	waitEPSVSpliced
)

const maxPending = 8

// stream is one direction of the control connection.
type stream struct {
	d    Deltas
	nxt  uint32
	init bool
	// held is the incomplete last line, received but not sent on.
	held  [MaxLine]byte
	nheld int
	// skip: inside a line longer than MaxLine, passed unparsed.
	skip bool
	// multi is the code of a multi-line reply being read, 0 if none.
	multi int
	// acked: the gateway acknowledged the held bytes to their sender,
	// who will not send them again.
	acked bool
}

// point is the first byte not sent on: where inserted text goes.
func (s *stream) point() uint32 { return s.nxt - uint32(s.nheld) }

// Conn is the gateway of one control connection between an IPv6 client
// and an IPv4 server through a NAT64 (RFC 6384). It is not safe for
// concurrent use.
type Conn struct {
	cs, sc stream
	pend   [maxPending]pending
	np     int
	// eprt is the IPv4 address and port of the last EPRT rewritten, for
	// the retry with PORT.
	eprt netip.AddrPort
	// server is the server's IPv4 address, client the client's IPv6.
	server netip.Addr
	tls    bool
	off    bool
	noEPSV bool
	noEPRT bool
	// all: the gateway said yes to EPSV ALL on the server's behalf.
	all bool
	// pend0 is the command the reply being read answers.
	pend0 pending
	c     *Counters
	bind  Binder
	// splice is set for a control connection of the splice (IPv4
	// client, IPv6 server), nil for the NAT64.
	splice Splicer
	out    [maxPayload + MaxLine + 2*maxText]byte
	back   [2 * maxText]byte
	nback  int
	backTo int8 // 0 none, 1 client, 2 server
}

// NewConn returns the gateway of a control connection to server.
func NewConn(server netip.Addr, b Binder, c *Counters) *Conn {
	return &Conn{server: server, bind: b, c: c}
}

// NewSpliceConn returns the gateway of a control connection of the
// splice: an IPv4 client's PASV, EPSV, PORT and EPRT toward an IPv6
// server get the mirror treatment of RFC 6384's.
func NewSpliceConn(s Splicer, c *Counters) *Conn {
	return &Conn{splice: s, c: c}
}

// Result is what to do with one segment.
type Result struct {
	// Seq and Payload are the segment to send on (Payload may be empty:
	// the segment still carries its acknowledgement and window).
	Seq     uint32
	Payload []byte
	// Drop: send nothing on (a segment ahead of a gap).
	Drop bool
	// Back is text to send back to the sender, as a segment of the other
	// direction with BackSeq and acknowledging BackAck.
	Back             []byte
	BackSeq, BackAck uint32
	// AckBack: send the sender a segment without text, BackSeq and
	// BackAck set, acknowledging the bytes the gateway holds.
	AckBack bool
	// Own: Payload holds bytes the gateway acknowledged to their sender,
	// who will not send them again: the engine keeps Payload and sends
	// it again until the receiver acknowledges it.
	Own bool
}

// SYN starts a direction at its initial sequence number.
func (c *Conn) SYN(fromClient bool, isn uint32) {
	s := c.stream(fromClient)
	s.nxt, s.init = isn+1, true
}

func (c *Conn) stream(fromClient bool) *stream {
	if fromClient {
		return &c.cs
	}
	return &c.sc
}

// Ack maps an acknowledgement number (or SACK block edge) sent by the
// client (fromClient) or the server into the other side's space.
func (c *Conn) Ack(fromClient bool, ack uint32) uint32 {
	return c.stream(!fromClient).d.Unmap(ack)
}

// Shifted reports whether any number of the connection is shifted, so
// that an engine can skip the mapping of acknowledgements otherwise.
func (c *Conn) Shifted() bool { return !c.cs.d.Empty() || !c.sc.d.Empty() }

// Segment processes the payload of a segment from the client
// (fromClient) or the server, starting at sequence number seq; fin: the
// segment carries a FIN (held bytes are flushed unparsed then).
func (c *Conn) Segment(fromClient bool, seq uint32, data []byte, fin bool, r *Result) {
	*r = Result{}
	c.nback, c.backTo = 0, 0
	s := c.stream(fromClient)
	if !s.init {
		s.nxt, s.init = seq, true
	}
	end := seq + uint32(len(data))
	if lt(s.nxt, seq) && len(data) == 0 {
		// Nothing to parse: an acknowledgement sent past bytes the
		// gateway has not seen yet, or the last ACK after a FIN, which
		// takes a sequence number the gateway does not count. Its
		// number maps as any byte's there.
		r.Seq = s.d.Map(seq)
		return
	}
	if lt(s.nxt, seq) || len(data) > maxPayload {
		// A gap: nothing after it can be parsed before it is filled.
		if len(data) > maxPayload {
			c.c.Failures.Add(1)
		}
		c.c.OutOfOrder.Add(1)
		r.Drop = true
		return
	}
	out := c.out[:0]
	hs := s.point()
	// again: nothing new in the segment, and held bytes in it.
	again := !lt(s.nxt, end) && s.nheld > 0 && lt(hs, end)
	var outSeq uint32
	started := false
	if lt(seq, hs) {
		// Bytes already seen: sent again as they were the first time.
		lim := end
		if lt(hs, end) {
			lim = hs
		}
		out, outSeq = s.d.render(out, seq, data[:lim-seq])
		started = true
	}
	if lt(hs, end) || fin && s.nheld > 0 {
		if !started {
			outSeq = s.d.Map(hs)
		}
		var fresh []byte
		if lt(s.nxt, end) {
			fresh = data[s.nxt-seq:]
		}
		out = c.fresh(s, fromClient, out, fresh, fin)
	} else if !started {
		outSeq = s.d.Map(seq)
	}
	r.Seq, r.Payload = outSeq, out
	if again && c.backTo == 0 {
		// The sender sends held bytes again and nothing new: it waits
		// for their acknowledgement before sending more (Nagle, or a
		// congestion window of one segment after a timeout). The
		// gateway acknowledges them itself, or the line never completes.
		o := c.stream(!fromClient)
		r.AckBack, r.BackSeq, r.BackAck = true, o.d.Map(o.point()), s.nxt
		s.acked = true
		c.c.HeldAcked.Add(1)
		return
	}
	if s.acked && s.nheld == 0 {
		r.Own, s.acked = true, false
	}
	if c.backTo != 0 {
		// The text sent back is inserted in the other direction's stream
		// where its sender is now.
		r.Back = c.back[:c.nback]
		o := c.stream(!fromClient)
		p := o.point()
		if !o.d.Add(p, p, r.Back) {
			c.c.Failures.Add(1)
			r.Back = nil
			return
		}
		r.BackSeq = o.d.Map(p) - uint32(c.nback)
		r.BackAck = s.point()
	}
}

// fresh processes bytes not seen before (after the held ones), appending
// what goes on to out.
func (c *Conn) fresh(s *stream, fromClient bool, out, b []byte, fin bool) []byte {
	s.nxt += uint32(len(b))
	if c.tls {
		out = append(out, s.held[:s.nheld]...)
		s.nheld = 0
		return append(out, b...)
	}
	pos := s.nxt - uint32(len(b)) - uint32(s.nheld) // original seq of the first byte
	for len(b) > 0 {
		if s.skip {
			i := indexLF(b)
			if i < 0 {
				return append(out, b...)
			}
			out = append(out, b[:i+1]...)
			pos += uint32(i + 1)
			b = b[i+1:]
			s.skip = false
			continue
		}
		i := indexLF(b)
		if i < 0 {
			if s.nheld+len(b) > MaxLine {
				c.c.LinesTooLong.Add(1)
				out = append(out, s.held[:s.nheld]...)
				out = append(out, b...)
				s.nheld, s.skip = 0, true
				return out
			}
			s.nheld += copy(s.held[s.nheld:], b)
			c.c.Held.Add(1)
			break
		}
		var line []byte
		if s.nheld > 0 {
			if s.nheld+i+1 > MaxLine {
				c.c.LinesTooLong.Add(1)
				out = append(out, s.held[:s.nheld]...)
				out = append(out, b[:i+1]...)
				pos += uint32(s.nheld + i + 1)
				s.nheld = 0
				b = b[i+1:]
				continue
			}
			s.nheld += copy(s.held[s.nheld:], b[:i+1])
			line = s.held[:s.nheld]
		} else {
			line = b[:i+1]
		}
		if len(line) > MaxLine {
			c.c.LinesTooLong.Add(1)
			out = append(out, line...)
		} else {
			start := pos
			n := len(out)
			out = c.line(fromClient, out, line)
			if rewritten := out[n:]; string(rewritten) != string(line) {
				if !s.d.Add(start, start+uint32(len(line)), rewritten) {
					c.c.Failures.Add(1)
					out = append(out[:n], line...)
				}
			}
		}
		pos += uint32(len(line))
		s.nheld = 0
		b = b[i+1:]
	}
	if fin && s.nheld > 0 {
		out = append(out, s.held[:s.nheld]...)
		s.nheld = 0
	}
	return out
}

func indexLF(b []byte) int {
	for i, c := range b {
		if c == '\n' {
			return i
		}
	}
	return -1
}

// line handles one complete line, appending what goes on in its place.
func (c *Conn) line(fromClient bool, out, line []byte) []byte {
	if fromClient {
		return c.command(out, line)
	}
	return c.reply(out, line)
}

// answer sends text back to the client in place of the line.
func (c *Conn) answer(text string) {
	c.backTo = 1
	c.nback += copy(c.back[c.nback:], text)
	c.c.Answered.Add(1)
}

func (c *Conn) push(p pending) {
	if c.np < maxPending {
		c.pend[c.np] = p
		c.np++
	}
}

func (c *Conn) pushFront(p pending) {
	if c.np == maxPending {
		c.np--
	}
	copy(c.pend[1:c.np+1], c.pend[:c.np])
	c.pend[0] = p
	c.np++
}

func (c *Conn) pop() pending {
	if c.np == 0 {
		return waitNone
	}
	p := c.pend[0]
	copy(c.pend[:], c.pend[1:c.np])
	c.np--
	return p
}

// command handles a client's command line.
func (c *Conn) command(out, line []byte) []byte {
	if c.splice != nil {
		return c.command46(out, line)
	}
	verb, arg := ParseCommand(line)
	if verb == VerbALGS {
		switch {
		case equalFold(arg, "STATUS64"):
			if c.off {
				c.answer("216 FTP ALG for IPv6 to IPv4 translation is disabled.\r\n")
			} else {
				c.answer("216 FTP ALG for IPv6 to IPv4 translation is enabled.\r\n")
			}
		case equalFold(arg, "ENABLE64"):
			c.off = false
			c.answer("200 FTP ALG for IPv6 to IPv4 translation enabled.\r\n")
		case equalFold(arg, "DISABLE64"):
			c.off = true
			c.answer("200 FTP ALG for IPv6 to IPv4 translation disabled.\r\n")
		default:
			c.answer("501 Syntax error in ALGS parameters.\r\n")
		}
		return out
	}
	if c.off {
		c.push(waitNone)
		return append(out, line...)
	}
	switch verb {
	case VerbLPRT, VerbLPSV:
		c.answer("500 Command not understood.\r\n")
		return out
	case VerbPORT, VerbPASV, VerbEPRT:
		if c.all {
			// RFC 2428 §4: after EPSV ALL only EPSV sets up data.
			if verb != VerbEPRT {
				c.answer("501 EPSV ALL in effect.\r\n")
				return out
			}
		}
	}
	switch verb {
	case VerbEPSV:
		if len(arg) > 0 && !(len(arg) == 1 && arg[0] == '2') {
			break
		}
		if c.noEPSV {
			c.push(waitPASVFor229)
			c.c.Rewrites.Add(1)
			return append(out, "PASV\r\n"...)
		}
		c.push(waitEPSV)
		return append(out, line...)
	case VerbEPSVAll:
		c.push(waitEPSVAll)
		return append(out, line...)
	case VerbEPRT:
		if c.all {
			c.answer("501 EPSV ALL in effect.\r\n")
			return out
		}
		ap, ok := ParseEPRT(arg)
		if !ok || !ap.Addr().Is6() {
			break
		}
		a4, ok := c.bind.BindActive(ap, c.server)
		if !ok || !a4.Addr().Is4() {
			c.c.Failures.Add(1)
			c.answer("425 Can't open data connection.\r\n")
			return out
		}
		c.eprt = a4
		c.c.Rewrites.Add(1)
		if c.noEPRT {
			c.push(waitPORT)
			return AppendPORT(out, a4.Addr().As4(), a4.Port())
		}
		c.push(waitEPRT)
		return AppendEPRT4(out, a4.Addr().As4(), a4.Port())
	case VerbAUTH:
		c.push(waitAUTH)
		return append(out, line...)
	}
	c.push(waitNone)
	return append(out, line...)
}

// reply handles a server's reply line.
func (c *Conn) reply(out, line []byte) []byte {
	code, final, ok := ReplyCode(line)
	s := &c.sc
	if s.multi != 0 {
		if ok && final && code == s.multi {
			s.multi = 0
		}
		return append(out, line...)
	}
	if !ok {
		return append(out, line...)
	}
	if !final {
		s.multi = code
		if code >= 200 {
			c.pop()
		}
		return append(out, line...)
	}
	if code < 200 {
		return append(out, line...)
	}
	refused := code == 500 || code == 502
	c.pend0 = c.pop()
	switch c.pend0 {
	case waitEPSV:
		if refused {
			c.noEPSV = true
			c.retry([]byte("PASV\r\n"), waitPASVFor229)
			return out
		}
	case waitPASVFor229:
		if code == 227 {
			_, port, ok := Parse227(line)
			if !ok {
				c.c.Failures.Add(1)
				break
			}
			c.c.Rewrites.Add(1)
			return Append229(out, port)
		}
	case waitEPSVAll:
		if refused {
			c.noEPSV, c.all = true, true
			c.c.Answered.Add(1)
			return append(out, "200 EPSV ALL command successful.\r\n"...)
		}
		if code/100 == 2 {
			c.all = true
		}
	case waitEPRT:
		if refused && c.eprt.IsValid() {
			c.noEPRT = true
			var buf [64]byte
			c.retry(AppendPORT(buf[:0], c.eprt.Addr().As4(), c.eprt.Port()), waitPORT)
			return out
		}
	case waitEPSVFor227, waitEPSVSpliced:
		if code != 229 {
			break
		}
		port, ok := Parse229(line)
		var v netip.AddrPort
		if ok {
			v, ok = c.splice.Passive(port)
		}
		if !ok || !v.Addr().Is4() {
			c.c.Failures.Add(1)
			return append(out, "425 Can't open data connection.\r\n"...)
		}
		c.c.Rewrites.Add(1)
		if c.pend0 == waitEPSVFor227 {
			return Append227(out, v.Addr().As4(), v.Port())
		}
		return Append229(out, v.Port())
	case waitAUTH:
		if code == 234 {
			c.tls = true
			c.c.TLS.Add(1)
		}
	}
	return append(out, line...)
}

// retry eats the server's refusal and sends cmd to the server instead.
func (c *Conn) retry(cmd []byte, p pending) {
	c.backTo = 2
	c.nback += copy(c.back[c.nback:], cmd)
	c.c.Retries.Add(1)
	c.pushFront(p)
}

// command46 handles a command of an IPv4 client toward an IPv6 server
// behind the splice: PASV becomes EPSV (the 229 reply a 227 with the
// VIP), PORT and EPRT |1| become EPRT |2| with the client's address in
// pool6, LPRT and LPSV are answered 500.
func (c *Conn) command46(out, line []byte) []byte {
	verb, arg := ParseCommand(line)
	switch verb {
	case VerbLPRT, VerbLPSV:
		c.answer("500 Command not understood.\r\n")
		return out
	case VerbPASV:
		c.push(waitEPSVFor227)
		c.c.Rewrites.Add(1)
		return append(out, "EPSV\r\n"...)
	case VerbEPSV:
		c.push(waitEPSVSpliced)
		if len(arg) > 0 {
			// "EPSV 1" asks for IPv4, which the server does not have.
			c.c.Rewrites.Add(1)
			return append(out, "EPSV\r\n"...)
		}
		return append(out, line...)
	case VerbPORT, VerbEPRT:
		var ap netip.AddrPort
		var ok bool
		if verb == VerbPORT {
			ap, ok = ParsePORT(arg)
		} else {
			ap, ok = ParseEPRT(arg)
		}
		if !ok || !ap.Addr().Is4() {
			c.answer("501 Syntax error in parameters or arguments.\r\n")
			return out
		}
		a6, ok := c.splice.Active(ap)
		if !ok || !a6.Addr().Is6() {
			c.c.Failures.Add(1)
			c.answer("425 Can't open data connection.\r\n")
			return out
		}
		c.push(waitNone)
		c.c.Rewrites.Add(1)
		return AppendEPRT6(out, a6.Addr().As16(), a6.Port())
	case VerbAUTH:
		c.push(waitAUTH)
		return append(out, line...)
	}
	c.push(waitNone)
	return append(out, line...)
}
