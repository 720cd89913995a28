//go:build linux

package afpacket

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// A hand-over moves open sockets to another process (an upgrade), which
// keeps receiving where this one stopped: frames that arrived meanwhile
// wait in the socket, and a ring's reader position goes with it, since the
// kernel fills blocks in order and the reader must look at the next one.

// SocketState is what a process adopting a socket needs besides its
// descriptor.
type SocketState struct {
	Ring      bool `json:"ring"`
	BlockSize int  `json:"block_size,omitempty"`
	Blocks    int  `json:"blocks,omitempty"`
	Cur       int  `json:"cur,omitempty"` // next ring block to read
	Batch     int  `json:"batch"`
	Receiver  bool `json:"receiver"` // polled for frames (not a sender)
}

// Handover returns a duplicate of the socket's descriptor and its state.
// Call it while no goroutine uses the socket; the socket stays usable here
// (a failed hand-over resumes with it).
func (s *Socket) Handover() (*os.File, SocketState, error) {
	if s.FrameRing() {
		// Its reader position is a frame, not a block: not carried.
		return nil, SocketState{}, errors.New("afpacket: a TPACKET_V2 frame ring cannot be handed over")
	}
	fd, err := unix.FcntlInt(uintptr(s.fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, SocketState{}, fmt.Errorf("afpacket: dup: %w", err)
	}
	st := SocketState{Ring: s.ring != nil, BlockSize: s.blockSize, Blocks: s.blocks, Cur: s.cur,
		Batch: len(s.txMsgs), Receiver: s.ring != nil || s.rxMsgs != nil}
	return os.NewFile(uintptr(fd), "afpacket"), st, nil
}

// Adopt makes a Socket of a descriptor another process handed over; it
// takes ownership of f. The descriptor must be an AF_PACKET socket, with a
// TPACKET_V3 ring of the stated geometry when st.Ring is set.
func Adopt(f *os.File, st SocketState) (*Socket, error) {
	fd, err := unix.FcntlInt(f.Fd(), unix.F_DUPFD_CLOEXEC, 0)
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("afpacket: adopt: %w", err)
	}
	fail := func(err error) (*Socket, error) {
		unix.Close(fd)
		return nil, fmt.Errorf("afpacket: adopt: %w", err)
	}
	if dom, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_DOMAIN); err != nil || dom != unix.AF_PACKET {
		return fail(errors.New("not an AF_PACKET socket"))
	}
	if st.Batch <= 0 || st.Batch > 1024 {
		return fail(fmt.Errorf("batch %d out of range", st.Batch))
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		return fail(fmt.Errorf("non-blocking: %w", err))
	}
	s, err := socketFromFD(fd, "adopted")
	if err != nil {
		return nil, fmt.Errorf("afpacket: adopt: %w", err) // fd closed with the file
	}
	fail = func(err error) (*Socket, error) {
		s.Close()
		return nil, fmt.Errorf("afpacket: adopt: %w", err)
	}
	s.initTX(st.Batch)
	if v, err := unix.GetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_VNET_HDR); err == nil && v != 0 {
		s.vnetHdr = true
	}
	if !st.Ring {
		if st.Receiver {
			s.initRX(st.Batch)
		}
		return s, nil
	}
	if v, err := unix.GetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_VERSION); err != nil || v != unix.TPACKET_V3 {
		return fail(errors.New("no TPACKET_V3 ring"))
	}
	if st.BlockSize <= 0 || st.Blocks <= 0 || st.BlockSize%os.Getpagesize() != 0 || st.Blocks > 1<<16 ||
		st.BlockSize > 1<<30/st.Blocks || st.Cur < 0 || st.Cur >= st.Blocks {
		return fail(fmt.Errorf("ring geometry %d x %d, block %d", st.Blocks, st.BlockSize, st.Cur))
	}
	// The same ring, mapped again: the kernel refuses a size other than
	// the ring's.
	ring, err := unix.Mmap(fd, 0, st.BlockSize*st.Blocks, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE)
	if err != nil {
		return fail(fmt.Errorf("mmap: %w", err))
	}
	s.ring, s.blockSize, s.blocks, s.cur = ring, st.BlockSize, st.Blocks, st.Cur
	return s, nil
}

// GroupState describes a Group for a process adopting its sockets.
type GroupState struct {
	Interface string        `json:"interface"`
	Index     int           `json:"index"`
	Fallback  string        `json:"fallback,omitempty"`
	Sockets   []SocketState `json:"sockets"`
}

// Handover returns duplicates of the group's descriptors and its state.
func (g *Group) Handover() ([]*os.File, GroupState, error) {
	st := GroupState{Interface: g.Interface, Index: g.Index}
	if g.Fallback != nil {
		st.Fallback = g.Fallback.Error()
	}
	var files []*os.File
	for _, s := range g.sockets {
		f, ss, err := s.Handover()
		if err != nil {
			for _, f := range files {
				f.Close()
			}
			return nil, st, err
		}
		files = append(files, f)
		st.Sockets = append(st.Sockets, ss)
	}
	return files, st, nil
}

// AdoptGroup makes a Group of the sockets another process handed over;
// it takes ownership of files, one per st.Sockets.
func AdoptGroup(files []*os.File, st GroupState) (*Group, error) {
	if len(files) != len(st.Sockets) || len(files) == 0 {
		for _, f := range files {
			f.Close()
		}
		return nil, fmt.Errorf("afpacket: adopt %s: %d descriptors for %d sockets", st.Interface, len(files), len(st.Sockets))
	}
	g := &Group{Interface: st.Interface, Index: st.Index}
	if st.Fallback != "" {
		g.Fallback = errors.New(st.Fallback)
	}
	for i, f := range files {
		s, err := Adopt(f, st.Sockets[i])
		if err != nil {
			for _, f := range files[i+1:] {
				f.Close()
			}
			g.Close()
			return nil, fmt.Errorf("afpacket: adopt %s: %w", st.Interface, err)
		}
		g.sockets = append(g.sockets, s)
	}
	return g, nil
}
