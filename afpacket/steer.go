//go:build linux

package afpacket

import (
	"fmt"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// ClientSteering makes a Group's fanout send both halves of a translated
// TCP connection to one socket: the IPv4 half by its source address and
// port, the IPv6 half by the IPv4 address embedded in its destination and
// its destination port, which are the same client's. The kernel runs it
// as a classic BPF fanout program (PACKET_FANOUT_CBPF); its flow hash
// would put the two halves on different sockets.
//
// Frames that are neither IPv4 nor IPv6 with TCP right after the fixed
// header (extension headers, say) go to the first socket.
type ClientSteering struct {
	// Embedded holds the offsets, within the 16-byte IPv6 destination,
	// of the IPv4 address's four bytes in order (RFC 6052 puts them
	// around byte 8 for prefixes shorter than /64).
	Embedded [4]int
}

// skfNetOff is SKF_NET_OFF: a load at skfNetOff+k reads byte k of the
// network header wherever the frame starts.
const skfNetOff = -0x100000

// netOff is the BPF load offset of byte k of the network header.
func netOff(k int) uint32 { return uint32(int32(skfNetOff + k)) }

// Program assembles the steering as a classic BPF program that returns a
// number the kernel takes modulo the group's size.
func (c ClientSteering) Program() ([]bpf.RawInstruction, error) {
	for _, o := range c.Embedded {
		if o < 0 || o > 15 {
			return nil, fmt.Errorf("afpacket: steering: IPv6 destination byte %d", o)
		}
	}
	const (
		tcp       = 6
		portSlot  = 0 // scratch: the port
		addrSlot  = 1 // scratch: the address being assembled
		v6Dst     = 24
		v6Payload = 40
	)
	// The IPv6 half: the destination port, then the embedded address
	// byte by byte (a single load when the bytes are contiguous).
	v6 := []bpf.Instruction{
		bpf.LoadAbsolute{Off: netOff(6), Size: 1},                 // next header
		bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: tcp, SkipTrue: 0}, // patched: to the end
		bpf.LoadAbsolute{Off: netOff(v6Payload + 2), Size: 2},
		bpf.StoreScratch{Src: bpf.RegA, N: portSlot},
	}
	e := c.Embedded
	if e[1] == e[0]+1 && e[2] == e[0]+2 && e[3] == e[0]+3 {
		v6 = append(v6, bpf.LoadAbsolute{Off: netOff(v6Dst + e[0]), Size: 4})
	} else {
		for i, o := range e {
			v6 = append(v6, bpf.LoadAbsolute{Off: netOff(v6Dst + o), Size: 1})
			if shift := uint32(24 - 8*i); shift > 0 {
				v6 = append(v6, bpf.ALUOpConstant{Op: bpf.ALUOpShiftLeft, Val: shift})
			}
			if i > 0 {
				v6 = append(v6, bpf.LoadScratch{Dst: bpf.RegX, N: addrSlot}, bpf.ALUOpX{Op: bpf.ALUOpOr})
			}
			if i < 3 {
				v6 = append(v6, bpf.StoreScratch{Src: bpf.RegA, N: addrSlot})
			}
		}
	}
	// The IPv4 half: the source port (after the header, whose length is
	// in its first byte), then the source address.
	v4 := []bpf.Instruction{
		bpf.LoadAbsolute{Off: netOff(9), Size: 1},                 // protocol
		bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: tcp, SkipTrue: 0}, // patched: to the end
		bpf.LoadMemShift{Off: netOff(0)},
		bpf.LoadIndirect{Off: netOff(0), Size: 2},
		bpf.StoreScratch{Src: bpf.RegA, N: portSlot},
		bpf.LoadAbsolute{Off: netOff(12), Size: 4},
		bpf.Jump{Skip: 0}, // patched: over the IPv6 half, to mix
	}
	// Mix address and port so that the low bits, which pick the socket,
	// depend on all of them.
	mix := []bpf.Instruction{
		bpf.LoadScratch{Dst: bpf.RegX, N: portSlot},
		bpf.ALUOpX{Op: bpf.ALUOpXor},
		bpf.ALUOpConstant{Op: bpf.ALUOpMul, Val: 0x9e3779b1},
		bpf.TAX{},
		bpf.ALUOpConstant{Op: bpf.ALUOpShiftRight, Val: 16},
		bpf.ALUOpX{Op: bpf.ALUOpXor},
		bpf.RetA{},
	}
	other := []bpf.Instruction{bpf.RetConstant{Val: 0}}

	head := []bpf.Instruction{
		bpf.LoadExtension{Num: bpf.ExtProto},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: unix.ETH_P_IP, SkipTrue: 0, SkipFalse: 0},   // to v4, else next
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: unix.ETH_P_IPV6, SkipTrue: 0, SkipFalse: 0}, // to v6, else other
	}
	// Layout: head, v4, v6, mix, other. Skips count instructions after
	// the jump.
	v4At := len(head)
	v6At := v4At + len(v4)
	mixAt := v6At + len(v6)
	otherAt := mixAt + len(mix)
	head[1] = bpf.JumpIf{Cond: bpf.JumpEqual, Val: unix.ETH_P_IP, SkipTrue: uint8(v4At - 2), SkipFalse: 0}
	head[2] = bpf.JumpIf{Cond: bpf.JumpEqual, Val: unix.ETH_P_IPV6, SkipTrue: uint8(v6At - 3), SkipFalse: uint8(otherAt - 3)}
	v4[1] = bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: tcp, SkipTrue: uint8(otherAt - (v4At + 2))}
	v4[len(v4)-1] = bpf.Jump{Skip: uint32(mixAt - v6At)}
	v6[1] = bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: tcp, SkipTrue: uint8(otherAt - (v6At + 2))}

	prog := append(append(append(append(head, v4...), v6...), mix...), other...)
	raw, err := bpf.Assemble(prog)
	if err != nil {
		return nil, fmt.Errorf("afpacket: steering: %w", err)
	}
	return raw, nil
}

// setFanoutProgram gives the socket's fanout group its program.
func (s *Socket) setFanoutProgram(raw []bpf.RawInstruction) error {
	filter := make([]unix.SockFilter, len(raw))
	for i, r := range raw {
		filter[i] = unix.SockFilter{Code: r.Op, Jt: r.Jt, Jf: r.Jf, K: r.K}
	}
	prog := unix.SockFprog{Len: uint16(len(filter)), Filter: &filter[0]}
	return unix.SetsockoptSockFprog(s.fd, unix.SOL_PACKET, unix.PACKET_FANOUT_DATA, &prog)
}
