package bot

import "time"

// RequestKind is a data-rights request type.
type RequestKind string

// Request kinds (UK GDPR articles in brackets).
const (
	RequestExport   RequestKind = "export"   // access and portability (Art. 15, 20)
	RequestErase    RequestKind = "erase"    // erasure (Art. 17)
	RequestRestrict RequestKind = "restrict" // objection to AI processing (Art. 21) via /stop
	RequestResume   RequestKind = "resume"   // /start
	RequestRectify  RequestKind = "rectify"  // /name (Art. 16)
)

// Request is one entry of the request register. It never holds the
// identifier acted on nor any erased data: only what, when, who asked, and
// counts.
type Request struct {
	ID       int64
	Kind     RequestKind
	Scope    string    // "self", "phone", "teams", "tenant", "company": the identifier's kind, not its value
	Received time.Time // when it was made
	Due      time.Time // one calendar month after Received
	Done     time.Time // zero while open
	// RequestedBy is the requesting subject (may be erased later; then it
	// points at nobody).
	RequestedBy SubjectID
	// Counts of rows removed or exported, by table.
	Counts map[string]int
	Status string // "open", "done", "refused", "failed"
}

// AuditEntry is one line of the audit trail: who did what to which subject.
// It holds ids only.
type AuditEntry struct {
	At      time.Time
	Actor   SubjectID // empty for the system (retention)
	Action  string    // "erase", "export", "decide", "refused", …
	Subject SubjectID // empty for none
	Detail  string    // operator-safe: counts, outcome; never personal data
}
