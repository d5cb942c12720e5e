package bot

import (
	"context"
	"time"
)

// Capabilities says what a channel can do; data, not optional interfaces.
type Capabilities struct {
	Files bool // can send documents
	// FileTypes lists the only types of file the channel sends, each with
	// its size limit (the WhatsApp Business Platform takes JPEG and PNG
	// photos, a few audio and video types, plain text, PDF and Office
	// documents, and no ZIP); nil means files of any type. A sender checks a
	// file with TakesFile before it makes one the channel would refuse.
	FileTypes []FileType
	// MaxFile is the largest file the channel sends, in bytes; 0 means no
	// limit of its own.
	MaxFile int64
	Edits   bool // can update a posted message
	MaxText int  // longest text it sends in one message, in bytes; 0 means no limit
	// Window is how long after a chat's last inbound message the channel
	// may send free-form text to it (the WhatsApp Business Platform's
	// 24-hour customer-service window); 0 means any time.
	Window time.Duration
	// Idempotent is true when sending an Outbound with the same Key again
	// can never show the recipient a second message: the channel derives
	// the platform's message id from Key and the platform (server and
	// recipients' apps) treats a repeated id as the same message. The
	// router then resends a reply whose send was in doubt (a crash between
	// the send and its record, a timeout). Without it, an in-doubt reply
	// waits for a receipt carrying its Key (Receipt.Key) and is otherwise
	// shown to staff as unconfirmed, never resent blindly.
	Idempotent bool
	// Template is the business's pre-approved message template the channel
	// can send (Outbound.Template), the one kind of message the WhatsApp
	// Business Platform delivers outside Window; zero when it has none.
	Template Template
}

// FileType is one type of file a channel sends.
type FileType struct {
	// MIME is the type as CanonicalMIME spells it ("image/jpeg").
	MIME string
	// Max is the largest file of this type in bytes; 0 means up to
	// Capabilities.MaxFile.
	Max int64
}

// TakesFile reports whether the channel sends a file of type mime (any
// spelling CanonicalMIME knows) and size bytes.
func (c Capabilities) TakesFile(mime string, size int64) bool {
	if !c.Files || size < 0 || (c.MaxFile > 0 && size > c.MaxFile) {
		return false
	}
	if c.FileTypes == nil {
		return true
	}
	m := CanonicalMIME(mime)
	for _, t := range c.FileTypes {
		if t.MIME == m {
			return t.Max == 0 || size <= t.Max
		}
	}
	return false
}

// Inbound is one message from a platform, already mapped to bot types.
type Inbound struct {
	Platform Platform
	Chat     ChatID
	ID       MessageID // the platform's message id; used to drop redeliveries
	// Sender is the identity the platform names the sender by.
	Sender Identity
	// AltSenders are other identities of the same person the platform
	// revealed (a WhatsApp phone number next to a LID); they join one subject.
	AltSenders []Identity
	// SenderName is the platform display name; personal data, stored sealed.
	SenderName string
	// Tenant is the sender's Entra tenant (Teams only).
	Tenant string
	// Role is what the channel established about the sender (Teams staff or
	// admin from tenant and admin list); customers on WhatsApp are RoleCustomer.
	Role Role
	// Group is true for a chat with more than two people. Customers' data
	// rights commands are honoured only in 1:1 chats.
	Group  bool
	Kind   MessageKind
	Text   string // never logged
	SentAt time.Time
	// Media names the file of an image, voice note, video, document or
	// sticker as the platform keeps it, for a later download; nil for
	// text and for platforms that give no id. The router stores it with
	// the message as a pending attachment, fetched later by the
	// MediaWorker through the channel's MediaFetcher.
	Media *MediaRef
}

// MediaRef is a platform's handle on one received file. ID, Filename and
// SHA256 are personal data (they name what a person sent): never log them.
type MediaRef struct {
	ID       string // the platform's media id (Cloud API media ids live about 7 days)
	MIME     string
	Filename string // documents only
	SHA256   string // as the platform reported it (base64 or hex), if any
	// Size is the file's size in bytes as the platform declared it; 0 if
	// it declared none (the Cloud API's webhook; its media URL says).
	Size int64
}

