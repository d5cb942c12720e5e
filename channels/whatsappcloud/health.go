package whatsappcloud

import (
	"sync"
	"time"
)

// State is the channel's condition as the Graph API answers it.
type State string

// States. The channel has no connection of its own: "connected" means Run
// is serving the webhook and the Graph API accepts the access token.
const (
	StateStopped      State = "stopped"       // Run is not running: the webhook answers 503
	StateStarting     State = "starting"      // Run started; the token is being checked
	StateConnected    State = "connected"     // the last Graph call succeeded
	StateUnreachable  State = "unreachable"   // the Graph API could not be reached or failed (network, 5xx); retrying
	StateTokenInvalid State = "token-invalid" // error 190: the access token expired or was revoked; replies wait
	StateNoPermission State = "no-permission" // errors 10 and 200–299: the token lacks whatsapp_business_messaging; replies wait
	StateBlocked      State = "account-blocked"
)

// States lists every State, for metrics that export each from the start.
var States = []State{StateStopped, StateStarting, StateConnected, StateUnreachable, StateTokenInvalid, StateNoPermission, StateBlocked}

// Health is a snapshot for /readyz, /metrics and admin alerts. It holds no
// personal data.
type Health struct {
	State State
	Since time.Time
	// Detail is an operator-safe explanation with the Graph error code.
	Detail string
}

// Ready reports whether replies can flow.
func (h Health) Ready() bool { return h.State == StateConnected }

// NeedsPerson reports whether an operator must act (a new token, a
// permission, Meta's account review) before replies flow again. Replies wait
// in the outbox meanwhile; nothing is lost or marked failed.
func (h Health) NeedsPerson() bool {
	switch h.State {
	case StateTokenInvalid, StateNoPermission, StateBlocked:
		return true
	}
	return false
}

// String is a one-line operator-safe summary for an admin alert.
func (h Health) String() string {
	out := "WhatsApp Business Platform: " + string(h.State)
	if h.Detail != "" {
		out += " (" + h.Detail + ")"
	}
	return out
}

// healthTracker holds the current Health and reports changes.
type healthTracker struct {
	mu  sync.Mutex
	h   Health
	now func() time.Time
	on  func(Health)
}

func (t *healthTracker) get() Health {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.h
}

// set moves to state s with detail and reports a change (outside the lock).
func (t *healthTracker) set(s State, detail string) {
	t.mu.Lock()
	if t.h.State == s && t.h.Detail == detail {
		t.mu.Unlock()
		return
	}
	if t.h.State != s {
		t.h.Since = t.now()
	}
	t.h.State, t.h.Detail = s, detail
	h := t.h
	t.mu.Unlock()
	if t.on != nil {
		t.on(h)
	}
}
