package proxy46

import (
	"fmt"
	"strings"
)

// MaxNameLen is the longest host name a name index holds: a DNS name is
// at most 253 bytes in its text form (RFC 1035 §2.3.4, without the final
// dot). Longer names from clients match nothing.
const MaxNameLen = 253

// span is one candidate list: svc.cands[off : off+n], backend indices in
// the order they are tried.
type span struct{ off, n uint32 }

// nameIndex maps host names to candidate lists. A lookup costs one map
// probe for the exact name and one per label for the wildcards, whatever
// the number of names: it does not scan them.
type nameIndex struct {
	exact map[string]span // lower-case names without a final dot
	wild  map[string]span // "*.example.com" is keyed "example.com"
}

// lookup finds the candidates of a name as a client sent it (any case,
// maybe with a final dot): the exact name first, then the most specific
// wildcard, walking the name label by label. It does not allocate.
func (ix *nameIndex) lookup(name []byte) (span, bool) {
	if n := len(name); n > 0 && name[n-1] == '.' {
		name = name[:n-1]
	}
	if len(name) == 0 || len(name) > MaxNameLen {
		return span{}, false
	}
	var buf [MaxNameLen]byte
	b := buf[:len(name)]
	for i, c := range name {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b[i] = c
	}
	if s, ok := ix.exact[string(b)]; ok {
		return s, true
	}
	if len(ix.wild) == 0 {
		return span{}, false
	}
	// "*.example.com" needs at least one byte before ".example.com".
	for i := 1; i < len(b)-1; i++ {
		if b[i] == '.' {
			if s, ok := ix.wild[string(b[i+1:])]; ok {
				return s, true
			}
		}
	}
	return span{}, false
}

// NormalName is the form a name pattern is indexed under: lower case,
// without a final dot. It returns s itself when s is already in that form.
func NormalName(s string) string {
	s = strings.TrimSuffix(s, ".")
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			return strings.ToLower(s)
		}
	}
	return s
}

// CheckName checks a name pattern for http-host and sni services: a host
// name of at most MaxNameLen bytes, or "*." followed by one, without
// white space, '/' or any other '*'.
func CheckName(s string) error {
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

// indexBuilder gathers the candidates of every name of a service before
// they are laid out in one slice.
type indexBuilder struct {
	order []string // keys in first-seen order, "*." kept for wildcards
	lists map[string][]uint32
}

func (ib *indexBuilder) add(pattern string, backend uint32) {
	k := NormalName(pattern)
	l, seen := ib.lists[k]
	if !seen {
		ib.order = append(ib.order, k)
	}
	for _, b := range l {
		if b == backend {
			return
		}
	}
	ib.lists[k] = append(l, backend)
}

// build lays the lists out in svc.cands and fills the index.
func (ib *indexBuilder) build(svc *service) {
	nExact, nWild := 0, 0
	for _, k := range ib.order {
		if strings.HasPrefix(k, "*.") {
			nWild++
		} else {
			nExact++
		}
	}
	svc.names.exact = make(map[string]span, nExact)
	if nWild > 0 {
		svc.names.wild = make(map[string]span, nWild)
	}
	for _, k := range ib.order {
		s := svc.addList(ib.lists[k])
		if w, ok := strings.CutPrefix(k, "*."); ok {
			svc.names.wild[w] = s
		} else {
			svc.names.exact[k] = s
		}
	}
}
