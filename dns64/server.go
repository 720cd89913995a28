package dns64

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/miekg/dns"
	"golang.org/x/sys/unix"
)

// maxPending bounds the UDP queries waiting on the upstreams at once, per
// address; beyond it a query that is not in the cache is dropped
// (sixgate_dns64_dropped_total), as a full queue would.
const maxPending = 4096

// Server serves a resolver over UDP and TCP on a set of addresses.
type Server struct {
	addrs []netip.AddrPort
	// servers are miekg/dns servers: TCP on every address, and UDP on a
	// wildcard address, whose replies must leave from the address each
	// query came to (miekg reads it from the packet's control data).
	servers []*dns.Server
	// udp are the sockets on specific addresses, which the resolver
	// reads itself (udpReader), one per address; extra are the other
	// sockets on the same addresses, one per core beyond the first
	// (SO_REUSEPORT: the kernel spreads clients over them by their
	// address and port), each with a reader of its own.
	udp, extra []*net.UDPConn
	wg         sync.WaitGroup
	done       chan error
}

// Listen opens UDP and TCP sockets on every address and serves r on them
// until Close. Nothing is left open when it fails.
func Listen(addrs []netip.AddrPort, r *Resolver) (*Server, error) {
	s := &Server{addrs: addrs, done: make(chan error, 2*len(addrs))}
	cores := runtime.GOMAXPROCS(0)
	var readers []*udpReader
	for _, a := range addrs {
		pc, l, err := listenBoth(a)
		if err != nil {
			s.closeAll()
			return nil, err
		}
		// A TCP client gets a few seconds between queries and may
		// not hold its connection forever.
		s.servers = append(s.servers, &dns.Server{Listener: l, Handler: r, ReadTimeout: 5 * time.Second, IdleTimeout: func() time.Duration { return 10 * time.Second }})
		if a.Addr().IsUnspecified() {
			s.servers = append(s.servers, &dns.Server{PacketConn: pc, Handler: admitted{r},
				DecorateReader: func(in dns.Reader) dns.Reader { return admittingReader{Reader: in, r: r} },
				MsgInvalidFunc: func([]byte, error) { r.metrics.malformed.Inc() }})
			continue
		}
		s.udp = append(s.udp, pc.(*net.UDPConn))
		socks := []*net.UDPConn{pc.(*net.UDPConn)}
		for range cores - 1 {
			more, err := listenUDP(pc.LocalAddr().String())
			if err != nil {
				s.closeAll()
				return nil, err
			}
			s.extra = append(s.extra, more)
			socks = append(socks, more)
		}
		pending := make(chan struct{}, maxPending)
		for _, c := range socks {
			u, err := newUDPReader(c, r, pending)
			if err != nil {
				s.closeAll()
				return nil, fmt.Errorf("dns64: %s: %w", a, err)
			}
			readers = append(readers, u)
		}
	}
	for _, srv := range s.servers {
		started := make(chan struct{})
		srv.NotifyStartedFunc = func() { close(started) }
		go func() { s.done <- srv.ActivateAndServe() }()
		<-started
	}
	for _, u := range readers {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			u.serve()
		}()
	}
	return s, nil
}

// admittingReader applies the rate limit to every datagram miekg's UDP
// server reads, before miekg decodes it: a malformed query would
// otherwise get its FORMERR from miekg without taking a token.
type admittingReader struct {
	dns.Reader
	r *Resolver
}

func (a admittingReader) ReadUDP(conn *net.UDPConn, timeout time.Duration) ([]byte, *dns.SessionUDP, error) {
	for {
		b, s, err := a.Reader.ReadUDP(conn, timeout)
		if err != nil || a.r.admit(clientOf(s.RemoteAddr()), false) {
			return b, s, err
		}
	}
}

// admitted is the handler behind an admittingReader.
type admitted struct{ r *Resolver }

func (a admitted) ServeDNS(w dns.ResponseWriter, req *dns.Msg) { a.r.serveAdmitted(w, req, false) }

// batchSize is the datagrams read or written per system call.
const batchSize = 32

// maxQuery is the largest query read; a larger datagram is dropped
// (queries are a question and an OPT record: a few hundred bytes).
const maxQuery = 4096

// laterQuery is a query that must wait on the upstreams, and what the
// fast path read of it when it was plain (to keep its packed reply).
type laterQuery struct {
	req  *dns.Msg
	keep *wireQuery
}

