// Package ha elects one master among several sixgate instances with an
// etcd election (go.etcd.io/etcd/client/v3/concurrency) on a lease, and
// fences it: the master's generation id is the etcd revision at which its
// election key was created, which only grows, and an instance stops being
// master as soon as its own view of the lease (the TTL less a margin since
// the last keepalive answered) runs out. It knows nothing of OpenFlow: the
// daemon passes the role it reports to the controller.
//
// It also keeps, for the apps, state that must survive a failover (Store):
// written only by the master, checked by etcd in the same transaction.
package ha

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
)

// MinLease is the shortest lease allowed: etcd leases count in whole
// seconds, and the keepalive (every third of the lease) must fit a
// round trip and a margin.
const MinLease = 2 * time.Second

// Config configures an Elector.
type Config struct {
	// Endpoints are the etcd client URLs (http://127.0.0.1:2379).
	Endpoints []string
	// Lease is the election lease's TTL, whole seconds, at least MinLease.
	Lease time.Duration
	// Name is this instance's name, unique among the instances; it is
	// the election key's value, so the others show it as the master.
	Name string
	// Prefix is where the instances of one group keep their keys
	// (/sixgate/edge1): the election under Prefix/election/, the apps'
	// state under Prefix/state/.
	Prefix string
	// TLS, when set, is used towards etcd.
	TLS *tls.Config
	// OnRole is told every change of role, from the Elector's goroutine;
	// it must not block.
	OnRole func(Role)
	Log    *logrus.Entry
	// Registerer receives the sixgate_ha_* metrics; nil keeps them private.
	Registerer prometheus.Registerer
}

// Role is this instance's role and the generation id that goes with it:
// the master's own, or, for a slave, that of the master it last saw.
type Role struct {
	Master     bool
	Generation uint64
}

// Status is what operators see of the election.
type Status struct {
	Name string `json:"name"`
	// Role is "master" or "slave".
	Role string `json:"role"`
	// Master is the name of the current master as last seen in etcd;
	// empty when none is known.
	Master     string `json:"master"`
	Generation uint64 `json:"generation_id"`
	// Lease tells whether this instance holds a live lease in etcd (it
	// may only be master while it does).
	Lease bool `json:"lease"`
}

// ErrNotMaster is returned by Store writes from an instance that is not
// the master (or is no longer, as etcd sees it).
var ErrNotMaster = errors.New("not the master instance")

// Store is state that must survive a failover, kept in etcd by the master:
// an app writes it before it acknowledges what the state records (a DHCP
// lease before the ACK), and the next master reads it back when it takes
// over. Keys are relative to the group's state prefix. Writes succeed only
// while this instance is master: the transaction compares the election
// key's creation revision, so a deposed master's late write fails with
// ErrNotMaster and never overwrites its successor's.
type Store interface {
	Put(ctx context.Context, key string, value []byte) error
	Delete(ctx context.Context, key string) error
	Get(ctx context.Context, key string) ([]byte, bool, error)
	// List returns every key under prefix with its value.
	List(ctx context.Context, prefix string) (map[string][]byte, error)
}

var _ Store = (*Elector)(nil)

// Elector runs this instance's part in the election.
type Elector struct {
	cfg    Config
	log    *logrus.Entry
	cli    *clientv3.Client
	margin time.Duration
	m      *metrics

	// stale is a lease of an earlier term whose revocation failed (etcd
	// unreachable): etcd renews it when it comes back, and with it the
	// old election key every campaign would wait for.
	stale clientv3.LeaseID

	mu     sync.Mutex
	st     Status
	key    string // our election key while master
	keyRev int64  // its creation revision (the generation)
}

// Margin is how much of the lease the master gives up: it stops being
// master Lease-Margin after the last keepalive etcd answered, before etcd
// can give the lease away. A third of the lease, at least 500 ms.
func Margin(lease time.Duration) time.Duration { return max(lease/3, 500*time.Millisecond) }

