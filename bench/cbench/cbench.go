// Package cbench measures an OpenFlow 1.3 controller the way cbench does:
// simulated switches connect to it over TCP, complete the handshake, and
// send packet-ins whose Ethernet addresses vary over a fixed set of hosts,
// as a learning switch sees them. The controller's answers (flow-mods and
// packet-outs) are counted.
//
// Two modes, as in cbench:
//
//   - Throughput: each switch keeps up to Window packet-ins outstanding
//     (sent, not yet answered by a packet-out) and refills the window as
//     answers come. Window defaults to 100, the packet-ins Open vSwitch
//     queues per controller connection, so a controller is never asked to
//     hold more than a real switch would send it.
//   - Latency: one packet-in outstanding per switch; the next is sent when
//     the previous one's packet-out arrives.
//
// Every packet-in carries its sequence number and send time in the frame,
// after the Ethernet header; a learning switch returns the frame in its
// packet-out, which gives each answer's latency without per-packet state.
// Each packet-in is answered by exactly one packet-out (flooded or direct),
// so "responses" counts packet-outs; flow-mods are counted apart.
package cbench

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sixgate/sixgate/controller/ofp"
)

// Mode selects how many packet-ins a switch keeps outstanding.
type Mode string

const (
	Throughput Mode = "throughput"
	Latency    Mode = "latency"
)

// Config describes one run. Zero values take the defaults shown.
type Config struct {
	// Addr is the controller's host:port.
	Addr string
	Mode Mode
	// Switches is the number of simulated switches (16).
	Switches int
	// Hosts is the number of distinct MAC addresses per switch (100):
	// few enough that the slowest controller learns them all during the
	// warm-up, so that every counted packet-in costs the same work (a
	// flow-mod and a packet-out).
	Hosts int
	// Ports is the number of ports per switch; host i sits on port
	// 1 + i mod Ports (4).
	Ports int
	// Window is the packet-ins each switch keeps outstanding in
	// throughput mode (100). Latency mode uses 1.
	Window int
	// FrameLen is the length of the Ethernet frame in each packet-in (64).
	FrameLen int
	// Warmup is run before counting, so that the controller has learned
	// every host and connected every switch (1 s).
	Warmup time.Duration
	// Duration is the counted part of the run (3 s).
	Duration time.Duration
	// ConnectTimeout bounds the wait for every switch to be ready (10 s):
	// connected, and its table-miss flow received.
	ConnectTimeout time.Duration
	// StallTimeout is how long a switch waits for any answer before it
	// counts its outstanding packet-ins as lost and sends again (500 ms).
	StallTimeout time.Duration
	// MaxSamples bounds the latency samples kept per switch (1<<18);
	// beyond it samples are kept by reservoir sampling.
	MaxSamples int
}

func (c *Config) setDefaults() {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	defd := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	if c.Mode == "" {
		c.Mode = Throughput
	}
	def(&c.Switches, 16)
	def(&c.Hosts, 100)
	def(&c.Ports, 4)
	def(&c.Window, 100)
	if c.Mode == Latency {
		c.Window = 1
	}
	def(&c.FrameLen, 64)
	c.FrameLen = max(c.FrameLen, frameMin)
	def(&c.MaxSamples, 1<<18)
	defd(&c.Warmup, time.Second)
	defd(&c.Duration, 3*time.Second)
	defd(&c.ConnectTimeout, 10*time.Second)
	defd(&c.StallTimeout, 500*time.Millisecond)
}

// Result is what one run measured, over Duration only.
type Result struct {
	Mode     Mode          `json:"mode"`
	Switches int           `json:"switches"`
	Window   int           `json:"window"`
	Duration time.Duration `json:"duration_ns"`
	// PacketIns, PacketOuts and FlowMods are counted in the window.
	PacketIns  uint64 `json:"packet_ins"`
	PacketOuts uint64 `json:"packet_outs"`
	FlowMods   uint64 `json:"flow_mods"`
	// Lost counts packet-ins given up after StallTimeout without answer.
	Lost uint64 `json:"lost"`
	// ResponsesPerSec is packet-outs per second; FlowModsPerSec likewise.
	ResponsesPerSec float64 `json:"responses_per_sec"`
	FlowModsPerSec  float64 `json:"flow_mods_per_sec"`
	// Latency percentiles from packet-in sent to packet-out read.
	P50     time.Duration `json:"p50_ns"`
	P90     time.Duration `json:"p90_ns"`
	P99     time.Duration `json:"p99_ns"`
	Samples int           `json:"samples"`
}

