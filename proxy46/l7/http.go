package l7

import "bytes"

// maxRequestLine bounds the request line looked at before giving up.
const maxRequestLine = 8192

// HTTPHost finds the Host header of the HTTP/1.x request that starts b,
// without its port. It returns Found as soon as the Host line is complete,
// and Absent when the header section ends without one (HTTP/1.0).
func HTTPHost(b []byte) ([]byte, Result) {
	line, rest, ok := cutLine(b)
	if !ok {
		if len(b) > maxRequestLine || !plausibleRequestStart(b) {
			return nil, Invalid
		}
		return nil, NeedMore
	}
	if !isRequestLine(line) {
		return nil, Invalid
	}
	for {
		line, rest, ok = cutLine(rest)
		if !ok {
			return nil, NeedMore
		}
		if len(line) == 0 {
			return nil, Absent
		}
		name, value, found := bytes.Cut(line, []byte(":"))
		if !found {
			return nil, Invalid
		}
		if len(name) == 4 && bytes.EqualFold(name, []byte("host")) {
			host := stripPort(bytes.Trim(value, " \t"))
			if len(host) == 0 {
				return nil, Invalid
			}
			return host, Found
		}
	}
}

// cutLine splits off one line ending in LF (an optional CR is removed).
func cutLine(b []byte) (line, rest []byte, ok bool) {
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		return nil, b, false
	}
	line = b[:i]
	if len(line) > 0 && line[len(line)-1] == '\r' {
		line = line[:len(line)-1]
	}
	return line, b[i+1:], true
}

// isRequestLine checks "METHOD SP target SP HTTP/1.x".
func isRequestLine(l []byte) bool {
	sp := bytes.IndexByte(l, ' ')
	if sp <= 0 || !isToken(l[:sp]) {
		return false
	}
	return bytes.HasSuffix(l, []byte(" HTTP/1.1")) || bytes.HasSuffix(l, []byte(" HTTP/1.0"))
}

// plausibleRequestStart rejects early what cannot become a request line,
// so a TLS client does not wait for the bound on an HTTP service.
func plausibleRequestStart(b []byte) bool {
	sp := bytes.IndexByte(b, ' ')
	if sp < 0 {
		return isToken(b)
	}
	return sp > 0 && isToken(b[:sp])
}

func isToken(b []byte) bool {
	for _, c := range b {
		if c <= ' ' || c >= 0x7f || bytes.IndexByte([]byte("()<>@,;:\\\"/[]?={}"), c) >= 0 {
			return false
		}
	}
	return true
}

// stripPort removes ":port" from a host, keeping bracketed IPv6 literals.
func stripPort(h []byte) []byte {
	if len(h) > 0 && h[0] == '[' {
		if i := bytes.IndexByte(h, ']'); i > 0 {
			return h[:i+1]
		}
		return h
	}
	if i := bytes.LastIndexByte(h, ':'); i >= 0 {
		return h[:i]
	}
	return h
}
