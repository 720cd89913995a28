package main

import (
	"os"
	"testing"
)

// TestMain runs the test binary as sixgate itself when SIXGATE_AS_MAIN is
// set, so that tests can start the daemon as a process of its own
// (asDaemon) without building it.
func TestMain(m *testing.M) {
	if os.Getenv("SIXGATE_AS_MAIN") == "1" {
		os.Exit(run(os.Args[1:]))
	}
	os.Exit(m.Run())
}
