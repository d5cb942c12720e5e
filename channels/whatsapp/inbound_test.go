package whatsapp

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.mau.fi/whatsmeow/proto/waCommon"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/store/sqlstore"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"
	"google.golang.org/protobuf/proto"

	"github.com/switchboard/switchboard/bot"
)

// Test identities. 447700900123 is an Ofcom drama number; the LIDs are made up.
var (
	pnJID    = types.JID{User: "447700900123", Server: types.DefaultUserServer}
	lidJID   = types.JID{User: "123456789012345", Server: types.HiddenUserServer}
	pnID     = bot.Identity{Kind: bot.IDPhone, Value: "+447700900123"}
	lidID    = bot.Identity{Kind: bot.IDLID, Value: "123456789012345@lid"}
	otherPN  = types.JID{User: "447700900999", Server: types.DefaultUserServer}
	otherLID = types.JID{User: "987654321098765", Server: types.HiddenUserServer}
	sentAt   = time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
)

// openTestDB opens a whatsmeow sqlstore on real SQLite in a temp dir, with the
// same DSN the channel uses, and returns the container and the raw handle.
func openTestDB(t *testing.T) (*sqlstore.Container, *sql.DB, string) {
	t.Helper()
	return openTestDBB(t)
}

func openTestDBB(t testing.TB) (*sqlstore.Container, *sql.DB, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), dbFile)
	db, err := sql.Open("sqlite3", dsn(path))
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	c := sqlstore.NewWithDB(db, "sqlite3", nil)
	require.NoError(t, c.Upgrade(context.Background()))
	return c, db, path
}

// dm builds a message event as whatsmeow delivers a 1:1 message from sender.
func dm(sender, alt types.JID, m *waE2E.Message) *events.Message {
	evt := &events.Message{
		Info: types.MessageInfo{
			MessageSource: types.MessageSource{
				Chat:      sender.ToNonAD(),
				Sender:    sender,
				SenderAlt: alt,
			},
			ID:        "3A0123456789ABCDEF",
			PushName:  "Ada",
			Timestamp: sentAt,
		},
		RawMessage: m,
	}
	return evt.UnwrapRaw()
}

func text(s string) *waE2E.Message { return textMsg(s) }

func textMsg(s string) *waE2E.Message { return &waE2E.Message{Conversation: proto.String(s)} }

func TestMapMessageIdentities(t *testing.T) {
	ctx := context.Background()
	c, _, _ := openTestDB(t)
	lids := c.LIDMap

	// 1. PN only: nothing known about a LID yet.
	got := mapMessage(ctx, dm(pnJID, types.EmptyJID, text("hello")), lids)
	require.Equal(t, actDeliver, got.act)
	assert.Equal(t, pnID, got.in.Sender)
	assert.Empty(t, got.in.AltSenders)
	assert.Equal(t, bot.ChatID("447700900123@s.whatsapp.net"), got.in.Chat)

	// 2. LID only: no sender_pn, no mapping for this LID.
	got = mapMessage(ctx, dm(types.JID{User: lidJID.User, Device: 3, Server: types.HiddenUserServer}, types.EmptyJID, text("hi")), lids)
	require.Equal(t, actDeliver, got.act)
	assert.Equal(t, lidID, got.in.Sender, "device suffix dropped")
	assert.Empty(t, got.in.AltSenders)
	assert.Equal(t, bot.ChatID("123456789012345@lid"), got.in.Chat)

	// 3. The LID arrives after the PN, with sender_pn: both identities.
	got = mapMessage(ctx, dm(lidJID, pnJID, text("again")), lids)
	require.Equal(t, actDeliver, got.act)
	assert.Equal(t, lidID, got.in.Sender)
	assert.Equal(t, []bot.Identity{pnID}, got.in.AltSenders)

	// 4. whatsmeow learned the pair (it stores every alt it sees); a later
	// message without the alt attribute still carries both, either way round.
	require.NoError(t, lids.PutLIDMapping(ctx, lidJID, pnJID))
	got = mapMessage(ctx, dm(lidJID, types.EmptyJID, text("lid")), lids)
	assert.Equal(t, []bot.Identity{pnID}, got.in.AltSenders)
	got = mapMessage(ctx, dm(types.JID{User: pnJID.User, Device: 2, Server: pnJID.Server}, types.EmptyJID, text("pn")), lids)
	assert.Equal(t, pnID, got.in.Sender)
	assert.Equal(t, []bot.Identity{lidID}, got.in.AltSenders)

	// Another contact is not mixed in.
	got = mapMessage(ctx, dm(otherPN, types.EmptyJID, text("x")), lids)
	assert.Empty(t, got.in.AltSenders)
}

