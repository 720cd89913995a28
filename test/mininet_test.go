package test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"context"

	"github.com/sixgate/sixgate/test/ovs"
)

// The Mininet script builds the seed demo from the same file and runs its
// checks against the real sixgate binary.
func TestMininetSeedDemo(t *testing.T) {
	ovs.Require(t)
	if err := exec.Command("/usr/bin/python3", "-c", "import mininet.net, yaml").Run(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("Mininet not importable from /usr/bin/python3 (apt-get install mininet python3-yaml): %v", err)
		}
		t.Skipf("Mininet not importable from /usr/bin/python3 (set CI=true to fail instead): %v", err)
	}
	bin := ovs.BuildSixgate(t)
	server := filepath.Join(t.TempDir(), "demoserver")
	if out, err := exec.Command("go", "build", "-o", server, "./demoserver").CombinedOutput(); err != nil {
		t.Fatalf("build demoserver: %v: %s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "/usr/bin/python3", "mininet/sixgate_net.py", "--config", "topo/examples/seed.yaml",
		"--sixgate", bin, "--demoserver", server, "--test")
	cmd.Dir = ".."
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("sixgate_net.py --test: %v\n%s", err, out)
	}
	if n := strings.Count(string(out), "\nok "); n != 6 {
		t.Errorf("%d checks passed, want the seed's 6:\n%s", n, out)
	}
}
