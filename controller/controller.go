package controller

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"

	"github.com/sixgate/sixgate/controller/ofp"
)

// Config configures a Controller. Zero durations and sizes take defaults.
type Config struct {
	// Listen is "tcp:ADDR:PORT" or "tls:ADDR:PORT" (also "ssl:", as Open
	// vSwitch spells it). The default is "tcp:0.0.0.0:6653".
	Listen string
	// TLS is required for a tls: listener; set ClientAuth and ClientCAs
	// in it for mutual authentication.
	TLS *tls.Config
	// EchoInterval is how long a switch may be idle (nothing received
	// from it) before it is sent an ECHO_REQUEST.
	EchoInterval time.Duration
	// EchoTimeout is how long a switch may stay silent (no message at
	// all, echo replies included), counted from the last message
	// received, before it is disconnected; it should be a few
	// EchoIntervals.
	EchoTimeout time.Duration
	// HandshakeTimeout bounds HELLO, FEATURES and the first PORT_DESC.
	HandshakeTimeout time.Duration
	// TakeoverProbeTimeout is how long a live session of a datapath has
	// to answer an echo when another connection claims the same datapath
	// id: if it answers, the newcomer is refused; otherwise it is
	// replaced. Default 2 s.
	TakeoverProbeTimeout time.Duration
	// SwitchSubjects binds datapath ids to the common name (CN) of the
	// certificate their switch must present over mutual TLS: a switch
	// claiming a bound datapath id with another certificate (or none),
	// or presenting a bound certificate for another datapath id, is
	// refused. Datapath ids not in it are not checked. See also
	// SetSwitchSubjects.
	SwitchSubjects map[uint64]string
	// RequestTimeout bounds each request the core makes on its own.
	RequestTimeout time.Duration
	// WriteTimeout bounds one write to a switch.
	WriteTimeout time.Duration
	// EventQueue is the number of events queued per switch; packet-ins
	// beyond it are dropped and counted.
	EventQueue int
	// MaxMultipartBytes bounds the sum of the parts of one multipart reply
	// (default 16 MiB); MaxMultipartTotal bounds that sum over every reply
	// in progress, all switches together (default 64 MiB). A reply that
	// exceeds either is aborted: the request fails, the session goes on
	// (during the handshake it ends).
	MaxMultipartBytes int
	MaxMultipartTotal int
	// MaxHandshakes bounds the connections in handshake (accepted, not
	// yet a registered switch) at once; MaxHandshakesPerSource bounds them
	// per remote IP address. Connections beyond either are closed at once
	// and counted.
	MaxHandshakes          int
	MaxHandshakesPerSource int
	// PacketInRate bounds the packet-ins per second from each switch (0:
	// no bound). Switches with meters get an OFPM_CONTROLLER meter that
	// drops the excess before it is sent; the controller also drops, and
	// counts, what exceeds it on arrival.
	PacketInRate int
	// PacketInBurst is the burst allowed above PacketInRate (default a
	// tenth of a second's worth).
	PacketInBurst int
	// StatsInterval is how often each switch is asked for PORT_STATS;
	// 0 (unlike the other durations) means never.
	StatsInterval time.Duration
	// HA makes the controller one of several connected to every switch:
	// each session asks to be a slave right after FEATURES and nothing is
	// written (flows, groups, meters, packet-outs) until SetRole makes the
	// controller master and the switch confirms it. Without it the
	// controller keeps the switch's default role (equal) and writes.
	HA   bool
	Apps []App
	Log  *logrus.Entry
	// Registerer receives the controller's metrics; nil keeps them private.
	Registerer prometheus.Registerer
}

