package dhcp4

import (
	"context"
	"errors"
	"maps"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/sixgate/sixgate/controller/ofptest"
	"github.com/sixgate/sixgate/ha"
	"github.com/sixgate/sixgate/ha/etcdtest"
)

const haPrefix = "/sixgate/dhcp4test"

// elect runs an ha.Elector on etcd at endpoint until the test ends or
// the returned stop is called.
func elect(t *testing.T, endpoint, name string) (*ha.Elector, func()) {
	t.Helper()
	e, err := ha.New(ha.Config{Endpoints: []string{endpoint}, Lease: 2 * time.Second, Name: name, Prefix: haPrefix, Log: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		e.Run(ctx)
	}()
	var once sync.Once
	stop := func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	return e, stop
}

// haFixture is an app keeping its leases in st; instances of one test
// share the clock.
func haFixture(t *testing.T, st ha.Store, now time.Time) *fixture {
	t.Helper()
	f := newFixture(t, false, false)
	f.now = now
	f.app.UseState(st)
	return f
}

func renew(t *testing.T, mac net.HardwareAddr, addr string) *dhcpv4.DHCPv4 {
	return clientMsg(t, mac, dhcpv4.WithClientIP(net.ParseIP(addr)))
}

func withClientID(id string) dhcpv4.Modifier {
	return dhcpv4.WithOption(dhcpv4.OptClientIdentifier([]byte(id)))
}

// A lease granted by one instance is renewed with the same address by
// the next master, and the address is given to nobody else; a slave
// answers nothing.
func TestLeaseRenewedAfterFailover(t *testing.T) {
	srv := etcdtest.Start(t)
	ea, stopA := elect(t, srv.Endpoint(), "a")
	ofptest.WaitFor(t, "a master", ea.IsMaster)
	eb, _ := elect(t, srv.Endpoint(), "b")
	ofptest.WaitFor(t, "b sees a", func() bool { return eb.Status().Master == "a" })

	now := time.Unix(1_800_000_000, 0)
	a, b := haFixture(t, ea, now), haFixture(t, eb, now)
	addr2 := a.obtain(2, h2MAC)
	addr3 := a.obtain(3, h3MAC)
	if v, ok, err := ea.Get(context.Background(), leasePrefix+"mac:"+h2MAC.String()); err != nil || !ok || !strings.Contains(string(v), addr2) {
		t.Fatalf("lease of %s in etcd: %q %v %v", addr2, v, ok, err)
	}
	if r, _, _, v := b.send(2, renew(t, h2MAC, addr2), gwMAC, addr2, "192.0.2.1"); r != nil || v != notStored {
		t.Fatalf("the slave answered: %v %v", r, v)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := b.app.Start(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if b.leaser.registered(addr2) {
		t.Fatalf("the slave registered %s before it was master", addr2)
	}
	stopA()
	ofptest.WaitFor(t, "b master", eb.IsMaster)
	// The new master reads the leases back by itself: the fabric answers
	// ARP for them before any client speaks DHCP.
	ofptest.WaitFor(t, "b registers the leases", func() bool { return b.leaser.registered(addr2) && b.leaser.registered(addr3) })
	ack, _, _, v := b.send(2, renew(t, h2MAC, addr2), gwMAC, addr2, "192.0.2.1")
	if ack == nil || ack.MessageType() != dhcpv4.MessageTypeAck || yi(ack) != addr2 {
		t.Fatalf("RENEWING %s on the new master: %v %v", addr2, v, ack)
	}
	if got := b.obtain(3, h3MAC); got != addr3 {
		t.Errorf("h3 had %s, the new master gives %s", addr3, got)
	}
	// A third client (h2 with a client identifier: another lease) gets
	// the pool's last address, neither of the others.
	if got := b.obtain(2, h2MAC, withClientID("second")); got == addr2 || got == addr3 {
		t.Errorf("the new master handed out %s twice", got)
	}
	if n := len(b.app.Leases()); n != 3 {
		t.Errorf("new master holds %d leases, want 3", n)
	}
}

// A master whose election key is gone (deposed, as etcd sees it) sends no
// ACK: its write is refused, whatever it believes of its role.
func TestDeposedMasterSendsNoAck(t *testing.T) {
	srv := etcdtest.Start(t)
	ea, _ := elect(t, srv.Endpoint(), "a")
	ofptest.WaitFor(t, "a master", ea.IsMaster)
	a := haFixture(t, ea, time.Unix(1_800_000_000, 0))
	addr := a.obtain(2, h2MAC)

	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{srv.Endpoint()}, DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if resp, err := cli.Delete(ctx, haPrefix+"/election/", clientv3.WithPrefix()); err != nil || resp.Deleted != 1 {
		t.Fatalf("delete the election key: %v %v", resp, err)
	}
	stillMaster := ea.IsMaster()
	before := a.app.Stats()
	if r, _, _, v := a.send(2, renew(t, h2MAC, addr), gwMAC, addr, "192.0.2.1"); r != nil || v != notStored {
		t.Fatalf("deposed master answered: %v %v", r, v)
	}
	if stillMaster && a.app.Stats().StateFailures != before.StateFailures+1 {
		t.Errorf("refused write not counted: %d -> %d", before.StateFailures, a.app.Stats().StateFailures)
	}
	t.Logf("the instance still believed it was master: %v", stillMaster)
}

// fakeStore is a Store in memory whose writes can be made to fail.
type fakeStore struct {
	mu   sync.Mutex
	m    map[string][]byte
	fail error
}

func (s *fakeStore) Put(_ context.Context, k string, v []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return s.fail
	}
	s.m[k] = v
	return nil
}

func (s *fakeStore) Delete(_ context.Context, k string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return s.fail
	}
	delete(s.m, k)
	return nil
}

func (s *fakeStore) Get(_ context.Context, k string) ([]byte, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.m[k]
	return v, ok, nil
}

func (s *fakeStore) List(_ context.Context, prefix string) (map[string][]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string][]byte{}
	for k, v := range s.m {
		if strings.HasPrefix(k, prefix) {
			out[k] = v
		}
	}
	return out, nil
}

