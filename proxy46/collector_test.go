package proxy46

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func TestCollector(t *testing.T) {
	e, _ := newTestEngine(t, nil)
	establishedPair(t, e, 10)
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(NewCollector(e))
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, mf := range families {
		if mf.GetName() == "sixgate_proxy46_connections_spliced_total" {
			found = true
			if v := mf.GetMetric()[0].GetCounter().GetValue(); v != 1 {
				t.Errorf("spliced = %v, want 1", v)
			}
		}
	}
	if !found || len(families) < 10 {
		t.Fatalf("%d metric families, spliced found %v", len(families), found)
	}
}
