package proxy46

import (
	"os/exec"
	"strings"
	"testing"
)

// TestLibraryDeps keeps the engine a library: packets in, packets and
// counters out. Metrics exporters and the OpenFlow controller belong to
// the apps that use it.
func TestLibraryDeps(t *testing.T) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Fatal("go list needs the go command:", err)
	}
	out, err := exec.Command(gobin, "list", "-deps", ".").Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			t.Fatalf("go list -deps: %v\n%s", err, ee.Stderr)
		}
		t.Fatalf("go list -deps: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, banned := range []string{
			"github.com/prometheus/",
			"github.com/sixgate/sixgate/controller",
			"github.com/sixgate/sixgate/apps/",
		} {
			if strings.HasPrefix(dep, banned) {
				t.Errorf("proxy46 depends on %s", dep)
			}
		}
		if strings.Contains(dep, "openflow") || strings.HasSuffix(dep, "/ofp") {
			t.Errorf("proxy46 depends on OpenFlow package %s", dep)
		}
	}
}
