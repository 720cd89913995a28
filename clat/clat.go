package clat

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/sixgate/sixgate/packet"
	"github.com/sixgate/sixgate/siit"
)

// The IPv4 side, from the IPv4 Service Continuity Prefix 192.0.0.0/29
// (RFC 7335).
var (
	HostIPv4   = netip.MustParseAddr("192.0.0.1") // the host's address on the TUN
	EngineIPv4 = netip.MustParseAddr("192.0.0.2") // the source of the ICMPv4 errors the translator originates
	tunPrefix  = netip.MustParsePrefix("192.0.0.1/29")
)

const (
	// RouteMTU is the MTU of the IPv4 default route: an IPv4 packet of
	// 1260 bytes becomes an IPv6 packet of 1280, the IPv6 minimum MTU,
	// so nothing the host sends needs fragmenting on the IPv6 side.
	RouteMTU = 1260
	// RouteMetric is the metric of the IPv4 default route, high so that
	// a native IPv4 default route, where there is one, wins.
	RouteMetric = 2048
	// DefaultTUN is the TUN device's name when none is given.
	DefaultTUN = "clat"

	tunMTU = 1500
	// engineMTU4 is the IPv4 link MTU the translator assumes: the TUN
	// takes packets of any size, and a segment GRO merged on the uplink
	// is best handed to the host's stack whole.
	engineMTU4     = 65535
	lowestIPv6MTU  = 1280
	expireInterval = 200 * time.Millisecond
	dnsTimeout     = 5 * time.Second
)

// Config is what `sixgate clat` is given.
type Config struct {
	Uplink string       // the interface toward the IPv6 network
	IPv6   netip.Addr   // the dedicated address; the zero Addr derives one (DeriveAddress)
	Pref64 netip.Prefix // the configured NAT64 prefix, used when neither routers nor DNS give one
	TUN    string       // the TUN device's name; DefaultTUN when empty
	// Lookup resolves ipv4only.arpa; nil uses the system resolver, and
	// a Lookup that always fails turns RFC 7050 discovery off.
	Lookup LookupFunc
	// DNSInterval is how often ipv4only.arpa is asked again; 10 minutes
	// when zero.
	DNSInterval time.Duration
	// Ready, when set, is called once everything is set up.
	Ready func()
}

// Stats counts what the CLAT did.
type Stats struct {
	FromHost      atomic.Uint64 // IPv4 packets read from the TUN
	FromUplink    atomic.Uint64 // IPv6 packets to the dedicated address
	ToUplink      atomic.Uint64 // IPv6 packets sent
	ToHost        atomic.Uint64 // IPv4 packets written into the TUN
	NoPrefix      atomic.Uint64 // packets dropped while no NAT64 prefix was known
	OtherSource   atomic.Uint64 // IPv4 packets from the TUN not from 192.0.0.1, dropped
	EngineDropped atomic.Uint64 // packets the translator did not translate (dropped, or not for it)
	SendErrors    atomic.Uint64 // packets the kernel refused to send
}

// clat is one running CLAT.
type clat struct {
	cfg    Config
	log    *logrus.Entry
	uplink netlink.Link
	ifi    *net.Interface
	clat6  netip.Addr
	own6   netip.Addr
	tun    *TUN
	tunIdx int
	recv   *Receiver
	nl     *UserOptListener
	ra     *RAListener // only with accept_ra=0 on the uplink

	mu  sync.Mutex // guards eng: the packet loops and the prefix changes
	eng *siit.Translator

	stats Stats
}

// Run sets the CLAT up on the host, translates until ctx ends, then
// takes down everything it set up. An error setting up is returned after
// what was done is undone.
func Run(ctx context.Context, cfg Config, log *logrus.Entry) (err error) {
	if cfg.TUN == "" {
		cfg.TUN = DefaultTUN
	}
	if cfg.DNSInterval == 0 {
		cfg.DNSInterval = 10 * time.Minute
	}
	if cfg.Lookup == nil {
		cfg.Lookup = systemLookup
	}
	if cfg.Pref64.IsValid() {
		if err := packet.CheckRFC6052Prefix(cfg.Pref64); err != nil {
			return fmt.Errorf("-pref64: %w", err)
		}
	}
	c := &clat{cfg: cfg, log: log}
	u := &undo{}
	defer func() {
		if uerr := u.run(); uerr != nil {
			err = errors.Join(err, uerr)
		}
	}()
	if err := c.setUp(u); err != nil {
		return err
	}
	return c.serve(ctx)
}

func systemLookup(ctx context.Context, host string) ([]netip.Addr, error) {
	return net.DefaultResolver.LookupNetIP(ctx, "ip6", host)
}

