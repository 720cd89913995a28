package topo

import (
	"bytes"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var testPool6 = netip.MustParsePrefix("2001:db8:ffff::/96")

func TestParseMap(t *testing.T) {
	src := "# sites\n" +
		"a.example [2001:db8::1]:80\n" +
		"\n" +
		"B.Example.\t[2001:db8::2]:80   [2001:db8::1]:80  # two, tried in this order\r\n" +
		"*.c.example [2001:db8::3]:443"
	got, err := ParseMap("sites.map", []byte(src), testPool6)
	if err != nil {
		t.Fatal(err)
	}
	want := []MapEntry{
		{Name: "a.example", Line: 2, Backends: []netip.AddrPort{netip.MustParseAddrPort("[2001:db8::1]:80")}},
		{Name: "b.example", Line: 4, Backends: []netip.AddrPort{netip.MustParseAddrPort("[2001:db8::2]:80"), netip.MustParseAddrPort("[2001:db8::1]:80")}},
		{Name: "*.c.example", Line: 5, Backends: []netip.AddrPort{netip.MustParseAddrPort("[2001:db8::3]:443")}},
	}
	if len(got) != len(want) {
		t.Fatalf("%d entries: %+v", len(got), got)
	}
	for i := range want {
		if got[i].Name != want[i].Name || got[i].Line != want[i].Line || len(got[i].Backends) != len(want[i].Backends) {
			t.Fatalf("entry %d: %+v, want %+v", i, got[i], want[i])
		}
		for j := range want[i].Backends {
			if got[i].Backends[j] != want[i].Backends[j] {
				t.Fatalf("entry %d: %+v, want %+v", i, got[i], want[i])
			}
		}
	}
}

func TestParseMapErrors(t *testing.T) {
	src := "a.example [2001:db8::1]:80\n" +
		"lonely.example\n" +
		"a.EXAMPLE [2001:db8::2]:80\n" +
		"b.example 10.0.0.1:80\n" +
		"c.example [2001:db8:ffff::1]:80\n" +
		"d.example [2001:db8::1]:80 [2001:db8::1]:80\n" +
		"bad/name [2001:db8::1]:80\n" +
		"*.*.example [2001:db8::1]:80\n" +
		"e.example [2001:db8::1]\n"
	_, err := ParseMap("sites.map", []byte(src), testPool6)
	if err == nil {
		t.Fatal("accepted")
	}
	want := []string{
		`sites.map:2: lonely.example has no backend (want: NAME [2001:db8::1]:80 ...)`,
		`sites.map:3: duplicate name a.example (also line 1)`,
		`sites.map:4: backend 10.0.0.1:80 must be an IPv6 unicast address`,
		`sites.map:5: backend [2001:db8:ffff::1]:80 is inside pool6 2001:db8:ffff::/96`,
		`sites.map:6: backend [2001:db8::1]:80 given twice for d.example`,
		`sites.map:7: "bad/name" is not a host name (a wildcard is written *.example.com)`,
		`sites.map:8: "*.*.example" is not a host name (a wildcard is written *.example.com)`,
		`sites.map:9: malformed backend address "[2001:db8::1]" (want "[2001:db8::1]:80")`,
	}
	if got := err.Error(); got != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", got, strings.Join(want, "\n"))
	}
}

const mapService = `
switches: [{name: s1, dpid: "0x1"}]
splice46:
  mac: "00:00:0a:00:00:42"
  pool6: "2001:db8:ffff::/96"
  services:
    - vip: "10.0.0.42"
      port: 443
      select: sni
      backends:
        - {address: "[2001:db8::1]:443", match: [yaml.example, a.example]}
      backends_file: sites.map
`

