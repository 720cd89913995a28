package proxy46

import "strconv"

// DropReason classifies dropped packets for the counters.
type DropReason uint8

const (
	DropMalformed       DropReason = iota // truncated or inconsistent lengths
	DropFragment                          // IP fragments are not reassembled
	DropNotTCP                            // other protocols to a VIP or pool6
	DropNoService                         // VIP without a service on that port (TCP: reset sent; UDP: port unreachable)
	DropNoConnection                      // no connection for the segment
	DropTableFull                         // connection table at MaxConnections
	DropTTLExpired                        // TTL or hop limit would reach zero
	DropTooBig                            // larger than MTU6 after translation
	DropBadAck                            // handshake ACK that does not match
	DropOutOfOrder                        // held data beyond a gap
	DropDuplicate                         // held data already held
	DropHoldFull                          // held data beyond MaxHeldBytes
	DropStateMismatch                     // segment not valid in the state
	DropPortCollision                     // backend 4-tuple already in use
	DropICMPUnhandled                     // ICMP that RFC 7915 does not translate, or not an echo request to a VIP
	DropEmbryonicFull                     // embryonic connections at MaxEmbryonic
	DropHeldTotalFull                     // held data beyond MaxHeldBytesTotal
	DropBadCookie                         // ACK for no connection, not a valid SYN cookie
	DropBadHeaderLength                   // IPv4 IHL or TCP data offset out of range
	DropIPChecksum                        // IPv4 header checksum wrong
	DropTCPChecksum                       // TCP checksum wrong (verified off the established path)
	DropBadOptions                        // TCP options overrunning the header
	DropSYNData                           // payload of a SYN, ignored (no TCP Fast Open)
	DropRSTOutOfWindow                    // RST whose sequence number is outside the window
	DropRSTChallenged                     // RST in the window but not exact: challenge ACK instead
	DropACKOutOfWindow                    // ACK of data never sent, or far behind (RFC 5961 §5)
	DropICMPUnknown                       // ICMP error quoting no connection or no segment in flight
	DropICMPChecksum                      // ICMP checksum wrong
	DropBadSource                         // IPv4 source not a single host: 0/8, 127/8, multicast, class E
	DropUDPChecksum                       // UDP checksum wrong (datagram not answered)
	DropCookieMSS                         // SYN under SYN cookies announcing an MSS below the smallest a cookie carries
	DropNonGlobalClient                   // client address RFC 6052 §3.1 keeps out of the Well-Known Prefix 64:ff9b::/96
	DropFTPGap                            // FTP control segment past a gap, which the gateway cannot parse yet (the sender resends it)
	numDropReasons
)

var dropReasonNames = [numDropReasons]string{
	"malformed", "fragment", "not-tcp", "no-service", "no-connection",
	"table-full", "ttl-expired", "too-big", "bad-ack", "out-of-order",
	"duplicate", "hold-full", "state-mismatch", "port-collision",
	"icmp-unhandled", "embryonic-full", "held-total-full", "bad-cookie",
	"bad-header-length", "bad-ip-checksum", "bad-tcp-checksum", "bad-options",
	"syn-data", "rst-out-of-window", "rst-challenged", "ack-out-of-window",
	"icmp-unknown", "bad-icmp-checksum", "bad-source", "bad-udp-checksum",
	"cookie-mss", "non-global-client", "ftp-gap",
}

func (r DropReason) String() string {
	if r < numDropReasons {
		return dropReasonNames[r]
	}
	return "DropReason(" + strconv.Itoa(int(r)) + ")"
}
