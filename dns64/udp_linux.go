package dns64

import (
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// udpReader serves one UDP socket on a specific address. It reads the
// queries waiting a batch at a time (recvmmsg), answers at once those it
// can (from the cache of packed replies, or with an error) and sends those
// replies as one batch (sendmmsg), until the socket is empty; only then
// does its goroutine wait on the runtime's poller. The calls are raw
// system calls on a socket that never blocks: going through the
// scheduler for each (as x/net's ReadBatch and WriteBatch do) wakes the
// runtime's monitor thread, and waiting on the poller after every batch
// costs a park and a wake-up, which together were most of the process's
// time under load.
type udpReader struct {
	r       *Resolver
	pc      *net.UDPConn
	raw     syscall.RawConn
	pending chan struct{}

	rx      []unix.Mmsghdr
	rxIov   []unix.Iovec
	rxBufs  [][]byte
	rxNames []unix.RawSockaddrInet6 // large enough for either family

	tx      []unix.Mmsghdr
	txIov   []unix.Iovec
	txBufs  [][]byte
	txNames []unix.RawSockaddrInet6
	txN     int // replies queued in tx
	txSent  int // of which sent

	err    error // the socket's error that ended a read
	readFn func(uintptr) bool
	sendFn func(uintptr) bool
}

func newUDPReader(pc *net.UDPConn, r *Resolver, pending chan struct{}) (*udpReader, error) {
	raw, err := pc.SyscallConn()
	if err != nil {
		return nil, err
	}
	u := &udpReader{r: r, pc: pc, raw: raw, pending: pending,
		rx: make([]unix.Mmsghdr, batchSize), rxIov: make([]unix.Iovec, batchSize), rxBufs: make([][]byte, batchSize), rxNames: make([]unix.RawSockaddrInet6, batchSize),
		tx: make([]unix.Mmsghdr, batchSize), txIov: make([]unix.Iovec, batchSize), txBufs: make([][]byte, batchSize), txNames: make([]unix.RawSockaddrInet6, batchSize),
	}
	for i := range batchSize {
		u.rxBufs[i] = make([]byte, maxQuery)
		setIov(&u.rxIov[i], u.rxBufs[i])
		u.rx[i].Hdr.Iov = &u.rxIov[i]
		u.rx[i].Hdr.SetIovlen(1)
		u.rx[i].Hdr.Name = (*byte)(unsafe.Pointer(&u.rxNames[i]))
		// A UDP reply is at most bufferSize bytes; a larger one (a
		// reply packed before it was truncated) gets its own buffer.
		u.txBufs[i] = make([]byte, 0, bufferSize)
		u.tx[i].Hdr.Iov = &u.txIov[i]
		u.tx[i].Hdr.SetIovlen(1)
		u.tx[i].Hdr.Name = (*byte)(unsafe.Pointer(&u.txNames[i]))
	}
	u.readFn, u.sendFn = u.readOnce, u.sendOnce
	return u, nil
}

func setIov(v *unix.Iovec, b []byte) {
	v.Base = unsafe.SliceData(b)
	v.SetLen(len(b))
}

// serve reads queries until the socket is closed.
func (u *udpReader) serve() {
	for {
		u.err = nil
		err := u.raw.Read(u.readFn)
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil || u.err != nil {
			// A socket error that does not go away must not spin a
			// core: try again a little later.
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// readOnce reads and answers batches until the socket is empty, then
// reports false (wait until it is readable); true ends the read, on an
// error. The poller's readiness is only reset when a read starts, so a
// query that arrives while a batch is answered is never missed: the wait
// after it returns at once.
func (u *udpReader) readOnce(fd uintptr) bool {
	for {
		for i := range u.rx {
			u.rx[i].Hdr.Namelen = unix.SizeofSockaddrInet6
			u.rx[i].Hdr.Flags = 0
		}
		got, _, errno := unix.RawSyscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&u.rx[0])), uintptr(len(u.rx)), unix.MSG_DONTWAIT, 0, 0)
		switch errno {
		case 0:
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return false
		default:
			u.err = errno
			return true
		}
		u.answer(int(got))
		if !u.sendOnce(fd) {
			// The send buffer is full (rare on UDP): wait until it
			// has room rather than lose the replies.
			if err := u.raw.Write(u.sendFn); err != nil {
				u.txN, u.txSent = 0, 0
			}
		}
		// Less than a full batch emptied the queue: wait rather than
		// spend a call on finding it empty.
		if int(got) < len(u.rx) {
			return false
		}
	}
}

// answer answers the n datagrams read, queuing the replies that are
// ready in tx.
func (u *udpReader) answer(n int) {
	cfg := u.r.cfg.Load()
	now := time.Now()
	u.txN, u.txSent = 0, 0
	for i := range n {
		m := &u.rx[i]
		if m.Hdr.Flags&unix.MSG_TRUNC != 0 {
			continue // larger than any query
		}
		from, ok := addrPortOf(&u.rxNames[i])
		if !ok {
			continue
		}
		k := u.txN
		reply, later := u.r.serveDatagram(u.rxBufs[i][:m.Len], from.Addr(), cfg, now, u.txBufs[k][:0])
		if later != nil {
			u.resolveLater(later, u.rxNames[i], m.Hdr.Namelen, cfg)
			continue
		}
		if len(reply) == 0 {
			continue
		}
		u.txBufs[k] = reply
		setIov(&u.txIov[k], reply)
		u.txNames[k] = u.rxNames[i]
		u.tx[k].Hdr.Namelen = m.Hdr.Namelen
		u.txN++
	}
}

// sendOnce sends what is left of tx; false when the socket's send buffer
// is full.
func (u *udpReader) sendOnce(fd uintptr) bool {
	for u.txSent < u.txN {
		n, _, errno := unix.RawSyscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&u.tx[u.txSent])), uintptr(u.txN-u.txSent), unix.MSG_DONTWAIT, 0, 0)
		switch errno {
		case 0:
			u.txSent += int(n)
		case unix.EINTR:
		case unix.EAGAIN:
			return false
		default:
			// This reply cannot go (its destination refused by a
			// firewall, say): the next ones still can.
			u.txSent++
		}
	}
	return true
}

