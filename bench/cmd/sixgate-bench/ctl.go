package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/sixgate/sixgate/bench/cbench"
	"github.com/sixgate/sixgate/bench/lab"
	"github.com/sixgate/sixgate/bench/report"
	"github.com/sixgate/sixgate/test/ovs"
)

// runControllers measures sixgate (`sixgate -app learning`) and os-ken
// (bench/osken/learning_switch.py), each as its own process, with the same
// simulated switches. Both run one learning switch and nothing else, so
// the figures compare the controllers' cores: framing, decoding, dispatch
// and encoding.
func runControllers(ctx context.Context, o *options, t *lab.T) ([]report.Controller, string) {
	note := fmt.Sprintf("16 simulated switches, 100 hosts each, 64-byte frames; throughput mode keeps 100 packet-ins outstanding per switch, latency mode one; %v counted after 1 s of warm-up. Throughput-mode latency is mostly queueing (1600 outstanding / rate); latency mode is the per-packet-in cost. Each controller is its own process; the simulator shares the machine with it.", o.duration)
	var out []report.Controller

	o.progress("controller: sixgate -app learning")
	sg := report.Controller{Name: "sixgate"}
	if err := t.Do(func() {
		dir := t.TempDir()
		bin, err := build(ctx, o, dir, "./cmd/sixgate", "sixgate")
		if err != nil {
			t.Fatal(err)
		}
		port := freePort(t)
		cfg := filepath.Join(dir, "learning.yaml")
		// The file must declare a switch to be valid; -app learning uses
		// only its controller section.
		body := fmt.Sprintf("controller: {listen: \"tcp:127.0.0.1:%d\", http: \"off\"}\nswitches: [{name: s1, dpid: \"0x1\"}]\n", port)
		if err := os.WriteFile(cfg, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		d := ovs.StartSixgate(t, bin, "-app", "learning", "-config", cfg, "-log-level", "warn")
		measureController(ctx, o, t, &sg, port, d)
	}); err != nil {
		sg.Available, sg.Note = false, err.Error()
	}
	out = append(out, sg)

	o.progress("controller: os-ken")
	ok := report.Controller{Name: "os-ken " + oskenVersion()}
	if _, err := exec.LookPath("osken-manager"); err != nil {
		ok.Note = "osken-manager not installed (apt-get install python3-os-ken)"
		return append(out, ok), note
	}
	if err := t.Do(func() {
		port := freePort(t)
		app := filepath.Join(o.root, "bench", "osken", "learning_switch.py")
		d := ovs.StartSixgate(t, "osken-manager", "--ofp-listen-host", "127.0.0.1", "--ofp-tcp-listen-port", fmt.Sprint(port), app)
		measureController(ctx, o, t, &ok, port, d)
	}); err != nil {
		ok.Available, ok.Note = false, err.Error()
	}
	return append(out, ok), note
}

// measureController waits for the controller to listen, runs cbench in
// both modes and stops it.
func measureController(ctx context.Context, o *options, t *lab.T, c *report.Controller, port int, d *ovs.Daemon) {
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	if !ovs.Wait(20*time.Second, func() bool {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			conn.Close()
		}
		return err == nil || d.Wait(0) >= 0
	}) || d.Wait(0) >= 0 {
		t.Fatalf("%s did not start listening on %s: %s", c.Name, addr, lastLines([]byte(d.Logs()), 5))
	}
	for _, mode := range []cbench.Mode{cbench.Throughput, cbench.Latency} {
		res, err := cbench.Run(ctx, cbench.Config{Addr: addr, Mode: mode, Duration: o.duration})
		if err != nil {
			t.Fatalf("cbench %s: %v; controller said: %s", mode, err, lastLines([]byte(d.Logs()), 5))
		}
		o.progress("  %s", res)
		if mode == cbench.Throughput {
			c.Throughput = res
		} else {
			c.Latency = res
		}
	}
	c.Available = true
	d.Stop()
}

func oskenVersion() string {
	b, err := exec.Command("osken-manager", "--version").CombinedOutput()
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return ""
	}
	return f[len(f)-1]
}

// freePort returns a TCP port free on the loopback now.
func freePort(t *lab.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
