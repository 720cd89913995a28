package dns64

import (
	"context"
	"net/netip"
	"time"

	"github.com/miekg/dns"
)

// exchangeUDPThenTCP asks upstream over UDP, from a fresh socket (a random
// source port per query, RFC 5452), and again over TCP when the answer is
// truncated.
func exchangeUDPThenTCP(ctx context.Context, m *dns.Msg, upstream netip.AddrPort, timeout time.Duration) (*dns.Msg, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c := &dns.Client{Net: "udp", UDPSize: bufferSize, Timeout: timeout}
	in, _, err := c.ExchangeContext(ctx, m, upstream.String())
	if err != nil || !in.Truncated {
		return in, err
	}
	c.Net = "tcp"
	in, _, err = c.ExchangeContext(ctx, m, upstream.String())
	return in, err
}
