package l7

import "encoding/binary"

const (
	tlsRecordHandshake  = 22
	tlsRecordHeaderLen  = 5
	tlsMaxRecordLen     = 1<<14 + 2048
	handshakeClientHelo = 1
	extServerName       = 0
	sniHostName         = 0
	// maxClientHello bounds reassembly of a ClientHello spread over
	// records; real ones, post-quantum key shares included, are far smaller.
	maxClientHello = 1 << 16
)

// ServerName finds the server_name a TLS client asks for in the records
// that start b. The ClientHello may span several TCP segments and several
// TLS records.
func ServerName(b []byte) ([]byte, Result) {
	msg, r := clientHello(b)
	if r != Found {
		return nil, r
	}
	return serverNameFromHello(msg)
}

// clientHello returns the ClientHello handshake message body (after its
// 4-byte header) once all of it has arrived.
func clientHello(b []byte) ([]byte, Result) {
	if len(b) < tlsRecordHeaderLen {
		if len(b) > 0 && b[0] != tlsRecordHandshake {
			return nil, Invalid
		}
		return nil, NeedMore
	}
	if r := checkRecordHeader(b); r != Found {
		return nil, r
	}
	first := recordBody(b)
	if len(first) >= 4 {
		if first[0] != handshakeClientHelo {
			return nil, Invalid
		}
		n := int(first[1])<<16 | int(first[2])<<8 | int(first[3])
		if n > maxClientHello {
			return nil, Invalid
		}
		if 4+n <= len(first) {
			return first[4 : 4+n], Found
		}
	}
	return reassembleHello(b)
}

func checkRecordHeader(b []byte) Result {
	if b[0] != tlsRecordHandshake || b[1] != 3 {
		return Invalid
	}
	n := int(binary.BigEndian.Uint16(b[3:]))
	if n == 0 || n > tlsMaxRecordLen {
		return Invalid
	}
	return Found
}

// recordBody returns what is present of the record starting at b.
func recordBody(b []byte) []byte {
	n := int(binary.BigEndian.Uint16(b[3:]))
	body := b[tlsRecordHeaderLen:]
	if len(body) > n {
		body = body[:n]
	}
	return body
}

// reassembleHello concatenates handshake records until the ClientHello is
// complete. This is the one path that allocates.
func reassembleHello(b []byte) ([]byte, Result) {
	var msg []byte
	for {
		if len(b) < tlsRecordHeaderLen {
			break
		}
		if r := checkRecordHeader(b); r != Found {
			return nil, r
		}
		body := recordBody(b)
		msg = append(msg, body...)
		if len(msg) >= 4 {
			if msg[0] != handshakeClientHelo {
				return nil, Invalid
			}
			n := int(msg[1])<<16 | int(msg[2])<<8 | int(msg[3])
			if n > maxClientHello {
				return nil, Invalid
			}
			if 4+n <= len(msg) {
				return msg[4 : 4+n], Found
			}
		}
		n := int(binary.BigEndian.Uint16(b[3:]))
		if len(body) < n {
			break
		}
		b = b[tlsRecordHeaderLen+n:]
	}
	if len(b) > 0 && b[0] != tlsRecordHandshake {
		return nil, Invalid
	}
	return nil, NeedMore
}

// serverNameFromHello walks a complete ClientHello body to its server_name
// extension.
func serverNameFromHello(m []byte) ([]byte, Result) {
	// legacy_version(2) random(32)
	if len(m) < 34 {
		return nil, Invalid
	}
	m = m[34:]
	var ok bool
	if m, ok = skipVector(m, 1); !ok { // legacy_session_id
		return nil, Invalid
	}
	if m, ok = skipVector(m, 2); !ok { // cipher_suites
		return nil, Invalid
	}
	if m, ok = skipVector(m, 1); !ok { // legacy_compression_methods
		return nil, Invalid
	}
	if len(m) == 0 {
		return nil, Absent // no extensions at all
	}
	if len(m) < 2 {
		return nil, Invalid
	}
	exts := m[2:]
	if n := int(binary.BigEndian.Uint16(m)); n <= len(exts) {
		exts = exts[:n]
	} else {
		return nil, Invalid
	}
	for len(exts) >= 4 {
		typ := binary.BigEndian.Uint16(exts)
		n := int(binary.BigEndian.Uint16(exts[2:]))
		if 4+n > len(exts) {
			return nil, Invalid
		}
		if typ == extServerName {
			return hostNameFromList(exts[4 : 4+n])
		}
		exts = exts[4+n:]
	}
	if len(exts) != 0 {
		return nil, Invalid
	}
	return nil, Absent
}

// hostNameFromList reads a ServerNameList and returns its host_name entry.
func hostNameFromList(b []byte) ([]byte, Result) {
	if len(b) < 2 {
		return nil, Invalid
	}
	n := int(binary.BigEndian.Uint16(b))
	if 2+n > len(b) {
		return nil, Invalid
	}
	list := b[2 : 2+n]
	for len(list) >= 3 {
		typ := list[0]
		l := int(binary.BigEndian.Uint16(list[1:]))
		if 3+l > len(list) {
			return nil, Invalid
		}
		if typ == sniHostName {
			if l == 0 {
				return nil, Invalid
			}
			return list[3 : 3+l], Found
		}
		list = list[3+l:]
	}
	return nil, Absent
}

// skipVector skips a TLS vector whose length prefix has lenBytes bytes.
func skipVector(b []byte, lenBytes int) ([]byte, bool) {
	if len(b) < lenBytes {
		return nil, false
	}
	n := 0
	for i := 0; i < lenBytes; i++ {
		n = n<<8 | int(b[i])
	}
	if lenBytes+n > len(b) {
		return nil, false
	}
	return b[lenBytes+n:], true
}