// New checks the configuration and makes the etcd client; nothing is
// contacted until Run.
func New(cfg Config) (*Elector, error) {
	if len(cfg.Endpoints) == 0 {
		return nil, errors.New("ha: no etcd endpoint")
	}
	if cfg.Lease < MinLease || cfg.Lease%time.Second != 0 {
		return nil, fmt.Errorf("ha: lease %v: want whole seconds, at least %v", cfg.Lease, MinLease)
	}
	if cfg.Name == "" || strings.ContainsAny(cfg.Name, "/\n") {
		return nil, fmt.Errorf("ha: name %q: want a non-empty name without / or newline", cfg.Name)
	}
	if !strings.HasPrefix(cfg.Prefix, "/") {
		return nil, fmt.Errorf("ha: prefix %q: want an absolute key prefix like /sixgate/edge", cfg.Prefix)
	}
	cfg.Prefix = strings.TrimRight(cfg.Prefix, "/")
	if cfg.Log == nil {
		cfg.Log = logrus.NewEntry(logrus.StandardLogger())
	}
	if cfg.Registerer == nil {
		cfg.Registerer = prometheus.NewRegistry()
	}
	if cfg.OnRole == nil {
		cfg.OnRole = func(Role) {}
	}
	e := &Elector{cfg: cfg, log: cfg.Log.WithField("ha_name", cfg.Name), margin: Margin(cfg.Lease),
		st: Status{Name: cfg.Name, Role: "slave"}}
	cli, err := clientv3.New(clientv3.Config{
		Endpoints:   cfg.Endpoints,
		DialTimeout: cfg.Lease,
		// A request to an unreachable etcd fails after this, so that
		// the keepalive goroutine notices and the lease view counts
		// down rather than hanging.
		DialKeepAliveTime:    cfg.Lease,
		DialKeepAliveTimeout: cfg.Lease,
		TLS:                  cfg.TLS,
		Logger:               newZapLogger(cfg.Log),
		// gRPC backs reconnections off up to two minutes; an instance
		// should be back in the election within a lease of etcd's return.
		DialOptions: []grpc.DialOption{grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: 100 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: cfg.Lease / 2},
			MinConnectTimeout: cfg.Lease,
		})},
	})
	if err != nil {
		return nil, fmt.Errorf("ha: etcd client: %w", err)
	}
	e.cli = cli
	m, err := newMetrics(cfg.Registerer, e)
	if err != nil {
		cli.Close()
		return nil, err
	}
	e.m = m
	return e, nil
}

// Status returns the election as this instance sees it.
func (e *Elector) Status() Status {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.st
}

// IsMaster tells whether this instance is master now.
func (e *Elector) IsMaster() bool { return e.Status().Role == "master" }

// Run takes part in the election until ctx is done: it gets a lease
// (waiting and retrying while etcd is unreachable; never master without
// one), campaigns, and reports the role to OnRole. Losing the lease, or
// running out of its own view of it, makes it slave at once and starts
// over with a new lease. On return it has given up its lease, so that
// another instance takes over without waiting for it to expire.
func (e *Elector) Run(ctx context.Context) error {
	defer e.cli.Close()
	e.report(Role{}, "starting as slave")
	wait := time.Duration(0)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
		err := e.term(ctx)
		if ctx.Err() != nil {
			return nil
		}
		wait = time.Second
		e.log.WithError(err).WithFields(logrus.Fields{"etcd": strings.Join(e.cfg.Endpoints, ","), "retry_in": wait}).
			Warn("ha: no lease in etcd: slave, waiting and retrying (never master without a lease)")
	}
}

// term is one lease's life: granted, kept alive, campaigned with, and
// given up when it is lost, fenced or ctx ends.
func (e *Elector) term(ctx context.Context) (err error) {
	gctx, cancel := context.WithTimeout(ctx, e.cfg.Lease)
	lease, err := e.cli.Grant(gctx, int64(e.cfg.Lease/time.Second))
	cancel()
	if err != nil {
		return fmt.Errorf("grant lease: %w", err)
	}
	if e.stale != clientv3.NoLease {
		rctx, cancel := context.WithTimeout(ctx, e.cfg.Lease)
		if _, err := e.cli.Revoke(rctx, e.stale); err == nil || errors.Is(err, rpctypes.ErrLeaseNotFound) {
			e.stale = clientv3.NoLease
		}
		cancel()
	}
	// The lease runs from before the request left; count from now less
	// nothing, but give up Margin early.
	expiry := time.Now().Add(e.cfg.Lease - e.margin)
	tctx, stop := context.WithCancel(ctx)
	defer func() {
		stop()
		if err != nil && e.IsMaster() {
			e.log.WithError(err).Warn("ha: stepped down: master no longer")
		}
		e.report(Role{Generation: e.Status().Generation}, "lease given up")
		// Best effort: the key goes now rather than when the lease
		// expires, so a successor takes over at once.
		rctx, cancel := context.WithTimeout(context.Background(), time.Second)
		if _, err := e.cli.Revoke(rctx, lease.ID); err != nil && !errors.Is(err, rpctypes.ErrLeaseNotFound) {
			e.stale = lease.ID
		}
		cancel()
		e.setLease(false)
	}()
	ka, err := e.cli.KeepAlive(tctx, lease.ID)
	if err != nil {
		return fmt.Errorf("keep lease alive: %w", err)
	}
	sess, err := concurrency.NewSession(e.cli, concurrency.WithLease(lease.ID), concurrency.WithContext(tctx))
	if err != nil {
		return fmt.Errorf("session: %w", err)
	}
	defer sess.Orphan()
	e.setLease(true)
	e.log.WithFields(logrus.Fields{"lease": fmt.Sprintf("%x", int64(lease.ID)), "ttl": e.cfg.Lease}).Info("ha: lease granted; campaigning")

	el := concurrency.NewElection(sess, e.cfg.Prefix+"/election/")
	won := make(chan error, 1)
	go func() { won <- el.Campaign(tctx, e.cfg.Name) }()
	deposed := make(chan string, 1)
	go e.observe(tctx, el, deposed)

	fence := time.NewTimer(time.Until(expiry))
	defer fence.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case _, ok := <-ka:
			if !ok {
				e.m.fenced.Inc()
				return errors.New("lease keepalive ended: the lease expired or was revoked")
			}
			fence.Reset(e.cfg.Lease - e.margin)
		case <-fence.C:
			e.m.fenced.Inc()
			return fmt.Errorf("no keepalive answered for %v (lease %v less a margin of %v): stepped down", e.cfg.Lease-e.margin, e.cfg.Lease, e.margin)
		case err := <-won:
			if err != nil {
				return fmt.Errorf("campaign: %w", err)
			}
			e.m.won.Inc()
			e.mu.Lock()
			e.key, e.keyRev = el.Key(), el.Rev()
			e.st.Master = e.cfg.Name
			e.mu.Unlock()
			e.report(Role{Master: true, Generation: uint64(el.Rev())}, "elected master")
		case other := <-deposed:
			return fmt.Errorf("etcd shows %q as master: stepped down", other)
		}
	}
}

