package lab

import (
	"os"
	"strings"
	"testing"
)

func TestDoAndClose(t *testing.T) {
	l := New("x", nil)
	var order []string
	err := l.Do(func() {
		l.Cleanup(func() { order = append(order, "first") })
		l.Cleanup(func() { order = append(order, "second") })
		l.Fatalf("step %d broke", 3)
		order = append(order, "not reached")
	})
	if err == nil || !strings.Contains(err.Error(), "step 3 broke") {
		t.Errorf("Do = %v, want the Fatalf message", err)
	}
	if err := l.Do(func() { l.Errorf("soft") }); err == nil || err.Error() != "soft" {
		t.Errorf("Do after Errorf = %v", err)
	}
	if err := l.Do(func() {}); err != nil {
		t.Errorf("Do of a clean step = %v", err)
	}
	dir := l.TempDir()
	l.Close()
	l.Close()
	if strings.Join(order, ",") != "second,first" {
		t.Errorf("clean-ups ran as %v, want last registered first, once", order)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("temporary directory %s left behind: %v", dir, err)
	}
}
