package clat

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
)

func TestUndoOrderAndErrors(t *testing.T) {
	var u undo
	var order []string
	for _, name := range []string{"sysctl", "proxy", "tun"} {
		u.push(name, func() error {
			order = append(order, name)
			if name == "proxy" {
				return errors.New("gone")
			}
			return nil
		})
	}
	err := u.run()
	if got := strings.Join(order, ","); got != "tun,proxy,sysctl" {
		t.Errorf("undone in the order %s, want the reverse of the changes", got)
	}
	if err == nil || !strings.Contains(err.Error(), "undo proxy: gone") {
		t.Errorf("error %v, want the failed step named", err)
	}
	if err := u.run(); err != nil || len(order) != 3 {
		t.Errorf("a second run did something: %v, %v", err, order)
	}
}

func TestCloserIgnoresClosed(t *testing.T) {
	if err := closer(func() error { return fmt.Errorf("close x: %w", os.ErrClosed) })(); err != nil {
		t.Errorf("closed already: %v", err)
	}
	if err := closer(func() error { return fmt.Errorf("close y: %w", net.ErrClosed) })(); err != nil {
		t.Errorf("socket closed already: %v", err)
	}
	if err := closer(func() error { return errors.New("EIO") })(); err == nil {
		t.Error("another error swallowed")
	}
}