// Sink accepts events from a channel. Each method returns nil once the event
// is durably stored (or deliberately dropped); channels may acknowledge the
// platform on nil and must let it redeliver on an error.
type Sink interface {
	// Deliver takes one inbound message.
	Deliver(ctx context.Context, in Inbound) error
	// Receipt takes delivery or read receipts for sent messages.
	Receipt(ctx context.Context, r Receipt) error
	// Decide takes a staff decision from a card. It never sends twice: a
	// repeated or retried decision returns AlreadyDecided.
	Decide(ctx context.Context, d Decision) (DecisionResult, error)
	// Revoke is called when a sender deleted a message for everyone; the
	// stored copy is deleted and staff are told.
	Revoke(ctx context.Context, platform Platform, chat ChatID, sender Identity, id MessageID) error
}

// Channel is one connected chat platform.
type Channel interface {
	Platform() Platform
	Capabilities() Capabilities
	// Run connects and feeds sink until ctx is done or the connection fails
	// for good. It reconnects by itself after transient failures.
	Run(ctx context.Context, sink Sink) error
	// Send sends one message and returns the platform's id for it. Errors
	// wrapping ErrUnsupported are not retried.
	Send(ctx context.Context, msg Outbound) (MessageID, error)
}

// Outbound is one message to send.
type Outbound struct {
	Chat    ChatID
	ReplyTo MessageID // optional
	Text    string
	File    *File
	// Key names one reply across all its attempts (the outbox row's
	// idempotency key); it carries no personal data. A channel that can
	// choose the platform's message id derives the id from Key, so a retry
	// after a crash is the same message; a channel whose platform echoes
	// caller data in status updates (the Cloud API's
	// biz_opaque_callback_data) attaches Key and reports it back in
	// Receipt.Key. Empty for replies sent outside the outbox.
	Key string
	// Template, if not nil, is sent instead of Text and File: the
	// business's re-engagement template (a channel whose
	// Capabilities.Template is set), the one message allowed outside
	// Capabilities.Window.
	Template *Template
	// TemplateParams are the template's body parameters in order ({{1}}
	// first): personal data (a first name), never logged.
	TemplateParams []string
}

// Forgetter is implemented by channels that keep data of their own about a
// person (whatsmeow's contact and session tables, Teams cards). Erasure calls
// it after our rows are gone.
type Forgetter interface {
	Forget(ctx context.Context, subject SubjectID, ids []Identity) error
}

// IdentityResolver is implemented by channels that know identities of a
// person beyond the ones their messages carried: whatsmeow's LID map pairs
// a LID with its phone number; the Cloud API pairs a business-scoped user
// id with a wa_id. Erasure and export ask it, so a person first seen under
// one identity and later under another, with no message carrying both (two
// subjects), is found whole.
type IdentityResolver interface {
	// OtherIdentities returns the identities the channel knows for the
	// same person as ids, leaving out ids themselves and kinds it does not
	// handle; none is not an error. It reads local state only (no network).
	OtherIdentities(ctx context.Context, ids []Identity) ([]Identity, error)
}

