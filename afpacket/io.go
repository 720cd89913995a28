//go:build linux

package afpacket

import (
	"errors"
	"os"
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

// A TPACKET_V2 frame starts with struct tpacket2_hdr (32 bytes), then a
// struct sockaddr_ll:
//
//	tp_status u32 | tp_len u32 | tp_snaplen u32 | tp_mac u16 | tp_net u16 | ...
const (
	frame2Len      = 4
	frame2Snaplen  = 8
	frame2MAC      = 12
	frame2PktType  = unix.SizeofTpacket2Hdr + 10
	frame2MACMax   = 128 // tp_mac is at most this for an Ethernet frame
	frame2MaxBatch = 64  // frames passed between two batch calls
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
	switch {
	case s.frameSize > 0:
		return s.receiveFrames(timeout, fn)
	case s.ring != nil:
		return s.receiveRing(timeout, fn)
	}
	return s.receiveMmsg(timeout, fn)
}

// frame2 is frame i of a TPACKET_V2 ring.
func (s *Socket) frame2(i int) []byte {
	off := i/s.perBlock*s.blockSize + i%s.perBlock*s.frameSize
	return s.ring[off : off+s.frameSize]
}

func frame2Status(f []byte) *uint32 { return (*uint32)(unsafe.Pointer(&f[0])) }

// frameReady reports whether the next frame of a TPACKET_V2 ring is the
// process's.
func (s *Socket) frameReady() bool {
	return atomic.LoadUint32(frame2Status(s.frame2(s.cur)))&unix.TP_STATUS_USER != 0
}

// readFrames passes up to most ready frames of a TPACKET_V2 ring to fn,
// handing each back, and returns how many it passed and how many it
// looked at.
func (s *Socket) readFrames(fn func([]byte), most int) (passed, seen int) {
	for ; seen < most; seen++ {
		f := s.frame2(s.cur)
		status := frame2Status(f)
		if atomic.LoadUint32(status)&unix.TP_STATUS_USER == 0 {
			break
		}
		snap, full, mac := int(u32(f, frame2Snaplen)), int(u32(f, frame2Len)), int(u16(f, frame2MAC))
		switch {
		case f[frame2PktType] == unix.PACKET_OUTGOING:
		case snap < full || mac+snap > len(f):
			s.stats.truncated.Add(1)
		default:
			fn(f[mac : mac+snap : mac+snap])
			passed++
		}
		atomic.StoreUint32(status, unix.TP_STATUS_KERNEL)
		s.cur = (s.cur + 1) % s.frames
	}
	s.stats.received.Add(uint64(passed))
	return passed, seen
}

// receiveFrames is Receive on a TPACKET_V2 ring.
func (s *Socket) receiveFrames(timeout time.Duration, fn func([]byte)) (int, error) {
	if !s.frameReady() {
		s.readyCalls, s.readyErr = 0, nil
		if err := s.wait(timeout, s.readyFn); err != nil {
			return 0, err
		}
		if s.readyErr != nil {
			return 0, s.readyErr
		}
	}
	n, _ := s.readFrames(fn, frame2MaxBatch)
	return n, nil
}

func (s *Socket) block(i int) []byte {
	return s.ring[i*s.blockSize : (i+1)*s.blockSize]
}

func blockStatusPtr(blk []byte) *uint32 { return (*uint32)(unsafe.Pointer(&blk[blockStatus])) }

func (s *Socket) receiveRing(timeout time.Duration, fn func([]byte)) (int, error) {
	if !s.blockReady() {
		s.readyCalls, s.readyErr = 0, nil
		if err := s.wait(timeout, s.readyFn); err != nil {
			return 0, err
		}
		if s.readyErr != nil {
			return 0, s.readyErr
		}
		if !s.blockReady() {
			return 0, nil
		}
	}
	return s.readBlock(fn), nil
}

// blockReady reports whether the ring's current block is the process's.
func (s *Socket) blockReady() bool {
	return atomic.LoadUint32(blockStatusPtr(s.block(s.cur)))&unix.TP_STATUS_USER != 0
}

// readBlock passes the frames of the current block, which must be
// ready, to fn, hands the block back and returns how many it passed.
func (s *Socket) readBlock(fn func([]byte)) int {
	blk := s.block(s.cur)
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
	atomic.StoreUint32(blockStatusPtr(blk), unix.TP_STATUS_KERNEL)
	s.cur = (s.cur + 1) % s.blocks
	s.stats.received.Add(uint64(n))
	return n
}

// ringReady tells the poller whether the ring's current block is the
// process's. Woken with none (the poller also wakes for an error), it
// reads the socket's pending error.
func (s *Socket) ringReady(uintptr) bool {
	if s.frameSize > 0 && s.frameReady() || s.frameSize == 0 && s.blockReady() {
		return true
	}
	s.readyCalls++
	if s.readyCalls > 1 {
		if s.readyErr = s.socketError(); s.readyErr != nil {
			return true
		}
	}
	return false
}

// wait calls ready until it reports true, parking the goroutine on the
// runtime's poller in between, for at most timeout (no limit when
// timeout <= 0). A timeout is not an error. The deadline is moved only
// when less than half of timeout is left, so a busy socket does not
// re-arm a runtime timer for every batch.
func (s *Socket) wait(timeout time.Duration, ready func(uintptr) bool) error {
	switch {
	case timeout > 0:
		now := time.Now()
		if s.rxDeadline.IsZero() || s.rxDeadline.Sub(now) < timeout/2 {
			s.rxDeadline = now.Add(timeout)
			if err := s.file.SetReadDeadline(s.rxDeadline); err != nil {
				return err
			}
		}
	case !s.rxDeadline.IsZero():
		s.rxDeadline = time.Time{}
		if err := s.file.SetReadDeadline(time.Time{}); err != nil {
			return err
		}
	}
	err := s.raw.Read(ready)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		// The deadline is spent; the next call sets a new one.
		s.rxDeadline = time.Time{}
		return nil
	}
	return err
}

