package nat64

import "github.com/sixgate/sixgate/packet"

// tcpState is a TCP session's state (RFC 6146 §3.5.2.2).
type tcpState uint8

const (
	stClosed tcpState = iota
	stV4Init
	stV6Init
	stEstablished
	stV4FinRcv
	stV6FinRcv
	stV4FinV6FinRcv
	stTrans
)

var tcpStateNames = [...]string{"CLOSED", "V4_INIT", "V6_INIT", "ESTABLISHED", "V4_FIN_RCV", "V6_FIN_RCV", "V4_FIN_V6_FIN_RCV", "TRANS"}

func (s tcpState) String() string {
	if int(s) < len(tcpStateNames) {
		return tcpStateNames[s]
	}
	return "unknown"
}

// listOf is the timer list of a new session of proto.
func listOf(p Protocol) uint8 {
	switch p {
	case UDP:
		return listUDP
	case ICMP:
		return listICMP
	}
	return listTCPTrans
}

// refresh moves a session's timer after a packet of its, from the IPv6
// side if from6; flags are a TCP segment's.
func (e *NAT64) refresh(s *state, now int64, ss *session, from6 bool, flags uint8) {
	switch ss.b.proto {
	case UDP:
		e.t.setTimer(ss, listUDP, now+s.life[listUDP])
		return
	case ICMP:
		e.t.setTimer(ss, listICMP, now+s.life[listICMP])
		return
	}
	syn := flags&packet.TCPFlagSYN != 0
	fin := flags&packet.TCPFlagFIN != 0
	rst := flags&packet.TCPFlagRST != 0
	est := func() { e.t.setTimer(ss, listTCPEst, now+s.life[listTCPEst]) }
	trans := func() { e.t.setTimer(ss, listTCPTrans, now+s.life[listTCPTrans]) }
	switch ss.state {
	case stClosed:
		if from6 {
			ss.state = stV6Init
			trans()
		} else {
			ss.state = stV4Init
			e.t.setTimer(ss, listSYN, now+s.life[listSYN])
		}
	case stV4Init:
		if from6 && syn {
			ss.state = stEstablished
			est()
		}
	case stV6Init:
		if from6 && syn {
			trans()
		} else if !from6 && syn {
			ss.state = stEstablished
			est()
		}
	case stEstablished:
		switch {
		case rst:
			ss.state = stTrans
			trans()
		case fin && from6:
			ss.state = stV6FinRcv
			est()
		case fin:
			ss.state = stV4FinRcv
			est()
		default:
			est()
		}
	case stV4FinRcv:
		if fin && from6 {
			ss.state = stV4FinV6FinRcv
			trans()
		} else {
			est()
		}
	case stV6FinRcv:
		if fin && !from6 {
			ss.state = stV4FinV6FinRcv
			trans()
		} else {
			est()
		}
	case stV4FinV6FinRcv:
		// The lifetime runs out whatever passes now.
	case stTrans:
		if !rst {
			ss.state = stEstablished
			est()
		}
	}
}
