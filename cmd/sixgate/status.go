package main

import (
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"
)

// statusMain prints the live spliced connections of a running sixgate, read
// from its metrics address, the way conntrack -L prints its table.
func statusMain(args []string) int {
	fs := flag.NewFlagSet("sixgate status", flag.ContinueOnError)
	addr := fs.String("metrics", "127.0.0.1:9464", "metrics `address` of the running sixgate")
	jsonOut := fs.Bool("json", false, "print JSON")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 0 {
		fmt.Fprintln(os.Stderr, "usage: sixgate status [-metrics ADDR] [-json]")
		return 2
	}
	url := "http://" + *addr + "/connections"
	if *jsonOut {
		url += "?format=json"
	}
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		fmt.Fprintf(os.Stderr, "sixgate status: %v\n", err)
		return 1
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintf(os.Stderr, "sixgate status: %s: %s (is splice46 configured?)\n", url, resp.Status)
		return 1
	}
	if _, err := io.Copy(os.Stdout, resp.Body); err != nil {
		fmt.Fprintf(os.Stderr, "sixgate status: %v\n", err)
		return 1
	}
	return 0
}
