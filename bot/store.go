package bot

import (
	"context"
	"errors"
	"time"
)

// ErrDecided is returned when a draft was already settled by staff.
var ErrDecided = errors.New("draft already decided")

// SubjectInput is what a channel knows about a sender.
type SubjectInput struct {
	// Identities of the one person; at least one. All are linked to the
	// subject returned.
	Identities []Identity
	Name       string // platform display name; empty, or a name the person set with /name, keeps the stored one
	Role       Role   // minimum role; a stored higher role is kept
	Tenant     string
}

// DraftView is a draft with everything its card needs.
type DraftView struct {
	Draft   Draft
	Message Message // the inbound message it answers (text decrypted)
	// Recent are up to RecentLimit messages of the same conversation before
	// Message, oldest first (text decrypted), without commands and other
	// messages answered without a draft: context for the card.
	Recent   []Message
	Customer Subject // name decrypted
	// Phone is the customer's E.164 number if known, for a masked label.
	Phone string
	Card  *CardRef // nil until posted
	// Decision is the settling decision, if any.
	Decision *Decision
	// SendStatus is the reply's status once queued.
	SendStatus MessageStatus
	// SendReason says in plain words why the reply failed or is
	// unconfirmed (OutboxItem.Reason).
	SendReason string
	// SendWaiting is the platform whose channel the queued reply waits for.
	SendWaiting Platform
	// ClosedReply is the closed-hours acknowledgement the customer got in
	// the closed period the draft's message was written in; nil for none.
	ClosedReply *ClosedReply
	// LastInbound is when the customer last wrote in the draft's chat (the
	// platform's time of the newest stored inbound message); zero if no
	// inbound message of the chat is stored.
	LastInbound time.Time
	// Media are the attachments of Message (without their bytes), from a
	// store that keeps media; nil otherwise.
	Media []Media
	// Attachment is the file staff attached to the reply (Decision
	// Attach), without its bytes; nil if none.
	Attachment *Media
	// TemplateStatus is the status of the template staff sent to reopen
	// the chat's reply window (SendTemplate), empty if none;
	// TemplateReason says why it failed or is unconfirmed; TemplateAt is
	// when staff asked for it.
	TemplateStatus MessageStatus
	TemplateReason string
	TemplateAt     time.Time
	// CardWindowEnds is when the reply window the posted card shows as
	// open closes (CardWindow); zero if it shows none.
	CardWindowEnds time.Time
}

// RecentLimit is how many earlier messages a DraftView carries.
const RecentLimit = 3

