package store

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboard/switchboard/bot"
)

func TestSaveInboundAndHistory(t *testing.T) {
	db, clk := openTest(t)
	ctx := context.Background()
	f := newFixture(t, db, "+447700900123", "Ada", "first", "reply")
	chat := f.msg.Chat

	t.Run("Dedup", func(t *testing.T) {
		id, dup, err := db.SaveInbound(ctx, f.msg)
		require.NoError(t, err)
		assert.True(t, dup)
		assert.Equal(t, f.msg.ID, id)
	})
	t.Run("NoPlatformIDNoDedup", func(t *testing.T) {
		m := f.msg
		m.PlatformID, m.Text = "", "voice"
		id1, dup1, err := db.SaveInbound(ctx, m)
		require.NoError(t, err)
		id2, dup2, err := db.SaveInbound(ctx, m)
		require.NoError(t, err)
		assert.False(t, dup1 || dup2)
		assert.NotEqual(t, id1, id2)
	})
	var ids []int64
	for i := range 5 {
		clk.Add(time.Second)
		m := f.msg
		m.PlatformID, m.Text, m.ID = bot.MessageID("H"+string(rune('a'+i))), "msg "+string(rune('a'+i)), 0
		id, _, err := db.SaveInbound(ctx, m)
		require.NoError(t, err)
		ids = append(ids, id)
	}
	t.Run("History", func(t *testing.T) {
		h, err := db.History(ctx, f.customer.ID, chat, ids[4], 3)
		require.NoError(t, err)
		require.Len(t, h, 3)
		assert.Equal(t, []string{"msg b", "msg c", "msg d"}, []string{h[0].Text, h[1].Text, h[2].Text})
		assert.Equal(t, chat, h[0].Chat)
		assert.Equal(t, bot.StatusReceived, h[0].Status)
		assert.Equal(t, bot.In, h[0].Dir)
		all, err := db.History(ctx, f.customer.ID, chat, 0, 100)
		require.NoError(t, err)
		assert.Len(t, all, 8)
		assert.Equal(t, "msg e", all[7].Text)
		other, err := db.History(ctx, f.customer.ID, "other@s.whatsapp.net", 0, 100)
		require.NoError(t, err)
		assert.Empty(t, other)
	})
	t.Run("Undrafted", func(t *testing.T) {
		u, err := db.Undrafted(ctx, 100)
		require.NoError(t, err)
		assert.Len(t, u, 7, "all but the drafted one")
		assert.NotEqual(t, f.msg.ID, u[0].ID)
		// Staff messages are not customer work.
		s, err := db.ResolveSubject(ctx, bot.SubjectInput{Identities: []bot.Identity{staff("x")}, Role: bot.RoleStaff})
		require.NoError(t, err)
		_, _, err = db.SaveInbound(ctx, bot.Message{Subject: s.ID, Platform: bot.Teams, Chat: "conv", PlatformID: "act", Text: "hi"})
		require.NoError(t, err)
		u2, err := db.Undrafted(ctx, 100)
		require.NoError(t, err)
		assert.Len(t, u2, 7)
		// A message answered without a draft (a command) is not work either.
		require.NoError(t, db.MarkHandled(ctx, u2[0].ID))
		require.NoError(t, db.MarkHandled(ctx, 1<<40), "unknown ids are not an error")
		u3, err := db.Undrafted(ctx, 100)
		require.NoError(t, err)
		require.Len(t, u3, 6)
		assert.NotEqual(t, u2[0].ID, u3[0].ID)
	})
	t.Run("Errors", func(t *testing.T) {
		_, _, err := db.SaveInbound(ctx, bot.Message{Platform: bot.WhatsApp, Chat: "c"})
		assert.Error(t, err)
		_, _, err = db.SaveInbound(ctx, bot.Message{Subject: bot.NewSubjectID(), Platform: bot.WhatsApp, Chat: "c", Text: "x"})
		assert.ErrorIs(t, err, bot.ErrNotFound)
		_, _, err = db.SaveInbound(ctx, bot.Message{Subject: f.customer.ID, Platform: bot.WhatsApp, Chat: "c", Text: strings.Repeat("x", MaxTextLen+1)})
		assert.ErrorIs(t, err, bot.ErrTooLarge)
	})
}

