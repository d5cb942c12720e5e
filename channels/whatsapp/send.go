package whatsapp

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
	"google.golang.org/protobuf/proto"

	"github.com/switchboard/switchboard/bot"
)

// errNeverWrote refuses a message to a chat that never wrote to us: the bot
// answers customers, it does not start conversations (WhatsApp bans numbers
// that message strangers).
var errNeverWrote = errors.New("chat never wrote to us")

// Send sends a text, or a document or photo with the text as its caption, to a chat
// that wrote to us before, and returns the WhatsApp message id: the one
// derived from msg.Key (messageID) when set, so a resend of the same reply
// is the same message, else a fresh one. Sends to one chat are serialized;
// a transient failure (not connected, timeout) is tried twice more with a
// doubling wait, under the same message id. Errors wrapping
// bot.ErrUnsupported (bad chat, chat never wrote, empty or oversized message)
// must not be retried; ErrNotRunning and others may be.
func (c *Channel) Send(ctx context.Context, msg bot.Outbound) (bot.MessageID, error) {
	jid, err := parseChatID(msg.Chat)
	if err != nil {
		return "", fmt.Errorf("whatsapp send: %w: %w", bot.ErrUnsupported, err)
	}
	if msg.Text == "" && (msg.File == nil || len(msg.File.Data) == 0) {
		return "", fmt.Errorf("whatsapp send: empty message: %w", bot.ErrUnsupported)
	}
	if len(msg.Text) > maxText || (msg.File != nil && len(msg.File.Data) > maxFile) {
		return "", fmt.Errorf("whatsapp send: %w: %w", bot.ErrTooLarge, bot.ErrUnsupported)
	}
	s := c.awaitSession(ctx, c.opts.SessionWait)
	if s == nil {
		return "", fmt.Errorf("whatsapp send: %w", ErrNotRunning)
	}
	unlock, err := c.chats.lock(ctx, msg.Chat)
	if err != nil {
		return "", fmt.Errorf("whatsapp send: %w", err)
	}
	defer unlock()

	ok, err := c.wrote(ctx, s, jid)
	if err != nil {
		return "", fmt.Errorf("whatsapp send: %w", err)
	}
	if !ok {
		return "", fmt.Errorf("whatsapp send: %w: %w: %w", errNeverWrote, bot.ErrForbidden, bot.ErrUnsupported)
	}

	var wa *waE2E.Message
	if msg.File != nil && len(msg.File.Data) > 0 {
		wa, err = c.document(ctx, s.cli, msg)
		if err != nil {
			return "", fmt.Errorf("whatsapp send: %w", err)
		}
	} else {
		wa = &waE2E.Message{Conversation: proto.String(msg.Text)}
	}

	id := s.cli.GenerateMessageID()
	if msg.Key != "" {
		id = messageID(msg.Key)
	}
	wait := c.opts.SendBackoff
	for attempt := 1; ; attempt++ {
		resp, err := s.cli.SendMessage(ctx, jid, wa, whatsmeow.SendRequestExtra{ID: id})
		if err == nil {
			if resp.ID != "" {
				id = resp.ID
			}
			return bot.MessageID(id), nil
		}
		if attempt == 3 || !transient(err) || !sleep(ctx, wait) {
			return "", fmt.Errorf("whatsapp send: %w", redact(err))
		}
		wait *= 2
	}
}

// document uploads the file (encrypted, to WhatsApp's media servers) and
// builds the document message; a JPEG or PNG goes as a photo.
func (c *Channel) document(ctx context.Context, cli Client, msg bot.Outbound) (*waE2E.Message, error) {
	f := msg.File
	if mt := strings.ToLower(strings.TrimSpace(strings.Split(f.MIME, ";")[0])); mt == "image/jpeg" || mt == "image/png" {
		up, err := cli.Upload(ctx, f.Data, whatsmeow.MediaImage)
		if err != nil {
			return nil, fmt.Errorf("upload photo: %w", redact(err))
		}
		img := &waE2E.ImageMessage{
			URL:           proto.String(up.URL),
			DirectPath:    proto.String(up.DirectPath),
			MediaKey:      up.MediaKey,
			FileEncSHA256: up.FileEncSHA256,
			FileSHA256:    up.FileSHA256,
			FileLength:    proto.Uint64(up.FileLength),
			Mimetype:      proto.String(mt),
		}
		if msg.Text != "" {
			img.Caption = proto.String(msg.Text)
		}
		return &waE2E.Message{ImageMessage: img}, nil
	}
	up, err := cli.Upload(ctx, f.Data, whatsmeow.MediaDocument)
	if err != nil {
		return nil, fmt.Errorf("upload document: %w", redact(err))
	}
	mime := f.MIME
	if mime == "" {
		mime = "application/octet-stream"
	}
	name := f.Name
	if name == "" {
		name = "document"
	}
	doc := &waE2E.DocumentMessage{
		URL:           proto.String(up.URL),
		DirectPath:    proto.String(up.DirectPath),
		MediaKey:      up.MediaKey,
		FileEncSHA256: up.FileEncSHA256,
		FileSHA256:    up.FileSHA256,
		FileLength:    proto.Uint64(up.FileLength),
		Mimetype:      proto.String(mime),
		FileName:      proto.String(name),
		Title:         proto.String(name),
	}
	if msg.Text != "" {
		doc.Caption = proto.String(msg.Text)
	}
	return &waE2E.Message{DocumentMessage: doc}, nil
}