// setUp makes every change to the host, each with its undo step in u.
func (c *clat) setUp(u *undo) error {
	up := c.cfg.Uplink
	link, err := netlink.LinkByName(up)
	if err != nil {
		return fmt.Errorf("uplink %s: %w", up, err)
	}
	c.uplink = link
	if c.ifi, err = net.InterfaceByName(up); err != nil {
		return fmt.Errorf("uplink %s: %w", up, err)
	}
	addrs, err := uplinkAddrs(link)
	if err != nil {
		return err
	}
	hostPrefix, ok := UplinkPrefix(addrs)
	c.clat6 = c.cfg.IPv6
	if !c.clat6.IsValid() {
		if !ok {
			return fmt.Errorf("uplink %s has no global IPv6 address to derive the CLAT's address from; give -ipv6", up)
		}
		c.clat6 = DeriveAddress(hostPrefix, c.ifi.HardwareAddr, up)
	}
	c.own6 = hostPrefix.Addr() // the zero Addr when there is none
	for _, a := range addrs {
		if a.Addr() == c.clat6 {
			return fmt.Errorf("%s is an address of %s itself; the CLAT needs an address of its own", c.clat6, up)
		}
	}
	c.log = c.log.WithFields(logrus.Fields{"uplink": up, "ipv6": c.clat6})

	// The TUN first: a second CLAT with the same device name fails here
	// (EBUSY), before it changes anything the first one relies on.
	if c.tun, err = OpenTUN(c.cfg.TUN); err != nil {
		return err
	}
	u.push("TUN "+c.tun.Name, closer(c.tun.Close))

	// The kernel answers solicitations for a proxy entry only on an
	// interface with forwarding on, and an interface with forwarding on
	// takes router advertisements only with accept_ra=2. accept_ra goes
	// first: turning forwarding on drops the default routes learnt on
	// interfaces whose accept_ra is not 2.
	old, err := u.setSysctl(up, "accept_ra", "2", "1")
	if err != nil {
		return err
	}
	if old == "0" {
		// Nothing over netlink then: read the advertisements directly.
		c.log.Info("the kernel does not process router advertisements on the uplink (accept_ra=0): reading them from an ICMPv6 socket")
		if c.ra, err = ListenRAs(c.ifi); err != nil {
			return err
		}
		u.push("ICMPv6 socket", closer(c.ra.Close))
	}
	if _, err := u.setSysctl(up, "forwarding", "1"); err != nil {
		return err
	}
	if _, err := u.setSysctl(up, "proxy_ndp", "1"); err != nil {
		return err
	}
	existed, err := u.addProxyNeighbor(c.proxyNeighbor())
	if err != nil {
		return err
	}
	if existed {
		c.log.Warn("a proxy entry for the address was there already (another CLAT, or one that crashed): it stays after exit")
	}

	if c.nl, err = ListenUserOpts(); err != nil {
		return err
	}
	u.push("netlink socket", closer(c.nl.Close))
	if c.recv, err = ListenFor(link.Attrs().Index, c.clat6); err != nil {
		return err
	}
	u.push("packet socket", closer(c.recv.Close))

	// No IPv6 on the TUN: no link-local address, no solicitations of
	// the kernel's own in the translator's input.
	if err := writeSysctl(c.tun.Name, "disable_ipv6", "1"); err != nil {
		return err
	}
	tl, err := netlink.LinkByName(c.tun.Name)
	if err != nil {
		return fmt.Errorf("TUN %s: %w", c.tun.Name, err)
	}
	c.tunIdx = tl.Attrs().Index
	if err := netlink.LinkSetMTU(tl, tunMTU); err != nil {
		return fmt.Errorf("TUN %s: MTU: %w", c.tun.Name, err)
	}
	if err := netlink.AddrAdd(tl, &netlink.Addr{IPNet: ipNet(tunPrefix)}); err != nil {
		return fmt.Errorf("TUN %s: address %s: %w", c.tun.Name, tunPrefix, err)
	}
	if err := netlink.LinkSetUp(tl); err != nil {
		return fmt.Errorf("TUN %s: up: %w", c.tun.Name, err)
	}
	u.push("IPv4 default route", c.routeDown)
	return nil
}

// proxyNeighbor is the proxy entry for the dedicated address.
func (c *clat) proxyNeighbor() *netlink.Neigh {
	return &netlink.Neigh{
		LinkIndex: c.uplink.Attrs().Index,
		Family:    netlink.FAMILY_V6,
		Flags:     netlink.NTF_PROXY,
		IP:        net.IP(c.clat6.AsSlice()),
	}
}

