//go:build linux

package afpacket

import (
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// Defaults for Config's zero values.
const (
	// DefaultBlockSize holds about 128 full-sized frames: a block is the
	// unit the kernel hands over, so it bounds the work done per wakeup.
	DefaultBlockSize = 256 << 10
	// DefaultBlocks gives each socket 4 MiB of ring, a few milliseconds
	// of a 10 Gb/s link, to ride out a scheduling delay.
	DefaultBlocks = 16
	// DefaultRetire is how long the kernel keeps a block that is not full
	// before handing it over anyway. It is the latency a lone frame can
	// see; 1 ms is the smallest the interface takes.
	DefaultRetire = time.Millisecond
	// DefaultBatch is how many frames one recvmmsg or sendmmsg call moves.
	DefaultBatch = 64
	// frameSize is the largest frame taken whole, VLAN tags and jumbo
	// frames included; the ring's frame size only has to divide a block.
	frameSize = 9216
	// superFrameSize is the largest frame of a socket with VnetHdr: the
	// header, then a GRO super-packet of up to 64 KB behind an Ethernet
	// header and a VLAN tag.
	superFrameSize = vnetHdrLen + 18 + 0x10000 + 64
	vnetHdrLen     = 10
	// superRcvBuf is the receive buffer of a socket with VnetHdr: the
	// default (about 200 KB) holds three super-packets.
	superRcvBuf = 8 << 20
)

// Config describes the sockets of a Group.
type Config struct {
	Interface string
	// Sockets is the size of the fanout group; 0 means one per usable
	// CPU (GOMAXPROCS).
	Sockets int
	// BlockSize (bytes, a multiple of the page size) and Blocks shape each
	// socket's receive ring; Retire is the block timeout.
	BlockSize int
	Blocks    int
	Retire    time.Duration
	// Batch is the number of frames per recvmmsg and sendmmsg call.
	Batch int
	// NoRing skips the ring and uses recvmmsg, as the fallback does; for
	// tests and for comparing them.
	NoRing bool
	// FrameRing makes the ring a TPACKET_V2 one: the kernel hands over
	// each frame as soon as it is written, instead of a block when it is
	// full or Retire has passed. Reading costs no system call and no
	// copy in the process, and adds no latency; frames longer than the
	// ring's frame (the interface's MTU when the socket opens, plus
	// headers) are cut short and skipped.
	FrameRing bool
	// Promiscuous puts the interface in promiscuous mode for as long as
	// the sockets are open. Frames steered to the interface by a switch
	// carry someone else's destination MAC, which a NIC would filter out.
	Promiscuous bool
	// Steering, when set, spreads frames over the sockets by client
	// (ClientSteering) instead of by the kernel's flow hash.
	Steering *ClientSteering
	// VnetHdr sets PACKET_VNET_HDR: every frame received and sent starts
	// with a struct virtio_net_hdr, so that GRO super-packets arrive
	// whole and super-packets can be sent for the kernel to segment. It
	// implies NoRing (the ring's frames are too small for them).
	VnetHdr bool
}

func (c *Config) setDefaults() {
	if c.Sockets <= 0 {
		c.Sockets = runtime.GOMAXPROCS(0)
	}
	if c.BlockSize <= 0 {
		c.BlockSize = DefaultBlockSize
	}
	if c.Blocks <= 0 {
		c.Blocks = DefaultBlocks
	}
	if c.Retire <= 0 {
		c.Retire = DefaultRetire
	}
	if c.Batch <= 0 {
		c.Batch = DefaultBatch
	}
}

// Group is a fanout group of sockets on one interface.
type Group struct {
	Interface string
	Index     int // interface index
	sockets   []*Socket
	// Fallback says why the sockets use recvmmsg rather than a ring; nil
	// when they use rings.
	Fallback error
}

// Open opens cfg.Sockets sockets on cfg.Interface and joins them in one
// fanout group. If the first socket cannot get a ring, every socket uses
// recvmmsg and Group.Fallback says why.
func Open(cfg Config) (*Group, error) {
	cfg.setDefaults()
	ifi, err := net.InterfaceByName(cfg.Interface)
	if err != nil {
		return nil, fmt.Errorf("afpacket: %w", err)
	}
	g := &Group{Interface: cfg.Interface, Index: ifi.Index}
	if cfg.VnetHdr {
		cfg.NoRing = true
	}
	if cfg.NoRing {
		g.Fallback = errors.New("rings disabled by configuration")
	}
	mode := unix.PACKET_FANOUT_HASH
	var prog []bpf.RawInstruction
	if cfg.Steering != nil {
		if prog, err = cfg.Steering.Program(); err != nil {
			return nil, err
		}
		mode = unix.PACKET_FANOUT_CBPF
	}
	fanoutID := -1
	for i := 0; i < cfg.Sockets; i++ {
		s, err := openSocket(ifi.Index, cfg, g.Fallback == nil)
		if err != nil && g.Fallback == nil && i == 0 && errors.Is(err, errRing) {
			g.Fallback = err
			s, err = openSocket(ifi.Index, cfg, false)
		}
		if err != nil {
			g.Close()
			return nil, fmt.Errorf("afpacket: %s: %w", cfg.Interface, err)
		}
		g.sockets = append(g.sockets, s)
		if cfg.Promiscuous && i == 0 {
			mreq := unix.PacketMreq{Ifindex: int32(ifi.Index), Type: unix.PACKET_MR_PROMISC}
			if err := unix.SetsockoptPacketMreq(s.fd, unix.SOL_PACKET, unix.PACKET_ADD_MEMBERSHIP, &mreq); err != nil {
				g.Close()
				return nil, fmt.Errorf("afpacket: %s: promiscuous mode: %w", cfg.Interface, err)
			}
		}
		if fanoutID, err = s.joinFanout(mode, fanoutID); err != nil {
			g.Close()
			return nil, fmt.Errorf("afpacket: %s: fanout: %w", cfg.Interface, err)
		}
		if i == 0 && prog != nil {
			// The group's program, set through its first member; until
			// then everything goes to that member.
			if err := s.setFanoutProgram(prog); err != nil {
				g.Close()
				return nil, fmt.Errorf("afpacket: %s: fanout program: %w", cfg.Interface, err)
			}
		}
	}
	return g, nil
}

// Sockets returns the group's sockets; give each its own goroutine.
func (g *Group) Sockets() []*Socket { return g.sockets }

// Close closes every socket.
func (g *Group) Close() error {
	var errs []error
	for _, s := range g.sockets {
		errs = append(errs, s.Close())
	}
	return errors.Join(errs...)
}

// OpenSender opens a socket on iface that only sends: it is bound with
// protocol 0, so the kernel delivers it nothing. It suits a goroutine that
// sends now and then (timers) beside the workers that own the group.
func OpenSender(iface string, batch int) (*Socket, error) {
	ifi, err := net.InterfaceByName(iface)
	if err != nil {
		return nil, fmt.Errorf("afpacket: %w", err)
	}
	if batch <= 0 {
		batch = DefaultBatch
	}
	s, err := newSocket(iface)
	if err != nil {
		return nil, fmt.Errorf("afpacket: %w", err)
	}
	s.initTX(batch)
	if err := unix.Bind(s.fd, &unix.SockaddrLinklayer{Ifindex: ifi.Index}); err != nil {
		s.Close()
		return nil, fmt.Errorf("afpacket: bind %s: %w", iface, err)
	}
	return s, nil
}

// errRing marks failures to set up the ring, after which the socket can
// still work without one.
var errRing = errors.New("receive ring")

// Socket is one AF_PACKET socket. Receive and the sending methods must be
// called from one goroutine at a time, and Close only once that goroutine
// is done with the socket (the ring is unmapped); Stats from any.
//
// The socket is non-blocking and registered with the Go runtime's network
// poller through an *os.File (File), so a worker waiting for frames parks
// its goroutine instead of holding a thread in a system call: with every
// P of the runtime held by a thread blocked in poll, the runtime's monitor
// would wake every 20 µs to hand the P to a new thread, and that, not the
// packets, was most of port mode's CPU.
type Socket struct {
	fd   int
	file *os.File // owns fd
	raw  syscall.RawConn
	// rxDeadline is the read deadline set on file, zero for none.
	rxDeadline time.Time
	// recvFn, readyFn and sendFn are the methods given to raw, bound once
	// so that a call allocates no closure; rxGot, rxErrno, readyErr,
	// readyCalls and txSent, txFirst carry their results.
	recvFn, readyFn, sendFn, serveFn func(fd uintptr) bool
	rxGot                            int
	rxErrno                          syscall.Errno
	readyErr                         error
	readyCalls                       int
	txSent                           int
	txFirst                          error
	// Serve's callbacks and results, for serveFn.
	srvFrame func([]byte)
	srvBatch func()
	srvN     int
	srvErr   error

	// The ring, when there is one: TPACKET_V3 blocks, or with frameSize
	// set, TPACKET_V2 frames (perBlock to a block, frames in all).
	ring      []byte
	blockSize int
	blocks    int
	cur       int
	frameSize int
	perBlock  int
	frames    int

	// vnetHdr: PACKET_VNET_HDR is set (Config.VnetHdr).
	vnetHdr bool

	// recvmmsg buffers, when there is no ring.
	rxMsgs  []unix.Mmsghdr
	rxIov   []unix.Iovec
	rxBufs  [][]byte
	rxAddrs []unix.RawSockaddrLinklayer

	// sendmmsg batch: two iovecs per frame.
	txMsgs []unix.Mmsghdr
	txIov  []unix.Iovec
	txN    int

	closed atomic.Bool
	stats  struct {
		received, sent, truncated, sendErrors atomic.Uint64
		kernelPackets, kernelDrops            atomic.Uint64
		freezes                               atomic.Uint64
	}
}

// newSocket makes a non-blocking AF_PACKET socket, not yet bound, owned by
// an *os.File registered with the runtime's poller.
func newSocket(iface string) (*Socket, error) {
	// Protocol 0 until bind: a socket made with ETH_P_ALL would receive
	// every interface's frames until it is bound to one.
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("socket: %w", err)
	}
	return socketFromFD(fd, iface)
}

