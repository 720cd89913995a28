// Package datapath carries packets between the switches and a packet
// engine (the splice, a translator), so that every engine gets both of
// sixgate's data paths without knowing either:
//
//   - controller mode: the engine's traffic is punted to the controller,
//     each packet-in runs through the engine, and what it produces leaves
//     as packet-outs on the port of the host that owns the destination;
//   - port mode: the traffic is steered to switch ports cabled to Linux
//     interfaces of this machine (engine ports), AF_PACKET workers run the
//     engine on those interfaces, and what it produces goes back into the
//     same interface, framed for the destination host; the switch then
//     forwards it like any host's traffic.
//
// A Path also owns the steering flows (to the controller, the engine port,
// a select group over several engine ports, or towards the engine's switch
// along paths that follow link state), the Ethernet framing, and the
// engine's timer tick. An app embeds a *Path, declares what its engine
// must see as Steer entries, and gets the controller's FlowApp, GroupApp,
// PacketInHandler, PortStatusHandler, SwitchHandler and Starter from it.
//
// An engine plugs in through Engine: packets in, a batch of packets out,
// a timer. Engines are libraries; they import the packet toolkit and
// nothing of OpenFlow.
package datapath
