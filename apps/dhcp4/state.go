package dhcp4

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/sixgate/sixgate/ha"
	"github.com/sixgate/sixgate/topo"
)

// With an ha section the leases live in etcd (ha.Store), written by the
// master before it acknowledges them, so that the next master renews a
// client's address after a failover and never hands it to another.
//
// Keys, under the Store's prefix:
//
//	dhcp4/lease/<client key>   a leaseRecord (JSON), one per bound lease
//	dhcp4/declined/<address>   a declineRecord (JSON), one per quarantine
const (
	statePrefix    = "dhcp4/"
	leasePrefix    = statePrefix + "lease/"
	declinedPrefix = statePrefix + "declined/"
)

// stateTimeout bounds one etcd request on the way to an answer: the
// client retries sooner than it would wait for a reply.
const stateTimeout = time.Second

// termEvery is how often the role is checked for a new term as master.
const termEvery = 250 * time.Millisecond

// stateLogEvery is how often a failing Store is logged at most.
const stateLogEvery = 5 * time.Second

// roleReporter is a Store that tells its role and term (ha.Elector): the
// leases are read back from etcd each time this instance becomes master.
type roleReporter interface {
	Status() ha.Status
}

// change is one record to write to the Store: a bound lease put or gone,
// a quarantine started or ended.
type change struct {
	key   string
	value []byte // nil: delete
}

// UseState keeps the leases in st (with an ha section): every bound lease
// is written before its ACK, and the table is read back from st before
// the first answer of each term as master. It is called before the
// controller starts.
func (a *App) UseState(st ha.Store) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.state = st
	a.srv.table.journal = true
}

// ensureTerm makes the table the Store's when this instance has become
// master since it last read it. It reports whether the instance may
// answer: it is master and the table is the Store's.
func (a *App) ensureTerm() bool {
	gen, master := a.term()
	if !master {
		return false
	}
	if a.loadedGen == gen {
		return true
	}
	ctx, cancel := context.WithTimeout(context.Background(), stateTimeout)
	recs, err := a.state.List(ctx, statePrefix)
	cancel()
	if err != nil {
		a.stateFailed(fmt.Errorf("read the leases: %w", err))
		return false
	}
	a.mu.Lock()
	tab, skipped := tableFromState(recs, a.srv.topo, a.srv.now())
	tab.journal = true
	a.srv.table = tab
	a.srv.dirty = true
	n := len(tab.byKey)
	a.mu.Unlock()
	a.loadedGen = gen
	a.log.WithFields(logrus.Fields{"generation_id": gen, "leases": n, "skipped": skipped}).Info("leases read from etcd as master")
	a.publish()
	return true
}

// followTerms reads the leases back at each new term as master until ctx
// is done.
func (a *App) followTerms(ctx context.Context) {
	t := time.NewTicker(termEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		a.smu.Lock()
		a.ensureTerm()
		a.smu.Unlock()
	}
}

// term is this instance's term as master and whether it is master; a
// Store that does not tell is taken as always master, in one term.
func (a *App) term() (gen uint64, master bool) {
	if r, ok := a.state.(roleReporter); ok {
		st := r.Status()
		return st.Generation, st.Role == "master"
	}
	return 1, true
}

// writeChanges writes the changes an answer made, in order, and stops at
// the first failure.
func (a *App) writeChanges(cs []change) error {
	for _, c := range cs {
		ctx, cancel := context.WithTimeout(context.Background(), stateTimeout)
		var err error
		if c.value == nil {
			err = a.state.Delete(ctx, c.key)
		} else {
			err = a.state.Put(ctx, c.key, c.value)
		}
		cancel()
		if err != nil {
			return fmt.Errorf("%s: %w", c.key, err)
		}
	}
	return nil
}

// stateFailed counts a Store failure and logs it at most every
// stateLogEvery.
func (a *App) stateFailed(err error) {
	a.stats.state.Add(1)
	now := time.Now().UnixNano()
	last := a.stateLogged.Load()
	if now-last < int64(stateLogEvery) || !a.stateLogged.CompareAndSwap(last, now) {
		return
	}
	a.log.WithError(err).WithField("failures", a.stats.state.Load()).
		Warn("dhcp4: leases cannot be written to etcd: no ACK until they can (clients retry)")
}

