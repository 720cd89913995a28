package ftpalg

import (
	"net/netip"
	"strconv"
)

// Verb is an FTP command the gateway acts on.
type Verb uint8

// The commands the gateway knows; VerbOther passes untouched.
const (
	VerbOther Verb = iota
	VerbEPSV
	VerbEPSVAll
	VerbEPRT
	VerbPASV
	VerbPORT
	VerbLPRT
	VerbLPSV
	VerbAUTH
	VerbALGS
)

// trimEOL returns line without its CR LF (or bare LF).
func trimEOL(line []byte) []byte {
	if n := len(line); n > 0 && line[n-1] == '\n' {
		line = line[:n-1]
	}
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line
}

func upper(c byte) byte {
	if 'a' <= c && c <= 'z' {
		return c - 'a' + 'A'
	}
	return c
}

// equalFold reports whether b is s (upper case ASCII) in any case.
func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range b {
		if upper(b[i]) != s[i] {
			return false
		}
	}
	return true
}

// ParseCommand reads a command line (CR LF optional): its verb and its
// argument, spaces around it trimmed.
func ParseCommand(line []byte) (Verb, []byte) {
	line = trimEOL(line)
	i := 0
	for i < len(line) && line[i] != ' ' {
		i++
	}
	verb, arg := line[:i], line[i:]
	for len(arg) > 0 && arg[0] == ' ' {
		arg = arg[1:]
	}
	for len(arg) > 0 && arg[len(arg)-1] == ' ' {
		arg = arg[:len(arg)-1]
	}
	if len(verb) != 4 {
		return VerbOther, arg
	}
	switch {
	case equalFold(verb, "EPSV"):
		if equalFold(arg, "ALL") {
			return VerbEPSVAll, arg
		}
		return VerbEPSV, arg
	case equalFold(verb, "EPRT"):
		return VerbEPRT, arg
	case equalFold(verb, "PASV"):
		return VerbPASV, arg
	case equalFold(verb, "PORT"):
		return VerbPORT, arg
	case equalFold(verb, "LPRT"):
		return VerbLPRT, arg
	case equalFold(verb, "LPSV"):
		return VerbLPSV, arg
	case equalFold(verb, "AUTH"):
		return VerbAUTH, arg
	case equalFold(verb, "ALGS"):
		return VerbALGS, arg
	}
	return VerbOther, arg
}

// ParseEPRT reads an EPRT argument (RFC 2428 §2: |proto|address|port|,
// any printable delimiter).
func ParseEPRT(arg []byte) (netip.AddrPort, bool) {
	if len(arg) < 7 {
		return netip.AddrPort{}, false
	}
	d := arg[0]
	if d < 33 || d > 126 || arg[len(arg)-1] != d {
		return netip.AddrPort{}, false
	}
	var f [3][]byte
	rest := arg[1 : len(arg)-1]
	for k := 0; k < 3; k++ {
		i := 0
		for i < len(rest) && rest[i] != d {
			i++
		}
		if k < 2 && i == len(rest) || k == 2 && i != len(rest) {
			return netip.AddrPort{}, false
		}
		f[k] = rest[:i]
		if k < 2 {
			rest = rest[i+1:]
		}
	}
	port, ok := parseUint(f[2], 65535)
	if !ok || port == 0 {
		return netip.AddrPort{}, false
	}
	var a netip.Addr
	switch {
	case len(f[0]) == 1 && f[0][0] == '1':
		v4, ok := parseIPv4(f[1])
		if !ok {
			return netip.AddrPort{}, false
		}
		a = netip.AddrFrom4(v4)
	case len(f[0]) == 1 && f[0][0] == '2':
		v6, ok := parseIPv6(f[1])
		if !ok {
			return netip.AddrPort{}, false
		}
		a = netip.AddrFrom16(v6)
	default:
		return netip.AddrPort{}, false
	}
	return netip.AddrPortFrom(a, uint16(port)), true
}

// parseUint reads a decimal number of at most 5 digits up to max.
func parseUint(b []byte, max int) (int, bool) {
	if len(b) == 0 || len(b) > 5 {
		return 0, false
	}
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, n <= max
}

func parseIPv4(b []byte) ([4]byte, bool) {
	var a [4]byte
	for k := 0; k < 4; k++ {
		i := 0
		for i < len(b) && b[i] != '.' {
			i++
		}
		if (k < 3) == (i == len(b)) {
			return a, false
		}
		v, ok := parseUint(b[:i], 255)
		if !ok || i > 3 {
			return a, false
		}
		a[k] = byte(v)
		if k < 3 {
			b = b[i+1:]
		}
	}
	return a, true
}

// parseIPv6 reads an IPv6 address without allocating (netip.ParseAddr
// takes a string): it copies the text to the stack first.
func parseIPv6(b []byte) ([16]byte, bool) {
	var buf [64]byte
	if len(b) == 0 || len(b) > len(buf) {
		return [16]byte{}, false
	}
	n := copy(buf[:], b)
	a, err := netip.ParseAddr(string(buf[:n]))
	if err != nil || !a.Is6() || a.Zone() != "" || a.Is4In6() {
		return [16]byte{}, false
	}
	return a.As16(), true
}

