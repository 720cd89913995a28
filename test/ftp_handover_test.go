package test

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sixgate/sixgate/test/ovs"
)

// An FTP control connection across the hand-over (docs/ha.md): a client
// (Python's ftplib, one control connection throughout) fetches the file
// through the gateway, which rewrites its lines to other lengths; sixgate
// is then replaced through `sixgate handover`, and the same control
// connection fetches the file again in both modes and lists the
// directory. Every copy is checked by sha256.

// ftpHandoverClient logs in to argv[1]:argv[2], fetches argv[4] in active
// mode, waits for the file argv[3] to appear (the hand-over is done),
// then fetches it in passive and active mode and lists the directory, on
// the same control connection, printing what it got.
const ftpHandoverClient = `import ftplib, hashlib, os, sys, time
host, port, go, name = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
f = ftplib.FTP()
f.connect(host, port, timeout=15)
f.login()
def retr(passive):
    f.set_pasv(passive)
    h = hashlib.sha256()
    f.retrbinary("RETR " + name, h.update)
    return h.hexdigest()
print("before active", retr(False), flush=True)
for i in range(300):
    if os.path.exists(go):
        break
    time.sleep(0.1)
else:
    sys.exit("the hand-over did not come")
print("after passive", retr(True), flush=True)
print("after active", retr(False), flush=True)
print("list", " ".join(f.nlst()), flush=True)
f.quit()
print("done", flush=True)
`

