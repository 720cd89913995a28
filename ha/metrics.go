package ha

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	won    prometheus.Counter
	fenced prometheus.Counter
}

func newMetrics(reg prometheus.Registerer, e *Elector) (*metrics, error) {
	m := &metrics{
		won: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "sixgate", Subsystem: "ha",
			Name: "elections_won_total", Help: "Times this instance became master."}),
		fenced: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "sixgate", Subsystem: "ha",
			Name: "leases_lost_total", Help: "Leases lost or given up because no keepalive was answered within the lease less the margin."}),
	}
	gauge := func(name, help string, f func(Status) float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "sixgate", Subsystem: "ha", Name: name, Help: help},
			func() float64 { return f(e.Status()) })
	}
	b := func(v bool) float64 {
		if v {
			return 1
		}
		return 0
	}
	for _, c := range []prometheus.Collector{m.won, m.fenced,
		gauge("master", "1 while this instance is master, 0 while slave.", func(s Status) float64 { return b(s.Role == "master") }),
		gauge("lease", "1 while this instance holds a live lease in etcd.", func(s Status) float64 { return b(s.Lease) }),
		gauge("generation_id", "The generation id of the current master as this instance knows it.", func(s Status) float64 { return float64(s.Generation) }),
		&masterInfo{e},
	} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// masterInfo is sixgate_ha_master_info{name, master} 1: this instance's
// name and the master's, as last seen.
type masterInfo struct{ e *Elector }

var masterInfoDesc = prometheus.NewDesc("sixgate_ha_master_info",
	"This instance's name and the current master's name as last seen in etcd (empty when unknown).", []string{"name", "master"}, nil)

func (m *masterInfo) Describe(ch chan<- *prometheus.Desc) { ch <- masterInfoDesc }

func (m *masterInfo) Collect(ch chan<- prometheus.Metric) {
	s := m.e.Status()
	ch <- prometheus.MustNewConstMetric(masterInfoDesc, prometheus.GaugeValue, 1, s.Name, s.Master)
}
