package dns64

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/miekg/dns"
)

// Server serves a handler over UDP and TCP on a set of addresses.
type Server struct {
	addrs   []netip.AddrPort
	servers []*dns.Server
	done    chan error
}

// Listen opens UDP and TCP sockets on every address and serves h on them
// until Close. Nothing is left open when it fails.
func Listen(addrs []netip.AddrPort, h dns.Handler) (*Server, error) {
	s := &Server{addrs: addrs, done: make(chan error, 2*len(addrs))}
	for _, a := range addrs {
		pc, l, err := listenBoth(a)
		if err != nil {
			s.closeAll()
			return nil, err
		}
		s.servers = append(s.servers, &dns.Server{PacketConn: pc, Handler: h})
		// A TCP client gets a few seconds between queries and may
		// not hold its connection forever.
		s.servers = append(s.servers, &dns.Server{Listener: l, Handler: h, ReadTimeout: 5 * time.Second, IdleTimeout: func() time.Duration { return 10 * time.Second }})
	}
	for _, srv := range s.servers {
		started := make(chan struct{})
		srv.NotifyStartedFunc = func() { close(started) }
		go func() { s.done <- srv.ActivateAndServe() }()
		<-started
	}
	return s, nil
}

// listenBoth opens UDP and TCP on a; with port 0, on one port the system
// chose for both.
func listenBoth(a netip.AddrPort) (net.PacketConn, net.Listener, error) {
	for try := 0; ; try++ {
		pc, err := net.ListenPacket("udp", a.String())
		if err != nil {
			return nil, nil, fmt.Errorf("dns64: listen udp %s: %w", a, err)
		}
		l, err := net.Listen("tcp", pc.LocalAddr().String())
		if err == nil {
			return pc, l, nil
		}
		pc.Close()
		if a.Port() != 0 || try == 20 {
			return nil, nil, fmt.Errorf("dns64: listen tcp %s: %w", a, err)
		}
	}
}

// closeAll closes the sockets of servers that never started.
func (s *Server) closeAll() {
	for _, srv := range s.servers {
		if srv.PacketConn != nil {
			srv.PacketConn.Close()
		}
		if srv.Listener != nil {
			srv.Listener.Close()
		}
	}
}

// Addrs returns the addresses served, as given to Listen.
func (s *Server) Addrs() []netip.AddrPort { return s.addrs }

// LocalAddrs returns the UDP and TCP addresses bound, with the ports the
// system chose for port 0.
func (s *Server) LocalAddrs() []net.Addr {
	var out []net.Addr
	for _, srv := range s.servers {
		if srv.PacketConn != nil {
			out = append(out, srv.PacketConn.LocalAddr())
		} else {
			out = append(out, srv.Listener.Addr())
		}
	}
	return out
}

// Close stops serving: the sockets close at once, and queries under way
// get until ctx is done to finish.
func (s *Server) Close(ctx context.Context) error {
	var errs []error
	for _, srv := range s.servers {
		if err := srv.ShutdownContext(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	for range s.servers {
		select {
		case <-s.done:
		case <-ctx.Done():
			return errors.Join(append(errs, ctx.Err())...)
		}
	}
	return errors.Join(errs...)
}
