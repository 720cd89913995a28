package controller

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/sixgate/sixgate/controller/ofp"
)

// ErrSwitchClosed is returned by requests on a switch whose session ended.
var ErrSwitchClosed = errors.New("switch connection closed")

// Switch is the session with one connected switch. Its methods are safe for
// concurrent use.
type Switch struct {
	ctl  *Controller
	conn net.Conn
	log  *logrus.Entry

	dpid     uint64
	features ofp.FeaturesReply

	xid atomic.Uint32
	out chan outMsg // encoded messages for the writer

	mu      sync.Mutex
	ports   map[uint32]ofp.Port
	pending map[uint32]*pending

	events chan event // packet-ins: dropped when full
	// control carries the events that must not be lost (switch up, port
	// status, flow removed); the event loop serves it first.
	control chan event
	resync  chan struct{}
	// packetIns limits packet-ins on arrival; nil when unbounded.
	packetIns *tokenBucket
	// packetInMeter is the OFPM_CONTROLLER meter the switch took during
	// the handshake; nil when none is wanted.
	packetInMeter atomic.Pointer[Meter]

	// after, when set, is closed once the apps were told that the
	// previous session of the same datapath ended; the event loop waits
	// for it before it tells them of this one. downDone is this
	// session's.
	after    <-chan struct{}
	downDone chan struct{}

	done      chan struct{}
	closeOnce sync.Once
	closeErr  error

	ops switchOps // counters and state for operators (ops.go)

	// master is set once the switch confirmed this controller as its
	// master (Config.HA); writes need it. confirmed and confirmedGen are
	// the role and generation id of the last ROLE_REPLY. roleKick wakes
	// roleLoop.
	master       atomic.Bool
	confirmed    atomic.Uint32
	confirmedGen atomic.Uint64
	roleKick     chan struct{}

	// ho moves the session to another process (handover.go).
	ho sessionHandover
}

// pending is a request waiting for its reply, or a message whose only
// possible answer is an error.
type pending struct {
	reply chan answer // buffered, receives one answer
	// raw holds the multipart parts read so far as they came on the
	// wire, total their bytes; both count against the request's limit
	// and the controller's budget until the request is unregistered.
	raw   [][]byte
	total int
	limit int
	// aborted is set when the reply exceeded a bound: the rest of its
	// parts are dropped.
	aborted bool
	// parts is the decoded reply, set by the reader with the last part.
	parts []*ofp.MultipartReply
	// portDesc makes the reader take the ports of the reply as the
	// switch's when it reads the last part: in stream order, between
	// the PORT_STATUS messages the switch sent before the reply (older)
	// and after it (newer).
	portDesc bool
}

// answer is what a pending request gets: the message that answers it, or
// an error from the controller's side.
type answer struct {
	msg ofp.Message
	err error
}

// ErrMultipartTooLarge is returned for a multipart reply that exceeded
// Config.MaxMultipartBytes or the share of Config.MaxMultipartTotal left.
var ErrMultipartTooLarge = errors.New("multipart reply too large")

type eventKind uint8

const (
	eventUp eventKind = iota
	eventPacketIn
	eventPortStatus
	eventFlowRemoved
	// eventAlive is a liveness probe (Alive): the event loop closes
	// alive when it reaches it.
	eventAlive
)

type event struct {
	kind  eventKind
	msg   ofp.Message
	alive chan struct{}
}

func newSwitch(c *Controller, conn net.Conn) *Switch {
	s := &Switch{
		ctl:     c,
		conn:    conn,
		log:     c.log.WithField("remote", conn.RemoteAddr().String()),
		out:     make(chan outMsg, 1024),
		ports:   map[uint32]ofp.Port{},
		pending: map[uint32]*pending{},
		events:  make(chan event, c.cfg.EventQueue),
		control: make(chan event, controlQueue),
		resync:  make(chan struct{}, 1),
		done:    make(chan struct{}),

		downDone: make(chan struct{}),
		roleKick: make(chan struct{}, 1),
	}
	s.confirmed.Store(ofp.RoleEqual)
	s.ho.pause = make(chan pauseRequest)
	s.xid.Store(0x1000)
	s.ops.init(time.Now())
	if c.cfg.PacketInRate > 0 {
		s.packetIns = newTokenBucket(c.cfg.PacketInRate, c.cfg.PacketInBurst)
	}
	return s
}

// DPID is the switch's datapath id.
func (s *Switch) DPID() uint64 { return s.dpid }

