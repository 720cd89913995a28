package clat

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"time"

	"github.com/sixgate/sixgate/packet"
)

// Netlink constants for the ND user options that the kernel passes to
// user space (linux/rtnetlink.h, linux/neighbour.h).
const (
	rtmNewLink       = 16 // RTM_NEWLINK
	rtnlgrpLink      = 1  // RTNLGRP_LINK
	ifInfoMsgLen     = 16 // struct ifinfomsg
	rtmNewNDUserOpt  = 68 // RTM_NEWNDUSEROPT
	rtnlgrpNDUserOpt = 20 // RTNLGRP_ND_USEROPT
	ndUserOptSrcAddr = 1  // NDUSEROPT_SRCADDR

	nlmsgHdrLen      = 16 // struct nlmsghdr
	ndUserOptHdrLen  = 16 // struct nduseroptmsg
	icmpv6RouterAdv  = 134
	ndOptPREF64      = 38
	ndOptPREF64Bytes = 16
)

// UserOpt is one RTM_NEWNDUSEROPT message: the options of one neighbor
// discovery message that the kernel does not handle itself (RDNSS,
// DNSSL, PREF64, ...), and where they came from.
//
//	struct nduseroptmsg {
//	    unsigned char  nduseropt_family;
//	    unsigned char  nduseropt_pad1;
//	    unsigned short nduseropt_opts_len;   // host byte order
//	    int            nduseropt_ifindex;
//	    __u8           nduseropt_icmp_type;
//	    __u8           nduseropt_icmp_code;
//	    unsigned short nduseropt_pad2;
//	    unsigned int   nduseropt_pad3;
//	    // options, then netlink attributes (NDUSEROPT_SRCADDR)
//	};
type UserOpt struct {
	Family   uint8
	Ifindex  int
	ICMPType uint8
	ICMPCode uint8
	// Source is the sender of the neighbor discovery message (the
	// router), the zero Addr when the kernel did not say.
	Source netip.Addr
	// Options are the raw ND options, type-length-value in units of 8
	// bytes as on the wire. They alias the buffer that was decoded.
	Options []byte
}

var (
	errShortNetlink = fmt.Errorf("clat: netlink message: %w", io.ErrUnexpectedEOF)
	errBadLength    = errors.New("clat: netlink message: length field out of bounds")
)

// LinkEvent is an RTM_NEWLINK message: an interface's state now.
//
//	struct ifinfomsg {
//	    unsigned char  ifi_family;
//	    unsigned char  __ifi_pad;
//	    unsigned short ifi_type;
//	    int            ifi_index;
//	    unsigned       ifi_flags;    // IFF_UP, IFF_RUNNING, ...
//	    unsigned       ifi_change;
//	};
type LinkEvent struct {
	Ifindex int
	Flags   uint32
}

// ParseNetlink decodes the RTM_NEWNDUSEROPT and RTM_NEWLINK messages in
// b, a buffer read from a netlink socket (one or more messages back to
// back); messages of other types are skipped. The options of the
// returned messages alias b.
func ParseNetlink(b []byte) (opts []UserOpt, links []LinkEvent, err error) {
	for len(b) > 0 {
		if len(b) < nlmsgHdrLen {
			return opts, links, errShortNetlink
		}
		n := int(binary.NativeEndian.Uint32(b[0:4]))
		typ := binary.NativeEndian.Uint16(b[4:6])
		if n < nlmsgHdrLen || n > len(b) {
			return opts, links, errBadLength
		}
		switch typ {
		case rtmNewNDUserOpt:
			u, err := parseUserOpt(b[nlmsgHdrLen:n])
			if err != nil {
				return opts, links, err
			}
			opts = append(opts, u)
		case rtmNewLink:
			m := b[nlmsgHdrLen:n]
			if len(m) < ifInfoMsgLen {
				return opts, links, fmt.Errorf("clat: ifinfomsg: %w", io.ErrUnexpectedEOF)
			}
			links = append(links, LinkEvent{
				Ifindex: int(int32(binary.NativeEndian.Uint32(m[4:8]))),
				Flags:   binary.NativeEndian.Uint32(m[8:12]),
			})
		}
		next := align4(n)
		if next > len(b) {
			next = len(b)
		}
		b = b[next:]
	}
	return opts, links, nil
}

func align4(n int) int { return (n + 3) &^ 3 }

