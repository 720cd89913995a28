package dns64

import (
	"encoding/binary"
	"hash/maphash"
	"sync"
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
	udpSize int // the reply's size limit over UDP
	// key is what a packed reply depends on, as bytes, so that looking
	// it up allocates nothing: the client's flags (keyFlags), QTYPE,
	// QCLASS, then the name in lower case as on the wire. Nothing else
	// of the query changes the reply: EDNS options (client subnet,
	// cookies) are not passed upstream nor echoed, so clients sharing
	// an entry get the same bytes.
	key  [keyPrefix + maxName]byte
	klen int
}

// The flags of a key's first byte.
const (
	keyRD   = 1 << iota // recursion desired
	keyCD               // checking disabled
	keyDO               // DNSSEC OK
	keyEDNS             // an OPT record (the reply has one)
)

const (
	keyPrefix = 5   // flags, QTYPE, QCLASS
	maxName   = 255 // RFC 1035 section 2.3.4, on the wire
	headerLen = 12
)

// keyBytes returns the key; it is only valid while q is.
func (q *wireQuery) keyBytes() []byte { return q.key[:q.klen] }

// parseQuery reads a plain query into q: opcode QUERY, one question with
// an uncompressed name, and at most an EDNS(0) OPT record version 0 with
// nothing after it. It reports false for anything else. Unlike miekg's
// decoder it does not look inside the options (a client subnet option
// with an unknown family, say): the fast path ignores them, as RFC 6891
// asks of options a server does not implement.
func parseQuery(b []byte, q *wireQuery) bool {
	if len(b) < headerLen+5 {
		return false
	}
	flags := binary.BigEndian.Uint16(b[2:])
	const qrOpcodeTC = 0x8000 | 0x7800 | 0x0200
	if flags&qrOpcodeTC != 0 || binary.BigEndian.Uint16(b[4:]) != 1 || binary.BigEndian.Uint16(b[6:]) != 0 ||
		binary.BigEndian.Uint16(b[8:]) != 0 {
		return false
	}
	ar := binary.BigEndian.Uint16(b[10:])
	if ar > 1 {
		return false
	}
	name := q.key[keyPrefix:]
	n := 0
	off := headerLen
	for {
		if off >= len(b) {
			return false
		}
		l := int(b[off])
		if l == 0 {
			off++
			break
		}
		if l&0xc0 != 0 || off+1+l > len(b) || n+1+l > maxName-1 {
			return false
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
		return false
	}
	var kf byte
	if flags&0x0100 != 0 {
		kf |= keyRD
	}
	if flags&0x0010 != 0 {
		kf |= keyCD
	}
	q.key[0] = kf
	copy(q.key[1:keyPrefix], b[off:off+4]) // QTYPE, QCLASS
	q.klen = keyPrefix + n
	off += 4
	q.id = binary.BigEndian.Uint16(b)
	q.qlen = off - headerLen
	q.udpSize = 512
	if ar == 0 {
		return off == len(b)
	}
	// The OPT record (RFC 6891 section 6.1.2): root name, TYPE 41,
	// CLASS the UDP size, TTL the extended RCODE, version and flags.
	if off+11 > len(b) || b[off] != 0 || binary.BigEndian.Uint16(b[off+1:]) != 41 || b[off+6] != 0 {
		return false
	}
	q.key[0] |= keyEDNS
	if b[off+7]&0x80 != 0 {
		q.key[0] |= keyDO
	}
	q.udpSize = min(max(int(binary.BigEndian.Uint16(b[off+3:])), 512), bufferSize)
	rdlen := int(binary.BigEndian.Uint16(b[off+9:]))
	if off+11+rdlen != len(b) {
		return false
	}
	// The options must fill the RDATA exactly (RFC 6891 section 6.1.2);
	// what they say is not read: none changes the answer, and none is
	// echoed.
	for o := off + 11; o < len(b); {
		if o+4 > len(b) {
			return false
		}
		o += 4 + int(binary.BigEndian.Uint16(b[o+2:]))
		if o > len(b) {
			return false
		}
	}
	return true
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

// patchSafe reports whether patching the header and the TTLs at ttls
// changes no name in b. A name may be a pointer to bytes read as labels
// elsewhere in the message (RFC 1035 section 4.1.4): miekg's encoder
// only points at earlier names, but a pointer into a TTL would make the
// patched reply say another name. Pointers inside RDATA cannot be told
// from data without knowing every type, so every pair of bytes that reads
// as a pointer to within the message is followed; one that reaches a
// patched byte keeps the reply out of the fast path, which costs only
// speed.
func patchSafe(b []byte, ttls []uint16) bool {
	patched := make([]bool, len(b))
	for i := range min(headerLen, len(b)) {
		patched[i] = true
	}
	for _, o := range ttls {
		for i := int(o); i < int(o)+4 && i < len(b); i++ {
			patched[i] = true
		}
	}
	for p := headerLen; p+1 < len(b); p++ {
		if b[p]&0xc0 != 0xc0 {
			continue
		}
		if t := int(binary.BigEndian.Uint16(b[p:]) & 0x3fff); t < len(b) && !nameUntouched(b, t, patched) {
			return false
		}
	}
	return true
}

// nameUntouched reports whether the name read at off, following its
// pointers, reads no byte marked in patched (and ends within b, in a
// bounded number of steps).
func nameUntouched(b []byte, off int, patched []bool) bool {
	for range 256 {
		if off >= len(b) || patched[off] {
			return false
		}
		l := int(b[off])
		switch {
		case l == 0:
			return true
		case l&0xc0 == 0xc0:
			if off+1 >= len(b) || patched[off+1] {
				return false
			}
			off = int(binary.BigEndian.Uint16(b[off:]) & 0x3fff)
			continue
		case l&0xc0 != 0:
			return false
		}
		if off+1+l > len(b) {
			return false
		}
		for _, p := range patched[off+1 : off+1+l] {
			if p {
				return false
			}
		}
		off += 1 + l
	}
	return false
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

// wireEntry is a packed reply kept for the fast path. It is not changed
// once kept: a hit copies it.
type wireEntry struct {
	reply   []byte
	ttls    []uint16
	rcode   int
	cfg     *Config
	stored  time.Time
	expires time.Time
}

// wireShards is the number of parts the packed replies are kept in, each
// under its own lock, so that the readers of several cores seldom wait on
// one another.
const wireShards = 16

type wireShard struct {
	mu sync.Mutex
	m  map[string]*wireEntry
	_  [40]byte // a cache line each
}

func (c *cache) shard(key []byte) *wireShard {
	return &c.wire[maphash.Bytes(c.seed, key)%wireShards]
}

// wireGet appends to out the reply kept for q under cfg, for the query in
// pkt, with its id, question and TTLs patched. It allocates nothing.
func (c *cache) wireGet(q *wireQuery, pkt []byte, cfg *Config, now time.Time, out []byte) ([]byte, int, bool) {
	key := q.keyBytes()
	sh := c.shard(key)
	sh.mu.Lock()
	e, ok := sh.m[string(key)] // no copy of the key: the compiler sees it is only looked up
	if ok && (!now.Before(e.expires) || e.cfg != cfg) {
		delete(sh.m, string(key))
		ok = false
	}
	sh.mu.Unlock()
	if !ok || len(e.reply) > q.udpSize || len(e.reply) < headerLen+q.qlen || len(pkt) < headerLen+q.qlen {
		return out, 0, false
	}
	out = patchReply(append(out[:0], e.reply...), pkt[headerLen:headerLen+q.qlen], q.id, e.ttls, uint32(now.Sub(e.stored)/time.Second))
	return out, e.rcode, true
}

// patchReply makes reply, a copy of a kept reply, the answer to a query
// with id whose question section (as the client wrote it) is question:
// the id and the question are written over the kept ones, which have the
// same length and differ at most in letter case, and the TTLs at ttls
// are counted down by age seconds.
func patchReply(reply, question []byte, id uint16, ttls []uint16, age uint32) []byte {
	binary.BigEndian.PutUint16(reply, id)
	copy(reply[headerLen:], question)
	if age > 0 {
		for _, o := range ttls {
			ttl := binary.BigEndian.Uint32(reply[o:])
			binary.BigEndian.PutUint32(reply[o:], ttl-min(age, ttl))
		}
	}
	return reply
}

// wirePut keeps a copy of reply, the packed answer to q, for ttl seconds.
func (c *cache) wirePut(q *wireQuery, reply []byte, rcode int, ttl uint32, cfg *Config, now time.Time) {
	offs, ok := ttlOffsets(reply)
	if !ok || ttl == 0 || len(reply) < headerLen+q.qlen || !patchSafe(reply, offs) {
		return
	}
	e := &wireEntry{reply: append([]byte(nil), reply...), ttls: offs, rcode: rcode, cfg: cfg, stored: now,
		expires: now.Add(time.Duration(min(ttl, maxCacheTTL)) * time.Second)}
	key := q.keyBytes()
	sh := c.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	limit := c.max.Load() / wireShards
	if c.max.Load() > 0 {
		limit = max(limit, 1)
	}
	if limit == 0 {
		return
	}
	if _, there := sh.m[string(key)]; !there && int64(len(sh.m)) >= limit {
		for k := range sh.m { // Go picks one at random
			delete(sh.m, k)
			break
		}
	}
	sh.m[string(key)] = e
}
