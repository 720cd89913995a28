package proxy46

import (
	"encoding/binary"
	"net/netip"

	"github.com/sixgate/sixgate/packet"
)

// The data connections of FTP control connections (ftp.go).
//
// Passive mode: the client connects to the VIP port the gateway lent. The
// SYN finds the expectation, which is used once; the connection is then a
// splice like any other, to a service of its own whose one backend is the
// server's address and the port of its 229 reply.
//
// Active mode: the server connects from its address to the client's
// address in pool6. The SYN finds the expectation, used once, and the
// engine opens a connection in the other direction: nothing is
// terminated, the three segments of the handshake are translated as they
// come (checked against each other) and from there the connection is a
// spliced one with no shift of sequence numbers or timestamps, whose
// segments take the established path both ways. The client sees it come
// from the VIP and the server's own source port.

// dataService is the service of one data connection: the VIP and port
// the client sees, and the server's address and port as its one backend,
// chosen without waiting for bytes.
func dataService(vip [4]byte, port uint16, server [16]byte, serverPort uint16) *service {
	svc := newService(Service{VIP: netip.AddrFrom4(vip), Port: port, Policy: PolicyHash,
		Backends: []Backend{{Addr: netip.AddrPortFrom(netip.AddrFrom16(server), serverPort)}}})
	svc.data = true
	return svc
}

// passiveService returns the service of a client's SYN to a port the
// gateway lent, using the expectation up; nil if none is expected.
func (e *Engine) passiveService(k key4) *service {
	x := e.passive[vipKey{k.vip, k.vipPort}]
	if x == nil {
		return nil
	}
	if x.client != k.client {
		e.stats.FTP.Refused++
		return nil
	}
	v := *x
	e.unexpect(x) // which clears x for use again
	e.stats.FTP.PassiveOpened++
	return dataService(v.vip, v.port, v.server, v.serverPort)
}

// acceptActive opens the connection of a server's SYN that an active-mode
// expectation waits for, and sends the SYN on to the client. It returns
// false if none does.
func (e *Engine) acceptActive(k key6, pkt []byte, tcp packet.TCP, doff int, out *packet.Batch) (packet.Verdict, bool) {
	x := e.active[activeKey{server: k.backend, client6: k.client6, port: k.clientPort}]
	if x == nil {
		return 0, false
	}
	k4 := key4{client: x.client, vip: x.vip, clientPort: x.port, vipPort: k.backendPort}
	if e.by4[k4] != nil || e.by6[k] != nil {
		return e.drop(DropPortCollision), true
	}
	if e.tableFull() {
		return e.drop(DropTableFull), true
	}
	if e.embryonic() >= e.cfg.MaxEmbryonic {
		return e.drop(DropEmbryonicFull), true
	}
	vip := x.vip
	e.unexpect(x) // which clears x for use again
	e.stats.FTP.ActiveOpened++
	o := parseSynOptions(tcp.Options())
	now := e.now
	c := &conn{
		svc:         dataService(vip, k.backendPort, k.backend, k.backendPort),
		state:       StateBackendSyn,
		k4:          k4,
		k6:          k,
		backend:     0,
		fromBackend: true,
		isnBackend:  tcp.Seq(),
		isnEdge:     tcp.Seq(),
		mssBackend:  defaultMSS6,
		winB:        tcp.Window(),
		tsBackend:   o.tsVal,
		tsValB:      o.tsVal,
		created:     now,
		lastSeen:    now,
	}
	if o.hasMSS {
		c.mssBackend = o.mss
	}
	c.mssBackend = uint16(max(min(int(c.mssBackend), e.cfg.MTU6-60), minMSS))
	c.backendWScale, c.scaleBackend = o.hasWScale, o.wscale
	c.translateTS = o.hasTS // until the client's answer says otherwise
	c.clientSACK = o.sackOK
	c.pick = choice{decided: true, next: 1}
	e.insert(c)
	e.by6[k] = c
	c.svc.backends[0].chosen++
	c.adj46, c.adj64 = addressAdjustments(c.k4, c.k6)
	e.schedule(c, now+int64(e.cfg.Timeouts.Embryonic))
	e.forwardHandshake(c, false, pkt, tcp, doff, out)
	return packet.Consumed, true
}

// activeFromBackend handles the server's segments of an active-mode data
// connection off the established path: its SYN again, a RST during the
// handshake.
func (e *Engine) activeFromBackend(c *conn, pkt []byte, tcp packet.TCP, doff int, out *packet.Batch) packet.Verdict {
	flags := tcp.Flags()
	switch {
	case flags&(packet.TCPFlagSYN|packet.TCPFlagACK|packet.TCPFlagRST) == packet.TCPFlagSYN && tcp.Seq() == c.isnBackend:
		e.forwardHandshake(c, false, pkt, tcp, doff, out) // the client's SYN-ACK or this SYN was lost
		return packet.Consumed
	case flags&packet.TCPFlagRST != 0 && c.state == StateBackendSyn && tcp.Seq() == c.isnBackend+1:
		e.forwardHandshake(c, false, pkt, tcp, doff, out)
		e.remove(c)
		return packet.Consumed
	}
	return e.drop(DropStateMismatch)
}