// defaultRoute is the IPv4 default route through the TUN.
func (c *clat) defaultRoute() *netlink.Route {
	return &netlink.Route{
		LinkIndex: c.tunIdx,
		Dst:       ipNet(netip.PrefixFrom(netip.IPv4Unspecified(), 0)),
		Src:       net.IP(HostIPv4.AsSlice()),
		Scope:     netlink.SCOPE_LINK,
		Priority:  RouteMetric,
		MTU:       RouteMTU,
	}
}

func (c *clat) routeUp() error {
	if err := netlink.RouteReplace(c.defaultRoute()); err != nil {
		return fmt.Errorf("IPv4 default route via %s: %w", c.tun.Name, err)
	}
	return nil
}

func (c *clat) routeDown() error {
	err := netlink.RouteDel(c.defaultRoute())
	if err == nil || errors.Is(err, unix.ESRCH) || errors.Is(err, unix.ENODEV) || errors.Is(err, unix.ENOENT) {
		return nil
	}
	return fmt.Errorf("IPv4 default route via %s: %w", c.tun.Name, err)
}

// observation is what a router advertisement said about NAT64 prefixes.
type observation struct {
	router netip.Addr
	prefs  []PREF64
}

// serve runs the packet loops and follows the NAT64 prefix until ctx
// ends.
func (c *clat) serve(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	obs := make(chan observation, 16)
	dns := make(chan netip.Prefix, 1)
	loopErr := make(chan error, 2)

	// A Sender each for the three goroutines that send: a Sender is
	// not safe for concurrent use.
	var senders [3]*Sender
	for i := range senders {
		s, err := NewSender(c.cfg.Uplink)
		if err != nil {
			return err
		}
		defer s.Close()
		senders[i] = s
	}

	wg.Add(5)
	go func() { defer wg.Done(); loopErr <- c.packetLoop(c.tun, 4, senders[0], &c.stats.FromHost) }()
	go func() { defer wg.Done(); loopErr <- c.packetLoop(c.recv, 6, senders[1], &c.stats.FromUplink) }()
	go func() { defer wg.Done(); c.expireLoop(ctx, senders[2]) }()
	go func() { defer wg.Done(); c.userOptLoop(ctx, obs) }()
	go func() { defer wg.Done(); c.dnsLoop(ctx, dns) }()
	if c.ra != nil {
		wg.Add(1)
		go func() { defer wg.Done(); c.raLoop(ctx, obs) }()
	}
	defer func() {
		cancel()
		// Closing the descriptors ends the loops blocked in a read;
		// the undo steps closing them again find them closed.
		c.tun.Close()
		c.recv.Close()
		c.nl.Close()
		if c.ra != nil {
			c.ra.Close()
		}
		wg.Wait()
		c.logStats()
	}()

	c.solicit()
	c.log.WithFields(logrus.Fields{"tun": c.tun.Name, "ipv4": tunPrefix}).Info("CLAT up")
	if c.cfg.Ready != nil {
		c.cfg.Ready()
	}

	var prefixes Prefixes
	prefixes.SetFlag(c.cfg.Pref64)
	if !c.cfg.Pref64.IsValid() {
		c.log.Info("no NAT64 prefix yet: waiting for router advertisements (PREF64) or DNS (ipv4only.arpa)")
	}
	var f follower
	expiry := time.NewTimer(time.Hour)
	defer expiry.Stop()
	for {
		now := time.Now()
		pfx, src := prefixes.Current(now)
		if f.changes(pfx) {
			err := c.use(pfx, src)
			switch {
			case err == nil:
				f.used(pfx)
			case src == SourceRA || src == SourceDNS:
				c.log.WithError(err).WithFields(logrus.Fields{"prefix": pfx, "source": src}).Error("NAT64 prefix refused")
				f.refused(pfx)
			default:
				return err
			}
		}
		if t, ok := prefixes.NextExpiry(); ok {
			expiry.Reset(t.Sub(now))
		}
		select {
		case <-ctx.Done():
			return nil
		case err := <-loopErr:
			return err
		case o := <-obs:
			for _, p := range o.prefs {
				c.log.WithFields(logrus.Fields{"router": o.router, "prefix": p.Prefix, "lifetime": p.Lifetime}).Debug("PREF64 option")
				prefixes.ObserveRA(o.router, p, time.Now())
			}
		case p := <-dns:
			prefixes.SetDNS(p)
		case <-expiry.C:
		}
	}
}

// follower remembers the prefix in use (the zero Prefix: none) and a
// learnt one the translator refused, so that the one in use stays and
// the refusal is logged once.
type follower struct {
	inUse, rejected netip.Prefix
}