func TestDraftLifecycle(t *testing.T) {
	db, _ := openTest(t)
	ctx := context.Background()
	f := newFixture(t, db, "+447700900123", "Ada", "How much for two?", "£10 each")

	v, err := db.LoadDraft(ctx, f.draftID)
	require.NoError(t, err)
	assert.Equal(t, "£10 each", v.Draft.Text)
	assert.Equal(t, bot.DraftPending, v.Draft.Status)
	assert.Equal(t, f.msg.Chat, v.Draft.Chat)
	assert.Equal(t, "question", v.Draft.Result.Intent)
	assert.Equal(t, "How much for two?", v.Message.Text)
	assert.Equal(t, "Ada", v.Customer.Name)
	assert.Equal(t, "+447700900123", v.Phone)
	assert.Nil(t, v.Card)
	assert.Nil(t, v.Decision)
	assert.Empty(t, v.SendStatus)

	un, err := db.Uncarded(ctx, 10)
	require.NoError(t, err)
	assert.Equal(t, []int64{f.draftID}, un)
	ref := bot.CardRef{Conversation: "19:staff@thread", ActivityID: "act-1"}
	require.NoError(t, db.SaveCard(ctx, f.draftID, ref))
	require.NoError(t, db.SaveCard(ctx, f.draftID, bot.CardRef{Conversation: "19:staff@thread", ActivityID: "act-2"}))
	un, err = db.Uncarded(ctx, 10)
	require.NoError(t, err)
	assert.Empty(t, un)
	v, err = db.LoadDraft(ctx, f.draftID)
	require.NoError(t, err)
	assert.Equal(t, &bot.CardRef{Conversation: "19:staff@thread", ActivityID: "act-2"}, v.Card)
	cards, err := db.CardsOf(ctx, f.customer.ID)
	require.NoError(t, err)
	assert.Len(t, cards, 1)
	assert.ErrorIs(t, db.SaveCard(ctx, 999, ref), bot.ErrNotFound)

	require.NoError(t, db.ReviseDraft(ctx, f.draftID, bot.DraftFailed, "", nil))
	v, err = db.LoadDraft(ctx, f.draftID)
	require.NoError(t, err)
	assert.Equal(t, bot.DraftFailed, v.Draft.Status)
	assert.Empty(t, v.Draft.Text)
	assert.Nil(t, v.Draft.Result)
	require.NoError(t, db.ReviseDraft(ctx, f.draftID, bot.DraftPending, "£9 each", &bot.DraftResult{Text: "£9 each", Flags: []string{"price"}}))
	v, err = db.LoadDraft(ctx, f.draftID)
	require.NoError(t, err)
	assert.Equal(t, "£9 each", v.Draft.Text)
	assert.True(t, v.Draft.Result.Blocked())

	assert.ErrorIs(t, db.ReviseDraft(ctx, 999, bot.DraftPending, "x", nil), bot.ErrNotFound)
	assert.Error(t, db.ReviseDraft(ctx, f.draftID, bot.DraftSent, "x", nil))
	_, err = db.LoadDraft(ctx, 999)
	assert.ErrorIs(t, err, bot.ErrNotFound)

	// Defaults from the message.
	id, err := db.CreateDraft(ctx, bot.Draft{MessageID: f.msg.ID, Status: bot.DraftFailed})
	require.NoError(t, err)
	v, err = db.LoadDraft(ctx, id)
	require.NoError(t, err)
	assert.Equal(t, f.customer.ID, v.Draft.Subject)
	assert.Equal(t, f.msg.Chat, v.Draft.Chat)
	_, err = db.CreateDraft(ctx, bot.Draft{MessageID: 999})
	assert.ErrorIs(t, err, bot.ErrNotFound)
}