// activeFromClient handles the client's segments of an active-mode data
// connection off the established path: its SYN-ACK, which completes the
// connection (sent again if the server's ACK was lost), or its RST
// refusing it.
func (e *Engine) activeFromClient(c *conn, pkt []byte, tcp packet.TCP, doff int, out *packet.Batch) packet.Verdict {
	flags := tcp.Flags()
	synAck := flags&(packet.TCPFlagSYN|packet.TCPFlagACK|packet.TCPFlagRST) == packet.TCPFlagSYN|packet.TCPFlagACK
	switch {
	case c.state == StateBackendSyn && flags&packet.TCPFlagRST != 0:
		if flags&packet.TCPFlagACK == 0 || tcp.Ack() != c.isnBackend+1 {
			return e.drop(DropBadAck)
		}
		e.forwardHandshake(c, true, pkt, tcp, doff, out)
		e.remove(c)
		return packet.Consumed
	case c.state == StateBackendSyn && synAck:
		if tcp.Ack() != c.isnBackend+1 {
			return e.drop(DropBadAck)
		}
		e.establishActive(c, tcp)
		e.forwardHandshake(c, true, pkt, tcp, doff, out)
		return packet.Consumed
	case c.state == StateEstablished && synAck && tcp.Seq() == c.isnClient:
		e.forwardHandshake(c, true, pkt, tcp, doff, out)
		return packet.Consumed
	}
	return e.drop(DropStateMismatch)
}

// establishActive takes what the client's SYN-ACK says and sets the
// connection up as a spliced one with no shift: window scale and
// timestamps are used end to end if both offered them, and neither
// changes on the way.
func (e *Engine) establishActive(c *conn, tcp packet.TCP) {
	o := parseSynOptions(tcp.Options())
	c.isnClient = tcp.Seq()
	c.mssClient = defaultMSS4
	if o.hasMSS {
		c.mssClient = o.mss
	}
	if c.backendWScale && o.hasWScale {
		c.clientWScale, c.scaleClient, c.scaleEdge = true, o.wscale, o.wscale
	} else {
		c.backendWScale, c.scaleBackend = false, 0
	}
	c.translateTS = c.translateTS && o.hasTS
	c.clientTS = c.translateTS
	c.tsClient = o.tsVal
	c.tsEdge = c.tsBackend
	c.clientSACK = c.clientSACK && o.sackOK
	c.windowClient, c.synWindow = tcp.Window(), tcp.Window()
	c.sndNxtB, c.sndNxtC = c.isnBackend+1, c.isnClient+1
	c.ackB, c.ackC = c.isnClient+1, c.isnBackend+1
	c.lastEndB, c.lastEndC = c.sndNxtB, c.sndNxtC
	// SYN windows are unscaled; later ones may be up to 2^14 times more.
	c.maxWinB = max(uint32(c.winB), 0xffff) << c.scaleBackend
	c.maxWinC = max(uint32(tcp.Window()), 0xffff) << c.scaleClient
	e.unschedule(c)
	e.setState(c, StateEstablished)
	c.lastSeen = e.now
}

// forwardHandshake translates a handshake segment of an active-mode data
// connection (the server's SYN or RST if toBackend is false, the
// client's SYN-ACK or RST otherwise) between the families, as the
// established path would with no shift; the server's MSS is lowered to
// what MTU6 carries. A slow path: the checksum is computed in full.
func (e *Engine) forwardHandshake(c *conn, toBackend bool, pkt []byte, tcp packet.TCP, doff int, out *packet.Batch) {
	n := len(tcp)
	var seg packet.TCP
	if toBackend {
		b := out.Next(packet.IPv6HeaderLen+n, packet.IPv6Family, c.backendAddr())
		packet.IPv6(b).Encode(&packet.IPv6Fields{
			TrafficClass: packet.IPv4(pkt).TOS(), PayloadLen: uint16(n), NextHeader: packet.ProtoTCP,
			HopLimit: max(packet.IPv4(pkt).TTL(), 2) - 1, Src: c.k6.client6, Dst: c.k6.backend,
		})
		seg = packet.TCP(b[packet.IPv6HeaderLen:])
		e.stats.Packets6Out++
	} else {
		b := out.Next(packet.IPv4MinLen+n, packet.IPv4Family, c.clientAddr())
		putIPv4Header(b, packet.IPv4MinLen+n, packet.IPv6(pkt).TrafficClass(), max(packet.IPv6(pkt).HopLimit(), 2)-1,
			packet.ProtoTCP, c.k4.vip, c.k4.client)
		seg = packet.TCP(b[packet.IPv4MinLen:])
		e.stats.Packets4Out++
	}
	copy(seg, tcp)
	seg = seg[:n]
	if !toBackend {
		opts := seg[packet.TCPMinLen:doff]
		it := packet.NewTCPOptions(opts)
		for it.Next() {
			i := it.Offset()
			if opts[i] == packet.TCPOptMSS && opts[i+1] == packet.TCPOptMSSLen {
				mss := binary.BigEndian.Uint16(opts[i+2:])
				binary.BigEndian.PutUint16(opts[i+2:], uint16(min(int(mss), e.cfg.MTU6-60)))
			}
		}
	}
	seg.SetChecksum(0)
	if toBackend {
		ip := packet.IPv6(out.Packets[out.Len()-1].Data)
		seg.SetChecksum(packet.Checksum(ip.PseudoHeaderSum(packet.ProtoTCP, n), seg))
	} else {
		ip := packet.IPv4(out.Packets[out.Len()-1].Data)
		seg.SetChecksum(packet.Checksum(ip.PseudoHeaderSum(packet.ProtoTCP, n), seg))
	}
}