// socketError reads the socket's pending error (the interface went away,
// for example).
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

// recvOnce is one recvmmsg for the poller: it reports false (wait for
// the socket to be readable) when nothing was there.
//
// The socket never blocks, so the call is raw: a system call entered
// through the scheduler (Syscall) wakes the runtime's monitor thread
// whenever the process was idle before it, and the monitor then polls
// every 20 µs for a while; with a batch of frames every few tens of
// microseconds that was a fifth of port mode's CPU.
func (s *Socket) recvOnce(fd uintptr) bool {
	for {
		got, _, errno := unix.RawSyscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&s.rxMsgs[0])),
			uintptr(len(s.rxMsgs)), unix.MSG_DONTWAIT, 0, 0)
		switch errno {
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return false
		}
		s.rxGot, s.rxErrno = int(got), errno
		return true
	}
}

func (s *Socket) receiveMmsg(timeout time.Duration, fn func([]byte)) (int, error) {
	s.resetRX()
	s.rxGot, s.rxErrno = 0, 0
	if err := s.wait(timeout, s.recvFn); err != nil {
		return 0, err
	}
	if s.rxErrno != 0 {
		return 0, s.rxErrno
	}
	return s.deliver(fn), nil
}

// resetRX readies the recvmmsg headers for a call.
func (s *Socket) resetRX() {
	for i := range s.rxMsgs {
		s.rxMsgs[i].Hdr.Namelen = unix.SizeofSockaddrLinklayer
		s.rxMsgs[i].Hdr.Flags = 0
	}
}

// deliver passes the rxGot frames recvmmsg returned to fn and returns how
// many it passed.
func (s *Socket) deliver(fn func([]byte)) int {
	n := 0
	for i := range s.rxGot {
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
	return n
}

// Serve receives batch after batch for timeout, calling frame for each
// frame and batch after each batch, and returns how many frames it
// passed. Unlike Receive, it goes back to waiting without returning, so
// a busy socket costs one recvmmsg (or none, with a ring) per wake-up and
// nothing more; timeout is when it returns even if frames keep coming, so
// that the caller can look around. A frame is only valid during its call.
func (s *Socket) Serve(timeout time.Duration, frame func([]byte), batch func()) (int, error) {
	s.srvFrame, s.srvBatch, s.srvN, s.srvErr, s.readyCalls = frame, batch, 0, nil, 0
	defer func() { s.srvFrame, s.srvBatch = nil, nil }()
	s.rxDeadline = time.Now().Add(timeout)
	if err := s.file.SetReadDeadline(s.rxDeadline); err != nil {
		return 0, err
	}
	err := s.raw.Read(s.serveFn)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		s.rxDeadline, err = time.Time{}, nil
	}
	if s.srvErr != nil {
		err = s.srvErr
	}
	return s.srvN, err
}

