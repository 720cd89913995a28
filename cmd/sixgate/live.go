package main

import (
	"runtime"
	"runtime/debug"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sixgate/sixgate/api"
	"github.com/sixgate/sixgate/topo"
)

// liveConfig is the configuration in force, which SIGHUP replaces, and the
// count of reloads; the API and the metrics read it.
type liveConfig struct {
	mu     sync.Mutex
	t      *topo.Topology
	at     time.Time
	ok, ko uint64

	reloads *prometheus.CounterVec
}

func newLiveConfig(t *topo.Topology) *liveConfig {
	return &liveConfig{t: t, at: time.Now(), reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "sixgate_config_reloads_total", Help: "Configuration reloads (SIGHUP), by result: success or failure (the running configuration was kept).",
	}, []string{"result"})}
}

var (
	descConfigHash = prometheus.NewDesc("sixgate_config_hash_info", "The configuration in force: the first 12 hex digits of the SHA-256 of its file (always 1).", []string{"hash"}, nil)
	descBuildInfo  = prometheus.NewDesc("sixgate_build_info", "The running binary, as sixgate -version prints it (always 1).", []string{"version", "revision", "goversion"}, nil)
)

func (l *liveConfig) register(reg prometheus.Registerer) error {
	l.reloads.WithLabelValues("success")
	l.reloads.WithLabelValues("failure")
	if err := reg.Register(l.reloads); err != nil {
		return err
	}
	return reg.Register(l)
}

func (l *liveConfig) Describe(ch chan<- *prometheus.Desc) {
	ch <- descConfigHash
	ch <- descBuildInfo
}

func (l *liveConfig) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(descConfigHash, prometheus.GaugeValue, 1, l.topology().ShortHash())
	bi, ok := debug.ReadBuildInfo()
	v, rev := buildVersion(bi, ok, version)
	ch <- prometheus.MustNewConstMetric(descBuildInfo, prometheus.GaugeValue, 1, v, rev, runtime.Version())
}

func (l *liveConfig) topology() *topo.Topology {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.t
}

// loaded puts a reloaded configuration in force.
func (l *liveConfig) loaded(t *topo.Topology) {
	l.mu.Lock()
	l.t, l.at = t, time.Now()
	l.ok++
	l.mu.Unlock()
	l.reloads.WithLabelValues("success").Inc()
}

// failed counts a reload that was refused.
func (l *liveConfig) failed() {
	l.mu.Lock()
	l.ko++
	l.mu.Unlock()
	l.reloads.WithLabelValues("failure").Inc()
}

// info is the configuration as the API shows it.
func (l *liveConfig) info() api.Config {
	l.mu.Lock()
	defer l.mu.Unlock()
	names := map[uint64]string{}
	for _, s := range l.t.Switches {
		names[s.DPID] = s.Name
	}
	return api.Config{Hash: l.t.ShortHash(), SHA256: l.t.Hash, File: l.t.File, Loaded: l.at.UTC(),
		ReloadsSuccess: l.ok, ReloadsFailure: l.ko, Names: names}
}