func (c *Config) setDefaults() {
	if c.Listen == "" {
		c.Listen = "tcp:0.0.0.0:6653"
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.EchoInterval, 5*time.Second)
	def(&c.EchoTimeout, 15*time.Second)
	def(&c.HandshakeTimeout, 10*time.Second)
	def(&c.RequestTimeout, 10*time.Second)
	def(&c.TakeoverProbeTimeout, 2*time.Second)
	def(&c.WriteTimeout, 10*time.Second)
	if c.EventQueue <= 0 {
		c.EventQueue = 1024
	}
	if c.MaxHandshakes <= 0 {
		c.MaxHandshakes = 256
	}
	if c.MaxHandshakesPerSource <= 0 {
		c.MaxHandshakesPerSource = 16
	}
	if c.MaxMultipartBytes <= 0 {
		c.MaxMultipartBytes = 16 << 20
	}
	if c.MaxMultipartTotal <= 0 {
		c.MaxMultipartTotal = 64 << 20
	}
	if c.Log == nil {
		c.Log = logrus.NewEntry(logrus.StandardLogger())
	}
	if c.Registerer == nil {
		c.Registerer = prometheus.NewRegistry()
	}
}

// Controller accepts switches and runs the apps.
type Controller struct {
	cfg     Config
	log     *logrus.Entry
	metrics *metrics
	byID    map[uint8]App

	mu       sync.Mutex
	switches map[uint64]*Switch
	// last is, by datapath id, the last session registered whose
	// SwitchDown has not yet been delivered: a new session of the same
	// datapath delivers its SwitchUp after it.
	last map[uint64]*Switch

	// handshakes counts the connections in handshake, in all and by
	// remote address.
	hsMu       sync.Mutex
	handshakes int
	hsBySource map[netip.Addr]int

	// refusedLog, failedLog and deniedLog rate-limit the warnings for
	// connections refused at accept, failed handshakes and switches
	// refused at the end of their handshake.
	refusedLog, failedLog, deniedLog everyLog

	subjects atomic.Pointer[subjects]

	reclaim reclaimer

	// multipartBytes is what the multipart replies in progress hold.
	multipartBytes atomic.Int64

	ops controllerOps // declared switches, serving (ops.go)
	// conflicts holds, by switch and flow, the flow conflicts between
	// apps already logged and counted.
	conflictsMu sync.Mutex
	conflicts   map[string]bool

	// role is what SetRole last asked for (Config.HA).
	role atomic.Pointer[Role]

	// listening is closed once Serve has started the apps and accepts
	// switches.
	listening     chan struct{}
	listeningOnce sync.Once
	// adopted are the sessions a previous process handed over, for
	// Serve (handover.go); guarded by mu.
	adopted []adopted

	wg sync.WaitGroup
}

// New checks the configuration and the apps' cookie ids.
func New(cfg Config) (*Controller, error) {
	cfg.setDefaults()
	c := &Controller{
		cfg:        cfg,
		log:        cfg.Log,
		byID:       map[uint8]App{},
		switches:   map[uint64]*Switch{},
		last:       map[uint64]*Switch{},
		hsBySource: map[netip.Addr]int{},
		conflicts:  map[string]bool{},
		listening:  make(chan struct{}),
	}
	for _, a := range cfg.Apps {
		id := a.CookieID()
		if id == 0 || id == 0xff {
			// 0 is everybody's default cookie and all ones is what a
			// switch reports for packet-ins that no flow sent.
			return nil, fmt.Errorf("app %s: cookie id %d is reserved", a.Name(), id)
		}
		if o, dup := c.byID[id]; dup {
			return nil, fmt.Errorf("app %s: cookie id %d already used by app %s", a.Name(), id, o.Name())
		}
		c.byID[id] = a
	}
	c.role.Store(&Role{Role: ofp.RoleSlave})
	c.SetSwitchSubjects(cfg.SwitchSubjects)
	m, err := newMetrics(cfg.Registerer, c)
	if err != nil {
		return nil, err
	}
	c.metrics = m
	return c, nil
}

// Listen opens the configured listener.
func (c *Controller) Listen() (net.Listener, error) {
	proto, addr, ok := strings.Cut(c.cfg.Listen, ":")
	if !ok {
		return nil, fmt.Errorf("listen %q: want tcp:ADDR:PORT or tls:ADDR:PORT", c.cfg.Listen)
	}
	switch proto {
	case "tcp":
		return net.Listen("tcp", addr)
	case "tls", "ssl":
		if c.cfg.TLS == nil {
			return nil, fmt.Errorf("listen %q: TLS listener without a TLS configuration", c.cfg.Listen)
		}
		return tls.Listen("tcp", addr, c.cfg.TLS)
	}
	return nil, fmt.Errorf("listen %q: unknown protocol %q", c.cfg.Listen, proto)
}