// wrote reports whether the chat, in either its phone-number or LID form,
// wrote to us.
func (c *Channel) wrote(ctx context.Context, s *session, jid types.JID) (bool, error) {
	jids := []types.JID{jid}
	if s.lids != nil {
		var alt types.JID
		var err error
		if jid.Server == types.HiddenUserServer {
			alt, err = s.lids.GetPNForLID(ctx, jid)
		} else {
			alt, err = s.lids.GetLIDForPN(ctx, jid)
		}
		if err == nil && !alt.IsEmpty() {
			jids = append(jids, alt)
		}
	}
	return isWriter(ctx, s.db, jids...)
}

// messageID derives the WhatsApp message id of an outbox reply from its
// idempotency key (bot.Outbound.Key), so every attempt of one reply, in this
// process or after a crash, is sent under one id: "3EB0" and 18 upper-case
// hex digits of SHA-256("switchboard/outbox/v1|" + key), the shape of the
// ids whatsmeow's GenerateMessageID (a hash of time, own JID and random
// bytes) and WhatsApp Web make.
//
// What a repeated id does, as far as public sources show (no WhatsApp
// server is reachable here):
//   - whatsmeow does not refuse it: SendRequestExtra.ID is used as given
//     (send.go, SendMessage), and whatsmeow itself resends under the same
//     id for retry receipts (retry.go) and for edits and revokes, which
//     carry the target's id in the key. Our own Send retries transient
//     failures under one id too.
//   - the server relays a resend of an id it already took: clients see the
//     stanza again (oxidezap/whatsapp-rust#1352: "a sender whose network is
//     bad re-runs its own outbox and resends the same message id,
//     re-encrypted"; hermes-agent#95934: the server redelivers the same
//     key.id until acked).
//   - the recipient's app treats it as the same message: a message's
//     identity is its key (chat, sender, id), not the envelope, and the
//     official clients drop a key they already have (whatsapp-rust#1352
//     reading WhatsApp Web's parser: "identity is MsgKey … nothing in the
//     envelope makes a resend a different message"; tulir/whatsmeow#1190
//     resends with SendRequestExtra{ID: resp.ID} so that "recipient devices
//     dedupe by ID"). Third-party clients that dispatch every decrypted
//     stanza (older whatsapp-rust, some bots) may show it twice; the
//     official apps do not.
//
// So a resend after a crash shows the customer one message, and the
// router may resend an in-doubt reply (Capabilities.Idempotent).
func messageID(key string) types.MessageID {
	sum := sha256.Sum256([]byte("switchboard/outbox/v1|" + key))
	return types.MessageID(whatsmeow.WebMessageIDPrefix + strings.ToUpper(hex.EncodeToString(sum[:9])))
}

// transient reports whether a send error may pass by itself.
func transient(err error) bool {
	return errors.Is(err, whatsmeow.ErrNotConnected) ||
		errors.Is(err, whatsmeow.ErrMessageTimedOut) ||
		errors.Is(err, whatsmeow.ErrIQTimedOut) ||
		errors.Is(err, whatsmeow.ErrIQDisconnected)
}

// redactedError hides the digits (JIDs, phone numbers) in a whatsmeow error
// message, which ends up in logs, and keeps the chain for errors.Is.
type redactedError struct{ err error }

func (e redactedError) Error() string { return redactDigits.ReplaceAllString(e.err.Error(), "…") }
func (e redactedError) Unwrap() error { return e.err }

// redact wraps err so its message carries no JID digits.
func redact(err error) error {
	if err == nil {
		return nil
	}
	return redactedError{err}
}

// chatLocks serializes sends per chat. Entries are removed when unused.
type chatLocks struct {
	mu sync.Mutex
	m  map[bot.ChatID]*chatLock
}

type chatLock struct {
	ch   chan struct{}
	refs int
}

// lock waits for the chat's turn or ctx; unlock releases it.
func (l *chatLocks) lock(ctx context.Context, chat bot.ChatID) (unlock func(), err error) {
	l.mu.Lock()
	if l.m == nil {
		l.m = make(map[bot.ChatID]*chatLock)
	}
	cl := l.m[chat]
	if cl == nil {
		cl = &chatLock{ch: make(chan struct{}, 1)}
		l.m[chat] = cl
	}
	cl.refs++
	l.mu.Unlock()
	release := func() {
		l.mu.Lock()
		cl.refs--
		if cl.refs == 0 {
			delete(l.m, chat)
		}
		l.mu.Unlock()
	}
	select {
	case cl.ch <- struct{}{}:
		return func() { <-cl.ch; release() }, nil
	case <-ctx.Done():
		release()
		return nil, ctx.Err()
	}
}
