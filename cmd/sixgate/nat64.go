package main

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/sixgate/sixgate/api"
	"github.com/sixgate/sixgate/nat64"
)

// nat64Main prints the NAT64's binding table (bib) or session table
// (sessions) of a running sixgate, as jool bib display and jool session
// display do.
func nat64Main(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "bib" && args[0] != "sessions" {
		fmt.Fprintln(stderr, "usage: sixgate nat64 bib|sessions [-http ADDR] [-json]")
		return 2
	}
	what := args[0]
	fs, c := newClient("nat64 "+what, "[-http ADDR] [-json]", stdout, stderr)
	if code, ok := parseFlags(fs, args[1:]); !ok {
		return code
	}
	if fs.NArg() != 0 {
		fs.Usage()
		return 2
	}
	if what == "bib" {
		return show(c, api.PathNAT64BIB, func(w io.Writer, bib *[]nat64.BindingInfo) { writeBIB(w, *bib) })
	}
	return show(c, api.PathNAT64Sessions, func(w io.Writer, ss *[]nat64.SessionInfo) { writeSessions(w, *ss) })
}

func writeBIB(w io.Writer, bib []nat64.BindingInfo) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PROTO\tIPV6\tIPV4\tSTATIC\tSESSIONS")
	for _, b := range bib {
		static := "no"
		if b.Static {
			static = "yes"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\n", b.Protocol, b.IPv6, b.IPv4, static, b.Sessions)
	}
	tw.Flush()
	fmt.Fprintf(w, "%d bindings\n", len(bib))
}

func writeSessions(w io.Writer, ss []nat64.SessionInfo) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PROTO\tIPV6 LOCAL\tIPV6 REMOTE\tIPV4 LOCAL\tIPV4 REMOTE\tSTATE\tEXPIRES")
	for _, s := range ss {
		state := s.State
		if state == "" {
			state = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.Protocol, s.IPv6Local, s.IPv6Remote, s.IPv4Local, s.IPv4Remote, state, s.ExpiresIn.Round(time.Second))
	}
	tw.Flush()
	fmt.Fprintf(w, "%d sessions\n", len(ss))
}