// resolveLater hands a query that must wait on the upstreams to a
// goroutine of its own, at most maxPending at once per address; the reply
// goes to the address the query came from, scope included.
func (u *udpReader) resolveLater(q *laterQuery, to unix.RawSockaddrInet6, tolen uint32, cfg *Config) {
	select {
	case u.pending <- struct{}{}:
	default:
		u.r.metrics.dropped.Inc()
		return
	}
	go func() {
		defer func() { <-u.pending }()
		b := pack(u.r, u.r.resolve(q.req, false), nil, q.keep, cfg, time.Now())
		if len(b) == 0 {
			return
		}
		_ = u.raw.Write(func(fd uintptr) bool {
			_, _, errno := unix.Syscall6(unix.SYS_SENDTO, fd, uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)), unix.MSG_DONTWAIT,
				uintptr(unsafe.Pointer(&to)), uintptr(tolen))
			return errno != unix.EAGAIN
		})
	}()
}

// addrPortOf reads a socket address the kernel filled in.
func addrPortOf(sa *unix.RawSockaddrInet6) (netip.AddrPort, bool) {
	port := binary.BigEndian.Uint16((*[2]byte)(unsafe.Pointer(&sa.Port))[:])
	switch sa.Family {
	case unix.AF_INET:
		sa4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		return netip.AddrPortFrom(netip.AddrFrom4(sa4.Addr), port), true
	case unix.AF_INET6:
		return netip.AddrPortFrom(netip.AddrFrom16(sa.Addr), port), true
	}
	return netip.AddrPort{}, false
}
