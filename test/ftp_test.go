package test

import (
	"crypto/sha256"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sixgate/sixgate/test/ovs"
)

// The FTP gateway of the NAT64 (docs/ftp-alg.md) on a real bridge:
//
//	h6   2001:db8:6::6/64, IPv6-only, curl as the FTP client, reaching
//	     the server as 64:ff9b::cb00:7150 through the NAT64
//	srv  203.0.113.80/24, IPv4-only: vsftpd on port 21 (it knows EPSV and
//	     EPRT) and pyftpdlib on port 2121 with EPSV and EPRT removed, so
//	     that the gateway retries them as PASV and PORT
//
// The NAT64 shares 203.0.113.2 and has its gateway on ports 21 and 2121.
const ftpTopology = `controller:
  listen: "tcp:127.0.0.1:%d"
  http: "127.0.0.1:%d"
switches:
  - {name: s1, dpid: "0x1"}
hosts:
  - {name: h6, switch: s1, port: 1, mac: "00:00:0c:00:00:06", ipv6: ["2001:db8:6::6"]}
  - {name: srv, switch: s1, port: 2, mac: "00:00:0c:00:00:80", ipv4: ["203.0.113.80"]}
nat64:
  mac: "00:00:0c:00:00:99"
%s  pool6: "64:ff9b::/96"
  pool4: [{address: "203.0.113.2"}]
  ipv4: {address: "203.0.113.1/24", mtu: 1500}
  ipv6: {address: "2001:db8:6::1/64", mtu: 1500}
  alg:
    ftp: {ports: [21, 2121]}
`

const (
	ftpServer6 = "64:ff9b::cb00:7150" // 203.0.113.80 through pool6
	ftpFile    = "file.bin"
	ftpIface   = "sgf-eng0"
	ftpPort    = 10
)

// vsftpdConfig serves root to anonymous users on 203.0.113.80:21, in the
// foreground, without the sandboxes that want a namespace of their own.
const vsftpdConfig = `listen=YES
listen_ipv6=NO
listen_address=203.0.113.80
listen_port=21
background=NO
anonymous_enable=YES
no_anon_password=YES
local_enable=NO
write_enable=NO
anon_root=%s
secure_chroot_dir=%s
seccomp_sandbox=NO
isolate=NO
isolate_network=NO
connect_from_port_20=YES
pasv_enable=YES
port_enable=YES
xferlog_enable=NO
syslog_enable=NO
vsftpd_log_file=%s
`

// pyftpdScript serves root anonymously on 203.0.113.80:2121 without EPSV
// and EPRT: the server answers them 500, as an old IPv4-only server does.
// It sends its 227 replies in two segments, the second 100 ms after the
// first, so that the gateway meets a reply cut in the middle.
const pyftpdScript = `import sys
from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.handlers import FTPHandler
from pyftpdlib.servers import FTPServer
a = DummyAuthorizer()
a.add_anonymous(sys.argv[1])
class Handler(FTPHandler):
    proto_cmds = {k: v for k, v in FTPHandler.proto_cmds.items() if k not in ("EPSV", "EPRT")}
    def respond(self, resp, logfun=None):
        if resp.startswith("227 "):
            self.push(resp[:20])
            self.ioloop.call_later(0.1, self.push, resp[20:] + "\r\n")
            return
        FTPHandler.respond(self, resp)
Handler.authorizer = a
print("serving", flush=True)
FTPServer(("203.0.113.80", 2121), Handler).serve_forever()
`

func TestFTPThroughNAT64(t *testing.T) {
	for _, mode := range dataPaths {
		t.Run(string(mode), func(t *testing.T) { testFTPThroughNAT64(t, mode) })
	}
}

