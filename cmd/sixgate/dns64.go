package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/sixgate/sixgate/dns64"
	"github.com/sixgate/sixgate/topo"
)

// dnsService is the DNS64 resolver of the dns64 section and the sockets it
// serves on. A reload changes the resolver's configuration in place; the
// sockets stay until the daemon stops.
type dnsService struct {
	mu       sync.Mutex
	resolver *dns64.Resolver
	server   *dns64.Server // nil until start
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
	s.server = srv
	s.log.WithFields(logrus.Fields{"listen": listenStrings(d), "upstream": d.Upstreams, "prefix": d.Prefix}).Info("serving DNS64 over UDP and TCP")
	return nil
}

func listenStrings(d *topo.DNS64) []string {
	var out []string
	for _, a := range d.Listen {
		out = append(out, a.String())
	}
	return out
}

// reload puts a new section in force for the next query: upstreams,
// prefix, exclusions, timeout, rate limit and cache (emptied). Its listen
// addresses are those of the running sockets (dns64Changes refuses a
// reload that changes them).
func (s *dnsService) reload(d *topo.DNS64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.resolver.SetConfig(resolverConfig(d)); err != nil {
		return err
	}
	s.log.WithFields(logrus.Fields{"upstream": d.Upstreams, "prefix": d.Prefix}).Info("DNS64 configuration reloaded")
	return nil
}

// dns64Changes lists, as topology errors naming each key, what t changes
// in the dns64 section that only a restart applies: the section added or
// removed, and its listen addresses.
func dns64Changes(cur, t *topo.Topology) error {
	var errs topo.Errors
	add := func(key, format string, args ...any) {
		errs = append(errs, &topo.Error{File: t.File, Line: t.KeyLine(key), Field: key, Msg: fmt.Sprintf(format, args...)})
	}
	switch {
	case cur.DNS64 == nil && t.DNS64 != nil:
		add("dns64", "section added: restart sixgate to apply it")
	case cur.DNS64 != nil && t.DNS64 == nil:
		add("dns64", "section removed: restart sixgate to apply it")
	case cur.DNS64 != nil && !slices.Equal(cur.DNS64.Listen, t.DNS64.Listen):
		add("dns64.listen", "changed from %s to %s: restart sixgate to apply it",
			strings.Join(listenStrings(cur.DNS64), ", "), strings.Join(listenStrings(t.DNS64), ", "))
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

// stop closes the sockets, giving queries under way 3 seconds.
func (s *dnsService) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.server == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := s.server.Close(ctx); err != nil {
		s.log.WithError(err).Warn("closing the DNS64 sockets")
	}
	s.server = nil
}
