package whatsappcloud

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/switchboard/switchboard/bot"
)

// maxWamid bounds a message id taken from a webhook.
const maxWamid = 512

// deliverAll hands every message and status of a payload addressed to our
// phone number to sink, in order, and stops at the first the sink refuses
// (the whole payload is then delivered again; the store drops what it has).
func (c *Channel) deliverAll(ctx context.Context, sink bot.Sink, p webhookPayload) error {
	if p.Object != "whatsapp_business_account" {
		c.log.Debug().Msg("webhook for another object ignored")
		return nil
	}
	for _, e := range p.Entry {
		for _, ch := range e.Changes {
			if ch.Field != "messages" {
				c.log.Debug().Str("field", clipField(ch.Field)).Msg("webhook field ignored")
				continue
			}
			v := ch.Value
			if v.Metadata.PhoneNumberID != c.opts.PhoneNumberID {
				c.log.Debug().Msg("webhook for another phone number id ignored")
				continue
			}
			for _, we := range v.Errors {
				c.log.Warn().Int("code", we.Code).Str("title", safeTitle(we.Title)).Msg("webhook reports an error from Meta")
			}
			for _, m := range v.Messages {
				if err := c.deliverMessage(ctx, sink, m, v.Contacts); err != nil {
					return err
				}
			}
			for _, s := range v.Statuses {
				if err := c.deliverStatus(ctx, sink, s); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// deliverMessage maps one message and delivers it.
func (c *Channel) deliverMessage(ctx context.Context, sink bot.Sink, m wireMessage, contacts []wireContact) error {
	in, why := c.mapMessage(m, contacts)
	if why != "" {
		c.log.Debug().Str("why", why).Str("type", clipField(m.Type)).Msg("message ignored")
		return nil
	}
	if err := sink.Deliver(ctx, in); err != nil {
		return fmt.Errorf("deliver message: %w", err)
	}
	c.sawInbound(in.Chat, in.SentAt)
	if in.Media != nil && in.Media.ID != "" {
		if err := c.media.add(in.Media.ID, in.Chat, c.opts.Now(), false); err != nil {
			// The message is stored; only erasure's reach to Meta is lost.
			c.log.Error().Err(err).Msg("received media id not recorded")
		}
	}
	return nil
}

// mapMessage turns a webhook message into a bot.Inbound; why is an
// operator-safe reason when it is ignored.
func (c *Channel) mapMessage(m wireMessage, contacts []wireContact) (bot.Inbound, string) {
	if m.GroupID != "" {
		return bot.Inbound{}, "group"
	}
	if m.ID == "" || len(m.ID) > maxWamid {
		return bot.Inbound{}, "no-id"
	}
	userID := m.FromUserID
	var name string
	for _, ct := range contacts {
		if (m.From != "" && ct.WaID == m.From) || (userID != "" && ct.UserID == userID) {
			name = ct.Profile.Name
			if userID == "" {
				userID = ct.UserID
			}
			break
		}
	}
	if name == "" && len(contacts) == 1 {
		name = contacts[0].Profile.Name
	}
	chat, ok := makeChatID(m.From, userID)
	if !ok {
		return bot.Inbound{}, "bad-sender"
	}
	sender, alt, _ := senderIdentities(m.From, userID)
	kind, text, media, why := content(m)
	if why != "" {
		return bot.Inbound{}, why
	}
	return bot.Inbound{
		Platform:   bot.WhatsApp,
		Chat:       chat,
		ID:         bot.MessageID(m.ID),
		Sender:     sender,
		AltSenders: alt,
		SenderName: name,
		Role:       bot.RoleCustomer,
		Kind:       kind,
		Text:       text,
		SentAt:     c.stamp(m.Timestamp),
		Media:      media,
	}, ""
}

// content returns what a message carries, with the same kinds and
// placeholders the linked-device channel gives. why is set for messages
// with nothing a person wrote (reactions, unsupported, system notices).
func content(m wireMessage) (kind bot.MessageKind, text string, media *bot.MediaRef, why string) {
	ref := func(w *wireMedia) *bot.MediaRef {
		if w == nil || w.ID == "" {
			return nil
		}
		return &bot.MediaRef{ID: w.ID, MIME: w.MIMEType, Filename: w.Filename, SHA256: w.SHA256}
	}
	switch m.Type {
	case "text":
		if m.Text == nil {
			return "", "", nil, "empty"
		}
		return bot.KindText, m.Text.Body, nil, ""
	case "interactive":
		switch {
		case m.Interactive == nil:
		case m.Interactive.ButtonReply != nil:
			return bot.KindText, m.Interactive.ButtonReply.Title, nil, ""
		case m.Interactive.ListReply != nil:
			return bot.KindText, m.Interactive.ListReply.Title, nil, ""
		}
		return bot.KindOther, "", nil, ""
	case "button":
		if m.Button == nil {
			return "", "", nil, "empty"
		}
		return bot.KindText, m.Button.Text, nil, ""
	case "image":
		return bot.KindImage, caption(m.Image), ref(m.Image), ""
	case "audio":
		if m.Audio != nil && m.Audio.Voice {
			return bot.KindVoice, "", ref(m.Audio), ""
		}
		return bot.KindAudio, "", ref(m.Audio), ""
	case "video":
		return bot.KindVideo, caption(m.Video), ref(m.Video), ""
	case "document":
		return bot.KindDocument, caption(m.Document), ref(m.Document), ""
	case "sticker":
		return bot.KindSticker, "", ref(m.Sticker), ""
	case "location":
		return bot.KindLocation, "", nil, ""
	case "contacts":
		return bot.KindContact, "", nil, ""
	case "reaction":
		return "", "", nil, "reaction"
	case "unsupported":
		return "", "", nil, "unsupported"
	case "system", "request_welcome", "ephemeral":
		return "", "", nil, "system"
	case "":
		return "", "", nil, "no-type"
	}
	// A kind Meta added since: staff see that something arrived.
	return bot.KindOther, "", nil, ""
}

func caption(w *wireMedia) string {
	if w == nil {
		return ""
	}
	return w.Caption
}

// deliverStatus maps one status of our message to a receipt.
func (c *Channel) deliverStatus(ctx context.Context, sink bot.Sink, s wireStatus) error {
	r, why := c.mapStatus(s)
	if why != "" {
		c.log.Debug().Str("why", why).Msg("status ignored")
		return nil
	}
	if r.Status == bot.StatusFailed {
		for _, e := range s.Errors {
			if e.Code == 131047 {
				c.markClosed(r.Chat)
			}
		}
		c.log.Info().Str("reason", r.Reason).Msg("Meta reports a reply failed")
	}
	if err := sink.Receipt(ctx, r); err != nil {
		return fmt.Errorf("deliver status: %w", err)
	}
	return nil
}

// mapStatus turns a status into a bot.Receipt: sent, delivered, read, or
// failed with Meta's first error as "code title". Key is what we sent as
// biz_opaque_callback_data.
func (c *Channel) mapStatus(s wireStatus) (bot.Receipt, string) {
	if s.RecipientType == "group" {
		return bot.Receipt{}, "group"
	}
	if s.ID == "" || len(s.ID) > maxWamid {
		return bot.Receipt{}, "no-id"
	}
	var st bot.MessageStatus
	switch s.Status {
	case "sent":
		st = bot.StatusSent
	case "delivered":
		st = bot.StatusDelivered
	case "read", "played":
		st = bot.StatusRead
	case "failed":
		st = bot.StatusFailed
	default:
		return bot.Receipt{}, "status-" + clipField(s.Status)
	}
	chat, ok := makeChatID(s.RecipientID, s.RecipientUserID)
	if !ok {
		return bot.Receipt{}, "bad-recipient"
	}
	r := bot.Receipt{
		Platform: bot.WhatsApp,
		Chat:     chat,
		IDs:      []bot.MessageID{bot.MessageID(s.ID)},
		Status:   st,
		At:       c.stamp(s.Timestamp),
		Key:      s.BizOpaque,
	}
	if who, alt, ok := senderIdentities(s.RecipientID, s.RecipientUserID); ok {
		// The reply may have gone to the person's other chat (sent to the
		// user id, the status naming the number, or the reverse).
		r.Recipients = append([]bot.Identity{who}, alt...)
	}
	if st == bot.StatusFailed {
		r.Reason = "failed"
		if len(s.Errors) > 0 {
			e := s.Errors[0]
			r.Reason = strings.TrimSpace(strconv.Itoa(e.Code) + " " + safeTitle(e.Title))
		}
	}
	return r, ""
}

// stamp parses a webhook timestamp (Unix seconds as a string); a missing or
// absurd one gives the channel's clock.
func (c *Channel) stamp(s string) time.Time {
	n, err := strconv.ParseInt(s, 10, 64)
	now := c.opts.Now()
	if err != nil || n <= 0 {
		return now
	}
	t := time.Unix(n, 0)
	if t.After(now.Add(24 * time.Hour)) {
		return now
	}
	return t
}

// longDigits finds digit runs long enough to be a phone number.
var longDigits = regexp.MustCompile(`[0-9]{6,}`)

// safeTitle bounds an error title from Meta for logs and cards, with any
// long digit run (a number, should Meta quote one) masked.
func safeTitle(s string) string {
	s = longDigits.ReplaceAllString(strings.ToValidUTF8(s, ""), "…")
	if len(s) > 120 {
		s = strings.ToValidUTF8(s[:120], "")
	}
	return strings.TrimSpace(s)
}

// clipField bounds a type or field name taken from a webhook for a log line.
func clipField(s string) string {
	b, _ := json.Marshal(s) // escapes control characters
	out := strings.Trim(string(b), `"`)
	if len(out) > 32 {
		out = out[:32]
	}
	return out
}
