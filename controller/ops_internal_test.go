package controller

import (
	"testing"
	"time"
)

func TestIdleEcho(t *testing.T) {
	now := time.Unix(1000, 0)
	iv := 5 * time.Second
	cases := []struct {
		last time.Time
		send bool
		wait time.Duration
	}{
		{now, false, iv}, // just heard from it
		{now.Add(-2 * time.Second), false, 3 * time.Second}, // check again when it has been idle a whole interval
		{now.Add(-iv), true, iv},
		{now.Add(-time.Minute), true, iv},
	}
	for _, c := range cases {
		if send, wait := idleEcho(now, c.last, iv); send != c.send || wait != c.wait {
			t.Errorf("idle %v: send %v wait %v, want %v %v", now.Sub(c.last), send, wait, c.send, c.wait)
		}
	}
}
