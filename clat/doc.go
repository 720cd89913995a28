// Package clat is the host side of 464XLAT (RFC 6877): a customer-side
// translator (CLAT) that gives an IPv6-only Linux host an IPv4 default
// route and translates that traffic statelessly (RFC 7915) to a dedicated
// IPv6 address of the host, toward a NAT64 whose prefix it learns from
// router advertisements (PREF64, RFC 8781), from ipv4only.arpa (RFC 7050)
// or from its configuration.
//
// What it sets up on the host, and takes down again on exit:
//
//   - a TUN device carrying 192.0.0.1/29 (RFC 7335) and, while a NAT64
//     prefix is known, an IPv4 default route through it with MTU 1260, so
//     that every translated packet fits the IPv6 minimum MTU of 1280;
//   - a proxy neighbor entry for the dedicated IPv6 address on the
//     uplink, so that the router's neighbor solicitations for it are
//     answered by the kernel, and the uplink's sysctls that the kernel
//     needs for that (proxy_ndp, forwarding, and accept_ra=2 so that the
//     host keeps accepting router advertisements on it);
//   - an AF_PACKET socket on the uplink that receives the packets sent to
//     the dedicated address, and a raw IPv6 socket that sends the
//     translated packets; the host's own forwarding stays off, so the
//     kernel drops its copy of those packets silently;
//   - a netlink socket for the PREF64 options the kernel passes on
//     (RTNLGRP_ND_USEROPT) and the uplink's state (RTNLGRP_LINK), and,
//     on an uplink whose kernel ignores router advertisements
//     (accept_ra=0), an ICMPv6 socket reading them directly.
//
// docs/clat.md is the user's guide.
package clat