// Serve starts the apps, then accepts switches on l until ctx is done; it
// then closes every session and waits for them.
func (c *Controller) Serve(ctx context.Context, l net.Listener) error {
	for _, a := range c.cfg.Apps {
		if st, ok := a.(Starter); ok {
			if err := st.Start(ctx, c); err != nil {
				return fmt.Errorf("app %s: start: %w", a.Name(), err)
			}
		}
	}
	c.log.WithField("listen", l.Addr().String()).Info("controller listening")
	go c.reclaimLoop(ctx)
	c.ops.serving.Store(true)
	defer c.ops.serving.Store(false)
	c.listeningOnce.Do(func() { close(c.listening) })
	c.startAdopted(ctx)
	stop := context.AfterFunc(ctx, func() { l.Close() })
	defer stop()
	var err error
	var backoff time.Duration
	for {
		conn, aerr := l.Accept()
		if aerr != nil {
			if ctx.Err() != nil {
				break
			}
			if !temporaryAcceptError(aerr) {
				err = fmt.Errorf("accept: %w", aerr)
				break
			}
			// Out of descriptors or memory, or a connection reset
			// before it was accepted: keep serving the switches we
			// have and try again, backing off as net/http does.
			c.metrics.acceptErrors.Inc()
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			c.log.WithError(aerr).WithField("retry_in", backoff).Warn("accept failed; retrying")
			select {
			case <-time.After(backoff):
			case <-ctx.Done():
			}
			continue
		}
		backoff = 0
		src := remoteIP(conn)
		if reason := c.admit(src); reason != "" {
			c.metrics.refused.WithLabelValues(reason).Inc()
			c.refusedLog.log(c.log.WithFields(logrus.Fields{"remote": conn.RemoteAddr().String(), "reason": reason}),
				"connection refused: too many connections in handshake")
			conn.Close()
			continue
		}
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			c.serveConn(ctx, conn, src)
		}()
	}
	c.mu.Lock()
	for _, s := range c.switches {
		s.close(errors.New("controller stopping"))
	}
	c.mu.Unlock()
	c.wg.Wait()
	return err
}

// Switch returns a connected switch by datapath id.
func (c *Controller) Switch(dpid uint64) (*Switch, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, ok := c.switches[dpid]
	return s, ok
}

// Switches returns the connected switches sorted by datapath id.
func (c *Controller) Switches() []*Switch {
	c.mu.Lock()
	ss := make([]*Switch, 0, len(c.switches))
	for _, s := range c.switches {
		ss = append(ss, s)
	}
	c.mu.Unlock()
	sort.Slice(ss, func(i, j int) bool { return ss[i].dpid < ss[j].dpid })
	return ss
}

// ResyncAll asks every connected switch to reconcile its flows.
func (c *Controller) ResyncAll() {
	for _, s := range c.Switches() {
		s.Resync()
	}
}

