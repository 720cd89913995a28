package test

import (
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"testing"
)

// metric returns the value of the sample whose line starts with name and
// labels as written ("name{a=\"b\"}"), 0 when absent.
func (l *seedLab) metric(t *testing.T, series string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + l.metrics + "/metrics")
	if err != nil {
		t.Fatalf("metrics: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`).FindSubmatch(body)
	if m == nil {
		return 0
	}
	v, _ := strconv.ParseFloat(string(m[1]), 64)
	return v
}

// checkDataPath checks, after the seed demo's requests, that the spliced
// segments took the lab's data path: packet-ins in controller mode, frames
// on the engine interface in port mode, where the controller only sees
// the ping.
func (l *seedLab) checkDataPath(t *testing.T) {
	t.Helper()
	packetIns := l.metric(t, `sixgate_splice46_packets_total{event="packet_in"}`)
	frames := l.metric(t, fmt.Sprintf(`sixgate_splice46_port_frames_total{event="received",interface=%q}`, engineIface))
	sent := l.metric(t, fmt.Sprintf(`sixgate_splice46_port_frames_total{event="sent",interface=%q}`, engineIface))
	t.Logf("%s mode: %v packet-ins, %v frames received and %v sent on the engine port", l.mode, packetIns, frames, sent)
	switch l.mode {
	case controllerMode:
		if packetIns < 20 || frames != 0 {
			t.Errorf("controller mode: %v packet-ins and %v engine port frames", packetIns, frames)
		}
	case portMode, portRingMode:
		if frames < 20 || sent < 20 {
			t.Errorf("port mode: %v frames received and %v sent on the engine port, want the spliced segments", frames, sent)
		}
		if packetIns > 5 {
			t.Errorf("port mode: %v packet-ins, want only the ping's", packetIns)
		}
	}
}

// TestSpliceIperf3 measures one TCP stream through each data path and
// plain IPv6 forwarding (h2 to h1 on the same bridge) as the ceiling. It
// asserts only that every run completes; the figures are for the log.