// serveOnce reads for Serve until the socket has nothing more, then
// reports false to wait for it; true ends Serve (an error). The poller's
// readiness is only reset when Serve starts, so a frame that arrives
// while a batch is being handled is never missed: the wait after it
// returns at once.
func (s *Socket) serveOnce(fd uintptr) bool {
	for {
		full := false
		if s.frameSize > 0 {
			passed, seen := s.readFrames(s.srvFrame, frame2MaxBatch)
			if seen == 0 {
				s.readyCalls++
				if s.readyCalls > 1 {
					if s.srvErr = s.socketError(); s.srvErr != nil {
						return true
					}
				}
				return false
			}
			s.readyCalls = 0
			s.srvN += passed
			full = seen == frame2MaxBatch
		} else if s.ring != nil {
			if !s.blockReady() {
				s.readyCalls++
				if s.readyCalls > 1 {
					if s.srvErr = s.socketError(); s.srvErr != nil {
						return true
					}
				}
				return false
			}
			s.readyCalls = 0
			s.srvN += s.readBlock(s.srvFrame)
			full = true // the next block may be ready too
		} else {
			s.resetRX()
			got, _, errno := unix.RawSyscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&s.rxMsgs[0])),
				uintptr(len(s.rxMsgs)), unix.MSG_DONTWAIT, 0, 0)
			switch errno {
			case 0:
			case unix.EINTR:
				continue
			case unix.EAGAIN:
				return false
			default:
				s.srvErr = errno
				return true
			}
			s.rxGot = int(got)
			s.srvN += s.deliver(s.srvFrame)
			// Less than a full batch emptied the queue: wait rather
			// than spend a call on finding it empty.
			full = s.rxGot == len(s.rxMsgs)
		}
		s.srvBatch()
		if !full {
			return false
		}
	}
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

// sendOnce sends what is left of the batch for the poller, reporting
// false (wait until writable) when the socket's send buffer is full. A
// raw system call, as in recvOnce: the socket never blocks.
func (s *Socket) sendOnce(fd uintptr) bool {
	for s.txSent < s.txN {
		n, _, errno := unix.RawSyscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&s.txMsgs[s.txSent])),
			uintptr(s.txN-s.txSent), 0, 0, 0)
		switch errno {
		case 0:
			s.txSent += int(n)
			s.stats.sent.Add(uint64(n))
		case unix.EINTR:
		case unix.EAGAIN:
			return false
		default:
			// The frame at txSent failed; skip it and go on with the rest.
			if s.txFirst == nil {
				s.txFirst = errno
			}
			s.stats.sendErrors.Add(1)
			s.txSent++
		}
	}
	return true
}

// Flush sends the queued frames with as few sendmmsg calls as the kernel
// allows and empties the batch. Frames the kernel refuses (a full device
// queue, the interface down) are counted and dropped, as a NIC would: the
// engine's TCP endpoints retransmit. It returns the first such error.
func (s *Socket) Flush() (int, error) {
	s.txSent, s.txFirst = 0, nil
	if err := s.raw.Write(s.sendFn); err != nil {
		// The socket was closed under the batch: what is left is lost.
		if s.txFirst == nil {
			s.txFirst = err
		}
		s.stats.sendErrors.Add(uint64(s.txN - s.txSent))
	}
	// Drop the references so the bodies can be collected.
	for i := range 2 * s.txN {
		s.txIov[i].Base = nil
	}
	sent := s.txSent
	s.txN = 0
	return sent, s.txFirst
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
		if s.ring != nil && s.frameSize == 0 {
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