func testFTPThroughNAT64(t *testing.T, mode dataPath) {
	ovs.Require(t)
	requireTools(t, "vsftpd", "curl", "python3")
	requirePyftpdlib(t)
	start := time.Now()
	port, metrics := freePort(t), freePort(t)
	section := ftpPortSection(mode)
	cfg := ovs.WriteFile(t, "ftp.yaml", fmt.Sprintf(ftpTopology, port, metrics, section))
	bin := ovs.BuildSixgate(t)
	if out, err := exec.Command(bin, "check", "-config", cfg).CombinedOutput(); err != nil {
		t.Fatalf("test configuration invalid: %s", out)
	}
	br := ovs.NewBridge(t, "sgf1", 0x1, fmt.Sprintf("tcp:127.0.0.1:%d", port))
	ovs.Run(t, "ovs-vsctl", "set", "controller", br.Name, "controller_queue_size=512")
	if mode.onPort() {
		ovs.AddEnginePort(t, br, ftpIface, ftpPort)
	}
	h6 := ovs.AddNetns(t, br, "sgf-h6", 1, "00:00:0c:00:00:06", "2001:db8:6::6/64")
	srv := ovs.AddNetns(t, br, "sgf-srv", 2, "00:00:0c:00:00:80", "203.0.113.80/24")
	h6.Run(t, "ip", "-6", "route", "add", "default", "via", "2001:db8:6::1", "dev", "eth0")
	srv.Run(t, "ip", "route", "add", "default", "via", "203.0.113.1", "dev", "eth0")

	// The served directory must be readable by vsftpd's unprivileged
	// user and not writable by it; 1 MB of random bytes to fetch.
	root, pub, empty, want := ftpFiles(t)
	vconf := ovs.WriteFile(t, "vsftpd.conf", fmt.Sprintf(vsftpdConfig, pub, empty, filepath.Join(root, "vsftpd.log")))
	vs := srv.Start(t, "vsftpd", vconf)
	py := srv.Start(t, "/usr/bin/python3", "-c", pyftpdScript, pub)
	t.Cleanup(func() { vs.Stop(); py.Stop() })

	d := ovs.StartSixgate(t, bin, "-config", cfg)
	if !ovs.Wait(20*time.Second, func() bool { return strings.Contains(d.Logs(), "flows synced") }) {
		t.Fatalf("sixgate did not sync the bridge:\n%s", d.Logs())
	}
	waitFTPServer(t, srv, "203.0.113.80", 21, vs)
	waitFTPServer(t, srv, "203.0.113.80", 2121, py)
	t.Logf("lab up in %v", time.Since(start).Round(time.Millisecond))
	lab := &siitLab{metrics: fmt.Sprintf("127.0.0.1:%d", metrics)}
	if _, _, err := h6.PingUntil(ftpServer6, 200*time.Millisecond, 10*time.Second); err != nil {
		resp, _ := exec.Command("curl", "-s", "http://"+lab.metrics+"/metrics").Output()
		var m []string
		for _, l := range strings.Split(string(resp), "\n") {
			if strings.HasPrefix(l, "sixgate_nat64") || strings.HasPrefix(l, "sixgate_neighbor") {
				m = append(m, l)
			}
		}
		t.Fatalf("no path to the server through the NAT64: %v\n%s\nh6 neighbors: %s\nsrv neighbors: %s\nflows: %s", err, strings.Join(m, "\n"),
			h6.Neighbors(t), srv.Neighbors(t), strings.Join(br.DumpFlows(t), "\n"))
	}

	for _, c := range []struct {
		name string
		port int
		args []string
	}{
		{"vsftpd EPSV", 21, nil},
		{"vsftpd EPRT", 21, []string{"--ftp-port", "-"}},
		{"vsftpd PASV", 21, []string{"--disable-epsv"}},
		{"no EPSV: PASV and 229", 2121, nil},
		{"no EPRT: PORT", 2121, []string{"--ftp-port", "-"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			url := fmt.Sprintf("ftp://[%s]:%d/", ftpServer6, c.port)
			out := filepath.Join(root, "got")
			os.Remove(out)
			args := append([]string{"curl", "-sS", "--max-time", "15", "-o", out}, c.args...)
			if o, err := h6.Output(20*time.Second, "", append(args, url+ftpFile)...); err != nil {
				t.Fatalf("curl RETR: %v: %s\nsixgate: %s", err, o, tail(d.Logs(), 20))
			}
			got, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprintf("%x", sha256.Sum256(got)) != want {
				t.Fatalf("file differs: %d bytes", len(got))
			}
			list, err := h6.Output(20*time.Second, "", append([]string{"curl", "-sS", "--max-time", "15"}, append(c.args, url)...)...)
			if err != nil || !strings.Contains(list, ftpFile) {
				t.Fatalf("curl LIST: %v: %s", err, list)
			}
		})
	}
	for event, least := range map[string]float64{"retry": 4, "rewrite": 6, "held": 2} {
		if v := lab.metric(t, fmt.Sprintf(`sixgate_nat64_ftp_alg_total{event=%q}`, event)); v < least {
			t.Errorf("sixgate_nat64_ftp_alg_total{event=%q} = %v, want at least %v", event, v, least)
		}
	}
	t.Logf("done in %v", time.Since(start).Round(time.Millisecond))
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// The FTP gateway of the splice (docs/ftp-alg.md, "The splice") on a
// real bridge:
//
//	c4   10.0.0.3/24, IPv4-only, curl as the FTP client, reaching the
//	     server through the VIP 10.0.0.42:21
//	srv6 2001:db8::21/64, IPv6-only: vsftpd listening on IPv6 only, and
//	     pyftpdlib on port 2121 sending its 229 replies in two segments;
//	     both see the client as 2001:db8:ffff::a00:3 (pool6)
//
// Passive data connections come to VIP ports 50000-50015; active ones
// leave vsftpd from port 20 and reach the client from VIP:20.
const spliceFTPTopology = `controller:
  listen: "tcp:127.0.0.1:%d"
  http: "127.0.0.1:%d"
subnets:
  - "10.0.0.0/24"
  - "2001:db8::/64"
switches:
  - {name: s1, dpid: "0x1"}
hosts:
  - {name: c4, switch: s1, port: 1, mac: "00:00:0d:00:00:03", ipv4: ["10.0.0.3/24"]}
  - {name: srv6, switch: s1, port: 2, mac: "00:00:0d:00:00:21", ipv6: ["2001:db8::21"]}
splice46:
  mac: "00:00:0d:00:00:42"
  pool6: "2001:db8:ffff::/96"
%s  alg:
    ftp: {passive_ports: 50000-50015, expect_timeout: 10s}
  services:
    - vip: "10.0.0.42"
      port: 21
      alg: ftp
      backends:
        - {address: "[2001:db8::21]:21"}
    - vip: "10.0.0.42"
      port: 2121
      alg: ftp
      backends:
        - {address: "[2001:db8::21]:2121"}
`

// pyftpd6Script serves root anonymously on [2001:db8::21]:2121 and sends
// its 229 replies in two segments, the second 100 ms after the first, so
// that the splice's gateway meets a reply cut in the middle.
const pyftpd6Script = `import sys
from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.handlers import FTPHandler
from pyftpdlib.servers import FTPServer
a = DummyAuthorizer()
a.add_anonymous(sys.argv[1])
class Handler(FTPHandler):
    def respond(self, resp, logfun=None):
        if resp.startswith("229 "):
            self.push(resp[:20])
            self.ioloop.call_later(0.1, self.push, resp[20:] + "\r\n")
            return
        FTPHandler.respond(self, resp)
Handler.authorizer = a
print("serving", flush=True)
FTPServer(("2001:db8::21", 2121), Handler).serve_forever()
`

// vsftpd6Config serves root to anonymous users on [2001:db8::21]:21 only.
const vsftpd6Config = `listen=NO
listen_ipv6=YES
listen_address6=2001:db8::21
listen_port=21
background=NO
anonymous_enable=YES
no_anon_password=YES
local_enable=NO
write_enable=NO
anon_root=%s
secure_chroot_dir=%s
seccomp_sandbox=NO
isolate=NO
isolate_network=NO
connect_from_port_20=YES
pasv_enable=YES
pasv_min_port=40000
pasv_max_port=40100
port_enable=YES
xferlog_enable=NO
syslog_enable=NO
vsftpd_log_file=%s
`

// requirePyftpdlib fails the test without pyftpdlib under CI=true and
// skips it otherwise, as requireTools does for commands.
func requirePyftpdlib(t *testing.T) {
	t.Helper()
	if out, err := exec.Command("/usr/bin/python3", "-c", "import pyftpdlib").CombinedOutput(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("pyftpdlib missing (scripts/install-deps.sh installs python3-pyftpdlib): %s", out)
		}
		t.Skipf("pyftpdlib missing (set CI=true to fail instead): %s", out)
	}
}

