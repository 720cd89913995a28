//go:build linux

package afpacket

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Generic receive offload on an engine port. GRO merges the segments of a
// TCP stream into super-packets as the interface receives them, but only
// those received in one NAPI poll: a veth end fed one frame per system
// call (Open vSwitch's userspace datapath sends so) finishes each poll
// with a single frame and merges nothing. A GRO flush timeout keeps the
// merged packet open across polls for that long instead; PSH, FIN and
// the like still flush at once, so a request or a handshake does not
// wait, only the middle of a bulk transfer.

// DefaultGROFlush is the flush timeout SetGRO sets when the interface has
// none: 20 µs holds about 30 full-sized frames at 10 Gb/s.
const DefaultGROFlush = 20 * time.Microsecond

const (
	ethtoolGGRO = 0x2b // ETHTOOL_GGRO
	ethtoolSGRO = 0x2c // ETHTOOL_SGRO
)

// ethtoolValue is struct ethtool_value.
type ethtoolValue struct {
	cmd, data uint32
}

// ifreqData is struct ifreq with ifr_data, as SIOCETHTOOL takes it.
type ifreqData struct {
	name [unix.IFNAMSIZ]byte
	data unsafe.Pointer
	_    [24 - unsafe.Sizeof(uintptr(0))]byte
}

func ethtool(fd int, iface string, v *ethtoolValue) error {
	var req ifreqData
	copy(req.name[:], iface)
	req.data = unsafe.Pointer(v)
	_, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.SIOCETHTOOL, uintptr(unsafe.Pointer(&req)))
	if errno != 0 {
		return errno
	}
	return nil
}

// SetGRO turns GRO on for iface and, when its flush timeout is 0, sets it
// to flush. It returns what it changed, for the log.
func SetGRO(iface string, flush time.Duration) ([]string, error) {
	if len(iface) >= unix.IFNAMSIZ || iface == "" || strings.ContainsAny(iface, "/\x00") {
		return nil, fmt.Errorf("gro: bad interface name %q", iface)
	}
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("gro: %w", err)
	}
	defer unix.Close(fd)
	var changed []string
	v := ethtoolValue{cmd: ethtoolGGRO}
	if err := ethtool(fd, iface, &v); err != nil {
		return nil, fmt.Errorf("gro: %s: read: %w", iface, err)
	}
	if v.data == 0 {
		v = ethtoolValue{cmd: ethtoolSGRO, data: 1}
		if err := ethtool(fd, iface, &v); err != nil {
			return nil, fmt.Errorf("gro: %s: turn on: %w", iface, err)
		}
		changed = append(changed, "gro on")
	}
	path := "/sys/class/net/" + iface + "/gro_flush_timeout"
	cur, err := os.ReadFile(path)
	if err != nil {
		return changed, fmt.Errorf("gro: %w", err)
	}
	if n, err := strconv.ParseUint(strings.TrimSpace(string(cur)), 10, 64); err == nil && n != 0 {
		return changed, nil // the operator's
	} else if err != nil {
		return changed, fmt.Errorf("gro: %s: %q", path, cur)
	}
	ns := strconv.FormatInt(flush.Nanoseconds(), 10)
	if err := os.WriteFile(path, []byte(ns), 0o644); err != nil {
		return changed, fmt.Errorf("gro: %w", err)
	}
	return append(changed, "gro_flush_timeout "+ns+" ns"), nil
}
