package main

import (
	"bytes"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A FLOW_MOD from the OpenFlow 1.3 codec's Ryu test data followed by a
// BARRIER_REQUEST, as one stream.
func testStream(t *testing.T) []byte {
	t.Helper()
	fm, err := os.ReadFile("../../controller/ofp/testdata/ryu-of13/packets/4-3-ofp_flow_mod.packet")
	if err != nil {
		t.Fatal(err)
	}
	barrier := []byte{0x04, 0x14, 0x00, 0x08, 0x00, 0x00, 0x00, 0x07}
	return append(fm, barrier...)
}

func runOfpPrint(t *testing.T, stdin []byte, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := ofpPrint(args, bytes.NewReader(stdin), &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestOfpPrintGood(t *testing.T) {
	stream := testStream(t)
	file := filepath.Join(t.TempDir(), "stream.bin")
	if err := os.WriteFile(file, stream, 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runOfpPrint(t, nil, file)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	want := "OFPT_FLOW_MOD (OF1.3) (xid=0x0): ADD table:0 priority=123 cookie=0x0 buffer=0xffff in_port=6,eth_src=f2:0b:a4:7d:f8:ea actions=goto_table:1\n" +
		"OFPT_BARRIER_REQUEST (OF1.3) (xid=0x7):\n"
	if out != want {
		t.Errorf("output:\n%s\nwant:\n%s", out, want)
	}

	// The same stream as hex text from standard input, split over lines.
	h := hex.EncodeToString(stream)
	text := h[:20] + "\n  " + h[20:40] + "\t" + h[40:] + "\n"
	code, out2, errOut := runOfpPrint(t, []byte(text), "-hex", "-")
	if code != 0 || out2 != want {
		t.Errorf("hex input: exit %d, stderr %q, output:\n%s", code, errOut, out2)
	}

	code, raw, errOut := runOfpPrint(t, stream, "-reencode", "-")
	if code != 0 || raw != string(stream) {
		t.Errorf("reencode: exit %d, stderr %q, got %x want %x", code, errOut, raw, stream)
	}
}

func TestOfpPrintBad(t *testing.T) {
	// A FLOW_MOD cut at 64 bytes: its header promises more.
	fm, err := os.ReadFile("../../controller/ofp/testdata/ryu-of13/packets/libofproto-OFP13-flow_mod.packet")
	if err != nil {
		t.Fatal(err)
	}
	bad := fm[:64]
	file := filepath.Join(t.TempDir(), "bad.bin")
	if err := os.WriteFile(file, bad, 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runOfpPrint(t, nil, file)
	if code != 1 || out != "" || !strings.Contains(errOut, "FLOW_MOD") {
		t.Errorf("truncated input: exit %d, stdout %q, stderr %q", code, out, errOut)
	}

	// A message whose match overruns its body frames but does not decode.
	stream := testStream(t)
	stream[0x32] = 0xff // the match's length
	code, _, errOut = runOfpPrint(t, stream, "-")
	if code != 1 || !strings.Contains(errOut, "FLOW_MOD") || !strings.Contains(errOut, "offset") {
		t.Errorf("bad match: exit %d, stderr %q", code, errOut)
	}

	code, _, errOut = runOfpPrint(t, []byte("04 0z"), "-hex", "-")
	if code != 1 || !strings.Contains(errOut, "hex") {
		t.Errorf("bad hex: exit %d, stderr %q", code, errOut)
	}

	if code, _, _ := runOfpPrint(t, nil); code != 2 {
		t.Errorf("no file: exit %d, want 2", code)
	}
}
