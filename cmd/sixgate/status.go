package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/sixgate/sixgate/api"
	"github.com/sixgate/sixgate/topo"
)

// client is what the read commands share: where the running sixgate
// serves its API, and whether to print its JSON as is.
type client struct {
	addr    *string
	jsonOut *bool
	stdout  io.Writer
	stderr  io.Writer
	name    string
}

func newClient(name, usage string, stdout, stderr io.Writer) (*flag.FlagSet, *client) {
	fs := flag.NewFlagSet("sixgate "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	c := &client{name: name, stdout: stdout, stderr: stderr}
	c.addr = fs.String("http", topo.DefaultHTTP, "`address` of the running sixgate's HTTP server (controller.http)")
	fs.StringVar(c.addr, "metrics", topo.DefaultHTTP, "deprecated alias of -http `address`")
	c.jsonOut = fs.Bool("json", false, "print JSON")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: sixgate %s %s\n", name, usage)
		fs.PrintDefaults()
	}
	return fs, c
}

// get fetches path and returns its body; it reports failures itself.
func (c *client) get(path string) ([]byte, bool) {
	u := "http://" + *c.addr + path
	hc := &http.Client{Timeout: 15 * time.Second}
	resp, err := hc.Get(u)
	if err != nil {
		fmt.Fprintf(c.stderr, "sixgate %s: %v (is sixgate running with controller.http at %s?)\n", c.name, err, *c.addr)
		return nil, false
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		fmt.Fprintf(c.stderr, "sixgate %s: %v\n", c.name, err)
		return nil, false
	}
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintf(c.stderr, "sixgate %s: %s: %s: %s", c.name, u, resp.Status, b)
		return nil, false
	}
	return b, true
}

// show prints the JSON at path as is with -json, else decoded into v and
// formatted by write.
func show[T any](c *client, path string, write func(io.Writer, *T)) int {
	b, ok := c.get(path)
	if !ok {
		return 1
	}
	if *c.jsonOut {
		c.stdout.Write(b)
		return 0
	}
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		fmt.Fprintf(c.stderr, "sixgate %s: %v\n", c.name, err)
		return 1
	}
	write(c.stdout, &v)
	return 0
}

// statusMain prints the switches, their ports with state and counters, the
// role and the configuration hash of a running sixgate. With -connections
// it is the old name of `sixgate connections`.
func statusMain(args []string, stdout, stderr io.Writer) int {
	fs, c := newClient("status", "[-http ADDR] [-json]", stdout, stderr)
	conns := fs.Bool("connections", false, "deprecated: print the spliced connections (use sixgate connections)")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if fs.NArg() != 0 {
		fs.Usage()
		return 2
	}
	if *conns {
		fmt.Fprintln(stderr, "sixgate: status -connections is deprecated; use sixgate connections")
		c.name = "connections"
		return c.connections()
	}
	now := time.Now()
	return show(c, api.PathStatus, func(w io.Writer, st *api.Status) { writeStatus(w, st, now) })
}

// flowsMain prints each switch's flows as installed, read from the switch
// on demand, marking those that differ from the desired state.
func flowsMain(args []string, stdout, stderr io.Writer) int {
	fs, c := newClient("flows", "[-http ADDR] [-dpid DPID] [-json]", stdout, stderr)
	dpid := fs.String("dpid", "", "only this switch: a datapath id in hex or a switch name")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if fs.NArg() != 0 {
		fs.Usage()
		return 2
	}
	path := api.PathFlows
	if *dpid != "" {
		path += "?dpid=" + url.QueryEscape(*dpid)
	}
	code := 0
	rc := show(c, path, func(w io.Writer, f *api.Flows) {
		if !writeFlows(w, f) {
			code = 1
		}
	})
	if rc != 0 {
		return rc
	}
	return code
}

// connectionsMain prints the live spliced connections, the way conntrack
// -L prints its table.
func connectionsMain(args []string, stdout, stderr io.Writer) int {
	fs, c := newClient("connections", "[-http ADDR] [-json]", stdout, stderr)
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if fs.NArg() != 0 {
		fs.Usage()
		return 2
	}
	return c.connections()
}

func (c *client) connections() int {
	path := "/connections"
	if *c.jsonOut {
		path += "?format=json"
	}
	b, ok := c.get(path)
	if !ok {
		fmt.Fprintln(c.stderr, "(the connections are served when splice46 is configured)")
		return 1
	}
	c.stdout.Write(b)
	return 0
}
