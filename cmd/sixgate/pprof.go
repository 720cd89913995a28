package main

import (
	"errors"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/sirupsen/logrus"
)

// servePprof serves Go's runtime profiles on addr, apart from
// controller.http: they are for measuring (make bench takes a CPU profile
// of the port-mode run), and a profile costs CPU while it runs, so an
// operator turns them on deliberately and on an address of their choice.
func servePprof(addr string, log *logrus.Entry) (*http.Server, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	// A CPU profile takes as long as it was asked to; no write timeout.
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.WithError(err).Error("pprof server stopped")
		}
	}()
	log.WithField("addr", l.Addr().String()).Info("serving Go's runtime profiles under /debug/pprof/")
	return srv, nil
}