// socketFromFD makes a Socket of fd, a non-blocking AF_PACKET socket,
// which it owns from then on (closed on failure too).
func socketFromFD(fd int, name string) (*Socket, error) {
	s := &Socket{fd: fd, file: os.NewFile(uintptr(fd), "afpacket:"+name)}
	var err error
	if s.raw, err = s.file.SyscallConn(); err != nil {
		s.file.Close()
		return nil, fmt.Errorf("socket: %w", err)
	}
	s.recvFn, s.readyFn, s.sendFn, s.serveFn = s.recvOnce, s.ringReady, s.sendOnce, s.serveOnce
	return s, nil
}

// File returns the *os.File that owns the socket's descriptor, for
// passing it to another process. The Socket still owns it: Close closes
// it.
func (s *Socket) File() *os.File { return s.file }

func openSocket(ifindex int, cfg Config, ring bool) (*Socket, error) {
	s, err := newSocket(cfg.Interface)
	if err != nil {
		return nil, err
	}
	fd := s.fd
	s.initTX(cfg.Batch)
	if ring {
		setup := s.setupRing
		if cfg.FrameRing {
			setup = func(cfg Config) error { return s.setupFrameRing(ifindex, cfg) }
		}
		if err := setup(cfg); err != nil {
			s.Close()
			return nil, fmt.Errorf("%w: %w", errRing, err)
		}
	} else {
		s.initRX(cfg.Batch)
		// The queue a recvmmsg socket has instead of a ring: as much as
		// a ring holds, to ride out a scheduling delay or the pause of a
		// hand-over. The default (about 200 KB, some 90 full-sized
		// frames) overflowed in the pause of a hand-over on a busy
		// machine.
		setRcvBuf(fd, cfg.BlockSize*cfg.Blocks)
	}
	if cfg.VnetHdr {
		if err := s.SetVnetHdr(true); err != nil {
			s.Close()
			return nil, err
		}
	}
	// Our own frames would come back as PACKET_OUTGOING; kernels before
	// 4.20 lack the option, and Receive skips them anyway.
	_ = unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_IGNORE_OUTGOING, 1)
	// Frames go straight to the driver: the engine does its own batching
	// and a qdisc would only add a lock. Not with VnetHdr: the direct
	// path drops a super-packet the device cannot segment itself rather
	// than segment it in software.
	if !cfg.VnetHdr {
		_ = unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_QDISC_BYPASS, 1)
	}
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifindex}); err != nil {
		s.Close()
		return nil, fmt.Errorf("bind: %w", err)
	}
	return s, nil
}