func TestLoadMapFile(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "sixgate.yaml")
	write(t, cfg, mapService)
	write(t, filepath.Join(dir, "sites.map"), "a.example [2001:db8::2]:443 [2001:db8::1]:443\n*.b.example [2001:db8::3]:443\n")
	top, err := Load(cfg)
	if err != nil {
		t.Fatal(err)
	}
	svc := top.Splice46.Services[0]
	if svc.BackendsFile != filepath.Join(dir, "sites.map") {
		t.Errorf("map file %q", svc.BackendsFile)
	}
	var addrs []string
	for _, b := range svc.Backends {
		addrs = append(addrs, b.Address.String())
	}
	if strings.Join(addrs, " ") != "[2001:db8::1]:443 [2001:db8::2]:443 [2001:db8::3]:443" {
		t.Errorf("backends %v", addrs)
	}
	if len(svc.Names) != 2 || svc.Names[0].Name != "a.example" || len(svc.Names[0].Backends) != 2 ||
		svc.Names[0].Backends[0] != 1 || svc.Names[0].Backends[1] != 0 || svc.Names[1].Backends[0] != 2 || svc.Names[1].Line != 2 {
		t.Errorf("names %+v", svc.Names)
	}

	// Errors name the map file and its line.
	write(t, filepath.Join(dir, "sites.map"), "ok.example [2001:db8::2]:443\nbroken.example\n")
	_, err = Load(cfg)
	if err == nil || err.Error() != filepath.Join(dir, "sites.map")+":2: broken.example has no backend (want: NAME [2001:db8::1]:80 ...)" {
		t.Errorf("error %v", err)
	}
	os.Remove(filepath.Join(dir, "sites.map"))
	if _, err = Load(cfg); err == nil || !strings.Contains(err.Error(), "sixgate.yaml:12: splice46.services[0].backends_file: open ") {
		t.Errorf("missing map file: %v", err)
	}
	write(t, cfg, strings.Replace(mapService, "select: sni", "select: hash", 1))
	if _, err = Load(cfg); err == nil || !strings.Contains(err.Error(), "only with select http-host or sni, not hash") {
		t.Errorf("map file with hash: %v", err)
	}
}

func write(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

// FuzzParseMap feeds arbitrary text to the map-file reader: it never
// panics, every error names the file and a line of it, and what it
// accepts reads back the same when written out again.
func FuzzParseMap(f *testing.F) {
	f.Add([]byte("a.example [2001:db8::1]:80\n*.b.example [2001:db8::2]:80 [2001:db8::1]:80 # c\n"))
	f.Add([]byte("# only a comment\n\n\t\r\n"))
	f.Add([]byte("a.example\nb.example 10.0.0.1:80\na.example [2001:db8::1]:80\na.example [2001:db8::1]:80"))
	f.Add([]byte("x [::1]:1 [::1]:1\n*. [2001:db8::1]:80\n" + strings.Repeat("a", 300) + " [2001:db8::1]:80"))
	f.Fuzz(func(t *testing.T, data []byte) {
		entries, err := ParseMap("f.map", data, testPool6)
		lines := bytes.Count(data, []byte{'\n'}) + 1
		if err != nil {
			if entries != nil {
				t.Fatal("entries and an error")
			}
			for _, e := range err.(Errors) {
				if e.File != "f.map" || (e.Line < 1 || e.Line > lines) && !strings.HasSuffix(e.Msg, "problems not shown") {
					t.Fatalf("error without its place: %+v", e)
				}
			}
			return
		}
		var out strings.Builder
		for _, e := range entries {
			if e.Name == "" || len(e.Backends) == 0 || e.Line < 1 || e.Line > lines {
				t.Fatalf("bad entry %+v", e)
			}
			out.WriteString(e.Name)
			for _, b := range e.Backends {
				out.WriteString(" " + b.String())
			}
			out.WriteString("\n")
		}
		again, err := ParseMap("f.map", []byte(out.String()), testPool6)
		if err != nil || len(again) != len(entries) {
			t.Fatalf("written back: %v, %d entries, want %d", err, len(again), len(entries))
		}
		for i := range again {
			if again[i].Name != entries[i].Name || len(again[i].Backends) != len(entries[i].Backends) {
				t.Fatalf("written back: %+v, want %+v", again[i], entries[i])
			}
		}
	})
}