// temporaryAcceptError tells the accept errors that say nothing about the
// listener itself: descriptor or memory exhaustion, a connection aborted
// before it was accepted, a timeout.
func temporaryAcceptError(err error) bool {
	for _, e := range []syscall.Errno{syscall.EMFILE, syscall.ENFILE, syscall.ECONNABORTED,
		syscall.ENOBUFS, syscall.ENOMEM, syscall.ECONNRESET, syscall.EINTR, syscall.EAGAIN} {
		if errors.Is(err, e) {
			return true
		}
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func remoteIP(conn net.Conn) netip.Addr {
	if ta, ok := conn.RemoteAddr().(*net.TCPAddr); ok {
		a, _ := netip.AddrFromSlice(ta.IP)
		return a.Unmap()
	}
	ap, _ := netip.ParseAddrPort(conn.RemoteAddr().String())
	return ap.Addr()
}

// admit takes a handshake slot for a connection from src, or says which
// bound refuses it.
func (c *Controller) admit(src netip.Addr) string {
	c.hsMu.Lock()
	defer c.hsMu.Unlock()
	switch {
	case c.handshakes >= c.cfg.MaxHandshakes:
		return "handshakes"
	case c.hsBySource[src] >= c.cfg.MaxHandshakesPerSource:
		return "handshakes_per_source"
	}
	c.handshakes++
	c.hsBySource[src]++
	c.reclaim.raise(c.multipartBytes.Load() + int64(c.handshakes)*handshakeBytes)
	return ""
}

// release gives back the handshake slot admit took.
func (c *Controller) release(src netip.Addr) {
	c.hsMu.Lock()
	defer c.hsMu.Unlock()
	c.handshakes--
	if c.hsBySource[src]--; c.hsBySource[src] <= 0 {
		delete(c.hsBySource, src)
	}
}

// inHandshake is the number of connections holding a handshake slot.
func (c *Controller) inHandshake() int {
	c.hsMu.Lock()
	defer c.hsMu.Unlock()
	return c.handshakes
}

// multipartReserve takes n bytes of the multipart budget if they are left.
func (c *Controller) multipartReserve(n int) bool {
	if c.multipartBytes.Add(int64(n)) > int64(c.cfg.MaxMultipartTotal) {
		c.multipartBytes.Add(-int64(n))
		return false
	}
	c.notePressure()
	return true
}

// multipartRelease gives n bytes back to the multipart budget.
func (c *Controller) multipartRelease(n int) { c.multipartBytes.Add(-int64(n)) }

// handshakeMultipartBytes bounds the replies the handshake asks for (port
// descriptions, meter features): 1 MiB is some 16000 ports.
const handshakeMultipartBytes = 1 << 20

// everyLog logs a kind of event at warning level at most once every 10
// s, saying how many it skipped; the skipped ones go to debug level. A
// flood of hostile connections then costs a line per 10 s, not one each.
type everyLog struct {
	mu      sync.Mutex
	last    time.Time
	skipped int
}

func (e *everyLog) log(l *logrus.Entry, msg string) {
	e.mu.Lock()
	now := time.Now()
	if now.Sub(e.last) < 10*time.Second {
		e.skipped++
		e.mu.Unlock()
		l.Debug(msg)
		return
	}
	skipped := e.skipped
	e.last, e.skipped = now, 0
	e.mu.Unlock()
	if skipped > 0 {
		l = l.WithField("like_this_not_logged", skipped)
	}
	l.Warn(msg)
}

func (c *Controller) serveConn(ctx context.Context, conn net.Conn, src netip.Addr) {
	s := newSwitch(c, conn)
	c.metrics.connections.Inc()
	s.ho.br = bufio.NewReaderSize(conn, 64<<10)
	r := ofp.NewReader(s.ho.br)
	err := s.handshake(ctx, r)
	c.release(src)
	c.runSession(s, err)
}

// runSession follows a session from the end of its handshake to its end.
func (c *Controller) runSession(s *Switch, err error) {
	var ref *refusal
	if errors.As(err, &ref) {
		c.metrics.refused.WithLabelValues(ref.reason).Inc()
		s.close(err)
		c.deniedLog.log(s.log.WithFields(ref.fields).WithError(err), "switch refused; disconnected")
		return
	}
	if err != nil {
		c.metrics.handshakeFailures.Inc()
		s.close(err)
		c.failedLog.log(s.log.WithError(err), "switch handshake failed; disconnected")
		return
	}
	<-s.done
	c.mu.Lock()
	if c.switches[s.dpid] == s {
		delete(c.switches, s.dpid)
	}
	c.mu.Unlock()
	if s.ho.handedOver() {
		s.log.Info("switch session handed over to the new process")
	} else {
		s.log.WithError(s.closeErr).Warn("switch disconnected")
	}
	for _, a := range c.cfg.Apps {
		if h, ok := a.(SwitchHandler); ok {
			h.SwitchDown(s)
		}
	}
	c.mu.Lock()
	if c.last[s.dpid] == s {
		delete(c.last, s.dpid)
	}
	c.mu.Unlock()
	close(s.downDone)
}

// handshake negotiates the version, learns the datapath id and ports, sets
// the switch configuration and starts the session's goroutines.
func (s *Switch) handshake(ctx context.Context, r *ofp.Reader) error {
	cfg := s.ctl.cfg
	deadline := time.Now().Add(cfg.HandshakeTimeout)
	s.conn.SetDeadline(deadline)
	if err := s.hello(r); err != nil {
		return err
	}
	return s.negotiate(ctx, r, deadline)
}

// hello exchanges HELLO messages and checks the version.
func (s *Switch) hello(r *ofp.Reader) error {
	hello, err := ofp.Marshal(ofp.NewHello())
	if err != nil {
		return err
	}
	if _, err := s.conn.Write(hello); err != nil {
		return fmt.Errorf("send HELLO: %w", err)
	}
	m, err := r.ReadMessage()
	if err != nil {
		return fmt.Errorf("read HELLO: %w", err)
	}
	h, ok := m.(*ofp.Hello)
	if !ok {
		return fmt.Errorf("first message is %s, want HELLO", m.Type())
	}
	if !h.Supports(ofp.Version) {
		e := &ofp.ErrorMsg{ErrType: ofp.ErrHelloFailed, Code: ofp.HelloFailedIncompatible,
			Data: []byte("sixgate supports OpenFlow 1.3 (version 0x04) only")}
		e.SetXID(h.XID())
		if eb, err := ofp.Marshal(e); err == nil {
			s.conn.Write(eb)
		}
		return fmt.Errorf("switch offers version 0x%02x without 1.3: HELLO_FAILED sent", h.Version)
	}
	return nil
}

// negotiate learns the datapath id and ports of a switch that speaks 1.3,
// sets its configuration and starts the session's goroutines. A session
// taken over from another process starts here: its HELLO was exchanged.
func (s *Switch) negotiate(ctx context.Context, r *ofp.Reader, deadline time.Time) error {
	cfg := s.ctl.cfg
	// The writer touches nothing the handshake sets below, so it may
	// start; the reader and the echo loop read the datapath id, the
	// features and the log, so they start once those are known. Until
	// then the messages the switch sends before its FEATURES_REPLY (echo
	// requests, port status, packet-ins) are handled here.
	go s.writeLoop()
	hctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	freq := &ofp.FeaturesRequest{}
	freq.SetXID(s.nextXID())
	if err := s.Send(hctx, freq); err != nil {
		return err
	}
	for {
		m, err := s.next(r)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				err = fmt.Errorf("no FEATURES_REPLY within %v", cfg.HandshakeTimeout)
			}
			return err
		}
		if fr, ok := m.(*ofp.FeaturesReply); ok && fr.XID() == freq.XID() {
			s.features = *fr
			break
		}
		if e, ok := m.(*ofp.ErrorMsg); ok && e.XID() == freq.XID() {
			return fmt.Errorf("FEATURES_REQUEST: %w", e)
		}
		if m != nil {
			s.handle(m)
		}
	}
	s.dpid = s.features.DatapathID
	s.log = s.log.WithField("dpid", FormatDPID(s.dpid))
	if err := s.ctl.checkSubject(s); err != nil {
		return err
	}
	s.conn.SetReadDeadline(time.Time{})
	go s.readLoop(r)
	go s.echoLoop()
	if cfg.HA {
		// Slave (or master, if elected already) before anything else:
		// nothing this session sends may change the switch until the
		// switch has confirmed it as master.
		if err := s.applyRole(hctx, false); err != nil {
			return fmt.Errorf("role request: %w", err)
		}
		go s.roleLoop()
	}

	set := &ofp.SetConfig{SwitchConfig: ofp.SwitchConfig{Flags: ofp.ConfigFragNormal, MissSendLen: ofp.MaxLenNoBuffer}}
	if err := s.Send(hctx, set); err != nil {
		return err
	}
	// The reader sets the ports from the reply in stream order: a
	// PORT_STATUS read before the reply was sent before the switch
	// answered and is older than it; one read after it is newer.
	if _, err := s.multipart(hctx, &ofp.MultipartRequest{MPType: ofp.MultipartPortDesc}, func(p *pending) {
		p.portDesc = true
		p.limit = min(p.limit, handshakeMultipartBytes)
	}); err != nil {
		return err
	}

	if cfg.PacketInRate > 0 && s.MayWrite() {
		metered, err := s.installPacketInMeter(hctx)
		if err != nil {
			s.log.WithError(err).Warn("switch refused the packet-in meter; limiting packet-ins on arrival only")
		}
		s.log.WithFields(logrus.Fields{"rate": cfg.PacketInRate, "switch_meter": metered}).Info("packet-in rate limited")
	}

	if err := s.ctl.register(hctx, s); err != nil {
		return err
	}
	if cfg.HA {
		// SetRole reaches registered switches only: apply a change made
		// during the handshake (a no-op request otherwise).
		s.kickRole()
	}
	s.log.WithFields(logrus.Fields{"ports": len(s.Ports()), "tables": s.features.NTables}).Info("switch connected")
	go s.eventLoop()
	s.queueEvent(event{kind: eventUp})
	return nil
}

