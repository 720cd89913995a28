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
	// sessions is the binding's list of sessions.
	sessions *session
	host     *host
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

// session is a session table entry. It sits in one timer list and in its
// binding's list.
type session struct {
	b       *binding
	remote  [4]byte
	rport   uint16
	state   tcpState
	list    uint8
	expires int64
	// prev and next link the timer list; bprev and bnext the binding's.
	prev, next   *session
	bprev, bnext *session
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
	free                 *session // sessions to reuse, linked by next
	nFree                int
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
		b.host = h
	}
}

// removeBinding takes b and its sessions out.
func (t *tables) removeBinding(b *binding) {
	for b.sessions != nil {
		t.removeSession(b.sessions, false)
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
	if h := b.host; h != nil {
		h.bindings--
		if h.bindings == 0 && h.sessions == 0 {
			delete(t.hosts, b.addr6)
		}
		b.host = nil
	}
}

// newSession makes a session of b with remote:rport, in timer list l.
func (t *tables) newSession(b *binding, remote [4]byte, rport uint16, l uint8, at int64) *session {
	s := t.free
	if s != nil {
		t.free = s.next
		t.nFree--
		*s = session{}
	} else {
		s = &session{}
	}
	s.b, s.remote, s.rport, s.list, s.expires = b, remote, rport, l, at
	t.lists[l].pushBack(s)
	s.bnext = b.sessions
	if b.sessions != nil {
		b.sessions.bprev = s
	}
	b.sessions = s
	t.sessions[s.key()] = s
	t.nSessions[b.proto]++
	if h := b.host; h != nil {
		h.sessions++
	}
	return s
}

// maxFree bounds the sessions kept for reuse.
const maxFree = 4096

// removeSession takes s out; dropBinding also removes its dynamic binding
// when it was the last session.
func (t *tables) removeSession(s *session, dropBinding bool) {
	b := s.b
	t.lists[s.list].remove(s)
	delete(t.sessions, s.key())
	if s.bprev != nil {
		s.bprev.bnext = s.bnext
	} else {
		b.sessions = s.bnext
	}
	if s.bnext != nil {
		s.bnext.bprev = s.bprev
	}
	t.nSessions[b.proto]--
	if h := b.host; h != nil {
		h.sessions--
	}
	*s = session{}
	if t.nFree < maxFree {
		s.next = t.free
		t.free = s
		t.nFree++
	}
	if dropBinding && b.sessions == nil && !b.static {
		t.removeBinding(b)
	}
}

// hasRemote reports whether b has a session with the IPv4 address a
// (address-dependent filtering).
func (b *binding) hasRemote(a [4]byte) bool {
	for s := b.sessions; s != nil; s = s.bnext {
		if s.remote == a {
			return true
		}
	}
	return false
}