// parseUserOpt decodes the payload of one RTM_NEWNDUSEROPT message.
func parseUserOpt(b []byte) (UserOpt, error) {
	var u UserOpt
	if len(b) < ndUserOptHdrLen {
		return u, fmt.Errorf("clat: nduseroptmsg: %w", io.ErrUnexpectedEOF)
	}
	u.Family = b[0]
	optsLen := int(binary.NativeEndian.Uint16(b[2:4]))
	u.Ifindex = int(int32(binary.NativeEndian.Uint32(b[4:8])))
	u.ICMPType, u.ICMPCode = b[8], b[9]
	b = b[ndUserOptHdrLen:]
	if optsLen > len(b) {
		return u, fmt.Errorf("clat: nduseroptmsg: options length %d beyond the message's %d bytes", optsLen, len(b))
	}
	u.Options = b[:optsLen:optsLen]
	attrs := b[min(align4(optsLen), len(b)):]
	for len(attrs) > 0 {
		if len(attrs) < 4 {
			return u, fmt.Errorf("clat: nduseroptmsg attribute: %w", io.ErrUnexpectedEOF)
		}
		alen := int(binary.NativeEndian.Uint16(attrs[0:2]))
		atyp := binary.NativeEndian.Uint16(attrs[2:4]) & 0x3fff // without NLA_F_NESTED, NLA_F_NET_BYTEORDER
		if alen < 4 || alen > len(attrs) {
			return u, fmt.Errorf("clat: nduseroptmsg attribute of length %d in %d bytes", alen, len(attrs))
		}
		if atyp == ndUserOptSrcAddr {
			if alen-4 != 16 {
				return u, fmt.Errorf("clat: NDUSEROPT_SRCADDR of %d bytes, want 16", alen-4)
			}
			u.Source = netip.AddrFrom16([16]byte(attrs[4:20]))
		}
		attrs = attrs[min(align4(alen), len(attrs)):]
	}
	return u, nil
}

// PREF64 is a PREF64 option (RFC 8781, section 4): a NAT64 prefix and
// how long it stays valid. A zero Lifetime withdraws the prefix.
type PREF64 struct {
	Prefix   netip.Prefix
	Lifetime time.Duration
}

// PREF64s returns the PREF64 options among the raw ND options opts. A
// malformed option list is an error; PREF64 options before the fault are
// returned with it.
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|     Type      |    Length     |     Scaled Lifetime     | PLC |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                                                               |
//	+                                                               +
//	|              Highest 96 bits of the Prefix                    |
//	+                                                               +
//	|                                                               |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
func PREF64s(opts []byte) ([]PREF64, error) {
	var out []PREF64
	for len(opts) > 0 {
		if len(opts) < 2 {
			return out, fmt.Errorf("clat: ND option: %w", io.ErrUnexpectedEOF)
		}
		n := int(opts[1]) * 8
		if n == 0 {
			return out, errors.New("clat: ND option of length 0")
		}
		if n > len(opts) {
			return out, fmt.Errorf("clat: ND option type %d of %d bytes in %d: %w", opts[0], n, len(opts), io.ErrUnexpectedEOF)
		}
		if opts[0] == ndOptPREF64 {
			p, err := parsePREF64(opts[:n])
			if err != nil {
				return out, err
			}
			out = append(out, p)
		}
		opts = opts[n:]
	}
	return out, nil
}

// parsePREF64 decodes one whole PREF64 option, type and length included.
func parsePREF64(b []byte) (PREF64, error) {
	if len(b) != ndOptPREF64Bytes {
		return PREF64{}, fmt.Errorf("clat: PREF64 option of %d bytes, want %d", len(b), ndOptPREF64Bytes)
	}
	v := binary.BigEndian.Uint16(b[2:4])
	bits, ok := plcBits(uint8(v & 7))
	if !ok {
		return PREF64{}, fmt.Errorf("clat: PREF64 option: prefix length code %d is not defined", v&7)
	}
	var a [16]byte
	copy(a[:12], b[4:16])
	p := netip.PrefixFrom(netip.AddrFrom16(a), bits).Masked()
	if err := packet.CheckRFC6052Prefix(p); err != nil {
		// Bits 64-71 set: no IPv4 address can be embedded in it.
		return PREF64{}, fmt.Errorf("clat: PREF64 option: %w", err)
	}
	return PREF64{Prefix: p, Lifetime: time.Duration(v>>3) * 8 * time.Second}, nil
}

// plcBits maps the Prefix Length Code to the prefix length (RFC 8781,
// section 4).
func plcBits(plc uint8) (int, bool) {
	switch plc {
	case 0:
		return 96, true
	case 1:
		return 64, true
	case 2:
		return 56, true
	case 3:
		return 48, true
	case 4:
		return 40, true
	case 5:
		return 32, true
	}
	return 0, false
}