// String names the switch by its datapath id, as Open vSwitch prints it.
func (s *Switch) String() string { return FormatDPID(s.dpid) }

// FormatDPID formats a datapath id the way Open vSwitch shows it.
func FormatDPID(dpid uint64) string { return fmt.Sprintf("%016x", dpid) }

// Features returns the switch's FEATURES_REPLY.
func (s *Switch) Features() ofp.FeaturesReply { return s.features }

// Ports returns the switch's ports sorted by number.
func (s *Switch) Ports() []ofp.Port {
	s.mu.Lock()
	defer s.mu.Unlock()
	ps := make([]ofp.Port, 0, len(s.ports))
	for _, p := range s.ports {
		ps = append(ps, p)
	}
	sort.Slice(ps, func(i, j int) bool { return ps[i].PortNo < ps[j].PortNo })
	return ps
}

// Port returns one port by number.
func (s *Switch) Port(no uint32) (ofp.Port, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.ports[no]
	return p, ok
}

// Done is closed when the session ends.
func (s *Switch) Done() <-chan struct{} { return s.done }

// Err tells why the session ended; nil while it runs.
func (s *Switch) Err() error {
	select {
	case <-s.done:
		return s.closeErr
	default:
		return nil
	}
}

// close ends the session once, recording why.
func (s *Switch) close(err error) {
	s.closeOnce.Do(func() {
		s.closeErr = err
		close(s.done)
		s.conn.Close()
	})
}

// nextXID returns a fresh transaction id, never 0: Send takes 0 to mean
// "assign one", which would orphan a request registered under it.
func (s *Switch) nextXID() uint32 {
	for {
		if x := s.xid.Add(1); x != 0 {
			return x
		}
	}
}

// Send queues messages for the switch without waiting for an answer. A
// message with a zero xid gets a fresh one. Errors the switch returns for
// them are logged; use Apply to get them back. With Config.HA, writes
// (flow, group and meter mods, packet-outs) are refused with ErrNotMaster
// unless the switch has confirmed this controller as its master.
func (s *Switch) Send(ctx context.Context, msgs ...ofp.Message) error {
	for _, m := range msgs {
		if err := s.gate(m); err != nil {
			return err
		}
	}
	for _, m := range msgs {
		if m.XID() == 0 {
			m.SetXID(s.nextXID())
		}
		b, err := ofp.Marshal(m)
		if err != nil {
			return fmt.Errorf("switch %s: %w", s, err)
		}
		if err := s.enqueue(ctx, b); err != nil {
			return err
		}
	}
	return nil
}

// outMsg is an encoded message for the writer; written, when set, is
// closed once the message has left (flushed to the connection).
type outMsg struct {
	b       []byte
	written chan struct{}
}

func (s *Switch) enqueue(ctx context.Context, b []byte) error {
	return s.enqueueMsg(ctx, outMsg{b: b})
}

func (s *Switch) enqueueMsg(ctx context.Context, m outMsg) error {
	s.ho.mu.RLock()
	defer s.ho.mu.RUnlock()
	if s.ho.held {
		return fmt.Errorf("switch %s: session being handed over: %w", s, ErrSwitchClosed)
	}
	select {
	case s.out <- m:
		return nil
	case <-s.done:
		return fmt.Errorf("switch %s: %w", s, ErrSwitchClosed)
	case <-ctx.Done():
		return fmt.Errorf("switch %s: queue message: %w", s, ctx.Err())
	}
}

func (s *Switch) register(xid uint32, setup func(*pending)) *pending {
	p := &pending{reply: make(chan answer, 1), limit: s.ctl.cfg.MaxMultipartBytes}
	if setup != nil {
		setup(p)
	}
	s.mu.Lock()
	s.pending[xid] = p
	s.mu.Unlock()
	return p
}

// unregister forgets a request and returns what its reply held to the
// multipart budget.
func (s *Switch) unregister(xid uint32) {
	s.mu.Lock()
	if p := s.pending[xid]; p != nil {
		s.ctl.multipartRelease(p.total)
		p.raw, p.total = nil, 0
		delete(s.pending, xid)
	}
	s.mu.Unlock()
}

// Request sends m and waits for the message answering it (same xid): a
// reply, or an ERROR returned as an *ofp.ErrorMsg error. For a multipart
// request use Multipart.
func (s *Switch) Request(ctx context.Context, m ofp.Message) (ofp.Message, error) {
	r, _, err := s.roundTrip(ctx, m, m.Type().String())
	return r, err
}

