// Command sixgate is the sixgate OpenFlow controller.
//
//	sixgate -config FILE [-log-level LEVEL] [-log-format text|json]
//	sixgate check -config FILE
//	sixgate status [-http ADDR] [-json]
//	sixgate flows [-http ADDR] [-dpid DPID] [-json]
//	sixgate connections [-http ADDR] [-json]
//	sixgate nat64 bib|sessions [-http ADDR] [-json]
//	sixgate ofp-print [-hex] [-reencode] FILE|-
//	sixgate translate -config FILE [-engine siit|nat64] [-framing pcap|len16] [-clock real|packets]
//	sixgate clat -uplink IF [-ipv6 ADDR] [-pref64 PREFIX] [-tun NAME]
//	sixgate help
//	sixgate -version
//
// Exit status: 0 after a clean shutdown (SIGTERM, SIGINT), a successful
// command or -h, 1 on a runtime or configuration error, 2 on a usage error.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

// commands lists the subcommands with one line each, for help.
var commands = []struct{ name, usage, what string }{
	{"check", "-config FILE", "validate a configuration file and exit"},
	{"status", "[-http ADDR] [-json]", "switches, ports with state and counters, role and configuration hash of a running sixgate"},
	{"flows", "[-http ADDR] [-dpid DPID] [-json]", "each switch's flows as installed, marked where they differ from the desired state"},
	{"connections", "[-http ADDR] [-json]", "the spliced connections of a running sixgate"},
	{"nat64", "bib|sessions [-http ADDR] [-json]", "the NAT64's binding or session table of a running sixgate"},
	{"ofp-print", "[-hex] [-reencode] FILE|-", "decode raw OpenFlow 1.3 messages"},
	{"translate", "-config FILE [-engine siit|nat64] [-framing pcap|len16] [-clock real|packets]", "run the translator offline: IP packets on standard input, what it emits on standard output"},
	{"clat", "-uplink IF [-ipv6 ADDR] [-pref64 PREFIX] [-tun NAME]", "the host side of 464XLAT: IPv4 over a TUN, translated toward a NAT64"},
	{"help", "", "this list"},
}

// run dispatches to a subcommand and returns the exit status.
func run(args []string) int {
	if len(args) > 0 {
		switch args[0] {
		case "check":
			return checkMain(args[1:])
		case "ofp-print":
			return ofpPrintMain(args[1:])
		case "translate":
			return translateMain(args[1:])
		case "status":
			return statusMain(args[1:], os.Stdout, os.Stderr)
		case "flows":
			return flowsMain(args[1:], os.Stdout, os.Stderr)
		case "connections":
			return connectionsMain(args[1:], os.Stdout, os.Stderr)
		case "clat":
			return clatMain(args[1:], os.Stderr)
		case "nat64":
			return nat64Main(args[1:], os.Stdout, os.Stderr)
		case "help":
			fs, _ := daemonFlags(io.Discard)
			writeHelp(os.Stdout, fs)
			return 0
		}
	}
	return daemonMain(args)
}

// writeHelp lists the ways to run sixgate and the daemon's flags.
func writeHelp(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprintln(w, "usage: sixgate -config FILE [-log-level LEVEL] [-log-format text|json] [-app learning]")
	fmt.Fprintln(w, "       sixgate COMMAND [flags]   (sixgate COMMAND -h lists its flags)")
	fmt.Fprintln(w, "       sixgate -version")
	fmt.Fprintln(w, "\ncommands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-12s %s\n", c.name, c.what)
	}
	fmt.Fprintln(w, "\nflags of the controller:")
	fs.SetOutput(w)
	fs.PrintDefaults()
}

// parseFlags parses a subcommand's flags. When it returns false the command
// exits with code: 0 for -h, 2 for a usage error.
func parseFlags(fs *flag.FlagSet, args []string) (code int, ok bool) {
	err := fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		return 0, false
	}
	if err != nil {
		return 2, false
	}
	return 0, true
}
