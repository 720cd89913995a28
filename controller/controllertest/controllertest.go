// Package controllertest runs a real controller on loopback for the tests
// of apps, to be dialled by ofptest switches.
package controllertest

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/sixgate/sixgate/controller"
)

// Start runs a controller with apps on a free loopback port until the test
// ends, logging nowhere. It returns the controller, the address switches
// dial, and a context that ends with the test (or after a minute).
func Start(t testing.TB, apps ...controller.App) (*controller.Controller, string, context.Context) {
	t.Helper()
	return StartConfig(t, controller.Config{Apps: apps})
}

// StartConfig is Start with a configuration of the test's own; Listen and
// Log are set here.
func StartConfig(t testing.TB, cfg controller.Config) (*controller.Controller, string, context.Context) {
	t.Helper()
	log := logrus.New()
	log.SetOutput(io.Discard)
	cfg.Listen, cfg.Log = "tcp:127.0.0.1:0", logrus.NewEntry(log)
	c, err := controller.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	l, err := c.Listen()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.Serve(ctx, l)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return c, l.Addr().String(), ctx
}
