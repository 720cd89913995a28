package controller

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sixgate/sixgate/controller/ofp"
)

// A hand-over moves the switch sessions to a new process (an upgrade)
// without the switches noticing: the running process stops each session at
// a message boundary (its event loop between two events, its writer
// flushed, its reader between two messages) and hands over the TCP
// connection's descriptor with the bytes it had read but not handled (the
// packet-ins and other events queued, the message part way read, what its
// buffer holds). The new process goes on with the connection from
// FEATURES_REQUEST, as after a HELLO, and its apps see the switch come up
// and sync it (finding its flows right). A failed hand-over resumes the
// session where it stopped. TLS sessions cannot move (their keys are in
// this process): their switches reconnect.

// sessionHandover is a session's state for a hand-over.
type sessionHandover struct {
	// pause asks the event loop to stop between two events.
	pause chan pauseRequest
	// mu and held keep messages out of the writer's queue.
	mu   sync.RWMutex
	held bool
	// stop asks the reader to return at a message boundary; stopped is
	// closed when it did.
	stop     atomic.Bool
	stopOnce sync.Once
	stopped  chan struct{}
	// br and r are the reader's buffer and framer; pre, in a session
	// taken over, holds what the previous process had not handled, read
	// through br before the connection.
	br  *bufio.Reader
	r   *ofp.Reader
	pre *bytes.Reader
}

type pauseRequest struct {
	paused chan struct{} // closed by the event loop once paused
	resume chan struct{} // closed to let it go on
}

// readerStops tells the reader whether to return, and says it did.
func (h *sessionHandover) readerStops() bool {
	if !h.stop.Load() {
		return false
	}
	h.stopOnce.Do(func() { close(h.stopped) })
	return true
}

// handedOver says whether the session is stopped for a hand-over (and not
// resumed): its end in this process is not the switch's.
func (h *sessionHandover) handedOver() bool {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.held
}

// paused holds the event loop until the hand-over ends.
func (s *Switch) paused(req pauseRequest) {
	close(req.paused)
	select {
	case <-req.resume:
	case <-s.done:
	}
}

// SessionState is what a new process needs, besides the descriptor, to go
// on with a switch session.
type SessionState struct {
	DPID uint64 `json:"dpid"`
	// Unread are the bytes the switch sent that this process did not
	// handle, in stream order: events it had queued (re-encoded), then
	// what it had read of the stream.
	Unread []byte `json:"unread"`
	XID    uint32 `json:"xid"`
}

// maxUnread bounds the bytes a session state carries: the event queues
// and the read buffer.
const maxUnread = 64 << 20

// DetachedSession is a session stopped for a hand-over.
type DetachedSession struct {
	State SessionState
	// File is a duplicate of the connection's descriptor.
	File *os.File
	s    *Switch
	req  pauseRequest
	back []event // events taken from the queues, for Resume
}

// DetachSessions stops every session at a message boundary for a
// hand-over and returns their state. Sessions that cannot move (TLS, or
// not stopped before ctx ends) are resumed at once and left out: their
// switches will reconnect. Call ResumeSessions if the hand-over fails.
func (c *Controller) DetachSessions(ctx context.Context) []*DetachedSession {
	var out []*DetachedSession
	for _, s := range c.Switches() {
		d, err := s.detach(ctx)
		if err != nil {
			s.log.WithError(err).Warn("session not handed over: the switch will reconnect")
			continue
		}
		out = append(out, d)
	}
	return out
}

// Close closes the duplicate descriptor, once the new process has its own.
func (d *DetachedSession) Close() {
	if d.File != nil {
		d.File.Close()
	}
}

// ResumeSessions lets detached sessions go on after a failed hand-over.
func (c *Controller) ResumeSessions(ds []*DetachedSession) {
	for _, d := range ds {
		d.resume()
	}
}

