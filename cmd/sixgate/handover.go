package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/sixgate/sixgate/controller"
	"github.com/sixgate/sixgate/handover"
	"github.com/sixgate/sixgate/sdnotify"
	"github.com/sixgate/sixgate/topo"
)

// The hand-over (an upgrade without losing connections): the running
// process listens on a Unix socket (-handover PATH). A new process started
// with the same socket loads and checks its configuration, connects, and
// receives the apps' state and the listening sockets; the running process
// stops its switch sessions at a message boundary and its engines at a
// batch boundary first, and exits once the new one says it serves. The
// switch sessions move with their TCP connections, so the switches see no
// disconnection (a TLS session cannot move: its switch reconnects).
//
// Sections besides the apps' own:
const (
	sectionOpenFlow = "controller.listener"
	sectionHTTP     = "http.listener"
	// sectionSession prefixes one section per switch session.
	sectionSession = "controller.session."
)

// sessionMover stops and resumes the controller's switch sessions.
type sessionMover interface {
	DetachSessions(context.Context) []*controller.DetachedSession
	ResumeSessions([]*controller.DetachedSession)
}

// Time limits of a hand-over, on the running process's side.
const (
	handoverHelloWait = 5 * time.Second
	handoverSendWait  = 30 * time.Second
	// handoverReadyWait bounds how long the new process may take to
	// import and start once it has the state; the data path is stopped
	// meanwhile.
	handoverReadyWait = 30 * time.Second
)

// handoverApp is an app whose state and sockets move to the new process.
type handoverApp interface {
	Name() string
	// Quiesce stops the app's engine at a batch boundary; Resume starts
	// it again after a failed hand-over.
	Quiesce()
	Resume()
	// HandoverSections exports the app's state and descriptors.
	HandoverSections() ([]handover.Section, error)
	// AdoptSections takes what the previous process exported, before the
	// app starts.
	AdoptSections(map[string]handover.Section) error
}

// handoverApps lists the apps of s that take part in a hand-over.
func (s *appSet) handoverApps() []handoverApp {
	var out []handoverApp
	for _, a := range s.list {
		if h, ok := a.(handoverApp); ok {
			out = append(out, h)
		}
	}
	return out
}

// handoverSource is the running process's end: it hands everything over
// to a process that connects, and says when one did.
type handoverSource struct {
	l    *handover.Listener
	apps []handoverApp
	ctl  sessionMover // nil: the sessions stay
	log  *logrus.Entry
	// files returns duplicates of the listening sockets, as sections.
	files func() ([]handover.Section, error)
	// done is closed once a hand-over completed: the process exits.
	done     chan struct{}
	doneOnce sync.Once
}

// serve accepts processes taking over, one at a time, until one succeeds
// or ctx ends.
func (h *handoverSource) serve(ctx context.Context) {
	stop := context.AfterFunc(ctx, func() { h.l.Close() })
	defer stop()
	for {
		c, err := h.l.Accept()
		if err != nil {
			if ctx.Err() == nil && !errors.Is(err, net.ErrClosed) {
				h.log.WithError(err).Warn("hand-over: connection refused")
				continue
			}
			return
		}
		err = h.handOver(c)
		c.Close()
		if err == nil {
			h.l.Close()
			h.doneOnce.Do(func() { close(h.done) })
			return
		}
		h.log.WithError(err).Error("hand-over failed; this process serves on")
	}
}

