package controller

import (
	"bufio"
	"context"
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
	out chan []byte // encoded messages for the writer

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

	done      chan struct{}
	closeOnce sync.Once
	closeErr  error

	ops switchOps // counters and state for operators (ops.go)
}

// pending is a request waiting for its reply, or a message whose only
// possible answer is an error.
type pending struct {
	reply chan ofp.Message // buffered, receives one message
	parts []*ofp.MultipartReply
	total int // bytes accumulated from multipart parts, bounded
}

type eventKind uint8

const (
	eventUp eventKind = iota
	eventPacketIn
	eventPortStatus
	eventFlowRemoved
)

type event struct {
	kind eventKind
	msg  ofp.Message
}

func newSwitch(c *Controller, conn net.Conn) *Switch {
	s := &Switch{
		ctl:     c,
		conn:    conn,
		log:     c.log.WithField("remote", conn.RemoteAddr().String()),
		out:     make(chan []byte, 1024),
		ports:   map[uint32]ofp.Port{},
		pending: map[uint32]*pending{},
		events:  make(chan event, c.cfg.EventQueue),
		control: make(chan event, controlQueue),
		resync:  make(chan struct{}, 1),
		done:    make(chan struct{}),
	}
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
// them are logged; use Apply to get them back.
func (s *Switch) Send(ctx context.Context, msgs ...ofp.Message) error {
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

func (s *Switch) enqueue(ctx context.Context, b []byte) error {
	select {
	case s.out <- b:
		return nil
	case <-s.done:
		return fmt.Errorf("switch %s: %w", s, ErrSwitchClosed)
	case <-ctx.Done():
		return fmt.Errorf("switch %s: queue message: %w", s, ctx.Err())
	}
}

func (s *Switch) register(xid uint32) *pending {
	p := &pending{reply: make(chan ofp.Message, 1)}
	s.mu.Lock()
	s.pending[xid] = p
	s.mu.Unlock()
	return p
}

func (s *Switch) unregister(xid uint32) {
	s.mu.Lock()
	delete(s.pending, xid)
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
	m.SetXID(s.nextXID())
	p := s.register(m.XID())
	defer s.unregister(m.XID())
	if err := s.Send(ctx, m); err != nil {
		return nil, nil, err
	}
	select {
	case r := <-p.reply:
		if e, ok := r.(*ofp.ErrorMsg); ok {
			return nil, nil, fmt.Errorf("switch %s: %s: %w", s, what, e)
		}
		return r, p, nil
	case <-s.done:
		return nil, nil, fmt.Errorf("switch %s: %s: %w", s, what, ErrSwitchClosed)
	case <-ctx.Done():
		return nil, nil, fmt.Errorf("switch %s: %s: %w", s, what, ctx.Err())
	}
}

// Multipart sends a multipart request and returns every part of the reply,
// following REPLY_MORE until the last one.
func (s *Switch) Multipart(ctx context.Context, m *ofp.MultipartRequest) ([]*ofp.MultipartReply, error) {
	_, p, err := s.roundTrip(ctx, m, "multipart "+m.MPType.String())
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return p.parts, nil
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
		ps[i] = s.register(m.XID())
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
			if e, ok := r.(*ofp.ErrorMsg); ok {
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
		case b := <-s.out:
			s.conn.SetWriteDeadline(time.Now().Add(s.ctl.cfg.WriteTimeout))
			if _, err := w.Write(b); err != nil {
				s.close(fmt.Errorf("write: %w", err))
				return
			}
			if len(s.out) == 0 {
				if err := w.Flush(); err != nil {
					s.close(fmt.Errorf("write: %w", err))
					return
				}
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
	for {
		s.conn.SetReadDeadline(time.Now().Add(s.ctl.cfg.EchoTimeout))
		b, err := r.ReadRaw()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				err = fmt.Errorf("no message for %v: echo timeout", s.ctl.cfg.EchoTimeout)
			}
			s.close(err)
			return
		}
		m, err := ofp.Decode(b)
		if err != nil {
			s.ctl.metrics.decodeErrors.Inc()
			s.close(fmt.Errorf("bad message: %w", err))
			return
		}
		s.ctl.metrics.messagesIn.WithLabelValues(m.Type().String()).Inc()
		s.ops.received(time.Now())
		s.handle(m)
	}
}

func (s *Switch) handle(m ofp.Message) {
	switch m := m.(type) {
	case *ofp.EchoRequest:
		rep := &ofp.EchoReply{Data: m.Data}
		rep.SetXID(m.XID())
		s.Send(context.Background(), rep)
	case *ofp.EchoReply, *ofp.Hello:
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
	case *ofp.MultipartReply:
		s.mu.Lock()
		p := s.pending[m.XID()]
		if p != nil {
			p.parts = append(p.parts, m)
			p.total += m.Len()
			if p.total > s.ctl.cfg.MaxMultipartBytes {
				s.mu.Unlock()
				s.close(fmt.Errorf("multipart reply (xid %d) exceeds %d bytes", m.XID(), s.ctl.cfg.MaxMultipartBytes))
				return
			}
		}
		s.mu.Unlock()
		if p != nil && !m.More() {
			select {
			case p.reply <- m:
			default:
			}
		}
	default:
		if _, ok := m.(*ofp.ErrorMsg); ok {
			s.ops.errors.Add(1)
		}
		s.mu.Lock()
		p := s.pending[m.XID()]
		s.mu.Unlock()
		if p != nil {
			select {
			case p.reply <- m:
			default:
			}
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
	st, err := s.SyncFlows(ctx)
	if err != nil {
		s.ctl.metrics.syncErrors.Inc()
		s.log.WithError(err).WithField("retry_in", syncRetry).Error("flow sync failed")
		// The switch's table is not what the apps want: try again. After
		// the session ends the resync request is simply never read.
		time.AfterFunc(syncRetry, s.Resync)
		return
	}
	s.ops.flows.Store(int64(st.Added + st.Kept))
	s.log.WithFields(logrus.Fields{"added": st.Added, "deleted": st.Deleted, "kept": st.Kept, "group_mods": st.Groups}).Info("flows synced")
}