// ftpFiles makes the served directory (readable by vsftpd's unprivileged
// user, not writable by it) with 1 MB of random bytes, and returns it,
// an empty directory for vsftpd, and the file's sha256.
func ftpFiles(t *testing.T) (root, pub, empty, sum string) {
	root, err := os.MkdirTemp("", "sixgate-ftpho-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	pub, empty = filepath.Join(root, "pub"), filepath.Join(root, "empty")
	for _, d := range []string{pub, empty} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.Chmod(root, 0o755)
	data := make([]byte, 1<<20)
	rand.Read(data)
	if err := os.WriteFile(filepath.Join(pub, ftpFile), data, 0o644); err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(data)
	return root, pub, empty, hex.EncodeToString(s[:])
}

// ftpAcrossHandover runs ftpHandoverClient in client toward host:port,
// hands sixgate (d, started with -handover sock) over to a new process
// once the first fetch is done, and checks every fetch. It returns the
// new process.
func ftpAcrossHandover(t *testing.T, client *ovs.Netns, host string, port int, d *ovs.Daemon, bin, cfg, sock, root, sum string) *ovs.Daemon {
	t.Helper()
	start := time.Now()
	gofile := filepath.Join(root, "go")
	py := client.Start(t, "/usr/bin/python3", "-c", ftpHandoverClient, host, fmt.Sprint(port), gofile, ftpFile)
	t.Cleanup(func() { py.Stop() })
	if !ovs.Wait(20*time.Second, func() bool { return strings.Contains(py.Logs(), "before active") }) {
		t.Fatalf("the first fetch did not end:\n%s\nsixgate: %s", py.Logs(), tail(d.Logs(), 20))
	}
	if !strings.Contains(py.Logs(), "before active "+sum) {
		t.Fatalf("the first fetch differs:\n%s", py.Logs())
	}
	fetched := time.Since(start)
	started := time.Now()
	nd := ovs.StartSixgate(t, bin, "-config", cfg, "-handover", sock)
	if code := d.Wait(30 * time.Second); code != 0 {
		t.Fatalf("old process: exit %d after the hand-over, want 0:\n%s\nnew: %s", code, d.Logs(), nd.Logs())
	}
	if !ovs.Wait(20*time.Second, func() bool { return strings.Contains(nd.Logs(), "hand-over complete: serving") }) {
		t.Fatalf("the new process did not confirm:\n%s", nd.Logs())
	}
	handedOver := time.Since(started)
	if err := os.WriteFile(gofile, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if code := py.Wait(30 * time.Second); code != 0 || !strings.Contains(py.Logs(), "done") {
		t.Fatalf("the control connection did not survive the hand-over (exit %d):\n%s\nnew process: %s", code, py.Logs(), tail(nd.Logs(), 30))
	}
	for _, what := range []string{"after passive", "after active"} {
		if !strings.Contains(py.Logs(), what+" "+sum) {
			t.Errorf("%s the hand-over: the file differs:\n%s", what, py.Logs())
		}
	}
	if !regexp.MustCompile(`list .*` + regexp.QuoteMeta(ftpFile)).MatchString(py.Logs()) {
		t.Errorf("the listing after the hand-over lacks %s:\n%s", ftpFile, py.Logs())
	}
	t.Logf("first fetch %v; hand-over %v; after it, two fetches and a listing on the same control connection in %v",
		fetched.Round(time.Millisecond), handedOver.Round(time.Millisecond), time.Since(started).Round(time.Millisecond))
	return nd
}

// TestFTPHandoverSplice: an IPv4 client's control connection through the
// splice to vsftpd on IPv6 (PORT rewritten as a longer EPRT, 229 replies
// as 227) survives the hand-over, in each data path.
func TestFTPHandoverSplice(t *testing.T) {
	for _, mode := range dataPaths {
		t.Run(string(mode), func(t *testing.T) { testFTPHandoverSplice(t, mode) })
	}
}

// ftpPortSection is the engine section's lines for port mode.
func ftpPortSection(mode dataPath) string {
	if !mode.onPort() {
		return ""
	}
	return fmt.Sprintf("  mode: port\n  ports: [{interface: %q, switch: s1, port: %d}]\n", ftpIface, ftpPort)
}

func testFTPHandoverSplice(t *testing.T, mode dataPath) {
	ovs.Require(t)
	requireTools(t, "vsftpd", "python3")
	start := time.Now()
	port, metrics := freePort(t), freePort(t)
	cfg := ovs.WriteFile(t, "splice-ftp-ho.yaml", fmt.Sprintf(spliceFTPTopology, port, metrics, ftpPortSection(mode)))
	bin := ovs.BuildSixgate(t)
	if out, err := exec.Command(bin, "check", "-config", cfg).CombinedOutput(); err != nil {
		t.Fatalf("test configuration invalid: %s", out)
	}
	br := ovs.NewBridge(t, "sgf3", 0x1, fmt.Sprintf("tcp:127.0.0.1:%d", port))
	ovs.Run(t, "ovs-vsctl", "set", "controller", br.Name, "controller_queue_size=512")
	if mode.onPort() {
		ovs.AddEnginePort(t, br, ftpIface, ftpPort)
	}
	c4 := ovs.AddNetns(t, br, "sgh-c4", 1, "00:00:0d:00:00:03", "10.0.0.3/24")
	srv := ovs.AddNetns(t, br, "sgh-srv6", 2, "00:00:0d:00:00:21", "2001:db8::21/64")
	srv.Run(t, "ip", "-6", "route", "add", "2001:db8:ffff::/96", "dev", "eth0")
	root, pub, empty, sum := ftpFiles(t)
	vconf := ovs.WriteFile(t, "vsftpd6-ho.conf", fmt.Sprintf(vsftpd6Config, pub, empty, filepath.Join(root, "vsftpd.log")))
	vs := srv.Start(t, "vsftpd", vconf)
	t.Cleanup(func() { vs.Stop() })

	sock := filepath.Join(t.TempDir(), "handover.sock")
	d := ovs.StartSixgate(t, bin, "-config", cfg, "-handover", sock)
	if !ovs.Wait(20*time.Second, func() bool { return strings.Contains(d.Logs(), "flows synced") }) {
		t.Fatalf("sixgate did not sync the bridge:\n%s", d.Logs())
	}
	waitFTPServer(t, srv, "2001:db8::21", 21, vs)
	t.Logf("lab up in %v", time.Since(start).Round(time.Millisecond))
	nd := ftpAcrossHandover(t, c4, "10.0.0.42", 21, d, bin, cfg, sock, root, sum)
	if !regexp.MustCompile(`connections taken over.* ftp_expectations_dropped=0 ftp_gateways_dropped=0`).MatchString(nd.Logs()) {
		t.Errorf("the new process did not say it took the FTP gateway over:\n%s", matchingLines(nd.Logs(), regexp.MustCompile(`taken over`)))
	}
	lab := &siitLab{metrics: fmt.Sprintf("127.0.0.1:%d", metrics)}
	// Counted by the new process alone: the two fetches after the
	// hand-over, PASV's 227 and PORT's EPRT at least.
	if v := lab.metric(t, `sixgate_proxy46_ftp_alg_total{event="rewrite"}`); v < 2 {
		t.Errorf("the new process rewrote %v lines, want at least 2", v)
	}
	if code := nd.Stop(); code != 0 {
		t.Errorf("new process: SIGTERM: exit %d", code)
	}
	t.Logf("done in %v", time.Since(start).Round(time.Millisecond))
}

// TestFTPHandoverNAT64: an IPv6 client's control connection through the
// NAT64 to pyftpdlib on IPv4 without EPSV and EPRT (EPRT rewritten to
// |1| and retried as PORT, EPSV retried as PASV, the 227 reply cut in
// two) survives the hand-over, and the gateway remembers after it that the
// server refuses EPRT; in each data path.
func TestFTPHandoverNAT64(t *testing.T) {
	for _, mode := range dataPaths {
		t.Run(string(mode), func(t *testing.T) { testFTPHandoverNAT64(t, mode) })
	}
}

func testFTPHandoverNAT64(t *testing.T, mode dataPath) {
	ovs.Require(t)
	requireTools(t, "python3")
	requirePyftpdlib(t)
	start := time.Now()
	port, metrics := freePort(t), freePort(t)
	cfg := ovs.WriteFile(t, "ftp-ho.yaml", fmt.Sprintf(ftpTopology, port, metrics, ftpPortSection(mode)))
	bin := ovs.BuildSixgate(t)
	if out, err := exec.Command(bin, "check", "-config", cfg).CombinedOutput(); err != nil {
		t.Fatalf("test configuration invalid: %s", out)
	}
	br := ovs.NewBridge(t, "sgf4", 0x1, fmt.Sprintf("tcp:127.0.0.1:%d", port))
	ovs.Run(t, "ovs-vsctl", "set", "controller", br.Name, "controller_queue_size=512")
	if mode.onPort() {
		ovs.AddEnginePort(t, br, ftpIface, ftpPort)
	}
	h6 := ovs.AddNetns(t, br, "sgh-h6", 1, "00:00:0c:00:00:06", "2001:db8:6::6/64")
	srv := ovs.AddNetns(t, br, "sgh-srv", 2, "00:00:0c:00:00:80", "203.0.113.80/24")
	h6.Run(t, "ip", "-6", "route", "add", "default", "via", "2001:db8:6::1", "dev", "eth0")
	srv.Run(t, "ip", "route", "add", "default", "via", "203.0.113.1", "dev", "eth0")
	root, pub, _, sum := ftpFiles(t)
	py := srv.Start(t, "/usr/bin/python3", "-c", pyftpdScript, pub)
	t.Cleanup(func() { py.Stop() })

	sock := filepath.Join(t.TempDir(), "handover.sock")
	d := ovs.StartSixgate(t, bin, "-config", cfg, "-handover", sock)
	if !ovs.Wait(20*time.Second, func() bool { return strings.Contains(d.Logs(), "flows synced") }) {
		t.Fatalf("sixgate did not sync the bridge:\n%s", d.Logs())
	}
	waitFTPServer(t, srv, "203.0.113.80", 2121, py)
	if _, _, err := h6.PingUntil(ftpServer6, 200*time.Millisecond, 10*time.Second); err != nil {
		t.Fatalf("no path to the server through the NAT64: %v", err)
	}
	t.Logf("lab up in %v", time.Since(start).Round(time.Millisecond))
	nd := ftpAcrossHandover(t, h6, ftpServer6, 2121, d, bin, cfg, sock, root, sum)
	if !regexp.MustCompile(`nat64 tables taken over.* ftp_control=1 ftp_control_dropped=0`).MatchString(nd.Logs()) {
		t.Errorf("the new process did not say it took the FTP gateway over:\n%s", matchingLines(nd.Logs(), regexp.MustCompile(`taken over`)))
	}
	lab := &siitLab{metrics: fmt.Sprintf("127.0.0.1:%d", metrics)}
	// The server refused EPRT before the hand-over: after it, the EPRT
	// goes to it as PORT at once (a rewrite, no retry); the EPSV, tried
	// for the first time, is retried as PASV once.
	if v := lab.metric(t, `sixgate_nat64_ftp_alg_total{event="retry"}`); v != 1 {
		t.Errorf("the new process retried %v commands, want the EPSV alone", v)
	}
	if v := lab.metric(t, `sixgate_nat64_ftp_alg_total{event="rewrite"}`); v < 2 {
		t.Errorf("the new process rewrote %v lines, want at least 2", v)
	}
	if code := nd.Stop(); code != 0 {
		t.Errorf("new process: SIGTERM: exit %d", code)
	}
	t.Logf("done in %v", time.Since(start).Round(time.Millisecond))
}