// failingLIDs is a LID map whose lookups fail.
type failingLIDs struct{}

func (failingLIDs) GetPNForLID(context.Context, types.JID) (types.JID, error) {
	return types.JID{}, errors.New("db gone")
}
func (failingLIDs) GetLIDForPN(context.Context, types.JID) (types.JID, error) {
	return types.JID{}, errors.New("db gone")
}

func TestMapMessageLIDLookupFailureKeepsMessage(t *testing.T) {
	got := mapMessage(context.Background(), dm(lidJID, types.EmptyJID, text("hi")), failingLIDs{})
	require.Equal(t, actDeliver, got.act)
	assert.Equal(t, lidID, got.in.Sender)
	assert.Empty(t, got.in.AltSenders)
	got = mapMessage(context.Background(), dm(lidJID, types.EmptyJID, text("hi")), nil)
	assert.Equal(t, actDeliver, got.act)
}

func TestMapMessageContent(t *testing.T) {
	tests := []struct {
		name string
		msg  *waE2E.Message
		kind bot.MessageKind
		text string
	}{
		{"Conversation", text("Do you deliver?"), bot.KindText, "Do you deliver?"},
		{"ExtendedText", &waE2E.Message{ExtendedTextMessage: &waE2E.ExtendedTextMessage{Text: proto.String("see https://example.com")}}, bot.KindText, "see https://example.com"},
		{"ImageCaption", &waE2E.Message{ImageMessage: &waE2E.ImageMessage{Caption: proto.String("this one")}}, bot.KindImage, "this one"},
		{"ImageNoCaption", &waE2E.Message{ImageMessage: &waE2E.ImageMessage{}}, bot.KindImage, ""},
		{"Voice", &waE2E.Message{AudioMessage: &waE2E.AudioMessage{PTT: proto.Bool(true)}}, bot.KindVoice, ""},
		{"Audio", &waE2E.Message{AudioMessage: &waE2E.AudioMessage{}}, bot.KindAudio, ""},
		{"VideoCaption", &waE2E.Message{VideoMessage: &waE2E.VideoMessage{Caption: proto.String("the leak")}}, bot.KindVideo, "the leak"},
		{"Document", &waE2E.Message{DocumentMessage: &waE2E.DocumentMessage{FileName: proto.String("plan.pdf")}}, bot.KindDocument, ""},
		{"DocumentWithCaption", &waE2E.Message{DocumentWithCaptionMessage: &waE2E.FutureProofMessage{Message: &waE2E.Message{
			DocumentMessage: &waE2E.DocumentMessage{Caption: proto.String("my plan")}}}}, bot.KindDocument, "my plan"},
		{"Location", &waE2E.Message{LocationMessage: &waE2E.LocationMessage{DegreesLatitude: proto.Float64(51.5)}}, bot.KindLocation, ""},
		{"LiveLocation", &waE2E.Message{LiveLocationMessage: &waE2E.LiveLocationMessage{}}, bot.KindLocation, ""},
		{"Contact", &waE2E.Message{ContactMessage: &waE2E.ContactMessage{DisplayName: proto.String("Bob")}}, bot.KindContact, ""},
		{"Contacts", &waE2E.Message{ContactsArrayMessage: &waE2E.ContactsArrayMessage{}}, bot.KindContact, ""},
		{"Sticker", &waE2E.Message{StickerMessage: &waE2E.StickerMessage{}}, bot.KindSticker, ""},
		{"EphemeralText", &waE2E.Message{EphemeralMessage: &waE2E.FutureProofMessage{Message: text("vanishing")}}, bot.KindText, "vanishing"},
		{"ViewOnceImage", &waE2E.Message{ViewOnceMessageV2: &waE2E.FutureProofMessage{Message: &waE2E.Message{ImageMessage: &waE2E.ImageMessage{}}}}, bot.KindImage, ""},
		{"Poll", &waE2E.Message{PollCreationMessageV3: &waE2E.PollCreationMessage{}}, bot.KindOther, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := mapMessage(context.Background(), dm(pnJID, types.EmptyJID, tc.msg), nil)
			require.Equal(t, actDeliver, got.act, got.why)
			assert.Equal(t, tc.kind, got.in.Kind)
			assert.Equal(t, tc.text, got.in.Text)
			assert.Equal(t, bot.WhatsApp, got.in.Platform)
			assert.Equal(t, bot.RoleCustomer, got.in.Role)
			assert.Equal(t, "Ada", got.in.SenderName)
			assert.Equal(t, bot.MessageID("3A0123456789ABCDEF"), got.in.ID)
			assert.Equal(t, sentAt, got.in.SentAt)
			assert.False(t, got.in.Group)
		})
	}
}