func TestDecide(t *testing.T) {
	ctx := context.Background()
	by := staff("1")
	tests := []struct {
		name     string
		draft    string
		flags    []string
		first    bot.Decision
		wantErr  error
		status   bot.DraftStatus
		outbox   string // expected reply text, "" for none
		errOther bool
	}{
		{name: "Approve", draft: "Yes, open 9-5", first: bot.Decision{Kind: bot.Approve}, status: bot.DraftApproved, outbox: "Yes, open 9-5"},
		{name: "Edit", draft: "Yes", first: bot.Decision{Kind: bot.Edit, Text: "Yes, 9 to 5"}, status: bot.DraftEdited, outbox: "Yes, 9 to 5"},
		{name: "EditOfEmptyDraft", draft: "", first: bot.Decision{Kind: bot.Edit, Text: "By hand"}, status: bot.DraftEdited, outbox: "By hand"},
		{name: "Reject", draft: "No", first: bot.Decision{Kind: bot.Reject}, status: bot.DraftRejected},
		{name: "ApproveEmptyForbidden", draft: "", first: bot.Decision{Kind: bot.Approve}, wantErr: bot.ErrForbidden, status: bot.DraftPending},
		{name: "ApproveFlaggedForbidden", draft: "£99", flags: []string{"unknown price"}, first: bot.Decision{Kind: bot.Approve}, wantErr: bot.ErrForbidden, status: bot.DraftPending},
		{name: "EditEmptyForbidden", draft: "x", first: bot.Decision{Kind: bot.Edit, Text: "  "}, wantErr: bot.ErrForbidden, status: bot.DraftPending},
		{name: "RegenerateNotHere", draft: "x", first: bot.Decision{Kind: bot.Regenerate}, errOther: true, status: bot.DraftPending},
		{name: "RetryNotHere", draft: "x", first: bot.Decision{Kind: bot.Retry}, errOther: true, status: bot.DraftPending},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			db, _ := openTest(t)
			f := newFixture(t, db, "+447700900123", "Ada", "q", tc.draft)
			if tc.flags != nil {
				require.NoError(t, db.ReviseDraft(ctx, f.draftID, bot.DraftPending, tc.draft, &bot.DraftResult{Text: tc.draft, Flags: tc.flags}))
			}
			d := tc.first
			d.DraftID, d.By, d.ByName, d.Tenant, d.ActionID = f.draftID, by, "Sam Staff", "tenant-1", "click-1"
			err := db.Decide(ctx, d)
			switch {
			case tc.wantErr != nil:
				assert.ErrorIs(t, err, tc.wantErr)
			case tc.errOther:
				assert.Error(t, err)
				assert.NotErrorIs(t, err, bot.ErrDecided)
			default:
				require.NoError(t, err)
			}
			v, err := db.LoadDraft(ctx, f.draftID)
			require.NoError(t, err)
			assert.Equal(t, tc.status, v.Draft.Status)
			items, err := db.DueOutbox(ctx, db.now(), 10)
			require.NoError(t, err)
			if tc.outbox == "" {
				assert.Empty(t, items)
				assert.Empty(t, v.SendStatus)
			} else {
				require.Len(t, items, 1)
				assert.Equal(t, tc.outbox, items[0].Text)
				assert.Equal(t, f.msg.Chat, items[0].Chat)
				assert.Equal(t, f.customer.ID, items[0].Subject)
				assert.Equal(t, f.draftID, items[0].DraftID)
				assert.Equal(t, bot.StatusPending, v.SendStatus)
			}
			if !tc.status.Decided() {
				assert.Nil(t, v.Decision)
				return
			}
			require.NotNil(t, v.Decision)
			assert.Equal(t, tc.first.Kind, v.Decision.Kind)
			assert.Equal(t, tc.first.Text, v.Decision.Text)
			assert.Equal(t, by, v.Decision.By)
			assert.Equal(t, "Sam Staff", v.Decision.ByName)
			assert.Equal(t, "tenant-1", v.Decision.Tenant)

			// Any later decision loses, the same click too.
			for _, again := range []bot.Decision{
				{DraftID: f.draftID, Kind: bot.Approve, By: staff("2"), ActionID: "click-2"},
				{DraftID: f.draftID, Kind: bot.Reject, By: by, ActionID: "click-1"},
				{DraftID: f.draftID, Kind: bot.Edit, Text: "other", By: by},
			} {
				assert.ErrorIs(t, db.Decide(ctx, again), bot.ErrDecided)
			}
			items2, err := db.DueOutbox(ctx, db.now(), 10)
			require.NoError(t, err)
			assert.Len(t, items2, len(items))
			s, err := db.FindSubjects(ctx, by)
			require.NoError(t, err)
			require.Len(t, s, 1)
			sub, err := db.FindSubject(ctx, s[0])
			require.NoError(t, err)
			assert.Equal(t, bot.RoleStaff, sub.Role)
		})
	}
	t.Run("NotFound", func(t *testing.T) {
		db, _ := openTest(t)
		assert.ErrorIs(t, db.Decide(ctx, bot.Decision{DraftID: 42, Kind: bot.Approve}), bot.ErrNotFound)
	})
	t.Run("SameActionOnOtherDraft", func(t *testing.T) {
		db, _ := openTest(t)
		f1 := newFixture(t, db, "+447700900123", "Ada", "q", "a")
		f2 := newFixture(t, db, "+447700900124", "Bob", "q", "b")
		require.NoError(t, db.Decide(ctx, bot.Decision{DraftID: f1.draftID, Kind: bot.Approve, ActionID: "x"}))
		assert.ErrorIs(t, db.Decide(ctx, bot.Decision{DraftID: f2.draftID, Kind: bot.Approve, ActionID: "x"}), bot.ErrDecided)
	})
}

