package clat

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"os"

	"golang.org/x/sys/unix"
)

// Receiver reads the IPv6 packets addressed to one address as they
// arrive on one interface, whether or not the host owns that address: an
// AF_PACKET socket of type SOCK_DGRAM (no link-layer header) with a
// classic BPF filter on the destination address. Packets the host sends
// are not seen (PACKET_IGNORE_OUTGOING).
type Receiver struct {
	f *os.File
}

// ipv6DstFilter accepts IPv6 packets whose destination is dst. Offsets
// are from the IPv6 header, where a SOCK_DGRAM packet socket starts.
func ipv6DstFilter(dst netip.Addr) []unix.SockFilter {
	a := dst.As16()
	w := func(i int) uint32 { return binary.BigEndian.Uint32(a[4*i:]) }
	const (
		ldW  = unix.BPF_LD | unix.BPF_W | unix.BPF_ABS
		jeqK = unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K
		retK = unix.BPF_RET | unix.BPF_K
	)
	return []unix.SockFilter{
		{Code: ldW, K: 24},
		{Code: jeqK, Jt: 0, Jf: 7, K: w(0)},
		{Code: ldW, K: 28},
		{Code: jeqK, Jt: 0, Jf: 5, K: w(1)},
		{Code: ldW, K: 32},
		{Code: jeqK, Jt: 0, Jf: 3, K: w(2)},
		{Code: ldW, K: 36},
		{Code: jeqK, Jt: 0, Jf: 1, K: w(3)},
		{Code: retK, K: 0x40000},
		{Code: retK, K: 0},
	}
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// ListenFor opens a Receiver for the packets to dst on interface ifindex.
func ListenFor(ifindex int, dst netip.Addr) (*Receiver, error) {
	// Protocol 0 receives nothing until bind, so nothing unfiltered is
	// queued before the filter is in place.
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("AF_PACKET socket: %w", err)
	}
	prog := ipv6DstFilter(dst)
	if err := unix.SetsockoptSockFprog(fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("AF_PACKET filter: %w", err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_IGNORE_OUTGOING, 1); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("PACKET_IGNORE_OUTGOING: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_IPV6), Ifindex: ifindex}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("AF_PACKET bind to ifindex %d: %w", ifindex, err)
	}
	return &Receiver{f: os.NewFile(uintptr(fd), "packet")}, nil
}

// Read reads one IPv6 packet into b.
func (r *Receiver) Read(b []byte) (int, error) { return r.f.Read(b) }

// Close closes the socket, interrupting a blocked Read.
func (r *Receiver) Close() error { return r.f.Close() }

// Sender sends complete IPv6 packets, header included, through the
// host's routing table and neighbor cache (a raw socket of protocol
// IPPROTO_RAW, bound to the uplink). The kernel does not require the
// source address to be one of the host's.
type Sender struct {
	fd int
	sa unix.SockaddrInet6
}

// NewSender opens a Sender bound to the interface named dev.
func NewSender(dev string) (*Sender, error) {
	fd, err := unix.Socket(unix.AF_INET6, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.IPPROTO_RAW)
	if err != nil {
		return nil, fmt.Errorf("raw IPv6 socket: %w", err)
	}
	if err := unix.BindToDevice(fd, dev); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("raw IPv6 socket: bind to %s: %w", dev, err)
	}
	return &Sender{fd: fd}, nil
}

// Send sends pkt, a whole IPv6 packet, to dst. It is not safe for
// concurrent use.
func (s *Sender) Send(pkt []byte, dst netip.Addr) error {
	s.sa.Addr = dst.As16()
	return unix.Sendto(s.fd, pkt, 0, &s.sa)
}

// Close closes the socket.
func (s *Sender) Close() error { return unix.Close(s.fd) }
