package proxy46

import (
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sixgate/sixgate/ftpalg"
	"github.com/sixgate/sixgate/packet"
)

// Engine splices IPv4 client connections onto IPv6 backends. All its
// methods are safe for concurrent use; they serialize on one lock, which
// is cheap next to a packet's trip through a switch.
type Engine struct {
	mu  sync.Mutex
	cfg Config

	services map[vipKey]*service
	// vips are the addresses the engine answers for: those of the
	// services and those that draining connections still use. Packets
	// read it without the lock; a reconfiguration stores a new map.
	vips atomic.Pointer[map[[4]byte]bool]
	svcs []*service
	// orphans counts, per VIP and port whose service a reconfiguration
	// removed, the connections still draining there.
	orphans map[vipKey]int
	// vipsStale: an orphaned service's last connection left, and vips
	// still holds its VIP; Expire publishes them again.
	vipsStale bool
	// drainNext is the earliest drain deadline (0: none draining).
	drainNext int64

	pool     [16]byte
	poolBits int
	isn      isnGenerator

	by4     map[key4]*conn
	by6     map[key6]*conn
	all     []*conn // every connection, for the idle sweep
	pending []*conn // connections with a running state timer
	closed  []*conn // connections in StateClosed, evicted first
	sweep   int     // idle sweep cursor into all

	epoch time.Time
	// now is the engine clock in nanoseconds since epoch. Slow paths and
	// Expire refresh it; the established path only reads it, so idle
	// times are as precise as the Expire period.
	now int64

	// cookieCount is the cookie clock when a cookie was last sent, valid
	// if cookiesSent: ACKs for unknown connections are checked as cookies
	// only while a cookie may still come back.
	cookieCount uint32
	cookiesSent bool

	// challengeSecond and challengeN count challenge ACKs in the current
	// second for ChallengeACKLimit.
	challengeSecond int64
	challengeN      int

	// scaleGen counts, modulo 2, the reconfigurations that changed the
	// window scale, and prevScale is the scale before the last: SYN
	// cookies carry the parity, so that a handshake that straddles a
	// change learns the shift its SYN-ACK offered.
	scaleGen, prevScale uint8

	// icmpLimit bounds the ICMP errors answered for the VIPs.
	icmpLimit icmpBucket

	// scratch holds a segment while splitLast cuts it up.
	scratch []byte
	// wkp: pool6 is the Well-Known Prefix, which must not embed
	// non-global IPv4 addresses (RFC 6052 §3.1).
	wkp bool

	// waiting lists, by name, the connections waiting for a DNS answer
	// (dns.go).
	waiting     map[string][]*conn
	waitSweepAt int // size of waiting that triggers a sweep of it

	// The FTP gateway (ftp.go): the control connections it follows,
	// the data connections they announced (in deadline order, and by
	// VIP port or by the server's SYN), the next passive port to try,
	// its counters, and a segment being rewritten.
	ftpConns    []*conn
	expects     []*expectation
	expectFree  []*expectation // entries to use again, fewer than MaxExpectations
	passive     map[vipKey]*expectation
	active      map[activeKey]*expectation
	ftpNextPort uint16
	ftpc        ftpalg.Counters
	ftpBuf      []byte

	stats Stats
}

type vipKey struct {
	vip  [4]byte
	port uint16
}

// service is a configured Service ready for lookups.
type service struct {
	cfg      Service
	vip      [4]byte
	port     uint16
	backends []backend // the configured ones, then the default if any
	// hasDefault says the last entry of backends is the default.
	hasDefault bool
	rr         uint32

	// cands holds every candidate list of the service, one after the
	// other: backend indices in the order they are tried.
	cands []uint32
	// all is every configured backend, in order (hash, round-robin).
	all span
	// names routes host names (http-host, sni); prefixes holds the
	// payload prefixes in the order they are tested (prefix).
	names    nameIndex
	prefixes []prefixRoute
	// dns is set when backends also come from DNS (dns.go).
	dns *dnsState
	// byAddr indexes the configured backends by address, built by
	// configuredIndex when a reconfiguration first needs it.
	byAddr map[netip.AddrPort]int
	// data: the service of one FTP data connection (ftpdata.go), in no
	// table; reconfigurations leave it alone.
	data bool
}

type prefixRoute struct {
	prefix string
	list   span
}

type backend struct {
	ap        netip.AddrPort
	addr      [16]byte
	port      uint16
	isDefault bool
	dynamic   bool // resolved from DNS, not configured
	chosen    uint64
	failed    uint64
}

