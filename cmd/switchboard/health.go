package main

import (
	"encoding/json"
	"net/http"
	"sort"
	"sync"
	"time"
)

// Component names reported on /readyz.
const (
	compStore    = "store"
	compRouter   = "router"
	compWhatsApp = "whatsapp"
	compTeams    = "teams"
)

// Component states (the State word; others may add their own).
const (
	StateStarting = "starting"
	StateStopping = "stopping"
	StateStopped  = "stopped"
	StateFailed   = "failed"
)

// ComponentState is one component's readiness as /readyz shows it. State is
// a short operator-safe word ("open", "running", "connected", "logged-out");
// it must never hold personal data or secrets.
type ComponentState struct {
	Ready bool      `json:"ready"`
	State string    `json:"state"`
	Since time.Time `json:"since"`
}

// Health is the registry of component states behind /readyz. The process is
// ready when at least one component is registered and every one is ready.
// It is safe for concurrent use and never blocks on I/O.
//
// Packages outside cmd report through a method with builtin types only, so
// they can declare the interface themselves without importing cmd:
//
//	type Health interface{ SetState(component string, ready bool, state string) }
//
// or take a func(ready bool, state string) from Health.Reporter.
type Health struct {
	mu       sync.Mutex
	now      func() time.Time
	comps    map[string]ComponentState
	onChange func(component string, ready bool)
}

// NewHealth returns an empty registry. If now is nil, time.Now. onChange, if
// set, is called under the registry's lock after each change, so calls come
// in order; it must be quick and must not call back into Health.
func NewHealth(now func() time.Time, onChange func(component string, ready bool)) *Health {
	if now == nil {
		now = time.Now
	}
	return &Health{now: now, comps: make(map[string]ComponentState), onChange: onChange}
}

// Register adds a component that must report ready before the process is,
// in state "starting". Registering a known component changes nothing.
func (h *Health) Register(component string) {
	h.mu.Lock()
	_, ok := h.comps[component]
	if !ok {
		h.comps[component] = ComponentState{State: StateStarting, Since: h.now()}
		if h.onChange != nil {
			h.onChange(component, false)
		}
	}
	h.mu.Unlock()
}

// SetState records a component's readiness and state word, registering the
// component if needed. Since changes only when ready or state do.
func (h *Health) SetState(component string, ready bool, state string) {
	h.mu.Lock()
	old, ok := h.comps[component]
	changed := !ok || old.Ready != ready || old.State != state
	if changed {
		h.comps[component] = ComponentState{Ready: ready, State: state, Since: h.now()}
		if h.onChange != nil {
			h.onChange(component, ready)
		}
	}
	h.mu.Unlock()
}

// Reporter returns a function that reports for one component, for packages
// that take a plain callback.
func (h *Health) Reporter(component string) func(ready bool, state string) {
	h.Register(component)
	return func(ready bool, state string) { h.SetState(component, ready, state) }
}

// Snapshot returns whether the process is ready and a copy of every state.
func (h *Health) Snapshot() (bool, map[string]ComponentState) {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make(map[string]ComponentState, len(h.comps))
	ready := len(h.comps) > 0
	for name, s := range h.comps {
		out[name] = s
		ready = ready && s.Ready
	}
	return ready, out
}

// readyBody is the JSON answer of /readyz.
type readyBody struct {
	Ready      bool                      `json:"ready"`
	NotReady   []string                  `json:"not_ready,omitempty"`
	Components map[string]ComponentState `json:"components"`
}

// ServeReady answers /readyz: 200 when ready, else 503, both with the
// component states as JSON.
func (h *Health) ServeReady(w http.ResponseWriter, _ *http.Request) {
	ready, comps := h.Snapshot()
	body := readyBody{Ready: ready, Components: comps}
	for name, s := range comps {
		if !s.Ready {
			body.NotReady = append(body.NotReady, name)
		}
	}
	sort.Strings(body.NotReady)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if ready {
		w.WriteHeader(http.StatusOK)
	} else {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	json.NewEncoder(w).Encode(body)
}

// serveHealthz answers /healthz: 200 while the process runs.
func serveHealthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Write([]byte("ok\n"))
}
