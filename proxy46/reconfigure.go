package proxy46

import "net/netip"

// SetServices replaces the engine's services, as a reload that changes
// only them does, without touching its connections: those open keep the
// service and backend they were given (and fail over within it), new ones
// find the new services. Counters of backends that stay (same VIP, port
// and address) carry over. The services are checked as New checks them;
// on error nothing changes.
func (e *Engine) SetServices(services []Service) error {
	e.mu.Lock()
	cfg := e.cfg
	e.mu.Unlock()
	cfg.Services = append([]Service(nil), services...)
	if err := cfg.validate(); err != nil {
		return err
	}
	fresh := make([]*service, len(cfg.Services))
	for i, s := range cfg.Services {
		fresh[i] = newService(s)
	}

	e.mu.Lock()
	defer e.mu.Unlock()
	type backendKey struct {
		svc     vipKey
		backend netip.AddrPort
		def     bool
	}
	old := make(map[backendKey]*backend)
	rr := make(map[vipKey]uint32, len(e.svcs))
	for _, svc := range e.svcs {
		k := vipKey{svc.vip, svc.port}
		rr[k] = svc.rr
		for i := range svc.backends {
			b := &svc.backends[i]
			old[backendKey{k, b.ap, b.isDefault}] = b
		}
	}
	e.cfg.Services = cfg.Services
	e.services = make(map[vipKey]*service, len(fresh))
	e.vips = make(map[[4]byte]bool)
	e.svcs = fresh
	for _, svc := range fresh {
		k := vipKey{svc.vip, svc.port}
		svc.rr = rr[k]
		for i := range svc.backends {
			b := &svc.backends[i]
			if o := old[backendKey{k, b.ap, b.isDefault}]; o != nil {
				b.chosen, b.failed = o.chosen, o.failed
			}
		}
		e.services[k] = svc
		e.vips[svc.vip] = true
	}
	return nil
}