// Store is the persistence the router needs. Implementations seal message,
// draft and name text with the subject's key; every method may be called
// from several goroutines.
type Store interface {
	// ResolveSubject finds the subject known by any of the identities, or
	// creates one, and links every identity to it.
	ResolveSubject(ctx context.Context, in SubjectInput) (Subject, error)
	// FindSubject returns ErrNotFound if the subject does not exist.
	FindSubject(ctx context.Context, id SubjectID) (Subject, error)
	// SaveInbound stores an inbound message. dup is true (and id the
	// existing row) if the same platform message id was stored before.
	SaveInbound(ctx context.Context, m Message) (id int64, dup bool, err error)
	// History returns up to limit messages of the subject in chat stored
	// before the message with row id before, oldest first.
	History(ctx context.Context, subject SubjectID, chat ChatID, before int64, limit int) ([]Message, error)
	// Undrafted returns stored inbound customer messages that have no draft
	// yet, oldest first: work to resume after a restart.
	Undrafted(ctx context.Context, limit int) ([]Message, error)
	// CreateDraft stores a draft and returns its id.
	CreateDraft(ctx context.Context, d Draft) (int64, error)
	// ReviseDraft replaces the text and result of a draft that is still
	// drafting, pending or failed (first draft, regenerate, retry), setting
	// status pending or failed. Returns ErrDecided otherwise.
	ReviseDraft(ctx context.Context, id int64, status DraftStatus, text string, res *DraftResult) error
	// LoadDraft returns ErrNotFound if the draft does not exist.
	LoadDraft(ctx context.Context, id int64) (DraftView, error)
	// StartDraft returns the draft answering the stored inbound message m,
	// creating it (status drafting, a fresh token) if there is none: the
	// card goes up before the drafter is asked. It returns ErrNotFound if
	// the message or its subject is gone.
	StartDraft(ctx context.Context, m Message) (Draft, error)
	// Drafting returns ids of drafts whose first draft is still being made
	// (status drafting), oldest first: work to resume after a restart.
	Drafting(ctx context.Context, limit int) ([]int64, error)
	// Uncarded returns ids of drafts whose card was never posted, or whose
	// post is in doubt (recorded as an intent, no platform id yet).
	Uncarded(ctx context.Context, limit int) ([]int64, error)
	// BeginCard records the intent to post a draft's card before it is
	// posted. inDoubt is true if an earlier intent exists: a post that may
	// have reached the platform without its id being recorded. It returns
	// ErrNotFound if the draft is gone (erased).
	BeginCard(ctx context.Context, draftID int64) (inDoubt bool, err error)
	// SaveCard records where a draft's card was posted, naming its subject.
	// It returns ErrNotFound if the draft is gone: the caller must then
	// remove the card it posted.
	SaveCard(ctx context.Context, draftID int64, ref CardRef) error
	// CardRendered records that a posted card shows its content (not the
	// placeholder).
	CardRendered(ctx context.Context, draftID int64) error
	// Unrendered returns ids of drafts whose posted card may still show the
	// placeholder.
	Unrendered(ctx context.Context, limit int) ([]int64, error)
	// CardWindow records when the reply window the draft's posted card
	// shows as open closes; zero: it shows no open window.
	CardWindow(ctx context.Context, draftID int64, ends time.Time) error
	// WindowsClosed returns ids of drafts whose posted card shows a reply
	// window as open that closed at or before now.
	WindowsClosed(ctx context.Context, now time.Time, limit int) ([]int64, error)
	// OpenDrafts returns ids of a chat's undecided drafts (drafting,
	// pending, failed) that have a posted card, oldest first.
	OpenDrafts(ctx context.Context, platform Platform, chat ChatID, limit int) ([]int64, error)
	// PendingCardRemovals returns posted cards of erased subjects that are
	// still to be deleted from the platform, oldest first.
	PendingCardRemovals(ctx context.Context, limit int) ([]CardRemoval, error)
	// CardRemoved forgets a removal once the card is gone.
	CardRemoved(ctx context.Context, id int64) error
	// Decide settles a pending draft in one transaction: the decision row,
	// the draft's new status and, for approve and edit, an outbox row with
	// the reply. The first decision wins: a later one returns ErrDecided and
	// changes nothing. Approve of a draft with empty text or flags, and Edit
	// with empty text, return ErrForbidden.
	Decide(ctx context.Context, d Decision) error
	// QueueTemplate queues the business's template t for an undecided
	// draft's chat in one transaction: an outbox row of kind template (its
	// own key, no text) and a decision row of kind template. A draft has
	// one template row: a failed or unconfirmed one is queued again under
	// the same key; otherwise, or for the same ActionID again, or a decided
	// draft, it returns ErrDecided. ErrNotFound if the draft is gone.
	QueueTemplate(ctx context.Context, d Decision, t Template) error
	// DueOutbox returns pending outbox items whose next attempt is due.
	DueOutbox(ctx context.Context, now time.Time, limit int) ([]OutboxItem, error)
	// BeginSend records, committed before the channel is called, that an
	// attempt of a pending item begins: the item becomes sending. It
	// returns an error if the item is not pending.
	BeginSend(ctx context.Context, outboxID int64, at time.Time) error
	// MarkSent records a successful send: the outbox row, an outbound
	// message row, and the draft's status become sent. An item a receipt
	// settled already stays as it is.
	MarkSent(ctx context.Context, outboxID int64, platformID MessageID, at time.Time) error
	// MarkRetry makes a pending or sending item pending again with its
	// next attempt at next, counting an attempt; lastErr must not hold
	// message text.
	MarkRetry(ctx context.Context, outboxID int64, next time.Time, lastErr string) error
	// Postpone makes a pending or sending item pending at next without
	// counting an attempt; waiting names the platform whose channel it
	// waits for (off, or unavailable), "" for none.
	Postpone(ctx context.Context, outboxID int64, next time.Time, waiting Platform) error
	// MarkFailed gives up on an outbox item; reason says why in plain
	// words for staff.
	MarkFailed(ctx context.Context, outboxID int64, lastErr, reason string) error
	// MarkUnconfirmed gives up waiting for a receipt of a sending item:
	// it becomes unconfirmed, with reason for staff.
	MarkUnconfirmed(ctx context.Context, outboxID int64, reason string) error
	// InDoubt returns up to limit items whose send is in doubt (sending),
	// oldest first.
	InDoubt(ctx context.Context, limit int) ([]OutboxItem, error)
	// ApplyReceipt raises the status of the named sent messages (never
	// lowers it) and returns the ids of the drafts whose reply changed. A
	// receipt with a Key settles the outbox row of that key whatever its
	// state (a sending row in doubt becomes sent, with the receipt's
	// platform id); a failed one marks it failed with the Reason.
	ApplyReceipt(ctx context.Context, r Receipt) ([]int64, error)
	// RevokeMessage deletes the stored copy of an inbound message the sender
	// deleted for everyone, and returns the ids of drafts that answered it.
	RevokeMessage(ctx context.Context, platform Platform, chat ChatID, id MessageID) ([]int64, error)
}

