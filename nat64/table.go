package nat64

// key6 names a binding from the IPv6 side: host address, port (ICMP:
// query identifier), protocol.
type key6 struct {
	addr  [16]byte
	port  uint16
	proto Protocol
}

// key4 names a binding from the IPv4 side: pool4 address and port.
type key4 struct {
	addr  [4]byte
	port  uint16
	proto Protocol
}

// skey names a session by its IPv4 side: the binding's pool4 address and
// port, the remote address and port (ICMP: the identifier again).
type skey struct {
	local, remote [4]byte
	lport, rport  uint16
	proto         Protocol
}

// binding is a BIB entry: an IPv6 transport address lent a pool4 one.
type binding struct {
	addr6  [16]byte
	addr4  [4]byte
	port6  uint16
	port4  uint16
	proto  Protocol
	static bool
	// nsess counts the binding's sessions.
	nsess int32
}

// host is what one IPv6 address holds, for the per-host limits.
type host struct {
	bindings, sessions int32
}

// Timer classes: each is a list in order of expiry, as every entry of a
// list gets the same lifetime when it is refreshed.
const (
	listTCPEst = iota
	listTCPTrans
	listUDP
	listICMP
	listSYN
	numLists
)

// session is a session table entry; it sits in one timer list. It is
// kept small (40 bytes) as there may be millions.
type session struct {
	b      *binding
	remote [4]byte
	rport  uint16
	state  tcpState
	list   uint8
	// expires is in nanoseconds of the NAT64's clock.
	expires int64
	// prev and next link the timer list.
	prev, next *session
}

// adfKey names the remote addresses a binding has sessions with, for
// address-dependent filtering.
type adfKey struct {
	local  [4]byte
	remote [4]byte
	lport  uint16
	proto  Protocol
}

func (s *session) key() skey {
	return skey{local: s.b.addr4, lport: s.b.port4, remote: s.remote, rport: s.rport, proto: s.b.proto}
}

// timerList is a list of sessions in order of expiry.
type timerList struct {
	head, tail *session
	n          int
}

func (l *timerList) remove(s *session) {
	if s.prev != nil {
		s.prev.next = s.next
	} else {
		l.head = s.next
	}
	if s.next != nil {
		s.next.prev = s.prev
	} else {
		l.tail = s.prev
	}
	s.prev, s.next = nil, nil
	l.n--
}

func (l *timerList) pushBack(s *session) {
	s.prev, s.next = l.tail, nil
	if l.tail != nil {
		l.tail.next = s
	} else {
		l.head = s
	}
	l.tail = s
	l.n++
}

// tables are the BIB and the session table.
type tables struct {
	bib6     map[key6]*binding
	bib4     map[key4]*binding
	sessions map[skey]*session
	hosts    map[[16]byte]*host
	lists    [numLists]timerList
	// per protocol counts, for the metrics.
	nBindings, nSessions [numProtocols]int
	nDynamic             int
	// used counts the ports lent per pool4 address and protocol.
	used map[key4]int
	free *session // sessions to reuse, linked by next
	slab []session
	// adf counts sessions by binding and remote address, kept only
	// under address-dependent filtering.
	adf map[adfKey]int32
}

func newTables() tables {
	return tables{
		bib6:     map[key6]*binding{},
		bib4:     map[key4]*binding{},
		sessions: map[skey]*session{},
		hosts:    map[[16]byte]*host{},
		used:     map[key4]int{},
	}
}

// setTimer (re)arms s in list l to expire at t.
func (t *tables) setTimer(s *session, l uint8, at int64) {
	t.lists[s.list].remove(s)
	s.list, s.expires = l, at
	t.lists[l].pushBack(s)
}

// addBinding enters b in both BIB maps.
func (t *tables) addBinding(b *binding) {
	t.bib6[key6{b.addr6, b.port6, b.proto}] = b
	t.bib4[key4{b.addr4, b.port4, b.proto}] = b
	t.nBindings[b.proto]++
	t.used[key4{addr: b.addr4, proto: b.proto}]++
	if !b.static {
		t.nDynamic++
		h := t.hosts[b.addr6]
		if h == nil {
			h = &host{}
			t.hosts[b.addr6] = h
		}
		h.bindings++
	}
}

