package datapath

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"

	"github.com/sixgate/sixgate/afpacket"
	"github.com/sixgate/sixgate/topo"
)

// A hand-over to a new process (an upgrade) stops the path at a batch
// boundary (Quiesce), so that the engine's state no longer changes while
// it is exported, and hands the engine ports' sockets over with their
// state (HandoverPorts). The new process adopts them (AdoptPorts) before
// Start, so frames that arrived meanwhile wait in the sockets and the
// data path does not close. A failed hand-over resumes (Resume).

// handoverGate holds the workers, the timer and packet-ins while the path
// is quiesced: each takes the read lock around one batch, and Quiesce
// takes the write lock once frozen is set, so it returns at a boundary.
type handoverGate struct {
	mu     sync.RWMutex
	frozen atomic.Bool
	thawMu sync.Mutex
	thaw   chan struct{} // closed by Resume

	adoptMu sync.Mutex
	adopted map[string]PortIO // by interface, until Start takes them
}

// enter starts a batch, or reports false while the path is quiesced.
func (p *Path) enter() bool {
	p.ho.mu.RLock()
	if p.ho.frozen.Load() {
		p.ho.mu.RUnlock()
		return false
	}
	return true
}

func (p *Path) leave() { p.ho.mu.RUnlock() }

// waitThaw blocks a worker while the path is quiesced.
func (p *Path) waitThaw(ctx context.Context) {
	p.ho.thawMu.Lock()
	ch := p.ho.thaw
	p.ho.thawMu.Unlock()
	if ch == nil || !p.ho.frozen.Load() {
		return
	}
	select {
	case <-ctx.Done():
	case <-ch:
	}
}

// Quiesce stops the engine's workers, its timer and packet-ins at a
// batch boundary: when it returns, nothing runs the engine, and frames
// stay in the engine ports' sockets. Packet-ins that arrive meanwhile are
// dropped (TCP sends them again).
func (p *Path) Quiesce() {
	p.ho.thawMu.Lock()
	if p.ho.thaw == nil {
		p.ho.thaw = make(chan struct{})
	}
	p.ho.thawMu.Unlock()
	p.ho.frozen.Store(true)
	p.ho.mu.Lock()
	//lint:ignore SA2001 the lock only waits for the batches under way
	p.ho.mu.Unlock()
}

// Resume undoes Quiesce after a failed hand-over.
func (p *Path) Resume() {
	p.ho.thawMu.Lock()
	defer p.ho.thawMu.Unlock()
	p.ho.frozen.Store(false)
	if p.ho.thaw != nil {
		close(p.ho.thaw)
		p.ho.thaw = nil
	}
}

// portsState describes the engine ports' sockets for the process that
// adopts them, in the order of their descriptors.
type portsState struct {
	Version int         `json:"version"`
	Ports   []portState `json:"ports"`
}

type portState struct {
	Interface string               `json:"interface"`
	Group     afpacket.GroupState  `json:"group"`
	Sender    afpacket.SocketState `json:"sender"`
}

const portsStateVersion = 1

// maxPortSockets bounds the sockets a ports state may describe.
const maxPortSockets = 253

// HandoverPorts returns duplicates of the engine ports' descriptors and
// their state, for a new process to adopt; nil in controller mode. Call it
// while the path is quiesced.
func (p *Path) HandoverPorts() ([]byte, []*os.File, error) {
	pio := p.ports.Load()
	if pio == nil {
		return nil, nil, nil
	}
	st := portsState{Version: portsStateVersion}
	var files []*os.File
	fail := func(err error) ([]byte, []*os.File, error) {
		for _, f := range files {
			f.Close()
		}
		return nil, nil, err
	}
	for _, io := range pio.ports {
		a, ok := io.(*afpacketPort)
		if !ok {
			return fail(fmt.Errorf("datapath %s: engine port of kind %s cannot be handed over", p.cfg.Name, io.Kind()))
		}
		gf, gs, err := a.g.Handover()
		if err != nil {
			return fail(err)
		}
		files = append(files, gf...)
		sf, ss, err := a.sender.Handover()
		if err != nil {
			return fail(err)
		}
		files = append(files, sf)
		st.Ports = append(st.Ports, portState{Interface: a.g.Interface, Group: gs, Sender: ss})
	}
	b, err := json.Marshal(st)
	if err != nil {
		return fail(err)
	}
	return b, files, nil
}

