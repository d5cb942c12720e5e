package whatsapp

import (
	"context"

	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"

	"github.com/switchboard/switchboard/bot"
)

// lidMap is the part of whatsmeow's LID store (store.LIDStore, the
// sqlstore.CachedLIDMap) the inbound mapping reads: the phone number behind a
// LID and the LID behind a phone number. Both return an empty JID when the
// pair is unknown.
type lidMap interface {
	GetPNForLID(ctx context.Context, lid types.JID) (types.JID, error)
	GetLIDForPN(ctx context.Context, pn types.JID) (types.JID, error)
}

// action says what the handler does with a mapped event.
type action int

const (
	actIgnore  action = iota // not for us: acknowledge and drop
	actDeliver               // a customer message: sink.Deliver
	actRevoke                // "delete for everyone": sink.Revoke
)

// mapped is the result of mapMessage. For actRevoke, in.ID is the id of the
// message the sender deleted. why is an operator-safe reason for ignoring.
type mapped struct {
	act action
	in  bot.Inbound
	why string
}

// mapMessage turns a whatsmeow message event into a bot.Inbound, a revoke,
// or nothing. Only 1:1 chats with another person count: groups, broadcast
// lists, status updates, newsletters, bots and our own messages (from this or
// another of our devices) are ignored, and so are protocol messages other
// than a revoke or an edit, reactions and other non-content messages. An
// edit is delivered as a new message with the edited text. lids may be nil;
// a failing lookup only loses the alternate identity.
func mapMessage(ctx context.Context, evt *events.Message, lids lidMap) mapped {
	if evt == nil || evt.Message == nil {
		return mapped{why: "empty"}
	}
	info := evt.Info
	switch {
	case info.IsFromMe:
		return mapped{why: "from-me"}
	case info.IsGroup:
		return mapped{why: "group"}
	case info.Chat.Server == types.BroadcastServer:
		return mapped{why: "broadcast"}
	case info.Chat.Server == types.NewsletterServer:
		return mapped{why: "newsletter"}
	case info.Sender.IsBot() || info.Chat.IsBot():
		return mapped{why: "bot"}
	case info.Chat.Server != types.DefaultUserServer && info.Chat.Server != types.HiddenUserServer:
		return mapped{why: "not-a-user-chat"}
	}
	sender, ok := jidIdentity(info.Sender)
	if !ok {
		return mapped{why: "bad-sender"}
	}
	if _, ok := jidIdentity(info.Chat); !ok {
		return mapped{why: "bad-chat"}
	}
	chat := makeChatID(info.Chat.ToNonAD())

	msg := evt.Message
	if pm := msg.GetProtocolMessage(); pm != nil {
		// GetType defaults to REVOKE (0) when unset: require it explicitly.
		if pm.Type != nil && pm.GetType() == waE2E.ProtocolMessage_REVOKE && pm.GetKey().GetID() != "" {
			return mapped{act: actRevoke, in: bot.Inbound{
				Platform: bot.WhatsApp,
				Chat:     chat,
				ID:       bot.MessageID(pm.GetKey().GetID()),
				Sender:   sender,
				SentAt:   info.Timestamp,
				Role:     bot.RoleCustomer,
			}}
		}
		if pm.Type != nil && pm.GetType() == waE2E.ProtocolMessage_MESSAGE_EDIT && pm.GetEditedMessage() != nil {
			// An edit arrives as a new message (its own id) carrying the
			// whole new text; staff see it as the customer's latest word.
			msg = pm.GetEditedMessage()
		} else {
			return mapped{why: "protocol"}
		}
	}
	kind, text, ok := content(msg)
	if !ok {
		return mapped{why: "no-content"}
	}
	media := attachment(msg)
	return mapped{act: actDeliver, in: bot.Inbound{
		Platform:   bot.WhatsApp,
		Chat:       chat,
		ID:         bot.MessageID(info.ID),
		Sender:     sender,
		AltSenders: altSenders(ctx, info, sender, lids),
		SenderName: info.PushName,
		Role:       bot.RoleCustomer,
		Kind:       kind,
		Text:       text,
		SentAt:     info.Timestamp,
		Media:      media,
	}}
}

// altSenders collects the other identities of the sender: the alternate JID
// WhatsApp sent with the message (sender_pn / sender_lid), else whatsmeow's
// LID map. Info.RecipientAlt is only set on our own messages, which are
// ignored, so it never names a customer here.
func altSenders(ctx context.Context, info types.MessageInfo, sender bot.Identity, lids lidMap) []bot.Identity {
	var out []bot.Identity
	add := func(j types.JID) {
		id, ok := jidIdentity(j)
		if !ok || id == sender {
			return
		}
		for _, o := range out {
			if o == id {
				return
			}
		}
		out = append(out, id)
	}
	if info.SenderAlt.Server != info.Sender.Server {
		add(info.SenderAlt)
	}
	if len(out) == 0 && lids != nil {
		user := info.Sender.ToNonAD()
		var alt types.JID
		var err error
		switch user.Server {
		case types.HiddenUserServer:
			alt, err = lids.GetPNForLID(ctx, user)
		case types.DefaultUserServer:
			alt, err = lids.GetLIDForPN(ctx, user)
		}
		if err == nil {
			add(alt)
		}
	}
	return out
}

