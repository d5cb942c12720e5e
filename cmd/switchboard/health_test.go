package main

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboard/switchboard/bot"
	"github.com/switchboard/switchboard/channels/whatsapp"
	"github.com/switchboard/switchboard/channels/whatsappcloud"
)

func TestHealthReady(t *testing.T) {
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	type change struct {
		comp  string
		ready bool
	}
	var changes []change
	h := NewHealth(func() time.Time { return now }, func(c string, r bool) { changes = append(changes, change{c, r}) })

	get := func() (int, readyBody) {
		rec := httptest.NewRecorder()
		h.ServeReady(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
		var body readyBody
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body))
		assert.Equal(t, "application/json", rec.Header().Get("Content-Type"))
		return rec.Code, body
	}

	code, body := get()
	assert.Equal(t, http.StatusServiceUnavailable, code, "nothing registered is not ready")
	assert.False(t, body.Ready)

	h.Register(compStore)
	h.Register(compRouter)
	h.Register(compStore) // no-op
	code, body = get()
	assert.Equal(t, http.StatusServiceUnavailable, code)
	assert.Equal(t, []string{compRouter, compStore}, body.NotReady)
	assert.Equal(t, ComponentState{Ready: false, State: StateStarting, Since: now}, body.Components[compStore])

	h.SetState(compStore, true, "open")
	code, body = get()
	assert.Equal(t, http.StatusServiceUnavailable, code)
	assert.Equal(t, []string{compRouter}, body.NotReady)

	report := h.Reporter(compRouter)
	report(true, "running")
	report(true, "running") // unchanged: no second change
	code, body = get()
	assert.Equal(t, http.StatusOK, code)
	assert.True(t, body.Ready)
	assert.Empty(t, body.NotReady)

	h.SetState(compWhatsApp, false, "logged-out")
	code, body = get()
	assert.Equal(t, http.StatusServiceUnavailable, code)
	assert.Equal(t, []string{compWhatsApp}, body.NotReady)
	assert.Equal(t, "logged-out", body.Components[compWhatsApp].State)

	assert.Equal(t, []change{
		{compStore, false}, {compRouter, false}, {compStore, true}, {compRouter, true}, {compWhatsApp, false},
	}, changes)
}

func TestHealthConcurrent(t *testing.T) {
	m := NewMetrics()
	h := NewHealth(nil, m.ComponentReady)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 200 {
				h.SetState(compTeams, (i+j)%2 == 0, "x")
				h.Snapshot()
			}
		}()
	}
	wg.Wait()
	h.SetState(compTeams, true, "connected")
	assert.Contains(t, scrape(t, m), `switchboard_component_ready{component="teams"} 1`)
}

func TestMetrics(t *testing.T) {
	m := NewMetrics()
	var _ bot.Metrics = m
	before := scrape(t, m)
	for _, want := range []string{
		`switchboard_inbound_total{platform="whatsapp"} 0`,
		`switchboard_drafts_total{status="pending"} 0`,
		`switchboard_decisions_total{kind="approve",outcome="applied"} 0`,
		`switchboard_sends_total{platform="whatsapp",result="ok"} 0`,
		"go_goroutines",
	} {
		assert.Contains(t, before, want)
	}

	m.Inbound(bot.WhatsApp)
	m.Inbound(bot.WhatsApp)
	m.Drafted(bot.DraftFailed)
	m.Decided(bot.Approve, bot.AlreadyDecided)
	m.Sent(bot.WhatsApp, nil)
	m.Sent(bot.WhatsApp, errors.New("boom"))
	m.Sent(bot.Teams, errors.Join(bot.ErrUnsupported, errors.New("no edits")))
	m.Failure("draft")
	m.ComponentReady(compStore, true)

	after := scrape(t, m)
	for _, want := range []string{
		`switchboard_inbound_total{platform="whatsapp"} 2`,
		`switchboard_inbound_total{platform="teams"} 0`,
		`switchboard_drafts_total{status="failed"} 1`,
		`switchboard_decisions_total{kind="approve",outcome="already-decided"} 1`,
		`switchboard_sends_total{platform="whatsapp",result="ok"} 1`,
		`switchboard_sends_total{platform="whatsapp",result="error"} 1`,
		`switchboard_sends_total{platform="teams",result="unsupported"} 1`,
		`switchboard_failures_total{stage="draft"} 1`,
		`switchboard_component_ready{component="store"} 1`,
	} {
		assert.Contains(t, after, want)
	}
}

func TestMetricsOwnRegistry(t *testing.T) {
	a, b := NewMetrics(), NewMetrics() // would panic on the global registry
	a.Inbound(bot.Teams)
	assert.Contains(t, scrape(t, a), `switchboard_inbound_total{platform="teams"} 1`)
	assert.Contains(t, scrape(t, b), `switchboard_inbound_total{platform="teams"} 0`)
}

func TestHTTPServerRoutes(t *testing.T) {
	m := NewMetrics()
	h := NewHealth(nil, m.ComponentReady)
	s := newHTTPServer(zerolog.Nop(), h, m)
	s.Mux.Handle("POST /api/messages", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusAccepted)
	}))
	ts := httptest.NewServer(s.srv.Handler)
	defer ts.Close()
	tests := []struct {
		name, method, path string
		code               int
	}{
		{"Healthz", http.MethodGet, "/healthz", http.StatusOK},
		{"ReadyzNotReady", http.MethodGet, "/readyz", http.StatusServiceUnavailable},
		{"Metrics", http.MethodGet, "/metrics", http.StatusOK},
		{"MountedHandler", http.MethodPost, "/api/messages", http.StatusAccepted},
		{"WrongMethod", http.MethodPost, "/healthz", http.StatusMethodNotAllowed},
		{"NotFound", http.MethodGet, "/nope", http.StatusNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequestWithContext(t.Context(), tc.method, ts.URL+tc.path, nil)
			require.NoError(t, err)
			resp, err := ts.Client().Do(req)
			require.NoError(t, err)
			resp.Body.Close()
			assert.Equal(t, tc.code, resp.StatusCode)
		})
	}
}

// scrape returns the metrics page of m.
func scrape(t *testing.T, m *Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	require.Equal(t, http.StatusOK, rec.Code)
	b, err := io.ReadAll(rec.Body)
	require.NoError(t, err)
	return strings.TrimSpace(string(b))
}

// TestMetricsStartAtZero: every documented metric, and every failure stage
// and WhatsApp state, is exported from the first scrape, so an alert on
// increase() sees the first failure.
func TestMetricsStartAtZero(t *testing.T) {
	first := scrape(t, NewMetrics())
	for _, s := range append(slices.Clone(bot.FailureStages), failureStages...) {
		assert.Contains(t, first, `switchboard_failures_total{stage="`+s+`"} 0`)
	}
	for _, s := range whatsapp.States {
		assert.Contains(t, first, `switchboard_whatsapp_state{state="`+string(s)+`"} 0`)
	}
	for _, s := range whatsappcloud.States {
		assert.Contains(t, first, `switchboard_whatsapp_state{state="`+string(s)+`"} 0`)
	}
	for _, c := range []string{compStore, compRouter, compWhatsApp, compTeams} {
		assert.Contains(t, first, `switchboard_component_ready{component="`+c+`"} 0`)
	}
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	require.NoError(t, err)
	names := regexp.MustCompile(`switchboard_[a-z_]+`).FindAllString(string(readme), -1)
	require.NotEmpty(t, names)
	for _, n := range names {
		assert.Regexp(t, `(?m)^`+n+`(\{| )`, first, "%s is documented in the README", n)
	}
}
