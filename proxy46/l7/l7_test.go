package l7

import (
	"bytes"
	"crypto/tls"
	"encoding/binary"
	"net"
	"testing"
	"time"
)

// captureClientHello captures the first flight of a real crypto/tls client. Go's
// default key shares include ML-KEM, so it is larger than one small MSS.
func captureClientHello(t testing.TB, serverName string) []byte {
	t.Helper()
	c, s := net.Pipe()
	defer s.Close()
	go func() {
		tc := tls.Client(c, &tls.Config{ServerName: serverName, InsecureSkipVerify: true})
		tc.SetDeadline(time.Now().Add(5 * time.Second))
		tc.Handshake()
		c.Close()
	}()
	s.SetDeadline(time.Now().Add(5 * time.Second))
	hdr := make([]byte, 5)
	if _, err := readFull(s, hdr); err != nil {
		t.Fatal(err)
	}
	body := make([]byte, binary.BigEndian.Uint16(hdr[3:]))
	if _, err := readFull(s, body); err != nil {
		t.Fatal(err)
	}
	return append(hdr, body...)
}

func readFull(c net.Conn, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		m, err := c.Read(b[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// splitRecords re-frames a single-record handshake into records of at
// most size bytes of body, as a client may.
func splitRecords(rec []byte, size int) []byte {
	body := rec[5:]
	var out []byte
	for len(body) > 0 {
		n := min(size, len(body))
		out = append(out, rec[0], rec[1], rec[2], byte(n>>8), byte(n))
		out = append(out, body[:n]...)
		body = body[n:]
	}
	return out
}

func TestServerNameFromRealClientHello(t *testing.T) {
	hello := captureClientHello(t, "www.Example.com")
	if len(hello) < 1240 {
		t.Logf("ClientHello is %d bytes", len(hello))
	}
	for _, tc := range []struct {
		name string
		in   []byte
	}{
		{"one record", hello},
		{"records of 200 bytes", splitRecords(hello, 200)},
		{"records of 1 byte", splitRecords(hello, 1)},
	} {
		// Every prefix asks for more; the whole finds the name.
		for i := 0; i < len(tc.in); i += 97 {
			if _, r := ServerName(tc.in[:i]); r != NeedMore {
				t.Fatalf("%s: prefix %d: %v, want need-more", tc.name, i, r)
			}
		}
		name, r := ServerName(tc.in)
		if r != Found || string(name) != "www.Example.com" {
			t.Fatalf("%s: %q %v", tc.name, name, r)
		}
		if !MatchName(name, "www.example.com") || !MatchName(name, "*.example.com") || MatchName(name, "*.www.example.com") {
			t.Errorf("%s: name matching", tc.name)
		}
	}
}

func TestServerNameAbsentAndInvalid(t *testing.T) {
	noSNI := captureClientHello(t, "")
	if _, r := ServerName(noSNI); r != Absent {
		t.Errorf("no SNI: %v", r)
	}
	for _, in := range [][]byte{
		[]byte("GET / HTTP/1.1\r\n"),
		{22, 3, 1, 0, 0},               // empty record
		{22, 3, 1, 0, 4, 2, 0, 0, 0},   // ServerHello, not ClientHello
		{22, 3, 1, 0, 4, 1, 0, 0, 255}, // truncated body within a complete record
	} {
		if _, r := ServerName(in); r != Invalid && r != NeedMore {
			t.Errorf("%x: %v", in, r)
		}
	}
	if _, r := ServerName([]byte("GET / HTTP/1.1\r\n")); r != Invalid {
		t.Errorf("HTTP taken for TLS: %v", r)
	}
}

func TestHTTPHost(t *testing.T) {
	for _, tc := range []struct {
		in   string
		host string
		r    Result
	}{
		{"GET / HTTP/1.1\r\nHost: a.example\r\n\r\n", "a.example", Found},
		{"GET / HTTP/1.1\r\nUser-Agent: x\r\nhOsT:b.example:8080\r\n", "b.example", Found},
		{"POST /x HTTP/1.0\r\nHost: [2001:db8::1]:80\r\n\r\n", "[2001:db8::1]", Found},
		{"GET / HTTP/1.1\nHost: lf.example\n\n", "lf.example", Found},
		{"GET / HTTP/1.1\r\nHost: a.exa", "", NeedMore},
		{"GET / HTT", "", NeedMore},
		{"GE", "", NeedMore},
		{"GET / HTTP/1.0\r\nAccept: */*\r\n\r\n", "", Absent},
		{"\x16\x03\x01\x02\x00\x01", "", Invalid},
		{"GET / SPDY/3\r\n", "", Invalid},
		{"GET / HTTP/1.1\r\nno colon here\r\n", "", Invalid},
		{"GET / HTTP/1.1\r\nHost: \r\n", "", Invalid},
	} {
		host, r := HTTPHost([]byte(tc.in))
		if r != tc.r || string(host) != tc.host {
			t.Errorf("%q: %q %v, want %q %v", tc.in, host, r, tc.host, tc.r)
		}
	}
}

func TestMatchPrefix(t *testing.T) {
	for _, tc := range []struct {
		in, prefix string
		r          Result
	}{
		{"ABC", "AB", Found}, {"A", "AB", NeedMore}, {"", "AB", NeedMore},
		{"AC", "AB", Absent}, {"B", "AB", Absent},
	} {
		if r := MatchPrefix([]byte(tc.in), tc.prefix); r != tc.r {
			t.Errorf("MatchPrefix(%q, %q) = %v, want %v", tc.in, tc.prefix, r, tc.r)
		}
	}
}

func FuzzServerName(f *testing.F) {
	hello := captureClientHello(f, "fuzz.example")
	f.Add(hello)
	f.Add(splitRecords(hello, 100))
	f.Add([]byte{22, 3, 1, 0, 4, 1, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		name, r := ServerName(b)
		if r == Found && (len(name) == 0 || !bytes.Contains(b, name[:1])) {
			t.Fatalf("found %q not from the input", name)
		}
		// More bytes never turn a decided answer into need-more.
		if r != NeedMore {
			if _, r2 := ServerName(append(bytes.Clone(b), 0)); r2 == NeedMore && r == Found {
				t.Fatalf("found, then need-more with one more byte")
			}
		}
	})
}

func FuzzHTTPHost(f *testing.F) {
	f.Add([]byte("GET / HTTP/1.1\r\nHost: a.example\r\n\r\n"))
	f.Add([]byte("GET / HTTP/1.0\r\n\r\n"))
	f.Add([]byte("G"))
	f.Fuzz(func(t *testing.T, b []byte) {
		host, r := HTTPHost(b)
		if r == Found {
			if len(host) == 0 || !bytes.Contains(b, host) {
				t.Fatalf("found %q not in the input", host)
			}
			if h2, r2 := HTTPHost(append(bytes.Clone(b), 'x')); r2 != Found || !bytes.Equal(h2, host) {
				t.Fatalf("answer changed with more bytes: %q %v", h2, r2)
			}
		}
	})
}
