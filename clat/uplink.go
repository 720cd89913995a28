package clat

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"os"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Receiver reads the IPv6 packets addressed to one address as they
// arrive on one interface, whether or not the host owns that address: an
// AF_PACKET socket of type SOCK_DGRAM (no link-layer header) with a
// classic BPF filter on the destination address. Packets the host sends
// are not seen (PACKET_IGNORE_OUTGOING). Packets whose transport
// checksum the kernel left unfinished (merged by GRO) have it completed.
type Receiver struct {
	f  *os.File
	rc syscall.RawConn

	// The recvmsg arguments, kept here so that a read allocates
	// nothing; Read is not safe for concurrent use.
	msg    unix.Msghdr
	iov    unix.Iovec
	oob    [64]byte
	n      int
	errno  syscall.Errno
	readFn func(fd uintptr) bool
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

// rcvBuf is the packet socket's receive buffer.
const rcvBuf = 4 << 20

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
	// Room for bursts: a TCP window's worth of segments arrives faster
	// than one goroutine translates it, and what overflows is lost.
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, rcvBuf); err != nil {
		unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, rcvBuf)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_IGNORE_OUTGOING, 1); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("PACKET_IGNORE_OUTGOING: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_IPV6), Ifindex: ifindex}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("AF_PACKET bind to ifindex %d: %w", ifindex, err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_AUXDATA, 1); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("PACKET_AUXDATA: %w", err)
	}
	r := &Receiver{f: os.NewFile(uintptr(fd), "packet")}
	if r.rc, err = r.f.SyscallConn(); err != nil {
		r.f.Close()
		return nil, fmt.Errorf("AF_PACKET socket: %w", err)
	}
	r.readFn = r.recvmsg
	return r, nil
}

// recvmsg is the read step for the runtime's poller: false asks it to
// wait until the socket is readable.
func (r *Receiver) recvmsg(fd uintptr) bool {
	n, _, errno := unix.Syscall(unix.SYS_RECVMSG, fd, uintptr(unsafe.Pointer(&r.msg)), 0)
	if errno == unix.EAGAIN || errno == unix.EINTR {
		return false
	}
	r.n, r.errno = int(n), errno
	return true
}

// Read reads one IPv6 packet into b.
func (r *Receiver) Read(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	r.iov.Base = &b[0]
	r.iov.SetLen(len(b))
	r.msg.Iov = &r.iov
	r.msg.SetIovlen(1)
	r.msg.Control = &r.oob[0]
	r.msg.SetControllen(len(r.oob))
	if err := r.rc.Read(r.readFn); err != nil {
		return 0, err
	}
	if r.errno != 0 {
		return 0, r.errno
	}
	n := min(r.n, len(b))
	if auxStatus(r.oob[:r.msg.Controllen])&unix.TP_STATUS_CSUMNOTREADY != 0 {
		completeChecksum(b[:n])
	}
	return n, nil
}

// auxStatus returns tp_status from the PACKET_AUXDATA control message
// in oob (struct tpacket_auxdata starts with it), 0 when there is none.
// The headers are read field by field: oob need not be aligned.
func auxStatus(oob []byte) uint32 {
	const hdr = unix.SizeofCmsghdr
	for len(oob) >= hdr {
		var l int
		var level, typ int32
		if hdr == 16 { // 64-bit: len is a size_t
			l = int(binary.NativeEndian.Uint64(oob[0:8]))
			level, typ = int32(binary.NativeEndian.Uint32(oob[8:12])), int32(binary.NativeEndian.Uint32(oob[12:16]))
		} else {
			l = int(binary.NativeEndian.Uint32(oob[0:4]))
			level, typ = int32(binary.NativeEndian.Uint32(oob[4:8])), int32(binary.NativeEndian.Uint32(oob[8:12]))
		}
		if l < hdr || l > len(oob) {
			return 0
		}
		if level == unix.SOL_PACKET && typ == unix.PACKET_AUXDATA && l >= hdr+4 {
			return binary.NativeEndian.Uint32(oob[hdr:])
		}
		oob = oob[min(unix.CmsgSpace(l-hdr), len(oob)):]
	}
	return 0
}

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
