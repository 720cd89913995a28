package topo

import (
	"slices"
	"sort"
)

// PortDown tells path computation which ports are down. It is asked about
// link ends and host ports; nil means every port is up.
type PortDown func(dpid uint64, port uint32) bool

// Forwarding is the result of one path computation over the links that are
// up: for every switch, the output port towards every reachable host. It is
// immutable; when a port changes state, compute a
// new one (LinkState does the bookkeeping) and compare with Equal.
//
// Paths are shortest in hops. Among equally short paths each switch takes the
// link to the neighbour with the lowest name, then its own lowest port, so
// the result depends only on the topology and the set of down ports, never on
// map order or the order of events.
type Forwarding struct {
	topo *Topology
	// toSwitch[from][to] is the port of switch from on its path to switch to.
	toSwitch map[uint64]map[uint64]uint32
	// hostUp holds the hosts whose own port is up.
	hostUp map[*Host]bool
}

// adjacency is one usable link seen from one of its ends.
type adjacency struct {
	port     uint32 // local port
	peer     *Switch
	peerPort uint32
}

// Forwarding computes paths with the ports for which down returns true taken
// out of service. A link is usable only when both its ends are up.
func (t *Topology) Forwarding(down PortDown) *Forwarding {
	if down == nil {
		down = func(uint64, uint32) bool { return false }
	}
	f := &Forwarding{
		topo:     t,
		toSwitch: map[uint64]map[uint64]uint32{},
		hostUp:   map[*Host]bool{},
	}
	for _, h := range t.Hosts {
		if !down(h.DPID, h.Port) {
			f.hostUp[h] = true
		}
	}

	adj := t.adjacencies(down)
	order := t.switchesByName()
	for _, dst := range order {
		dist := hops(dst, order, adj)
		for _, s := range order {
			if s == dst || dist[s] < 0 {
				continue
			}
			if f.toSwitch[s.DPID] == nil {
				f.toSwitch[s.DPID] = map[uint64]uint32{}
			}
			f.toSwitch[s.DPID][dst.DPID] = towards(s, dist, adj).port
		}
	}
	return f
}

// adjacencies lists, for every switch, its usable links sorted by the
// tie-break order: neighbour name, then local port.
func (t *Topology) adjacencies(down PortDown) map[*Switch][]adjacency {
	adj := map[*Switch][]adjacency{}
	for _, l := range t.Links {
		if down(l.A.DPID, l.A.Port) || down(l.B.DPID, l.B.Port) {
			continue
		}
		a, b := t.switchByDPID[l.A.DPID], t.switchByDPID[l.B.DPID]
		adj[a] = append(adj[a], adjacency{port: l.A.Port, peer: b, peerPort: l.B.Port})
		adj[b] = append(adj[b], adjacency{port: l.B.Port, peer: a, peerPort: l.A.Port})
	}
	for _, list := range adj {
		sort.Slice(list, func(i, j int) bool {
			if list[i].peer.Name != list[j].peer.Name {
				return list[i].peer.Name < list[j].peer.Name
			}
			return list[i].port < list[j].port
		})
	}
	return adj
}

func (t *Topology) switchesByName() []*Switch {
	order := slices.Clone(t.Switches)
	sort.Slice(order, func(i, j int) bool { return order[i].Name < order[j].Name })
	return order
}

// hops returns the distance in links from every switch to root, -1 for
// switches that cannot reach it.
func hops(root *Switch, all []*Switch, adj map[*Switch][]adjacency) map[*Switch]int {
	dist := make(map[*Switch]int, len(all))
	for _, s := range all {
		dist[s] = -1
	}
	dist[root] = 0
	queue := []*Switch{root}
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
		for _, a := range adj[s] {
			if dist[a.peer] < 0 {
				dist[a.peer] = dist[s] + 1
				queue = append(queue, a.peer)
			}
		}
	}
	return dist
}

// towards picks the first link of s, in tie-break order, that is one hop
// closer to the root of dist. Every switch choosing this way gives loop-free
// paths, because each step strictly shortens the distance.
func towards(s *Switch, dist map[*Switch]int, adj map[*Switch][]adjacency) adjacency {
	for _, a := range adj[s] {
		if dist[a.peer] == dist[s]-1 {
			return a
		}
	}
	panic("topo: switch with a distance but no link towards the root")
}
