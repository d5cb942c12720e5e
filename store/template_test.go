package store

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboard/switchboard/bot"
)

var testTemplate = bot.Template{Name: "reopen_conversation", Language: "en_GB", FirstName: true}

// TestQueueTemplate: a template is an outbox row of its own beside the
// reply (its own key, no text), queued once per draft (again only after it
// failed or went unconfirmed), its statuses on the draft view, never the
// draft's sent status, in the export and gone with the person.
func TestQueueTemplate(t *testing.T) {
	db, clk := openTest(t)
	ctx := context.Background()
	f := newFixture(t, db, "+447700900123", "Ada Lovelace", "q", "answer")
	other := newFixture(t, db, "+447700900222", "Bea", "q2", "answer2")

	asked := clk.Now()
	d := bot.Decision{DraftID: f.draftID, Kind: bot.SendTemplate, ActionID: "t1", At: asked}
	require.NoError(t, db.QueueTemplate(ctx, d, testTemplate))
	assert.ErrorIs(t, db.QueueTemplate(ctx, d, testTemplate), bot.ErrDecided, "the same click again")
	assert.ErrorIs(t, db.QueueTemplate(ctx, bot.Decision{DraftID: f.draftID, Kind: bot.SendTemplate, ActionID: "t2"}, testTemplate), bot.ErrDecided,
		"one template per draft while it is on its way")
	assert.ErrorIs(t, db.QueueTemplate(ctx, bot.Decision{DraftID: 9999, Kind: bot.SendTemplate}, testTemplate), bot.ErrNotFound)

	items, err := db.DueOutbox(ctx, clk.Now(), 10)
	require.NoError(t, err)
	require.Len(t, items, 1)
	it := items[0]
	assert.Equal(t, bot.OutboxTemplate, it.Kind)
	assert.Equal(t, testTemplate, it.Template)
	assert.Empty(t, it.Text, "no free text")
	assert.Equal(t, f.msg.Chat, it.Chat)
	assert.Regexp(t, `^ob_[0-9a-f]{32}$`, it.Key)
	v, err := db.LoadDraft(ctx, f.draftID)
	require.NoError(t, err)
	assert.Equal(t, bot.StatusPending, v.TemplateStatus)
	assert.True(t, v.TemplateAt.Equal(asked))
	assert.Empty(t, v.SendStatus, "the reply is not queued")
	assert.Equal(t, bot.DraftPending, v.Draft.Status)

	// Sent, then failed by a status: the draft stays pending; it may be
	// queued again, under the same key.
	require.NoError(t, db.BeginSend(ctx, it.ID, clk.Now()))
	require.NoError(t, db.MarkSent(ctx, it.ID, "wamid.t1", clk.Now()))
	v, err = db.LoadDraft(ctx, f.draftID)
	require.NoError(t, err)
	assert.Equal(t, bot.StatusSent, v.TemplateStatus)
	assert.Equal(t, bot.DraftPending, v.Draft.Status, "a template does not settle the draft")
	_, err = db.RetryText(ctx, "wamid.t1")
	assert.ErrorIs(t, err, bot.ErrNotFound, "no outbound message row for a template")
	drafts, err := db.ApplyReceipt(ctx, bot.Receipt{Platform: bot.WhatsApp, Chat: f.msg.Chat, IDs: []bot.MessageID{"wamid.t1"}, Status: bot.StatusFailed,
		Key: it.Key, Reason: "131026 Message undeliverable"})
	require.NoError(t, err)
	assert.Equal(t, []int64{f.draftID}, drafts)
	v, err = db.LoadDraft(ctx, f.draftID)
	require.NoError(t, err)
	assert.Equal(t, bot.StatusFailed, v.TemplateStatus)
	assert.Contains(t, v.TemplateReason, "131026")
	assert.ErrorIs(t, db.Decide(ctx, bot.Decision{DraftID: f.draftID, Kind: bot.Resend, ActionID: "r1"}), bot.ErrNotFound,
		"Resend is for the reply, and there is none")
	require.NoError(t, db.QueueTemplate(ctx, bot.Decision{DraftID: f.draftID, Kind: bot.SendTemplate, ActionID: "t3"}, testTemplate))
	items, err = db.DueOutbox(ctx, clk.Now(), 10)
	require.NoError(t, err)
	require.Len(t, items, 1)
	assert.Equal(t, it.ID, items[0].ID)
	assert.Equal(t, it.Key, items[0].Key, "the same key: a status of the first try still finds it")

	// The customer answers; the reply gets a row of its own.
	require.NoError(t, db.Decide(ctx, bot.Decision{DraftID: f.draftID, Kind: bot.Approve, By: staff("1")}))
	items, err = db.DueOutbox(ctx, clk.Now(), 10)
	require.NoError(t, err)
	require.Len(t, items, 2)
	v, err = db.LoadDraft(ctx, f.draftID)
	require.NoError(t, err)
	assert.Equal(t, bot.StatusPending, v.SendStatus)
	assert.Equal(t, bot.StatusPending, v.TemplateStatus)
	assert.ErrorIs(t, db.QueueTemplate(ctx, bot.Decision{DraftID: f.draftID, Kind: bot.SendTemplate, ActionID: "t4"}, testTemplate), bot.ErrDecided,
		"no template for a decided draft")

	// The export lists it; erasure removes it.
	var kinds []bot.OutboxKind
	require.NoError(t, db.ExportSubject(ctx, f.customer.ID, func(kind string, v any) error {
		if kind == ExportOutbox {
			kinds = append(kinds, v.(bot.OutboxItem).Kind)
		}
		return nil
	}))
	assert.ElementsMatch(t, []bot.OutboxKind{bot.OutboxTemplate, bot.OutboxReply}, kinds)
	counts, err := db.DeleteSubject(ctx, f.customer.ID)
	require.NoError(t, err)
	assert.Equal(t, 2, counts["outbox"])
	items, err = db.DueOutbox(ctx, clk.Now(), 10)
	require.NoError(t, err)
	assert.Empty(t, items)
	_, err = db.LoadDraft(ctx, other.draftID)
	require.NoError(t, err)
}