// New checks cfg and returns an Engine ready for packets.
func New(cfg Config) (*Engine, error) {
	cfg.setDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	cfg.Services = append([]Service(nil), cfg.Services...)
	e := &Engine{
		cfg:      cfg,
		services: make(map[vipKey]*service),
		orphans:  make(map[vipKey]int),
		pool:     cfg.Pool6.Addr().As16(),
		poolBits: cfg.Pool6.Bits(),
		wkp:      packet.IsWellKnownPrefix(cfg.Pool6),
		isn:      newISNGenerator(cfg.ISNKey),
		by4:      make(map[key4]*conn),
		by6:      make(map[key6]*conn),
		epoch:    cfg.Clock(),
	}
	for _, s := range cfg.Services {
		svc := newService(s)
		e.services[vipKey{svc.vip, svc.port}] = svc
		e.svcs = append(e.svcs, svc)
	}
	e.publishVIPs()
	return e, nil
}

// clock reads the injected clock and refreshes the cached engine time.
func (e *Engine) clock() int64 {
	e.now = int64(e.cfg.Clock().Sub(e.epoch))
	return e.now
}

// insert adds a new connection to the client-side table.
func (e *Engine) insert(c *conn) {
	e.by4[c.k4] = c
	c.allIdx = len(e.all)
	e.all = append(e.all, c)
	c.pendingIdx = -1
	e.stats.ConnectionsOpened++
	e.stats.ByState[c.state]++
}

// remove forgets a connection entirely.
func (e *Engine) remove(c *conn) {
	delete(e.by4, c.k4)
	if c.backend >= 0 && e.by6[c.k6] == c {
		delete(e.by6, c.k6)
	}
	last := e.all[len(e.all)-1]
	e.all[c.allIdx] = last
	last.allIdx = c.allIdx
	e.all[len(e.all)-1] = nil
	e.all = e.all[:len(e.all)-1]
	e.unschedule(c)
	if c.state == StateClosed {
		last := e.closed[len(e.closed)-1]
		e.closed[c.closedIdx] = last
		last.closedIdx = c.closedIdx
		e.closed[len(e.closed)-1] = nil
		e.closed = e.closed[:len(e.closed)-1]
	}
	e.releaseHeld(c)
	e.undrain(c)
	if c.ftp != nil {
		e.dropFTPControl(c)
	}
	e.stats.ByState[c.state]--
	e.stats.ConnectionsClosed++
}

// tableFull reports whether the table is at MaxConnections after
// evicting a closed connection if there is one: a high connection rate
// must not fill the table with connections that are over.
func (e *Engine) tableFull() bool {
	if len(e.by4) < e.cfg.MaxConnections {
		return false
	}
	if len(e.closed) == 0 || len(e.by4)-1 >= e.cfg.MaxConnections {
		// Nothing to evict, or a bound lowered by a reconfiguration
		// that one eviction would not bring the table under: closed
		// connections are left to their timer rather than evicted
		// for nothing.
		return true
	}
	e.stats.ClosedEvicted++
	e.remove(e.closed[0])
	return len(e.by4) >= e.cfg.MaxConnections
}

// schedule sets the connection's state timer.
func (e *Engine) schedule(c *conn, at int64) {
	c.deadline = at
	if c.pendingIdx < 0 {
		c.pendingIdx = len(e.pending)
		e.pending = append(e.pending, c)
	}
}

func (e *Engine) unschedule(c *conn) {
	if c.pendingIdx < 0 {
		return
	}
	last := e.pending[len(e.pending)-1]
	e.pending[c.pendingIdx] = last
	last.pendingIdx = c.pendingIdx
	e.pending[len(e.pending)-1] = nil
	e.pending = e.pending[:len(e.pending)-1]
	c.pendingIdx = -1
}

func (e *Engine) setState(c *conn, s State) {
	e.stats.ByState[c.state]--
	c.state = s
	e.stats.ByState[s]++
}

func (e *Engine) releaseHeld(c *conn) {
	e.stats.HeldBytes -= uint64(len(c.held) + c.oooBytes)
	c.held, c.ooo, c.oooBytes = nil, nil, 0
}

// embryonic is the number of connections not yet spliced.
func (e *Engine) embryonic() int {
	return int(e.stats.ByState[StateSynReceived] + e.stats.ByState[StateHolding] + e.stats.ByState[StateBackendSyn])
}

func (e *Engine) drop(r DropReason) packet.Verdict {
	e.stats.Drops[r]++
	return packet.Drop
}

// clientAddr and backendAddr give netip forms for output packets; they do not
// allocate.
func (c *conn) clientAddr() netip.Addr { return netip.AddrFrom4(c.k4.client) }
func (c *conn) backendAddr() netip.Addr {
	return c.svc.backends[c.backend].ap.Addr()
}
