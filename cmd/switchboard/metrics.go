package main

import (
	"errors"
	"net/http"
	"slices"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/switchboard/switchboard/bot"
	"github.com/switchboard/switchboard/channels/whatsapp"
	"github.com/switchboard/switchboard/channels/whatsappcloud"
)

// Send results on switchboard_sends_total.
const (
	resultOK          = "ok"
	resultUnsupported = "unsupported"
	resultError       = "error"
)

// Metrics is the Prometheus side of bot.Metrics, on its own registry (not the
// global one). Label values are bounded: platforms, statuses, kinds and
// stage names chosen by code, never user input. Methods never block.
type Metrics struct {
	reg       *prometheus.Registry
	inbound   *prometheus.CounterVec
	drafts    *prometheus.CounterVec
	decisions *prometheus.CounterVec
	sends     *prometheus.CounterVec
	failures  *prometheus.CounterVec
	ready     *prometheus.GaugeVec
	// waState is 1 for the WhatsApp connection's current state word, 0 for
	// the others it had; waUndecryptable counts undecryptable messages
	// since the channel started.
	waState         *prometheus.GaugeVec
	waUndecryptable prometheus.Gauge
	waMu            sync.Mutex
	waLast          string
}

var _ bot.Metrics = (*Metrics)(nil)

// NewMetrics returns the counters registered on a fresh registry together
// with the Go runtime and process collectors. Known label values start at
// zero so dashboards see every series from the first scrape.
func NewMetrics() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		inbound: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchboard_inbound_total", Help: "Inbound messages accepted, by platform.",
		}, []string{"platform"}),
		drafts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchboard_drafts_total", Help: "Drafts stored, by status (pending, failed).",
		}, []string{"status"}),
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchboard_decisions_total", Help: "Staff decisions on draft cards, by kind and outcome.",
		}, []string{"kind", "outcome"}),
		sends: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchboard_sends_total", Help: "Send attempts of outbound messages, by platform and result (ok, unsupported, error).",
		}, []string{"platform", "result"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchboard_failures_total", Help: "Failures, by pipeline stage.",
		}, []string{"stage"}),
		ready: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "switchboard_component_ready", Help: "1 if the component reports ready (see /readyz), else 0.",
		}, []string{"component"}),
		waState: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "switchboard_whatsapp_state", Help: "1 for the WhatsApp connection's current state (connected, disconnected, logged-out, temporarily-banned, …), else 0.",
		}, []string{"state"}),
		waUndecryptable: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "switchboard_whatsapp_undecryptable", Help: "WhatsApp messages that could not be decrypted since the channel started; staff should ask the customer to resend.",
		}),
	}
	m.reg.MustRegister(m.inbound, m.drafts, m.decisions, m.sends, m.failures, m.ready, m.waState, m.waUndecryptable,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	for _, p := range []bot.Platform{bot.WhatsApp, bot.Teams} {
		m.inbound.WithLabelValues(string(p))
		for _, r := range []string{resultOK, resultUnsupported, resultError} {
			m.sends.WithLabelValues(string(p), r)
		}
	}
	for _, s := range []bot.DraftStatus{bot.DraftPending, bot.DraftFailed} {
		m.drafts.WithLabelValues(string(s))
	}
	for _, k := range []bot.DecisionKind{bot.Approve, bot.Edit, bot.Reject, bot.Regenerate, bot.Retry, bot.SendTemplate} {
		for _, o := range []bot.Outcome{bot.Applied, bot.AlreadyDecided, bot.Refused} {
			m.decisions.WithLabelValues(string(k), string(o))
		}
	}
	for _, s := range append(slices.Clone(bot.FailureStages), failureStages...) {
		m.failures.WithLabelValues(s)
	}
	for _, s := range whatsapp.States {
		m.waState.WithLabelValues(string(s))
	}
	for _, s := range whatsappcloud.States {
		m.waState.WithLabelValues(string(s))
	}
	for _, c := range []string{compStore, compRouter, compWhatsApp, compTeams} {
		m.ready.WithLabelValues(c)
	}
	return m
}

// failureStages are the stages cmd itself counts on
// switchboard_failures_total, besides the router's bot.FailureStages.
var failureStages = []string{stageChannel}

// stageChannel counts a channel that stopped for good.
const stageChannel = "channel"

// WhatsAppState records the WhatsApp connection's state word (bounded: the
// channel's State constants) and its undecryptable-message count.
func (m *Metrics) WhatsAppState(state string, undecryptable int) {
	m.waMu.Lock()
	defer m.waMu.Unlock()
	if m.waLast != "" && m.waLast != state {
		m.waState.WithLabelValues(m.waLast).Set(0)
	}
	m.waState.WithLabelValues(state).Set(1)
	m.waLast = state
	m.waUndecryptable.Set(float64(undecryptable))
}

// Registerer lets other packages (a channel's connection states) add their
// own collectors to the same registry.
func (m *Metrics) Registerer() prometheus.Registerer { return m.reg }

// Handler serves the registry in the Prometheus exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// Inbound counts one accepted inbound message.
func (m *Metrics) Inbound(p bot.Platform) { m.inbound.WithLabelValues(string(p)).Inc() }

// Drafted counts one stored draft.
func (m *Metrics) Drafted(s bot.DraftStatus) { m.drafts.WithLabelValues(string(s)).Inc() }

// Decided counts one staff decision.
func (m *Metrics) Decided(k bot.DecisionKind, o bot.Outcome) {
	m.decisions.WithLabelValues(string(k), string(o)).Inc()
}

// Sent counts one send attempt; err nil is ok, ErrUnsupported is unsupported.
func (m *Metrics) Sent(p bot.Platform, err error) {
	r := resultOK
	switch {
	case err == nil:
	case errors.Is(err, bot.ErrUnsupported):
		r = resultUnsupported
	default:
		r = resultError
	}
	m.sends.WithLabelValues(string(p), r).Inc()
}

// Failure counts one failure at a pipeline stage.
func (m *Metrics) Failure(stage string) { m.failures.WithLabelValues(stage).Inc() }

// ComponentReady sets switchboard_component_ready; Health calls it on change.
func (m *Metrics) ComponentReady(component string, ready bool) {
	v := 0.0
	if ready {
		v = 1
	}
	m.ready.WithLabelValues(component).Set(v)
}