// changes says whether pfx, the prefix chosen now, is to be put in use.
func (f *follower) changes(pfx netip.Prefix) bool {
	return pfx != f.inUse && !(f.rejected.IsValid() && pfx == f.rejected)
}

func (f *follower) used(pfx netip.Prefix)    { f.inUse, f.rejected = pfx, netip.Prefix{} }
func (f *follower) refused(pfx netip.Prefix) { f.rejected = pfx }

// use switches translation to prefix pfx, or stops it when pfx is the
// zero Prefix: the engine gets the new prefix and the IPv4 default route
// exists exactly while there is one.
func (c *clat) use(pfx netip.Prefix, src Source) error {
	log := c.log.WithFields(logrus.Fields{"prefix": pfx, "source": src})
	if !pfx.IsValid() {
		c.mu.Lock()
		c.eng = nil
		c.mu.Unlock()
		log.Warn("no NAT64 prefix: IPv4 default route removed")
		return c.routeDown()
	}
	cfg := siitConfig(engineParams{
		pref64: pfx, host4: HostIPv4, own4: EngineIPv4, clat6: c.clat6,
		own6: c.own6, mtu4: engineMTU4, mtu6: c.uplink.Attrs().MTU, lowest6: lowestIPv6MTU,
	})
	c.mu.Lock()
	var err error
	if c.eng == nil {
		var t *siit.Translator
		if t, err = siit.New(cfg); err == nil {
			c.eng = t
		}
	} else {
		err = c.eng.SetConfig(cfg)
	}
	c.mu.Unlock()
	if err != nil {
		return fmt.Errorf("translator for NAT64 prefix %s: %w", pfx, err)
	}
	if err := c.routeUp(); err != nil {
		return err
	}
	log.Info("NAT64 prefix in use")
	return nil
}

// reader is where a packet loop reads: the TUN or the packet socket.
type reader interface {
	Read([]byte) (int, error)
}

// packetLoop translates the packets of IP version version read from r
// until r is closed; other packets are ignored. It returns nil when r
// was closed, the error otherwise.
func (c *clat) packetLoop(r reader, version byte, send *Sender, in *atomic.Uint64) error {
	buf := make([]byte, 1<<16)
	out := packet.NewBatch(4, packet.DefaultBufSize)
	for {
		n, err := r.Read(buf)
		if err != nil {
			if errors.Is(err, os.ErrClosed) {
				return nil
			}
			if errors.Is(err, unix.ENETDOWN) {
				// The uplink was set down; the packet socket
				// receives again once it is up.
				continue
			}
			return fmt.Errorf("read: %w", err)
		}
		if n == 0 || buf[0]>>4 != version {
			continue
		}
		in.Add(1)
		if version == 4 && !fromHost(buf[:n]) {
			// Only the host's own traffic: what it would forward from
			// elsewhere through the route would leave with a source
			// the NAT64 cannot tell from a spoofed one.
			c.stats.OtherSource.Add(1)
			continue
		}
		out.Reset()
		c.mu.Lock()
		if c.eng == nil {
			c.mu.Unlock()
			c.stats.NoPrefix.Add(1)
			continue
		}
		v := c.eng.Handle(buf[:n], out)
		c.mu.Unlock()
		if v != packet.Consumed {
			c.stats.EngineDropped.Add(1)
		}
		c.emit(out, send)
	}
}

// fromHost says whether an IPv4 packet comes from the host's address on
// the TUN.
func fromHost(pkt []byte) bool {
	ip := packet.IPv4(pkt)
	return ip.IsValid() && ip.Src() == HostIPv4.As4()
}

// expireLoop runs the translator's timers.
func (c *clat) expireLoop(ctx context.Context, send *Sender) {
	t := time.NewTicker(expireInterval)
	defer t.Stop()
	out := packet.NewBatch(4, packet.DefaultBufSize)
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		out.Reset()
		c.mu.Lock()
		if c.eng != nil {
			c.eng.Expire(out)
		}
		c.mu.Unlock()
		c.emit(out, send)
	}
}

// emit sends what the translator produced: IPv4 into the TUN, toward the
// host; IPv6 out of the uplink.
func (c *clat) emit(out *packet.Batch, send *Sender) {
	for i := range out.Packets {
		p := &out.Packets[i]
		var err error
		if p.Family == packet.IPv4Family {
			_, err = c.tun.Write(p.Data)
			if err == nil {
				c.stats.ToHost.Add(1)
			}
		} else {
			err = send.Send(p.Data, p.Dst)
			if err == nil {
				c.stats.ToUplink.Add(1)
			}
		}
		if err != nil {
			c.stats.SendErrors.Add(1)
		}
	}
}

