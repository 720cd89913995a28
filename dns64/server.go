package dns64

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"syscall"
	"time"

	"github.com/miekg/dns"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
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

// batchConn reads and writes several datagrams per system call
// (recvmmsg and sendmmsg on Linux).
type batchConn interface {
	ReadBatch(ms []ipv4.Message, flags int) (int, error)
	WriteBatch(ms []ipv4.Message, flags int) (int, error)
}

// batchSize is the datagrams read or written per system call.
const batchSize = 32

// maxQuery is the largest query read; a larger datagram is dropped
// (queries are a question and an OPT record: a few hundred bytes).
const maxQuery = 4096

// serveUDP reads queries from pc until it is closed, a batch at a time,
// and writes the answers it has at once as a batch. pending holds a slot
// for each query under way upstream.
func serveUDP(pc *net.UDPConn, r *Resolver, pending chan struct{}) {
	var bc batchConn = ipv4.NewPacketConn(pc)
	if a, ok := pc.LocalAddr().(*net.UDPAddr); ok && a.IP.To4() == nil {
		bc = ipv6.NewPacketConn(pc)
	}
	in := make([]ipv4.Message, batchSize)
	replies := make([][]byte, batchSize)
	for i := range in {
		in[i].Buffers = [][]byte{make([]byte, maxQuery)}
		replies[i] = make([]byte, 0, dns.MaxMsgSize)
	}
	// The replies go out through msgs, whose buffers are set in place:
	// building messages anew would allocate for every reply.
	msgs := make([]ipv4.Message, batchSize)
	for i := range msgs {
		msgs[i].Buffers = make([][]byte, 1)
	}
	for {
		n, err := bc.ReadBatch(in, 0)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// A socket error that does not go away must not spin a
			// core: try again a little later.
			time.Sleep(10 * time.Millisecond)
			continue
		}
		cfg := r.cfg.Load()
		now := time.Now()
		k := 0
		for i := range n {
			m := &in[i]
			from, ok := m.Addr.(*net.UDPAddr)
			if !ok || m.N == maxQuery {
				continue
			}
			reply := serveDatagram(pc, r, pending, m.Buffers[0][:m.N], from.AddrPort(), cfg, now, replies[i][:0])
			if len(reply) > 0 {
				replies[i] = reply
				msgs[k].Buffers[0], msgs[k].Addr = reply, m.Addr
				k++
			}
		}
		for sent := 0; sent < k; {
			w, err := bc.WriteBatch(msgs[sent:k], 0)
			if err != nil || w == 0 {
				break
			}
			sent += w
		}
	}
}

// serveDatagram answers one datagram: the reply appended to buf when it
// is ready at once (from the cache, or an error), else nothing, and the
// query goes to a goroutine of its own that replies when the upstreams
// have answered.
func serveDatagram(pc *net.UDPConn, r *Resolver, pending chan struct{}, pkt []byte, from netip.AddrPort, cfg *Config, now time.Time, buf []byte) []byte {
	wq, plain := parseQuery(pkt)
	if plain {
		if !r.admit(clientKey(from.Addr()), false) {
			return nil
		}
		if out, rcode, hit := r.cache.wireGet(&wq, pkt, cfg, now, buf); hit {
			r.metrics.cacheHits.Inc()
			r.metrics.response(rcode)
			return out
		}
	}
	req := new(dns.Msg)
	if err := req.Unpack(pkt); err != nil {
		r.metrics.malformed.Inc()
		return append(buf, formErr(pkt)...)
	}
	if !plain && !r.admit(clientKey(from.Addr()), false) {
		return nil
	}
	var keep *wireQuery
	if plain {
		keep = &wq
	}
	if reply, ok := r.quick(req, false); ok {
		return pack(r, reply, buf, keep, cfg, now)
	}
	select {
	case pending <- struct{}{}:
	default:
		r.metrics.dropped.Inc()
		return nil
	}
	go func() {
		defer func() { <-pending }()
		if b := pack(r, r.resolve(req, false), nil, keep, cfg, time.Now()); len(b) > 0 {
			_, _ = pc.WriteToUDPAddrPort(b, from)
		}
	}()
	return nil
}

// pack appends reply to buf, counting it. With keep, the packed reply is
// kept for the fast path when it may be cached, tagged with cfg, the
// configuration in force before it was resolved.
func pack(r *Resolver, reply *dns.Msg, buf []byte, keep *wireQuery, cfg *Config, now time.Time) []byte {
	if reply == nil {
		return nil
	}
	r.metrics.response(reply.Rcode)
	b, err := reply.PackBuffer(buf)
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
	// SO_REUSEPORT lets the process that takes over in an upgrade (sixgate
	// -handover) bind the same addresses while this one still answers: the
	// kernel spreads queries over both until the old one closes its
	// sockets, so no query meets a closed port.
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		if err := c.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
		}); err != nil {
			return err
		}
		return serr
	}}
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

// Close stops serving: the sockets close at once. TCP queries under way
// get until ctx is done to finish; a UDP query waiting on an upstream
// can no longer answer, and its goroutine ends at the upstream's timeout.
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
