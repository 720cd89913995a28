package dns64

import (
	"net"
	"net/netip"
	"strings"

	"github.com/miekg/dns"
)

// ipv4only.arpa (RFC 7050, RFC 8880 section 7.2): a DNS64 resolver answers
// it itself, A with the two well-known addresses, AAAA with those
// addresses in its prefix, so that a host learns the prefix; other types
// get an empty answer and names below it do not exist. The reverse names
// of the two addresses point back to it.
const ipv4OnlyName = "ipv4only.arpa."

// ipv4OnlyTTL is the TTL of the local answers: a host checks its prefix
// again when it expires (RFC 7050 section 5), so it is short enough for a
// changed prefix to spread within minutes.
const ipv4OnlyTTL = 300

var ipv4OnlyAddrs = [...]netip.Addr{netip.AddrFrom4([4]byte{192, 0, 0, 170}), netip.AddrFrom4([4]byte{192, 0, 0, 171})}

func isIPv4OnlyArpa(name string) bool {
	n := len(name)
	return n >= len(ipv4OnlyName) && strings.EqualFold(name[n-len(ipv4OnlyName):], ipv4OnlyName) &&
		(n == len(ipv4OnlyName) || name[n-len(ipv4OnlyName)-1] == '.')
}

func isIPv4OnlyReverse(name string) bool {
	return strings.EqualFold(name, "170.0.0.192.in-addr.arpa.") || strings.EqualFold(name, "171.0.0.192.in-addr.arpa.")
}

// isIPv4OnlyDS reports a DS query for ipv4only.arpa: the parent zone's
// business, forwarded like any other query.
func isIPv4OnlyDS(q dns.Question) bool {
	return q.Qtype == dns.TypeDS && strings.EqualFold(q.Name, ipv4OnlyName)
}

// ipv4OnlyArpa answers a query for ipv4only.arpa (DS apart), a name under
// it, or one of its two reverse names.
func (a *asker) ipv4OnlyArpa(q dns.Question) *dns.Msg {
	out := new(dns.Msg)
	hdr := func(t uint16) dns.RR_Header {
		return dns.RR_Header{Name: q.Name, Rrtype: t, Class: dns.ClassINET, Ttl: ipv4OnlyTTL}
	}
	switch {
	case isIPv4OnlyReverse(q.Name):
		if q.Qtype == dns.TypePTR {
			out.Answer = append(out.Answer, &dns.PTR{Hdr: hdr(dns.TypePTR), Ptr: ipv4OnlyName})
		}
		return out
	case !strings.EqualFold(q.Name, ipv4OnlyName):
		out.Rcode = dns.RcodeNameError
	case q.Qtype == dns.TypeA:
		for _, v4 := range ipv4OnlyAddrs {
			b := v4.As4()
			out.Answer = append(out.Answer, &dns.A{Hdr: hdr(dns.TypeA), A: net.IP(b[:])})
		}
		return out
	case q.Qtype == dns.TypeAAAA:
		// These two addresses are special-purpose, yet they are what
		// a host looks for under the Well-Known Prefix too (RFC 7050
		// section 3), so section 3.1 of RFC 6052 does not apply.
		for _, v4 := range ipv4OnlyAddrs {
			b := Embed(a.cfg.Prefix, v4).As16()
			out.Answer = append(out.Answer, &dns.AAAA{Hdr: hdr(dns.TypeAAAA), AAAA: net.IP(b[:])})
		}
		return out
	}
	out.Ns = []dns.RR{&dns.SOA{
		Hdr: dns.RR_Header{Name: ipv4OnlyName, Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: ipv4OnlyTTL},
		Ns:  "localhost.", Mbox: "nobody.invalid.", Serial: 1, Refresh: 3600, Retry: 600, Expire: 86400, Minttl: ipv4OnlyTTL,
	}}
	return out
}
