package topo

import (
	"strings"
	"testing"
)

func TestNAT64FTPParse(t *testing.T) {
	top, err := Parse("t.yaml", []byte(nat64Only+"  alg:\n    ftp: {ports: [21, 2121], connections: 100}\n"))
	if err != nil {
		t.Fatal(err)
	}
	f := top.NAT64.FTP
	if len(f.Ports) != 2 || f.Ports[0] != 21 || f.Ports[1] != 2121 || f.Connections != 100 {
		t.Fatalf("%+v", f)
	}
	top, err = Parse("t.yaml", []byte(nat64Only))
	if err != nil || len(top.NAT64.FTP.Ports) != 0 {
		t.Fatalf("FTP gateway on by default: %+v %v", top.NAT64.FTP, err)
	}
}

func TestNAT64FTPErrors(t *testing.T) {
	for _, c := range []struct{ alg, want string }{
		{"  alg:\n    ftp: {ports: [21, 70000]}\n", "t.yaml:14: nat64.alg.ftp.ports[1]: malformed number"},
		{"  alg:\n    ftp: {ports: [21, 21]}\n", "nat64.alg.ftp.ports[1]: port 21 listed twice"},
		{"  alg:\n    ftp: {connections: 5}\n", "nat64.alg.ftp.ports: missing"},
		{"  alg:\n    ftp: {ports: [21], connections: none}\n", "nat64.alg.ftp.connections:"},
		{"  alg:\n    tftp: {ports: [69]}\n", "tftp"},
	} {
		_, err := Parse("t.yaml", []byte(nat64Only+c.alg))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: error %v, want %q", c.alg, err, c.want)
		}
	}
}
