package l7

import "strings"

// MatchPrefix says whether b starts with prefix: Found, Absent, or
// NeedMore when b is a shorter beginning of prefix.
func MatchPrefix(b []byte, prefix string) Result {
	if len(b) >= len(prefix) {
		if string(b[:len(prefix)]) == prefix {
			return Found
		}
		return Absent
	}
	if prefix[:len(b)] == string(b) {
		return NeedMore
	}
	return Absent
}

// MatchName says whether a host name matches a pattern: equal ignoring
// case and a trailing dot, or, for a pattern "*.example.com", any name
// ending in ".example.com".
func MatchName(name []byte, pattern string) bool {
	if n := len(name); n > 0 && name[n-1] == '.' {
		name = name[:n-1]
	}
	if suffix, ok := strings.CutPrefix(pattern, "*"); ok && strings.HasPrefix(suffix, ".") {
		return len(name) > len(suffix) && equalFold(name[len(name)-len(suffix):], suffix)
	}
	return equalFold(name, pattern)
}

// equalFold compares ASCII case-insensitively without allocating.
func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range b {
		x, y := b[i], s[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
