package test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sixgate/sixgate/api"
	"github.com/sixgate/sixgate/ha/etcdtest"
	"github.com/sixgate/sixgate/test/ovs"
)

// haLease is the instances' lease; haOutageBound is what a failover may
// take beyond it (the new master's role request, its sync, and the
// client's next try).
const (
	haLease       = 2 * time.Second
	haOutageBound = 3 * time.Second
)

var listenRE = regexp.MustCompile(`listen: "tcp:127\.0\.0\.1:\d+"`)

// haInstance is one sixgate of the pair, with its own listener, HTTP
// address and name, sharing the etcd group.
type haInstance struct {
	name, config, http string
	bin                string
	d                  *ovs.Daemon
}

func (in *haInstance) start(t *testing.T) {
	t.Helper()
	in.d = ovs.StartSixgate(t, in.bin, "-config", in.config)
}

// role reads the instance's role from its read API; empty when it does
// not answer.
func (in *haInstance) role() api.Role {
	var r api.Role
	c := &http.Client{Timeout: time.Second}
	resp, err := c.Get("http://" + in.http + api.PathRole)
	if err != nil {
		return r
	}
	defer resp.Body.Close()
	json.NewDecoder(resp.Body).Decode(&r)
	return r
}

// healthz returns the status code of path, 0 when the instance does not answer.
func (in *haInstance) healthz(path string) int {
	c := &http.Client{Timeout: time.Second}
	resp, err := c.Get("http://" + in.http + path)
	if err != nil {
		return 0
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// switchRole is the role the bridge confirmed to the instance, from its
// status.
func (in *haInstance) switchRole() string {
	c := &http.Client{Timeout: time.Second}
	resp, err := c.Get("http://" + in.http + api.PathStatus)
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	var st api.Status
	json.NewDecoder(resp.Body).Decode(&st)
	if len(st.Switches) == 0 || !st.Switches[0].Connected {
		return ""
	}
	return st.Switches[0].Role
}

// controllerRoles returns the role column of the bridge's controllers
// (master, slave, other), as Open vSwitch shows them.
func controllerRoles(t *testing.T, br *ovs.Bridge) []string {
	t.Helper()
	var roles []string
	for _, id := range controllerIDs(t, br) {
		roles = append(roles, strings.Trim(strings.TrimSpace(ovs.Run(t, "ovs-vsctl", "get", "controller", id, "role")), `"`))
	}
	return roles
}

// controllerIDs returns the uuids of the bridge's controller rows.
func controllerIDs(t *testing.T, br *ovs.Bridge) []string {
	t.Helper()
	ids := strings.Trim(strings.TrimSpace(ovs.Run(t, "ovs-vsctl", "get", "bridge", br.Name, "controller")), "[]")
	var out []string
	for _, id := range strings.Split(ids, ",") {
		if id = strings.TrimSpace(id); id != "" {
			out = append(out, id)
		}
	}
	return out
}

func count(ss []string, s string) int {
	n := 0
	for _, x := range ss {
		if x == s {
			n++
		}
	}
	return n
}

// fetchLoop fetches a page through the VIP every period until stop is
// closed, recording when each attempt ended and whether it succeeded.
type fetchLoop struct {
	mu    sync.Mutex
	at    []time.Time
	ok    []bool
	stop  chan struct{}
	ended chan struct{}
}

func startFetchLoop(l *seedLab, period time.Duration) *fetchLoop {
	f := &fetchLoop{stop: make(chan struct{}), ended: make(chan struct{})}
	go func() {
		defer close(f.ended)
		for i := 0; i < 2000; i++ {
			select {
			case <-f.stop:
				return
			default:
			}
			start := time.Now()
			out, err := l.client(5*time.Second, "", "curl", "-sS", "--max-time", "1", "-H", "Host: a.example", "http://10.0.0.42:8080/")
			ok := err == nil && strings.Contains(out, "h1: Host a.example")
			f.mu.Lock()
			f.at, f.ok = append(f.at, time.Now()), append(f.ok, ok)
			f.mu.Unlock()
			time.Sleep(max(0, period-time.Since(start)))
		}
	}()
	return f
}

func (f *fetchLoop) end() {
	close(f.stop)
	<-f.ended
}

// since returns the failures after t0 and when the first success after
// the last of them came.
func (f *fetchLoop) since(t0 time.Time) (failed int, firstOK time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, at := range f.at {
		if at.Before(t0) {
			continue
		}
		if !f.ok[i] {
			failed++
			firstOK = time.Time{}
		} else if firstOK.IsZero() {
			firstOK = at
		}
	}
	return failed, firstOK
}

// haPair is two instances, a and b, of one etcd group on the seed lab's
// bridge, neither started yet.
type haPair struct {
	l    *seedLab
	srv  *etcdtest.Server
	a, b *haInstance
}

// newHAPair builds the seed lab in mode with etcd and two instance
// configurations; in port mode b has its own engine port (engineIface2 on
// port 11, the second port of the port-pair lab) and a the lab's.
func newHAPair(t *testing.T, mode dataPath) *haPair {
	t.Helper()
	srv := etcdtest.Start(t)
	l := buildSeedLab(t, mode, nil, false)
	br := l.br
	bin := l.bin
	if mode.onPort() {
		ovs.AddEnginePort(t, br, engineIface2, enginePort2)
	}
	seed, err := os.ReadFile(l.config)
	if err != nil {
		t.Fatal(err)
	}
	ports := []int{freePort(t), freePort(t)}
	var ins []*haInstance
	var targets []string
	for i, name := range []string{"a", "b"} {
		httpAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
		cfg := listenRE.ReplaceAllString(string(seed), fmt.Sprintf(`listen: "tcp:127.0.0.1:%d"`, ports[i]))
		cfg = strings.Replace(cfg, `http: "`+l.metrics+`"`, `http: "`+httpAddr+`"`, 1)
		if name == "b" {
			cfg = strings.Replace(cfg, `{interface: "`+engineIface+`", switch: s1, port: 10}`,
				fmt.Sprintf(`{interface: %q, switch: s1, port: %d}`, engineIface2, enginePort2), 1)
		}
		cfg += fmt.Sprintf("ha:\n  etcd: [%q]\n  lease: %v\n  name: %s\n  prefix: /sixgate/hatest\n", srv.Endpoint(), haLease, name)
		path := filepath.Join(t.TempDir(), name+".yaml")
		if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command(bin, "check", "-config", path).CombinedOutput(); err != nil {
			t.Fatalf("configuration of %s invalid: %s", name, out)
		}
		ins = append(ins, &haInstance{name: name, config: path, http: httpAddr, bin: bin})
		targets = append(targets, fmt.Sprintf("tcp:127.0.0.1:%d", ports[i]))
	}
	ovs.Run(t, "ovs-vsctl", append([]string{"set-controller", br.Name}, targets...)...)
	for _, id := range controllerIDs(t, br) {
		ovs.Run(t, "ovs-vsctl", "set", "controller", id, "controller_queue_size=512")
	}

	return &haPair{l: l, srv: srv, a: ins[0], b: ins[1]}
}

// startMasterAndSlave starts a, waits until it is master and has synced,
// then b, until the bridge has it as slave.
func (p *haPair) startMasterAndSlave(t *testing.T) {
	t.Helper()
	a, b := p.a, p.b
	a.start(t)
	if !ovs.Wait(20*time.Second, func() bool { return a.healthz(api.PathHealthzMaster) == 200 && a.switchRole() == "master" }) {
		t.Fatalf("a did not become master:\n%s", a.d.Logs())
	}
	if !ovs.Wait(20*time.Second, func() bool { return strings.Contains(a.d.Logs(), "flows synced") }) {
		t.Fatalf("a did not sync:\n%s", a.d.Logs())
	}
	b.start(t)
	if !ovs.Wait(20*time.Second, func() bool { return b.switchRole() == "slave" }) {
		t.Fatalf("b not a slave on the bridge:\n%s", b.d.Logs())
	}
}

// The pair of instances on one bridge, through a master's death, its
// return, etcd's loss (split brain averted) and a start without etcd.
func TestHAFailover(t *testing.T) {
	begin := time.Now()
	p := newHAPair(t, controllerMode)
	l, srv, br, bin := p.l, p.srv, p.l.br, p.l.bin
	a, b := p.a, p.b
	ins := []*haInstance{a, b}
	// Watch the role column for the whole test: never two masters.
	var watchMu sync.Mutex
	maxMasters, watching := 0, true
	watchDone := make(chan struct{})
	go func() {
		defer close(watchDone)
		for i := 0; i < 3000; i++ {
			watchMu.Lock()
			w := watching
			watchMu.Unlock()
			if !w {
				return
			}
			out, err := exec.Command("ovs-vsctl", "--timeout=5", "--columns=role", "list", "controller").Output()
			if err == nil {
				n := strings.Count(string(out), "master")
				watchMu.Lock()
				maxMasters = max(maxMasters, n)
				watchMu.Unlock()
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
	defer func() {
		watchMu.Lock()
		watching = false
		watchMu.Unlock()
		<-watchDone
		if maxMasters > 1 {
			t.Errorf("the bridge showed %d masters at once", maxMasters)
		}
		t.Logf("whole HA test: %v", time.Since(begin).Round(time.Millisecond))
	}()

	p.startMasterAndSlave(t)
	if r := b.role(); r.Role != "slave" || r.Master != "a" || r.Generation == 0 || r.Generation != a.role().Generation {
		t.Fatalf("b's view: %+v, a's %+v", r, a.role())
	}
	if b.healthz(api.PathHealthz) != 200 || b.healthz(api.PathHealthzMaster) != 503 {
		t.Errorf("b: /healthz %d, /healthz/master %d; want 200 and 503", b.healthz(api.PathHealthz), b.healthz(api.PathHealthzMaster))
	}
	if !ovs.Wait(10*time.Second, func() bool {
		r := controllerRoles(t, br)
		return count(r, "master") == 1 && count(r, "slave") == 1
	}) {
		t.Fatalf("controller roles %v, want one master and one slave", controllerRoles(t, br))
	}
	out, err := exec.Command(bin, "status", "-http", b.http).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "slave (instance b; master a, generation") {
		t.Errorf("sixgate status on b: %v\n%s", err, out)
	}
	l.expect(t, "through master a", "h1: Host a.example", "", "curl", "-sS", "--max-time", "5", "-H", "Host: a.example", "http://10.0.0.42:8080/")
	flows := br.DumpFlows(t)
	before := br.FlowDurations(t)
	genA := a.role().Generation

	// kill -9 the master while the client fetches.
	fetch := startFetchLoop(l, 100*time.Millisecond)
	time.Sleep(500 * time.Millisecond)
	a.d.Kill()
	killed := time.Now()
	if !ovs.Wait(haLease+haOutageBound, func() bool { return b.switchRole() == "master" }) {
		fetch.end()
		t.Fatalf("b not master %v after a's death:\n%s", haLease+haOutageBound, b.d.Logs())
	}
	promoted := time.Since(killed)
	var firstOK time.Time
	var failed int
	ovs.Wait(haLease+haOutageBound+5*time.Second, func() bool {
		failed, firstOK = fetch.since(killed)
		return !firstOK.IsZero() && firstOK.After(killed.Add(promoted))
	})
	fetch.end()
	if firstOK.IsZero() {
		t.Fatalf("no page served after the failover (%d failed)", failed)
	}
	outage := firstOK.Sub(killed)
	t.Logf("failover: a killed; b master on the bridge after %v, first page after %v, %d requests failed (1 s timeout, every 100 ms)",
		promoted.Round(time.Millisecond), outage.Round(time.Millisecond), failed)
	if outage > haLease+haOutageBound {
		t.Errorf("service back after %v, want at most lease %v + %v", outage, haLease, haOutageBound)
	}
	// A failed request waits out its 1 s timeout: over the outage
	// allowed, at most one per second of it, and one more under way.
	if limit := int((haLease+haOutageBound)/time.Second) + 1; failed > limit {
		t.Errorf("%d requests failed, want at most %d", failed, limit)
	}
	if r := b.role(); r.Generation <= genA {
		t.Errorf("b's generation %d, not above a's %d", r.Generation, genA)
	}
	checkNoChurn := func(what string) {
		t.Helper()
		if after := br.DumpFlows(t); strings.Join(after, "\n") != strings.Join(flows, "\n") {
			t.Errorf("%s: flow table changed:\nbefore:\n%s\nafter:\n%s", what, join(flows), join(after))
		}
		for flow, age := range br.FlowDurations(t) {
			if was, ok := before[flow]; ok && age < was {
				t.Errorf("%s: flow restarted (age %v, was %v): %s", what, age, was, flow)
			}
		}
	}
	checkNoChurn("failover")
	if !strings.Contains(b.d.Logs(), "added=0") || !strings.Contains(b.d.Logs(), "deleted=0") {
		t.Errorf("b's takeover sync changed flows:\n%s", b.d.Logs())
	}

	// The old master comes back: a slave that changes nothing.
	a.start(t)
	if !ovs.Wait(20*time.Second, func() bool { return a.switchRole() == "slave" }) {
		t.Fatalf("a did not come back as slave:\n%s", a.d.Logs())
	}
	if r := a.role(); r.Role != "slave" || r.Master != "b" {
		t.Errorf("a after restart: %+v", r)
	}
	if strings.Contains(a.d.Logs(), "flows synced") {
		t.Errorf("a, a slave, synced flows:\n%s", a.d.Logs())
	}
	checkNoChurn("old master back")
	l.expect(t, "through master b", "h1: Host a.example", "", "curl", "-sS", "--max-time", "5", "-H", "Host: a.example", "http://10.0.0.42:8080/")

	// Split brain averted: etcd goes away, b stays connected to the
	// bridge. Within the lease b stops being master, and the bridge shows
	// no master at all.
	srv.Stop()
	cut := time.Now()
	if !ovs.Wait(haLease+time.Second, func() bool { return b.switchRole() != "master" }) {
		t.Fatalf("b still master %v after etcd stopped:\n%s", haLease+time.Second, b.d.Logs())
	}
	stepped := time.Since(cut)
	if !ovs.Wait(10*time.Second, func() bool { return count(controllerRoles(t, br), "master") == 0 }) {
		t.Fatalf("bridge roles %v with etcd down, want no master", controllerRoles(t, br))
	}
	t.Logf("etcd stopped: master b stepped down after %v (lease %v), bridge shows no master after %v",
		stepped.Round(time.Millisecond), haLease, time.Since(cut).Round(time.Millisecond))
	if b.healthz(api.PathHealthzMaster) != 503 {
		t.Error("b answers /healthz/master without a lease")
	}

	// etcd down at start: a restarted now waits, says so, never master.
	a.d.Kill()
	a.start(t)
	if !ovs.Wait(15*time.Second, func() bool {
		return strings.Contains(a.d.Logs(), "waiting and retrying") && a.switchRole() == "slave"
	}) {
		t.Fatalf("a started without etcd: no wait logged or not a slave:\n%s", a.d.Logs())
	}
	time.Sleep(haLease) // a chance to misbehave; the watcher checks the bridge meanwhile
	if a.switchRole() == "master" || b.switchRole() == "master" || count(controllerRoles(t, br), "master") != 0 {
		t.Fatalf("a master without etcd: roles %v", controllerRoles(t, br))
	}
	checkNoChurn("etcd down")

	// etcd back: one master again, the table as it was, service back.
	srv.Restart()
	back := time.Now()
	if !ovs.Wait(15*time.Second, func() bool {
		return count(controllerRoles(t, br), "master") == 1 && (a.switchRole() == "master" || b.switchRole() == "master")
	}) {
		t.Fatalf("no master after etcd came back: %v", controllerRoles(t, br))
	}
	t.Logf("etcd back: a master again after %v", time.Since(back).Round(time.Millisecond))
	l.expect(t, "after etcd came back", "h1: Host a.example", "", "curl", "-sS", "--max-time", "5", "-H", "Host: a.example", "http://10.0.0.42:8080/")
	checkNoChurn("etcd back")
	for _, in := range ins {
		if code := in.d.Stop(); code != 0 {
			t.Errorf("%s: SIGTERM: exit %d", in.name, code)
		}
	}
}

// In port mode each instance has its own engine port: the steering flows
// follow the master, and a slave's engine port gets nothing.
func TestHAPortMode(t *testing.T) {
	p := newHAPair(t, portMode)
	l, br, a, b := p.l, p.l.br, p.a, p.b
	p.startMasterAndSlave(t)
	portOf := map[string]string{"a": fmt.Sprint(enginePort), "b": fmt.Sprint(enginePort2)}
	steersTo := func(name string) bool {
		flows := join(br.DumpFlows(t)) + join(br.DumpGroups(t))
		return strings.Contains(flows, "output:"+portOf[name])
	}
	if !steersTo("a") || steersTo("b") {
		t.Fatalf("with a master, steering should reach port %s only:\n%s", portOf["a"], join(br.DumpFlows(t)))
	}
	frames := func(in *haInstance, event, iface string) float64 {
		return (&seedLab{metrics: in.http}).metric(t, fmt.Sprintf(`sixgate_splice46_port_frames_total{event=%q,interface=%q}`, event, iface))
	}
	bFrames := func() float64 { return frames(b, "received", engineIface2) }
	// What the bridge floods (neighbor discovery) reaches every port; a
	// request's spliced segments, a dozen each way, reach the master's
	// only, and the slave's engine sends nothing.
	bBefore := bFrames()
	l.expect(t, "through a's engine port", "h1: Host a.example", "", "curl", "-sS", "--max-time", "5", "-H", "Host: a.example", "http://10.0.0.42:8080/")
	if n := frames(a, "received", engineIface); n < 5 {
		t.Errorf("a's engine port received %v frames, want the spliced segments", n)
	}
	if n := bFrames() - bBefore; n >= 5 {
		t.Errorf("slave b's engine port received %v frames during a request through a", n)
	}
	if n := frames(b, "sent", engineIface2); n != 0 {
		t.Errorf("slave b's engine sent %v frames", n)
	}

	a.d.Kill()
	killed := time.Now()
	if !ovs.Wait(haLease+haOutageBound, func() bool { return b.switchRole() == "master" && steersTo("b") && !steersTo("a") }) {
		t.Fatalf("steering not moved to b's port %v after a's death:\n%s", haLease+haOutageBound, join(br.DumpFlows(t)))
	}
	t.Logf("port mode: steering on b's engine port %v after a's death", time.Since(killed).Round(time.Millisecond))
	l.expect(t, "through b's engine port", "h1: Host a.example", "", "curl", "-sS", "--max-time", "5", "-H", "Host: a.example", "http://10.0.0.42:8080/")
	if n := frames(b, "sent", engineIface2); n < 5 {
		t.Errorf("b's engine sent %v frames after the takeover, want the spliced segments", n)
	}
}
