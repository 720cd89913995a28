package topo

import (
	"strings"
	"testing"
	"time"
)

// spliceFTP is a splice46 section with an FTP service; %s is replaced by
// more keys of the section.
const spliceFTP = `switches:
  - {name: s1, dpid: 1}
splice46:
  mac: 00:00:0a:00:00:fe
  pool6: 2001:db8:46::/96
  services:
    - vip: 192.0.2.10
      port: 21
      alg: ftp
      backends:
        - address: "[2001:db8::21]:21"
    - vip: 192.0.2.10
      port: 80
      backends:
        - address: "[2001:db8::80]:80"
`

func TestSplice46FTPParse(t *testing.T) {
	top, err := Parse("t.yaml", []byte(spliceFTP+"  alg:\n    ftp: {passive_ports: 40000-40099, expect_timeout: 10s, expectations: 50, connections: 20}\n"))
	if err != nil {
		t.Fatal(err)
	}
	s := top.Splice46
	if s.Services[0].ALG != ALGFTP || s.Services[1].ALG != "" || !s.HasFTP() {
		t.Fatalf("alg: %q %q", s.Services[0].ALG, s.Services[1].ALG)
	}
	f := s.FTP
	if f.PassiveFirst != 40000 || f.PassiveLast != 40099 || f.ExpectTimeout != 10*time.Second || f.Expectations != 50 || f.Connections != 20 {
		t.Fatalf("%+v", f)
	}
	top, err = Parse("t.yaml", []byte(strings.Replace(spliceFTP, "      alg: ftp\n", "", 1)))
	if err != nil || top.Splice46.HasFTP() {
		t.Fatalf("FTP gateway on by default: %v", err)
	}
	if first, last := top.Splice46.FTP.PassivePorts(); first != 50000 || last != 50999 {
		t.Fatalf("default passive ports %d-%d", first, last)
	}
}

func TestSplice46FTPErrors(t *testing.T) {
	for _, c := range []struct{ from, to, want string }{
		{"alg: ftp\n", "alg: tftp\n", "t.yaml:9: splice46.services[0].alg: unknown ALG \"tftp\""},
		{"alg: ftp\n", "alg: ftp\n      select: sni\n", "splice46.services[0].alg: an FTP service needs select hash or round-robin"},
		{"port: 80\n", "port: 50080\n", "t.yaml:13: splice46.services[1].port: port 50080 is inside the FTP passive ports 50000-50999"},
		{"", "  alg:\n    ftp: {passive_ports: 40000}\n", "t.yaml:17: splice46.alg.ftp.passive_ports: malformed port range"},
		{"", "  alg:\n    ftp: {passive_ports: 40100-40000}\n", "splice46.alg.ftp.passive_ports: range \"40100-40000\" runs backwards"},
		{"", "  alg:\n    ftp: {expect_timeout: 2h}\n", "splice46.alg.ftp.expect_timeout: 2h0m0s out of range"},
		{"", "  alg:\n    ftp: {expectations: 0}\n", "splice46.alg.ftp.expectations: malformed number"},
		{"", "  alg:\n    ftp: {connections: lots}\n", "splice46.alg.ftp.connections: malformed number"},
		{"", "  alg:\n    sip: {}\n", "sip"},
	} {
		doc := spliceFTP + c.to
		if c.from != "" {
			doc = strings.Replace(spliceFTP, c.from, c.to, 1)
		}
		_, err := Parse("t.yaml", []byte(doc))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: error %v, want %q", c.to, err, c.want)
		}
	}
}