// decodePorts reads a ports state and checks it against the number of
// descriptors that came with it.
func decodePorts(data []byte, nfiles int) (portsState, error) {
	var st portsState
	if err := json.Unmarshal(data, &st); err != nil {
		return st, fmt.Errorf("engine ports state: %w", err)
	}
	if st.Version != portsStateVersion {
		return st, fmt.Errorf("engine ports state: version %d, this binary reads %d", st.Version, portsStateVersion)
	}
	n := 0
	for _, ps := range st.Ports {
		if ps.Interface == "" || ps.Interface != ps.Group.Interface || len(ps.Group.Sockets) == 0 {
			return st, errors.New("engine ports state: a port without an interface or sockets")
		}
		n += len(ps.Group.Sockets) + 1
		if n > maxPortSockets {
			return st, errors.New("engine ports state: too many sockets")
		}
	}
	if n != nfiles {
		return st, fmt.Errorf("engine ports state: %d sockets, %d descriptors", n, nfiles)
	}
	return st, nil
}

// AdoptPorts takes the engine ports' sockets a previous process handed
// over; it owns files from then on. Start uses them for the engine ports
// of the same interface (still the same interface, by index) instead of
// opening new ones; the others are closed.
func (p *Path) AdoptPorts(data []byte, files []*os.File) error {
	st, err := decodePorts(data, len(files))
	if err != nil {
		for _, f := range files {
			f.Close()
		}
		return fmt.Errorf("datapath %s: %w", p.cfg.Name, err)
	}
	want := map[string]bool{}
	for _, ep := range p.cfg.Ports {
		want[ep.Interface] = true
	}
	adopted := map[string]PortIO{}
	var errs []error
	for _, ps := range st.Ports {
		n := len(ps.Group.Sockets)
		gf, sf := files[:n], files[n]
		files = files[n+1:]
		ifi, ierr := net.InterfaceByName(ps.Interface)
		if !want[ps.Interface] || adopted[ps.Interface] != nil || ierr != nil || ifi.Index != ps.Group.Index {
			// Not an engine port any more, or not the same interface.
			for _, f := range gf {
				f.Close()
			}
			sf.Close()
			continue
		}
		g, err := afpacket.AdoptGroup(gf, ps.Group)
		if err != nil {
			sf.Close()
			errs = append(errs, err)
			continue
		}
		s, err := afpacket.Adopt(sf, ps.Sender)
		if err != nil {
			g.Close()
			errs = append(errs, err)
			continue
		}
		adopted[ps.Interface] = &afpacketPort{g: g, sender: s}
	}
	if err := errors.Join(errs...); err != nil {
		for _, io := range adopted {
			io.Close()
		}
		return fmt.Errorf("datapath %s: %w", p.cfg.Name, err)
	}
	p.ho.adoptMu.Lock()
	p.ho.adopted = adopted
	p.ho.adoptMu.Unlock()
	return nil
}

// takeAdopted returns the adopted sockets of an engine port, if any.
func (p *Path) takeAdopted(ep *topo.EnginePort) PortIO {
	p.ho.adoptMu.Lock()
	defer p.ho.adoptMu.Unlock()
	io := p.ho.adopted[ep.Interface]
	delete(p.ho.adopted, ep.Interface)
	return io
}

// closeAdopted closes adopted sockets Start did not take.
func (p *Path) closeAdopted() {
	p.ho.adoptMu.Lock()
	defer p.ho.adoptMu.Unlock()
	for name, io := range p.ho.adopted {
		io.Close()
		delete(p.ho.adopted, name)
	}
}
