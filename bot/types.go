package bot

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"time"
)

// Platform names a chat platform.
type Platform string

// The platforms Switchboard speaks.
const (
	WhatsApp Platform = "whatsapp"
	Teams    Platform = "teams"
)

// Name is how people call the platform ("WhatsApp").
func (p Platform) Name() string {
	switch p {
	case WhatsApp:
		return "WhatsApp"
	case Teams:
		return "Teams"
	}
	return string(p)
}

// SubjectID identifies one person (customer or staff), whatever identities
// they used. It is random, carries no personal data, and is what logs name.
type SubjectID string

// NewSubjectID returns a fresh subject id ("s_" + 24 hex digits): 8 hex
// digits of the current Unix second, then 64 random bits. The time prefix
// makes ids of new subjects sort in creation order, so inserts into the
// subjects primary key and every subject_id index land at the right edge of
// the b-tree instead of on a random page; it tells no more than the row's
// created_at, and the random part keeps ids unguessable. Nothing may parse
// an id: it is opaque.
func NewSubjectID() SubjectID {
	var b [12]byte
	binary.BigEndian.PutUint32(b[:4], uint32(time.Now().Unix()))
	if _, err := rand.Read(b[4:]); err != nil {
		panic("bot: crypto/rand failed: " + err.Error())
	}
	return SubjectID("s_" + hex.EncodeToString(b[:]))
}

// Role is what a subject may do.
type Role string

// Roles. A customer acts only on themself; staff decide drafts; admins also
// act on other subjects' data.
const (
	RoleCustomer Role = "customer"
	RoleStaff    Role = "staff"
	RoleAdmin    Role = "admin"
)

// Subject is one person.
type Subject struct {
	ID SubjectID
	// Name is the display name: the one the person set with /name, which
	// platform names never replace, else the platform's (WhatsApp push
	// name, Teams name). Personal data: stored encrypted, never logged.
	// Empty if unknown.
	Name string
	Role Role
	// Tenant is the Microsoft Entra tenant a Teams subject came from; empty
	// for WhatsApp customers.
	Tenant string
	// AIRestricted is true when the subject objected (/stop): their messages
	// are never sent to the LLM.
	AIRestricted bool
	CreatedAt    time.Time
}

// ChatID is a platform conversation, opaque outside its channel adapter.
type ChatID string

// MessageID is a platform's id for one message (a WhatsApp message id, a
// Teams activity id).
type MessageID string

// Direction says which way a message went.
type Direction string

// Directions.
const (
	In  Direction = "in"
	Out Direction = "out"
)

// MessageKind says what a message carries. Only text is stored as text;
// other kinds are recorded as metadata with a placeholder for staff.
type MessageKind string

// Message kinds.
const (
	KindText     MessageKind = "text"
	KindImage    MessageKind = "image"
	KindVoice    MessageKind = "voice"
	KindAudio    MessageKind = "audio" // an audio file that is not a voice note
	KindVideo    MessageKind = "video"
	KindDocument MessageKind = "document"
	KindLocation MessageKind = "location"
	KindContact  MessageKind = "contact"
	KindSticker  MessageKind = "sticker"
	KindOther    MessageKind = "other"
)

// Placeholder is what staff see for a message that carries no text.
func (k MessageKind) Placeholder() string {
	switch k {
	case KindText, "":
		return ""
	case KindVoice:
		return "[voice note]"
	default:
		return "[" + string(k) + "]"
	}
}

// MessageStatus is where a message is on its way.
type MessageStatus string

// Message statuses, in the order an outbound message passes them.
//
// An outbox row is pending until an attempt begins; the row becomes sending
// (committed) before the channel is called, and sent once the platform's
// answer is recorded. A row found sending after a restart is in doubt: the
// send may or may not have reached the platform. The router resolves it
// (Router.Run): a channel whose Capabilities.Idempotent is set gets the
// same Outbound.Key again (the platform drops a repeated message id); for
// any other channel the router waits a bounded time for a receipt carrying
// the key, and then marks the row unconfirmed for staff to check and resend.
const (
	StatusReceived MessageStatus = "received" // inbound, stored
	StatusPending  MessageStatus = "pending"  // outbound, queued in the outbox
	StatusSending  MessageStatus = "sending"  // handed to the channel; outcome not yet recorded
	// StatusUnconfirmed: a send was in doubt and the platform never said
	// whether it went out; staff may resend it from the card.
	StatusUnconfirmed MessageStatus = "unconfirmed"
	StatusSent        MessageStatus = "sent" // accepted by the platform
	StatusDelivered   MessageStatus = "delivered"
	StatusRead        MessageStatus = "read"
	StatusFailed      MessageStatus = "failed" // gave up after retries, or the platform said it failed
)

