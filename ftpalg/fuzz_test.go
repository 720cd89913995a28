package ftpalg

import (
	"testing"
)

func FuzzParsers(f *testing.F) {
	for _, s := range []string{
		"EPRT |2|2001:db8::1|5000|", "EPRT |1|192.0.2.1|21|", "227 Entering Passive Mode (1,2,3,4,5,6)",
		"229 Entering Extended Passive Mode (|||6446|)", "EPSV ALL", "ALGS STATUS64", "211-Features", "EPRT !2!::1!1!",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		verb, arg := ParseCommand(b)
		if verb == VerbEPRT {
			if ap, ok := ParseEPRT(arg); ok {
				var out []byte
				if ap.Addr().Is4() {
					out = AppendEPRT4(nil, ap.Addr().As4(), ap.Port())
				} else {
					out = AppendEPRT6(nil, ap.Addr().As16(), ap.Port())
				}
				_, arg2 := ParseCommand(out)
				if ap2, ok := ParseEPRT(arg2); !ok || ap2 != ap {
					t.Fatalf("EPRT %v written as %q reads %v", ap, out, ap2)
				}
			}
		}
		if ap, ok := ParsePORT(b); ok {
			line := AppendPORT(nil, ap.Addr().As4(), ap.Port())
			_, arg := ParseCommand(line)
			if ap2, ok := ParsePORT(arg); !ok || ap2 != ap {
				t.Fatalf("PORT %v written as %q reads %v", ap, line, ap2)
			}
		}
		ReplyCode(b)
		if a, p, ok := Parse227(b); ok {
			if a2, p2, ok := Parse227(Append227(nil, a, p)); !ok || a2 != a || p2 != p {
				t.Fatalf("227 round trip")
			}
		}
		if p, ok := Parse229(b); ok {
			if p2, ok := Parse229(Append229(nil, p)); !ok || p2 != p {
				t.Fatalf("229 round trip")
			}
		}
	})
}

// FuzzConn sends a client's and a server's stream through the gateway in
// segments cut and repeated as the input says: every segment the gateway
// sends on must agree with the bytes the receiver already has (a
// retransmission is rendered as the first sending was), and nothing
// panics.
func FuzzConn(f *testing.F) {
	f.Add([]byte("EPRT |2|2001:db8::10|50000|\r\nEPSV\r\nLPSV\r\nALGS STATUS64\r\n"), []byte("200 ok\r\n500 no\r\n227 (1,2,3,4,5,6)\r\n"), []byte{3, 7, 1, 200, 9, 40, 2})
	f.Add([]byte("PASV\r\nPORT 1,2,3,4,5,6\r\nEPRT |1|1.2.3.4|5|\r\n"), []byte("229 (|||5|)\r\n200 ok\r\n"), []byte{0x81, 3, 9, 40, 2, 77})
	f.Add([]byte("EPSV ALL\r\nPASV\r\nAUTH TLS\r\nEPRT |2|::1|1|\r\n"), []byte("500 x\r\n234 y\r\n"), []byte{1, 2, 3, 4, 5, 6, 7, 8})
	f.Fuzz(func(t *testing.T, cl, sv, cuts []byte) {
		if len(cl) > 4096 || len(sv) > 4096 || len(cuts) > 256 {
			return
		}
		p := newPipe(t)
		if len(cuts) > 0 && cuts[0]&0x80 != 0 {
			// The splice's gateway (IPv4 client, IPv6 server).
			p, _ = newSplicePipe(t)
		}
		p.cl.sent, p.sv.sent = cl, sv
		var cpos, spos int
		for i, c := range cuts {
			fromClient := c&1 == 0
			s, pos := p.cl.sent, &cpos
			if !fromClient {
				s, pos = p.sv.sent, &spos
			}
			n := int(c>>1) % 64
			from := *pos
			if i%3 == 2 && from > 0 {
				from -= min(from, n/2) // a retransmission of some sent bytes
			}
			if from+n > len(s) {
				n = len(s) - from
			}
			if n <= 0 {
				continue
			}
			r := p.send(fromClient, from, n)
			if !r.Drop && from+n > *pos {
				*pos = from + n
			}
		}
	})
}
