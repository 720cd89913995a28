package dhcp4

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"time"

	"github.com/sixgate/sixgate/topo"
)

// lease is one dynamic address handed to a client. Static leases (hosts
// the model gives an address) are not kept: the model is their record.
type lease struct {
	key    string // the client identifier (option 61) when sent, else the MAC
	mac    net.HardwareAddr
	addr   netip.Addr
	expiry time.Time
	bound  bool // acknowledged; an offer is only held for offerHold
}

// offerHold is how long an offered address waits for the client's
// REQUEST before it may go to someone else.
const offerHold = 60 * time.Second

// table holds the dynamic leases and the declined addresses.
type table struct {
	byKey    map[string]*lease
	byAddr   map[netip.Addr]*lease
	declined map[netip.Addr]time.Time // address -> end of its quarantine
	// journal is set with ha: changes then lists what the bound leases
	// and quarantines became since the last takeChanges, for etcd.
	journal bool
	changes []change
}

func newTable() *table {
	return &table{byKey: map[string]*lease{}, byAddr: map[netip.Addr]*lease{}, declined: map[netip.Addr]time.Time{}}
}

func (t *table) put(l *lease) {
	if old, ok := t.byKey[l.key]; ok {
		delete(t.byAddr, old.addr)
		if !l.bound {
			t.journalLease(old, true)
		}
	}
	if old, ok := t.byAddr[l.addr]; ok {
		delete(t.byKey, old.key)
		if old.key != l.key {
			t.journalLease(old, true)
		}
	}
	t.byKey[l.key] = l
	t.byAddr[l.addr] = l
	t.journalLease(l, false)
}

func (t *table) remove(l *lease) {
	if t.byKey[l.key] == l {
		delete(t.byKey, l.key)
		t.journalLease(l, true)
	}
	if t.byAddr[l.addr] == l {
		delete(t.byAddr, l.addr)
	}
}

// decline puts addr in quarantine until until.
func (t *table) decline(addr netip.Addr, until time.Time) {
	t.declined[addr] = until
	t.journalDeclined(addr, until, false)
}

// expire drops the leases and quarantines that ended by now, reporting
// whether a bound lease went (which changes the neighbor registrations
// and the file).
func (t *table) expire(now time.Time) bool {
	changed := false
	for _, l := range t.byKey {
		if !now.Before(l.expiry) {
			t.remove(l)
			changed = changed || l.bound
		}
	}
	for a, until := range t.declined {
		if !now.Before(until) {
			delete(t.declined, a)
			t.journalDeclined(a, until, true)
			changed = true
		}
	}
	return changed
}

// taken reports whether addr is held by a client other than key, or in
// quarantine.
func (t *table) taken(addr netip.Addr, key string, now time.Time) bool {
	if until, ok := t.declined[addr]; ok && now.Before(until) {
		return true
	}
	l, ok := t.byAddr[addr]
	return ok && l.key != key && now.Before(l.expiry)
}

// bound returns the acknowledged leases, address to MAC.
func (t *table) boundLeases() map[netip.Addr]net.HardwareAddr {
	m := map[netip.Addr]net.HardwareAddr{}
	for _, l := range t.byKey {
		if l.bound {
			m[l.addr] = l.mac
		}
	}
	return m
}

// The lease file: JSON, rewritten whole (to a temporary file, synced,
// renamed over the old one) on every change, so a crash leaves the old
// file or the new one, never a mix.
type leaseFile struct {
	Version  int             `json:"version"`
	Leases   []leaseRecord   `json:"leases"`
	Declined []declineRecord `json:"declined,omitempty"`
}

type leaseRecord struct {
	Key     string    `json:"key"`
	MAC     string    `json:"mac"`
	Addr    string    `json:"addr"`
	Expires time.Time `json:"expires"`
}

type declineRecord struct {
	Addr  string    `json:"addr"`
	Until time.Time `json:"until"`
}

