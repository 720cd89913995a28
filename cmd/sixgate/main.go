// Command sixgate is the sixgate OpenFlow controller.
//
//	sixgate -config FILE [-log-level LEVEL] [-log-format text|json]
//	sixgate check -config FILE
//	sixgate ofp-print [-hex] [-reencode] FILE|-
//	sixgate status [-metrics ADDR] [-json]
//
// Exit status: 0 after a clean shutdown (SIGTERM, SIGINT) or a successful
// check, 1 on a runtime or configuration error, 2 on a usage error.
package main

import (
	"os"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

// run dispatches to a subcommand and returns the exit status.
func run(args []string) int {
	if len(args) > 0 {
		switch args[0] {
		case "check":
			return checkMain(args[1:])
		case "ofp-print":
			return ofpPrintMain(args[1:])
		case "status":
			return statusMain(args[1:])
		}
	}
	return daemonMain(args)
}
