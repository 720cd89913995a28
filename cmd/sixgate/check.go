package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/sixgate/sixgate/topo"
)

// checkMain validates a configuration file: exit 0 if it is valid, 1 with
// every problem found if not.
func checkMain(args []string) int {
	fs := flag.NewFlagSet("sixgate check", flag.ContinueOnError)
	config := fs.String("config", "", "configuration `file` to validate")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: sixgate check -config FILE")
		fs.PrintDefaults()
	}
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if *config == "" || fs.NArg() != 0 {
		fmt.Fprintln(os.Stderr, "usage: sixgate check -config FILE")
		return 2
	}
	t, err := topo.Load(*config)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	for _, w := range t.Warnings {
		fmt.Fprintf(os.Stderr, "%s (warning)\n", w)
	}
	fmt.Printf("%s: ok: %d switches, %d links, %d hosts\n", *config, len(t.Switches), len(t.Links), len(t.Hosts))
	return 0
}