func (s *Switch) detach(ctx context.Context) (*DetachedSession, error) {
	tc, ok := s.conn.(*net.TCPConn)
	if !ok {
		return nil, errors.New("not a plain TCP session")
	}
	if s.ho.br == nil {
		return nil, errors.New("session not read through a buffer")
	}
	d := &DetachedSession{s: s, req: pauseRequest{paused: make(chan struct{}), resume: make(chan struct{})}}
	// The event loop first, so that no app is in the middle of a
	// request when the reader stops.
	select {
	case s.ho.pause <- d.req:
	case <-s.done:
		return nil, ErrSwitchClosed
	case <-ctx.Done():
		return nil, fmt.Errorf("event loop busy: %w", ctx.Err())
	}
	<-d.req.paused
	fail := func(err error) (*DetachedSession, error) {
		d.resume()
		return nil, err
	}
	// The writer: nothing more enters its queue, and what is in it
	// leaves.
	s.ho.mu.Lock()
	s.ho.held = true
	s.ho.mu.Unlock()
	written := make(chan struct{})
	select {
	case s.out <- outMsg{written: written}:
	case <-s.done:
		return fail(ErrSwitchClosed)
	case <-ctx.Done():
		return fail(ctx.Err())
	}
	select {
	case <-written:
	case <-s.done:
		return fail(ErrSwitchClosed)
	case <-ctx.Done():
		return fail(ctx.Err())
	}
	// The reader, between two messages (or part way through one, which
	// it keeps).
	s.ho.stopped = make(chan struct{})
	s.ho.stopOnce = sync.Once{}
	s.ho.stop.Store(true)
	s.conn.SetReadDeadline(time.Now())
	select {
	case <-s.ho.stopped:
	case <-s.done:
		return fail(ErrSwitchClosed)
	case <-ctx.Done():
		return fail(ctx.Err())
	}
	var unread bytes.Buffer
	for _, q := range []chan event{s.control, s.events} {
	drain:
		for {
			select {
			case e := <-q:
				d.back = append(d.back, e)
			default:
				break drain
			}
		}
	}
	for _, e := range d.back {
		if e.alive != nil || e.msg == nil {
			continue // a liveness probe, the switch's up event: the new process has its own
		}
		b, err := ofp.Marshal(e.msg)
		if err != nil {
			return fail(err)
		}
		unread.Write(b)
	}
	unread.Write(s.ho.r.Partial())
	buffered, _ := s.ho.br.Peek(s.ho.br.Buffered())
	unread.Write(buffered)
	if s.ho.pre != nil {
		rest := make([]byte, s.ho.pre.Len())
		s.ho.pre.ReadAt(rest, s.ho.pre.Size()-int64(len(rest)))
		unread.Write(rest)
	}
	if unread.Len() > maxUnread {
		return fail(fmt.Errorf("%d bytes unread", unread.Len()))
	}
	f, err := tc.File()
	if err != nil {
		return fail(err)
	}
	d.File = f
	d.State = SessionState{DPID: s.dpid, Unread: unread.Bytes(), XID: s.xid.Load()}
	return d, nil
}

// resume lets a detached session go on: its reader from where it stopped,
// its queued events, its writer and its event loop.
func (d *DetachedSession) resume() {
	s := d.s
	if d.File != nil {
		d.File.Close()
		d.File = nil
	}
	s.ho.mu.Lock()
	s.ho.held = false
	s.ho.mu.Unlock()
	if s.ho.stop.Swap(false) {
		go s.readLoop(s.ho.r)
	}
	for _, e := range d.back {
		q := s.events
		if e.kind != eventPacketIn {
			q = s.control
		}
		select {
		case q <- e:
		default:
		}
	}
	d.back = nil
	select {
	case <-d.req.resume:
	default:
		close(d.req.resume)
	}
}

// MarshalBinary encodes the state (JSON).
func (st SessionState) MarshalBinary() ([]byte, error) { return json.Marshal(st) }

// UnmarshalBinary decodes a state MarshalBinary encoded.
func (st *SessionState) UnmarshalBinary(b []byte) error {
	if len(b) > 2*maxUnread {
		return errors.New("session state too large")
	}
	var v SessionState
	if err := json.Unmarshal(b, &v); err != nil {
		return fmt.Errorf("session state: %w", err)
	}
	if len(v.Unread) > maxUnread {
		return errors.New("session state: too many unread bytes")
	}
	*st = v
	return nil
}

// adopted is a session handed over by a previous process, waiting for
// Serve.
type adopted struct {
	conn net.Conn
	st   SessionState
}

// AdoptSession takes a switch session a previous process handed over; it
// owns f from then on. Serve goes on with it, before it accepts new
// connections.
func (c *Controller) AdoptSession(f *os.File, st SessionState) error {
	defer f.Close()
	conn, err := net.FileConn(f)
	if err != nil {
		return fmt.Errorf("adopt session of %s: %w", FormatDPID(st.DPID), err)
	}
	if _, ok := conn.(*net.TCPConn); !ok {
		conn.Close()
		return fmt.Errorf("adopt session of %s: not a TCP connection", FormatDPID(st.DPID))
	}
	c.mu.Lock()
	c.adopted = append(c.adopted, adopted{conn: conn, st: st})
	c.mu.Unlock()
	return nil
}

// startAdopted goes on with the adopted sessions, from FEATURES_REQUEST.
func (c *Controller) startAdopted(ctx context.Context) {
	c.mu.Lock()
	list := c.adopted
	c.adopted = nil
	c.mu.Unlock()
	for _, a := range list {
		s := newSwitch(c, a.conn)
		s.xid.Store(a.st.XID + 0x10000) // clear of the old process's requests
		c.metrics.connections.Inc()
		s.ho.pre = bytes.NewReader(a.st.Unread)
		s.ho.br = bufio.NewReaderSize(io.MultiReader(s.ho.pre, a.conn), 64<<10)
		r := ofp.NewReader(s.ho.br)
		s.log.WithField("dpid", FormatDPID(a.st.DPID)).WithField("unread_bytes", len(a.st.Unread)).Info("switch session taken over from the previous process")
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			deadline := time.Now().Add(c.cfg.HandshakeTimeout)
			s.conn.SetDeadline(deadline)
			c.runSession(s, s.negotiate(ctx, r, deadline))
		}()
	}
}