// HandledMarker is implemented by a Store that can record inbound messages
// answered without a draft (commands, intercepted confirmations, staff
// text), so Undrafted leaves them out and they do not crowd out real work
// after a restart. The router uses it when the Store has it.
type HandledMarker interface {
	// MarkHandled records that the inbound message with row id needs no
	// draft. Unknown ids are not an error.
	MarkHandled(ctx context.Context, messageID int64) error
}

// MessageFinder is implemented by a Store that can read one stored
// message by its row id. The router uses it to follow a queued message
// whose subject was merged into another meanwhile (the message now names
// the subject it was merged into); without it, such a message waits for the
// next rescan of undrafted messages.
type MessageFinder interface {
	// FindMessage returns the message with row id, its text decrypted, or
	// an error wrapping ErrNotFound (erased, or revoked by its sender).
	FindMessage(ctx context.Context, id int64) (Message, error)
}

// CommandRequest is a slash command (or, for Intercept, plain text) from a
// known subject.
type CommandRequest struct {
	Command  Command
	Text     string // the whole text as typed; personal data
	Subject  Subject
	Sender   Identity
	Platform Platform
	Chat     ChatID
	Group    bool
	At       time.Time
}

// Commands is the privacy service: it acts on data-rights and admin
// commands. Authorization is its job, where the action happens.
type Commands interface {
	// Handle runs a slash command. It returns ErrUnknownCommand for a
	// command it does not know; the router then answers with help.
	Handle(ctx context.Context, req CommandRequest) (Reply, error)
	// Intercept sees plain text before drafting, so a pending confirmation
	// ("YES") is consumed. handled=false passes the message on.
	Intercept(ctx context.Context, req CommandRequest) (reply Reply, handled bool, err error)
}

// FailureStages are the stage labels the router passes to
// Metrics.Failure, so a metrics backend can export each at zero from the
// start (an alert on a counter's increase sees its first failure).
var FailureStages = []string{
	"card", "closed-ack", "command", "decide", "draft", "drafter", "history", "intercept", "mark-handled", "media", "outbox",
	"queue", "receipt", "redraft", "reply", "resolve", "resume", "revoke", "save", "send", "template", "validate",
}

// Metrics counts what the router does. Implementations must not block.
type Metrics interface {
	Inbound(p Platform)
	Drafted(status DraftStatus)
	Decided(kind DecisionKind, outcome Outcome)
	Sent(p Platform, err error)
	Failure(stage string)
}

// NopMetrics counts nothing.
type NopMetrics struct{}

func (NopMetrics) Inbound(Platform)              {}
func (NopMetrics) Drafted(DraftStatus)           {}
func (NopMetrics) Decided(DecisionKind, Outcome) {}
func (NopMetrics) Sent(Platform, error)          {}
func (NopMetrics) Failure(string)                {}

// Ingester is implemented by a Store that resolves an inbound message's
// sender and stores the message in one step (one transaction, shared with
// concurrent calls), which costs fewer commits than ResolveSubject followed
// by SaveInbound. The router uses it when the Store has it.
type Ingester interface {
	// Ingest resolves in as ResolveSubject does, then stores m with its
	// Subject set to the resolved subject as SaveInbound does. dup is true
	// (and id the existing row) if the same platform message id was stored
	// before. If it fails, nothing of m is stored.
	Ingest(ctx context.Context, in SubjectInput, m Message) (sub Subject, id int64, dup bool, err error)
}
