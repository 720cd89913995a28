package main

import (
	"testing"
	"time"
)

func TestParseWrk(t *testing.T) {
	out := `Running 2s test @ http://10.0.0.42:8080/
  1 threads and 1 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.62ms    1.01ms  12.00ms   93.00%
  Latency Distribution
     50%    1.50ms
     75%    1.80ms
     90%    2.10ms
     99%  780.00us
  1190 requests in 2.00s, 170.00KB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 3
Requests/sec:    594.61
Transfer/sec:     85.00KB
`
	w := parseWrk(out)
	if w.rps != 594.61 || w.requests != 1190 || w.errors != 6 || w.p50 != 1500*time.Microsecond || w.p99 != 780*time.Microsecond {
		t.Errorf("parseWrk = %+v", w)
	}
}

func TestParseMicro(t *testing.T) {
	out := []byte(`goos: linux
BenchmarkEstablished/conns=1/payload=64/client-to-backend-2         	 3013423	        69.08 ns/op	1679.14 MB/s	       0 B/op	       0 allocs/op
BenchmarkEstablished/conns=1000000/payload=1460/backend-to-client-2 	 2733810	        84.48 ns/op	       0 B/op	       1 allocs/op
PASS
`)
	ms := parseMicro(out)
	if len(ms) != 2 {
		t.Fatalf("parsed %d lines, want 2: %+v", len(ms), ms)
	}
	if m := ms[0]; m.Conns != 1 || m.Payload != 64 || m.Direction != "client-to-backend" || m.NsPerOp != 69.08 || m.AllocsPerOp != 0 {
		t.Errorf("first = %+v", m)
	}
	if m := ms[1]; m.Conns != 1000000 || m.Payload != 1460 || m.Direction != "backend-to-client" || m.AllocsPerOp != 1 {
		t.Errorf("second = %+v", m)
	}
}

func TestParseIperf(t *testing.T) {
	r, err := parseIperf(`{"start": {}, "end": {"sum_received": {"bits_per_second": 552000000.5, "bytes": 207000000}}}`)
	if err != nil || r.mbps < 551.9 || r.mbps > 552.1 || r.bytes != 207000000 {
		t.Errorf("parseIperf = %+v, %v", r, err)
	}
	if _, err := parseIperf(`{"error": "unable to connect to server"}`); err == nil {
		t.Error("iperf3 error not reported")
	}
}

func TestParseChoose(t *testing.T) {
	out := []byte("BenchmarkChooseByName/names=10-2         	 3072048	        79.13 ns/op	       0 B/op	       0 allocs/op\n" +
		"BenchmarkChooseByName/names=100000-2     	 2863474	        83.32 ns/op	       0 B/op	       0 allocs/op\n")
	ms := parseChoose(out)
	if len(ms) != 2 || ms[1].Conns != 100000 || ms[1].NsPerOp != 83.32 || ms[1].AllocsPerOp != 0 || ms[0].Direction != "choose-by-name" {
		t.Errorf("parseChoose = %+v", ms)
	}
}

func TestParseProcStat(t *testing.T) {
	// The command name may hold spaces and parentheses; utime and stime
	// are fields 14 and 15.
	d, err := parseProcStat("4242 (a (b) c) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 9 0 1000 1 1 1\n")
	if err != nil || d != 3250*time.Millisecond {
		t.Errorf("parseProcStat = %v, %v; want 3.25s", d, err)
	}
	if _, err := parseProcStat("4242 (x) S 1 2"); err == nil {
		t.Error("short /proc/PID/stat accepted")
	}
}

func TestParseMachineStat(t *testing.T) {
	// user nice system idle iowait irq softirq steal: busy is all but
	// idle, iowait and steal.
	d, err := parseMachineStat("cpu  100 10 50 9000 30 5 20 7 0 0\ncpu0 1 2 3 4 5 6 7 8 0 0\n")
	if err != nil || d != 1850*time.Millisecond {
		t.Errorf("parseMachineStat = %v, %v; want 1.85s", d, err)
	}
	if _, err := parseMachineStat("intr 1 2 3\n"); err == nil {
		t.Error("/proc/stat without the cpu line accepted")
	}
}
