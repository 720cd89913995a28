#!/usr/bin/python3
"""Build a sixgate topology file's fabric in Mininet.

The switches, links and hosts come from the same YAML file sixgate reads
(topo/examples/seed.yaml by default). Switches are Open vSwitch bridges with
the userspace datapath speaking OpenFlow 1.3 to a remote controller (sixgate)
in secure fail mode; hosts get the MACs and addresses the file declares and
nothing else: no static neighbor entries.

    sudo /usr/bin/python3 mininet/sixgate_net.py [--config FILE]
        [--controller 127.0.0.1:6653] [--sixgate bin/sixgate]
        [--demoserver bin/demoserver] [--test]

With --sixgate the script starts the controller itself. With --demoserver
it starts the demo's IPv6 servers on every IPv6-only host. The Mininet CLI
gains a `splicecheck` command that runs the seed demo's checks from the
first IPv4-only host; --test runs them without the CLI and exits 0 when all
passed.

Run it with Debian's /usr/bin/python3: the mininet package lives there.
"""

import argparse
import ipaddress
import os
import subprocess
import sys
import time
from functools import partial

import yaml
from mininet.cli import CLI
from mininet.log import info, setLogLevel
from mininet.net import Mininet
from mininet.node import OVSSwitch, RemoteController


def parse_int(v):
    return int(str(v), 0)


def host_addresses(host, subnets):
    """Addresses with prefix lengths, taken from the file's subnets."""
    out = []
    for a in host.get("ipv4", []) + host.get("ipv6", []):
        if "/" in a:
            out.append(a)
            continue
        addr = ipaddress.ip_address(a)
        plen = 32 if addr.version == 4 else 128
        for s in subnets:
            net = ipaddress.ip_network(s)
            if addr in net:
                plen = net.prefixlen
        out.append("%s/%d" % (a, plen))
    return out


def build(cfg, controller):
    ip, port = controller.rsplit(":", 1)
    switch = partial(OVSSwitch, datapath="user", protocols="OpenFlow13", failMode="secure")
    net = Mininet(switch=switch, controller=None, autoSetMacs=False, build=False)
    net.addController(RemoteController("c0", ip=ip, port=int(port)))
    switches = {}
    for s in cfg["switches"]:
        switches[s["name"]] = net.addSwitch(s["name"], dpid="%016x" % parse_int(s["dpid"]))
    for link in cfg.get("links") or []:
        (sa, pa), (sb, pb) = (e.split(":") for e in (link["a"], link["b"]))
        net.addLink(switches[sa], switches[sb], port1=int(pa), port2=int(pb))
    for h in cfg.get("hosts") or []:
        node = net.addHost(h["name"], ip=None, mac=h["mac"])
        net.addLink(node, switches[h["switch"]], port2=int(h["port"]))
    return net


def configure_hosts(net, cfg):
    subnets = cfg.get("subnets") or []
    splice = cfg.get("splice46")
    for h in cfg.get("hosts") or []:
        node = net.get(h["name"])
        intf = node.defaultIntf().name
        node.cmd("ip addr flush dev %s" % intf)
        node.cmd("sysctl -qw net.ipv6.conf.%s.accept_dad=0 net.ipv6.conf.%s.accept_ra=0" % (intf, intf))
        # The userspace datapath does not complete offloaded checksums.
        node.cmd("ethtool -K %s tx off" % intf)
        for a in host_addresses(h, subnets):
            node.cmd("ip addr add %s dev %s nodad" % (a, intf) if ":" in a else "ip addr add %s dev %s" % (a, intf))
        if splice and h.get("ipv6") and not h.get("ipv4"):
            # Spliced clients come from pool6, on the link.
            node.cmd("ip -6 route add %s dev %s" % (splice["pool6"], intf))
    for sw in net.switches:
        # Data segments are packet-ins in controller mode: a deeper queue.
        subprocess.call(["ovs-vsctl", "set", "controller", sw.name, "controller_queue_size=512"])


