package topo

import (
	"fmt"
	"net/url"
	"strings"
	"time"
)

// Defaults and bounds of the ha section.
const (
	DefaultHALease  = 3 * time.Second
	MinHALease      = 2 * time.Second
	DefaultHAPrefix = "/sixgate"
)

// HA makes this instance one of several controllers of the same switches,
// one master elected in etcd (docs/ha.md).
type HA struct {
	Etcd   []string // client URLs, http:// or https://
	Lease  time.Duration
	Name   string // this instance, unique in the group
	Prefix string // the group's etcd key prefix
	TLS    *TLS   // towards etcd; nil for plain connections
}

func (b *builder) buildHA(fh *fileHA) {
	if fh == nil {
		return
	}
	h := &HA{Name: fh.Name, Prefix: fh.Prefix}
	if len(fh.Etcd) == 0 {
		b.p.add("ha.etcd", "missing: the etcd client URLs, like [http://10.0.0.1:2379]")
	}
	for i, e := range fh.Etcd {
		u, err := url.Parse(e)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Port() == "" {
			b.p.add(fmt.Sprintf("ha.etcd[%d]", i), "malformed etcd endpoint %q (want http://HOST:PORT or https://HOST:PORT)", e)
			continue
		}
		h.Etcd = append(h.Etcd, e)
	}
	h.Lease = b.duration("ha.lease", fh.Lease, DefaultHALease)
	switch {
	case h.Lease < MinHALease:
		b.p.add("ha.lease", "%v is too short (at least %v)", h.Lease, MinHALease)
	case h.Lease%time.Second != 0:
		b.p.add("ha.lease", "%v is not a whole number of seconds (etcd leases count in seconds)", h.Lease)
	}
	if h.Name == "" {
		b.p.add("ha.name", "missing: this instance's name, unique among the instances")
	} else if strings.ContainsAny(h.Name, "/ \t\n") {
		b.p.add("ha.name", "%q: a name without / or blanks", h.Name)
	}
	if h.Prefix == "" {
		h.Prefix = DefaultHAPrefix
	} else if !strings.HasPrefix(h.Prefix, "/") {
		b.p.add("ha.prefix", "%q: want an absolute key prefix like /sixgate/edge1", h.Prefix)
	}
	if fh.TLS != nil {
		h.TLS = &TLS{Cert: fh.TLS.Cert, Key: fh.TLS.Key, CA: fh.TLS.CA}
		if (h.TLS.Cert == "") != (h.TLS.Key == "") {
			b.p.add("ha.tls", "cert and key go together (a client certificate for etcd)")
		}
		for _, e := range h.Etcd {
			if strings.HasPrefix(e, "http://") {
				b.p.add("ha.tls", "a tls section is given but endpoint %q is http://", e)
				break
			}
		}
	}
	b.t.HA = h
}
