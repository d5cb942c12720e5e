package bot

import (
	"context"
	"errors"
)

// DraftRequest is what the drafter gets for one inbound message.
type DraftRequest struct {
	Subject SubjectID
	// Message is the inbound message to answer (with its text).
	Message Message
	// History is the conversation before Message, oldest first, decrypted
	// in memory only.
	History []Message
	// Instruction is a staff hint for Regenerate; empty otherwise.
	Instruction string
	// Previous is the draft being regenerated; empty otherwise.
	Previous string
	// Names are the names the system knows for the conversation's people
	// (the customer's display or /name name, staff who decided its drafts),
	// in memory only: the drafter redacts them wherever they appear and
	// never sends them as such.
	Names []string
}

// QuoteLine is one priced line of a quote. Amounts are minor units (pence).
type QuoteLine struct {
	ItemID    string
	Name      string
	Unit      string // what UnitPrice is for: "visit", "hour"; "each" or empty for items
	Quantity  int
	UnitPrice int64
	Total     int64
}

// Quote is a priced quote computed in Go from a versioned price list.
type Quote struct {
	Lines            []QuoteLine
	Net              int64
	VAT              int64
	Total            int64
	Currency         string // ISO 4217, "GBP"
	PriceListVersion string
}

// DraftResult is the drafter's answer.
type DraftResult struct {
	Text   string
	Intent string // "question", "quote", "booking", "complaint", …
	Quote  *Quote
	// HumanReason is set when the model thinks a person must answer.
	HumanReason string
	// Flags block approval until staff edit the draft (an invented price,
	// an unknown item). Each is a short operator-safe sentence.
	Flags []string
	// Manual is true when no model was asked (no LLM configured, or the
	// subject objected); Text is then empty and Note says why.
	Manual bool
	Note   string
	// Author names who drafted Text on the staff card when it is not an
	// AI model ("Demo drafter — not AI"); empty: "AI draft".
	Author string `json:",omitempty"`
	// Failure says why drafting failed; empty unless it did.
	Failure DraftFailure `json:",omitempty"`
}

// DraftFailure is why drafting failed, as a category staff can act on. It
// never carries the model's or the endpoint's own error text.
type DraftFailure string

// Draft failures.
const (
	FailTimeout       DraftFailure = "timeout"        // the model did not answer in time
	FailRefused       DraftFailure = "refused"        // the model or its content filter declined
	FailUnreachable   DraftFailure = "unreachable"    // the endpoint could not be reached, or failed
	FailNotConfigured DraftFailure = "not-configured" // the endpoint refused our key, model or address
	FailOther         DraftFailure = "other"          // the answer could not be used
)

// Note is the card note for the failure: what happened and what staff can do.
func (f DraftFailure) Note() string {
	switch f {
	case FailTimeout:
		return "The AI model did not answer in time. Retry in a minute, or write the reply by hand."
	case FailRefused:
		return "The AI model declined to draft this reply. Please write it by hand."
	case FailUnreachable:
		return "The AI service could not be reached. Retry later, or write the reply by hand; if it keeps happening, tell whoever runs Switchboard."
	case FailNotConfigured:
		return "The AI service did not accept Switchboard's settings. Write the reply by hand, and ask whoever runs Switchboard to check the AI key, model and address."
	}
	return NoteDraftFailed
}

// Retry reports whether drafting again may help.
func (f DraftFailure) Retry() bool { return f != FailRefused && f != FailNotConfigured }

// DraftError is returned by a Drafter to name the category of its failure.
// Err must hold no prompt, draft or provider error body.
type DraftError struct {
	Failure DraftFailure
	Err     error
}

func (e *DraftError) Error() string {
	if e.Err == nil {
		return "draft failed: " + string(e.Failure)
	}
	return e.Err.Error()
}

func (e *DraftError) Unwrap() error { return e.Err }

// FailureOf classifies a drafter's error: a DraftError's category, a
// deadline as FailTimeout, anything else as FailOther.
func FailureOf(err error) DraftFailure {
	var de *DraftError
	switch {
	case errors.As(err, &de) && de.Failure != "":
		return de.Failure
	case errors.Is(err, context.DeadlineExceeded):
		return FailTimeout
	}
	return FailOther
}

// Blocked reports whether approval as drafted must wait for a staff edit.
func (r *DraftResult) Blocked() bool { return r != nil && len(r.Flags) > 0 }

// Drafter proposes replies. It returns an error only when drafting failed
// (after its own retries); the router then marks the draft failed and the
// customer's message stays as it was.
type Drafter interface {
	Draft(ctx context.Context, req DraftRequest) (DraftResult, error)
}

// ManualDrafter is the drafter used when no LLM is configured: it never
// invents a draft and tells staff to reply by hand.
type ManualDrafter struct{}

// Draft returns a manual result.
func (ManualDrafter) Draft(context.Context, DraftRequest) (DraftResult, error) {
	return DraftResult{Manual: true, Note: "No AI model is configured: please write the reply by hand."}, nil
}