def splicecheck(net, cfg):
    """The seed demo's checks; returns the number of failures."""
    splice = cfg.get("splice46")
    clients = [h for h in cfg.get("hosts") or [] if h.get("ipv4") and not h.get("ipv6")]
    if not splice or not clients:
        print("splicecheck: needs a splice46 section and an IPv4-only host")
        return 1
    client = net.get(clients[0]["name"])
    failures = 0
    for svc in splice["services"]:
        vip, port, sel = svc["vip"], svc["port"], svc.get("select", "hash")
        for b in svc["backends"]:
            for m in b.get("match", []):
                if sel == "prefix":
                    out = client.cmd("echo %s | timeout 10 socat -t 5 - TCP:%s:%d" % (m, vip, port))
                    want = 'got "%s"' % m
                elif sel == "http-host":
                    out = client.cmd("curl -s --max-time 10 -H 'Host: %s' http://%s:%d/" % (m, vip, port))
                    want = "Host %s" % m
                elif sel == "sni":
                    out = client.cmd("curl -sk --max-time 10 --resolve %s:%d:%s https://%s:%d/" % (m, port, vip, m, port))
                    want = "Host %s" % m
                else:
                    continue
                ok = want in out
                failures += 0 if ok else 1
                print("%s %s -> %s:%d (%s %s): %s" % ("ok  " if ok else "FAIL", client.name, vip, port, sel, m, out.strip()))
    return failures


def programmed(sw):
    """Whether the controller has installed flows on the switch."""
    out = subprocess.run(["ovs-ofctl", "-O", "OpenFlow13", "dump-flows", sw.name],
                         capture_output=True, text=True).stdout
    return "cookie=0x" in out and sw.connected()


class SixgateCLI(CLI):
    """Mininet's CLI with the splice checks."""

    def __init__(self, net, cfg, **kw):
        self.cfg = cfg
        CLI.__init__(self, net, **kw)

    def do_splicecheck(self, _line):
        "Run the splice46 demo checks from the first IPv4-only host."
        n = splicecheck(self.mn, self.cfg)
        print("splicecheck: %s" % ("all passed" if n == 0 else "%d failed" % n))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", default="topo/examples/seed.yaml")
    p.add_argument("--controller", default="127.0.0.1:6653")
    p.add_argument("--sixgate", help="start this sixgate binary as the controller")
    p.add_argument("--demoserver", help="start this demo server on every IPv6-only host")
    p.add_argument("--test", action="store_true", help="run splicecheck and exit instead of the CLI")
    args = p.parse_args()
    setLogLevel("info")
    with open(args.config) as f:
        cfg = yaml.safe_load(f)

    procs = []
    if args.sixgate:
        log = open("/tmp/sixgate-mininet.log", "w")
        procs.append(subprocess.Popen([args.sixgate, "-config", args.config], stdout=log, stderr=subprocess.STDOUT))
        info("*** sixgate started, log in /tmp/sixgate-mininet.log\n")
    net = build(cfg, args.controller)
    failures = 0
    try:
        net.build()
        net.start()
        configure_hosts(net, cfg)
        if args.demoserver:
            for h in cfg.get("hosts") or []:
                if h.get("ipv6") and not h.get("ipv4"):
                    net.get(h["name"]).cmd("%s -name %s -line '[::]:80' -http '[::]:8080' -https '[::]:443' >/tmp/%s-server.log 2>&1 &"
                                           % (os.path.abspath(args.demoserver), h["name"], h["name"]))
        # Wait until the controller has programmed every switch.
        deadline = time.time() + 30
        while time.time() < deadline and not all(programmed(sw) for sw in net.switches):
            time.sleep(0.2)
        if args.test:
            failures = splicecheck(net, cfg)
        else:
            SixgateCLI(net, cfg)
    finally:
        net.stop()
        for pr in procs:
            pr.terminate()
            pr.wait(10)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
