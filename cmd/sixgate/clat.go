package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os/signal"
	"syscall"

	"github.com/sirupsen/logrus"

	"github.com/sixgate/sixgate/clat"
	"github.com/sixgate/sixgate/packet"
	"github.com/sixgate/sixgate/sdnotify"
)

const clatUsage = "usage: sixgate clat -uplink IF [-ipv6 ADDR] [-pref64 PREFIX] [-tun NAME] [-log-level LEVEL] [-log-format text|json]"

// clatMain runs the host side of 464XLAT until SIGTERM or SIGINT: exit 0
// after a clean shutdown, 1 on a runtime or set-up error, 2 on a usage
// error.
func clatMain(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("sixgate clat", flag.ContinueOnError)
	fs.SetOutput(stderr)
	uplink := fs.String("uplink", "", "the `interface` toward the IPv6 network (required)")
	ipv6 := fs.String("ipv6", "", "the CLAT's dedicated IPv6 `address` (default: derived from the uplink's /64 and MAC)")
	pref64 := fs.String("pref64", "", "the NAT64 `prefix` used when neither router advertisements (PREF64) nor ipv4only.arpa give one")
	tun := fs.String("tun", clat.DefaultTUN, "the TUN device's `name`")
	level := fs.String("log-level", "info", "log `level`: debug, info, warn, error")
	format := fs.String("log-format", "text", "log `format`: text or json")
	fs.Usage = func() {
		fmt.Fprintln(stderr, clatUsage)
		fs.PrintDefaults()
	}
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	usage := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "sixgate clat: "+format+"\n", a...)
		fmt.Fprintln(stderr, clatUsage)
		return 2
	}
	if *uplink == "" || fs.NArg() != 0 {
		return usage("-uplink is required and there are no arguments")
	}
	cfg := clat.Config{Uplink: *uplink, TUN: *tun}
	if *ipv6 != "" {
		a, err := netip.ParseAddr(*ipv6)
		if err != nil || !a.Is6() || a.Is4In6() || !a.IsGlobalUnicast() {
			return usage("-ipv6 %q: not a global unicast IPv6 address", *ipv6)
		}
		cfg.IPv6 = a
	}
	if *pref64 != "" {
		p, err := netip.ParsePrefix(*pref64)
		if err == nil {
			err = packet.CheckRFC6052Prefix(p)
		}
		if err != nil {
			return usage("-pref64 %q: %v", *pref64, err)
		}
		cfg.Pref64 = p
	}
	if len(*tun) == 0 || len(*tun) > 15 {
		return usage("-tun %q: an interface name has 1 to 15 characters", *tun)
	}
	log, code := newLogger(*level, *format, stderr)
	if log == nil {
		return code
	}
	notify := sdnotify.FromEnv()
	cfg.Ready = func() { notify.Send(sdnotify.Ready, sdnotify.Status("translating")) }

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	entry := logrus.NewEntry(log)
	err := clat.Run(ctx, cfg, entry)
	notify.Send(sdnotify.Stopping)
	if err != nil {
		entry.WithError(err).Error("sixgate clat stopped")
		return 1
	}
	return 0
}

// newLogger builds a logger from the -log-level and -log-format flags; a
// nil logger comes with the usage exit code.
func newLogger(level, format string, out io.Writer) (*logrus.Logger, int) {
	log := logrus.New()
	log.SetOutput(out)
	lvl, err := logrus.ParseLevel(level)
	if err != nil {
		fmt.Fprintf(out, "sixgate: -log-level: %v\n", err)
		return nil, 2
	}
	log.SetLevel(lvl)
	switch format {
	case "text":
		log.SetFormatter(&logrus.TextFormatter{FullTimestamp: true})
	case "json":
		log.SetFormatter(&logrus.JSONFormatter{})
	default:
		fmt.Fprintf(out, "sixgate: -log-format: %q is neither text nor json\n", format)
		return nil, 2
	}
	return log, 0
}
