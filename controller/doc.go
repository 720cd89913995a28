// Package controller is the OpenFlow 1.3 controller core: it accepts switch
// connections, runs one session per switch (version negotiation, features,
// echo keepalive, xid-matched requests), dispatches switch events to apps and
// keeps every switch's flow table equal to the flows the apps declare.
//
// Apps never own sockets. They declare the flows they want per switch
// ([FlowApp]) and react to events ([PacketInHandler], [PortStatusHandler],
// ...); the core installs the difference between declared and installed
// state, on every (re)connect and whenever an app asks for a resync, and
// never touches flows whose cookie belongs to no app of this controller.
package controller
