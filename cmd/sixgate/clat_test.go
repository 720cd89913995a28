package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestCLATUsage(t *testing.T) {
	for _, c := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"-h"}, 0, "-uplink interface"},
		{nil, 2, "-uplink is required"},
		{[]string{"-uplink", "eth0", "extra"}, 2, "no arguments"},
		{[]string{"-bogus"}, 2, "flag provided but not defined"},
		{[]string{"-uplink", "eth0", "-ipv6", "192.0.2.1"}, 2, "-ipv6"},
		{[]string{"-uplink", "eth0", "-ipv6", "fe80::1"}, 2, "not a global unicast"},
		{[]string{"-uplink", "eth0", "-pref64", "64:ff9b::/95"}, 2, "RFC 6052"},
		{[]string{"-uplink", "eth0", "-pref64", "64:ff9b::1/96"}, 2, "bits set beyond"},
		{[]string{"-uplink", "eth0", "-pref64", "nonsense"}, 2, "-pref64"},
		{[]string{"-uplink", "eth0", "-tun", "a-name-longer-than-15"}, 2, "-tun"},
		{[]string{"-uplink", "eth0", "-log-level", "loud"}, 2, "-log-level"},
		{[]string{"-uplink", "eth0", "-log-format", "xml"}, 2, "-log-format"},
		// Valid flags and an interface that does not exist: a
		// runtime error, not a usage error.
		{[]string{"-uplink", "no-such-if0", "-pref64", "64:ff9b::/96"}, 1, "uplink no-such-if0"},
	} {
		var stderr bytes.Buffer
		code := clatMain(c.args, &stderr)
		if code != c.code || !strings.Contains(stderr.String(), c.msg) {
			t.Errorf("clat %q: exit %d, want %d, with %q in:\n%s", c.args, code, c.code, c.msg, stderr.String())
		}
	}
}