// handOver runs one hand-over on c; an error leaves this process serving.
func (h *handoverSource) handOver(c *handover.Conn) (err error) {
	c.SetDeadline(time.Now().Add(handoverHelloWait))
	pid, err := c.ReadHello()
	if err != nil {
		return err
	}
	log := h.log.WithField("new_pid", pid)
	log.Info("hand-over: a new process takes over; stopping the switch sessions and the engines")
	start := time.Now()
	// The sessions first: the packet-ins they queued then stay queued
	// and move with them, rather than meet stopped engines.
	var sessions []*controller.DetachedSession
	if h.ctl != nil {
		ctx, cancel := context.WithTimeout(context.Background(), handoverHelloWait)
		sessions = h.ctl.DetachSessions(ctx)
		cancel()
	}
	for _, a := range h.apps {
		a.Quiesce()
	}
	var secs []handover.Section
	defer func() {
		for i := range secs {
			secs[i].Close()
		}
		if err != nil {
			for _, a := range h.apps {
				a.Resume()
			}
			if h.ctl != nil {
				h.ctl.ResumeSessions(sessions)
			}
		}
	}()
	for _, d := range sessions {
		b, err := d.State.MarshalBinary()
		if err != nil {
			c.Abort(err.Error())
			return err
		}
		f := d.File
		d.File = nil // the section closes it
		secs = append(secs, handover.Section{Name: sectionSession + controller.FormatDPID(d.State.DPID), Data: b, Files: []*os.File{f}})
	}
	var files []handover.Section
	files, err = h.files()
	secs = append(secs, files...)
	if err != nil {
		c.Abort(err.Error())
		return err
	}
	for _, a := range h.apps {
		s, err := a.HandoverSections()
		if err != nil {
			c.Abort(err.Error())
			return fmt.Errorf("app %s: %w", a.Name(), err)
		}
		secs = append(secs, s...)
	}
	c.SetDeadline(time.Now().Add(handoverSendWait))
	if err := c.SendSections(secs); err != nil {
		return err
	}
	sent := time.Since(start)
	c.SetDeadline(time.Now().Add(handoverReadyWait))
	if err := c.ReadReady(); err != nil {
		return fmt.Errorf("the new process did not confirm (it exited or timed out): %w", err)
	}
	log.WithFields(logrus.Fields{"sessions": len(sessions), "state_sent_in": sent.Round(time.Millisecond), "engines_stopped_for": time.Since(start).Round(time.Millisecond)}).
		Info("hand-over complete; this process exits")
	return nil
}

// listenerSections returns duplicates of the OpenFlow and HTTP listening
// sockets (nil when not listening) as sections.
func listenerSections(of, web net.Listener) ([]handover.Section, error) {
	var secs []handover.Section
	for _, l := range []struct {
		name string
		l    net.Listener
	}{{sectionOpenFlow, of}, {sectionHTTP, web}} {
		tl, ok := l.l.(*net.TCPListener)
		if !ok {
			continue
		}
		f, err := tl.File()
		if err != nil {
			for i := range secs {
				secs[i].Close()
			}
			return nil, fmt.Errorf("%s: %w", l.name, err)
		}
		secs = append(secs, handover.Section{Name: l.name, Data: []byte(tl.Addr().String()), Files: []*os.File{f}})
	}
	return secs, nil
}