// refusal is a handshake that ended because the controller refused the
// switch, not because it failed.
type refusal struct {
	reason string // the label of sixgate_of_connections_refused_total
	fields logrus.Fields
	err    error
}

func (r *refusal) Error() string { return r.err.Error() }

// register makes s the session of its datapath. A live session of the
// same datapath is probed with an echo first: if it answers within
// TakeoverProbeTimeout, s is refused; if it is closed, silent or
// answers too late, it is replaced.
func (c *Controller) register(ctx context.Context, s *Switch) error {
	for {
		c.mu.Lock()
		if ctx.Err() != nil {
			// Serve is closing every session it knows; it would miss this one.
			c.mu.Unlock()
			return fmt.Errorf("controller stopping or handshake timed out: %w", ctx.Err())
		}
		old := c.switches[s.dpid]
		if old == nil || old.Err() != nil {
			if prev := c.last[s.dpid]; prev != nil {
				// Apps hear of the previous session's end before of this one.
				s.after = prev.downDone
			}
			c.switches[s.dpid] = s
			c.last[s.dpid] = s
			c.mu.Unlock()
			return nil
		}
		c.mu.Unlock()
		alive := old.answersEcho(ctx, c.cfg.TakeoverProbeTimeout)
		if ctx.Err() != nil {
			// Stopping, or this handshake ran out of time while probing:
			// the probe says nothing about the old session.
			return fmt.Errorf("controller stopping or handshake timed out: %w", ctx.Err())
		}
		if alive {
			return &refusal{reason: "dpid_in_use",
				fields: logrus.Fields{"live_remote": old.conn.RemoteAddr().String()},
				err:    fmt.Errorf("datapath %s is connected from %s, which answers echoes", FormatDPID(s.dpid), old.conn.RemoteAddr())}
		}
		// A switch that reconnects before its old session timed out.
		old.log.WithField("new_remote", s.conn.RemoteAddr().String()).Warn("replacing a session that did not answer an echo")
		old.close(fmt.Errorf("replaced by a new connection from %s: no echo reply within %v", s.conn.RemoteAddr(), c.cfg.TakeoverProbeTimeout))
	}
}