// OutboundStatuses lists the outbound statuses by Rank.
var OutboundStatuses = []MessageStatus{StatusPending, StatusSending, StatusUnconfirmed, StatusSent, StatusDelivered, StatusRead, StatusFailed}

// Rank orders outbound statuses so a late "delivered" never overwrites
// "read", and a receipt of the platform raises an in-doubt row.
func (s MessageStatus) Rank() int {
	for i, o := range OutboundStatuses {
		if s == o {
			return i + 1
		}
	}
	return 0
}

// Message is one stored message. Text is plaintext in memory only; the store
// keeps it sealed with the subject's key.
type Message struct {
	ID         int64 // store row id; 0 before it is stored
	Subject    SubjectID
	Platform   Platform
	Chat       ChatID
	PlatformID MessageID
	Dir        Direction
	Kind       MessageKind
	Text       string
	SentAt     time.Time // as the platform stamped it
	StoredAt   time.Time
	Status     MessageStatus
	// AIRestricted is true when the subject had objected to AI (/stop) when
	// the message was stored: it never goes to the model, also after /start.
	// The store sets it; what a caller puts here when saving is ignored.
	AIRestricted bool
	// Media, on a message being saved (SaveInbound, Ingest), is its
	// attachment: a store that keeps media records it as a pending item in
	// the same transaction as the message, so a crash cannot keep the
	// message and lose the file's handle. Reads leave it nil (the items
	// are MediaOfMessage).
	Media *MediaRef
}

// DraftStatus is a draft's place in review.
type DraftStatus string

// Draft statuses.
const (
	DraftPending  DraftStatus = "pending"  // waiting for staff
	DraftApproved DraftStatus = "approved" // approved as drafted, queued to send
	DraftEdited   DraftStatus = "edited"   // approved with staff's text, queued to send
	DraftRejected DraftStatus = "rejected"
	DraftFailed   DraftStatus = "failed" // the drafter failed; staff may retry or answer by hand
	DraftSent     DraftStatus = "sent"   // the reply left through the channel
	// DraftDrafting: the card is up, the first draft is being made (staff
	// may already write the reply by hand).
	DraftDrafting DraftStatus = "drafting"
)

// Decided reports whether staff already settled the draft.
func (s DraftStatus) Decided() bool {
	switch s {
	case DraftApproved, DraftEdited, DraftRejected, DraftSent:
		return true
	}
	return false
}

// Draft is a proposed reply to one inbound message.
type Draft struct {
	ID int64
	// Token is a random secret of this draft that its card's actions
	// carry (Decision.Token); empty for drafts older than tokens.
	Token     string
	Subject   SubjectID // the customer the reply is for
	MessageID int64     // the inbound message row it answers
	Platform  Platform
	Chat      ChatID
	Text      string // sealed at rest
	Status    DraftStatus
	// Result is what the drafter said besides the text (intent, quote,
	// reasons); nil for a manual draft.
	Result    *DraftResult
	CreatedAt time.Time
	UpdatedAt time.Time
}

// DecisionKind is what staff chose on a card.
type DecisionKind string

// Decision kinds.
const (
	Approve    DecisionKind = "approve"
	Edit       DecisionKind = "edit"
	Reject     DecisionKind = "reject"
	Regenerate DecisionKind = "regenerate" // draft again, with an optional instruction
	Retry      DecisionKind = "retry"      // draft again after a failure
	// Resend queues an approved reply again after its send failed or could
	// not be confirmed; it changes neither the text nor the approval.
	Resend DecisionKind = "resend"
	// SendTemplate sends the business's message template to a customer
	// whose reply window closed, asking them to write again; the draft
	// stays pending.
	SendTemplate DecisionKind = "template"
	// Attach attaches a file staff sent (Decision.File) to a draft's
	// reply: it goes out with the reply once approved; a second one
	// replaces the first. Token holds the card's attach code's token part
	// (AttachCode): the card a staff member read names the draft.
	Attach DecisionKind = "attach"
)

