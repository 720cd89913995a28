package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"reflect"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/sirupsen/logrus"

	"github.com/sixgate/sixgate/api"
	"github.com/sixgate/sixgate/controller"
	"github.com/sixgate/sixgate/controller/ofp"
	"github.com/sixgate/sixgate/ha"
	"github.com/sixgate/sixgate/handover"
	"github.com/sixgate/sixgate/sdnotify"
	"github.com/sixgate/sixgate/topo"
)

// daemonOptions are the controller's flags.
type daemonOptions struct {
	config, level, format, solo *string
	handover                    *string
	pprof                       *string
	version                     *bool
}

// daemonFlags is the controller's flag set; its usage is the help text.
func daemonFlags(out io.Writer) (*flag.FlagSet, *daemonOptions) {
	fs := flag.NewFlagSet("sixgate", flag.ContinueOnError)
	fs.SetOutput(out)
	o := &daemonOptions{
		config:   fs.String("config", "", "topology and service `file` (YAML)"),
		level:    fs.String("log-level", "info", "log `level`: debug, info, warn, error"),
		format:   fs.String("log-format", "text", "log `format`: text or json"),
		solo:     fs.String("app", "", "run only this `app` instead of the configured ones (learning: a learning switch, for benchmarks)"),
		handover: fs.String("handover", "", "hand-over Unix `socket`: take over from the sixgate running there, if any, then listen there for the next one (SIGUSR2 starts it; docs/operations.md)"),
		pprof:    fs.String("pprof", "", "serve Go's runtime profiles (/debug/pprof/) on `address`, e.g. 127.0.0.1:6060; off when empty"),
		version:  fs.Bool("version", false, "print the version and exit"),
	}
	fs.Usage = func() { writeHelp(out, fs) }
	return fs, o
}

