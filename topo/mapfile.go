package topo

import (
	"bytes"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strings"
)

// MaxMapFileSize is the largest map file a service may name (about a
// million names of ordinary length).
const MaxMapFileSize = 64 << 20

// MaxNameLen is the longest host name: 253 bytes in text form, without
// the final dot (RFC 1035 §2.3.4).
const MaxNameLen = 253

// MapEntry is one line of a map file: a host name (lower case, or a
// "*.example.com" wildcard) and the backends it goes to, in the order they
// are tried.
type MapEntry struct {
	Name     string
	Backends []netip.AddrPort
	Line     int
}

// ParseMap reads a map file: one host name a line followed by one or more
// backend addresses ("[2001:db8::1]:80"), separated by spaces or tabs;
// '#' starts a comment, blank lines are skipped. pool6, when valid, is
// refused as a backend prefix. Problems are returned as Errors naming
// name and the line, every problem found (up to a bound).
func ParseMap(name string, data []byte, pool6 netip.Prefix) ([]MapEntry, error) {
	p := newProblems(name)
	entries := parseMap(p, data, pool6)
	if err := p.err(); err != nil {
		return nil, err
	}
	return entries, nil
}

func parseMap(p *problems, data []byte, pool6 netip.Prefix) []MapEntry {
	entries := make([]MapEntry, 0, bytes.Count(data, []byte{'\n'})+1)
	seen := make(map[string]int, cap(entries))
	var fields [16]string
	for n := 1; len(data) > 0; n++ {
		var line []byte
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			line, data = data, nil
		}
		if i := bytes.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		f := splitFields(string(line), fields[:0])
		if len(f) == 0 {
			continue
		}
		host := strings.ToLower(strings.TrimSuffix(f[0], "."))
		if err := checkHostName(f[0]); err != nil {
			p.addAt(n, "", "%v", err)
			continue
		}
		if len(f) == 1 {
			p.addAt(n, "", "%s has no backend (want: NAME [2001:db8::1]:80 ...)", f[0])
			continue
		}
		if prev, dup := seen[host]; dup {
			p.addAt(n, "", "duplicate name %s (also line %d)", host, prev)
			continue
		}
		e := MapEntry{Name: host, Line: n, Backends: make([]netip.AddrPort, 0, len(f)-1)}
		ok := true
		for _, s := range f[1:] {
			ap, err := backendAddress(s, pool6)
			if err != nil {
				p.addAt(n, "", "%v", err)
				ok = false
				continue
			}
			for _, b := range e.Backends {
				if b == ap {
					p.addAt(n, "", "backend %s given twice for %s", ap, host)
					ok = false
				}
			}
			e.Backends = append(e.Backends, ap)
		}
		if ok {
			seen[host] = n
			entries = append(entries, e)
		}
	}
	return entries
}

// splitFields splits s at spaces, tabs and carriage returns into out.
func splitFields(s string, out []string) []string {
	for {
		s = strings.TrimLeft(s, " \t\r")
		if s == "" {
			return out
		}
		i := strings.IndexAny(s, " \t\r")
		if i < 0 {
			return append(out, s)
		}
		out = append(out, s[:i])
		s = s[i:]
	}
}

// checkHostName checks a name matched against SNI or Host: a host name of
// at most MaxNameLen bytes, or "*." followed by one, without white space,
// '/' or another '*'.
func checkHostName(s string) error {
	rest := strings.TrimSuffix(s, ".")
	if w, ok := strings.CutPrefix(rest, "*."); ok {
		rest = w
	}
	switch {
	case rest == "":
		return fmt.Errorf("%q is not a host name", s)
	case len(rest) > MaxNameLen:
		return fmt.Errorf("%q is longer than %d bytes", s, MaxNameLen)
	case strings.ContainsAny(rest, " \t\r\n/*"):
		return fmt.Errorf("%q is not a host name (a wildcard is written *.example.com)", s)
	}
	return nil
}

// readMapFile reads a service's map file, bounded by MaxMapFileSize.
func readMapFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxMapFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxMapFileSize {
		return nil, fmt.Errorf("%s is larger than the %d bytes allowed", path, MaxMapFileSize)
	}
	return data, nil
}