// roundTrip sends m under a fresh xid and waits for the message that
// answers it (for a multipart request, the last part). An ERROR is
// returned as an error naming what; p holds the multipart parts.
func (s *Switch) roundTrip(ctx context.Context, m ofp.Message, what string) (ofp.Message, *pending, error) {
	return s.roundTripWith(ctx, m, what, nil)
}

// roundTripWith is roundTrip with setup applied to the pending request
// before it is registered.
func (s *Switch) roundTripWith(ctx context.Context, m ofp.Message, what string, setup func(*pending)) (ofp.Message, *pending, error) {
	m.SetXID(s.nextXID())
	p := s.register(m.XID(), setup)
	defer s.unregister(m.XID())
	if err := s.Send(ctx, m); err != nil {
		return nil, nil, err
	}
	select {
	case r := <-p.reply:
		if r.err != nil {
			return nil, nil, fmt.Errorf("switch %s: %s: %w", s, what, r.err)
		}
		if e, ok := r.msg.(*ofp.ErrorMsg); ok {
			return nil, nil, fmt.Errorf("switch %s: %s: %w", s, what, e)
		}
		return r.msg, p, nil
	case <-s.done:
		return nil, nil, fmt.Errorf("switch %s: %s: %w", s, what, ErrSwitchClosed)
	case <-ctx.Done():
		return nil, nil, fmt.Errorf("switch %s: %s: %w", s, what, ctx.Err())
	}
}

// Multipart sends a multipart request and returns every part of the reply,
// following REPLY_MORE until the last one.
// The parts are held as they came on the wire until the last one, and
// bounded by Config.MaxMultipartBytes and MaxMultipartTotal; a reply
// that exceeds either returns an error wrapping ErrMultipartTooLarge, and
// the session goes on.
func (s *Switch) Multipart(ctx context.Context, m *ofp.MultipartRequest) ([]*ofp.MultipartReply, error) {
	return s.multipart(ctx, m, nil)
}

// multipart is Multipart with setup applied to the pending request.
func (s *Switch) multipart(ctx context.Context, m *ofp.MultipartRequest, setup func(*pending)) ([]*ofp.MultipartReply, error) {
	_, p, err := s.roundTripWith(ctx, m, "multipart "+m.MPType.String(), setup)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	parts := p.parts
	p.parts = nil
	return parts, nil
}

// Barrier waits until the switch has processed every message sent before.
func (s *Switch) Barrier(ctx context.Context) error {
	_, err := s.Request(ctx, &ofp.BarrierRequest{})
	return err
}

// Apply sends msgs followed by a barrier and returns, once the barrier is
// answered, the errors the switch sent for any of them, each naming the
// message that caused it.
func (s *Switch) Apply(ctx context.Context, msgs ...ofp.Message) error {
	ps := make([]*pending, len(msgs))
	for i, m := range msgs {
		m.SetXID(s.nextXID())
		ps[i] = s.register(m.XID(), nil)
	}
	defer func() {
		for _, m := range msgs {
			s.unregister(m.XID())
		}
	}()
	if err := s.Send(ctx, msgs...); err != nil {
		return err
	}
	if err := s.Barrier(ctx); err != nil {
		return err
	}
	// Replies to earlier messages arrive before the barrier's.
	var errs []error
	for i, p := range ps {
		select {
		case r := <-p.reply:
			if e, ok := r.msg.(*ofp.ErrorMsg); ok {
				errs = append(errs, fmt.Errorf("switch %s: %s (xid %d): %w", s, msgs[i].Type(), msgs[i].XID(), e))
			}
		default:
		}
	}
	return errors.Join(errs...)
}

// PacketOut sends data out of the given port.
func (s *Switch) PacketOut(ctx context.Context, port uint32, data []byte) error {
	return s.Send(ctx, ofp.NewPacketOut(data, ofp.Output(port)))
}

// Resync asks the switch's event goroutine to reconcile its flow table with
// the apps' declared flows. Calls made while a resync is pending coalesce.
func (s *Switch) Resync() {
	select {
	case s.resync <- struct{}{}:
	default:
	}
}