// answersEcho tells whether the session answers an echo within d; any
// answer, an error included, proves it alive.
func (s *Switch) answersEcho(ctx context.Context, d time.Duration) bool {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	_, err := s.Request(ctx, &ofp.EchoRequest{Data: []byte("sixgate: is this datapath still here?")})
	var em *ofp.ErrorMsg
	return err == nil || errors.As(err, &em)
}

// subjects is Config.SwitchSubjects with its reverse.
type subjects struct {
	byDPID    map[uint64]string
	bySubject map[string][]uint64
}

// SetSwitchSubjects replaces the bindings of datapath ids to certificate
// common names (Config.SwitchSubjects) for the connections to come.
func (c *Controller) SetSwitchSubjects(m map[uint64]string) {
	sub := &subjects{byDPID: map[uint64]string{}, bySubject: map[string][]uint64{}}
	for dpid, cn := range m {
		sub.byDPID[dpid] = cn
		sub.bySubject[cn] = append(sub.bySubject[cn], dpid)
	}
	c.subjects.Store(sub)
}

// checkSubject refuses a switch whose certificate's common name is not
// the one bound to its datapath id, or is bound to other datapath ids
// only.
func (c *Controller) checkSubject(s *Switch) error {
	sub := c.subjects.Load()
	if sub == nil || len(sub.byDPID) == 0 {
		return nil
	}
	cn, hasCert := "", false
	if tc, ok := s.conn.(*tls.Conn); ok {
		if certs := tc.ConnectionState().PeerCertificates; len(certs) > 0 {
			cn, hasCert = certs[0].Subject.CommonName, true
		}
	}
	refuse := func(format string, args ...any) error {
		return &refusal{reason: "tls_subject", fields: logrus.Fields{"subject_cn": cn}, err: fmt.Errorf(format, args...)}
	}
	want, bound := sub.byDPID[s.dpid]
	switch {
	case bound && !hasCert:
		return refuse("datapath %s is bound to certificate CN %q but the switch presented no certificate", FormatDPID(s.dpid), want)
	case bound && cn != want:
		return refuse("datapath %s is bound to certificate CN %q, the switch presented CN %q", FormatDPID(s.dpid), want, cn)
	case !bound && hasCert && len(sub.bySubject[cn]) > 0:
		return refuse("certificate CN %q is bound to datapath %s, not %s", cn, FormatDPID(sub.bySubject[cn][0]), FormatDPID(s.dpid))
	}
	return nil
}