// serveDatagram answers one datagram from client: the reply appended to
// buf when it is ready at once (from the cache, or an error), else
// nothing, or the query to resolve when it must wait on the upstreams.
// A cache hit allocates nothing.
func (r *Resolver) serveDatagram(pkt []byte, client netip.Addr, cfg *Config, now time.Time, buf []byte) ([]byte, *laterQuery) {
	// Every datagram counts against its client's rate, a malformed one
	// too: FORMERR is a reply as much as an answer is.
	if !r.admitAt(clientKey(client), false, now) {
		return nil, nil
	}
	var wq wireQuery
	plain := parseQuery(pkt, &wq)
	if plain {
		if out, rcode, hit := r.cache.wireGet(&wq, pkt, cfg, now, buf); hit {
			r.metrics.cacheHits.Inc()
			r.metrics.response(rcode)
			return out, nil
		}
	}
	req := new(dns.Msg)
	if err := req.Unpack(pkt); err != nil {
		r.metrics.malformed.Inc()
		return append(buf, formErr(pkt)...), nil
	}
	var keep *wireQuery
	if plain {
		// A copy: wq itself stays on the stack for the hits.
		keep = new(wireQuery)
		*keep = wq
	}
	if reply, ok := r.quick(req, false); ok {
		return pack(r, reply, buf, keep, cfg, now), nil
	}
	return nil, &laterQuery{req: req, keep: keep}
}

// pack appends reply to buf, counting it. With keep, the packed reply is
// kept for the fast path when it may be cached, tagged with cfg, the
// configuration in force before it was resolved.
func pack(r *Resolver, reply *dns.Msg, buf []byte, keep *wireQuery, cfg *Config, now time.Time) []byte {
	if reply == nil {
		return nil
	}
	r.metrics.response(reply.Rcode)
	b, err := reply.PackBuffer(buf[:cap(buf)])
	if err != nil {
		return nil
	}
	if keep != nil && !reply.Authoritative {
		if ttl, ok := cacheTTL(reply); ok {
			r.cache.wirePut(keep, b, reply.Rcode, ttl, cfg, now)
		}
	}
	return b
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
	lc := reusePort()
	ctx := context.Background()
	for try := 0; ; try++ {
		pc, err := lc.ListenPacket(ctx, "udp", a.String())
		if err != nil {
			return nil, nil, fmt.Errorf("dns64: listen udp %s: %w", a, err)
		}
		l, err := lc.Listen(ctx, "tcp", pc.LocalAddr().String())
		if err == nil {
			return pc, l, nil
		}
		pc.Close()
		if a.Port() != 0 || try == 20 {
			return nil, nil, fmt.Errorf("dns64: listen tcp %s: %w", a, err)
		}
	}
}

// reusePort is a ListenConfig that sets SO_REUSEPORT. It lets the
// process that takes over in an upgrade (sixgate -handover) bind the same
// addresses while this one still answers: the kernel spreads queries over
// both until the old one closes its sockets, so no query meets a closed
// port. It also gives an address one UDP socket per core. UDP sockets
// get a receive buffer of udpReceiveBuffer bytes.
func reusePort() net.ListenConfig {
	return net.ListenConfig{Control: func(network, _ string, c syscall.RawConn) error {
		var serr error
		if err := c.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
			if network == "udp" || network == "udp4" || network == "udp6" {
				// Room for a burst of queries while the reader is
				// off the core; the kernel caps it at
				// net.core.rmem_max, which is fine.
				_ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, udpReceiveBuffer)
			}
		}); err != nil {
			return err
		}
		return serr
	}}
}

// udpReceiveBuffer is the receive buffer asked for each UDP socket
// (SO_RCVBUF): a few thousand queries.
const udpReceiveBuffer = 1 << 20

// listenUDP opens another UDP socket on addr, whose first socket is open.
func listenUDP(addr string) (*net.UDPConn, error) {
	lc := reusePort()
	pc, err := lc.ListenPacket(context.Background(), "udp", addr)
	if err != nil {
		return nil, fmt.Errorf("dns64: listen udp %s: %w", addr, err)
	}
	return pc.(*net.UDPConn), nil
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
	for _, pc := range slices.Concat(s.udp, s.extra) {
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

// Close stops serving: the sockets close at once. TCP queries under way
// get until ctx is done to finish; a UDP query waiting on an upstream
// can no longer answer, and its goroutine ends at the upstream's timeout.
func (s *Server) Close(ctx context.Context) error {
	var errs []error
	for _, pc := range slices.Concat(s.udp, s.extra) {
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