// writeLoop is the connection's single writer: it writes every queued
// message and flushes when the queue is empty, so bursts (a table's worth of
// flow-mods) leave in few segments.
func (s *Switch) writeLoop() {
	w := bufio.NewWriterSize(s.conn, 64<<10)
	for {
		select {
		case m := <-s.out:
			if s.ctl.cfg.HA && len(m.b) > 1 && isWriteType(ofp.Type(m.b[1])) && !s.MayWrite() {
				// Queued while master, demoted since: the fence holds
				// for what is still in the queue too.
				s.ctl.metrics.writesGated.WithLabelValues(ofp.Type(m.b[1]).String()).Inc()
				if m.written != nil {
					close(m.written)
				}
				continue
			}
			s.conn.SetWriteDeadline(time.Now().Add(s.ctl.cfg.WriteTimeout))
			if _, err := w.Write(m.b); err != nil {
				s.close(fmt.Errorf("write: %w", err))
				return
			}
			if len(s.out) == 0 || m.written != nil {
				if err := w.Flush(); err != nil {
					s.close(fmt.Errorf("write: %w", err))
					return
				}
			}
			if m.written != nil {
				close(m.written)
			}
		case <-s.done:
			return
		}
	}
}

// readLoop reads until the connection fails, answering echoes, routing
// replies to their requests and queueing events. Any message proves the
// switch alive; silence longer than the echo timeout ends the session.
func (s *Switch) readLoop(r *ofp.Reader) {
	s.ho.r = r
	for {
		if s.ho.readerStops() {
			return
		}
		s.conn.SetReadDeadline(time.Now().Add(s.ctl.cfg.EchoTimeout))
		m, err := s.next(r)
		if err != nil && s.ho.readerStops() {
			return
		}
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				err = fmt.Errorf("no message for %v: echo timeout", s.ctl.cfg.EchoTimeout)
			}
			s.close(err)
			return
		}
		s.ops.received(time.Now())
		if m != nil {
			s.handle(m)
		}
	}
}

// next reads one message and decodes it. It returns a nil message for
// one it dealt with itself; an error ends the session.
func (s *Switch) next(r *ofp.Reader) (ofp.Message, error) {
	b, err := r.ReadRaw()
	if err != nil {
		return nil, err
	}
	version, typ, _, _, _ := ofp.PeekHeader(b)
	if version != ofp.Version {
		// The version was agreed in HELLO; the specification has the
		// receiver of another say BAD_VERSION. Nothing after it can be
		// trusted to frame as 1.3: the session ends.
		s.ctl.metrics.decodeErrors.Inc()
		s.lastWords(s.protocolError(b, ofp.ErrBadRequest, ofp.BadRequestBadVersion))
		return nil, fmt.Errorf("bad message: %s of version 0x%02x, not the negotiated 0x%02x: BAD_VERSION sent", typ, version, ofp.Version)
	}
	if typ == ofp.TypeMultipartReply {
		s.ctl.metrics.messagesIn.WithLabelValues(typ.String()).Inc()
		return nil, s.multipartPart(b)
	}
	m, err := ofp.Decode(b)
	if err != nil {
		s.ctl.metrics.decodeErrors.Inc()
		return nil, fmt.Errorf("bad message: %w", err)
	}
	s.ctl.metrics.messagesIn.WithLabelValues(m.Type().String()).Inc()
	return m, nil
}

// protocolError is the ERROR the switch gets for message b: it carries
// b's xid and its first 64 bytes.
func (s *Switch) protocolError(b []byte, t ofp.ErrorType, code uint16) *ofp.ErrorMsg {
	e := &ofp.ErrorMsg{ErrType: t, Code: code, Data: bytes.Clone(b[:min(len(b), 64)])}
	e.SetXID(binary.BigEndian.Uint32(b[4:]))
	return e
}

// lastWords sends m and waits, at most WriteTimeout, until it has left,
// so that the switch reads it before the connection closes.
func (s *Switch) lastWords(m ofp.Message) {
	b, err := ofp.Marshal(m)
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.ctl.cfg.WriteTimeout)
	defer cancel()
	written := make(chan struct{})
	if s.enqueueMsg(ctx, outMsg{b: b, written: written}) != nil {
		return
	}
	select {
	case <-written:
	case <-s.done:
	case <-ctx.Done():
	}
}

// refuse answers a message the controller does not take with an ERROR;
// the session goes on.
func (s *Switch) refuse(m ofp.Message, t ofp.ErrorType, code uint16) {
	b, err := ofp.Marshal(m)
	if err != nil {
		return
	}
	e := s.protocolError(b, t, code)
	s.ctl.metrics.refusedMessages.WithLabelValues(m.Type().String()).Inc()
	s.log.WithFields(logrus.Fields{"type": m.Type().String(), "xid": m.XID(), "error": e.Error()}).Info("message refused")
	s.Send(context.Background(), e)
}