func TestOutboxSendAndReceipts(t *testing.T) {
	db, clk := openTest(t)
	ctx := context.Background()
	f := newFixture(t, db, "+447700900123", "Ada", "q", "answer")
	require.NoError(t, db.Decide(ctx, bot.Decision{DraftID: f.draftID, Kind: bot.Approve, By: staff("1")}))
	items, err := db.DueOutbox(ctx, clk.Now(), 10)
	require.NoError(t, err)
	require.Len(t, items, 1)
	it := items[0]

	require.NoError(t, db.Postpone(ctx, it.ID, clk.Now().Add(time.Second), ""))
	items, err = db.DueOutbox(ctx, clk.Now(), 10)
	require.NoError(t, err)
	assert.Empty(t, items, "postponed")
	clk.Add(time.Second)
	items, err = db.DueOutbox(ctx, clk.Now(), 10)
	require.NoError(t, err)
	require.Len(t, items, 1)
	assert.Equal(t, 0, items[0].Attempts, "a postponement is not an attempt")

	require.NoError(t, db.MarkRetry(ctx, it.ID, clk.Now().Add(time.Minute), "timeout"))
	items, err = db.DueOutbox(ctx, clk.Now(), 10)
	require.NoError(t, err)
	assert.Empty(t, items, "not due before next attempt")
	clk.Add(time.Minute)
	items, err = db.DueOutbox(ctx, clk.Now(), 10)
	require.NoError(t, err)
	require.Len(t, items, 1)
	assert.Equal(t, 1, items[0].Attempts)
	assert.Equal(t, "timeout", items[0].LastError)

	require.NoError(t, db.MarkSent(ctx, it.ID, "WAOUT1", clk.Now()))
	require.NoError(t, db.MarkSent(ctx, it.ID, "WAOUT1", clk.Now()), "idempotent")
	items, err = db.DueOutbox(ctx, clk.Now(), 10)
	require.NoError(t, err)
	assert.Empty(t, items)
	v, err := db.LoadDraft(ctx, f.draftID)
	require.NoError(t, err)
	assert.Equal(t, bot.DraftSent, v.Draft.Status)
	assert.Equal(t, bot.StatusSent, v.SendStatus)
	h, err := db.History(ctx, f.customer.ID, f.msg.Chat, 0, 10)
	require.NoError(t, err)
	require.Len(t, h, 2)
	assert.Equal(t, bot.Out, h[1].Dir)
	assert.Equal(t, "answer", h[1].Text)
	assert.Equal(t, bot.MessageID("WAOUT1"), h[1].PlatformID)
	text, err := db.RetryText(ctx, "WAOUT1")
	require.NoError(t, err)
	assert.Equal(t, "answer", text, "a retry request after a restart gets the sent text")
	_, err = db.RetryText(ctx, "UNKNOWN")
	assert.ErrorIs(t, err, bot.ErrNotFound)
	_, err = db.RetryText(ctx, f.msg.PlatformID)
	assert.ErrorIs(t, err, bot.ErrNotFound, "inbound messages are not retry material")
	assert.ErrorIs(t, db.MarkRetry(ctx, it.ID, clk.Now(), "x"), errNotInState)

	receipt := func(st bot.MessageStatus, ids ...bot.MessageID) []int64 {
		t.Helper()
		got, err := db.ApplyReceipt(ctx, bot.Receipt{Platform: bot.WhatsApp, Chat: f.msg.Chat, IDs: ids, Status: st})
		require.NoError(t, err)
		return got
	}
	assert.Equal(t, []int64{f.draftID}, receipt(bot.StatusDelivered, "WAOUT1", "unknown"))
	assert.Equal(t, []int64{f.draftID}, receipt(bot.StatusRead, "WAOUT1"))
	assert.Empty(t, receipt(bot.StatusDelivered, "WAOUT1"), "a late delivered never lowers read")
	assert.Empty(t, receipt(bot.StatusRead, "WAOUT1"), "no change, no draft")
	v, err = db.LoadDraft(ctx, f.draftID)
	require.NoError(t, err)
	assert.Equal(t, bot.StatusRead, v.SendStatus)
	h, err = db.History(ctx, f.customer.ID, f.msg.Chat, 0, 10)
	require.NoError(t, err)
	assert.Equal(t, bot.StatusRead, h[1].Status)
	_, err = db.ApplyReceipt(ctx, bot.Receipt{Platform: bot.WhatsApp, Chat: f.msg.Chat, IDs: []bot.MessageID{"WAOUT1"}, Status: "bogus"})
	assert.Error(t, err)
	got, err := db.ApplyReceipt(ctx, bot.Receipt{Platform: bot.WhatsApp, Chat: "other", IDs: []bot.MessageID{"WAOUT1"}, Status: bot.StatusRead})
	require.NoError(t, err)
	assert.Empty(t, got, "receipts match chat too")

	t.Run("Failed", func(t *testing.T) {
		f2 := newFixture(t, db, "+447700900124", "Bob", "q", "answer 2")
		require.NoError(t, db.Decide(ctx, bot.Decision{DraftID: f2.draftID, Kind: bot.Approve}))
		items, err := db.DueOutbox(ctx, clk.Now(), 10)
		require.NoError(t, err)
		require.Len(t, items, 1)
		require.NoError(t, db.MarkFailed(ctx, items[0].ID, "unsupported", "WhatsApp refused the reply."))
		v, err := db.LoadDraft(ctx, f2.draftID)
		require.NoError(t, err)
		assert.Equal(t, bot.StatusFailed, v.SendStatus)
		items, err = db.DueOutbox(ctx, clk.Now(), 10)
		require.NoError(t, err)
		assert.Empty(t, items)
		assert.ErrorIs(t, db.MarkFailed(ctx, 999, "x", ""), bot.ErrNotFound)
		assert.ErrorIs(t, db.MarkSent(ctx, 999, "x", clk.Now()), bot.ErrNotFound)
	})
}