// observe follows the election's leader for the status, and tells, once,
// when another instance leads while this one is master.
func (e *Elector) observe(ctx context.Context, el *concurrency.Election, deposed chan<- string) {
	for resp := range el.Observe(ctx) {
		if len(resp.Kvs) == 0 {
			continue
		}
		kv := resp.Kvs[0]
		e.mu.Lock()
		e.st.Master = string(kv.Value)
		if e.st.Role != "master" {
			e.st.Generation = uint64(kv.CreateRevision)
		}
		mine := e.st.Role != "master" || string(kv.Key) == e.key
		e.mu.Unlock()
		if !mine {
			select {
			case deposed <- string(kv.Value):
			default:
			}
			return
		}
	}
}

// report sets the role and tells OnRole and the log of a change.
func (e *Elector) report(r Role, why string) {
	role := "slave"
	if r.Master {
		role = "master"
	}
	e.mu.Lock()
	changed := e.st.Role != role || e.st.Generation != r.Generation
	e.st.Role = role
	if r.Generation != 0 {
		e.st.Generation = r.Generation
	}
	if !r.Master {
		e.key, e.keyRev = "", 0
	}
	e.mu.Unlock()
	if changed || why == "starting as slave" {
		e.log.WithFields(logrus.Fields{"role": role, "generation_id": r.Generation}).Info("ha: " + why)
	}
	e.cfg.OnRole(r)
}

func (e *Elector) setLease(held bool) {
	e.mu.Lock()
	e.st.Lease = held
	e.mu.Unlock()
}

// stateKey is the etcd key of an app's state key.
func (e *Elector) stateKey(key string) string { return e.cfg.Prefix + "/state/" + key }

// asMaster runs op in a transaction that succeeds only while this
// instance's election key is the one it won with.
func (e *Elector) asMaster(ctx context.Context, op clientv3.Op) error {
	e.mu.Lock()
	key, rev, master := e.key, e.keyRev, e.st.Role == "master"
	e.mu.Unlock()
	if !master || key == "" {
		return ErrNotMaster
	}
	resp, err := e.cli.Txn(ctx).If(clientv3.Compare(clientv3.CreateRevision(key), "=", rev)).Then(op).Commit()
	if err != nil {
		return fmt.Errorf("ha: etcd: %w", err)
	}
	if !resp.Succeeded {
		return ErrNotMaster
	}
	return nil
}

// Put writes value at key, as master only, and returns once etcd has it.
func (e *Elector) Put(ctx context.Context, key string, value []byte) error {
	return e.asMaster(ctx, clientv3.OpPut(e.stateKey(key), string(value)))
}

// Delete removes key, as master only.
func (e *Elector) Delete(ctx context.Context, key string) error {
	return e.asMaster(ctx, clientv3.OpDelete(e.stateKey(key)))
}

// Get reads key.
func (e *Elector) Get(ctx context.Context, key string) ([]byte, bool, error) {
	resp, err := e.cli.Get(ctx, e.stateKey(key))
	if err != nil {
		return nil, false, fmt.Errorf("ha: etcd: %w", err)
	}
	if len(resp.Kvs) == 0 {
		return nil, false, nil
	}
	return resp.Kvs[0].Value, true, nil
}

// List reads every key under prefix.
func (e *Elector) List(ctx context.Context, prefix string) (map[string][]byte, error) {
	resp, err := e.cli.Get(ctx, e.stateKey(prefix), clientv3.WithPrefix())
	if err != nil {
		return nil, fmt.Errorf("ha: etcd: %w", err)
	}
	out := make(map[string][]byte, len(resp.Kvs))
	base := e.stateKey("")
	for _, kv := range resp.Kvs {
		out[strings.TrimPrefix(string(kv.Key), base)] = kv.Value
	}
	return out, nil
}