func (s *Switch) handle(m ofp.Message) {
	switch m := m.(type) {
	case *ofp.Unknown:
		s.refuse(m, ofp.ErrBadRequest, ofp.BadRequestBadType)
	case *ofp.Experimenter:
		s.refuse(m, ofp.ErrBadRequest, ofp.BadRequestBadExperimenter)
	case *ofp.EchoRequest:
		rep := &ofp.EchoReply{Data: m.Data}
		rep.SetXID(m.XID())
		s.Send(context.Background(), rep)
	case *ofp.Hello:
		// Liveness is proven by the read itself.
	case *ofp.PacketIn:
		s.ctl.metrics.packetIns.Inc()
		s.ops.packetIns.Add(1)
		if s.packetIns != nil && !s.packetIns.allow(time.Now()) {
			s.ctl.metrics.packetInsThrottled.Inc()
			s.ops.rateDrops.Add(1)
			return
		}
		select {
		case s.events <- event{kind: eventPacketIn, msg: m}:
		default:
			s.ctl.metrics.packetInsDropped.Inc()
			s.ops.queueDrops.Add(1)
		}
	case *ofp.PortStatus:
		s.mu.Lock()
		if m.Reason == ofp.PortReasonDelete {
			delete(s.ports, m.Port.PortNo)
		} else {
			s.ports[m.Port.PortNo] = m.Port
		}
		s.mu.Unlock()
		s.queueEvent(event{kind: eventPortStatus, msg: m})
	case *ofp.FlowRemoved:
		s.queueEvent(event{kind: eventFlowRemoved, msg: m})
	default:
		if e, ok := m.(*ofp.ErrorMsg); ok {
			s.ops.errors.Add(1)
			s.noteRoleError(e)
		}
		s.mu.Lock()
		p := s.pending[m.XID()]
		s.mu.Unlock()
		if p != nil {
			s.deliver(p, answer{msg: m})
			return
		}
		if _, ok := m.(*ofp.EchoReply); ok {
			// To the keepalive: liveness is proven by the read itself.
			return
		}
		if e, ok := m.(*ofp.ErrorMsg); ok {
			s.ctl.metrics.switchErrors.Inc()
			s.log.WithFields(logrus.Fields{"xid": e.XID(), "error": e.Error()}).Warn("switch sent an error for no pending request")
			return
		}
		s.log.WithFields(logrus.Fields{"type": m.Type().String(), "xid": m.XID()}).Debug("unsolicited message")
	}
}

// multipartPart takes one part of a multipart reply, still encoded: it
// keeps a copy for the request waiting for it, within the request's limit
// and the controller's budget, and decodes the whole reply with its last
// part. Parts no request waits for are dropped undecoded. An error (a
// part that does not decode) ends the session.
func (s *Switch) multipartPart(b []byte) error {
	if len(b) < ofp.HeaderLen+8 {
		s.ctl.metrics.decodeErrors.Inc()
		return fmt.Errorf("bad message: MULTIPART_REPLY of %d bytes", len(b))
	}
	xid := binary.BigEndian.Uint32(b[4:])
	mpType := ofp.MultipartType(binary.BigEndian.Uint16(b[8:]))
	last := binary.BigEndian.Uint16(b[10:])&ofp.MultipartMore == 0
	s.mu.Lock()
	p := s.pending[xid]
	if p == nil || p.aborted {
		s.mu.Unlock()
		return nil
	}
	var limit string
	switch {
	case p.total+len(b) > p.limit:
		limit = "request"
	case !s.ctl.multipartReserve(len(b)):
		limit = "total"
	}
	if limit != "" {
		held := p.total + len(b)
		s.ctl.multipartRelease(p.total)
		p.raw, p.total, p.aborted = nil, 0, true
		s.mu.Unlock()
		s.ctl.metrics.multipartAborted.WithLabelValues(limit).Inc()
		var err error
		if limit == "request" {
			err = fmt.Errorf("%w: %s reply (xid %d) reached %d bytes, more than the %d allowed per request",
				ErrMultipartTooLarge, mpType, xid, held, p.limit)
		} else {
			err = fmt.Errorf("%w: %s reply (xid %d) at %d bytes: the %d bytes all replies in progress may hold are taken",
				ErrMultipartTooLarge, mpType, xid, held, s.ctl.cfg.MaxMultipartTotal)
		}
		s.log.WithFields(logrus.Fields{"xid": xid, "type": mpType.String(), "bytes": held, "limit": limit}).
			WithError(err).Warn("multipart reply aborted")
		s.deliver(p, answer{err: err})
		return nil
	}
	p.raw = append(p.raw, bytes.Clone(b))
	p.total += len(b)
	if !last {
		s.mu.Unlock()
		return nil
	}
	raw := p.raw
	p.raw = nil
	s.mu.Unlock()

	parts := make([]*ofp.MultipartReply, 0, len(raw))
	for i, rb := range raw {
		m, err := ofp.Decode(rb)
		raw[i] = nil
		if err != nil {
			s.ctl.metrics.decodeErrors.Inc()
			return fmt.Errorf("bad message: %w", err)
		}
		mp, ok := m.(*ofp.MultipartReply)
		if !ok {
			return fmt.Errorf("bad message: %s in a multipart reply", m.Type())
		}
		parts = append(parts, mp)
	}
	s.mu.Lock()
	p.parts = parts
	if p.portDesc {
		s.setPortsLocked(parts)
	}
	s.mu.Unlock()
	s.deliver(p, answer{msg: parts[len(parts)-1]})
	return nil
}

