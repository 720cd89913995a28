// Package topo reads the one YAML file that describes a sixgate fabric: the
// controller's own settings, the switches and the links between them, the
// hosts and where they are plugged in, virtual gateways, and the services
// (splice46) that let IPv4 clients reach IPv6 servers.
//
// Load and Parse check the whole file and report every problem at once, each
// naming the file, line and field:
//
//	fabric.yaml:12: hosts[2].mac: duplicate MAC 00:00:0a:00:00:01 (also hosts[0] at line 7)
//
// A Topology never changes once loaded. Link state does: LinkState records
// the ports that PORT_STATUS reports down, and Forwarding computes, for the
// links still up, the output port of every switch towards every host
// (shortest path in hops, ties broken by neighbour name then port).
//
// The file format is summarised in README.md beside this file and described
// key by key in docs/configuration.md; examples/ holds working files.
package topo