func TestRevokeMessage(t *testing.T) {
	db, _ := openTest(t)
	ctx := context.Background()
	f := newFixture(t, db, "+447700900123", "Ada", "oops, wrong chat", "reply")
	drafts, err := db.RevokeMessage(ctx, bot.WhatsApp, f.msg.Chat, f.msg.PlatformID)
	require.NoError(t, err)
	assert.Equal(t, []int64{f.draftID}, drafts)
	h, err := db.History(ctx, f.customer.ID, f.msg.Chat, 0, 10)
	require.NoError(t, err)
	assert.Empty(t, h)
	v, err := db.LoadDraft(ctx, f.draftID)
	require.NoError(t, err)
	assert.Zero(t, v.Draft.MessageID)
	assert.Empty(t, v.Message.Text)
	_, err = db.RevokeMessage(ctx, bot.WhatsApp, f.msg.Chat, f.msg.PlatformID)
	assert.ErrorIs(t, err, bot.ErrNotFound)
}

func TestRestartKeepsOutboxDue(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	clk := newClock()
	db := openAt(t, dir, clk.Now)
	f := newFixture(t, db, "+447700900123", "Ada", "q", "approved reply")
	require.NoError(t, db.Decide(ctx, bot.Decision{DraftID: f.draftID, Kind: bot.Approve}))
	require.NoError(t, db.Close())

	db2 := openAt(t, dir, clk.Now)
	items, err := db2.DueOutbox(ctx, clk.Now(), 10)
	require.NoError(t, err)
	require.Len(t, items, 1)
	assert.Equal(t, "approved reply", items[0].Text)
	assert.Equal(t, f.msg.Chat, items[0].Chat)
	require.NoError(t, db2.MarkSent(ctx, items[0].ID, "OUT", clk.Now()))
	assert.ErrorIs(t, db2.Decide(ctx, bot.Decision{DraftID: f.draftID, Kind: bot.Approve}), bot.ErrDecided)
	items, err = db2.DueOutbox(ctx, clk.Now(), 10)
	require.NoError(t, err)
	assert.Empty(t, items)

	// A wrong master key cannot open the data: Open refuses it.
	bad, err := New(Options{Dir: dir, MasterKey: make([]byte, 32)})
	require.NoError(t, err)
	require.NoError(t, db2.Close())
	assert.ErrorIs(t, bad.Open(ctx), ErrWrongMasterKey)
}

