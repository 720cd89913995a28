package dns64

import (
	"encoding/binary"
	"time"
)

// The UDP fast path reads plain queries from their bytes and answers them
// from a cache of packed replies, patching the id, the question (as the
// client wrote it, letter case randomized against spoofing included) and
// the TTLs, without decoding or encoding a message. Anything it does not recognise goes to the full
// decoder.

// wireQuery is what the fast path reads from a query.
//
//	header (RFC 1035 section 4.1.1), 12 bytes:
//	| ID (16) | QR(1) Opcode(4) AA TC RD | RA Z AD CD RCODE(4) |
//	| QDCOUNT | ANCOUNT | NSCOUNT | ARCOUNT |
type wireQuery struct {
	id      uint16
	qlen    int // bytes of the question section, from offset 12
	key     wireKey
	udpSize int // the reply's size limit over UDP
}

// wireKey is what a packed reply depends on: the question (the name in
// lower case, as on the wire), the client's RD, CD and DO bits and
// whether it sent an OPT record.
type wireKey struct {
	name          string
	qtype, qclass uint16
	rd, cd, do    bool
	edns          bool
}

const headerLen = 12

// parseQuery reads a plain query: opcode QUERY, one question with an
// uncompressed name, and at most an EDNS(0) OPT record version 0 with
// nothing after it. ok is false for anything else.
func parseQuery(b []byte) (q wireQuery, ok bool) {
	if len(b) < headerLen+5 {
		return q, false
	}
	flags := binary.BigEndian.Uint16(b[2:])
	const qrOpcodeTC = 0x8000 | 0x7800 | 0x0200
	if flags&qrOpcodeTC != 0 || binary.BigEndian.Uint16(b[4:]) != 1 || binary.BigEndian.Uint16(b[6:]) != 0 ||
		binary.BigEndian.Uint16(b[8:]) != 0 {
		return q, false
	}
	ar := binary.BigEndian.Uint16(b[10:])
	if ar > 1 {
		return q, false
	}
	var name [255]byte
	n := 0
	off := headerLen
	for {
		if off >= len(b) {
			return q, false
		}
		l := int(b[off])
		if l == 0 {
			off++
			break
		}
		if l&0xc0 != 0 || off+1+l > len(b) || n+1+l > len(name)-1 {
			return q, false
		}
		name[n] = byte(l)
		for i, c := range b[off+1 : off+1+l] {
			if c >= 'A' && c <= 'Z' {
				c += 'a' - 'A'
			}
			name[n+1+i] = c
		}
		n += 1 + l
		off += 1 + l
	}
	name[n] = 0
	n++
	if off+4 > len(b) {
		return q, false
	}
	q.key = wireKey{
		name: string(name[:n]), qtype: binary.BigEndian.Uint16(b[off:]), qclass: binary.BigEndian.Uint16(b[off+2:]),
		rd: flags&0x0100 != 0, cd: flags&0x0010 != 0,
	}
	off += 4
	q.id = binary.BigEndian.Uint16(b)
	q.qlen = off - headerLen
	q.udpSize = 512
	if ar == 0 {
		return q, off == len(b)
	}
	// The OPT record (RFC 6891 section 6.1.2): root name, TYPE 41,
	// CLASS the UDP size, TTL the extended RCODE, version and flags.
	if off+11 > len(b) || b[off] != 0 || binary.BigEndian.Uint16(b[off+1:]) != 41 || b[off+6] != 0 {
		return q, false
	}
	q.key.edns = true
	q.key.do = b[off+7]&0x80 != 0
	q.udpSize = min(max(int(binary.BigEndian.Uint16(b[off+3:])), 512), bufferSize)
	rdlen := int(binary.BigEndian.Uint16(b[off+9:]))
	return q, off+11+rdlen == len(b)
}

// ttlOffsets finds the TTL field of every record of a packed message but
// the OPT record's. ok is false when the bytes are not one whole message.
func ttlOffsets(b []byte) (offs []uint16, ok bool) {
	if len(b) < headerLen || len(b) > 0xffff {
		return nil, false
	}
	qd := int(binary.BigEndian.Uint16(b[4:]))
	rrs := int(binary.BigEndian.Uint16(b[6:])) + int(binary.BigEndian.Uint16(b[8:])) + int(binary.BigEndian.Uint16(b[10:]))
	off := headerLen
	for range qd {
		if off = skipName(b, off); off < 0 || off+4 > len(b) {
			return nil, false
		}
		off += 4
	}
	for range rrs {
		if off = skipName(b, off); off < 0 || off+10 > len(b) {
			return nil, false
		}
		if binary.BigEndian.Uint16(b[off:]) != 41 {
			offs = append(offs, uint16(off+4))
		}
		off += 10 + int(binary.BigEndian.Uint16(b[off+8:]))
		if off > len(b) {
			return nil, false
		}
	}
	return offs, off == len(b)
}

// skipName returns the offset after the name at off, or -1.
func skipName(b []byte, off int) int {
	for {
		if off >= len(b) {
			return -1
		}
		l := int(b[off])
		switch {
		case l == 0:
			return off + 1
		case l&0xc0 == 0xc0:
			if off+2 > len(b) {
				return -1
			}
			return off + 2
		case l&0xc0 != 0:
			return -1
		}
		off += 1 + l
	}
}

// wireEntry is a packed reply kept for the fast path.
type wireEntry struct {
	reply   []byte
	ttls    []uint16
	rcode   int
	cfg     *Config
	stored  time.Time
	expires time.Time
}

// wireGet appends to out the reply kept for q under cfg, for the query in
// pkt, with its id, question and TTLs patched.
func (c *cache) wireGet(q *wireQuery, pkt []byte, cfg *Config, now time.Time, out []byte) ([]byte, int, bool) {
	c.mu.Lock()
	e, ok := c.wire[q.key]
	if ok && (!now.Before(e.expires) || e.cfg != cfg) {
		delete(c.wire, q.key)
		ok = false
	}
	c.mu.Unlock()
	if !ok || len(e.reply) > q.udpSize || len(e.reply) < headerLen+q.qlen {
		return out, 0, false
	}
	out = append(out[:0], e.reply...)
	binary.BigEndian.PutUint16(out, q.id)
	copy(out[headerLen:headerLen+q.qlen], pkt[headerLen:headerLen+q.qlen])
	age := uint32(now.Sub(e.stored) / time.Second)
	if age > 0 {
		for _, o := range e.ttls {
			ttl := binary.BigEndian.Uint32(out[o:])
			binary.BigEndian.PutUint32(out[o:], ttl-min(age, ttl))
		}
	}
	return out, e.rcode, true
}

// wirePut keeps a copy of reply, the packed answer to q, for ttl seconds.
func (c *cache) wirePut(q *wireQuery, reply []byte, rcode int, ttl uint32, cfg *Config, now time.Time) {
	offs, ok := ttlOffsets(reply)
	if !ok || ttl == 0 {
		return
	}
	e := &wireEntry{reply: append([]byte(nil), reply...), ttls: offs, rcode: rcode, cfg: cfg, stored: now,
		expires: now.Add(time.Duration(min(ttl, maxCacheTTL)) * time.Second)}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.max == 0 {
		return
	}
	if _, there := c.wire[q.key]; !there && len(c.wire) >= c.max {
		for k := range c.wire { // Go picks one at random
			delete(c.wire, k)
			break
		}
	}
	c.wire[q.key] = e
}
