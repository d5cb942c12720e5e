package bot

import "errors"

// Sentinel errors shared across packages.
var (
	// ErrNotFound is returned when a row, subject or draft does not exist.
	ErrNotFound = errors.New("not found")
	// ErrUnsupported is returned when a channel cannot do what was asked.
	ErrUnsupported = errors.New("unsupported")
	// ErrUnknownCommand is returned by Commands for a slash command it does not know.
	ErrUnknownCommand = errors.New("unknown command")
	// ErrTooLarge is returned for input over a size limit.
	ErrTooLarge = errors.New("too large")
	// ErrUnavailable is returned by a channel that is not connected now
	// (WhatsApp reconnecting). The router keeps the reply pending without
	// counting an attempt, so it goes out after the reconnect.
	ErrUnavailable = errors.New("channel unavailable")
	// ErrForbidden is returned when the requester may not do what was asked.
	ErrForbidden = errors.New("forbidden")
	// ErrInDoubt is returned by a channel that cannot tell whether the
	// platform took the message: the request left but no answer came back
	// (a timeout, a dropped connection, a 5xx after the platform may have
	// accepted it). The router never resends such a reply on a channel that
	// is not Idempotent: it waits for a receipt carrying the reply's Key,
	// then shows it to staff as unconfirmed. An error may wrap it beside
	// ErrUnavailable; ErrInDoubt wins.
	ErrInDoubt = errors.New("send outcome unknown")
)

// UserError separates what a person sees from what operators see: the bot
// replies with Safe and logs Err. Neither may hold message text, names or
// phone numbers.
type UserError struct {
	Code string // short machine code, "forbidden", "too-large"
	Safe string // shown to the user
	Err  error  // logged
}

func (e *UserError) Error() string {
	if e.Err == nil {
		return e.Code
	}
	return e.Code + ": " + e.Err.Error()
}

func (e *UserError) Unwrap() error { return e.Err }