// echoLoop probes the switch when nothing was received from it for
// EchoInterval; readLoop's deadline ends the session EchoTimeout after the
// last message received.
func (s *Switch) echoLoop() {
	t := time.NewTimer(s.ctl.cfg.EchoInterval)
	defer t.Stop()
	for {
		select {
		case <-s.done:
			return
		case now := <-t.C:
			send, wait := idleEcho(now, time.Unix(0, s.ops.lastRecv.Load()), s.ctl.cfg.EchoInterval)
			if send {
				ctx, cancel := context.WithTimeout(context.Background(), s.ctl.cfg.WriteTimeout)
				s.Send(ctx, &ofp.EchoRequest{Data: []byte("sixgate")})
				cancel()
			}
			t.Reset(wait)
		}
	}
}

// flowConflict logs and counts, once per switch, a flow two apps declare.
func (c *Controller) flowConflict(s *Switch, fc FlowConflict) {
	key := FormatDPID(s.dpid) + " " + fc.Error()
	c.conflictsMu.Lock()
	seen := c.conflicts[key]
	c.conflicts[key] = true
	c.conflictsMu.Unlock()
	if seen {
		return
	}
	c.metrics.flowConflicts.Inc()
	s.log.WithFields(logrus.Fields{"app": fc.Second, "kept_by": fc.First, "flow": flowName(fc.Table, fc.Priority, fc.Match)}).
		Error("flow declared by two apps: refused to the second, kept by the first")
}

// dispatch runs one event through the apps, in the switch's event
// goroutine.
func (c *Controller) dispatch(s *Switch, e event) {
	switch e.kind {
	case eventUp:
		go s.statsLoop()
		s.syncAndLog()
		for _, a := range c.cfg.Apps {
			if h, ok := a.(SwitchHandler); ok {
				h.SwitchUp(s)
			}
		}
	case eventPacketIn:
		if !s.MayWrite() {
			// A slave does not answer (Open vSwitch sends slaves no
			// packet-ins unless asked to).
			c.metrics.packetInsDropped.Inc()
			return
		}
		pi := e.msg.(*ofp.PacketIn)
		owner, owned := c.byID[uint8(pi.Cookie>>CookieShift)]
		for _, a := range c.cfg.Apps {
			h, ok := a.(PacketInHandler)
			if ok && (!owned || a == owner) {
				h.PacketIn(s, pi)
			}
		}
	case eventPortStatus:
		ps := e.msg.(*ofp.PortStatus)
		s.log.WithFields(logrus.Fields{"port": ps.Port.PortNo, "name": ps.Port.Name, "up": ps.Port.Up(), "reason": ps.Reason}).Info("port status")
		for _, a := range c.cfg.Apps {
			if h, ok := a.(PortStatusHandler); ok {
				h.PortStatus(s, ps)
			}
		}
	case eventAlive:
		close(e.alive)
	case eventFlowRemoved:
		fr := e.msg.(*ofp.FlowRemoved)
		if owner, ok := c.byID[uint8(fr.Cookie>>CookieShift)]; ok {
			if h, ok := owner.(FlowRemovedHandler); ok {
				h.FlowRemoved(s, fr)
			}
		}
	}
}
