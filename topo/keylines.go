package topo

import "strings"

// restartKeys are the keys a running sixgate cannot take from a reload,
// whose lines the topology keeps so that a refused reload can point at
// them (KeyLine).
var restartKeys = []string{"controller", "hosts", "ha",
	"splice46", "splice46.mode", "splice46.ports", "splice46.pool6",
	"siit", "siit.mode", "siit.ports", "nat64", "nat64.mode", "nat64.ports",
	"dhcp4", "dns64", "dns64.listen"}

// keepLines copies from ix the lines of the restart keys and of every key
// under "controller".
func keepLines(ix lineIndex) lineIndex {
	out := lineIndex{}
	for path, line := range ix {
		if strings.HasPrefix(path, "controller.") {
			out[path] = line
		}
	}
	for _, k := range restartKeys {
		if l, ok := ix[k]; ok {
			out[k] = l
		}
	}
	return out
}

// KeyLine returns the line where a key that needs a restart to change
// (restartKeys, or one under controller) is written, or that of its
// nearest written parent; 0 when none is.
func (t *Topology) KeyLine(path string) int { return t.keyLines.line(path) }
