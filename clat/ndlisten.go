package clat

import (
	"fmt"
	"net"
	"net/netip"
	"os"

	"github.com/mdlayher/ndp"
	"golang.org/x/sys/unix"
)

// UserOptListener receives the ND user options the kernel passes on
// from the router advertisements it accepts (RTNLGRP_ND_USEROPT), and
// the changes of state of the interfaces (RTNLGRP_LINK). The kernel
// hands the options over only for an interface that accepts router
// advertisements (accept_ra=1, or 2 with forwarding on).
type UserOptListener struct {
	f   *os.File
	buf []byte
}

// ListenUserOpts subscribes to RTNLGRP_ND_USEROPT and RTNLGRP_LINK.
func ListenUserOpts() (*UserOptListener, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("netlink socket: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: 1<<(rtnlgrpNDUserOpt-1) | 1<<(rtnlgrpLink-1)}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("netlink bind to RTNLGRP_ND_USEROPT: %w", err)
	}
	return &UserOptListener{f: os.NewFile(uintptr(fd), "netlink"), buf: make([]byte, 1<<16)}, nil
}

// Read waits for the next datagram from the kernel and decodes the user
// option and link messages in it. The options alias a buffer that the
// next Read reuses.
func (l *UserOptListener) Read() ([]UserOpt, []LinkEvent, error) {
	n, err := l.f.Read(l.buf)
	if err != nil {
		return nil, nil, err
	}
	return ParseNetlink(l.buf[:n])
}

// Close closes the socket, interrupting a blocked Read.
func (l *UserOptListener) Close() error { return l.f.Close() }

// solicitRouters sends one router solicitation on ifi, so that routers
// answer with an advertisement now rather than at their next periodic
// one: the kernel passes options to user space only as advertisements
// arrive, and one received before start is not repeated.
func solicitRouters(ifi *net.Interface) error {
	c, _, err := ndp.Listen(ifi, ndp.LinkLocal)
	if err != nil {
		return fmt.Errorf("router solicitation on %s: %w", ifi.Name, err)
	}
	defer c.Close()
	rs := &ndp.RouterSolicitation{}
	if len(ifi.HardwareAddr) > 0 {
		rs.Options = []ndp.Option{&ndp.LinkLayerAddress{Direction: ndp.Source, Addr: ifi.HardwareAddr}}
	}
	if err := c.WriteTo(rs, nil, netip.MustParseAddr("ff02::2")); err != nil {
		return fmt.Errorf("router solicitation on %s: %w", ifi.Name, err)
	}
	return nil
}
