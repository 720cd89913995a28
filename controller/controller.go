package controller

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sort"
	"strings"
	"sync"
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
	// RequestTimeout bounds each request the core makes on its own.
	RequestTimeout time.Duration
	// WriteTimeout bounds one write to a switch.
	WriteTimeout time.Duration
	// EventQueue is the number of events queued per switch; packet-ins
	// beyond it are dropped and counted.
	EventQueue int
	// MaxMultipartBytes bounds the sum of the parts of one multipart reply.
	MaxMultipartBytes int
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
	Apps          []App
	Log           *logrus.Entry
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
	def(&c.WriteTimeout, 10*time.Second)
	if c.EventQueue <= 0 {
		c.EventQueue = 1024
	}
	if c.MaxMultipartBytes <= 0 {
		c.MaxMultipartBytes = 256 << 20
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

	ops controllerOps // declared switches, serving (ops.go)

	wg sync.WaitGroup
}

// New checks the configuration and the apps' cookie ids.
func New(cfg Config) (*Controller, error) {
	cfg.setDefaults()
	c := &Controller{
		cfg:      cfg,
		log:      cfg.Log,
		byID:     map[uint8]App{},
		switches: map[uint64]*Switch{},
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
	c.ops.serving.Store(true)
	defer c.ops.serving.Store(false)
	stop := context.AfterFunc(ctx, func() { l.Close() })
	defer stop()
	var err error
	for {
		conn, aerr := l.Accept()
		if aerr != nil {
			if ctx.Err() == nil {
				err = fmt.Errorf("accept: %w", aerr)
			}
			break
		}
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			c.serveConn(ctx, conn)
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

func (c *Controller) serveConn(ctx context.Context, conn net.Conn) {
	s := newSwitch(c, conn)
	c.metrics.connections.Inc()
	r := ofp.NewReader(bufio.NewReaderSize(conn, 64<<10))
	if err := s.handshake(ctx, r); err != nil {
		c.metrics.handshakeFailures.Inc()
		s.close(err)
		s.log.WithError(err).Warn("switch handshake failed; disconnected")
		return
	}
	<-s.done
	c.mu.Lock()
	if c.switches[s.dpid] == s {
		delete(c.switches, s.dpid)
	}
	c.mu.Unlock()
	s.log.WithError(s.closeErr).Warn("switch disconnected")
	for _, a := range c.cfg.Apps {
		if h, ok := a.(SwitchHandler); ok {
			h.SwitchDown(s)
		}
	}
}

// handshake negotiates the version, learns the datapath id and ports, sets
// the switch configuration and starts the session's goroutines.
func (s *Switch) handshake(ctx context.Context, r *ofp.Reader) error {
	cfg := s.ctl.cfg
	deadline := time.Now().Add(cfg.HandshakeTimeout)
	s.conn.SetDeadline(deadline)
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
	s.conn.SetDeadline(time.Time{})

	go s.writeLoop()
	go s.readLoop(r)
	go s.echoLoop()

	hctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	rep, err := s.Request(hctx, &ofp.FeaturesRequest{})
	if err != nil {
		return err
	}
	s.features = *rep.(*ofp.FeaturesReply)
	s.dpid = s.features.DatapathID
	s.log = s.log.WithField("dpid", FormatDPID(s.dpid))

	set := &ofp.SetConfig{SwitchConfig: ofp.SwitchConfig{Flags: ofp.ConfigFragNormal, MissSendLen: ofp.NoBuffer}}
	if err := s.Send(hctx, set); err != nil {
		return err
	}
	parts, err := s.Multipart(hctx, &ofp.MultipartRequest{MPType: ofp.MultipartPortDesc})
	if err != nil {
		return err
	}
	s.mu.Lock()
	for _, p := range parts {
		if pd, ok := p.Body.(*ofp.PortDescReply); ok {
			for _, port := range pd.Ports {
				// A PORT_STATUS read since the request is newer than
				// the description: keep it.
				if _, updated := s.ports[port.PortNo]; !updated {
					s.ports[port.PortNo] = port
				}
			}
		}
	}
	s.mu.Unlock()

	if cfg.PacketInRate > 0 {
		metered, err := s.installPacketInMeter(hctx)
		if err != nil {
			s.log.WithError(err).Warn("switch refused the packet-in meter; limiting packet-ins on arrival only")
		}
		s.log.WithFields(logrus.Fields{"rate": cfg.PacketInRate, "switch_meter": metered}).Info("packet-in rate limited")
	}

	c := s.ctl
	c.mu.Lock()
	if ctx.Err() != nil {
		// Serve is closing every session it knows; it would miss this one.
		c.mu.Unlock()
		return fmt.Errorf("controller stopping: %w", ctx.Err())
	}
	if old := c.switches[s.dpid]; old != nil {
		// A switch that reconnects before its old session timed out.
		old.close(errors.New("replaced by a new connection from the same datapath"))
	}
	c.switches[s.dpid] = s
	c.mu.Unlock()
	s.log.WithFields(logrus.Fields{"ports": len(s.ports), "tables": s.features.NTables}).Info("switch connected")
	go s.eventLoop()
	s.queueEvent(event{kind: eventUp})
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
	case eventFlowRemoved:
		fr := e.msg.(*ofp.FlowRemoved)
		if owner, ok := c.byID[uint8(fr.Cookie>>CookieShift)]; ok {
			if h, ok := owner.(FlowRemovedHandler); ok {
				h.FlowRemoved(s, fr)
			}
		}
	}
}
