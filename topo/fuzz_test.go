package topo

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse feeds arbitrary text to the loader. It must never panic, and a
// file it accepts must be usable: lookups and path computation work on it.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("examples/*.yaml")
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, tc := range validationCases {
		f.Add([]byte(tc.yaml))
	}
	f.Add([]byte(siitOnly))
	// Aliases and merges, which the shape check follows by hand.
	f.Add([]byte("x: &h {name: h1, switch: s1, port: 1, mac: \"00:00:0a:00:00:01\"}\nswitches: [{name: s1, dpid: 1}]\nhosts: [*h]\n"))
	f.Add([]byte("switches: &a [*a]\n"))
	f.Add([]byte("hosts: [{<<: [*x]}]\n"))
	f.Add([]byte("a: &a [1,1,1,1,1,1,1,1,1]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nsubnets: [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"))

	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 64<<10 {
			return // larger inputs only make the run slower, not different
		}
		topo, err := Parse("fuzz.yaml", data)
		if err != nil {
			if topo != nil {
				t.Fatal("Parse returned both a topology and an error")
			}
			return
		}
		fwd := topo.Forwarding(nil)
		for _, s := range topo.Switches {
			if got, ok := topo.SwitchByDPID(s.DPID); !ok || got != s {
				t.Fatalf("SwitchByDPID(%#x) = %v", s.DPID, got)
			}
			for _, r := range fwd.Routes(s.DPID) {
				if _, ok := fwd.Path(s.DPID, r.Host); !ok {
					t.Fatalf("route from %s to %s has no path", s.Name, r.Host.Name)
				}
			}
		}
		for _, n := range topo.Neighbors() {
			if _, ok := topo.MACFor(n.Addr); !ok {
				t.Fatalf("MACFor(%v) failed for a listed neighbor", n.Addr)
			}
		}
	})
}