// takeOver connects to the process running on path and receives what it
// hands over. It returns nil sections, and a nil connection, when no
// process runs there (a cold start).
func takeOver(ctx context.Context, path string, log *logrus.Entry) (*handover.Conn, map[string]handover.Section, error) {
	c, err := handover.Dial(ctx, path)
	if errors.Is(err, handover.ErrNoPeer) {
		log.WithField("socket", path).Debug("no running process to take over from: cold start")
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	log.WithField("socket", path).Info("taking over from the running process")
	c.SetDeadline(time.Now().Add(handoverHelloWait + handoverSendWait))
	if err := c.SendHello(); err != nil {
		c.Close()
		return nil, nil, err
	}
	list, err := c.ReadSections()
	if err != nil {
		c.Close()
		return nil, nil, err
	}
	secs := make(map[string]handover.Section, len(list))
	for _, s := range list {
		if _, dup := secs[s.Name]; dup {
			s.Close()
			continue
		}
		secs[s.Name] = s
	}
	c.SetDeadline(time.Now().Add(handoverReadyWait))
	return c, secs, nil
}

// adoptSessions gives the controller the switch sessions handed over.
func adoptSessions(ctl *controller.Controller, secs map[string]handover.Section) error {
	for name, s := range secs {
		if !strings.HasPrefix(name, sectionSession) {
			continue
		}
		delete(secs, name)
		if len(s.Files) != 1 {
			s.Close()
			return fmt.Errorf("%s: %d descriptors", name, len(s.Files))
		}
		var st controller.SessionState
		if err := st.UnmarshalBinary(s.Data); err != nil {
			s.Close()
			return fmt.Errorf("%s: %w", name, err)
		}
		if err := ctl.AdoptSession(s.Files[0], st); err != nil {
			return err
		}
	}
	return nil
}

// closeSections closes the descriptors nobody took.
func closeSections(secs map[string]handover.Section) {
	for name, s := range secs {
		s.Close()
		delete(secs, name)
	}
}

// inheritedListener returns the listening socket of section name if it
// listens on want, and takes it out of secs; nil otherwise.
func inheritedListener(secs map[string]handover.Section, name string, want netip.AddrPort) (net.Listener, error) {
	s, ok := secs[name]
	if !ok {
		return nil, nil
	}
	delete(secs, name)
	defer s.Close()
	if len(s.Files) != 1 {
		return nil, fmt.Errorf("%s: %d descriptors", name, len(s.Files))
	}
	l, err := net.FileListener(s.Files[0])
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	tl, ok := l.(*net.TCPListener)
	got := netip.AddrPort{}
	if ok {
		got = tl.Addr().(*net.TCPAddr).AddrPort()
	}
	if !ok || !sameAddrPort(got, want) {
		l.Close() // the configuration moved it: listen anew
		return nil, nil
	}
	return l, nil
}

func sameAddrPort(a, b netip.AddrPort) bool {
	return a.Port() == b.Port() && a.Addr().Unmap() == b.Addr().Unmap()
}

// controllerListener is the OpenFlow listener, wrapped in TLS when
// configured, and the TCP listener under it: the inherited one if it
// listens where the configuration says, else a new one.
func controllerListener(t *topo.Topology, secs map[string]handover.Section) (net.Listener, net.Listener, error) {
	l, err := inheritedListener(secs, sectionOpenFlow, t.Controller.Listen.Addr)
	if err != nil {
		return nil, nil, err
	}
	if l == nil {
		if l, err = net.Listen("tcp", t.Controller.Listen.Addr.String()); err != nil {
			return nil, nil, err
		}
	}
	switch t.Controller.Listen.Scheme {
	case "tcp":
		return l, l, nil
	case "tls", "ssl":
		if t.Controller.TLS == nil {
			break
		}
		cfg, err := loadTLS(t.Controller.TLS)
		if err != nil {
			l.Close()
			return nil, nil, err
		}
		return tls.NewListener(l, cfg), l, nil
	}
	l.Close()
	return nil, nil, fmt.Errorf("listen %q: unknown protocol or no TLS configuration", t.Controller.Listen.Scheme)
}

// upgradeEnv is the environment of the process started to take over:
// this one's, but a watchdog addressed to this process (WATCHDOG_PID) is
// the new one's to feed once it is the main process, so the variable goes.
func upgradeEnv(env []string, self int) []string {
	out := make([]string, 0, len(env))
	for _, kv := range env {
		if kv == "WATCHDOG_PID="+strconv.Itoa(self) {
			continue
		}
		out = append(out, kv)
	}
	return out
}

// confirmTakeOver tells systemd that this process is the service's main
// process now (Type=notify with NotifyAccess=all), then the previous
// process that it may exit.
func confirmTakeOver(c *handover.Conn, notify *sdnotify.Notifier, log *logrus.Entry) error {
	notifyLog(notify, log, sdnotify.MainPID(os.Getpid()), sdnotify.Ready, sdnotify.Status("serving; took over from the previous process"))
	err := c.SendReady()
	c.Close()
	if err != nil {
		return err
	}
	log.Info("hand-over complete: serving")
	return nil
}

// upgradeOnSignal starts the binary again, with the same arguments, on
// SIGUSR2: the new process takes over through the hand-over socket. Under
// systemd it is in the service's control group and becomes its main
// process; the executable is the file now at this one's path, so an
// upgraded package's binary.
func upgradeOnSignal(ctx context.Context, path string, log *logrus.Entry) {
	usr2 := make(chan os.Signal, 1)
	signal.Notify(usr2, syscall.SIGUSR2)
	defer signal.Stop(usr2)
	for {
		select {
		case <-ctx.Done():
			return
		case <-usr2:
		}
		if path == "" {
			log.Warn("SIGUSR2: no hand-over socket (-handover): cannot upgrade in place")
			continue
		}
		exe, err := os.Executable()
		if err != nil {
			log.WithError(err).Error("SIGUSR2: cannot find the executable")
			continue
		}
		cmd := exec.Command(exe, os.Args[1:]...)
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		cmd.Env = upgradeEnv(os.Environ(), os.Getpid())
		if err := cmd.Start(); err != nil {
			log.WithError(err).Error("SIGUSR2: cannot start the new process")
			continue
		}
		log.WithFields(logrus.Fields{"exe": exe, "new_pid": cmd.Process.Pid}).Info("SIGUSR2: started a new process to take over")
		go func() {
			// Reap it; if it exits before taking over, this process
			// serves on and says why.
			if err := cmd.Wait(); err != nil {
				log.WithError(err).WithField("new_pid", cmd.Process.Pid).Error("the new process exited")
			}
		}()
	}
}