func TestTruncErr(t *testing.T) {
	assert.Equal(t, "short", truncErr("short"))
	long := strings.Repeat("é", maxErrLen) // 2 bytes each
	got := truncErr(long)
	assert.LessOrEqual(t, len(got), maxErrLen)
	assert.True(t, strings.HasPrefix(long, got))
	got = truncErr("x" + long)
	assert.Len(t, got, maxErrLen-1, "half a rune dropped")
}

// TestOutboxInDoubt walks an outbox row through the send states: sending is
// committed before the send, a restart finds it in doubt, a receipt with the
// row's key settles it (platform id, outbound message, draft sent), a failed
// receipt marks it failed with its reason, and staff resend it.
func TestOutboxInDoubt(t *testing.T) {
	db, clk := openTest(t)
	ctx := context.Background()
	f := newFixture(t, db, "+447700900123", "Ada", "q", "answer")
	require.NoError(t, db.Decide(ctx, bot.Decision{DraftID: f.draftID, Kind: bot.Approve, By: staff("1")}))
	items, err := db.DueOutbox(ctx, clk.Now(), 10)
	require.NoError(t, err)
	require.Len(t, items, 1)
	it := items[0]
	assert.Regexp(t, `^ob_[0-9a-f]{32}$`, it.Key)

	require.NoError(t, db.BeginSend(ctx, it.ID, clk.Now()))
	assert.ErrorIs(t, db.BeginSend(ctx, it.ID, clk.Now()), errNotInState, "one attempt at a time")
	items, err = db.DueOutbox(ctx, clk.Now(), 10)
	require.NoError(t, err)
	assert.Empty(t, items, "a sending row is not due")
	doubt, err := db.InDoubt(ctx, 10)
	require.NoError(t, err)
	require.Len(t, doubt, 1)
	assert.Equal(t, bot.StatusSending, doubt[0].Status)
	assert.Equal(t, clk.Now(), doubt[0].SendingAt)
	v, err := db.LoadDraft(ctx, f.draftID)
	require.NoError(t, err)
	assert.Equal(t, bot.StatusSending, v.SendStatus)

	t.Run("ReceiptByKeySettles", func(t *testing.T) {
		got, err := db.ApplyReceipt(ctx, bot.Receipt{Platform: bot.WhatsApp, Chat: f.msg.Chat, IDs: []bot.MessageID{"wamid.1"},
			Status: bot.StatusDelivered, Key: it.Key})
		require.NoError(t, err)
		assert.Equal(t, []int64{f.draftID}, got)
		v, err := db.LoadDraft(ctx, f.draftID)
		require.NoError(t, err)
		assert.Equal(t, bot.StatusDelivered, v.SendStatus)
		assert.Equal(t, bot.DraftSent, v.Draft.Status)
		text, err := db.RetryText(ctx, "wamid.1")
		require.NoError(t, err)
		assert.Equal(t, "answer", text, "the outbound message row is written")
		doubt, err := db.InDoubt(ctx, 10)
		require.NoError(t, err)
		assert.Empty(t, doubt)
		require.NoError(t, db.MarkSent(ctx, it.ID, "wamid.1", clk.Now()), "a late MarkSent changes nothing")
		v, err = db.LoadDraft(ctx, f.draftID)
		require.NoError(t, err)
		assert.Equal(t, bot.StatusDelivered, v.SendStatus, "never lowered")
		got, err = db.ApplyReceipt(ctx, bot.Receipt{Platform: bot.WhatsApp, Chat: f.msg.Chat, Key: "ob_unknown", Status: bot.StatusRead})
		require.NoError(t, err)
		assert.Empty(t, got, "an unknown key changes nothing")
	})
	t.Run("FailedReceiptThenResend", func(t *testing.T) {
		got, err := db.ApplyReceipt(ctx, bot.Receipt{Platform: bot.WhatsApp, Chat: f.msg.Chat, IDs: []bot.MessageID{"wamid.1"},
			Status: bot.StatusFailed, Key: it.Key, Reason: "131026 Message undeliverable"})
		require.NoError(t, err)
		assert.Equal(t, []int64{f.draftID}, got)
		v, err := db.LoadDraft(ctx, f.draftID)
		require.NoError(t, err)
		assert.Equal(t, bot.StatusFailed, v.SendStatus)
		assert.Equal(t, "The platform could not deliver it: 131026 Message undeliverable.", v.SendReason)

		require.NoError(t, db.Decide(ctx, bot.Decision{DraftID: f.draftID, Kind: bot.Resend, By: staff("1"), ActionID: "click-1"}))
		assert.ErrorIs(t, db.Decide(ctx, bot.Decision{DraftID: f.draftID, Kind: bot.Resend, By: staff("1"), ActionID: "click-2"}), bot.ErrDecided,
			"only a failed or unconfirmed reply is resent")
		items, err := db.DueOutbox(ctx, clk.Now(), 10)
		require.NoError(t, err)
		require.Len(t, items, 1)
		assert.Equal(t, it.Key, items[0].Key, "the same reply, the same key")
		assert.Zero(t, items[0].Attempts)
		assert.Empty(t, items[0].Reason)
	})
	t.Run("Unconfirmed", func(t *testing.T) {
		require.NoError(t, db.BeginSend(ctx, it.ID, clk.Now()))
		require.NoError(t, db.MarkUnconfirmed(ctx, it.ID, "WhatsApp did not confirm it."))
		v, err := db.LoadDraft(ctx, f.draftID)
		require.NoError(t, err)
		assert.Equal(t, bot.StatusUnconfirmed, v.SendStatus)
		assert.Equal(t, "WhatsApp did not confirm it.", v.SendReason)
		got, err := db.ApplyReceipt(ctx, bot.Receipt{Platform: bot.WhatsApp, Chat: f.msg.Chat, IDs: []bot.MessageID{"wamid.2"},
			Status: bot.StatusSent, Key: it.Key})
		require.NoError(t, err)
		assert.Equal(t, []int64{f.draftID}, got, "a late receipt still settles it")
		v, err = db.LoadDraft(ctx, f.draftID)
		require.NoError(t, err)
		assert.Equal(t, bot.StatusSent, v.SendStatus)
		assert.Empty(t, v.SendReason)
	})
	t.Run("Waiting", func(t *testing.T) {
		g := newFixture(t, db, "+447700900124", "Bob", "q", "answer 2")
		require.NoError(t, db.Decide(ctx, bot.Decision{DraftID: g.draftID, Kind: bot.Approve, By: staff("1")}))
		items, err := db.DueOutbox(ctx, clk.Now(), 10)
		require.NoError(t, err)
		require.Len(t, items, 1)
		require.NoError(t, db.Postpone(ctx, items[0].ID, clk.Now().Add(time.Minute), bot.WhatsApp))
		v, err := db.LoadDraft(ctx, g.draftID)
		require.NoError(t, err)
		assert.Equal(t, bot.StatusPending, v.SendStatus)
		assert.Equal(t, bot.WhatsApp, v.SendWaiting)
		require.NoError(t, db.BeginSend(ctx, items[0].ID, clk.Now()))
		v, err = db.LoadDraft(ctx, g.draftID)
		require.NoError(t, err)
		assert.Empty(t, v.SendWaiting, "an attempt ends the wait")
	})
}
