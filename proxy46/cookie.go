package proxy46

import (
	"encoding/binary"

	"github.com/sixgate/sixgate/packet"
)

// SYN cookies. Under a SYN flood the edge answers SYNs without keeping
// anything: everything the handshake ACK needs to rebuild the connection is
// in the sequence number of the SYN-ACK (which the ACK returns plus one) and,
// when the client uses timestamps, in the low bits of the edge's TSval
// (which the ACK echoes as TSecr).
//
// The sequence number is, modulo 2^32:
//
//	H0(tuple, clientISN) + count<<24 + (H1(tuple, count) + mssIndex) mod 2^24
//
// count is a coarse clock (one tick per cookiePeriod). Given the ACK, the
// edge subtracts H0 of the client's ISN (the ACK's seq - 1) and reads the
// count in the top byte; if the count is at most cookieMaxAge ticks old, it
// subtracts H1 for that count and reads an MSS index that must fall inside
// the table. A blind attacker therefore has about len(table)/2^24 chance per
// count per guess. The client's ISN goes through the hash rather than being
// added: added, an ACK whose seq is a few bytes past the ISN (its first
// segments lost) would decode as a neighbouring MSS index and rebuild the
// connection with the wrong ISN.
//
// The low cookieTSBits of the TSval carry the client's window scale (4 bits,
// 15 meaning none) and its SACK-permitted flag; the remaining bits keep the
// edge's millisecond clock, rounded down so that a TSval never runs ahead
// of the clock. Without timestamps there is nowhere to keep them, so a
// cookie SYN-ACK then offers neither, and the connection runs without
// window scaling and SACK, as a host with cookies does.

const (
	cookieCountShift = 24
	cookieDataMask   = 1<<cookieCountShift - 1
	// cookiePeriod is the count's tick in engine nanoseconds (64 s).
	cookiePeriod = int64(64e9)
	// cookieMaxAge is how many ticks old a cookie may be: an ACK is
	// accepted up to two to three minutes after its SYN-ACK.
	cookieMaxAge = 2

	cookieTSBits  = 6
	cookieTSMask  = 1<<cookieTSBits - 1
	cookieNoScale = 0xf
	cookieSACK    = 1 << 4
	// cookieGen is the parity of the engine's window scale generation
	// (Engine.scaleGen) when the SYN-ACK left: the shift offered then is
	// the current one or, after a reconfiguration changed it, the one
	// before.
	cookieGen = 1 << 5

	cookieMSSEntries = 8
)

// cookieMSSTable is the set of MSS values a cookie can carry, in increasing
// order: common IPv4 path MSS values, so that rounding the client's down to
// an entry loses little, and small ones, as a client's MSS is only ever
// rounded down (RFC 9293 §3.7.1: a sender must not exceed it).
func cookieMSSTable() [cookieMSSEntries]uint16 {
	return [cookieMSSEntries]uint16{64, 256, 536, 1200, 1360, 1440, 1460, 8960}
}

// cookieMSSIndex returns the index of the largest table entry not above
// mss, and false when mss is below every entry.
func cookieMSSIndex(mss uint16) (uint32, bool) {
	t := cookieMSSTable()
	for i := len(t) - 1; i >= 0; i-- {
		if mss >= t[i] {
			return uint32(i), true
		}
	}
	return 0, false
}

// cookieHash keys a hash on the connection 4-tuple, a domain tag and an
// extra word (the client's ISN for H0, the count for H1).
func (g isnGenerator) cookieHash(tag byte, src, dst [4]byte, sport, dport uint16, x uint32) uint32 {
	var m [20]byte
	copy(m[0:], src[:])
	copy(m[4:], dst[:])
	binary.BigEndian.PutUint16(m[8:], sport)
	binary.BigEndian.PutUint16(m[10:], dport)
	binary.BigEndian.PutUint32(m[12:], x)
	m[16] = tag
	return uint32(siphash24(g.k0, g.k1, m[:17]))
}

// cookieCount is the coarse clock at engine time now.
func cookieCount(now int64) uint32 { return uint32(now / cookiePeriod) }

// cookie returns the edge ISN that encodes mssIdx for the connection
// src:sport -> dst:dport whose client chose clientISN.
func (g isnGenerator) cookie(src, dst [4]byte, sport, dport uint16, clientISN, count, mssIdx uint32) uint32 {
	return g.cookieHash('C', src, dst, sport, dport, clientISN) + count<<cookieCountShift +
		(g.cookieHash('M', src, dst, sport, dport, count)+mssIdx)&cookieDataMask
}

// checkCookie validates the cookie an ACK returns and gives the MSS index
// it encodes.
func (g isnGenerator) checkCookie(src, dst [4]byte, sport, dport uint16, clientISN, cookie, now uint32) (uint32, bool) {
	v := cookie - g.cookieHash('C', src, dst, sport, dport, clientISN)
	age := (now - v>>cookieCountShift) & 0xff
	if age > cookieMaxAge {
		return 0, false
	}
	count := now - age
	idx := (v - g.cookieHash('M', src, dst, sport, dport, count)) & cookieDataMask
	if idx >= cookieMSSEntries {
		return 0, false
	}
	return idx, true
}

// cookieTSVal returns the TSval of a cookie SYN-ACK: the edge's timestamp
// clock base (milliseconds plus the per-connection offset) with the low
// bits replaced by the options, never ahead of base.
func cookieTSVal(base uint32, wscale bool, shift uint8, sack bool, gen uint8) uint32 {
	opts := uint32(cookieNoScale)
	if wscale {
		opts = uint32(min(shift, packet.TCPMaxWindowScale))
	}
	if sack {
		opts |= cookieSACK
	}
	if gen&1 != 0 {
		opts |= cookieGen
	}
	ts := base&^cookieTSMask | opts
	if int32(ts-base) > 0 {
		ts -= 1 << cookieTSBits
	}
	return ts
}

// decodeCookieTS reads the options back from the TSecr of the handshake
// ACK. It refuses echoes from the future or older than a cookie may be, and
// a window scale no cookie TSval carries.
func decodeCookieTS(base, tsecr uint32) (wscale bool, shift uint8, sack bool, gen uint8, ok bool) {
	age := int64(int32(base - tsecr))
	if age < 0 || age > (cookieMaxAge+1)*cookiePeriod/1e6 {
		return false, 0, false, 0, false
	}
	opts := tsecr & cookieTSMask
	s := opts & cookieNoScale
	if s != cookieNoScale && s > packet.TCPMaxWindowScale {
		return false, 0, false, 0, false
	}
	return s != cookieNoScale, uint8(s), opts&cookieSACK != 0, uint8(opts / cookieGen), true
}
