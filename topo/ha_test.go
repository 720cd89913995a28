package topo

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const haBase = `
switches:
  - {name: s1, dpid: 0x1}
`

func TestHASection(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "t.yaml")
	text := haBase + `ha:
  etcd: ["https://10.0.0.1:2379", "https://10.0.0.2:2379"]
  lease: 4s
  name: edge-a
  prefix: /sixgate/edge
  tls: {cert: c.pem, key: k.pem, ca: /etc/ca.pem}
`
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	topo, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	h := topo.HA
	if h == nil || len(h.Etcd) != 2 || h.Lease != 4*time.Second || h.Name != "edge-a" || h.Prefix != "/sixgate/edge" {
		t.Fatalf("ha = %+v", h)
	}
	if h.TLS.Cert != filepath.Join(dir, "c.pem") || h.TLS.CA != "/etc/ca.pem" {
		t.Errorf("tls = %+v; relative names from the file's directory", h.TLS)
	}

	topo, err = Parse("t.yaml", []byte(haBase+"ha: {etcd: [\"http://127.0.0.1:2379\"], name: a}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if topo.HA.Lease != DefaultHALease || topo.HA.Prefix != DefaultHAPrefix {
		t.Errorf("defaults: %+v", topo.HA)
	}
	if topo, _ := Parse("t.yaml", []byte(haBase)); topo.HA != nil {
		t.Error("ha set without the section")
	}
}

func TestHASectionErrors(t *testing.T) {
	for _, tc := range []struct{ ha, want string }{
		{"ha: {name: a}", "t.yaml:4: ha.etcd: missing"},
		{"ha: {etcd: [\"127.0.0.1:2379\"], name: a}", "t.yaml:4: ha.etcd[0]: malformed etcd endpoint"},
		{"ha: {etcd: [\"http://h:2379\"], name: a, lease: 1s}", "t.yaml:4: ha.lease: 1s is too short (at least 2s)"},
		{"ha: {etcd: [\"http://h:2379\"], name: a, lease: 2500ms}", "ha.lease: 2.5s is not a whole number of seconds"},
		{"ha: {etcd: [\"http://h:2379\"]}", "ha.name: missing"},
		{"ha: {etcd: [\"http://h:2379\"], name: a, prefix: x}", "ha.prefix: \"x\": want an absolute key prefix"},
		{"ha: {etcd: [\"http://h:2379\"], name: a, tls: {ca: ca.pem}}", "ha.tls: a tls section is given but endpoint"},
		{"ha: {etcd: [\"http://h:2379\"], name: a, leases: 3s}", "ha.leases: unknown field"},
	} {
		_, err := Parse("t.yaml", []byte(haBase+tc.ha+"\n"))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.ha, err, tc.want)
		}
	}
}