func (s *Socket) setupRing(cfg Config) error {
	if err := unix.SetsockoptInt(s.fd, unix.SOL_PACKET, unix.PACKET_VERSION, unix.TPACKET_V3); err != nil {
		return fmt.Errorf("PACKET_VERSION: %w", err)
	}
	req := unix.TpacketReq3{
		Block_size:     uint32(cfg.BlockSize),
		Block_nr:       uint32(cfg.Blocks),
		Frame_size:     frameSize + 2048, // room for the tpacket header in front
		Retire_blk_tov: uint32(max(1, cfg.Retire.Milliseconds())),
	}
	if cfg.BlockSize%int(req.Frame_size) != 0 {
		// The kernel wants the frame size to divide the block; any
		// multiple of TPACKET_ALIGNMENT does.
		req.Frame_size = 2048
	}
	req.Frame_nr = req.Block_size / req.Frame_size * req.Block_nr
	if err := unix.SetsockoptTpacketReq3(s.fd, unix.SOL_PACKET, unix.PACKET_RX_RING, &req); err != nil {
		return fmt.Errorf("PACKET_RX_RING: %w", err)
	}
	ring, err := unix.Mmap(s.fd, 0, cfg.BlockSize*cfg.Blocks, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE)
	if err != nil {
		return fmt.Errorf("mmap: %w", err)
	}
	s.ring, s.blockSize, s.blocks = ring, cfg.BlockSize, cfg.Blocks
	return nil
}