// waitFTPServer waits until server (run as d) accepts connections on
// addr and port in n.
func waitFTPServer(t *testing.T, n *ovs.Netns, addr string, port int, d *ovs.Daemon) {
	t.Helper()
	if !ovs.Wait(10*time.Second, func() bool {
		_, err := n.Output(time.Second, "", "bash", "-c", fmt.Sprintf("exec 3<>/dev/tcp/%s/%d", addr, port))
		return err == nil
	}) {
		t.Fatalf("no FTP server on %s port %d:\n%s", addr, port, d.Logs())
	}
}

func TestFTPThroughSplice(t *testing.T) {
	for _, mode := range dataPaths {
		t.Run(string(mode), func(t *testing.T) { testFTPThroughSplice(t, mode) })
	}
}

func testFTPThroughSplice(t *testing.T, mode dataPath) {
	ovs.Require(t)
	requireTools(t, "vsftpd", "curl", "python3")
	requirePyftpdlib(t)
	start := time.Now()
	port, metrics := freePort(t), freePort(t)
	section := ftpPortSection(mode)
	cfg := ovs.WriteFile(t, "splice-ftp.yaml", fmt.Sprintf(spliceFTPTopology, port, metrics, section))
	bin := ovs.BuildSixgate(t)
	if out, err := exec.Command(bin, "check", "-config", cfg).CombinedOutput(); err != nil {
		t.Fatalf("test configuration invalid: %s", out)
	}
	br := ovs.NewBridge(t, "sgf2", 0x1, fmt.Sprintf("tcp:127.0.0.1:%d", port))
	ovs.Run(t, "ovs-vsctl", "set", "controller", br.Name, "controller_queue_size=512")
	if mode.onPort() {
		ovs.AddEnginePort(t, br, ftpIface, ftpPort)
	}
	c4 := ovs.AddNetns(t, br, "sgf-c4", 1, "00:00:0d:00:00:03", "10.0.0.3/24")
	srv := ovs.AddNetns(t, br, "sgf-srv6", 2, "00:00:0d:00:00:21", "2001:db8::21/64")
	srv.Run(t, "ip", "-6", "route", "add", "2001:db8:ffff::/96", "dev", "eth0")

	root, pub, empty, want := ftpFiles(t)
	vconf := ovs.WriteFile(t, "vsftpd6.conf", fmt.Sprintf(vsftpd6Config, pub, empty, filepath.Join(root, "vsftpd.log")))
	vs := srv.Start(t, "vsftpd", vconf)
	py := srv.Start(t, "/usr/bin/python3", "-c", pyftpd6Script, pub)
	t.Cleanup(func() { vs.Stop(); py.Stop() })

	d := ovs.StartSixgate(t, bin, "-config", cfg)
	if !ovs.Wait(20*time.Second, func() bool { return strings.Contains(d.Logs(), "flows synced") }) {
		t.Fatalf("sixgate did not sync the bridge:\n%s", d.Logs())
	}
	waitFTPServer(t, srv, "2001:db8::21", 21, vs)
	waitFTPServer(t, srv, "2001:db8::21", 2121, py)
	t.Logf("lab up in %v", time.Since(start).Round(time.Millisecond))
	lab := &siitLab{metrics: fmt.Sprintf("127.0.0.1:%d", metrics)}
	packetIns := lab.metric(t, `sixgate_splice46_packets_total{event="packet_in"}`)

	for _, c := range []struct {
		name string
		port int
		args []string
	}{
		{"EPSV", 21, nil},
		{"PASV", 21, []string{"--disable-epsv"}},
		{"EPRT", 21, []string{"--ftp-port", "-"}},
		{"PORT", 21, []string{"--ftp-port", "-", "--disable-eprt"}},
		{"229 cut: PASV", 2121, []string{"--disable-epsv"}},
		{"pyftpdlib PORT", 2121, []string{"--ftp-port", "-", "--disable-eprt"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			url := fmt.Sprintf("ftp://10.0.0.42:%d/", c.port)
			out := filepath.Join(root, "got")
			os.Remove(out)
			args := append([]string{"curl", "-sS", "--max-time", "15", "-o", out}, c.args...)
			if o, err := c4.Output(20*time.Second, "", append(args, url+ftpFile)...); err != nil {
				t.Fatalf("curl RETR: %v: %s\nsixgate: %s\nvsftpd: %s\npyftpdlib: %s", err, o, tail(d.Logs(), 20), vs.Logs(), tail(py.Logs(), 20))
			}
			got, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprintf("%x", sha256.Sum256(got)) != want {
				t.Fatalf("file differs: %d bytes", len(got))
			}
			list, err := c4.Output(20*time.Second, "", append([]string{"curl", "-sS", "--max-time", "15"}, append(c.args, url)...)...)
			if err != nil || !strings.Contains(list, ftpFile) {
				t.Fatalf("curl LIST: %v: %s", err, list)
			}
		})
	}
	for event, least := range map[string]float64{"rewrite": 12, "passive_opened": 6, "active_opened": 6, "held": 2} {
		if v := lab.metric(t, fmt.Sprintf(`sixgate_proxy46_ftp_alg_total{event=%q}`, event)); v < least {
			t.Errorf("sixgate_proxy46_ftp_alg_total{event=%q} = %v, want at least %v", event, v, least)
		}
	}
	// In port mode the data connections (1 MB each way of the test)
	// take the engine port, not the controller.
	if mode.onPort() {
		if n := lab.metric(t, `sixgate_splice46_packets_total{event="packet_in"}`) - packetIns; n > 50 {
			t.Errorf("port mode: %v packet-ins during the transfers, want the data on the engine port", n)
		}
	}
	t.Logf("done in %v", time.Since(start).Round(time.Millisecond))
}