// content returns what a message carries: its kind and text (the body or
// the media caption). ok is false for messages with nothing a person wrote:
// reactions, pins, poll votes, key distribution, empty messages.
func content(m *waE2E.Message) (kind bot.MessageKind, text string, ok bool) {
	switch {
	case m.Conversation != nil:
		return bot.KindText, m.GetConversation(), true
	case m.ExtendedTextMessage != nil:
		return bot.KindText, m.GetExtendedTextMessage().GetText(), true
	case m.ImageMessage != nil:
		return bot.KindImage, m.GetImageMessage().GetCaption(), true
	case m.AudioMessage != nil:
		if m.GetAudioMessage().GetPTT() {
			return bot.KindVoice, "", true
		}
		return bot.KindAudio, "", true
	case m.VideoMessage != nil:
		return bot.KindVideo, m.GetVideoMessage().GetCaption(), true
	case m.PtvMessage != nil:
		return bot.KindVideo, m.GetPtvMessage().GetCaption(), true
	case m.DocumentMessage != nil:
		return bot.KindDocument, m.GetDocumentMessage().GetCaption(), true
	case m.LocationMessage != nil, m.LiveLocationMessage != nil:
		return bot.KindLocation, "", true
	case m.ContactMessage != nil, m.ContactsArrayMessage != nil:
		return bot.KindContact, "", true
	case m.StickerMessage != nil:
		return bot.KindSticker, "", true
	case m.ButtonsResponseMessage != nil:
		return bot.KindText, m.GetButtonsResponseMessage().GetSelectedDisplayText(), true
	case m.ListResponseMessage != nil:
		return bot.KindText, m.GetListResponseMessage().GetTitle(), true
	case m.TemplateButtonReplyMessage != nil:
		return bot.KindText, m.GetTemplateButtonReplyMessage().GetSelectedDisplayText(), true
	case m.PollCreationMessage != nil, m.PollCreationMessageV2 != nil, m.PollCreationMessageV3 != nil,
		m.GroupInviteMessage != nil, m.EventMessage != nil:
		return bot.KindOther, "", true
	}
	return "", "", false
}

// attachment returns the media reference of a message's file (its media
// keys, direct path, hashes and length; see media.go), or nil.
func attachment(m *waE2E.Message) *bot.MediaRef {
	switch {
	case m.ImageMessage != nil:
		return mediaRef(refImage, m.GetImageMessage(), "")
	case m.AudioMessage != nil:
		return mediaRef(refAudio, m.GetAudioMessage(), "")
	case m.VideoMessage != nil:
		return mediaRef(refVideo, m.GetVideoMessage(), "")
	case m.PtvMessage != nil:
		return mediaRef(refVideo, m.GetPtvMessage(), "")
	case m.DocumentMessage != nil:
		return mediaRef(refDocument, m.GetDocumentMessage(), m.GetDocumentMessage().GetFileName())
	case m.StickerMessage != nil:
		return mediaRef(refSticker, m.GetStickerMessage(), "")
	}
	return nil
}

// mapReceipt turns a delivery or read receipt from the customer into a
// bot.Receipt. Receipts from our own devices, groups, retries and other types
// give ok=false.
func mapReceipt(evt *events.Receipt) (bot.Receipt, bool) {
	if evt == nil || evt.IsFromMe || evt.IsGroup || len(evt.MessageIDs) == 0 {
		return bot.Receipt{}, false
	}
	if _, ok := jidIdentity(evt.Chat); !ok {
		return bot.Receipt{}, false
	}
	var st bot.MessageStatus
	switch evt.Type {
	case types.ReceiptTypeDelivered, types.ReceiptTypeInactive:
		st = bot.StatusDelivered
	case types.ReceiptTypeRead, types.ReceiptTypePlayed:
		st = bot.StatusRead
	default:
		return bot.Receipt{}, false
	}
	ids := make([]bot.MessageID, 0, len(evt.MessageIDs))
	for _, id := range evt.MessageIDs {
		if id != "" {
			ids = append(ids, bot.MessageID(id))
		}
	}
	if len(ids) == 0 {
		return bot.Receipt{}, false
	}
	return bot.Receipt{
		Platform: bot.WhatsApp,
		Chat:     makeChatID(evt.Chat.ToNonAD()),
		IDs:      ids,
		Status:   st,
		At:       evt.Timestamp,
	}, true
}
