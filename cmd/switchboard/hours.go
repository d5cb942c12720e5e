package main

import (
	"sync/atomic"
	"time"
	_ "time/tzdata" // opening hours name IANA zones; a minimal host or container may have no zoneinfo

	"github.com/rs/zerolog"

	"github.com/switchboard/switchboard/bot"
	"github.com/switchboard/switchboard/drafts"
)

// openingHours is the router's bot.OpeningHours: the schedule of the
// business profile in use, replaced whenever an admin saves the profile.
// Without structured opening hours and a time zone it is never closed, so
// nothing is sent.
type openingHours struct {
	s atomic.Pointer[drafts.Schedule]
}

var _ bot.OpeningHours = (*openingHours)(nil)

// Closed implements bot.OpeningHours.
func (h *openingHours) Closed(t time.Time) (bot.ClosedPeriod, bool) {
	s := h.s.Load()
	if s == nil {
		return bot.ClosedPeriod{}, false
	}
	return s.Closed(t)
}

// set takes the schedule of profile p, or none.
func (h *openingHours) set(p drafts.Profile) {
	if s, ok := p.Schedule(); ok {
		h.s.Store(&s)
		return
	}
	h.s.Store(nil)
}

// logState says at start-up whether closed-hours replies are on.
func (h *openingHours) logState(log zerolog.Logger, p drafts.Profile) {
	if s := h.s.Load(); s != nil {
		log.Info().Str("time_zone", s.Loc.String()).Msg("closed-hours replies on: a customer who writes while the business is closed gets one automatic reply per closed period")
		return
	}
	if p.OpeningHours != "" {
		log.Info().Bool("time_zone", p.TimeZone != "").
			Msg("closed-hours replies off: an admin sets them in Teams with /profile set hours mon-fri 08:00-17:30, sat 09:00-12:00 and /profile set timezone Europe/London")
	}
}
