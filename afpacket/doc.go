// Package afpacket reads and writes Ethernet frames on a Linux interface
// through AF_PACKET sockets, in batches, without allocating per frame.
//
// A Group is several sockets on one interface joined in a PACKET_FANOUT
// group, so that the kernel spreads flows over them (by its flow hash, or
// by client with ClientSteering, a classic BPF fanout program) and one
// goroutine per socket can use one core each. Sockets are non-blocking
// and waited on by the Go runtime's poller. Each socket receives through
// a ring (packet(7), Documentation/networking/packet_mmap.rst): with
// TPACKET_V3 the kernel fills fixed-size blocks of frames in memory shared
// with the process, and the process hands a block back after reading it,
// so a busy interface costs one wake-up per block; with TPACKET_V2
// (Config.FrameRing) it hands over each frame as it writes it, so reading
// costs no system call and adds no latency. When a ring cannot be set up (an old kernel, a locked memory
// limit, a sandbox that refuses mmap on packet sockets) the socket falls
// back to recvmmsg(2) into buffers of its own. Frames are sent with
// sendmmsg(2), each from two pieces (a header and a body), so that callers
// can put a link-layer header in front of a packet without copying it.
//
// Sockets need CAP_NET_RAW. Only Linux is supported.
package afpacket