func TestMapMessageIgnored(t *testing.T) {
	group := types.JID{User: "120363000000000000", Server: types.GroupServer}
	broadcast := types.JID{User: "1234567890", Server: types.BroadcastServer}
	newsletter := types.JID{User: "120363111111111111", Server: types.NewsletterServer}
	tests := []struct {
		name string
		evt  *events.Message
	}{
		{"Nil", nil},
		{"NilMessage", &events.Message{Info: dm(pnJID, types.EmptyJID, text("x")).Info}},
		{"FromMe", func() *events.Message {
			e := dm(pnJID, types.EmptyJID, text("our reply"))
			e.Info.IsFromMe = true
			return e
		}()},
		{"Group", func() *events.Message {
			e := dm(pnJID, types.EmptyJID, text("hi all"))
			e.Info.Chat, e.Info.IsGroup = group, true
			return e
		}()},
		{"GroupNotFlagged", func() *events.Message {
			e := dm(pnJID, types.EmptyJID, text("hi all"))
			e.Info.Chat = group
			return e
		}()},
		{"BroadcastList", func() *events.Message {
			e := dm(pnJID, types.EmptyJID, text("offer"))
			e.Info.Chat, e.Info.IsGroup = broadcast, true
			return e
		}()},
		{"Status", func() *events.Message {
			e := dm(pnJID, types.EmptyJID, text("my day"))
			e.Info.Chat, e.Info.IsGroup = types.StatusBroadcastJID, true
			return e
		}()},
		{"Newsletter", func() *events.Message {
			e := dm(newsletter, types.EmptyJID, text("news"))
			return e
		}()},
		{"MetaAI", dm(types.MetaAIJID, types.EmptyJID, text("bot"))},
		{"Reaction", dm(pnJID, types.EmptyJID, &waE2E.Message{ReactionMessage: &waE2E.ReactionMessage{Text: proto.String("👍")}})},
		{"Empty", dm(pnJID, types.EmptyJID, &waE2E.Message{})},
		{"ProtocolWithoutType", dm(pnJID, types.EmptyJID, &waE2E.Message{ProtocolMessage: &waE2E.ProtocolMessage{Key: &waCommon.MessageKey{ID: proto.String("X")}}})},
		{"EditWithoutMessage", dm(pnJID, types.EmptyJID, &waE2E.Message{ProtocolMessage: &waE2E.ProtocolMessage{
			Type: waE2E.ProtocolMessage_MESSAGE_EDIT.Enum(), Key: &waCommon.MessageKey{ID: proto.String("X")}}})},
		{"HistorySyncNotification", dm(pnJID, types.EmptyJID, &waE2E.Message{ProtocolMessage: &waE2E.ProtocolMessage{
			Type: waE2E.ProtocolMessage_HISTORY_SYNC_NOTIFICATION.Enum()}})},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := mapMessage(context.Background(), tc.evt, nil)
			assert.Equal(t, actIgnore, got.act)
			assert.NotEmpty(t, got.why)
		})
	}
}

