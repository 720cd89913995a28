package ftpalg

import (
	"bytes"
	"strings"
	"testing"

	"github.com/sixgate/sixgate/statecodec"
)

func TestUnacked(t *testing.T) {
	var u Unacked
	u.Keep(100, 7, []byte("500 no\r\n"), 1000)
	u.Keep(108, 8, []byte("200 ok\r\n"), 2000) // right after: added
	if string(u.Text()) != "500 no\r\n200 ok\r\n" || u.Seq != 100 || u.Ack != 8 || u.At != 2000 {
		t.Fatalf("kept %q at %d, ack %d, time %d", u.Text(), u.Seq, u.Ack, u.At)
	}
	u.Keep(500, 9, []byte("x"), 3000) // elsewhere: replaces
	if string(u.Text()) != "x" || u.Seq != 500 {
		t.Fatalf("kept %q at %d", u.Text(), u.Seq)
	}
	u.Keep(501, 9, bytes.Repeat([]byte("y"), maxUnacked), 3000) // would not fit: replaces
	if len(u.Text()) != maxUnacked || u.Seq != 501 {
		t.Fatalf("kept %d bytes at %d", len(u.Text()), u.Seq)
	}
	if u.Due(3000+ResendAfter-1) || !u.Due(3000+ResendAfter) {
		t.Fatal("due before its time, or not after it")
	}
	u.Acked(501 + maxUnacked - 1) // not all of it
	if len(u.Text()) == 0 {
		t.Fatal("forgotten before its last byte was acknowledged")
	}
	u.Acked(501 + maxUnacked)
	if len(u.Text()) != 0 || u.Due(1<<40) {
		t.Fatal("kept after its acknowledgement")
	}
}

func TestUnackedState(t *testing.T) {
	var u Unacked
	u.Keep(0xfffffff0, 5, []byte("PORT 1,2,3,4,5,6\r\n"), 1000)
	s := u.State(1500)
	if s.Since != -500 {
		t.Fatalf("since %d", s.Since)
	}
	b := s.Append(nil)
	if len(b) != s.Len() {
		t.Fatalf("encoding of %d bytes, Len says %d", len(b), s.Len())
	}
	got, err := ReadUnackedState(statecodec.NewReader("test", b), 1e12)
	if err != nil {
		t.Fatal(err)
	}
	var v Unacked
	v.Restore(&got, 9000)
	if string(v.Text()) != string(u.Text()) || v.Seq != u.Seq || v.Ack != u.Ack || v.At != 8500 {
		t.Fatalf("restored %q seq %d ack %d at %d", v.Text(), v.Seq, v.Ack, v.At)
	}
	var empty Unacked
	if s := empty.State(5); len(s.Append(nil)) != UnackedStateMin {
		t.Fatal("nothing kept is not the bare header")
	}
	for name, bad := range map[string]UnackedState{
		"future":    {Seq: 1, Since: 1, Text: []byte("a")},
		"too old":   {Seq: 1, Since: -2e12, Text: []byte("a")},
		"too long":  {Seq: 1, Text: []byte(strings.Repeat("a", maxUnacked+1))},
		"no text":   {Seq: 1},
		"truncated": {},
	} {
		b := bad.Append(nil)
		if name == "truncated" {
			b = b[:UnackedStateMin-1]
		}
		if _, err := ReadUnackedState(statecodec.NewReader("test", b), 1e12); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
