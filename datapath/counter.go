package datapath

import "sync/atomic"

// counter is a packet counter that one goroutine adds to and others read.
type counter struct{ v atomic.Uint64 }

func (c *counter) inc()         { c.v.Add(1) }
func (c *counter) load() uint64 { return c.v.Load() }