func TestMapMessageRevoke(t *testing.T) {
	evt := dm(lidJID, pnJID, &waE2E.Message{ProtocolMessage: &waE2E.ProtocolMessage{
		Type: waE2E.ProtocolMessage_REVOKE.Enum(),
		Key:  &waCommon.MessageKey{RemoteJID: proto.String(lidJID.String()), FromMe: proto.Bool(true), ID: proto.String("3A00DELETED")},
	}})
	got := mapMessage(context.Background(), evt, nil)
	require.Equal(t, actRevoke, got.act)
	assert.Equal(t, bot.MessageID("3A00DELETED"), got.in.ID)
	assert.Equal(t, lidID, got.in.Sender)
	assert.Equal(t, bot.ChatID("123456789012345@lid"), got.in.Chat)
}

func TestMapReceipt(t *testing.T) {
	src := types.MessageSource{Chat: lidJID, Sender: types.JID{User: lidJID.User, Device: 1, Server: lidJID.Server}}
	at := sentAt.Add(time.Minute)
	tests := []struct {
		name string
		evt  *events.Receipt
		want bot.MessageStatus // "" means ignored
	}{
		{"Delivered", &events.Receipt{MessageSource: src, MessageIDs: []string{"3EB0A", "3EB0B"}, Type: types.ReceiptTypeDelivered, Timestamp: at}, bot.StatusDelivered},
		{"Inactive", &events.Receipt{MessageSource: src, MessageIDs: []string{"3EB0A"}, Type: types.ReceiptTypeInactive, Timestamp: at}, bot.StatusDelivered},
		{"Read", &events.Receipt{MessageSource: src, MessageIDs: []string{"3EB0A"}, Type: types.ReceiptTypeRead, Timestamp: at}, bot.StatusRead},
		{"Played", &events.Receipt{MessageSource: src, MessageIDs: []string{"3EB0A"}, Type: types.ReceiptTypePlayed, Timestamp: at}, bot.StatusRead},
		{"Retry", &events.Receipt{MessageSource: src, MessageIDs: []string{"3EB0A"}, Type: types.ReceiptTypeRetry}, ""},
		{"ReadSelf", &events.Receipt{MessageSource: types.MessageSource{Chat: lidJID, IsFromMe: true}, MessageIDs: []string{"3A"}, Type: types.ReceiptTypeReadSelf}, ""},
		{"Group", &events.Receipt{MessageSource: types.MessageSource{Chat: types.JID{User: "1203", Server: types.GroupServer}, IsGroup: true}, MessageIDs: []string{"3A"}}, ""},
		{"NoIDs", &events.Receipt{MessageSource: src, Type: types.ReceiptTypeRead}, ""},
		{"Nil", nil, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := mapReceipt(tc.evt)
			if tc.want == "" {
				assert.False(t, ok)
				return
			}
			require.True(t, ok)
			assert.Equal(t, tc.want, got.Status)
			assert.Equal(t, bot.WhatsApp, got.Platform)
			assert.Equal(t, bot.ChatID("123456789012345@lid"), got.Chat)
			assert.Equal(t, at, got.At)
			assert.Equal(t, tc.evt.MessageIDs[0], string(got.IDs[0]))
		})
	}
}

func TestMapMessageEdit(t *testing.T) {
	// As whatsmeow delivers an edit: wrapped in EditedMessage, a protocol
	// message naming the original and carrying the new content.
	evt := dm(pnJID, types.EmptyJID, &waE2E.Message{EditedMessage: &waE2E.FutureProofMessage{Message: &waE2E.Message{
		ProtocolMessage: &waE2E.ProtocolMessage{
			Type:          waE2E.ProtocolMessage_MESSAGE_EDIT.Enum(),
			Key:           &waCommon.MessageKey{ID: proto.String("3A0ORIGINAL")},
			EditedMessage: &waE2E.Message{Conversation: proto.String("Actually 5 boxes, not 3")},
		}}}})
	evt.Info.ID = "3A0EDIT"
	got := mapMessage(context.Background(), evt, nil)
	require.Equal(t, actDeliver, got.act, got.why)
	assert.Equal(t, "Actually 5 boxes, not 3", got.in.Text)
	assert.Equal(t, bot.KindText, got.in.Kind)
	assert.Equal(t, bot.MessageID("3A0EDIT"), got.in.ID)
}
