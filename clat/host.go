package clat

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// undo is the list of changes made to the host, taken back in reverse.
type undo struct {
	steps []undoStep
}

type undoStep struct {
	what string
	fn   func() error
}

func (u *undo) push(what string, fn func() error) { u.steps = append(u.steps, undoStep{what, fn}) }

// run takes every change back, last first, and returns every failure.
func (u *undo) run() error {
	var errs []error
	for i := len(u.steps) - 1; i >= 0; i-- {
		if err := u.steps[i].fn(); err != nil {
			errs = append(errs, fmt.Errorf("undo %s: %w", u.steps[i].what, err))
		}
	}
	u.steps = nil
	return errors.Join(errs...)
}

// closer is an undo step that closes a descriptor which may have been
// closed already.
func closer(close func() error) func() error {
	return func() error {
		if err := close(); err != nil && !errors.Is(err, os.ErrClosed) && !errors.Is(err, net.ErrClosed) {
			return err
		}
		return nil
	}
}

// sysctlPath is the file of an IPv6 per-interface setting.
func sysctlPath(dev, key string) string {
	return filepath.Join("/proc/sys/net/ipv6/conf", dev, key)
}

func readSysctl(dev, key string) (string, error) {
	b, err := os.ReadFile(sysctlPath(dev, key))
	if err != nil {
		return "", fmt.Errorf("sysctl net.ipv6.conf.%s.%s: %w", dev, key, err)
	}
	return strings.TrimSpace(string(b)), nil
}

func writeSysctl(dev, key, value string) error {
	if err := os.WriteFile(sysctlPath(dev, key), []byte(value), 0o644); err != nil {
		return fmt.Errorf("sysctl net.ipv6.conf.%s.%s=%s: %w", dev, key, value, err)
	}
	return nil
}

// setSysctl sets net.ipv6.conf.DEV.KEY to value when it is one of from
// (any value when from is empty), remembering the old value in u. It
// returns the value found.
func (u *undo) setSysctl(dev, key, value string, from ...string) (string, error) {
	old, err := readSysctl(dev, key)
	if err != nil {
		return "", err
	}
	if old == value || (len(from) > 0 && !slices.Contains(from, old)) {
		return old, nil
	}
	if err := writeSysctl(dev, key, value); err != nil {
		return old, err
	}
	u.push(fmt.Sprintf("net.ipv6.conf.%s.%s", dev, key), func() error {
		err := writeSysctl(dev, key, old)
		if errors.Is(err, os.ErrNotExist) {
			return nil // the interface is gone, and its settings with it
		}
		return err
	})
	return old, nil
}

// uplinkAddrs returns the uplink's IPv6 addresses that can give the
// dedicated address its /64: neither tentative, deprecated, temporary
// nor failed duplicate address detection.
func uplinkAddrs(link netlink.Link) ([]netip.Prefix, error) {
	addrs, err := netlink.AddrList(link, netlink.FAMILY_V6)
	if err != nil {
		return nil, fmt.Errorf("addresses of %s: %w", link.Attrs().Name, err)
	}
	var out []netip.Prefix
	for _, a := range addrs {
		if a.Flags&(unix.IFA_F_TENTATIVE|unix.IFA_F_DEPRECATED|unix.IFA_F_TEMPORARY|unix.IFA_F_DADFAILED) != 0 {
			continue
		}
		ip, ok := netip.AddrFromSlice(a.IP)
		if !ok {
			continue
		}
		bits, _ := a.Mask.Size()
		out = append(out, netip.PrefixFrom(ip.Unmap(), bits))
	}
	return out, nil
}

// addProxyNeighbor adds the proxy entry n (ip -6 neigh replace proxy
// ADDR dev UPLINK), so that the kernel answers neighbor solicitations
// for its address. An entry that was there already (another CLAT's, or
// one left by a crash) is left in place on exit; it reports whether
// there was one.
func (u *undo) addProxyNeighbor(n *netlink.Neigh) (existed bool, err error) {
	list, err := netlink.NeighProxyList(n.LinkIndex, netlink.FAMILY_V6)
	if err != nil && !errors.Is(err, netlink.ErrDumpInterrupted) {
		return false, fmt.Errorf("proxy neighbors: %w", err)
	}
	for _, e := range list {
		if e.IP.Equal(n.IP) {
			existed = true
		}
	}
	if err := netlink.NeighSet(n); err != nil {
		return existed, fmt.Errorf("proxy neighbor %s: %w", n.IP, err)
	}
	if existed {
		return true, nil
	}
	u.push("proxy neighbor "+n.IP.String(), func() error {
		err := netlink.NeighDel(n)
		if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENODEV) {
			return nil
		}
		return err
	})
	return false, nil
}

func ipNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: net.IP(p.Addr().AsSlice()), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}
