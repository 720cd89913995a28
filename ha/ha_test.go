package ha

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/sixgate/sixgate/controller/ofptest"
	"github.com/sixgate/sixgate/ha/etcdtest"
)

// instance is one Elector run by a test, with what it reported.
type instance struct {
	e      *Elector
	cancel context.CancelFunc
	done   chan struct{}

	mu    sync.Mutex
	roles []Role
	at    []time.Time
	log   bytes.Buffer
}

func (in *instance) last() Role {
	in.mu.Lock()
	defer in.mu.Unlock()
	if len(in.roles) == 0 {
		return Role{}
	}
	return in.roles[len(in.roles)-1]
}

func (in *instance) everMaster() bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	for _, r := range in.roles {
		if r.Master {
			return true
		}
	}
	return false
}

func (in *instance) logged() string {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.log.String()
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

func run(t *testing.T, endpoint, name string) *instance {
	t.Helper()
	in := &instance{done: make(chan struct{})}
	log := logrus.New()
	log.SetOutput(lockedWriter{&in.mu, &in.log})
	e, err := New(Config{
		Endpoints: []string{endpoint}, Lease: 2 * time.Second, Name: name, Prefix: "/sixgate/test",
		Log: logrus.NewEntry(log),
		OnRole: func(r Role) {
			in.mu.Lock()
			in.roles = append(in.roles, r)
			in.at = append(in.at, time.Now())
			in.mu.Unlock()
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	in.e = e
	ctx, cancel := context.WithCancel(context.Background())
	in.cancel = cancel
	go func() {
		defer close(in.done)
		e.Run(ctx)
	}()
	t.Cleanup(in.stop)
	return in
}

func (in *instance) stop() {
	in.cancel()
	<-in.done
}

func TestOneMasterThenFailover(t *testing.T) {
	srv := etcdtest.Start(t)
	a := run(t, srv.Endpoint(), "a")
	ofptest.WaitFor(t, "a master", func() bool { return a.e.IsMaster() })
	b := run(t, srv.Endpoint(), "b")
	ofptest.WaitFor(t, "b sees a as master", func() bool { return b.e.Status().Master == "a" })
	if b.e.IsMaster() || b.everMaster() {
		t.Fatal("two masters")
	}
	genA := a.last().Generation
	if genA == 0 || b.e.Status().Generation != genA {
		t.Fatalf("generations: a %d, b sees %d", genA, b.e.Status().Generation)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := a.e.Put(ctx, "dhcp/10.0.0.5", []byte("lease")); err != nil {
		t.Fatalf("master's Put: %v", err)
	}
	if err := b.e.Put(ctx, "dhcp/10.0.0.5", []byte("other")); !errors.Is(err, ErrNotMaster) {
		t.Fatalf("slave's Put: %v, want ErrNotMaster", err)
	}

	// A clean stop gives the lease up: b takes over at once.
	a.stop()
	start := time.Now()
	ofptest.WaitFor(t, "b master", func() bool { return b.e.IsMaster() })
	if d := time.Since(start); d > time.Second {
		t.Errorf("takeover after a clean stop took %v", d)
	}
	if g := b.last().Generation; g <= genA {
		t.Fatalf("b's generation %d is not above a's %d", g, genA)
	}
	if v, ok, err := b.e.Get(ctx, "dhcp/10.0.0.5"); err != nil || !ok || string(v) != "lease" {
		t.Fatalf("state after failover: %q %v %v", v, ok, err)
	}
	all, err := b.e.List(ctx, "dhcp/")
	if err != nil || len(all) != 1 || string(all["dhcp/10.0.0.5"]) != "lease" {
		t.Fatalf("List: %v %v", all, err)
	}
	// A write as a master whose election key is not the one etcd holds
	// (a deposed master's late write) fails in etcd's transaction.
	b.e.mu.Lock()
	rev := b.e.keyRev
	b.e.keyRev = int64(genA)
	b.e.mu.Unlock()
	if err := b.e.Put(ctx, "dhcp/10.0.0.5", []byte("late")); !errors.Is(err, ErrNotMaster) {
		t.Fatalf("deposed master's Put: %v, want ErrNotMaster", err)
	}
	b.e.mu.Lock()
	b.e.keyRev = rev
	b.e.mu.Unlock()
}

func TestLostEtcdFencesWithinTheLease(t *testing.T) {
	srv := etcdtest.Start(t)
	a := run(t, srv.Endpoint(), "a")
	ofptest.WaitFor(t, "a master", func() bool { return a.e.IsMaster() })
	srv.Stop()
	stopped := time.Now()
	ofptest.WaitFor(t, "a slave", func() bool { return !a.e.IsMaster() })
	// The lease view runs out Lease-Margin after the last keepalive
	// answered, which is at most a third of the lease before the stop.
	if d := time.Since(stopped); d > 2*time.Second {
		t.Fatalf("master for %v after etcd stopped, lease 2s", d)
	}
	if !strings.Contains(a.logged(), "stepped down") && !strings.Contains(a.logged(), "keepalive ended") {
		t.Errorf("no log line tells why it stepped down:\n%s", a.logged())
	}
	// Back with etcd, it gets a new lease and leads again, with a
	// newer generation.
	gen := a.e.Status().Generation
	srv.Restart()
	back := time.Now()
	ofptest.WaitFor(t, "a master again", func() bool { return a.e.IsMaster() })
	t.Logf("master again %v after etcd restarted", time.Since(back).Round(time.Millisecond))
	if g := a.last().Generation; g <= gen {
		t.Fatalf("generation %d after re-election, was %d", g, gen)
	}
}

func TestEtcdDownAtStartWaitsNeverMaster(t *testing.T) {
	srv := etcdtest.Start(t)
	srv.Stop()
	a := run(t, srv.Endpoint(), "a")
	ofptest.WaitFor(t, "a retry logged", func() bool { return strings.Contains(a.logged(), "waiting and retrying") })
	if a.everMaster() || a.e.Status().Lease {
		t.Fatal("master without etcd")
	}
	srv.Restart()
	ofptest.WaitFor(t, "a master once etcd is up", func() bool { return a.e.IsMaster() })
}

func TestConfigChecks(t *testing.T) {
	for _, c := range []Config{
		{Lease: 3 * time.Second, Name: "a", Prefix: "/x"},
		{Endpoints: []string{"http://127.0.0.1:1"}, Lease: time.Second, Name: "a", Prefix: "/x"},
		{Endpoints: []string{"http://127.0.0.1:1"}, Lease: 2500 * time.Millisecond, Name: "a", Prefix: "/x"},
		{Endpoints: []string{"http://127.0.0.1:1"}, Lease: 3 * time.Second, Name: "", Prefix: "/x"},
		{Endpoints: []string{"http://127.0.0.1:1"}, Lease: 3 * time.Second, Name: "a", Prefix: "x"},
	} {
		if _, err := New(c); err == nil {
			t.Errorf("New(%+v): no error", c)
		}
	}
}
