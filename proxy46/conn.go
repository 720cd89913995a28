package proxy46

// State is where a spliced connection is in its life.
type State uint8

const (
	// StateSynReceived: SYN-ACK sent to the client, its ACK awaited.
	StateSynReceived State = iota
	// StateHolding: client handshake done, holding its first bytes until
	// they decide the backend.
	StateHolding
	// StateBackendSyn: SYN sent to a backend, its SYN-ACK awaited.
	StateBackendSyn
	// StateEstablished: spliced, every segment translated.
	StateEstablished
	// StateClosed: both FINs acknowledged, or a RST; translated a little
	// longer.
	StateClosed
	numStates
)

var stateNames = [numStates]string{"syn-received", "holding", "backend-syn", "established", "closed"}

func (s State) String() string {
	if s < numStates {
		return stateNames[s]
	}
	return "unknown"
}

// side names an end of a spliced connection.
type side uint8

const (
	rstNone side = iota
	sideClient
	sideBackend
)

// key4 identifies a connection on the client side (client -> VIP).
type key4 struct {
	client, vip         [4]byte
	clientPort, vipPort uint16
}

// key6 identifies a connection on the backend side (backend -> client6).
type key6 struct {
	backend, client6        [16]byte
	backendPort, clientPort uint16
}

// conn is one spliced connection. Sequence arithmetic is modulo 2^32.
type conn struct {
	svc   *service
	state State
	k4    key4
	k6    key6
	// backend is the index of the chosen backend in svc.backends, where
	// the last entry may be the service's default.
	backend int
	// pick is the candidate list chosen for the connection and how far
	// along it failover has gone.
	pick choice

	isnClient  uint32 // client's ISN
	isnEdge    uint32 // ISN the edge gave the client
	isnBackend uint32 // backend's ISN
	seqShift   uint32 // isnBackend - isnEdge

	tsEdge    uint32 // TSval the edge sent in its SYN-ACK
	tsShift   uint32 // backend TSval - edge TSval
	tsClient  uint32 // latest TSval seen from the client
	tsBackend uint32 // backend's TSval in its SYN-ACK

	mssClient     uint16 // MSS the client announced
	mssBackend    uint16 // MSS the backend announced, clamped to MTU6
	windowClient  uint16 // latest raw window from the client
	synWindow     uint16 // window of the client's SYN, unscaled
	scaleClient   uint8  // client's shift, if it offered one
	scaleBackend  uint8  // backend's shift, if it answered one
	scaleEdge     uint8  // shift the edge offered the client
	clientWScale  bool   // client offered window scaling
	backendWScale bool   // backend answered window scaling
	clientTS      bool   // client offered timestamps
	clientSACK    bool   // client offered SACK
	translateTS   bool   // timestamps in use on both halves
	rescaleB2C    bool   // backend windows need rescaling for the client
	rescaleC2B    bool   // client windows need rescaling for the backend

	// What the established path checks segments against (RFC 5961),
	// each in the sender's own sequence space: the end of the highest
	// segment each side sent, the latest acknowledgment from each side,
	// and the largest window in bytes each side advertised.
	sndNxtC, sndNxtB uint32
	ackC, ackB       uint32
	maxWinC, maxWinB uint32
	// lastEndC and lastEndB are the end (seq + length) of the last
	// segment forwarded from each side, in the sender's space: a stack
	// that went back to SND.UNA after a timeout aborts from there.
	lastEndC, lastEndB uint32
	// winB and tsValB are the backend's latest raw window and TSval, for
	// the challenge ACKs the engine sends the client on its behalf.
	winB   uint16
	tsValB uint32
	// pmtu4 is the client's path MTU as an ICMPv4 Fragmentation Needed
	// reported it, 0 until one does: backend segments larger than that
	// are cut to it (splitLast).
	pmtu4 int
	// insertTS: the client negotiated timestamps, the backend did not;
	// the engine adds a TSopt to the backend's segments (RFC 7323 §3.2).
	insertTS bool

	// watch sends every segment of the connection through closeTrack:
	// a FIN was seen, a RST is unanswered, or the connection is closed.
	watch bool
	// rstFrom is the side whose in-window, inexact RST is unanswered
	// (rstNone when none is): the connection then ends after the closed
	// timeout unless the other side speaks.
	rstFrom side
	// finEndC is the end of the client's FIN in the client's space;
	// finEndB the end of the backend's FIN in the edge's space.
	finEndC, finEndB uint32

	finClient, finBackend bool
	heldFIN               bool
	held                  []byte
	// ooo are held segments that arrived after a gap, kept until the
	// gap fills; oooBytes is their total.
	ooo      []heldRange
	oooBytes int

	// adj46 and adj64 are the constant checksum adjustments for the
	// address and port changes of each direction.
	adj46, adj64 uint16

	synAckTries int   // SYN-ACKs retransmitted to the client by the timer
	synTries    int   // SYNs sent to the current backend
	synStarted  int64 // first SYN to the current backend
	created     int64 // engine clock, nanoseconds
	lastSeen    int64
	deadline    int64 // state timer: embryonic, backend SYN, linger
	// drainAt is when the connection is reset because a reconfiguration
	// removed its service or backend; 0 when it is not draining.
	drainAt int64
	// orphan: draining because its service is gone (Engine.orphans).
	orphan bool

	// ftp is the FTP gateway of a control connection (ftp.go), nil for
	// any other connection.
	ftp *ftpControl
	// fromBackend: an active-mode FTP data connection, which the
	// backend opened (ftpdata.go).
	fromBackend bool

	packetsC2B, packetsB2C uint64
	bytesC2B, bytesB2C     uint64

	allIdx     int // position in Engine.all
	pendingIdx int // position in Engine.pending, or -1
	closedIdx  int // position in Engine.closed while closed
}

// heldRange is a held segment past a gap: its offset from the client's
// ISN + 1, its bytes, and whether a FIN followed them.
type heldRange struct {
	off  int
	data []byte
	fin  bool
}