// removeBinding takes b and its sessions out. Finding the sessions of a
// binding that has some walks the session table: that happens on reloads
// only.
func (t *tables) removeBinding(b *binding) {
	if b.nsess > 0 {
		for _, s := range t.sessions {
			if s.b == b {
				t.removeSession(s, false)
			}
		}
	}
	delete(t.bib6, key6{b.addr6, b.port6, b.proto})
	delete(t.bib4, key4{b.addr4, b.port4, b.proto})
	t.nBindings[b.proto]--
	if k := (key4{addr: b.addr4, proto: b.proto}); t.used[k] <= 1 {
		delete(t.used, k)
	} else {
		t.used[k]--
	}
	if !b.static {
		t.nDynamic--
		t.release(b)
	}
}

// release gives back b's share of its host.
func (t *tables) release(b *binding) {
	if h := t.hosts[b.addr6]; h != nil {
		h.bindings--
		if h.bindings <= 0 && h.sessions <= 0 {
			delete(t.hosts, b.addr6)
		}
	}
}

// hostOf returns the host of a dynamic binding, nil for a static one.
func (t *tables) hostOf(b *binding) *host {
	if b.static {
		return nil
	}
	return t.hosts[b.addr6]
}

// newSession makes a session of b with remote:rport, in timer list l.
func (t *tables) newSession(b *binding, remote [4]byte, rport uint16, l uint8, at int64) *session {
	s := t.free
	if s != nil {
		t.free = s.next
		*s = session{}
	} else {
		if len(t.slab) == cap(t.slab) {
			t.slab = make([]session, 0, slabSessions)
		}
		t.slab = t.slab[:len(t.slab)+1]
		s = &t.slab[len(t.slab)-1]
	}
	s.b, s.remote, s.rport, s.list, s.expires = b, remote, rport, l, at
	t.lists[l].pushBack(s)
	b.nsess++
	t.sessions[s.key()] = s
	t.nSessions[b.proto]++
	if h := t.hostOf(b); h != nil {
		h.sessions++
	}
	if t.adf != nil {
		t.adf[adfKey{b.addr4, remote, b.port4, b.proto}]++
	}
	return s
}

// slabSessions is how many sessions are allocated at once: in arrays a
// session takes its 40 bytes, where alone it would take the 48 of its
// size class. Sessions are reused, never given back: the memory of the
// table is that of its peak, which Limits.Sessions bounds.
const slabSessions = 256

// removeSession takes s out; dropBinding also removes its dynamic binding
// when it was the last session.
func (t *tables) removeSession(s *session, dropBinding bool) {
	b := s.b
	t.lists[s.list].remove(s)
	delete(t.sessions, s.key())
	b.nsess--
	t.nSessions[b.proto]--
	if h := t.hostOf(b); h != nil {
		h.sessions--
	}
	if t.adf != nil {
		k := adfKey{b.addr4, s.remote, b.port4, b.proto}
		if t.adf[k] <= 1 {
			delete(t.adf, k)
		} else {
			t.adf[k]--
		}
	}
	*s = session{}
	s.next = t.free
	t.free = s
	if dropBinding && b.nsess == 0 && !b.static {
		t.removeBinding(b)
	}
}

// hasRemote reports whether b has a session with the IPv4 address a
// (address-dependent filtering).
func (t *tables) hasRemote(b *binding, a [4]byte) bool {
	return t.adf[adfKey{b.addr4, a, b.port4, b.proto}] > 0
}

// filterByAddress starts or stops counting sessions by remote address.
func (t *tables) filterByAddress(on bool) {
	switch {
	case !on:
		t.adf = nil
	case t.adf == nil:
		t.adf = map[adfKey]int32{}
		for _, s := range t.sessions {
			t.adf[adfKey{s.b.addr4, s.remote, s.b.port4, s.b.proto}]++
		}
	}
}
