package main

import (
	"bufio"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	appnat64 "github.com/sixgate/sixgate/apps/nat64"
	"github.com/sixgate/sixgate/datapath"
	"github.com/sixgate/sixgate/nat64"
	"github.com/sixgate/sixgate/packet"
	"github.com/sixgate/sixgate/siit"
	"github.com/sixgate/sixgate/topo"
)

const translateUsage = "usage: sixgate translate -config FILE [-engine siit|nat64] [-framing pcap|len16] [-clock real|packets]"

func translateMain(args []string) int {
	return translate(args, os.Stdin, os.Stdout, os.Stderr)
}

// translate feeds the packets read from in to the translator the
// configuration declares and writes every packet it emits to out, flushed
// packet by packet.
func translate(args []string, in io.Reader, out, stderr io.Writer) int {
	fs := flag.NewFlagSet("sixgate translate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	config := fs.String("config", "", "configuration `file` with a siit section")
	engine := fs.String("engine", "", "the translator to run, `siit or nat64` (needed when the file has both)")
	framing := fs.String("framing", "pcap", "packet framing of standard input and output: `pcap` (LINKTYPE_RAW out; raw IP or Ethernet in) or len16 (2-byte big-endian length, then the IP packet)")
	clock := fs.String("clock", "real", "what drives the translator's timers: `real` time or the packets' pcap timestamps")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), translateUsage)
		fs.PrintDefaults()
	}
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if *config == "" || fs.NArg() != 0 {
		fmt.Fprintln(stderr, translateUsage)
		return 2
	}
	if *framing != "pcap" && *framing != "len16" {
		fmt.Fprintf(stderr, "sixgate translate: -framing %q: want pcap or len16\n", *framing)
		return 2
	}
	if *clock != "real" && *clock != "packets" {
		fmt.Fprintf(stderr, "sixgate translate: -clock %q: want real or packets\n", *clock)
		return 2
	}
	if *clock == "packets" && *framing != "pcap" {
		fmt.Fprintln(stderr, "sixgate translate: -clock packets needs -framing pcap: len16 records carry no time")
		return 2
	}
	t, err := topo.Load(*config)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	name := *engine
	if name == "" {
		switch {
		case t.SIIT != nil && t.NAT64 != nil:
			fmt.Fprintf(stderr, "sixgate translate: %s has a siit and a nat64 section: choose with -engine\n", *config)
			return 2
		case t.NAT64 != nil:
			name = "nat64"
		default:
			name = "siit"
		}
	}
	x := &translator{}
	switch name {
	case "siit":
		if t.SIIT == nil {
			fmt.Fprintf(stderr, "sixgate translate: %s has no siit section\n", *config)
			return 1
		}
		cfg := siitConfig(t.SIIT)
		if *clock == "packets" {
			cfg.Clock = x.packetTime
		}
		tr, err := siit.New(cfg)
		if err != nil {
			fmt.Fprintf(stderr, "sixgate translate: %s: %v\n", *config, err)
			return 1
		}
		x.engine = tr
	case "nat64":
		if t.NAT64 == nil {
			fmt.Fprintf(stderr, "sixgate translate: %s has no nat64 section\n", *config)
			return 1
		}
		cfg := appnat64.Config(t.NAT64)
		// Ports chosen at random are the same on every run: the output
		// of a capture is repeatable.
		cfg.Seed = 1
		if *clock == "packets" {
			cfg.Clock = x.packetTime
		}
		tr, err := nat64.New(cfg)
		if err != nil {
			fmt.Fprintf(stderr, "sixgate translate: %s: %v\n", *config, err)
			return 1
		}
		for _, w := range t.Warnings {
			fmt.Fprintf(stderr, "sixgate translate: warning: %v\n", w)
		}
		x.engine = tr
	default:
		fmt.Fprintf(stderr, "sixgate translate: -engine %q: want siit or nat64\n", *engine)
		return 2
	}

	x.batch = packet.NewBatch(8, packet.DefaultBufSize)
	bw := bufio.NewWriter(out)
	if *framing == "pcap" {
		w := pcapgo.NewWriter(bw)
		if err := w.WriteFileHeader(65535, layers.LinkTypeRaw); err != nil {
			fmt.Fprintf(stderr, "sixgate translate: %v\n", err)
			return 1
		}
		x.write = func(ts time.Time, b []byte) error {
			return w.WritePacket(gopacket.CaptureInfo{Timestamp: ts, CaptureLength: len(b), Length: len(b)}, b)
		}
	} else {
		x.write = func(_ time.Time, b []byte) error {
			var l [2]byte
			binary.BigEndian.PutUint16(l[:], uint16(len(b)))
			if _, err := bw.Write(l[:]); err != nil {
				return err
			}
			_, err := bw.Write(b)
			return err
		}
	}
	x.flush = bw.Flush
	if err := x.flush(); err != nil {
		fmt.Fprintf(stderr, "sixgate translate: %v\n", err)
		return 1
	}

	var read func() ([]byte, time.Time, error)
	if *framing == "pcap" {
		read, err = pcapReader(in)
		if err != nil {
			fmt.Fprintf(stderr, "sixgate translate: reading pcap: %v\n", err)
			return 1
		}
	} else {
		read = len16Reader(in)
	}

	stop := make(chan struct{})
	var timers sync.WaitGroup
	if *clock == "real" {
		timers.Add(1)
		go func() {
			defer timers.Done()
			tick := time.NewTicker(time.Second)
			defer tick.Stop()
			for {
				select {
				case <-stop:
					return
				case now := <-tick.C:
					x.expire(now)
				}
			}
		}()
	}
	code := 0
	for n := 1; ; n++ {
		b, ts, err := read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			fmt.Fprintf(stderr, "sixgate translate: record %d: %v\n", n, err)
			code = 1
			break
		}
		if err := x.handle(b, ts, *clock == "packets"); err != nil {
			fmt.Fprintf(stderr, "sixgate translate: writing: %v\n", err)
			code = 1
			break
		}
	}
	close(stop)
	timers.Wait()
	return code
}

