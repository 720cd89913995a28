package ftpalg

import "testing"

// BenchmarkCommand is one command segment and its reply through the
// gateway: a line passed, and an EPRT rewritten with its binding.
func BenchmarkCommand(b *testing.B) {
	for _, c := range []struct{ name, cmd, reply string }{
		{"passed", "NOOP\r\n", "200 ok\r\n"},
		{"eprt", "EPRT |2|2001:db8::10|50000|\r\n", "200 ok\r\n"},
	} {
		b.Run(c.name, func(b *testing.B) {
			var cnt Counters
			g := NewConn(serverAddr, &fakeBinder{}, &cnt)
			g.SYN(true, 0)
			g.SYN(false, 0)
			var r Result
			cs, ss := uint32(1), uint32(1)
			cmd, reply := []byte(c.cmd), []byte(c.reply)
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				g.Segment(true, cs, cmd, false, &r)
				g.Segment(false, ss, reply, false, &r)
				cs += uint32(len(cmd))
				ss += uint32(len(reply))
			}
		})
	}
}
