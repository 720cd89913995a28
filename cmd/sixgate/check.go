package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/sixgate/sixgate/siit"

	"github.com/sirupsen/logrus"
)

// checkMain validates a configuration file: exit 0 if it is valid, 1 with
// every problem found if not. It runs every check the daemon runs before it
// listens (prepare), so a file that passes starts.
func checkMain(args []string) int {
	return check(args, os.Stdout, os.Stderr)
}

func check(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("sixgate check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	config := fs.String("config", "", "configuration `file` to validate")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: sixgate check -config FILE")
		fs.PrintDefaults()
	}
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if *config == "" || fs.NArg() != 0 {
		fmt.Fprintln(stderr, "usage: sixgate check -config FILE")
		return 2
	}
	log := logrus.New()
	log.SetOutput(stderr)
	log.SetLevel(logrus.WarnLevel)
	log.SetFormatter(plainFormatter{})
	p, err := prepare(*config, "", logrus.NewEntry(log))
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	t := p.topo
	// check may run on another machine or as another user than the
	// daemon: a missing capability is a note, not a failure.
	if err := checkCaps(t); err != nil {
		for _, line := range strings.Split(err.Error(), "\n") {
			fmt.Fprintf(stderr, "note: %s (the daemon refuses to start without it)\n", line)
		}
	}
	if t.SIIT != nil {
		// The engine's own checks, as start-up and sixgate translate run them.
		if _, err := siit.New(siitConfig(t.SIIT)); err != nil {
			fmt.Fprintf(stderr, "%s:%d: siit: %v\n", *config, t.SIIT.Line, err)
			return 1
		}
	}
	fmt.Fprintf(stdout, "%s: ok: %d switches, %d links, %d hosts", *config, len(t.Switches), len(t.Links), len(t.Hosts))
	if s := t.Splice46; s != nil {
		names, fromDNS := 0, 0
		for _, svc := range s.Services {
			if svc.DNS != nil {
				fromDNS++
			}
			names += len(svc.Names)
			for _, b := range svc.Backends {
				names += len(b.Match)
			}
		}
		fmt.Fprintf(stdout, ", %d services, %d match values and names", len(s.Services), names)
		if fromDNS > 0 {
			fmt.Fprintf(stdout, ", %d with backends from DNS", fromDNS)
		}
	}
	if s := t.SIIT; s != nil {
		fmt.Fprintf(stdout, ", siit with %d eam entries", len(s.EAM))
	}
	if d := t.DNS64; d != nil {
		fmt.Fprintf(stdout, ", DNS64 on %d addresses with %d upstreams in %s", len(d.Listen), len(d.Upstreams), d.Prefix)
	}
	fmt.Fprintln(stdout)
	return 0
}

// plainFormatter prints check's warnings as "warning: FILE:LINE: field:
// message", one a line, like its errors.
type plainFormatter struct{}

func (plainFormatter) Format(e *logrus.Entry) ([]byte, error) {
	return []byte(e.Level.String() + ": " + e.Message + "\n"), nil
}