func (r *Result) String() string {
	return fmt.Sprintf("%s: %d switches, %.0f responses/s, %.0f flow-mods/s, p50 %v p90 %v p99 %v (%d samples, %d lost)",
		r.Mode, r.Switches, r.ResponsesPerSec, r.FlowModsPerSec, r.P50, r.P90, r.P99, r.Samples, r.Lost)
}

// The frame: Ethernet header with an experimental EtherType (so that a
// controller parsing the packet looks no deeper), then sequence number and
// send time.
const (
	etherType = 0x88b5
	offSeq    = 14
	offTime   = 22
	frameMin  = 30
)

// run is shared by the switches of one run.
type run struct {
	cfg       Config
	start     time.Time // the clock origin of send times in frames
	measuring atomic.Bool
}

// Run connects the switches, waits until each is ready, warms up, counts
// for Duration, and returns the totals. The connections are closed on
// return.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	cfg.setDefaults()
	if cfg.Addr == "" {
		return nil, errors.New("cbench: no controller address")
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	r := &run{cfg: cfg, start: time.Now()}
	sws := make([]*simSwitch, cfg.Switches)
	errc := make(chan error, cfg.Switches)
	var wg sync.WaitGroup
	for i := range sws {
		sws[i] = newSimSwitch(r, i)
		wg.Add(1)
		go func(s *simSwitch) {
			defer wg.Done()
			if err := s.serve(ctx); err != nil && ctx.Err() == nil {
				errc <- fmt.Errorf("switch %d: %w", s.idx+1, err)
				cancel()
			}
		}(sws[i])
	}
	defer func() {
		cancel()
		wg.Wait()
	}()

	deadline := time.NewTimer(cfg.ConnectTimeout)
	defer deadline.Stop()
	for _, s := range sws {
		select {
		case <-s.ready:
		case err := <-errc:
			return nil, err
		case <-deadline.C:
			return nil, fmt.Errorf("cbench: switch %d not ready after %v (no table-miss flow from the controller)", s.idx+1, cfg.ConnectTimeout)
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}

	wait := func(d time.Duration) error {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
			return nil
		case err := <-errc:
			return err
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if err := wait(cfg.Warmup); err != nil {
		return nil, err
	}
	r.measuring.Store(true)
	t0 := time.Now()
	if err := wait(cfg.Duration); err != nil {
		return nil, err
	}
	r.measuring.Store(false)
	elapsed := time.Since(t0)
	cancel()
	wg.Wait()

	res := &Result{Mode: cfg.Mode, Switches: cfg.Switches, Window: cfg.Window, Duration: elapsed}
	var samples []int64
	for _, s := range sws {
		res.PacketIns += s.packetIns.Load()
		res.PacketOuts += s.packetOuts.Load()
		res.FlowMods += s.flowMods.Load()
		res.Lost += s.lost.Load()
		samples = append(samples, s.samples...)
	}
	res.ResponsesPerSec = float64(res.PacketOuts) / elapsed.Seconds()
	res.FlowModsPerSec = float64(res.FlowMods) / elapsed.Seconds()
	res.Samples = len(samples)
	if len(samples) > 0 {
		slices.Sort(samples)
		pct := func(p float64) time.Duration { return time.Duration(samples[int(p*float64(len(samples)-1))]) }
		res.P50, res.P90, res.P99 = pct(0.50), pct(0.90), pct(0.99)
	}
	return res, nil
}

// simSwitch is one simulated datapath. Its reader goroutine answers the
// controller and counts; its sender goroutine keeps the window full. Both
// write through wmu so that messages never interleave.
type simSwitch struct {
	run *run
	idx int

	conn  net.Conn
	wmu   sync.Mutex
	ready chan struct{}

	cookie   uint64        // of the table-miss flow, carried by packet-ins as a switch would
	inflight atomic.Int64  // sent, not yet answered
	wake     chan struct{} // an answer arrived
	answered atomic.Int64  // answers ever, to detect a stall

	packetIns, packetOuts, flowMods, lost atomic.Uint64

	samples []int64 // latency in ns, written by the reader only
	seen    int     // samples offered, for reservoir sampling
	rng     *rand.Rand
}

func newSimSwitch(r *run, idx int) *simSwitch {
	return &simSwitch{run: r, idx: idx, ready: make(chan struct{}), wake: make(chan struct{}, 1),
		rng: rand.New(rand.NewPCG(uint64(idx), 0x5eed))}
}

func (s *simSwitch) dpid() uint64 { return uint64(s.idx + 1) }

func (s *simSwitch) write(b []byte) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	_, err := s.conn.Write(b)
	return err
}

func (s *simSwitch) send(m ofp.Message) error {
	b, err := ofp.Marshal(m)
	if err != nil {
		return err
	}
	return s.write(b)
}

// serve dials the controller (retrying while it starts) and runs the
// switch until ctx ends.
func (s *simSwitch) serve(ctx context.Context) error {
	var d net.Dialer
	for {
		c, err := d.DialContext(ctx, "tcp", s.run.cfg.Addr)
		if err == nil {
			s.conn = c
			break
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(100 * time.Millisecond):
		}
	}
	stop := context.AfterFunc(ctx, func() { s.conn.Close() })
	defer stop()
	defer s.conn.Close()
	if err := s.send(ofp.NewHello()); err != nil {
		return err
	}
	sendErr := make(chan error, 1)
	go func() {
		select {
		case <-s.ready:
			sendErr <- s.sendLoop(ctx)
		case <-ctx.Done():
			sendErr <- nil
		}
	}()
	err := s.readLoop()
	s.conn.Close() // ends a sender blocked in a write
	<-sendErr      // its error is the reader's, seen from the other side
	if ctx.Err() != nil {
		return nil
	}
	if errors.Is(err, io.EOF) {
		err = errors.New("controller closed the connection")
	}
	return err
}

// readLoop answers the handshake and requests, and counts answers. Until
// the switch is ready every message is decoded; after, packet-outs and
// flow-mods are recognised by their type byte alone, so that the
// simulator costs the measurement little.
func (s *simSwitch) readLoop() error {
	r := ofp.NewReader(bufio.NewReaderSize(s.conn, 256<<10))
	isReady := false
	for {
		b, err := r.ReadRaw()
		if err != nil {
			return err
		}
		if isReady {
			switch ofp.Type(b[1]) {
			case ofp.TypePacketOut:
				s.packetOut(b)
				continue
			case ofp.TypeFlowMod:
				if s.run.measuring.Load() {
					s.flowMods.Add(1)
				}
				continue
			}
		}
		m, err := ofp.Decode(b)
		if err != nil {
			return fmt.Errorf("controller sent a bad message: %w", err)
		}
		if fm, ok := m.(*ofp.FlowMod); ok && !isReady && fm.Command == ofp.FlowAdd && fm.Priority == 0 && len(fm.Match.Fields) == 0 {
			s.cookie = fm.Cookie
			isReady = true
			close(s.ready)
			continue
		}
		if rep := s.answer(m); rep != nil {
			rep.SetXID(m.XID())
			if err := s.send(rep); err != nil {
				return err
			}
		}
	}
}

// answer is the switch's reply to a request, or nil.
func (s *simSwitch) answer(m ofp.Message) ofp.Message {
	switch m := m.(type) {
	case *ofp.EchoRequest:
		return &ofp.EchoReply{Data: m.Data}
	case *ofp.FeaturesRequest:
		return &ofp.FeaturesReply{DatapathID: s.dpid(), NTables: 254, Capabilities: ofp.CapFlowStats}
	case *ofp.BarrierRequest:
		return &ofp.BarrierReply{}
	case *ofp.GetConfigRequest:
		return &ofp.GetConfigReply{SwitchConfig: ofp.SwitchConfig{MissSendLen: ofp.MaxLenNoBuffer}}
	case *ofp.MultipartRequest:
		switch m.MPType {
		case ofp.MultipartPortDesc:
			ports := make([]ofp.Port, s.run.cfg.Ports)
			for i := range ports {
				ports[i] = ofp.Port{PortNo: uint32(i + 1), Name: fmt.Sprintf("s%d-eth%d", s.idx+1, i+1),
					HWAddr: net.HardwareAddr{0x02, 0xff, byte(s.idx >> 8), byte(s.idx), 0, byte(i + 1)}}
			}
			return &ofp.MultipartReply{MPType: m.MPType, Body: &ofp.PortDescReply{Ports: ports}}
		case ofp.MultipartFlow:
			return &ofp.MultipartReply{MPType: m.MPType, Body: &ofp.FlowStatsReply{}}
		}
		return &ofp.ErrorMsg{ErrType: ofp.ErrBadRequest, Code: ofp.BadRequestBadMultipart}
	}
	return nil
}

// packetOut counts one answer, records its latency and frees its slot.
func (s *simSwitch) packetOut(b []byte) {
	s.answered.Add(1)
	if s.inflight.Add(-1) < 0 {
		s.inflight.Add(1) // an answer to a packet-in already given up
	}
	select {
	case s.wake <- struct{}{}:
	default:
	}
	if !s.run.measuring.Load() {
		return
	}
	s.packetOuts.Add(1)
	// header, buffer_id, in_port, actions_len, pad, actions, frame
	if len(b) < 24 {
		return
	}
	off := 24 + int(binary.BigEndian.Uint16(b[16:]))
	if len(b) < off+frameMin || binary.BigEndian.Uint16(b[off+12:]) != etherType {
		return
	}
	sent := int64(binary.BigEndian.Uint64(b[off+offTime:]))
	lat := int64(time.Since(s.run.start)) - sent
	s.seen++
	if len(s.samples) < s.run.cfg.MaxSamples {
		s.samples = append(s.samples, lat)
	} else if j := s.rng.IntN(s.seen); j < len(s.samples) {
		s.samples[j] = lat
	}
}

// sendLoop keeps the window full: it sends as many packet-ins as there
// are free slots in one write, then waits for an answer. When nothing is
// answered for StallTimeout the outstanding ones are counted lost.
func (s *simSwitch) sendLoop(ctx context.Context) error {
	cfg := s.run.cfg
	tmpl, dataOff, err := s.template()
	if err != nil {
		return err
	}
	batch := make([]byte, 0, len(tmpl)*cfg.Window)
	stall := time.NewTimer(cfg.StallTimeout)
	defer stall.Stop()
	var seq uint64
	lastAnswered := s.answered.Load()
	for {
		free := int64(cfg.Window) - s.inflight.Load()
		if free > 0 {
			batch = batch[:0]
			now := uint64(time.Since(s.run.start))
			for range free {
				batch = append(batch, tmpl...)
				m := batch[len(batch)-len(tmpl):]
				s.fill(m, dataOff, seq, now)
				seq++
			}
			s.inflight.Add(free)
			if s.run.measuring.Load() {
				s.packetIns.Add(uint64(free))
			}
			if err := s.write(batch); err != nil {
				return err
			}
		}
		if !stall.Stop() {
			select {
			case <-stall.C:
			default:
			}
		}
		stall.Reset(cfg.StallTimeout)
		select {
		case <-ctx.Done():
			return nil
		case <-s.wake:
		case <-stall.C:
			if a := s.answered.Load(); a == lastAnswered {
				if n := s.inflight.Swap(0); n > 0 && s.run.measuring.Load() {
					s.lost.Add(uint64(n))
				}
			}
		}
		lastAnswered = s.answered.Load()
	}
}

// template is an encoded packet-in from port 1 whose frame fill completes.
func (s *simSwitch) template() ([]byte, int, error) {
	frame := make([]byte, s.run.cfg.FrameLen)
	pi := &ofp.PacketIn{BufferID: ofp.NoBufferID, TotalLen: uint16(len(frame)), Reason: ofp.PacketInNoMatch,
		Cookie: s.cookie, Match: ofp.NewMatch(ofp.InPort(1)), Data: frame}
	b, err := ofp.Marshal(pi)
	if err != nil {
		return nil, 0, err
	}
	return b, len(b) - len(frame), nil
}

// fill makes packet-in number seq of this switch in m: a fresh xid, the
// source host's port, and a frame from host seq to host seq+1 (mod Hosts),
// so that once every host has been seen each destination is known.
func (s *simSwitch) fill(m []byte, dataOff int, seq, now uint64) {
	cfg := s.run.cfg
	src := int(seq % uint64(cfg.Hosts))
	dst := (src + 1) % cfg.Hosts
	binary.BigEndian.PutUint32(m[4:], uint32(seq))
	// The in_port OXM's value sits at the end of the 8-byte OXM that
	// starts after the packet-in's fixed part and the match header.
	binary.BigEndian.PutUint32(m[ofp.HeaderLen+16+4+4:], uint32(1+src%cfg.Ports))
	f := m[dataOff:]
	s.hostMAC(f[0:6], dst)
	s.hostMAC(f[6:12], src)
	binary.BigEndian.PutUint16(f[12:], etherType)
	binary.BigEndian.PutUint64(f[offSeq:], seq)
	binary.BigEndian.PutUint64(f[offTime:], now)
}

// hostMAC writes host h of this switch's MAC: locally administered, unique
// across switches.
func (s *simSwitch) hostMAC(b []byte, h int) {
	b[0], b[1], b[2] = 0x02, byte(s.idx>>8), byte(s.idx)
	b[3], b[4], b[5] = byte(h>>16), byte(h>>8), byte(h)
}
