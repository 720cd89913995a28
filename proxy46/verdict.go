package proxy46

import "strconv"

// Verdict says what Handle did with a packet.
type Verdict uint8

const (
	// Pass means the packet is not for the engine (not to a VIP, not to
	// pool6); the caller forwards it as usual.
	Pass Verdict = iota
	// Consumed means the engine took the packet; what it produced, if
	// anything, is in the Batch.
	Consumed
	// Drop means the packet was for the engine but was discarded; the
	// drop counters say why.
	Drop
)

func (v Verdict) String() string {
	switch v {
	case Pass:
		return "pass"
	case Consumed:
		return "consumed"
	case Drop:
		return "drop"
	}
	return "Verdict(" + strconv.Itoa(int(v)) + ")"
}

// DropReason classifies dropped packets for the counters.
type DropReason uint8

const (
	DropMalformed     DropReason = iota // truncated or inconsistent headers
	DropFragment                        // IPv4 fragments are not reassembled
	DropNotTCP                          // other protocols to a VIP or pool6
	DropNoService                       // VIP without a service on that port
	DropNoConnection                    // no connection for the segment
	DropTableFull                       // connection table at its bound
	DropTTLExpired                      // TTL or hop limit would reach zero
	DropTooBig                          // larger than MTU6 after translation
	DropBadAck                          // handshake ACK that does not match
	DropOutOfOrder                      // held data beyond a gap
	DropDuplicate                       // held data already held
	DropHoldFull                        // held data beyond the bound
	DropStateMismatch                   // segment not valid in the state
	DropPortCollision                   // backend 4-tuple already in use
	DropICMPUnhandled                   // ICMPv6 other than a usable PTB
	numDropReasons
)

var dropReasonNames = [numDropReasons]string{
	"malformed", "fragment", "not-tcp", "no-service", "no-connection",
	"table-full", "ttl-expired", "too-big", "bad-ack", "out-of-order",
	"duplicate", "hold-full", "state-mismatch", "port-collision",
	"icmp-unhandled",
}

func (r DropReason) String() string {
	if r < numDropReasons {
		return dropReasonNames[r]
	}
	return "DropReason(" + strconv.Itoa(int(r)) + ")"
}