// setupFrameRing sets up a TPACKET_V2 receive ring of the blocks cfg
// asks for, cut into frames that hold the interface's MTU.
func (s *Socket) setupFrameRing(ifindex int, cfg Config) error {
	if err := unix.SetsockoptInt(s.fd, unix.SOL_PACKET, unix.PACKET_VERSION, unix.TPACKET_V2); err != nil {
		return fmt.Errorf("PACKET_VERSION: %w", err)
	}
	mtu := 1500
	if ifi, err := net.InterfaceByIndex(ifindex); err == nil && ifi.MTU > 0 {
		mtu = ifi.MTU
	}
	// The frame starts after the ring's header, the address and the
	// kernel's alignment (frame2MACMax); room for a VLAN tag too.
	size := (frame2MACMax + 14 + 4 + mtu + 15) &^ 15
	size = max(size, 2048)
	if size > cfg.BlockSize {
		return fmt.Errorf("MTU %d too large for %d-byte blocks", mtu, cfg.BlockSize)
	}
	per := cfg.BlockSize / size
	req := unix.TpacketReq{Block_size: uint32(cfg.BlockSize), Block_nr: uint32(cfg.Blocks),
		Frame_size: uint32(size), Frame_nr: uint32(per * cfg.Blocks)}
	if err := unix.SetsockoptTpacketReq(s.fd, unix.SOL_PACKET, unix.PACKET_RX_RING, &req); err != nil {
		return fmt.Errorf("PACKET_RX_RING: %w", err)
	}
	ring, err := unix.Mmap(s.fd, 0, cfg.BlockSize*cfg.Blocks, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE)
	if err != nil {
		return fmt.Errorf("mmap: %w", err)
	}
	s.ring, s.blockSize, s.blocks = ring, cfg.BlockSize, cfg.Blocks
	s.frameSize, s.perBlock, s.frames = size, per, per*cfg.Blocks
	return nil
}