// translator runs one engine for the translate command: packets from
// standard input and timer ticks take turns.
type translator struct {
	mu      sync.Mutex
	engine  datapath.Engine
	batch   *packet.Batch
	now     time.Time // the packet clock
	expired time.Time // when the packet clock last ran the timers
	write   func(time.Time, []byte) error
	flush   func() error
	werr    error
}

func (x *translator) packetTime() time.Time { return x.now }

func (x *translator) handle(b []byte, ts time.Time, packetClock bool) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	if packetClock {
		if ts.After(x.now) {
			x.now = ts
		}
		if x.expired.IsZero() {
			x.expired = x.now
		}
		for x.now.Sub(x.expired) >= time.Second {
			x.expired = x.expired.Add(time.Second)
			x.engine.Expire(x.batch)
		}
	} else {
		ts = time.Now()
	}
	x.engine.Handle(b, x.batch)
	return x.emit(ts)
}

func (x *translator) expire(now time.Time) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.engine.Expire(x.batch)
	if err := x.emit(now); err != nil && x.werr == nil {
		x.werr = err
	}
}

// emit writes out what the engine put in the batch; x.mu is held.
func (x *translator) emit(ts time.Time) error {
	defer x.batch.Reset()
	if x.werr != nil {
		return x.werr
	}
	for _, p := range x.batch.Packets {
		if err := x.write(ts, p.Data); err != nil {
			return err
		}
	}
	if x.batch.Len() == 0 {
		return nil
	}
	return x.flush()
}

// pcapReader reads raw IP packets from a pcap stream of raw IP
// (LINKTYPE_RAW, LINKTYPE_IPV4, LINKTYPE_IPV6) or Ethernet frames.
func pcapReader(in io.Reader) (func() ([]byte, time.Time, error), error) {
	r, err := pcapgo.NewReader(in)
	if err != nil {
		return nil, err
	}
	lt := r.LinkType()
	switch lt {
	case layers.LinkTypeRaw, layers.LinkTypeIPv4, layers.LinkTypeIPv6, layers.LinkTypeEthernet, 12 /* LINKTYPE_RAW on OpenBSD */ :
	default:
		return nil, fmt.Errorf("link type %v: want raw IP or Ethernet", lt)
	}
	return func() ([]byte, time.Time, error) {
		data, ci, err := r.ReadPacketData()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil, time.Time{}, io.EOF
			}
			return nil, time.Time{}, err
		}
		if lt == layers.LinkTypeEthernet {
			data, err = stripEthernet(data)
			if err != nil {
				return nil, ci.Timestamp, err
			}
		}
		if err := checkIP(data); err != nil {
			return nil, ci.Timestamp, err
		}
		return data, ci.Timestamp, nil
	}, nil
}

// stripEthernet returns the IP packet in an Ethernet frame, under at most
// two VLAN tags.
func stripEthernet(f []byte) ([]byte, error) {
	off := 12
	for range 3 {
		if len(f) < off+2 {
			return nil, fmt.Errorf("an Ethernet frame of %d bytes is too short", len(f))
		}
		switch et := binary.BigEndian.Uint16(f[off:]); et {
		case 0x0800, 0x86dd:
			return f[off+2:], nil
		case 0x8100, 0x88a8:
			off += 4
		default:
			return nil, fmt.Errorf("an Ethernet frame of type %#04x is not IP", et)
		}
	}
	return nil, fmt.Errorf("an Ethernet frame with more than two VLAN tags")
}

func checkIP(b []byte) error {
	if len(b) == 0 {
		return fmt.Errorf("empty packet")
	}
	if v := b[0] >> 4; v != 4 && v != 6 {
		return fmt.Errorf("IP version %d: want an IPv4 or IPv6 packet", v)
	}
	return nil
}

// len16Reader reads records of a 2-byte big-endian length and a packet.
func len16Reader(in io.Reader) func() ([]byte, time.Time, error) {
	br := bufio.NewReader(in)
	buf := make([]byte, 65535)
	return func() ([]byte, time.Time, error) {
		var l [2]byte
		if _, err := io.ReadFull(br, l[:]); err != nil {
			if errors.Is(err, io.ErrUnexpectedEOF) {
				return nil, time.Time{}, fmt.Errorf("1 byte where a 2-byte length belongs")
			}
			return nil, time.Time{}, err
		}
		n := int(binary.BigEndian.Uint16(l[:]))
		b := buf[:n]
		if got, err := io.ReadFull(br, b); err != nil {
			return nil, time.Time{}, fmt.Errorf("record of %d bytes cut at %d", n, got)
		}
		return b, time.Time{}, checkIP(b)
	}
}

// siitConfig is the engine's configuration for a siit section.
func siitConfig(s *topo.SIIT) siit.Config {
	c := siit.Config{
		Pool6:                s.Pool6,
		RFC6791v4:            s.RFC6791v4,
		RFC6791v6:            s.RFC6791v6,
		LowestIPv6MTU:        s.LowestIPv6MTU,
		AmendUDPChecksumZero: s.AmendUDPChecksumZero,
		IPv4:                 siit.Side{Address: s.IPv4.Address.Addr(), MTU: s.IPv4.MTU},
		IPv6:                 siit.Side{Address: s.IPv6.Address.Addr(), MTU: s.IPv6.MTU},
	}
	for _, e := range s.EAM {
		c.EAM = append(c.EAM, siit.EAM{IPv4: e.IPv4, IPv6: e.IPv6})
	}
	return c
}
