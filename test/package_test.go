package test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// requireTools skips t unless every tool is installed; with CI=true it
// fails instead (scripts/install-deps.sh installs them).
func requireTools(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s not installed (scripts/install-deps.sh installs it)", tool)
			}
			t.Skipf("%s not installed (set CI=true to fail instead)", tool)
		}
	}
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// buildPackage runs make deb's script into a temporary directory and
// returns the package's path.
func buildPackage(t *testing.T) string {
	t.Helper()
	requireTools(t, "dpkg-deb", "dpkg", "file")
	out := run(t, "../packaging/deb/build.sh", t.TempDir())
	lines := strings.Split(strings.TrimSpace(out), "\n")
	deb := lines[len(lines)-1]
	if !strings.HasSuffix(deb, ".deb") {
		t.Fatalf("build.sh printed %q, want the package's path last", out)
	}
	return deb
}

// The package as make deb builds it: its metadata, its files with their
// owners and modes, and a binary that runs and accepts the configuration
// it ships.
func TestDebianPackage(t *testing.T) {
	deb := buildPackage(t)
	arch := strings.TrimSpace(run(t, "dpkg", "--print-architecture"))
	if !strings.HasSuffix(deb, "_"+arch+".deb") || !strings.HasPrefix(filepath.Base(deb), "sixgate_") {
		t.Errorf("package named %s", filepath.Base(deb))
	}

	field := func(name string) string {
		return strings.TrimSpace(run(t, "dpkg-deb", "--field", deb, name))
	}
	for name, want := range map[string]string{
		"Package": "sixgate", "Architecture": arch, "Depends": "adduser, procps", "Section": "net", "Priority": "optional",
	} {
		if got := field(name); got != want {
			t.Errorf("%s: %q, want %q", name, got, want)
		}
	}
	if v := field("Version"); !regexp.MustCompile(`^[0-9][A-Za-z0-9.+~]*$`).MatchString(v) {
		t.Errorf("Version %q is no native Debian version", v)
	}
	info := run(t, "dpkg-deb", "--info", deb)
	for _, member := range []string{"conffiles", "control", "md5sums", "postinst", "prerm", "postrm"} {
		if !regexp.MustCompile(`(?m)^\s+\d+ bytes,\s+\d+ lines\s+\*?\s+` + member + `\b`).MatchString(info) {
			t.Errorf("control member %s missing:\n%s", member, info)
		}
	}
	if c := run(t, "dpkg-deb", "--ctrl-tarfile", deb); c == "" {
		t.Error("empty control archive")
	}

	// Every file, with its mode and owner.
	contents := run(t, "dpkg-deb", "--contents", deb)
	files := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(contents), "\n") {
		f := strings.Fields(line)
		if len(f) < 6 {
			t.Fatalf("contents line %q", line)
		}
		if f[1] != "root/root" {
			t.Errorf("%s owned by %s", f[5], f[1])
		}
		files[strings.TrimPrefix(f[5], ".")] = f[0]
	}
	for path, mode := range map[string]string{
		"/usr/bin/sixgate":                                  "-rwxr-xr-x",
		"/lib/systemd/system/sixgate.service":               "-rw-r--r--",
		"/etc/sixgate/sixgate.yaml":                         "-rw-r--r--",
		"/usr/share/doc/sixgate/README.md":                  "-rw-r--r--",
		"/usr/share/doc/sixgate/operations.md":              "-rw-r--r--",
		"/usr/share/doc/sixgate/configuration.md":           "-rw-r--r--",
		"/usr/share/doc/sixgate/copyright":                  "-rw-r--r--",
		"/usr/share/doc/sixgate/changelog.gz":               "-rw-r--r--",
		"/usr/share/doc/sixgate/examples/engine-ports.conf": "-rw-r--r--",
		"/usr/share/man/man8/sixgate.8.gz":                  "-rw-r--r--",
		"/usr/share/lintian/overrides/sixgate":              "-rw-r--r--",
		"/etc/sixgate/":                                     "drwxr-xr-x",
	} {
		if got, ok := files[path]; !ok {
			t.Errorf("%s not in the package:\n%s", path, contents)
		} else if got != mode {
			t.Errorf("%s: mode %s, want %s", path, got, mode)
		}
	}

	root := t.TempDir()
	run(t, "dpkg-deb", "--extract", deb, root)
	ctl := t.TempDir()
	run(t, "dpkg-deb", "--control", deb, ctl)
	if b, _ := os.ReadFile(filepath.Join(ctl, "conffiles")); string(b) != "/etc/sixgate/sixgate.yaml\n" {
		t.Errorf("conffiles: %q", b)
	}
	bin := filepath.Join(root, "usr/bin/sixgate")
	if v, debv := run(t, bin, "-version"), field("Version"); !strings.HasPrefix(v, "sixgate ") ||
		!strings.Contains(strings.ReplaceAll(debv, "+", "-"), strings.Fields(v)[1]) {
		t.Errorf("sixgate -version: %q, package version %s", v, debv)
	}
	if f := run(t, "file", bin); !strings.Contains(f, "statically linked") {
		t.Errorf("not a static binary: %s", f)
	}
	if out := run(t, bin, "check", "-config", filepath.Join(root, "etc/sixgate/sixgate.yaml")); !strings.Contains(out, ": ok: ") {
		t.Errorf("the shipped configuration: %s", out)
	}
	conf, _ := os.ReadFile(filepath.Join(root, "etc/sixgate/sixgate.yaml"))
	if n := strings.Count(string(conf), "\n#"); n < 20 {
		t.Errorf("the shipped configuration has %d comment lines; it is meant to explain itself", n)
	}
}