func (s *Socket) initRX(n int) {
	size := frameSize
	if s.vnetHdr {
		size = superFrameSize
	}
	s.rxMsgs = make([]unix.Mmsghdr, n)
	s.rxIov = make([]unix.Iovec, n)
	s.rxBufs = make([][]byte, n)
	s.rxAddrs = make([]unix.RawSockaddrLinklayer, n)
	for i := range s.rxMsgs {
		s.rxBufs[i] = make([]byte, size)
		s.rxIov[i].Base = &s.rxBufs[i][0]
		s.rxIov[i].SetLen(size)
		h := &s.rxMsgs[i].Hdr
		h.Iov = &s.rxIov[i]
		h.SetIovlen(1)
		h.Name = (*byte)(unsafe.Pointer(&s.rxAddrs[i]))
		h.Namelen = unix.SizeofSockaddrLinklayer
	}
}

func (s *Socket) initTX(n int) {
	s.txMsgs = make([]unix.Mmsghdr, n)
	s.txIov = make([]unix.Iovec, 2*n)
	for i := range s.txMsgs {
		s.txMsgs[i].Hdr.Iov = &s.txIov[2*i]
		s.txMsgs[i].Hdr.SetIovlen(2)
	}
}

// joinFanout puts the socket in fanout group id of the given mode, or,
// for id < 0, makes a new group with an id the kernel picks so that it
// cannot collide with another process's, and returns the id.
func (s *Socket) joinFanout(mode, id int) (int, error) {
	if id < 0 {
		v := (mode | unix.PACKET_FANOUT_FLAG_UNIQUEID) << 16
		if err := unix.SetsockoptInt(s.fd, unix.SOL_PACKET, unix.PACKET_FANOUT, v); err != nil {
			return 0, err
		}
		got, err := unix.GetsockoptInt(s.fd, unix.SOL_PACKET, unix.PACKET_FANOUT)
		if err != nil {
			return 0, err
		}
		return got & 0xffff, nil
	}
	return id, unix.SetsockoptInt(s.fd, unix.SOL_PACKET, unix.PACKET_FANOUT, mode<<16|id)
}

// SetVnetHdr turns PACKET_VNET_HDR on or off (Config.VnetHdr) on a socket
// without a ring, sizing its receive buffers to match. A socket handed
// over keeps its setting, which the adopting process can change with it.
// Call it while no goroutine uses the socket.
func (s *Socket) SetVnetHdr(on bool) error {
	if s.ring != nil {
		return errors.New("PACKET_VNET_HDR: not with a receive ring")
	}
	v := 0
	if on {
		v = 1
	}
	if err := unix.SetsockoptInt(s.fd, unix.SOL_PACKET, unix.PACKET_VNET_HDR, v); err != nil {
		return fmt.Errorf("PACKET_VNET_HDR: %w", err)
	}
	// The qdisc path segments what the device cannot (openSocket); a
	// socket handed over may have been opened without it.
	if err := unix.SetsockoptInt(s.fd, unix.SOL_PACKET, unix.PACKET_QDISC_BYPASS, 1-v); err != nil {
		return fmt.Errorf("PACKET_QDISC_BYPASS: %w", err)
	}
	if on {
		setRcvBuf(s.fd, superRcvBuf)
	}
	changed := s.vnetHdr != on
	s.vnetHdr = on
	if changed && s.rxMsgs != nil {
		s.initRX(len(s.rxMsgs))
	}
	return nil
}

// VnetHdr reports whether every frame in and out starts with a struct
// virtio_net_hdr.
func (s *Socket) VnetHdr() bool { return s.vnetHdr }

// Ring reports whether the socket receives through a ring (TPACKET_V3,
// or TPACKET_V2 with FrameRing).
func (s *Socket) Ring() bool { return s.ring != nil }

// FrameRing reports whether the socket's ring is a TPACKET_V2 one.
func (s *Socket) FrameRing() bool { return s.frameSize > 0 }

// Close releases the socket and its ring. Call it once nothing uses the
// socket any more.
func (s *Socket) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	err := s.file.Close()
	if s.ring != nil {
		err = errors.Join(err, unix.Munmap(s.ring))
	}
	return err
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// setRcvBuf sets a socket's receive buffer: past net.core.rmem_max as
// root (CAP_NET_ADMIN), otherwise as far as that limit lets it.
func setRcvBuf(fd, n int) {
	if unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, n) != nil {
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, n)
	}
}
