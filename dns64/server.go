package dns64

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// maxPending bounds the UDP queries waiting on the upstreams at once, per
// address; beyond it a query that is not in the cache is dropped
// (sixgate_dns64_dropped_total), as a full queue would.
const maxPending = 4096

// Server serves a resolver over UDP and TCP on a set of addresses.
type Server struct {
	addrs []netip.AddrPort
	// tcp are miekg servers: TCP on every address, and UDP on a
	// wildcard address, whose replies must leave from the address each
	// query came to (miekg reads it from the packet's control data).
	servers []*dns.Server
	// udp are the sockets on specific addresses, which the resolver
	// reads itself: cached answers are written back by the reading
	// goroutine, and only queries that must wait on an upstream get one
	// of their own.
	udp  []*net.UDPConn
	wg   sync.WaitGroup
	done chan error
}

// Listen opens UDP and TCP sockets on every address and serves r on them
// until Close. Nothing is left open when it fails.
func Listen(addrs []netip.AddrPort, r *Resolver) (*Server, error) {
	s := &Server{addrs: addrs, done: make(chan error, 2*len(addrs))}
	for _, a := range addrs {
		pc, l, err := listenBoth(a)
		if err != nil {
			s.closeAll()
			return nil, err
		}
		if a.Addr().IsUnspecified() {
			s.servers = append(s.servers, &dns.Server{PacketConn: pc, Handler: r})
		} else {
			s.udp = append(s.udp, pc.(*net.UDPConn))
		}
		// A TCP client gets a few seconds between queries and may
		// not hold its connection forever.
		s.servers = append(s.servers, &dns.Server{Listener: l, Handler: r, ReadTimeout: 5 * time.Second, IdleTimeout: func() time.Duration { return 10 * time.Second }})
	}
	for _, srv := range s.servers {
		started := make(chan struct{})
		srv.NotifyStartedFunc = func() { close(started) }
		go func() { s.done <- srv.ActivateAndServe() }()
		<-started
	}
	readers := runtime.GOMAXPROCS(0)
	for _, pc := range s.udp {
		pending := make(chan struct{}, maxPending)
		for range readers {
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				serveUDP(pc, r, pending)
			}()
		}
	}
	return s, nil
}

// serveUDP reads queries from pc until it is closed. pending holds a slot
// for each query under way upstream.
func serveUDP(pc *net.UDPConn, r *Resolver, pending chan struct{}) {
	buf := make([]byte, dns.MaxMsgSize)
	out := make([]byte, 0, dns.MaxMsgSize)
	for {
		n, from, err := pc.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		req := new(dns.Msg)
		if err := req.Unpack(buf[:n]); err != nil {
			r.metrics.malformed.Inc()
			if reply := formErr(buf[:n]); reply != nil {
				_, _ = pc.WriteToUDPAddrPort(reply, from)
			}
			continue
		}
		if !r.admit(clientKey(from.Addr()), false) {
			continue
		}
		if reply, ok := r.quick(req, false); ok {
			out = writeUDP(pc, r, reply, from, out)
			continue
		}
		select {
		case pending <- struct{}{}:
		default:
			r.metrics.dropped.Inc()
			continue
		}
		go func() {
			defer func() { <-pending }()
			writeUDP(pc, r, r.resolve(req, false), from, nil)
		}()
	}
}

// writeUDP packs reply into buf and sends it to, returning buf for reuse.
func writeUDP(pc *net.UDPConn, r *Resolver, reply *dns.Msg, to netip.AddrPort, buf []byte) []byte {
	if reply == nil {
		return buf
	}
	r.metrics.response(reply.Rcode)
	b, err := reply.PackBuffer(buf)
	if err != nil {
		return buf
	}
	_, _ = pc.WriteToUDPAddrPort(b, to)
	return b[:0]
}

// formErr is the FORMERR reply to a query that does not unpack, when its
// header can be read and it is a query (RFC 1035 section 4.1.1); nil
// otherwise.
func formErr(b []byte) []byte {
	const header = 12
	if len(b) < header || b[2]&0x80 != 0 {
		return nil
	}
	reply := make([]byte, header)
	copy(reply, b[:4])
	reply[2] = 0x80 | b[2]&0x79 // QR, the opcode and RD kept
	reply[3] = 0x80 | dns.RcodeFormatError
	return reply
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
	for _, pc := range s.udp {
		pc.Close()
	}
}

// Addrs returns the addresses served, as given to Listen.
func (s *Server) Addrs() []netip.AddrPort { return s.addrs }

// LocalAddrs returns the UDP addresses bound, with the ports the system
// chose for port 0; TCP listens on the same ones.
func (s *Server) LocalAddrs() []net.Addr {
	var out []net.Addr
	for _, pc := range s.udp {
		out = append(out, pc.LocalAddr())
	}
	for _, srv := range s.servers {
		if srv.PacketConn != nil {
			out = append(out, srv.PacketConn.LocalAddr())
		}
	}
	return out
}

// Close stops serving: the sockets close at once, and queries under way
// get until ctx is done to finish.
func (s *Server) Close(ctx context.Context) error {
	var errs []error
	for _, pc := range s.udp {
		pc.Close()
	}
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
	readers := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(readers)
	}()
	select {
	case <-readers:
	case <-ctx.Done():
		errs = append(errs, ctx.Err())
	}
	return errors.Join(errs...)
}