// TestReceiptInAnotherChatOfThePerson: a reply sent to a person's
// business-scoped user id whose statuses name only their number (or the
// reverse) still reaches its outbox row and outbound message: by key
// first, then by the platform id in the chats of the person the status
// names; never in another person's.
func TestReceiptInAnotherChatOfThePerson(t *testing.T) {
	db, clk := openTest(t)
	ctx := context.Background()
	phone := bot.Identity{Kind: bot.IDPhone, Value: "+447700900123"}
	bsuid := bot.Identity{Kind: bot.IDBSUID, Value: "GB.13491208655302741918"}
	phoneChat, bsuidChat := bot.ChatID("447700900123@s.whatsapp.net"), bot.ChatID("GB.13491208655302741918@bsuid")
	sub, err := db.ResolveSubject(ctx, bot.SubjectInput{Identities: []bot.Identity{phone, bsuid}, Name: "Zeb", Role: bot.RoleCustomer})
	require.NoError(t, err)
	other := newFixture(t, db, "+447700900999", "Other", "q", "a")

	// Two replies, both sent to the user id's chat.
	var items []bot.OutboxItem
	for i, text := range []string{"first", "second"} {
		m := bot.Message{Subject: sub.ID, Platform: bot.WhatsApp, Chat: bsuidChat, PlatformID: bot.MessageID("wamid.in" + itoa(i)), Dir: bot.In,
			Kind: bot.KindText, Text: text, SentAt: clk.Now()}
		mid, _, err := db.SaveInbound(ctx, m)
		require.NoError(t, err)
		did, err := db.CreateDraft(ctx, bot.Draft{Subject: sub.ID, MessageID: mid, Platform: bot.WhatsApp, Chat: bsuidChat, Text: "re " + text})
		require.NoError(t, err)
		require.NoError(t, db.Decide(ctx, bot.Decision{DraftID: did, Kind: bot.Approve, By: staff("1")}))
	}
	items, err = db.DueOutbox(ctx, clk.Now(), 10)
	require.NoError(t, err)
	require.Len(t, items, 2)
	for i, it := range items {
		require.NoError(t, db.BeginSend(ctx, it.ID, clk.Now()))
		require.NoError(t, db.MarkSent(ctx, it.ID, bot.MessageID("wamid.out"+itoa(i)), clk.Now()))
	}
	status := func(draft int64) (bot.MessageStatus, bot.MessageStatus) {
		v, err := db.LoadDraft(ctx, draft)
		require.NoError(t, err)
		hist, err := db.History(ctx, sub.ID, bsuidChat, 1<<62, 10)
		require.NoError(t, err)
		var msg bot.MessageStatus
		for _, m := range hist {
			if m.Dir == bot.Out && m.Text == v.Draft.Text {
				msg = m.Status
			}
		}
		return v.SendStatus, msg
	}

	// A status without the key, naming only the number.
	got, err := db.ApplyReceipt(ctx, bot.Receipt{Platform: bot.WhatsApp, Chat: phoneChat, IDs: []bot.MessageID{"wamid.out0"},
		Status: bot.StatusDelivered, Recipients: []bot.Identity{phone}})
	require.NoError(t, err)
	assert.Equal(t, []int64{items[0].DraftID}, got)
	ob, msg := status(items[0].DraftID)
	assert.Equal(t, bot.StatusDelivered, ob)
	assert.Equal(t, bot.StatusDelivered, msg, "the outbound message row too")

	// With the key, naming only the number: the key finds the row, and its
	// outbound message follows.
	got, err = db.ApplyReceipt(ctx, bot.Receipt{Platform: bot.WhatsApp, Chat: phoneChat, IDs: []bot.MessageID{"wamid.out1"},
		Status: bot.StatusRead, Key: items[1].Key, Recipients: []bot.Identity{phone}})
	require.NoError(t, err)
	assert.Equal(t, []int64{items[1].DraftID}, got)
	ob, msg = status(items[1].DraftID)
	assert.Equal(t, bot.StatusRead, ob)
	assert.Equal(t, bot.StatusRead, msg)

	// Another person's status naming the same id changes nothing; nor one
	// that names nobody.
	for _, rc := range []bot.Receipt{
		{Platform: bot.WhatsApp, Chat: other.msg.Chat, IDs: []bot.MessageID{"wamid.out0"}, Status: bot.StatusRead,
			Recipients: []bot.Identity{{Kind: bot.IDPhone, Value: "+447700900999"}}},
		{Platform: bot.WhatsApp, Chat: other.msg.Chat, IDs: []bot.MessageID{"wamid.out0"}, Status: bot.StatusRead},
	} {
		got, err = db.ApplyReceipt(ctx, rc)
		require.NoError(t, err)
		assert.Empty(t, got)
	}
	ob, msg = status(items[0].DraftID)
	assert.Equal(t, bot.StatusDelivered, ob, "not read by someone else's status")
	assert.Equal(t, bot.StatusDelivered, msg)

	// The reverse: a reply sent to the number, its status naming only the
	// user id.
	m := bot.Message{Subject: sub.ID, Platform: bot.WhatsApp, Chat: phoneChat, PlatformID: "wamid.in-phone", Dir: bot.In, Kind: bot.KindText, Text: "third", SentAt: clk.Now()}
	mid, _, err := db.SaveInbound(ctx, m)
	require.NoError(t, err)
	did, err := db.CreateDraft(ctx, bot.Draft{Subject: sub.ID, MessageID: mid, Platform: bot.WhatsApp, Chat: phoneChat, Text: "re third"})
	require.NoError(t, err)
	require.NoError(t, db.Decide(ctx, bot.Decision{DraftID: did, Kind: bot.Approve, By: staff("1")}))
	due, err := db.DueOutbox(ctx, clk.Now(), 10)
	require.NoError(t, err)
	require.Len(t, due, 1)
	require.NoError(t, db.MarkSent(ctx, due[0].ID, "wamid.out-phone", clk.Now()))
	got, err = db.ApplyReceipt(ctx, bot.Receipt{Platform: bot.WhatsApp, Chat: bsuidChat, IDs: []bot.MessageID{"wamid.out-phone"},
		Status: bot.StatusRead, Recipients: []bot.Identity{bsuid}})
	require.NoError(t, err)
	assert.Equal(t, []int64{did}, got)
}