const leaseFileVersion = 1

// maxLeaseFileSize bounds what is read back: every pool full, with room.
const maxLeaseFileSize = 32 << 20

// maxKeyLen bounds a client key (a client identifier is at most 255
// bytes, twice that in hex, plus its tag).
const maxKeyLen = 2*255 + 8

func (t *table) marshal() ([]byte, error) {
	f := leaseFile{Version: leaseFileVersion, Leases: []leaseRecord{}}
	for _, l := range t.byKey {
		if l.bound {
			f.Leases = append(f.Leases, leaseRecord{Key: l.key, MAC: l.mac.String(), Addr: l.addr.String(), Expires: l.expiry.UTC()})
		}
	}
	for a, until := range t.declined {
		f.Declined = append(f.Declined, declineRecord{Addr: a.String(), Until: until.UTC()})
	}
	return json.MarshalIndent(f, "", " ")
}

// save writes the bound leases to path atomically.
func (t *table) save(path string) error {
	data, err := t.marshal()
	if err != nil {
		return fmt.Errorf("dhcp4: lease file: %w", err)
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("dhcp4: lease file: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".dhcp4-leases-*")
	if err != nil {
		return fmt.Errorf("dhcp4: lease file: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("dhcp4: lease file: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("dhcp4: lease file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("dhcp4: lease file: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("dhcp4: lease file: %w", err)
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// loadTable reads the lease file at path against the configuration:
// a missing file is an empty table; records that are expired, malformed,
// outside every pool, of a MAC that is no host's, or that repeat an
// address or a key are left out and counted in skipped.
func loadTable(path string, t *topo.Topology, now time.Time) (_ *table, skipped int, _ error) {
	tab := newTable()
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return tab, 0, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("dhcp4: lease file: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxLeaseFileSize+1))
	if err != nil {
		return nil, 0, fmt.Errorf("dhcp4: lease file: %w", err)
	}
	if len(data) > maxLeaseFileSize {
		return nil, 0, fmt.Errorf("dhcp4: lease file %s is larger than %d bytes", path, maxLeaseFileSize)
	}
	tab, skipped, err = parseTable(data, t, now)
	if err != nil {
		return nil, 0, fmt.Errorf("dhcp4: lease file %s: %w", path, err)
	}
	return tab, skipped, nil
}

// parseTable decodes a lease file's bytes; see loadTable.
func parseTable(data []byte, t *topo.Topology, now time.Time) (*table, int, error) {
	tab := newTable()
	var f leaseFile
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, 0, err
	}
	if f.Version != leaseFileVersion {
		return nil, 0, fmt.Errorf("version %d, want %d", f.Version, leaseFileVersion)
	}
	skipped := 0
	for _, r := range f.Leases {
		mac, err1 := net.ParseMAC(r.MAC)
		addr, err2 := netip.ParseAddr(r.Addr)
		_, host := t.HostByMAC(mac)
		switch {
		case err1 != nil || err2 != nil || len(mac) != 6 || r.Key == "" || len(r.Key) > maxKeyLen,
			!host, !now.Before(r.Expires), !inSomePool(t, addr),
			tab.byKey[r.Key] != nil, tab.byAddr[addr] != nil:
			skipped++
			continue
		}
		tab.put(&lease{key: r.Key, mac: mac, addr: addr, expiry: r.Expires, bound: true})
	}
	for _, r := range f.Declined {
		addr, err := netip.ParseAddr(r.Addr)
		if err != nil || !now.Before(r.Until) || !inSomePool(t, addr) {
			skipped++
			continue
		}
		tab.declined[addr] = r.Until
	}
	return tab, skipped, nil
}

func inSomePool(t *topo.Topology, a netip.Addr) bool {
	if t.DHCP4 == nil {
		return false
	}
	for _, s := range t.DHCP4.Subnets {
		if s.InPool(a) {
			return true
		}
	}
	return false
}
