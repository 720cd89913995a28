package clat

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// TUN is a layer-3 TUN device without packet information headers: each
// read returns one raw IP packet and each write injects one.
type TUN struct {
	Name string
	f    *os.File
}

// OpenTUN creates the TUN device name (IFF_TUN|IFF_NO_PI). It is not
// persistent: it disappears with its addresses and routes when Close
// closes the descriptor.
func OpenTUN(name string) (*TUN, error) {
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("open /dev/net/tun: %w", err)
	}
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("tun %q: %w", name, err)
	}
	ifr.SetUint16(unix.IFF_TUN | unix.IFF_NO_PI)
	if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("tun %q: TUNSETIFF: %w", name, err)
	}
	// The descriptor is non-blocking, so the os.File uses the runtime's
	// poller and Close interrupts a blocked Read.
	return &TUN{Name: ifr.Name(), f: os.NewFile(uintptr(fd), "/dev/net/tun")}, nil
}

// Read reads one packet into b.
func (t *TUN) Read(b []byte) (int, error) { return t.f.Read(b) }

// Write injects one packet.
func (t *TUN) Write(b []byte) (int, error) { return t.f.Write(b) }

// Close removes the device.
func (t *TUN) Close() error { return t.f.Close() }
