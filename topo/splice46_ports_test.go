package topo

import (
	"errors"
	"strings"
	"testing"
)

const portModeBase = `
switches: [{name: s1, dpid: "0x1"}, {name: s2, dpid: "0x2"}]
links: [{a: "s1:9", b: "s2:9"}]
hosts:
  - {name: h1, switch: s1, port: 1, mac: "00:00:0a:00:00:01", ipv6: ["2001:db8::1"]}
splice46:
  mac: "00:00:0a:00:00:42"
  pool6: "2001:db8:ffff::/96"
  services:
    - {vip: "10.0.0.42", port: 80, backends: [{address: "[2001:db8::1]:80"}]}
`

func TestSplice46PortMode(t *testing.T) {
	top, err := Parse("t.yaml", []byte(portModeBase+`  mode: port
  ports:
    - {interface: "sg-eng0", switch: s2, port: 10}
    - {interface: "sg-eng1", switch: s2, port: 11}
`))
	if err != nil {
		t.Fatal(err)
	}
	s := top.Splice46
	if s.Mode != DataPathPort || len(s.Ports) != 2 {
		t.Fatalf("mode %q ports %v", s.Mode, s.Ports)
	}
	if p := s.Ports[1]; p.Interface != "sg-eng1" || p.DPID != 2 || p.Port != 11 || p.Switch != "s2" || p.Line != 14 {
		t.Errorf("second port %+v", *p)
	}
	fwd := top.Forwarding(nil)
	if port, ok := fwd.SwitchPort(1, 2); !ok || port != 9 {
		t.Errorf("s1 towards s2: port %d, %v; want 9", port, ok)
	}
	if _, ok := fwd.SwitchPort(2, 2); ok {
		t.Error("a switch has a port towards itself")
	}

	top, err = Parse("t.yaml", []byte(portModeBase))
	if err != nil {
		t.Fatal(err)
	}
	if top.Splice46.Mode != DataPathController {
		t.Errorf("default mode %q, want controller", top.Splice46.Mode)
	}
}

func TestSplice46PortModeErrors(t *testing.T) {
	for _, tc := range []struct {
		name, tail string
		want       []string
	}{
		{"unknown mode", "  mode: xdp\n", []string{`t.yaml:11: splice46.mode: unknown mode "xdp" (want controller or port)`}},
		{"port mode without ports", "  mode: port\n", []string{`t.yaml:6: splice46.ports: mode port needs at least one port`}},
		{"ports in controller mode", "  ports: [{interface: eth1, switch: s1, port: 5}]\n",
			[]string{`t.yaml:11: splice46.ports: ports are only used with mode: port`}},
		{"bad entries", `  mode: port
  ports:
    - {interface: "a/b", switch: s1, port: 5}
    - {interface: "averyveryverylongname", switch: s1, port: 6}
    - {interface: "eng0", switch: s3, port: 7}
    - {interface: "eng1", switch: s1, port: 1}
    - {interface: "eng2", switch: s1, port: 9}
    - {interface: "eng3", switch: s1, port: 0}
    - {interface: "eng4", switch: s1, port: 12}
    - {interface: "eng4", switch: s1, port: 13}
    - {interface: "eng5", switch: s2, port: 14}
    - {interface: "eng6", port: 15}
`, []string{
			`t.yaml:13: splice46.ports[0].interface: interface name "a/b" may not contain '/', ':' or white space`,
			`t.yaml:14: splice46.ports[1].interface: interface name "averyveryverylongname" is longer than 15 bytes`,
			`t.yaml:15: splice46.ports[2].switch: unknown switch "s3"`,
			`t.yaml:16: splice46.ports[3].port: duplicate port s1:1 (also hosts[0] at line 5)`,
			`t.yaml:17: splice46.ports[4].port: duplicate port s1:9 (also links[0] at line 3)`,
			`t.yaml:18: splice46.ports[5].port: malformed port "0" (want 1 to 4294967040)`,
			`t.yaml:20: splice46.ports[7].interface: duplicate interface eng4 (also splice46.ports[6] at line 19)`,
			`t.yaml:21: splice46.ports[8].switch: every engine port must be on one switch (eng4 is on s1)`,
			`t.yaml:22: splice46.ports[9].switch: missing switch`,
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("t.yaml", []byte(portModeBase+tc.tail))
			var list Errors
			if !errors.As(err, &list) {
				t.Fatalf("error %v is not Errors", err)
			}
			var got []string
			for _, e := range list {
				got = append(got, e.Error())
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("got:\n\t%s\nwant:\n\t%s", strings.Join(got, "\n\t"), strings.Join(tc.want, "\n\t"))
			}
		})
	}
}