// The unit as the package installs it: least privilege, and accepted by
// systemd-analyze verify (on a copy whose ExecStart points at the
// extracted binary, since verify wants it to exist), alone and with the
// engine-ports drop-in.
func TestDebianPackageUnit(t *testing.T) {
	requireTools(t, "systemd-analyze")
	deb := buildPackage(t)
	root := t.TempDir()
	run(t, "dpkg-deb", "--extract", deb, root)
	unit, err := os.ReadFile(filepath.Join(root, "lib/systemd/system/sixgate.service"))
	if err != nil {
		t.Fatal(err)
	}
	settings := map[string][]string{}
	for _, line := range strings.Split(string(unit), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
			settings[k] = append(settings[k], v)
		}
	}
	for k, want := range map[string]string{
		"Type":                  "notify",
		"ExecStart":             "/usr/bin/sixgate -config /etc/sixgate/sixgate.yaml -handover /run/sixgate/handover.sock",
		"NotifyAccess":          "all",
		"RuntimeDirectory":      "sixgate",
		"ExecReload":            "/bin/kill -HUP $MAINPID",
		"Restart":               "on-failure",
		"User":                  "sixgate",
		"Group":                 "sixgate",
		"StateDirectory":        "sixgate",
		"ProtectSystem":         "strict",
		"NoNewPrivileges":       "yes",
		"CapabilityBoundingSet": "",
		"AmbientCapabilities":   "",
		"WantedBy":              "multi-user.target",
	} {
		if got := settings[k]; len(got) != 1 || got[0] != want {
			t.Errorf("%s=%q, want %q", k, got, want)
		}
	}
	if len(settings["WatchdogSec"]) != 1 {
		t.Error("no WatchdogSec")
	}
	if !regexp.MustCompile(`(?m)^#.*CapabilityBoundingSet=CAP_NET_RAW CAP_NET_ADMIN$`).Match(unit) {
		t.Error("no commented line granting CAP_NET_ADMIN for sixgate clat")
	}

	dir := t.TempDir()
	copyUnit := strings.ReplaceAll(string(unit), "/usr/bin/sixgate", filepath.Join(root, "usr/bin/sixgate"))
	if err := os.WriteFile(filepath.Join(dir, "sixgate.service"), []byte(copyUnit), 0o644); err != nil {
		t.Fatal(err)
	}
	verify := func(what string) {
		t.Helper()
		cmd := exec.Command("systemd-analyze", "verify", filepath.Join(dir, "sixgate.service"))
		// The unit's directory first, then the usual ones: drop-ins
		// in sixgate.service.d there are read too.
		cmd.Env = append(os.Environ(), "SYSTEMD_UNIT_PATH="+dir+":")
		out, err := cmd.CombinedOutput()
		if err != nil || strings.Contains(string(out), "sixgate.service") {
			t.Errorf("systemd-analyze verify (%s): %v\n%s", what, err, out)
		}
	}
	verify("the unit")
	dropIns := filepath.Join(dir, "sixgate.service.d")
	if err := os.Mkdir(dropIns, 0o755); err != nil {
		t.Fatal(err)
	}
	dropIn, err := os.ReadFile(filepath.Join(root, "usr/share/doc/sixgate/examples/engine-ports.conf"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dropIns, "engine-ports.conf"), append(dropIn, "Bogus=1\n"...), 0o644); err != nil {
		t.Fatal(err)
	}
	// A broken drop-in is reported: the drop-in directory is read.
	cmd := exec.Command("systemd-analyze", "verify", filepath.Join(dir, "sixgate.service"))
	cmd.Env = append(os.Environ(), "SYSTEMD_UNIT_PATH="+dir+":")
	if out, _ := cmd.CombinedOutput(); !strings.Contains(string(out), "Bogus") {
		t.Fatalf("systemd-analyze did not read the drop-in directory: %s", out)
	}
	if err := os.WriteFile(filepath.Join(dropIns, "engine-ports.conf"), dropIn, 0o644); err != nil {
		t.Fatal(err)
	}
	verify("with the engine-ports drop-in")
}