// Decision is one staff click on a draft card.
type Decision struct {
	DraftID int64
	// Token is the card's action token (Card.Token); a decision whose
	// token is not its draft's is refused, so a card can only ever act on
	// the draft it was made for.
	Token string
	Kind  DecisionKind
	// Text is the staff's reply for Edit.
	Text string
	// Instruction is the staff's hint for Regenerate ("shorter").
	Instruction string
	// By is the deciding staff member's identity (teams:<aadObjectId>).
	By     Identity
	Tenant string
	// ByName is the staff member's display name, shown on the card.
	ByName string
	// ActionID is the platform's id for the click (a Teams activity id), so a
	// retried delivery of the same click is recognised.
	ActionID string
	At       time.Time
	// File is the file staff attach to the reply (Attach); nil otherwise.
	File *File
}

// Outcome is how a decision was taken.
type Outcome string

// Decision outcomes.
const (
	Applied        Outcome = "applied"         // this decision settled the draft
	AlreadyDecided Outcome = "already-decided" // an earlier decision won; nothing was done
	Refused        Outcome = "refused"         // the person may not decide, or the edit is invalid
)

// DecisionResult answers a decision.
type DecisionResult struct {
	Outcome Outcome
	// Message is a short text for the person who clicked.
	Message string
	// Card is the draft's card as it stands after the decision.
	Card Card
}

// Receipt reports the status of sent messages: accepted by the platform
// (sent), delivered, read, or failed after acceptance.
type Receipt struct {
	Platform Platform
	Chat     ChatID
	IDs      []MessageID
	Status   MessageStatus // StatusSent, StatusDelivered, StatusRead or StatusFailed
	At       time.Time
	// Key is the Outbound.Key the platform echoed with the status, if any:
	// it names the reply even before its platform id was recorded.
	Key string
	// Reason says why a failed message failed (the platform's error code
	// and title), for staff and operators; never message text.
	Reason string
	// Recipients are the identities the platform names the recipient by
	// (a WhatsApp number and business-scoped user id), if it names any. A
	// reply sent to another chat of the same person (to the user id, the
	// status naming only the number, or the reverse) is found through
	// them. Personal data: never logged.
	Recipients []Identity
}

// File is a document to send (an /export).
type File struct {
	Name string
	MIME string
	Data []byte
}

// Reply is the bot's answer in the chat a command came from.
type Reply struct {
	Text string
	File *File
}

// OutboxItem is one queued reply. Rows survive restarts, so an approved reply
// is sent exactly once even if the process stops between approval and send.
type OutboxItem struct {
	ID      int64
	DraftID int64 // 0 for replies not tied to a draft (command answers)
	// Key is the row's idempotency key, sent as Outbound.Key on every
	// attempt; random, no personal data.
	Key         string
	Subject     SubjectID
	Platform    Platform
	Chat        ChatID
	Text        string // sealed at rest
	Status      MessageStatus
	Attempts    int
	NextAttempt time.Time
	PlatformID  MessageID // set once sent
	LastError   string    // operator-facing; never holds message text
	// Reason says in plain words why the reply failed or is unconfirmed,
	// for the card; never message text.
	Reason string
	// SendingAt is when the attempt in doubt began (StatusSending).
	SendingAt time.Time
	// Waiting is the platform a pending reply waits for (its channel is off
	// or reconnecting); empty when not waiting.
	Waiting Platform
	// Kind is what the row sends: the approved reply (Text), or the
	// business's template (Template, no text) to reopen a closed reply
	// window. Empty reads as OutboxReply.
	Kind OutboxKind
	// Template is the template a template row sends, as it was when staff
	// asked for it.
	Template Template
}

// OutboxKind is what an outbox row sends.
type OutboxKind string

// Outbox kinds. A draft has at most one row of each.
const (
	OutboxReply    OutboxKind = "reply"
	OutboxTemplate OutboxKind = "template"
)

// Template is the business's pre-approved message template (WhatsApp
// Manager), the one kind of message the WhatsApp Business Platform delivers
// outside the reply window. The zero Template is none.
type Template struct {
	Name     string // as approved
	Language string // its language code, "en_GB"
	// FirstName is true when the template's body takes one parameter,
	// {{1}}: the customer's first name. Otherwise it takes none.
	FirstName bool
}

// IsZero reports whether t names no template.
func (t Template) IsZero() bool { return t.Name == "" }
