package controller

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/sixgate/sixgate/controller/ofp"
)

// tokenBucket admits events at a steady rate with bursts. It is the
// controller's own packet-in limit, for switches without meters and as a
// second line behind them.
type tokenBucket struct {
	mu     sync.Mutex
	rate   float64 // tokens per second
	burst  float64
	tokens float64
	last   time.Time
}

func newTokenBucket(rate, burst int) *tokenBucket {
	if burst < 1 {
		burst = max(rate/10, 1)
	}
	return &tokenBucket{rate: float64(rate), burst: float64(burst), tokens: float64(burst)}
}

// allow takes one token if there is one.
func (b *tokenBucket) allow(now time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.last.IsZero() {
		b.tokens = min(b.burst, b.tokens+now.Sub(b.last).Seconds()*b.rate)
	}
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// installPacketInMeter asks the switch to limit the packets it sends to the
// controller, with the OFPM_CONTROLLER meter, when it has pktps drop
// meters. It reports whether the switch took it; if it did, the meter is
// desired state from then on, which syncs keep (without it, they remove
// an OFPM_CONTROLLER meter left by an earlier run).
func (s *Switch) installPacketInMeter(ctx context.Context) (bool, error) {
	cfg := s.ctl.cfg
	parts, err := s.Multipart(ctx, &ofp.MultipartRequest{MPType: ofp.MultipartMeterFeatures})
	if err != nil {
		return false, nil // no meter support at all
	}
	var f *ofp.MeterFeaturesReply
	for _, p := range parts {
		if mf, ok := p.Body.(*ofp.MeterFeaturesReply); ok {
			f = mf
		}
	}
	if f == nil || f.BandTypes&(1<<ofp.MeterBandTypeDrop) == 0 || f.Capabilities&ofp.MeterFlagPktps == 0 {
		return false, nil
	}
	burst := uint32(cfg.PacketInBurst)
	flags := uint16(ofp.MeterFlagPktps | ofp.MeterFlagStats)
	if burst > 0 && f.Capabilities&ofp.MeterFlagBurst != 0 {
		flags |= ofp.MeterFlagBurst
	} else {
		burst = 0
	}
	mod := func(cmd uint16) *ofp.MeterMod {
		return &ofp.MeterMod{Command: cmd, Flags: flags, MeterID: ofp.MeterController,
			Bands: []ofp.MeterBand{&ofp.MeterBandDrop{Rate: uint32(cfg.PacketInRate), BurstSize: burst}}}
	}
	// Modify first: after a controller restart the meter is already there.
	err = s.Apply(ctx, mod(ofp.MeterModify))
	var em *ofp.ErrorMsg
	if errors.As(err, &em) && em.ErrType == ofp.ErrMeterModFailed {
		err = s.Apply(ctx, mod(ofp.MeterAdd))
	}
	if err != nil {
		return false, fmt.Errorf("packet-in meter: %w", err)
	}
	// From now on syncs keep it as it is.
	m := mod(ofp.MeterAdd)
	s.packetInMeter.Store(&Meter{ID: m.MeterID, Flags: m.Flags, Bands: m.Bands})
	return true, nil
}