// lintian finds no error in the package.
func TestDebianPackageLintian(t *testing.T) {
	requireTools(t, "lintian")
	deb := buildPackage(t)
	out, err := exec.Command("lintian", "--fail-on", "error", "--pedantic", deb).CombinedOutput()
	t.Logf("lintian --pedantic:\n%s", out)
	if err != nil || regexp.MustCompile(`(?m)^E: `).Match(out) {
		t.Errorf("lintian: %v", err)
	}
}

// The maintainer scripts, run against stand-ins for the commands they
// call: postinst creates the sixgate system user once, gives the
// configuration directory to its group and enables the service on first
// installation only; postrm purges the state.
func TestDebianMaintainerScripts(t *testing.T) {
	requireTools(t, "sh")
	stubs := t.TempDir()
	calls := filepath.Join(t.TempDir(), "calls")
	stub := func(name, script string) {
		body := "#!/bin/sh\necho \"" + name + " $*\" >>" + calls + "\n" + script + "\n"
		if err := os.WriteFile(filepath.Join(stubs, name), []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"adduser", "chown", "chmod", "deb-systemd-helper", "deb-systemd-invoke", "systemctl", "rm"} {
		stub(name, "exit 0")
	}
	script := func(name string, userExists bool, args ...string) string {
		t.Helper()
		os.Remove(calls)
		stub("getent", map[bool]string{true: "exit 0", false: "exit 2"}[userExists])
		cmd := exec.Command("sh", append([]string{filepath.Join("../packaging/deb", name)}, args...)...)
		cmd.Env = []string{"PATH=" + stubs}
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s %v: %v\n%s", name, args, err, out)
		}
		b, _ := os.ReadFile(calls)
		return string(b)
	}

	got := script("postinst", false, "configure")
	for _, want := range []string{
		"getent passwd sixgate\n",
		"adduser --system --group --quiet --home /nonexistent --no-create-home --comment sixgate OpenFlow controller sixgate\n",
		"chown root:sixgate /etc/sixgate\n",
		"chmod 0750 /etc/sixgate\n",
		"deb-systemd-helper enable sixgate.service\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("postinst configure, first installation: no %q in\n%s", want, got)
		}
	}
	got = script("postinst", true, "configure", "0.9")
	if strings.Contains(got, "adduser") || strings.Contains(got, "helper enable") || !strings.Contains(got, "deb-systemd-helper update-state sixgate.service") {
		t.Errorf("postinst configure, upgrade with the user present:\n%s", got)
	}
	if got = script("postrm", true, "purge"); !strings.Contains(got, "rm -rf /var/lib/sixgate") || !strings.Contains(got, "deb-systemd-helper purge sixgate.service") {
		t.Errorf("postrm purge:\n%s", got)
	}
	if got = script("postrm", true, "remove"); strings.Contains(got, "rm ") {
		t.Errorf("postrm remove removes state:\n%s", got)
	}
	if got = script("prerm", true, "remove"); strings.Contains(got, "invoke") && !strings.Contains(got, "deb-systemd-invoke stop sixgate.service") {
		t.Errorf("prerm remove:\n%s", got)
	}
}