// Card is what staff see about one draft. The staff notifier renders it.
type Card struct {
	DraftID int64
	// Token is the draft's action token (Draft.Token): every action the
	// card offers carries it back in Decision.Token.
	Token   string
	Subject SubjectID
	// Preparing marks the placeholder the router posts before a card's
	// content: it names nobody, quotes nothing and offers no action, so a
	// placeholder whose post was cut off by a crash (posted, but its id
	// never recorded) leaks nothing. The content replaces it once its id is
	// recorded.
	Preparing bool
	// Customer is how the customer is shown: their name, or a masked number.
	Customer string
	// Message is the customer's message text (or its placeholder).
	Message string
	// WroteAt is when the customer sent Message; zero if unknown.
	WroteAt time.Time
	// Recent is the conversation just before Message, oldest first, each
	// line clipped: context for staff.
	Recent []CardLine
	// Draft is the reply: the drafter's text, or once staff edited it, the
	// text that is sent.
	Draft string
	// Author says who wrote Draft: "AI draft", "AI draft, edited by Alex",
	// "Written by Alex"; empty while there is no reply.
	Author string
	Status DraftStatus
	// Result is the drafter's structured output (intent, quote, flags).
	Result *DraftResult
	// Note explains an absent or blocked draft ("AI off at the customer's
	// request", "no LLM configured: reply by hand", "drafting failed").
	Note string
	// DecidedBy and DecidedAt show who settled the draft.
	DecidedBy string
	DecidedAt time.Time
	// SendStatus tracks the reply after approval.
	SendStatus MessageStatus
	// SendReason says in plain words why the reply failed or is
	// unconfirmed; the card then offers to resend it.
	SendReason string
	// Waiting is the platform the approved reply waits for: its channel is
	// off here or reconnecting ("Waiting for WhatsApp").
	Waiting Platform
	// WindowEnds is when the channel's free-form reply window for this
	// chat closes (Capabilities.Window after the customer's last message);
	// zero when the channel has no window.
	WindowEnds time.Time
	// WindowLeft is how much of the window was left when the card was
	// made; 0 once it closed (or the customer never wrote).
	WindowLeft time.Duration
	// Template is true when staff may send the business's template to
	// reopen a closed window.
	Template bool
	// ClosedReply is the closed-hours acknowledgement the customer got in
	// this message's closed period ("Closed-hours reply sent at 19:42");
	// nil for none.
	ClosedReply *ClosedReply
	// Removed is set when the card is blanked at the customer's request.
	Removed bool
	// Media are the attachments of Message as they stand: a photo's
	// preview, a voice note's transcript, a document's name, type and
	// size, or a note saying why a file is not (yet) kept.
	Media []CardMedia
	// Attachment is the file staff attached to the reply; nil if none.
	Attachment *CardMedia
	// AttachCode is what staff type after /attach to attach a file to
	// this reply ("42-7f3a9c01"); empty when the reply's channel takes no
	// files, or the draft is decided.
	AttachCode string
}

// CardMedia is one attachment as staff see it on a card.
type CardMedia struct {
	ID    int64 // the media item (Media.ID); the card's View action names it
	Kind  MessageKind
	State MediaState
	// MIME and Size are the checked type and measured size once fetched,
	// what the platform declared before.
	MIME string
	Size int64
	// FileName is a document's name as the customer sent it.
	FileName string
	// Thumb is a small JPEG preview of a photo or sticker, nil if none.
	Thumb []byte
	// Transcript is a voice note's text.
	Transcript string
	// Note says in plain words what staff should know: that the file is
	// still being downloaded, why it was not kept, why a voice note has no
	// transcript.
	Note string
}

// CardRemover is implemented by notifiers that can delete a posted card.
// The router deletes with it the cards of erased subjects (queued by the
// store's erasure) and a placeholder whose draft was erased while it was
// being posted. A card already gone is not an error. Without it the router
// replaces such cards with a Removed card.
type CardRemover interface {
	RemoveCard(ctx context.Context, ref CardRef) error
}

// CardRemoval is a posted card waiting to be deleted from the platform
// because its subject was erased.
type CardRemoval struct {
	ID  int64
	Ref CardRef
}

// CardLine is one earlier message shown on a card.
type CardLine struct {
	Dir  Direction // In: the customer; Out: the business's reply
	Text string    // clipped to MaxCardLine bytes
	At   time.Time
}

// MaxCardLine bounds the text of a CardLine.
const MaxCardLine = 280

// CardRef locates a posted card so it can be updated or deleted.
type CardRef struct {
	Conversation string // the platform conversation (opaque)
	ActivityID   string // the posted message's id
}

// Notifier posts draft cards to staff and keeps them current.
type Notifier interface {
	// PostCard posts a new card to the staff conversation.
	PostCard(ctx context.Context, c Card) (CardRef, error)
	// UpdateCard replaces a posted card. Returns ErrUnsupported if the
	// platform cannot edit; the router then leaves the card as it is.
	UpdateCard(ctx context.Context, ref CardRef, c Card) error
	// Alert tells the admins something operational (a lost connection).
	// It must not carry personal data.
	Alert(ctx context.Context, text string) error
}