func daemonMain(args []string) int {
	fs, o := daemonFlags(os.Stderr)
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	config, level, format, solo := o.config, o.level, o.format, o.solo
	if *o.version {
		fmt.Println(versionString())
		return 0
	}
	if *config == "" || fs.NArg() != 0 {
		fmt.Fprintln(os.Stderr, "usage: sixgate -config FILE [-log-level LEVEL] [-log-format text|json] [-app learning]")
		fmt.Fprintln(os.Stderr, "       sixgate help   (lists the commands)")
		return 2
	}
	log := logrus.New()
	lvl, err := logrus.ParseLevel(*level)
	if err != nil {
		fmt.Fprintf(os.Stderr, "sixgate: -log-level: %v\n", err)
		return 2
	}
	log.SetLevel(lvl)
	switch *format {
	case "text":
		log.SetFormatter(&logrus.TextFormatter{FullTimestamp: true})
	case "json":
		log.SetFormatter(&logrus.JSONFormatter{})
	default:
		fmt.Fprintf(os.Stderr, "sixgate: -log-format: %q is neither text nor json\n", *format)
		return 2
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if *solo != "" {
		if _, err := soloApps(*solo, logrus.NewEntry(log)); err != nil {
			fmt.Fprintf(os.Stderr, "sixgate: %v\n", err)
			return 2
		}
	}
	if *o.pprof != "" {
		srv, err := servePprof(*o.pprof, logrus.NewEntry(log))
		if err != nil {
			fmt.Fprintf(os.Stderr, "sixgate: -pprof: %v\n", err)
			return 1
		}
		defer srv.Close()
	}
	if err := serveHandover(ctx, *config, *solo, *o.handover, logrus.NewEntry(log)); err != nil {
		log.WithError(err).Error("sixgate stopped")
		return 1
	}
	log.Info("sixgate stopped")
	return 0
}

// prepared is a configuration made ready to run: the file read and
// validated, the apps built from it, the controller configured, nothing
// listening yet.
type prepared struct {
	topo *topo.Topology
	live *liveConfig
	apps *appSet
	reg  *prometheus.Registry
	ctl  *controller.Controller
	dns  *dnsService // nil without a dns64 section
}

// prepare does everything serve does before it opens a socket. It is the
// one validation path: check runs it too, so that a file that passes check
// is one the daemon starts with. A non-empty solo names the one app to run
// instead of the configured ones.
func prepare(path, solo string, log *logrus.Entry) (*prepared, error) {
	return prepareWith(path, solo, log, newApps)
}

// prepareWith is prepare with the function that builds the configured
// apps given, so that a test can add one.
func prepareWith(path, solo string, log *logrus.Entry, appsFor func(*topo.Topology, *logrus.Entry) (*appSet, error)) (*prepared, error) {
	t, err := load(path, log)
	if err != nil {
		return nil, err
	}
	live := newLiveConfig(t)
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if err := live.register(reg); err != nil {
		return nil, err
	}

	var apps *appSet
	if solo != "" {
		apps, err = soloApps(solo, log)
	} else {
		apps, err = appsFor(t, log)
	}
	if err != nil {
		return nil, err
	}
	// Two apps that declare the same flow would fight over it on every
	// sync: refuse the configuration, naming both and the flow.
	var dpids []uint64
	for _, sw := range t.Switches {
		dpids = append(dpids, sw.DPID)
	}
	if err := controller.CheckFlows(apps.list, dpids); err != nil {
		return nil, fmt.Errorf("flows declared by two apps:\n%w", err)
	}
	cfg := controller.Config{
		Listen:        t.Controller.Listen.String(),
		EchoInterval:  t.Controller.EchoInterval,
		EchoTimeout:   t.Controller.EchoTimeout,
		PacketInRate:  t.Controller.PacketInRate,
		PacketInBurst: t.Controller.PacketInBurst,
		StatsInterval: t.Controller.StatsInterval,

		MaxHandshakes:          t.Controller.MaxHandshakes,
		MaxHandshakesPerSource: t.Controller.MaxHandshakesPerSource,
		MaxMultipartBytes:      t.Controller.MaxMultipartBytes,
		MaxMultipartTotal:      t.Controller.MaxMultipartBytesTotal,
		TakeoverProbeTimeout:   t.Controller.TakeoverProbeTimeout,
		SwitchSubjects:         switchSubjects(t),
		HA:                     t.HA != nil,

		Apps:       apps.list,
		Log:        log,
		Registerer: reg,
	}
	if t.Controller.TLS != nil {
		if cfg.TLS, err = loadTLS(t.Controller.TLS); err != nil {
			return nil, err
		}
	}
	ctl, err := controller.New(cfg)
	if err != nil {
		return nil, err
	}
	ctl.SetDeclared(declared(t))
	for _, c := range apps.collectors {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	var dns *dnsService
	if t.DNS64 != nil {
		if dns, err = newDNSService(t.DNS64, log); err != nil {
			return nil, fmt.Errorf("dns64: %w", err)
		}
		for _, c := range dns.resolver.Collectors() {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return &prepared{topo: t, live: live, apps: apps, reg: reg, ctl: ctl, dns: dns}, nil
}

// serve runs the controller until ctx is done, reloading the configuration
// on SIGHUP. A non-empty solo names the one app to run instead of the
// configured ones.
func serve(ctx context.Context, path, solo string, log *logrus.Entry) error {
	return serveHandover(ctx, path, solo, "", log)
}

// serveHandover is serve with a hand-over socket (-handover): it takes
// over from the process running there, if any, and listens there for the
// next one (handover.go).
func serveHandover(ctx context.Context, path, solo, handoverPath string, log *logrus.Entry) error {
	p, err := prepare(path, solo, log)
	if err != nil {
		return err
	}
	t, live, apps, ctl := p.topo, p.live, p.apps, p.ctl
	if err := checkCaps(t); err != nil {
		return err
	}
	// The resolver serves with or without switches: its sockets open
	// before the controller's.
	if p.dns != nil {
		if err := p.dns.start(t.DNS64); err != nil {
			return err
		}
		defer p.dns.stop()
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var hc *handover.Conn
	var inherited map[string]handover.Section
	if handoverPath != "" {
		if hc, inherited, err = takeOver(ctx, handoverPath, log); err != nil {
			return fmt.Errorf("hand-over: %w", err)
		}
		if hc != nil {
			defer hc.Close()
		}
		defer closeSections(inherited)
		for _, a := range apps.handoverApps() {
			if err := a.AdoptSections(inherited); err != nil {
				return fmt.Errorf("hand-over: app %s: %w", a.Name(), err)
			}
		}
		if err := adoptSessions(ctl, inherited); err != nil {
			return fmt.Errorf("hand-over: %w", err)
		}
	}
	var elector *ha.Elector
	if t.HA != nil {
		if elector, err = newElector(t.HA, ctl, p.reg, log); err != nil {
			return err
		}
		apps.useState(elector)
	}
	l, tcpL, err := controllerListener(t, inherited)
	if err != nil {
		return err
	}
	if elector != nil {
		done := make(chan struct{})
		go func() {
			defer close(done)
			elector.Run(ctx)
		}()
		// On the way out the lease is given up, so that another instance
		// takes over at once rather than when it expires.
		defer func() { <-done }()
	}
	var webL net.Listener
	if t.Controller.HTTP.IsValid() {
		a := &api.Server{Controller: ctl, Config: live.info, Role: roleOf(elector)}
		webL, err = inheritedListener(inherited, sectionHTTP, t.Controller.HTTP)
		if err == nil && webL == nil {
			webL, err = net.Listen("tcp", t.Controller.HTTP.String())
		}
		if err != nil {
			l.Close()
			return fmt.Errorf("controller.http: %w", err)
		}
		srv := serveHTTPListener(webL, p.reg, apps.handlers, a, log)
		defer srv.Close()
	}

	notify := sdnotify.FromEnv()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				notifyLog(notify, log, sdnotify.ReloadingNow()...)
				status := "serving; reload failed, running configuration kept"
				if reload(path, live, apps, ctl, p.dns, log) {
					status = "serving; configuration reloaded"
				}
				notifyLog(notify, log, sdnotify.Ready, sdnotify.Status(status+" "+live.topology().ShortHash()))
			}
		}
	}()
	var handedOver, unconfirmed atomic.Bool
	// A cold start listens for the next process at once; a process that
	// takes over only once it serves, just before it confirms: until
	// then the socket's path must lead to the running process, which
	// resumes if this one fails.
	var hl *handover.Listener
	if handoverPath != "" && hc == nil {
		if hl, err = handover.Listen(handoverPath); err != nil {
			l.Close()
			return err
		}
	}
	go func() {
		select {
		case <-ctx.Done():
			return
		case <-ctl.Listening():
		}
		if handoverPath != "" && hl == nil {
			var err error
			if hl, err = handover.Listen(handoverPath); err != nil {
				log.WithError(err).Error("hand-over socket: an upgrade in place will not be possible")
			}
		}
		if hc != nil {
			if err := confirmTakeOver(hc, notify, log); err != nil {
				// The previous process may serve on: two must not.
				log.WithError(err).Error("hand-over: the previous process did not hear the confirmation; stopping")
				unconfirmed.Store(true)
				cancel()
				return
			}
		}
		if hl == nil {
			return
		}
		src := &handoverSource{l: hl, apps: apps.handoverApps(), ctl: ctl, log: log, done: make(chan struct{}),
			files: func() ([]handover.Section, error) { return listenerSections(tcpL, webL) }}
		go src.serve(ctx)
		select {
		case <-ctx.Done():
		case <-src.done:
			handedOver.Store(true)
			cancel()
		}
	}()
	go upgradeOnSignal(ctx, handoverPath, log)
	supervised := make(chan struct{})
	go func() {
		superviseNotify(ctx, notify, ctl, live, log, handedOver.Load)
		close(supervised)
	}()
	err = ctl.Serve(ctx, l)
	// STOPPING=1 leaves before the process exits.
	cancel()
	<-supervised
	if err == nil && unconfirmed.Load() {
		err = errors.New("hand-over not confirmed")
	}
	return err
}

// superviseNotify tells the service manager (systemd with Type=notify)
// that sixgate is ready once the controller accepts switches, feeds its
// watchdog while the controller proves alive, and says when it stops.
// Without $NOTIFY_SOCKET it does nothing.
func superviseNotify(ctx context.Context, notify *sdnotify.Notifier, ctl *controller.Controller, live *liveConfig, log *logrus.Entry, handedOver func() bool) {
	if !notify.Enabled() {
		return
	}
	// A process that handed over does not stop the service: the new one
	// is its main process now.
	stopping := func() {
		if !handedOver() {
			notifyLog(notify, log, sdnotify.Stopping)
		}
	}
	select {
	case <-ctx.Done():
		stopping()
		return
	case <-ctl.Listening():
	}
	notifyLog(notify, log, sdnotify.Ready, sdnotify.Status("serving; configuration "+live.topology().ShortHash()))
	every, ok, err := sdnotify.WatchdogInterval()
	if err != nil {
		log.WithError(err).Warn("watchdog not fed")
	}
	var tick <-chan time.Time
	if ok {
		t := time.NewTicker(every)
		defer t.Stop()
		tick = t.C
		log.WithField("every", every).Info("feeding the service manager's watchdog")
	}
	for {
		select {
		case <-ctx.Done():
			stopping()
			return
		case <-tick:
			// The ping proves that the controller serves, not that this
			// goroutine runs: it goes through every switch's event loop,
			// and is skipped when one is stuck, so that systemd restarts a
			// wedged daemon.
			actx, cancel := context.WithTimeout(ctx, every)
			err := ctl.Alive(actx)
			cancel()
			if err != nil {
				if ctx.Err() == nil {
					log.WithError(err).Warn("watchdog: controller not alive; not feeding it")
				}
				continue
			}
			notifyLog(notify, log, sdnotify.Watchdog)
		}
	}
}

// notifyLog sends a notification, logging a failure (the service manager
// gone) without stopping.
func notifyLog(n *sdnotify.Notifier, log *logrus.Entry, assignments ...string) {
	if err := n.Send(assignments...); err != nil {
		log.WithError(err).Warn("service manager notification failed")
	}
}

// load reads and validates the configuration file and logs its warnings
// (deprecated keys), once per load.
func load(path string, log *logrus.Entry) (*topo.Topology, error) {
	t, err := topo.Load(path)
	if err != nil {
		return nil, err
	}
	for _, w := range t.Warnings {
		log.Warn(w.Error())
	}
	return t, nil
}

// reload reads the file again; a bad file keeps the running configuration.
// It reports whether the new file was taken.
func reload(path string, live *liveConfig, apps *appSet, ctl *controller.Controller, dns *dnsService, log *logrus.Entry) bool {
	t, err := load(path, log)
	if err != nil {
		live.failed()
		log.WithError(err).Error("reload: configuration rejected; keeping the running one")
		return false
	}
	// What only a restart applies, from every section at once, before
	// any app takes the file.
	if err := errors.Join(controllerChanges(live.topology().Controller, t), haChanges(live.topology(), t), dns64Changes(live.topology(), t), apps.checkReload(t)); err != nil {
		live.failed()
		log.WithError(err).Error("reload: the configuration changes what only a restart applies; keeping the running one")
		return false
	}
	if err := apps.reload(t); err != nil {
		live.failed()
		log.WithError(err).Error("reload: apps rejected the configuration; keeping the running one")
		return false
	}
	if dns != nil {
		// The file was validated as the resolver validates it: this
		// does not fail.
		if err := dns.reload(t.DNS64); err != nil {
			log.WithError(err).Error("reload: DNS64 keeps its previous configuration")
		}
	}
	live.loaded(t)
	ctl.SetDeclared(declared(t))
	ctl.SetSwitchSubjects(switchSubjects(t))
	log.WithFields(logrus.Fields{"file": path, "hash": t.ShortHash()}).Info("configuration reloaded")
	ctl.ResyncAll()
	return true
}

// haChanges refuses a change of the ha section, which the election was
// set up with at start.
func haChanges(cur, t *topo.Topology) error {
	if reflect.DeepEqual(cur.HA, t.HA) {
		return nil
	}
	return &topo.Error{File: t.File, Line: t.KeyLine("ha"), Field: "ha", Msg: "changed: restart sixgate to apply it"}
}

// declared lists the datapath ids the topology declares.
func declared(t *topo.Topology) []uint64 {
	d := make([]uint64, len(t.Switches))
	for i, s := range t.Switches {
		d[i] = s.DPID
	}
	return d
}

// switchSubjects binds the datapath ids of the switches that name a
// certificate subject to it.
func switchSubjects(t *topo.Topology) map[uint64]string {
	m := map[uint64]string{}
	for _, sw := range t.Switches {
		if sw.TLSSubject != "" {
			m[sw.DPID] = sw.TLSSubject
		}
	}
	return m
}

// controllerChanges lists, as topology errors naming each key, what t
// changes in the controller section, which the running controller cannot
// take (its listener, TLS configuration, HTTP server and session bounds
// are set up once): such a reload is refused and a restart applies it.
// TLS files are compared by name, not content.
func controllerChanges(cur topo.Controller, t *topo.Topology) error {
	tlsFile := func(c topo.Controller, f func(*topo.TLS) string) string {
		if c.TLS == nil {
			return ""
		}
		return f(c.TLS)
	}
	next := t.Controller
	var errs topo.Errors
	for _, k := range []struct {
		key      string
		was, now any
	}{
		{"listen", cur.Listen, next.Listen},
		{"tls.cert", tlsFile(cur, func(c *topo.TLS) string { return c.Cert }), tlsFile(next, func(c *topo.TLS) string { return c.Cert })},
		{"tls.key", tlsFile(cur, func(c *topo.TLS) string { return c.Key }), tlsFile(next, func(c *topo.TLS) string { return c.Key })},
		{"tls.ca", tlsFile(cur, func(c *topo.TLS) string { return c.CA }), tlsFile(next, func(c *topo.TLS) string { return c.CA })},
		{"http", cur.HTTP, next.HTTP},
		{"stats_interval", cur.StatsInterval, next.StatsInterval},
		{"echo_interval", cur.EchoInterval, next.EchoInterval},
		{"echo_timeout", cur.EchoTimeout, next.EchoTimeout},
		{"packet_in_rate", cur.PacketInRate, next.PacketInRate},
		{"packet_in_burst", cur.PacketInBurst, next.PacketInBurst},
		{"max_handshakes", cur.MaxHandshakes, next.MaxHandshakes},
		{"max_handshakes_per_source", cur.MaxHandshakesPerSource, next.MaxHandshakesPerSource},
		{"max_multipart_bytes", cur.MaxMultipartBytes, next.MaxMultipartBytes},
		{"max_multipart_bytes_total", cur.MaxMultipartBytesTotal, next.MaxMultipartBytesTotal},
		{"takeover_probe_timeout", cur.TakeoverProbeTimeout, next.TakeoverProbeTimeout},
	} {
		if k.was != k.now {
			key := "controller." + k.key
			errs = append(errs, &topo.Error{File: t.File, Line: t.KeyLine(key), Field: key,
				Msg: fmt.Sprintf("changed from %s to %s: restart sixgate to apply it", shown(k.was), shown(k.now))})
		}
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

// shown writes a controller setting for a message; unset values as such.
func shown(v any) string {
	switch x := v.(type) {
	case string:
		if x == "" {
			return "unset"
		}
	case netip.AddrPort:
		if !x.IsValid() {
			return "off"
		}
	case topo.Listen:
		return x.Scheme + ":" + x.Addr.String()
	}
	return fmt.Sprint(v)
}

// serveHTTPOn serves /metrics, the read API, /healthz and the apps' status
// pages on addr, and returns the address listened on.
func serveHTTPOn(addr string, reg *prometheus.Registry, handlers map[string]http.Handler, a *api.Server, log *logrus.Entry) (*http.Server, string, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, "", fmt.Errorf("controller.http: %w", err)
	}
	return serveHTTPListener(l, reg, handlers, a, log), l.Addr().String(), nil
}

// serveHTTPListener is serveHTTPOn on a listener already open.
func serveHTTPListener(l net.Listener, reg *prometheus.Registry, handlers map[string]http.Handler, a *api.Server, log *logrus.Entry) *http.Server {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.Handle("/api/", a.Handler())
	mux.Handle(api.PathHealthz, a.Handler())
	mux.Handle(api.PathHealthzMaster, a.Handler())
	for path, h := range handlers {
		mux.Handle(path, h)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.WithError(err).Error("HTTP server stopped")
		}
	}()
	log.WithField("addr", l.Addr().String()).Info("serving /metrics, /healthz and the read API")
	return srv
}

func loadTLS(c *topo.TLS) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(c.Cert, c.Key)
	if err != nil {
		return nil, fmt.Errorf("tls: %w", err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if c.CA != "" {
		pem, err := os.ReadFile(c.CA)
		if err != nil {
			return nil, fmt.Errorf("tls: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tls: %s: no certificate found", c.CA)
		}
		cfg.ClientCAs = pool
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return cfg, nil
}

// newElector makes the etcd election of the ha section, telling the
// controller every change of role.
func newElector(h *topo.HA, ctl *controller.Controller, reg prometheus.Registerer, log *logrus.Entry) (*ha.Elector, error) {
	cfg := ha.Config{
		Endpoints: h.Etcd, Lease: h.Lease, Name: h.Name, Prefix: h.Prefix,
		Log: log, Registerer: reg,
		OnRole: func(r ha.Role) {
			role := controller.Role{Role: ofp.RoleSlave, Generation: r.Generation}
			if r.Master {
				role.Role = ofp.RoleMaster
			}
			ctl.SetRole(role)
		},
	}
	if h.TLS != nil {
		tc, err := etcdTLS(h.TLS)
		if err != nil {
			return nil, fmt.Errorf("ha.tls: %w", err)
		}
		cfg.TLS = tc
	}
	return ha.New(cfg)
}

// etcdTLS is the client side of TLS towards etcd: the CA that signs the
// servers' certificates, and a client certificate when one is given.
func etcdTLS(c *topo.TLS) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if c.Cert != "" {
		cert, err := tls.LoadX509KeyPair(c.Cert, c.Key)
		if err != nil {
			return nil, err
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	if c.CA != "" {
		pem, err := os.ReadFile(c.CA)
		if err != nil {
			return nil, err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s: no certificate found", c.CA)
		}
		cfg.RootCAs = pool
	}
	return cfg, nil
}

// roleOf reports the instance's role to the read API: always master
// without an election.
func roleOf(e *ha.Elector) func() api.Role {
	if e == nil {
		return nil
	}
	return func() api.Role {
		st := e.Status()
		return api.Role{Role: st.Role, HA: true, Name: st.Name, Master: st.Master, Generation: st.Generation, Lease: st.Lease}
	}
}
