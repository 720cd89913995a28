package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/sixgate/sixgate/dns64"
	"github.com/sixgate/sixgate/topo"
)

// dnsService is the DNS64 resolver of the dns64 section and the sockets it
// serves on. A reload changes the resolver's configuration in place and
// opens the sockets again when the addresses changed.
type dnsService struct {
	mu       sync.Mutex
	resolver *dns64.Resolver
	server   *dns64.Server // nil until start
	listen   []string
	log      *logrus.Entry
}

// newDNSService builds the resolver for the section; nothing listens yet.
func newDNSService(d *topo.DNS64, log *logrus.Entry) (*dnsService, error) {
	r, err := dns64.New(resolverConfig(d))
	if err != nil {
		return nil, err
	}
	return &dnsService{resolver: r, log: log.WithField("service", "dns64")}, nil
}

func resolverConfig(d *topo.DNS64) dns64.Config {
	return dns64.Config{
		Upstreams: d.Upstreams, Prefix: d.Prefix, Exclude: d.Exclude, Timeout: d.Timeout,
		Rate: float64(d.Rate), Burst: d.Burst, MaxClients: d.MaxClients,
		CacheSize: cacheSize(d.CacheSize),
	}
}

// cacheSize turns the section's 0 (no cache) into the resolver's -1.
func cacheSize(n int) int {
	if n == 0 {
		return -1
	}
	return n
}

// start opens the sockets of the section.
func (s *dnsService) start(d *topo.DNS64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	srv, err := dns64.Listen(d.Listen, s.resolver)
	if err != nil {
		return err
	}
	s.server, s.listen = srv, listenStrings(d)
	s.log.WithFields(logrus.Fields{"listen": s.listen, "upstream": d.Upstreams, "prefix": d.Prefix}).Info("serving DNS64 over UDP and TCP")
	return nil
}

func listenStrings(d *topo.DNS64) []string {
	var out []string
	for _, a := range d.Listen {
		out = append(out, a.String())
	}
	return out
}

// reload puts a new section in force: upstreams, prefix, exclusions and
// limits at once, for the next query; new listen addresses by closing the
// sockets and opening the new ones (the old ones are opened again if the
// new ones cannot be). It returns a function that undoes it, for a reload
// that fails further on.
func (s *dnsService) reload(d *topo.DNS64) (undo func(), err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	oldCfg := s.resolver.Config()
	if err := s.resolver.SetConfig(resolverConfig(d)); err != nil {
		return nil, err
	}
	undo = func() { _ = s.resolver.SetConfig(oldCfg) }
	want := listenStrings(d)
	if slices.Equal(want, s.listen) || s.server == nil {
		return undo, nil
	}
	old, prev := s.server.Addrs(), s.listen
	if err := s.closeServer(); err != nil {
		s.log.WithError(err).Warn("closing the DNS64 sockets")
	}
	srv, err := dns64.Listen(d.Listen, s.resolver)
	if err != nil {
		_ = s.resolver.SetConfig(oldCfg) // it was in force
		back, berr := dns64.Listen(old, s.resolver)
		if berr != nil {
			return nil, errors.Join(fmt.Errorf("dns64.listen: %w", err), fmt.Errorf("reopening the previous addresses: %w", berr))
		}
		s.server = back
		return nil, fmt.Errorf("dns64.listen: %w; still listening on the previous addresses", err)
	}
	s.server, s.listen = srv, want
	s.log.WithFields(logrus.Fields{"listen": want, "was": prev}).Info("DNS64 listen addresses changed: sockets opened again")
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		_ = s.resolver.SetConfig(oldCfg) // it was in force
		if err := s.closeServer(); err != nil {
			s.log.WithError(err).Warn("closing the DNS64 sockets")
		}
		if back, err := dns64.Listen(old, s.resolver); err == nil {
			s.server, s.listen = back, prev
		} else {
			s.log.WithError(err).Error("DNS64: the previous listen addresses could not be opened again; not serving")
		}
	}, nil
}

// closeServer closes the sockets, giving queries under way a moment.
func (s *dnsService) closeServer() error {
	if s.server == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	err := s.server.Close(ctx)
	s.server, s.listen = nil, nil
	return err
}

// stop closes the sockets.
func (s *dnsService) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.closeServer(); err != nil {
		s.log.WithError(err).Warn("closing the DNS64 sockets")
	}
}
