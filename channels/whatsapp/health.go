package whatsapp

import (
	"fmt"
	"reflect"
	"sync"
	"time"

	"go.mau.fi/whatsmeow/types/events"
)

// State is the WhatsApp connection's condition.
type State string

// Connection states. The permanent ones (LoggedOut, StreamReplaced,
// ClientOutdated) end Run; TempBanned waits for the ban to lapse.
const (
	StateStopped          State = "stopped"           // Run is not running
	StateStarting         State = "starting"          // opening the session, connecting
	StatePairing          State = "pairing"           // waiting for the QR scan or pairing code
	StateUnreachable      State = "unreachable"       // not paired, and WhatsApp's servers cannot be reached
	StateConnected        State = "connected"         // logged in, messages flow
	StateDisconnected     State = "disconnected"      // lost the connection; reconnecting with backoff
	StateKeepAliveTimeout State = "keepalive-timeout" // pings unanswered; whatsmeow reconnects after a while
	StateLoggedOut        State = "logged-out"        // the phone unlinked us (or WhatsApp did): pair again
	StateStreamReplaced   State = "stream-replaced"   // another process uses the same session
	StateTempBanned       State = "temporarily-banned"
	StateClientOutdated   State = "client-outdated" // WhatsApp refuses this whatsmeow version (405): update it
)

// States lists every State, for metrics that export each at zero from the
// start.
var States = []State{StateStopped, StateStarting, StatePairing, StateUnreachable, StateConnected, StateDisconnected,
	StateKeepAliveTimeout, StateLoggedOut, StateStreamReplaced, StateTempBanned, StateClientOutdated}

// Health is a snapshot of the connection for /readyz, /metrics and admin
// alerts. It holds no personal data.
type Health struct {
	State State
	Since time.Time // when State began
	// Detail is an operator-safe explanation ("ban code 101: …, expires in
	// 2h0m0s", "update whatsmeow: …").
	Detail string
	// BanCode and BanExpires describe a temporary ban; zero otherwise.
	BanCode    int
	BanExpires time.Time
	// Undecryptable counts messages WhatsApp delivered that could not be
	// decrypted since Run started; staff should ask the customer to resend.
	Undecryptable     int
	LastUndecryptable time.Time
}

// String is a one-line operator-safe summary for an admin alert:
// "WhatsApp: temporarily-banned (temporary ban, code 101: …; expires in 2h0m0s)".
func (h Health) String() string {
	out := "WhatsApp: " + string(h.State)
	if h.Detail != "" {
		out += " (" + h.Detail + ")"
	}
	if h.Undecryptable > 0 {
		out += fmt.Sprintf("; %d message(s) could not be decrypted: ask the customer to send again", h.Undecryptable)
	}
	return out
}

// Ready reports whether messages can flow.
func (h Health) Ready() bool { return h.State == StateConnected }

// Permanent reports whether the state needs a person (re-pairing, updating
// the module, stopping the other instance) before messages flow again.
func (h Health) Permanent() bool {
	switch h.State {
	case StateLoggedOut, StateStreamReplaced, StateClientOutdated:
		return true
	}
	return false
}

// updateHint is what an operator does when WhatsApp says the client is
// outdated; the admin alert and the README say the same.
const updateHint = "WhatsApp refuses this client version (405). Update whatsmeow and rebuild: " +
	"go get go.mau.fi/whatsmeow@latest && go mod tidy && go build ./cmd/switchboard, then restart"

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

// set moves to state s with detail and reports it. A repeated state with
// the same detail is not reported again.
func (t *healthTracker) set(s State, detail string) {
	t.update(func(h *Health) bool {
		if h.State == s && h.Detail == detail {
			return false
		}
		if h.State != s {
			h.Since = t.now()
		}
		h.State, h.Detail = s, detail
		if s != StateTempBanned {
			h.BanCode, h.BanExpires = 0, time.Time{}
		}
		return true
	})
}

// update applies fn under the lock and, if it reports a change, calls the
// callback with the new snapshot (outside the lock).
func (t *healthTracker) update(fn func(h *Health) bool) {
	changed, h := func() (bool, Health) {
		t.mu.Lock()
		defer t.mu.Unlock()
		return fn(&t.h), t.h
	}()
	if changed && t.on != nil {
		t.on(h)
	}
}

// followUp is what Run does after a connection event.
type followUp int

const (
	followNone      followUp = iota // whatsmeow carries on (or reconnects) by itself
	followReconnect                 // whatsmeow gave up: reconnect after a wait
	followStop                      // a person must act: Run returns
)

// onEvent maps a whatsmeow connection event onto the health state. handled
// is false for events that are not about the connection. wait is the delay
// before a followReconnect.
func (t *healthTracker) onEvent(evt any) (handled bool, next followUp, wait time.Duration) {
	if v := reflect.ValueOf(evt); !v.IsValid() || (v.Kind() == reflect.Pointer && v.IsNil()) {
		return false, followNone, 0
	}
	switch v := evt.(type) {
	case *events.Connected:
		t.set(StateConnected, "")
	case *events.KeepAliveRestored:
		t.set(StateConnected, "")
	case *events.Disconnected:
		t.set(StateDisconnected, "connection lost; reconnecting")
	case *events.KeepAliveTimeout:
		t.set(StateKeepAliveTimeout, fmt.Sprintf("%d keepalive pings failed", v.ErrorCount))
	case *events.LoggedOut:
		t.set(StateLoggedOut, "logged out ("+v.Reason.String()+"): pair again")
		return true, followStop, 0
	case *events.StreamReplaced:
		t.set(StateStreamReplaced, "another process connected with this session: run only one instance")
		return true, followStop, 0
	case *events.ClientOutdated:
		t.set(StateClientOutdated, updateHint)
		return true, followStop, 0
	case *events.TemporaryBan:
		now := t.now()
		t.update(func(h *Health) bool {
			if h.State != StateTempBanned {
				h.Since = now
			}
			h.State = StateTempBanned
			h.BanCode = int(v.Code)
			h.BanExpires = time.Time{}
			if v.Expire > 0 {
				h.BanExpires = now.Add(v.Expire)
			}
			h.Detail = "temporary ban, code " + v.Code.String()
			if v.Expire > 0 {
				h.Detail += fmt.Sprintf("; expires in %s", v.Expire)
			}
			return true
		})
		wait = v.Expire
		if wait <= 0 {
			wait = time.Hour
		}
		return true, followReconnect, wait
	case *events.ConnectFailure:
		t.set(StateDisconnected, "connect failure "+v.Reason.NumberString()+"; reconnecting")
		return true, followReconnect, 0
	case *events.StreamError:
		t.set(StateDisconnected, "stream error")
	case *events.UndecryptableMessage:
		if v.DecryptFailMode == events.DecryptFailHide {
			return true, followNone, 0
		}
		now := t.now()
		t.update(func(h *Health) bool {
			h.Undecryptable++
			h.LastUndecryptable = now
			return true
		})
	default:
		return false, followNone, 0
	}
	return true, followNone, 0
}