// deliver hands a request its answer unless it has one already.
func (s *Switch) deliver(p *pending, a answer) {
	select {
	case p.reply <- a:
	default:
	}
}

// setPortsLocked replaces the switch's ports with those of a PORT_DESC
// reply. s.mu is held.
func (s *Switch) setPortsLocked(parts []*ofp.MultipartReply) {
	ports := map[uint32]ofp.Port{}
	for _, p := range parts {
		if pd, ok := p.Body.(*ofp.PortDescReply); ok {
			for _, port := range pd.Ports {
				ports[port.PortNo] = port
			}
		}
	}
	s.ports = ports
}

// controlQueue bounds the control events waiting for the event loop. A
// switch that gets that far ahead is disconnected: when it reconnects, its
// whole state is read and synced again, so nothing is lost.
const controlQueue = 1024

// queueEvent queues an event that must not be lost. It never blocks: the
// reader must stay free to deliver the replies the event loop may be
// waiting for.
func (s *Switch) queueEvent(e event) {
	select {
	case s.control <- e:
	default:
		s.close(fmt.Errorf("%d control events queued and not yet handled", controlQueue))
	}
}

// eventLoop runs app callbacks and resyncs one at a time, off the reader,
// so an app may make requests to the switch from its callbacks. Control
// events go before packet-ins.
func (s *Switch) eventLoop() {
	if s.after != nil {
		select {
		case <-s.after:
		case <-s.done:
			return
		}
	}
	for {
		select {
		case <-s.done:
			return
		case e := <-s.control:
			s.ctl.dispatch(s, e)
			continue
		default:
		}
		select {
		case <-s.done:
			return
		case e := <-s.control:
			s.ctl.dispatch(s, e)
		case req := <-s.ho.pause:
			s.paused(req)
		case <-s.resync:
			s.syncAndLog()
		case e := <-s.events:
			s.ctl.dispatch(s, e)
		}
	}
}

// syncRetry is how long a failed sync waits before it is tried again.
const syncRetry = 2 * time.Second

func (s *Switch) syncAndLog() {
	ctx, cancel := context.WithTimeout(context.Background(), s.ctl.cfg.RequestTimeout*4)
	defer cancel()
	s.recordDesired()
	st, err := s.Sync(ctx)
	if err != nil {
		s.ctl.metrics.syncErrors.Inc()
		s.log.WithError(err).WithField("retry_in", syncRetry).Error("flow sync failed")
		// The switch's table is not what the apps want: try again. After
		// the session ends the resync request is simply never read.
		time.AfterFunc(syncRetry, s.Resync)
		return
	}
	if st.ReadOnly || !s.MayWrite() {
		// A slave reads and compares, ready to take over; what it would
		// change goes to debug level (it changes at every master's sync).
		s.ops.flows.Store(int64(st.Kept + st.Deleted))
		s.log.WithFields(logrus.Fields{"differ_add": st.Added, "differ_delete": st.Deleted, "kept": st.Kept}).Debug("flows compared (not master: nothing written)")
		return
	}
	s.ops.flows.Store(int64(st.Added + st.Kept))
	s.log.WithFields(logrus.Fields{"added": st.Added, "deleted": st.Deleted, "kept": st.Kept, "group_mods": st.Groups, "meter_mods": st.Meters}).Info("flows synced")
}