// journalLease records, when the table is journalled, the record of a bound
// lease or its removal.
func (t *table) journalLease(l *lease, gone bool) {
	if !t.journal || !l.bound {
		return
	}
	c := change{key: leasePrefix + l.key}
	if !gone {
		c.value, _ = json.Marshal(leaseRecord{Key: l.key, MAC: l.mac.String(), Addr: l.addr.String(), Expires: l.expiry.UTC()})
	}
	t.changes = append(t.changes, c)
}

// journalDeclined records, when the table is journalled, a quarantine
// or its end.
func (t *table) journalDeclined(addr netip.Addr, until time.Time, gone bool) {
	if !t.journal {
		return
	}
	c := change{key: declinedPrefix + addr.String()}
	if !gone {
		c.value, _ = json.Marshal(declineRecord{Addr: addr.String(), Until: until.UTC()})
	}
	t.changes = append(t.changes, c)
}

// takeChanges returns and forgets the journal.
func (t *table) takeChanges() []change {
	cs := t.changes
	t.changes = nil
	return cs
}

// tableFromState builds a table from the Store's records, checked as the
// lease file's are; the records left out are counted in skipped.
func tableFromState(recs map[string][]byte, top *topo.Topology, now time.Time) (*table, int) {
	tab := newTable()
	skipped := 0
	for k, v := range recs {
		switch {
		case strings.HasPrefix(k, leasePrefix):
			var r leaseRecord
			if json.Unmarshal(v, &r) != nil || r.Key != strings.TrimPrefix(k, leasePrefix) {
				skipped++
				continue
			}
			mac, err1 := net.ParseMAC(r.MAC)
			addr, err2 := netip.ParseAddr(r.Addr)
			_, host := top.HostByMAC(mac)
			if err1 != nil || err2 != nil || len(mac) != 6 || r.Key == "" || len(r.Key) > maxKeyLen ||
				!host || !now.Before(r.Expires) || !inSomePool(top, addr) || tab.byKey[r.Key] != nil || tab.byAddr[addr] != nil {
				skipped++
				continue
			}
			tab.put(&lease{key: r.Key, mac: mac, addr: addr, expiry: r.Expires, bound: true})
		case strings.HasPrefix(k, declinedPrefix):
			var r declineRecord
			if json.Unmarshal(v, &r) != nil {
				skipped++
				continue
			}
			addr, err := netip.ParseAddr(r.Addr)
			if err != nil || !now.Before(r.Until) || !inSomePool(top, addr) {
				skipped++
				continue
			}
			tab.declined[addr] = r.Until
		default:
			skipped++
		}
	}
	return tab, skipped
}

// handleStored is handle with ha: only the master answers, from the
// Store's leases, and what an answer changed is in etcd before the answer
// goes out; when it cannot be written there is no answer (the client
// retries) and the table is read back from etcd before the next one.
func (a *App) handleStored(frame []byte, dpid uint64, port uint32) []byte {
	a.smu.Lock()
	defer a.smu.Unlock()
	if !a.ensureTerm() {
		return a.handled(nil, replyType(frame), notStored, false, dpid, port)
	}
	a.mu.Lock()
	out, mt, v := a.srv.handle(frame, dpid, port)
	cs := a.srv.table.takeChanges()
	dirty := a.srv.dirty
	a.mu.Unlock()
	if len(cs) > 0 {
		if err := a.writeChanges(cs); err != nil {
			a.stateFailed(err)
			a.loadedGen = 0
			return a.handled(nil, mt, notStored, false, dpid, port)
		}
	}
	return a.handled(out, mt, v, dirty, dpid, port)
}

// expireStored drops the ended leases and, as master, their records.
func (a *App) expireStored() {
	a.smu.Lock()
	defer a.smu.Unlock()
	a.mu.Lock()
	if a.srv.table.expire(a.srv.now()) {
		a.srv.dirty = true
	}
	cs := a.srv.table.takeChanges()
	a.mu.Unlock()
	if gen, master := a.term(); len(cs) > 0 && master && gen == a.loadedGen {
		// Best effort: a record that outlives its lease is left out when
		// the leases are read back.
		if err := a.writeChanges(cs); err != nil {
			a.stateFailed(err)
			a.loadedGen = 0
		}
	}
	a.publish()
}
