//go:build linux

package afpacket

import (
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Offsets in the ring, from linux/if_packet.h. A block starts with
// struct tpacket_block_desc; each frame with struct tpacket3_hdr, followed
// by a struct sockaddr_ll at TPACKET_ALIGN(sizeof(struct tpacket3_hdr)).
//
//	block: version u32 | offset_to_priv u32 | block_status u32 |
//	       num_pkts u32 | offset_to_first_pkt u32 | blk_len u32 | ...
//	frame: tp_next_offset u32 | tp_sec u32 | tp_nsec u32 | tp_snaplen u32 |
//	       tp_len u32 | tp_status u32 | tp_mac u16 | tp_net u16 | ... (48)
//	       sockaddr_ll: family u16 | protocol u16 | ifindex i32 |
//	       hatype u16 | pkttype u8 | ...
const (
	blockStatus     = 8
	blockNumPkts    = 12
	blockFirstFrame = 16

	frameNext    = 0
	frameSnaplen = 12
	frameLen     = 16
	frameMAC     = 24
	framePktType = unix.SizeofTpacket3Hdr + 10
)

// u32 reads a native-endian field the kernel wrote into the ring.
func u32(b []byte, off int) uint32 { return *(*uint32)(unsafe.Pointer(&b[off])) }

func u16(b []byte, off int) uint16 { return *(*uint16)(unsafe.Pointer(&b[off])) }

// Receive waits up to timeout for frames and calls fn with each, then
// returns how many it passed. A frame is only valid during its call: it
// lives in the ring or in a buffer that the next Receive reuses. Frames
// cut short (larger than the buffers) and frames the socket sent itself
// are skipped. A timeout is not an error: it returns 0, nil.
func (s *Socket) Receive(timeout time.Duration, fn func(frame []byte)) (int, error) {
	if s.ring != nil {
		return s.receiveRing(timeout, fn)
	}
	return s.receiveMmsg(timeout, fn)
}

func (s *Socket) block(i int) []byte {
	return s.ring[i*s.blockSize : (i+1)*s.blockSize]
}

func blockStatusPtr(blk []byte) *uint32 { return (*uint32)(unsafe.Pointer(&blk[blockStatus])) }

func (s *Socket) receiveRing(timeout time.Duration, fn func([]byte)) (int, error) {
	blk := s.block(s.cur)
	status := blockStatusPtr(blk)
	if atomic.LoadUint32(status)&unix.TP_STATUS_USER == 0 {
		if err := s.wait(timeout); err != nil {
			return 0, err
		}
		if atomic.LoadUint32(status)&unix.TP_STATUS_USER == 0 {
			return 0, nil
		}
	}
	n := 0
	num := int(u32(blk, blockNumPkts))
	off := int(u32(blk, blockFirstFrame))
	for i := 0; i < num && off > 0 && off < len(blk); i++ {
		f := blk[off:]
		snap, full := int(u32(f, frameSnaplen)), int(u32(f, frameLen))
		mac := int(u16(f, frameMAC))
		switch {
		case f[framePktType] == unix.PACKET_OUTGOING:
		case snap < full || mac+snap > len(f):
			s.stats.truncated.Add(1)
		default:
			fn(f[mac : mac+snap : mac+snap])
			n++
		}
		off += int(u32(f, frameNext))
	}
	// Hand the block back; the kernel fills blocks in order, so the next
	// one to read is the next in the ring.
	atomic.StoreUint32(status, unix.TP_STATUS_KERNEL)
	s.cur = (s.cur + 1) % s.blocks
	s.stats.received.Add(uint64(n))
	return n, nil
}

// wait polls the socket until it is readable or timeout passes.
func (s *Socket) wait(timeout time.Duration) error {
	ms := int(timeout.Milliseconds())
	if ms < 1 && timeout > 0 {
		ms = 1
	}
	for {
		_, err := unix.Poll(s.poll, ms)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		if s.poll[0].Revents&(unix.POLLERR|unix.POLLNVAL) != 0 {
			return s.socketError()
		}
		return nil
	}
}

// socketError reads the pending error that made poll report POLLERR (the
// interface went away, for example).
func (s *Socket) socketError() error {
	v, err := unix.GetsockoptInt(s.fd, unix.SOL_SOCKET, unix.SO_ERROR)
	if err != nil {
		return err
	}
	if v == 0 {
		return nil
	}
	return unix.Errno(v)
}

func (s *Socket) receiveMmsg(timeout time.Duration, fn func([]byte)) (int, error) {
	if err := s.wait(timeout); err != nil {
		return 0, err
	}
	for i := range s.rxMsgs {
		s.rxMsgs[i].Hdr.Namelen = unix.SizeofSockaddrLinklayer
		s.rxMsgs[i].Hdr.Flags = 0
	}
	got, _, errno := unix.Syscall6(unix.SYS_RECVMMSG, uintptr(s.fd), uintptr(unsafe.Pointer(&s.rxMsgs[0])),
		uintptr(len(s.rxMsgs)), unix.MSG_DONTWAIT, 0, 0)
	switch errno {
	case 0:
	case unix.EAGAIN, unix.EINTR:
		return 0, nil
	default:
		return 0, errno
	}
	n := 0
	for i := range int(got) {
		m := &s.rxMsgs[i]
		switch {
		case s.rxAddrs[i].Pkttype == unix.PACKET_OUTGOING:
		case m.Hdr.Flags&unix.MSG_TRUNC != 0:
			s.stats.truncated.Add(1)
		default:
			fn(s.rxBufs[i][:m.Len:m.Len])
			n++
		}
	}
	s.stats.received.Add(uint64(n))
	return n, nil
}

// Queue adds a frame made of head then body to the send batch and reports
// whether there was room; when there is not, Flush and queue again. Both
// slices must stay as they are until Flush returns.
func (s *Socket) Queue(head, body []byte) bool {
	if s.txN == len(s.txMsgs) {
		return false
	}
	iov := s.txIov[2*s.txN : 2*s.txN+2]
	setIov(&iov[0], head)
	setIov(&iov[1], body)
	s.txN++
	return true
}

func setIov(v *unix.Iovec, b []byte) {
	if len(b) == 0 {
		v.Base = nil
		v.SetLen(0)
		return
	}
	v.Base = &b[0]
	v.SetLen(len(b))
}

// Queued returns the number of frames waiting for Flush.
func (s *Socket) Queued() int { return s.txN }

// Flush sends the queued frames with as few sendmmsg calls as the kernel
// allows and empties the batch. Frames the kernel refuses (a full device
// queue, the interface down) are counted and dropped, as a NIC would: the
// engine's TCP endpoints retransmit. It returns the first such error.
func (s *Socket) Flush() (int, error) {
	sent := 0
	var first error
	for sent < s.txN {
		n, _, errno := unix.Syscall6(unix.SYS_SENDMMSG, uintptr(s.fd), uintptr(unsafe.Pointer(&s.txMsgs[sent])),
			uintptr(s.txN-sent), 0, 0, 0)
		switch {
		case errno == unix.EINTR:
			continue
		case errno != 0:
			// The frame at sent failed; skip it and go on with the rest.
			if first == nil {
				first = errno
			}
			s.stats.sendErrors.Add(1)
			sent++
		default:
			sent += int(n)
			s.stats.sent.Add(uint64(n))
		}
	}
	// Drop the references so the bodies can be collected.
	for i := range 2 * s.txN {
		s.txIov[i].Base = nil
	}
	s.txN = 0
	return sent, first
}

// Stats are a socket's counters since it was opened.
type Stats struct {
	Received   uint64 // frames passed to Receive's callback
	Sent       uint64 // frames the kernel accepted
	Truncated  uint64 // frames larger than the buffers, skipped
	SendErrors uint64 // frames the kernel refused
	// From PACKET_STATISTICS: frames the kernel queued to the socket,
	// frames it dropped because the ring or buffer was full, and (ring
	// only) how often the ring was found full.
	KernelPackets uint64
	KernelDrops   uint64
	RingFull      uint64
}

// Stats returns the socket's counters. The kernel resets its own on every
// read, so they are accumulated here. Safe from any goroutine.
func (s *Socket) Stats() Stats {
	if !s.closed.Load() {
		if s.ring != nil {
			if k, err := unix.GetsockoptTpacketStatsV3(s.fd, unix.SOL_PACKET, unix.PACKET_STATISTICS); err == nil {
				s.stats.kernelPackets.Add(uint64(k.Packets))
				s.stats.kernelDrops.Add(uint64(k.Drops))
				s.stats.freezes.Add(uint64(k.Freeze_q_cnt))
			}
		} else if k, err := unix.GetsockoptTpacketStats(s.fd, unix.SOL_PACKET, unix.PACKET_STATISTICS); err == nil {
			s.stats.kernelPackets.Add(uint64(k.Packets))
			s.stats.kernelDrops.Add(uint64(k.Drops))
		}
	}
	return Stats{
		Received: s.stats.received.Load(), Sent: s.stats.sent.Load(),
		Truncated: s.stats.truncated.Load(), SendErrors: s.stats.sendErrors.Load(),
		KernelPackets: s.stats.kernelPackets.Load(), KernelDrops: s.stats.kernelDrops.Load(),
		RingFull: s.stats.freezes.Load(),
	}
}