// userOptLoop passes the PREF64 options of the uplink's router
// advertisements to obs until the netlink socket is closed. When the
// uplink comes back up it puts the proxy entry back (the kernel drops
// proxy entries when an interface is set down) and solicits routers.
func (c *clat) userOptLoop(ctx context.Context, obs chan<- observation) {
	idx := c.uplink.Attrs().Index
	running := true
	for {
		msgs, links, err := c.nl.Read()
		if errors.Is(err, os.ErrClosed) {
			return
		}
		if errors.Is(err, unix.ENOBUFS) {
			// Messages were lost; ask the routers again.
			c.log.Warn("netlink: messages lost (ENOBUFS), soliciting routers")
			c.solicit()
			continue
		}
		if err != nil {
			c.log.WithError(err).Warn("netlink")
		}
		for _, l := range links {
			if l.Ifindex != idx {
				continue
			}
			up := l.Flags&unix.IFF_UP != 0 && l.Flags&unix.IFF_RUNNING != 0
			if up && !running {
				c.log.Info("uplink up again: proxy entry restored, soliciting routers")
				if err := netlink.NeighSet(c.proxyNeighbor()); err != nil {
					c.log.WithError(err).Error("proxy neighbor")
				}
				go c.solicitWhenReady(ctx)
			}
			running = up
		}
		for _, m := range msgs {
			if m.Ifindex != idx || m.ICMPType != icmpv6RouterAdv {
				continue
			}
			prefs, err := PREF64s(m.Options)
			if err != nil {
				c.log.WithError(err).WithField("router", m.Source).Warn("router advertisement options")
			}
			if len(prefs) > 0 {
				select {
				case obs <- observation{router: m.Source, prefs: prefs}:
				case <-ctx.Done():
					return
				}
			}
		}
	}
}

// raLoop passes the PREF64 options of the router advertisements read
// from the ICMPv6 socket to obs until the socket is closed.
func (c *clat) raLoop(ctx context.Context, obs chan<- observation) {
	for {
		router, prefs, err := c.ra.Read()
		if err != nil {
			if ctx.Err() == nil && !errors.Is(err, net.ErrClosed) {
				c.log.WithError(err).Error("router advertisements: reading stopped")
			}
			return
		}
		if len(prefs) == 0 {
			continue
		}
		select {
		case obs <- observation{router: router, prefs: prefs}:
		case <-ctx.Done():
			return
		}
	}
}

// solicitWhenReady sends a router solicitation once the uplink has its
// link-local address again, which it gets a moment after coming up:
// a few tries, a little apart, until ctx ends.
func (c *clat) solicitWhenReady(ctx context.Context) {
	var err error
	for range 10 {
		if err = solicitRouters(c.ifi); err == nil {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(300 * time.Millisecond):
		}
	}
	c.log.WithError(err).Warn("no router solicitation sent")
}

// solicit sends a router solicitation, logging a failure.
func (c *clat) solicit() {
	if err := solicitRouters(c.ifi); err != nil {
		c.log.WithError(err).Warn("no router solicitation sent")
	}
}

// dnsLoop looks the NAT64 prefix up in DNS (RFC 7050) now and every
// DNSInterval, and passes each result on (the zero Prefix when none was
// found).
func (c *clat) dnsLoop(ctx context.Context, out chan<- netip.Prefix) {
	t := time.NewTimer(0)
	defer t.Stop()
	var last netip.Prefix
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		qctx, cancel := context.WithTimeout(ctx, dnsTimeout)
		p, err := DiscoverPrefix(qctx, c.cfg.Lookup)
		cancel()
		if err == nil {
			if verr := packet.CheckRFC6052Prefix(p); verr != nil {
				err = verr
				p = netip.Prefix{}
			}
		}
		if err != nil && ctx.Err() == nil {
			c.log.WithError(err).Debug("no NAT64 prefix from DNS")
		}
		if p != last {
			last = p
			select {
			case out <- p:
			case <-ctx.Done():
				return
			}
		}
		t.Reset(c.cfg.DNSInterval)
	}
}

func (c *clat) logStats() {
	s := &c.stats
	c.log.WithFields(logrus.Fields{
		"from_host": s.FromHost.Load(), "to_uplink": s.ToUplink.Load(),
		"from_uplink": s.FromUplink.Load(), "to_host": s.ToHost.Load(),
		"no_prefix": s.NoPrefix.Load(), "other_source": s.OtherSource.Load(), "engine_dropped": s.EngineDropped.Load(),
		"send_errors": s.SendErrors.Load(),
	}).Info("CLAT stopped")
}