func (s *fakeStore) setFail(err error) {
	s.mu.Lock()
	s.fail = err
	s.mu.Unlock()
}

func (s *fakeStore) keys() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return sortedKeys(s.m)
}

func sortedKeys(m map[string][]byte) []string { return slices.Sorted(maps.Keys(m)) }

// A lease that cannot be written is not acknowledged, and is once the
// write works; RELEASE and DECLINE remove the record, a quarantine is
// recorded.
func TestNoAckWithoutTheWrite(t *testing.T) {
	st := &fakeStore{m: map[string][]byte{}}
	f := haFixture(t, st, time.Unix(1_800_000_000, 0))
	offer, _, _, _ := f.send(2, discover(t, h2MAC), bcast, "0.0.0.0", "255.255.255.255")
	if offer == nil {
		t.Fatal("no offer")
	}
	req := clientMsg(t, h2MAC, withRequested(yi(offer)), withServer("192.0.2.1"))
	st.setFail(errors.New("etcd unreachable"))
	if r, _, _, v := f.send(2, req, bcast, "0.0.0.0", "255.255.255.255"); r != nil || v != notStored {
		t.Fatalf("ACK without the lease in etcd: %v %v", r, v)
	}
	if f.app.Stats().StateFailures != 1 || len(st.keys()) != 0 {
		t.Fatalf("failures %d, records %v", f.app.Stats().StateFailures, st.keys())
	}
	st.setFail(nil)
	ack, _, _, _ := f.send(2, req, bcast, "0.0.0.0", "255.255.255.255")
	if ack == nil || ack.MessageType() != dhcpv4.MessageTypeAck || yi(ack) != yi(offer) {
		t.Fatalf("retried REQUEST: %v", ack)
	}
	key := leasePrefix + "mac:" + h2MAC.String()
	if v, ok, _ := st.Get(context.Background(), key); !ok || !strings.Contains(string(v), yi(ack)) {
		t.Fatalf("record %s: %q", key, v)
	}
	addr := yi(ack)
	rel := clientMsg(t, h2MAC, dhcpv4.WithMessageType(dhcpv4.MessageTypeRelease), dhcpv4.WithClientIP(net.ParseIP(addr)), withServer("192.0.2.1"))
	f.send(2, rel, gwMAC, addr, "192.0.2.1")
	if ks := st.keys(); len(ks) != 0 {
		t.Fatalf("after RELEASE: %v", ks)
	}
	addr = f.obtain(3, h3MAC)
	dec := clientMsg(t, h3MAC, dhcpv4.WithMessageType(dhcpv4.MessageTypeDecline), withRequested(addr), withServer("192.0.2.1"))
	f.send(3, dec, bcast, "0.0.0.0", "255.255.255.255")
	if ks := st.keys(); len(ks) != 1 || ks[0] != declinedPrefix+addr {
		t.Fatalf("after DECLINE: %v", ks)
	}
	// A new instance on the same records keeps the quarantine.
	g := haFixture(t, st, f.now)
	got := g.obtain(3, h3MAC, withRequested(addr))
	if got == addr {
		t.Errorf("declined %s handed out again", addr)
	}
	// Expiry removes the lease's record and the quarantine's.
	g.now = g.now.Add(time.Hour)
	g.app.expireStored()
	if ks := st.keys(); len(ks) != 0 {
		t.Errorf("after expiry: %v", ks)
	}
}

// termStore is a fakeStore that tells a role, as ha.Elector does.
type termStore struct {
	*fakeStore
	mu sync.Mutex
	st ha.Status
}

func (s *termStore) Status() ha.Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.st
}

func (s *termStore) set(master bool, gen uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.st.Role, s.st.Generation = "slave", gen
	if master {
		s.st.Role = "master"
	}
}

// An instance master again after another's term reads the leases back:
// it does not answer from the table of its earlier term.
func TestNewTermReadsTheLeasesAgain(t *testing.T) {
	shared := &fakeStore{m: map[string][]byte{}}
	sa, sb := &termStore{fakeStore: shared}, &termStore{fakeStore: shared}
	now := time.Unix(1_800_000_000, 0)
	sa.set(true, 1)
	a, b := haFixture(t, sa, now), haFixture(t, sb, now)
	addr2 := a.obtain(2, h2MAC)

	sa.set(false, 2)
	sb.set(true, 2)
	addr3 := b.obtain(3, h3MAC)

	sb.set(false, 3)
	sa.set(true, 3)
	got := a.obtain(2, h2MAC, withClientID("second"), withRequested(addr3))
	if got == addr3 || got == addr2 {
		t.Errorf("back as master, a handed out %s again", got)
	}
	if n := len(a.app.Leases()); n != 3 {
		t.Errorf("a holds %d leases, want 3", n)
	}
}
