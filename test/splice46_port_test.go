package test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sixgate/sixgate/test/ovs"
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

// iperf3 runs a 5-second iperf3 test from n to addr and returns the
// receiver's rate in Gb/s.
func iperf3(t *testing.T, n *ovs.Netns, addr string, reverse bool) float64 {
	t.Helper()
	args := []string{"iperf3", "-J", "-t", "5", "-c", addr, "-p", "5201"}
	if reverse {
		args = append(args, "-R")
	}
	out, err := n.Output(60*time.Second, "", args...)
	var r struct {
		End struct {
			SumReceived struct {
				BitsPerSecond float64 `json:"bits_per_second"`
			} `json:"sum_received"`
		} `json:"end"`
		Error string `json:"error"`
	}
	if jerr := json.Unmarshal([]byte(out), &r); err != nil || jerr != nil || r.Error != "" {
		t.Fatalf("iperf3 %v: %v %v %s: %s", args, err, jerr, r.Error, out)
	}
	return r.End.SumReceived.BitsPerSecond / 1e9
}

// startIperf3 runs an iperf3 server on h1 and waits until it listens.
func startIperf3(t *testing.T, l *seedLab) {
	t.Helper()
	l.h1.Start(t, "iperf3", "-s", "-p", "5201")
	if !ovs.Wait(10*time.Second, func() bool {
		return strings.Contains(l.h1.Run(t, "ss", "-ltnH", "sport", "= :5201"), "5201")
	}) {
		t.Fatal("iperf3 server on h1 did not start")
	}
}

// TestSpliceIperf3 measures one TCP stream through each data path and
// plain IPv6 forwarding (h2 to h1 on the same bridge) as the ceiling. It
// asserts only that every run completes; the figures are for the log.
func TestSpliceIperf3(t *testing.T) {
	rates := map[string][2]float64{}
	for _, mode := range dataPaths {
		t.Run(string(mode), func(t *testing.T) {
			l := newSeedLabIn(t, mode)
			startIperf3(t, l)
			up, down := iperf3(t, l.h3, "10.0.0.42", false), iperf3(t, l.h3, "10.0.0.42", true)
			rates[string(mode)+" mode"] = [2]float64{up, down}
			if mode.onPort() {
				rates["plain IPv6"] = [2]float64{iperf3(t, l.h2, "2001:db8::1", false), iperf3(t, l.h2, "2001:db8::1", true)}
			}
		})
	}
	for _, name := range []string{"controller mode", "port mode", "plain IPv6"} {
		if r, ok := rates[name]; ok {
			t.Logf("iperf3, one stream, 5 s: %-15s client->server %6.2f Gb/s, server->client %6.2f Gb/s", name, r[0], r[1])
		}
	}
}