// ReplyCode reads a reply line's code; final is true for the last line
// of a reply ("ddd " or just "ddd"), false for the first line of a
// multi-line one ("ddd-"). ok false: not a line starting with a code.
func ReplyCode(line []byte) (code int, final, ok bool) {
	line = trimEOL(line)
	if len(line) < 3 {
		return 0, false, false
	}
	for _, c := range line[:3] {
		if c < '0' || c > '9' {
			return 0, false, false
		}
	}
	code = int(line[0]-'0')*100 + int(line[1]-'0')*10 + int(line[2]-'0')
	if len(line) == 3 || line[3] == ' ' {
		return code, true, true
	}
	if line[3] == '-' {
		return code, false, true
	}
	return 0, false, false
}

// Parse227 reads the address and port of a 227 reply: the first six
// comma-separated numbers after the code (RFC 959 leaves the text around
// them free; RFC 1123 §4.1.2.6 asks clients to scan for them).
func Parse227(line []byte) ([4]byte, uint16, bool) {
	line = trimEOL(line)
	if len(line) < 4 {
		return [4]byte{}, 0, false
	}
	b := line[4:]
	for len(b) > 0 && (b[0] < '0' || b[0] > '9') {
		b = b[1:]
	}
	return parseSix(b, false)
}

// ParsePORT reads a PORT argument: h1,h2,h3,h4,p1,p2.
func ParsePORT(arg []byte) (netip.AddrPort, bool) {
	a, p, ok := parseSix(trimEOL(arg), true)
	if !ok || p == 0 {
		return netip.AddrPort{}, false
	}
	return netip.AddrPortFrom(netip.AddrFrom4(a), p), true
}

// parseSix reads six comma-separated numbers up to 255 at the start of b
// (all of b if whole): an address and a port.
func parseSix(b []byte, whole bool) ([4]byte, uint16, bool) {
	var a [4]byte
	var v [6]int
	for k := 0; k < 6; k++ {
		i := 0
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		n, ok := parseUint(b[:i], 255)
		if !ok || i > 3 {
			return a, 0, false
		}
		v[k] = n
		b = b[i:]
		if k < 5 {
			if len(b) == 0 || b[0] != ',' {
				return a, 0, false
			}
			b = b[1:]
		}
	}
	if whole && len(b) != 0 {
		return a, 0, false
	}
	a = [4]byte{byte(v[0]), byte(v[1]), byte(v[2]), byte(v[3])}
	return a, uint16(v[4]<<8 | v[5]), true
}

// Parse229 reads the port of a 229 reply: "(|||port|)" with any
// delimiter.
func Parse229(line []byte) (uint16, bool) {
	line = trimEOL(line)
	i := 0
	for i < len(line) && line[i] != '(' {
		i++
	}
	b := line[i:]
	if len(b) < 7 || b[len(b)-1] != ')' && b[len(b)-2] != ')' {
		return 0, false
	}
	d := b[1]
	if b[2] != d || b[3] != d {
		return 0, false
	}
	b = b[4:]
	j := 0
	for j < len(b) && b[j] != d {
		j++
	}
	p, ok := parseUint(b[:j], 65535)
	if !ok || j == len(b) || p == 0 {
		return 0, false
	}
	return uint16(p), true
}

// AppendEPRT4 appends "EPRT |1|a.b.c.d|port|" and CR LF.
func AppendEPRT4(dst []byte, a [4]byte, port uint16) []byte {
	dst = append(dst, "EPRT |1|"...)
	dst = appendIPv4(dst, a, '.')
	dst = append(dst, '|')
	dst = strconv.AppendUint(dst, uint64(port), 10)
	return append(dst, "|\r\n"...)
}

// AppendEPRT6 appends "EPRT |2|address|port|" and CR LF.
func AppendEPRT6(dst []byte, a [16]byte, port uint16) []byte {
	dst = append(dst, "EPRT |2|"...)
	dst = netip.AddrFrom16(a).AppendTo(dst)
	dst = append(dst, '|')
	dst = strconv.AppendUint(dst, uint64(port), 10)
	return append(dst, "|\r\n"...)
}

// AppendPORT appends "PORT a,b,c,d,p1,p2" and CR LF.
func AppendPORT(dst []byte, a [4]byte, port uint16) []byte {
	dst = append(dst, "PORT "...)
	dst = appendIPv4(dst, a, ',')
	dst = append(dst, ',')
	dst = strconv.AppendUint(dst, uint64(port>>8), 10)
	dst = append(dst, ',')
	dst = strconv.AppendUint(dst, uint64(port&0xff), 10)
	return append(dst, "\r\n"...)
}

// Append227 appends a 227 reply for a.b.c.d:port.
func Append227(dst []byte, a [4]byte, port uint16) []byte {
	dst = append(dst, "227 Entering Passive Mode ("...)
	dst = appendIPv4(dst, a, ',')
	dst = append(dst, ',')
	dst = strconv.AppendUint(dst, uint64(port>>8), 10)
	dst = append(dst, ',')
	dst = strconv.AppendUint(dst, uint64(port&0xff), 10)
	return append(dst, ").\r\n"...)
}

// Append229 appends a 229 reply for port.
func Append229(dst []byte, port uint16) []byte {
	dst = append(dst, "229 Entering Extended Passive Mode (|||"...)
	dst = strconv.AppendUint(dst, uint64(port), 10)
	return append(dst, "|).\r\n"...)
}

func appendIPv4(dst []byte, a [4]byte, sep byte) []byte {
	for i, b := range a {
		if i > 0 {
			dst = append(dst, sep)
		}
		dst = strconv.AppendUint(dst, uint64(b), 10)
	}
	return dst
}
