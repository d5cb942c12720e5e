package bot

import "context"

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
