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
	if w.rps != 594.61 || w.errors != 6 || w.p50 != 1500*time.Microsecond || w.p99 != 780*time.Microsecond {
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
	mbps, err := parseIperf(`{"start": {}, "end": {"sum_received": {"bits_per_second": 552000000.5}}}`)
	if err != nil || mbps < 551.9 || mbps > 552.1 {
		t.Errorf("parseIperf = %v, %v", mbps, err)
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
