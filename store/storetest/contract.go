package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboard/switchboard/bot"
	"github.com/switchboard/switchboard/store"
)

// Store is what the router, the privacy engine and cmd/switchboard need of
// a store, whatever keeps it: bot.Store with the optional interfaces the
// router asserts (Ingester, HandledMarker, MessageFinder, ClosedAckStore)
// and the media worker's MediaStore, the methods of privacy.Store, and the
// few cmd/switchboard wires into the channels and the role check; it is
// the same list as cmd/switchboard's appStore (its tests check both).
// *store.DB (SQLite) implements it; a second store must too, and pass
// RunContract.
//
// privacy.Store's methods are spelled out rather than embedded: privacy's
// own tests import this package, so it cannot import privacy
// (storetest_test checks that Store includes privacy.Store).
type Store interface {
	bot.Store
	bot.Ingester
	bot.HandledMarker
	bot.MessageFinder
	bot.ClosedAckStore
	bot.MediaStore

	// The privacy engine's (privacy.Store; see its documentation).

	// FindSubjects returns the subjects known by id (for a tenant, every
	// subject of that tenant); none is an empty slice.
	FindSubjects(ctx context.Context, id bot.Identity) ([]bot.SubjectID, error)
	// Identities returns every identity linked to the subject.
	Identities(ctx context.Context, s bot.SubjectID) ([]bot.Identity, error)
	// SetAIRestricted records or lifts the subject's objection to AI.
	SetAIRestricted(ctx context.Context, s bot.SubjectID, on bool) error
	// SetName replaces the subject's display name (rectification).
	SetName(ctx context.Context, s bot.SubjectID, name string) error
	// ExportSubject calls fn for each stored row about the subject,
	// decrypted, grouped by kind; fn's error stops it and is returned.
	ExportSubject(ctx context.Context, s bot.SubjectID, fn func(kind string, v any) error) error
	// DeleteSubject erases the subject and returns the rows removed per
	// kind; register rows are kept.
	DeleteSubject(ctx context.Context, s bot.SubjectID) (map[string]int, error)
	// EraseSubject is DeleteSubject that records, in the same transaction,
	// the forget the channels owe (ids sealed, the forgetters named owed);
	// it returns the record's id whenever that transaction committed.
	EraseSubject(ctx context.Context, s bot.SubjectID, ids []bot.Identity, owed []string) (string, map[string]int, error)
	// PendingForgets returns the forget records not completed, oldest
	// first, their identities opened.
	PendingForgets(ctx context.Context) ([]bot.PendingForget, error)
	// UpdateForget sets what a record still owes and when it is next due.
	UpdateForget(ctx context.Context, id string, owed []string, due time.Time) error
	// CompleteForget deletes a record and destroys its key.
	CompleteForget(ctx context.Context, id string) error
	// CountSubject returns what DeleteSubject would remove, with its keys.
	CountSubject(ctx context.Context, s bot.SubjectID) (map[string]int, error)
	// CardsOf returns the staff cards posted about the subject's drafts.
	CardsOf(ctx context.Context, s bot.SubjectID) ([]bot.CardRef, error)
	// Checkpoint makes erased rows unrecoverable from the store's files.
	Checkpoint(ctx context.Context) error
	// CreateRequest adds a register entry and returns its id.
	CreateRequest(ctx context.Context, r bot.Request) (int64, error)
	// CompleteRequest closes a register entry.
	CompleteRequest(ctx context.Context, id int64, status string, counts map[string]int, at time.Time) error
	// OpenRequests returns the register entries not yet completed.
	OpenRequests(ctx context.Context) ([]bot.Request, error)
	// Audit appends one entry to the audit trail.
	Audit(ctx context.Context, e bot.AuditEntry) error
	// Inactive returns the subjects whose last inbound message, or with
	// none whose creation, is before the given time.
	Inactive(ctx context.Context, before time.Time) ([]bot.SubjectID, error)

	// cmd/switchboard's.

	// SetRole sets the subject's role, up or down (ResolveSubject only
	// raises it).
	SetRole(ctx context.Context, s bot.SubjectID, r bot.Role) error
	// LastInbound returns when chat last wrote (the platform's time of its
	// newest stored inbound message), zero if none is stored.
	LastInbound(ctx context.Context, p bot.Platform, chat bot.ChatID) (time.Time, error)
	// RetryText returns the text of the reply sent with platform id id, or
	// an error wrapping bot.ErrNotFound.
	RetryText(ctx context.Context, id bot.MessageID) (string, error)
	// SweepMedia removes stored media files no row points at and returns
	// how many it removed.
	SweepMedia(ctx context.Context) (int, error)
	// Close releases the store. RunContract leaves it to open's cleanup.
	Close() error
}

var _ Store = (*store.DB)(nil)

// RunContract checks what the router, privacy and cmd rely on from a
// store, by behaviour only (no SQL, no files): the same platform message
// is stored once, also under concurrent redeliveries; one subject per
// identity under races; the first decision on a draft wins; a receipt never
// lowers a reply's status, also concurrently and out of order; a receipt
// carrying an outbox key settles its row whatever its state; an outbox
// row's key is stable across every attempt; erasure leaves nothing of the
// person to be found through any method, and the people around them
// intact; an erasure's forget record keeps the identities the channels are
// owed until it is completed. open is called once per subtest and returns a fresh, empty,
// open store that t's cleanup closes. That no byte of an erased person
// stays on disk is each store's own test (it knows its files).
func RunContract(t *testing.T, open func(t *testing.T) Store) {
	t.Helper()
	run := func(name string, fn func(t *testing.T, c *contract)) {
		t.Run(name, func(t *testing.T) {
			st := open(t)
			require.NotNil(t, st)
			fn(t, &contract{t: t, st: st, ctx: context.Background()})
		})
	}
	run("SameIDIsDup", testSameIDIsDup)
	run("SameIDIsDupUnderRedeliveries", testSameIDIsDupConcurrent)
	run("OneSubjectPerIdentity", testOneSubjectPerIdentity)
	run("HandledAndDraftedLeaveUndrafted", testUndrafted)
	run("FirstDecisionWins", testFirstDecisionWins)
	run("DecisionsThatCannotSend", testDecisionsRefused)
	run("ReceiptNeverLowers", testReceiptNeverLowers)
	run("ReceiptNeverLowersUnderRedeliveries", testReceiptNeverLowersConcurrent)
	run("KeyedReceiptSettlesSending", testKeyedReceiptSettles)
	run("OutboxKeysStable", testOutboxKeysStable)
	run("ClosedAckOncePerPeriod", testClosedAckOnce)
	run("ObjectionAndRectification", testObjectionAndName)
	run("EraseLeavesNothing", testEraseLeavesNothing)
	run("EraseStaffKeepsTheirDecisionsNameless", testEraseStaff)
	run("ForgetKeptUntilCompleted", testForgetKept)
}

// contract is one subtest's store and helpers.
type contract struct {
	t   *testing.T
	st  Store
	ctx context.Context
}

// person is a customer with one chat.
type person struct {
	sub   bot.Subject
	phone bot.Identity
	chat  bot.ChatID
}

func (c *contract) customer(n int, name string) person {
	c.t.Helper()
	digits := fmt.Sprintf("4477009%05d", n)
	phone := bot.Identity{Kind: bot.IDPhone, Value: "+" + digits}
	sub, err := c.st.ResolveSubject(c.ctx, bot.SubjectInput{Identities: []bot.Identity{phone}, Name: name, Role: bot.RoleCustomer})
	require.NoError(c.t, err)
	require.NotEmpty(c.t, sub.ID)
	return person{sub: sub, phone: phone, chat: bot.ChatID(digits + "@s.whatsapp.net")}
}

func (c *contract) message(p person, pid, text string) bot.Message {
	return bot.Message{Subject: p.sub.ID, Platform: bot.WhatsApp, Chat: p.chat, PlatformID: bot.MessageID(pid),
		Dir: bot.In, Kind: bot.KindText, Text: text, SentAt: time.Now().UTC().Truncate(time.Second), Status: bot.StatusReceived}
}

func (c *contract) inbound(p person, pid, text string) bot.Message {
	c.t.Helper()
	m := c.message(p, pid, text)
	id, dup, err := c.st.SaveInbound(c.ctx, m)
	require.NoError(c.t, err)
	require.False(c.t, dup)
	m.ID = id
	return m
}

func (c *contract) draft(m bot.Message, text string) int64 {
	c.t.Helper()
	id, err := c.st.CreateDraft(c.ctx, bot.Draft{Subject: m.Subject, MessageID: m.ID, Platform: m.Platform, Chat: m.Chat,
		Text: text, Status: bot.DraftPending, Result: &bot.DraftResult{Text: text, Intent: "question"}})
	require.NoError(c.t, err)
	return id
}

// approved is an approved reply to a new message of p, as its outbox item.
func (c *contract) approved(p person, pid, reply string) (int64, bot.OutboxItem) {
	c.t.Helper()
	d := c.draft(c.inbound(p, pid, "question "+pid), reply)
	require.NoError(c.t, c.st.Decide(c.ctx, bot.Decision{DraftID: d, Kind: bot.Approve, By: staffID(1), ByName: "Sam", ActionID: "approve-" + pid}))
	return d, c.item(d)
}

// item is the pending outbox item of draft d, due now.
func (c *contract) item(d int64) bot.OutboxItem {
	c.t.Helper()
	items, err := c.st.DueOutbox(c.ctx, time.Now().Add(time.Second), 100)
	require.NoError(c.t, err)
	for _, it := range items {
		if it.DraftID == d {
			return it
		}
	}
	c.t.Fatalf("no due outbox item for draft %d", d)
	return bot.OutboxItem{}
}

func (c *contract) view(d int64) bot.DraftView {
	c.t.Helper()
	v, err := c.st.LoadDraft(c.ctx, d)
	require.NoError(c.t, err)
	return v
}

func (c *contract) history(p person) []bot.Message {
	c.t.Helper()
	h, err := c.st.History(c.ctx, p.sub.ID, p.chat, 0, 100)
	require.NoError(c.t, err)
	return h
}

func staffID(n int) bot.Identity {
	return bot.Identity{Kind: bot.IDTeams, Value: fmt.Sprintf("6f1c2b3a-0d4e-4f5a-8b6c-%012d", n)}
}

func testSameIDIsDup(t *testing.T, c *contract) {
	p := c.customer(1, "Ada")
	first := c.inbound(p, "wamid.A", "Do you open on Sunday?")

	again := c.message(p, "wamid.A", "a redelivery may differ")
	id, dup, err := c.st.SaveInbound(c.ctx, again)
	require.NoError(t, err)
	assert.True(t, dup, "the same platform, chat and id is the same message")
	assert.Equal(t, first.ID, id, "a duplicate names the stored row")

	sub, id, dup, err := c.st.Ingest(c.ctx, bot.SubjectInput{Identities: []bot.Identity{p.phone}}, again)
	require.NoError(t, err)
	assert.True(t, dup, "Ingest sees the same duplicate")
	assert.Equal(t, first.ID, id)
	assert.Equal(t, p.sub.ID, sub.ID)

	h := c.history(p)
	require.Len(t, h, 1)
	assert.Equal(t, "Do you open on Sunday?", h[0].Text, "the first copy is kept")

	other := person{sub: p.sub, phone: p.phone, chat: "447700900999@s.whatsapp.net"}
	id2, dup, err := c.st.SaveInbound(c.ctx, c.message(other, "wamid.A", "same id, another chat"))
	require.NoError(t, err)
	assert.False(t, dup, "ids are unique within a chat, not across chats")
	assert.NotEqual(t, first.ID, id2)
	m := c.message(p, "wamid.A", "same id, another platform")
	m.Platform = bot.Teams
	_, dup, err = c.st.SaveInbound(c.ctx, m)
	require.NoError(t, err)
	assert.False(t, dup, "nor across platforms")

	got, err := c.st.FindMessage(c.ctx, first.ID)
	require.NoError(t, err)
	assert.Equal(t, "Do you open on Sunday?", got.Text)
	assert.Equal(t, p.sub.ID, got.Subject)
	_, err = c.st.FindMessage(c.ctx, first.ID+1000)
	assert.ErrorIs(t, err, bot.ErrNotFound)
}

func testSameIDIsDupConcurrent(t *testing.T, c *contract) {
	p := c.customer(2, "Bo")
	const n = 16
	var wg sync.WaitGroup
	ids := make([]int64, n)
	dups := make([]bool, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			m := c.message(p, "wamid.RACE", fmt.Sprintf("copy %d", i))
			if i%2 == 0 {
				ids[i], dups[i], errs[i] = c.st.SaveInbound(c.ctx, m)
			} else {
				_, ids[i], dups[i], errs[i] = c.st.Ingest(c.ctx, bot.SubjectInput{Identities: []bot.Identity{p.phone}}, m)
			}
		})
	}
	wg.Wait()
	fresh := 0
	for i := range n {
		require.NoError(t, errs[i])
		assert.Equal(t, ids[0], ids[i], "every redelivery names the one row")
		if !dups[i] {
			fresh++
		}
	}
	assert.Equal(t, 1, fresh, "exactly one delivery stored it")
	assert.Len(t, c.history(p), 1)
	last, err := c.st.LastInbound(c.ctx, bot.WhatsApp, p.chat)
	require.NoError(t, err)
	assert.False(t, last.IsZero(), "the chat wrote")
	none, err := c.st.LastInbound(c.ctx, bot.WhatsApp, "447700900998@s.whatsapp.net")
	require.NoError(t, err)
	assert.True(t, none.IsZero(), "a chat that never wrote")
}

func testOneSubjectPerIdentity(t *testing.T, c *contract) {
	phone := bot.Identity{Kind: bot.IDPhone, Value: "+447700900301"}
	lid := bot.Identity{Kind: bot.IDLID, Value: "123456789012345@lid"}
	const n = 12
	subs := make([]bot.SubjectID, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			in := bot.SubjectInput{Identities: []bot.Identity{phone}, Name: "Cy", Role: bot.RoleCustomer}
			if i%3 == 0 {
				m := bot.Message{Platform: bot.WhatsApp, Chat: "447700900301@s.whatsapp.net", PlatformID: bot.MessageID(fmt.Sprintf("m%d", i)),
					Dir: bot.In, Kind: bot.KindText, Text: "hi", SentAt: time.Now()}
				var s bot.Subject
				s, _, _, errs[i] = c.st.Ingest(c.ctx, in, m)
				subs[i] = s.ID
				return
			}
			var s bot.Subject
			s, errs[i] = c.st.ResolveSubject(c.ctx, in)
			subs[i] = s.ID
		})
	}
	wg.Wait()
	for i := range n {
		require.NoError(t, errs[i])
		assert.Equal(t, subs[0], subs[i], "racing resolutions of one identity make one subject")
	}
	found, err := c.st.FindSubjects(c.ctx, phone)
	require.NoError(t, err)
	assert.Equal(t, []bot.SubjectID{subs[0]}, found)

	// A message carrying both identities links them to the one subject.
	s, err := c.st.ResolveSubject(c.ctx, bot.SubjectInput{Identities: []bot.Identity{lid, phone}})
	require.NoError(t, err)
	assert.Equal(t, subs[0], s.ID)
	ids, err := c.st.Identities(c.ctx, s.ID)
	require.NoError(t, err)
	assert.ElementsMatch(t, []bot.Identity{phone, lid}, ids)
	got, err := c.st.FindSubject(c.ctx, s.ID)
	require.NoError(t, err)
	assert.Equal(t, "Cy", got.Name)
	assert.Equal(t, bot.RoleCustomer, got.Role)
	none, err := c.st.FindSubjects(c.ctx, bot.Identity{Kind: bot.IDPhone, Value: "+447700900302"})
	require.NoError(t, err)
	assert.Empty(t, none)
	_, err = c.st.FindSubject(c.ctx, "s_nobody")
	assert.ErrorIs(t, err, bot.ErrNotFound)

	// SetRole lowers where ResolveSubject only raises.
	staff, err := c.st.ResolveSubject(c.ctx, bot.SubjectInput{Identities: []bot.Identity{staffID(7)}, Role: bot.RoleAdmin})
	require.NoError(t, err)
	again, err := c.st.ResolveSubject(c.ctx, bot.SubjectInput{Identities: []bot.Identity{staffID(7)}, Role: bot.RoleStaff})
	require.NoError(t, err)
	assert.Equal(t, bot.RoleAdmin, again.Role, "a stored higher role is kept")
	require.NoError(t, c.st.SetRole(c.ctx, staff.ID, bot.RoleStaff))
	got, err = c.st.FindSubject(c.ctx, staff.ID)
	require.NoError(t, err)
	assert.Equal(t, bot.RoleStaff, got.Role)
}

func testUndrafted(t *testing.T, c *contract) {
	p := c.customer(3, "Di")
	a := c.inbound(p, "wamid.U1", "first")
	b := c.inbound(p, "wamid.U2", "/export")
	cm := c.inbound(p, "wamid.U3", "third")
	require.NoError(t, c.st.MarkHandled(c.ctx, b.ID))
	require.NoError(t, c.st.MarkHandled(c.ctx, b.ID+1000), "unknown ids are not an error")
	und, err := c.st.Undrafted(c.ctx, 10)
	require.NoError(t, err)
	assert.Equal(t, []int64{a.ID, cm.ID}, messageIDs(und), "oldest first, without the handled one")

	d1, err := c.st.StartDraft(c.ctx, a)
	require.NoError(t, err)
	assert.Equal(t, bot.DraftDrafting, d1.Status)
	assert.NotEmpty(t, d1.Token)
	d2, err := c.st.StartDraft(c.ctx, a)
	require.NoError(t, err)
	assert.Equal(t, d1.ID, d2.ID, "one draft per message, however often it is started")
	assert.Equal(t, d1.Token, d2.Token)
	drafting, err := c.st.Drafting(c.ctx, 10)
	require.NoError(t, err)
	assert.Equal(t, []int64{d1.ID}, drafting)
	und, err = c.st.Undrafted(c.ctx, 10)
	require.NoError(t, err)
	assert.Equal(t, []int64{cm.ID}, messageIDs(und))
	require.NoError(t, c.st.ReviseDraft(c.ctx, d1.ID, bot.DraftPending, "We open at ten.", &bot.DraftResult{Text: "We open at ten."}))
	v := c.view(d1.ID)
	assert.Equal(t, "We open at ten.", v.Draft.Text)
	assert.Equal(t, "first", v.Message.Text)
	assert.Equal(t, p.sub.ID, v.Customer.ID)
	drafting, err = c.st.Drafting(c.ctx, 10)
	require.NoError(t, err)
	assert.Empty(t, drafting)
}

func messageIDs(ms []bot.Message) []int64 {
	var out []int64
	for _, m := range ms {
		out = append(out, m.ID)
	}
	return out
}

func testFirstDecisionWins(t *testing.T, c *contract) {
	p := c.customer(4, "Ed")
	d := c.draft(c.inbound(p, "wamid.D", "Can you come Friday?"), "Yes, Friday at nine.")
	kinds := []bot.DecisionKind{bot.Approve, bot.Edit, bot.Reject}
	const n = 12
	var wg sync.WaitGroup
	var won atomic.Int32
	winner := -1
	var mu sync.Mutex
	for i := range n {
		wg.Go(func() {
			err := c.st.Decide(c.ctx, bot.Decision{DraftID: d, Kind: kinds[i%3], Text: fmt.Sprintf("Edited by %d", i),
				By: staffID(i), ByName: fmt.Sprintf("Staff %d", i), ActionID: fmt.Sprintf("click-%d", i)})
			switch {
			case err == nil:
				won.Add(1)
				mu.Lock()
				winner = i
				mu.Unlock()
			case errors.Is(err, bot.ErrDecided):
			default:
				t.Errorf("decision %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	require.Equal(t, int32(1), won.Load(), "exactly one decision settles the draft")
	v := c.view(d)
	require.NotNil(t, v.Decision)
	assert.Equal(t, kinds[winner%3], v.Decision.Kind)
	assert.Equal(t, staffID(winner), v.Decision.By)
	items, err := c.st.DueOutbox(c.ctx, time.Now().Add(time.Second), 100)
	require.NoError(t, err)
	var replies []bot.OutboxItem
	for _, it := range items {
		if it.DraftID == d {
			replies = append(replies, it)
		}
	}
	switch kinds[winner%3] {
	case bot.Reject:
		assert.Equal(t, bot.DraftRejected, v.Draft.Status)
		assert.Empty(t, replies, "a rejected draft sends nothing")
	case bot.Approve:
		assert.Equal(t, bot.DraftApproved, v.Draft.Status)
		require.Len(t, replies, 1, "one reply")
		assert.Equal(t, "Yes, Friday at nine.", replies[0].Text)
	case bot.Edit:
		assert.Equal(t, bot.DraftEdited, v.Draft.Status)
		require.Len(t, replies, 1, "one reply")
		assert.Equal(t, fmt.Sprintf("Edited by %d", winner), replies[0].Text)
	}
	for _, it := range replies {
		assert.Equal(t, p.chat, it.Chat)
		assert.Equal(t, p.sub.ID, it.Subject)
		assert.Equal(t, bot.WhatsApp, it.Platform)
	}
	// The winning click again, on this draft or another, changes nothing.
	d2 := c.draft(c.inbound(p, "wamid.D2", "And Saturday?"), "Saturday too.")
	assert.ErrorIs(t, c.st.Decide(c.ctx, bot.Decision{DraftID: d2, Kind: bot.Approve, ActionID: fmt.Sprintf("click-%d", winner)}), bot.ErrDecided,
		"one click decides once")
	assert.ErrorIs(t, c.st.Decide(c.ctx, bot.Decision{DraftID: d, Kind: bot.Approve, ActionID: "late"}), bot.ErrDecided)
	assert.ErrorIs(t, c.st.Decide(c.ctx, bot.Decision{DraftID: d + 1000, Kind: bot.Approve}), bot.ErrNotFound)
	assert.ErrorIs(t, c.st.ReviseDraft(c.ctx, d, bot.DraftPending, "new text", nil), bot.ErrDecided, "a decided draft is not redrafted")
}

func testDecisionsRefused(t *testing.T, c *contract) {
	p := c.customer(5, "Fi")
	empty := c.draft(c.inbound(p, "wamid.E1", "?"), "")
	assert.ErrorIs(t, c.st.Decide(c.ctx, bot.Decision{DraftID: empty, Kind: bot.Approve}), bot.ErrForbidden, "nothing to approve")
	assert.ErrorIs(t, c.st.Decide(c.ctx, bot.Decision{DraftID: empty, Kind: bot.Edit, Text: "  "}), bot.ErrForbidden, "an edit to nothing")
	flagged := c.draft(c.inbound(p, "wamid.E2", "How much?"), "£99")
	require.NoError(t, c.st.ReviseDraft(c.ctx, flagged, bot.DraftPending, "£99", &bot.DraftResult{Text: "£99", Flags: []string{"unknown price"}}))
	assert.ErrorIs(t, c.st.Decide(c.ctx, bot.Decision{DraftID: flagged, Kind: bot.Approve}), bot.ErrForbidden, "a flagged draft is edited, not approved")
	for _, d := range []int64{empty, flagged} {
		v := c.view(d)
		assert.Equal(t, bot.DraftPending, v.Draft.Status, "a refused decision decides nothing")
		assert.Nil(t, v.Decision)
	}
	require.NoError(t, c.st.Decide(c.ctx, bot.Decision{DraftID: flagged, Kind: bot.Edit, Text: "£120 with VAT"}))
	items, err := c.st.DueOutbox(c.ctx, time.Now().Add(time.Second), 100)
	require.NoError(t, err)
	require.Len(t, items, 1)
	assert.Equal(t, "£120 with VAT", items[0].Text)
}

func testReceiptNeverLowers(t *testing.T, c *contract) {
	p := c.customer(6, "Gus")
	d, it := c.approved(p, "wamid.R", "See you at nine.")
	now := time.Now()
	require.NoError(t, c.st.BeginSend(c.ctx, it.ID, now))
	require.NoError(t, c.st.MarkSent(c.ctx, it.ID, "wamid.OUT1", now))
	require.NoError(t, c.st.MarkSent(c.ctx, it.ID, "wamid.OUT1", now), "marking sent again changes nothing")
	v := c.view(d)
	assert.Equal(t, bot.DraftSent, v.Draft.Status)
	assert.Equal(t, bot.StatusSent, v.SendStatus)
	text, err := c.st.RetryText(c.ctx, "wamid.OUT1")
	require.NoError(t, err)
	assert.Equal(t, "See you at nine.", text)
	_, err = c.st.RetryText(c.ctx, "wamid.R")
	assert.ErrorIs(t, err, bot.ErrNotFound, "an inbound message is no reply")

	receipt := func(st bot.MessageStatus) []int64 {
		t.Helper()
		got, err := c.st.ApplyReceipt(c.ctx, bot.Receipt{Platform: bot.WhatsApp, Chat: p.chat, IDs: []bot.MessageID{"wamid.OUT1", "wamid.unknown"}, Status: st, At: time.Now()})
		require.NoError(t, err)
		return got
	}
	assert.Equal(t, []int64{d}, receipt(bot.StatusRead), "read straight after sent")
	assert.Empty(t, receipt(bot.StatusDelivered), "a late delivered never lowers read")
	assert.Empty(t, receipt(bot.StatusSent))
	assert.Empty(t, receipt(bot.StatusRead), "no change, no draft")
	assert.Equal(t, bot.StatusRead, c.view(d).SendStatus)
	h := c.history(p)
	require.Len(t, h, 2)
	assert.Equal(t, bot.Out, h[1].Dir)
	assert.Equal(t, bot.StatusRead, h[1].Status, "the sent message row is raised too")
	assert.Equal(t, bot.MessageID("wamid.OUT1"), h[1].PlatformID)

	got, err := c.st.ApplyReceipt(c.ctx, bot.Receipt{Platform: bot.WhatsApp, Chat: "447700900777@s.whatsapp.net", IDs: []bot.MessageID{"wamid.OUT1"}, Status: bot.StatusFailed})
	require.NoError(t, err)
	assert.Empty(t, got, "a receipt names its chat: another chat's is not this reply's")
	assert.Equal(t, bot.StatusRead, c.view(d).SendStatus)
	_, err = c.st.ApplyReceipt(c.ctx, bot.Receipt{Platform: bot.WhatsApp, Chat: p.chat, IDs: []bot.MessageID{"wamid.OUT1"}, Status: "bogus"})
	assert.Error(t, err, "an unknown status is an error, not a change")
}

func testReceiptNeverLowersConcurrent(t *testing.T, c *contract) {
	p := c.customer(7, "Hal")
	const replies, copies = 4, 6
	drafts := make([]int64, replies)
	for i := range replies {
		d, it := c.approved(p, fmt.Sprintf("wamid.C%d", i), fmt.Sprintf("reply %d", i))
		drafts[i] = d
		require.NoError(t, c.st.BeginSend(c.ctx, it.ID, time.Now()))
		require.NoError(t, c.st.MarkSent(c.ctx, it.ID, bot.MessageID(fmt.Sprintf("wamid.OUTC%d", i)), time.Now()))
	}
	// Every status of every reply, redelivered several times, in a
	// shuffled order, from many goroutines at once.
	type job struct {
		i  int
		st bot.MessageStatus
	}
	var jobs []job
	for i := range replies {
		for range copies {
			for _, st := range []bot.MessageStatus{bot.StatusSent, bot.StatusDelivered, bot.StatusRead} {
				jobs = append(jobs, job{i, st})
			}
		}
	}
	rand.Shuffle(len(jobs), func(a, b int) { jobs[a], jobs[b] = jobs[b], jobs[a] })
	changed := make([]atomic.Int32, replies)
	var wg sync.WaitGroup
	for _, j := range jobs {
		wg.Go(func() {
			got, err := c.st.ApplyReceipt(c.ctx, bot.Receipt{Platform: bot.WhatsApp, Chat: p.chat,
				IDs: []bot.MessageID{bot.MessageID(fmt.Sprintf("wamid.OUTC%d", j.i))}, Status: j.st, At: time.Now()})
			if err != nil {
				t.Errorf("receipt: %v", err)
				return
			}
			for _, d := range got {
				if d == drafts[j.i] {
					changed[j.i].Add(1)
				}
			}
		})
	}
	wg.Wait()
	for i, d := range drafts {
		assert.Equal(t, bot.StatusRead, c.view(d).SendStatus, "reply %d ends read, whatever the order", i)
		n := changed[i].Load()
		assert.True(t, n >= 1 && n <= 2, "reply %d changed %d times: only raises report a change (sent→delivered→read at most)", i, n)
	}
	out := 0
	for _, m := range c.history(p) {
		if m.Dir == bot.Out {
			out++
			assert.Equal(t, bot.StatusRead, m.Status)
		}
	}
	assert.Equal(t, replies, out, "one sent message row per reply")
}

func testKeyedReceiptSettles(t *testing.T, c *contract) {
	p := c.customer(8, "Ivy")
	d, it := c.approved(p, "wamid.K", "Your parcel left today.")
	require.NotEmpty(t, it.Key)
	require.NoError(t, c.st.BeginSend(c.ctx, it.ID, time.Now()))
	assert.Error(t, c.st.BeginSend(c.ctx, it.ID, time.Now()), "one attempt at a time")
	doubt, err := c.st.InDoubt(c.ctx, 10)
	require.NoError(t, err)
	require.Len(t, doubt, 1)
	assert.Equal(t, it.Key, doubt[0].Key)
	assert.Equal(t, bot.StatusSending, c.view(d).SendStatus)
	pending, err := c.st.DueOutbox(c.ctx, time.Now().Add(time.Hour), 10)
	require.NoError(t, err)
	assert.Empty(t, pending, "a sending row is not due: it may have left")

	// The platform's status carries the key: the row in doubt is settled,
	// by as many redeliveries as the platform makes, racing a late MarkSent.
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			var err error
			if i == 0 {
				err = c.st.MarkSent(c.ctx, it.ID, "wamid.OUTK", time.Now())
			} else {
				_, err = c.st.ApplyReceipt(c.ctx, bot.Receipt{Platform: bot.WhatsApp, Chat: p.chat, IDs: []bot.MessageID{"wamid.OUTK"},
					Status: bot.StatusDelivered, Key: it.Key, At: time.Now()})
			}
			if err != nil {
				t.Errorf("settle %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	v := c.view(d)
	assert.Equal(t, bot.StatusDelivered, v.SendStatus)
	assert.Equal(t, bot.DraftSent, v.Draft.Status)
	doubt, err = c.st.InDoubt(c.ctx, 10)
	require.NoError(t, err)
	assert.Empty(t, doubt)
	text, err := c.st.RetryText(c.ctx, "wamid.OUTK")
	require.NoError(t, err)
	assert.Equal(t, "Your parcel left today.", text, "the sent message is recorded")
	out := 0
	for _, m := range c.history(p) {
		if m.Dir == bot.Out {
			out++
		}
	}
	assert.Equal(t, 1, out, "one sent message, however many settled it")
	got, err := c.st.ApplyReceipt(c.ctx, bot.Receipt{Platform: bot.WhatsApp, Chat: p.chat, Key: "ob_unknown", Status: bot.StatusRead})
	require.NoError(t, err)
	assert.Empty(t, got, "an unknown key changes nothing")

	// A failed status with the key fails a row in doubt, with its reason;
	// staff resend it under the same key.
	d2, it2 := c.approved(p, "wamid.K2", "And the invoice.")
	require.NoError(t, c.st.BeginSend(c.ctx, it2.ID, time.Now()))
	got, err = c.st.ApplyReceipt(c.ctx, bot.Receipt{Platform: bot.WhatsApp, Chat: p.chat, IDs: []bot.MessageID{"wamid.OUTK2"},
		Status: bot.StatusFailed, Key: it2.Key, Reason: "131026 Message undeliverable"})
	require.NoError(t, err)
	assert.Equal(t, []int64{d2}, got)
	v = c.view(d2)
	assert.Equal(t, bot.StatusFailed, v.SendStatus)
	assert.Contains(t, v.SendReason, "131026 Message undeliverable")
	require.NoError(t, c.st.Decide(c.ctx, bot.Decision{DraftID: d2, Kind: bot.Resend, By: staffID(1), ActionID: "resend-1"}))
	again := c.item(d2)
	assert.Equal(t, it2.Key, again.Key, "the same reply keeps its key")

	// A row marked unconfirmed is still settled by a late keyed status.
	d3, it3 := c.approved(p, "wamid.K3", "One more thing.")
	require.NoError(t, c.st.BeginSend(c.ctx, it3.ID, time.Now()))
	require.NoError(t, c.st.MarkUnconfirmed(c.ctx, it3.ID, "WhatsApp did not confirm it."))
	assert.Equal(t, bot.StatusUnconfirmed, c.view(d3).SendStatus)
	got, err = c.st.ApplyReceipt(c.ctx, bot.Receipt{Platform: bot.WhatsApp, Chat: p.chat, IDs: []bot.MessageID{"wamid.OUTK3"}, Status: bot.StatusSent, Key: it3.Key})
	require.NoError(t, err)
	assert.Equal(t, []int64{d3}, got)
	v = c.view(d3)
	assert.Equal(t, bot.StatusSent, v.SendStatus)
	assert.Empty(t, v.SendReason)
}

func testOutboxKeysStable(t *testing.T, c *contract) {
	p := c.customer(9, "Jo")
	d1, a := c.approved(p, "wamid.O1", "First reply, private words.")
	_, b := c.approved(p, "wamid.O2", "Second reply.")
	require.NotEmpty(t, a.Key)
	require.NotEmpty(t, b.Key)
	assert.NotEqual(t, a.Key, b.Key, "each reply has its own key")
	for _, leak := range []string{"private", p.phone.Value, strings.TrimPrefix(p.phone.Value, "+"), string(p.sub.ID)} {
		assert.NotContains(t, a.Key, leak, "a key carries no personal data (platforms echo it)")
	}
	now := time.Now()
	require.NoError(t, c.st.Postpone(c.ctx, a.ID, now.Add(time.Minute), bot.WhatsApp))
	items, err := c.st.DueOutbox(c.ctx, now.Add(time.Second), 10)
	require.NoError(t, err)
	for _, it := range items {
		assert.NotEqual(t, a.ID, it.ID, "postponed: not due yet")
	}
	assert.Equal(t, a.Key, c.atLater(a.ID, now.Add(2*time.Minute)).Key, "postponed")
	require.NoError(t, c.st.MarkRetry(c.ctx, a.ID, now.Add(3*time.Minute), "timeout"))
	retried := c.atLater(a.ID, now.Add(4*time.Minute))
	assert.Equal(t, a.Key, retried.Key, "retried")
	assert.Equal(t, 1, retried.Attempts)
	require.NoError(t, c.st.BeginSend(c.ctx, a.ID, now.Add(4*time.Minute)))
	doubt, err := c.st.InDoubt(c.ctx, 10)
	require.NoError(t, err)
	require.Len(t, doubt, 1)
	assert.Equal(t, a.Key, doubt[0].Key, "in doubt")
	require.NoError(t, c.st.MarkUnconfirmed(c.ctx, a.ID, "not confirmed"))
	require.NoError(t, c.st.Decide(c.ctx, bot.Decision{DraftID: d1, Kind: bot.Resend, ActionID: "resend-a"}))
	assert.Equal(t, a.Key, c.atLater(a.ID, now.Add(5*time.Minute)).Key, "resent by staff")
	assert.Equal(t, b.Key, c.atLater(b.ID, now.Add(5*time.Minute)).Key)
}

// atLater is the outbox item id as due at the given time.
func (c *contract) atLater(id int64, at time.Time) bot.OutboxItem {
	c.t.Helper()
	items, err := c.st.DueOutbox(c.ctx, at, 100)
	require.NoError(c.t, err)
	for _, it := range items {
		if it.ID == id {
			return it
		}
	}
	c.t.Fatalf("outbox item %d not due at %v", id, at)
	return bot.OutboxItem{}
}

func testClosedAckOnce(t *testing.T, c *contract) {
	p := c.customer(10, "Kit")
	m := c.inbound(p, "wamid.N1", "Are you open?")
	until := time.Now().Add(10 * time.Hour).UTC().Truncate(time.Second)
	ack := bot.ClosedAck{Subject: p.sub.ID, Platform: bot.WhatsApp, Chat: p.chat, MessageID: m.ID, Until: until,
		Text: "We're closed; we'll answer from 9:00.", At: time.Now()}
	var wg sync.WaitGroup
	var queued atomic.Int32
	for range 6 {
		wg.Go(func() {
			ok, err := c.st.QueueClosedAck(c.ctx, ack)
			if err != nil {
				t.Errorf("queue closed ack: %v", err)
			}
			if ok {
				queued.Add(1)
			}
		})
	}
	wg.Wait()
	assert.Equal(t, int32(1), queued.Load(), "one acknowledgement per chat and closed period")
	items, err := c.st.DueOutbox(c.ctx, time.Now().Add(time.Second), 10)
	require.NoError(t, err)
	require.Len(t, items, 1)
	assert.Equal(t, ack.Text, items[0].Text)
	assert.Zero(t, items[0].DraftID, "tied to no draft")
	assert.NotEmpty(t, items[0].Key)
	info, err := c.st.ClosedAckOf(c.ctx, items[0].ID)
	require.NoError(t, err)
	assert.True(t, until.Equal(info.Until))
	next := ack
	next.Until = until.Add(24 * time.Hour)
	ok, err := c.st.QueueClosedAck(c.ctx, next)
	require.NoError(t, err)
	assert.True(t, ok, "the next closed period is acknowledged again")
	d := c.draft(m, "x")
	require.NoError(t, c.st.Decide(c.ctx, bot.Decision{DraftID: d, Kind: bot.Approve}))
	_, err = c.st.ClosedAckOf(c.ctx, c.item(d).ID)
	assert.ErrorIs(t, err, bot.ErrNotFound, "a reply is no acknowledgement")
}

func testObjectionAndName(t *testing.T, c *contract) {
	p := c.customer(11, "Lee")
	require.NoError(t, c.st.SetAIRestricted(c.ctx, p.sub.ID, true))
	s, err := c.st.FindSubject(c.ctx, p.sub.ID)
	require.NoError(t, err)
	assert.True(t, s.AIRestricted)
	m := c.inbound(p, "wamid.S1", "after /stop")
	got, err := c.st.FindMessage(c.ctx, m.ID)
	require.NoError(t, err)
	assert.True(t, got.AIRestricted, "a message stored after the objection stays restricted")
	require.NoError(t, c.st.SetAIRestricted(c.ctx, p.sub.ID, false))
	got, err = c.st.FindMessage(c.ctx, m.ID)
	require.NoError(t, err)
	assert.True(t, got.AIRestricted, "also after /start")

	require.NoError(t, c.st.SetName(c.ctx, p.sub.ID, "Lee Rectified"))
	s, err = c.st.ResolveSubject(c.ctx, bot.SubjectInput{Identities: []bot.Identity{p.phone}, Name: "Platform Name"})
	require.NoError(t, err)
	assert.Equal(t, "Lee Rectified", s.Name, "a name the person set outlives the platform's")
	var kinds []string
	require.NoError(t, c.st.ExportSubject(c.ctx, p.sub.ID, func(kind string, v any) error {
		kinds = append(kinds, kind)
		if sub, ok := v.(bot.Subject); ok {
			assert.Equal(t, "Lee Rectified", sub.Name)
		}
		return nil
	}))
	assert.Contains(t, kinds, "subject")
	assert.Contains(t, kinds, "identity")
	assert.Contains(t, kinds, "message")
	stop := errors.New("stop here")
	assert.ErrorIs(t, c.st.ExportSubject(c.ctx, p.sub.ID, func(string, any) error { return stop }), stop, "fn's error stops the export")
}

// erasable is a customer with everything the store keeps about a person:
// two identities, messages both ways, a decided and an open draft, a sent
// reply, a queued one, a card, a file, a closed-hours reply.
type erasable struct {
	p        person
	lid      bot.Identity
	msgs     []bot.Message
	drafts   []int64
	sentID   bot.MessageID
	mediaID  int64
	requests int64
}

const planted = "Zyxwvut-planted-secret"

func (c *contract) erasable(n int) erasable {
	c.t.Helper()
	e := erasable{p: c.customer(n, "Mo "+planted), lid: bot.Identity{Kind: bot.IDLID, Value: fmt.Sprintf("9988776655%05d@lid", n)}}
	_, err := c.st.ResolveSubject(c.ctx, bot.SubjectInput{Identities: []bot.Identity{e.p.phone, e.lid}})
	require.NoError(c.t, err)
	m1 := c.inbound(e.p, fmt.Sprintf("wamid.X%d-1", n), "My address is 1 "+planted+" Road")
	m2 := c.inbound(e.p, fmt.Sprintf("wamid.X%d-2", n), "photo attached")
	e.msgs = []bot.Message{m1, m2}
	d1 := c.draft(m1, "Thanks, noted "+planted)
	require.NoError(c.t, c.st.SaveCard(c.ctx, d1, bot.CardRef{Conversation: "19:staff@thread.tacv2", ActivityID: fmt.Sprintf("card-%d", n)}))
	require.NoError(c.t, c.st.Decide(c.ctx, bot.Decision{DraftID: d1, Kind: bot.Edit, Text: "Noted, " + planted, By: staffID(n), ByName: "Sam", ActionID: fmt.Sprintf("x-%d", n)}))
	it := c.item(d1)
	e.sentID = bot.MessageID(fmt.Sprintf("wamid.XOUT%d", n))
	require.NoError(c.t, c.st.BeginSend(c.ctx, it.ID, time.Now()))
	require.NoError(c.t, c.st.MarkSent(c.ctx, it.ID, e.sentID, time.Now()))
	d2 := c.draft(m2, "Nice photo "+planted)
	require.NoError(c.t, c.st.Decide(c.ctx, bot.Decision{DraftID: d2, Kind: bot.Approve, By: staffID(n), ActionID: fmt.Sprintf("y-%d", n)}))
	e.drafts = []int64{d1, d2}
	e.mediaID, err = c.st.CreateMedia(c.ctx, bot.Media{MessageID: m2.ID, Kind: bot.KindDocument, MIME: "application/pdf",
		FileName: planted + ".pdf", Size: 20, Ref: "media-" + planted})
	require.NoError(c.t, err)
	body := []byte("%PDF-1.4 " + planted)
	require.NoError(c.t, c.st.SaveMediaBytes(c.ctx, e.mediaID, bot.MediaContent{MIME: "application/pdf"}, bytes.NewReader(body), 1<<20))
	r, err := c.st.OpenMedia(c.ctx, e.mediaID)
	require.NoError(c.t, err)
	back, err := io.ReadAll(r)
	require.NoError(c.t, r.Close())
	require.NoError(c.t, err)
	require.Equal(c.t, body, back, "the file reads back")
	_, err = c.st.QueueClosedAck(c.ctx, bot.ClosedAck{Subject: e.p.sub.ID, Platform: bot.WhatsApp, Chat: e.p.chat, MessageID: m1.ID,
		Until: time.Now().Add(time.Hour), Text: "Closed, " + planted, At: time.Now()})
	require.NoError(c.t, err)
	e.requests, err = c.st.CreateRequest(c.ctx, bot.Request{Kind: bot.RequestErase, Scope: "self", RequestedBy: e.p.sub.ID, Received: time.Now()})
	require.NoError(c.t, err)
	require.NoError(c.t, c.st.Audit(c.ctx, bot.AuditEntry{At: time.Now(), Actor: e.p.sub.ID, Action: "erase", Subject: e.p.sub.ID}))
	return e
}

func testEraseLeavesNothing(t *testing.T, c *contract) {
	gone := c.erasable(12)
	kept := c.erasable(13)

	before, err := c.st.CountSubject(c.ctx, gone.p.sub.ID)
	require.NoError(t, err)
	counts, err := c.st.DeleteSubject(c.ctx, gone.p.sub.ID)
	require.NoError(t, err)
	for k, n := range before {
		assert.Equal(t, n, counts[k], "CountSubject told what DeleteSubject removed (%s)", k)
	}
	total := 0
	for _, n := range counts {
		total += n
	}
	assert.Positive(t, total)
	after, err := c.st.CountSubject(c.ctx, gone.p.sub.ID)
	require.NoError(t, err)
	for k, n := range after {
		assert.Zero(t, n, "nothing left to count (%s)", k)
	}

	// Nothing of the person is found by any way in.
	s := gone.p.sub.ID
	_, err = c.st.FindSubject(c.ctx, s)
	assert.ErrorIs(t, err, bot.ErrNotFound)
	for _, id := range []bot.Identity{gone.p.phone, gone.lid} {
		found, err := c.st.FindSubjects(c.ctx, id)
		require.NoError(t, err)
		assert.Empty(t, found, "no identity leads to them")
	}
	ids, err := c.st.Identities(c.ctx, s)
	assert.True(t, err == nil || errors.Is(err, bot.ErrNotFound), "identities of nobody: none, or not found: %v", err)
	assert.Empty(t, ids)
	assert.Empty(t, c.history(gone.p))
	for _, m := range gone.msgs {
		_, err := c.st.FindMessage(c.ctx, m.ID)
		assert.ErrorIs(t, err, bot.ErrNotFound)
		media, err := c.st.MediaOfMessage(c.ctx, m.ID)
		require.NoError(t, err)
		assert.Empty(t, media)
		_, err = c.st.DraftOfMessage(c.ctx, m.ID)
		assert.ErrorIs(t, err, bot.ErrNotFound)
	}
	for _, d := range gone.drafts {
		_, err := c.st.LoadDraft(c.ctx, d)
		assert.ErrorIs(t, err, bot.ErrNotFound)
	}
	_, err = c.st.FindMedia(c.ctx, gone.mediaID)
	assert.ErrorIs(t, err, bot.ErrNotFound)
	if r, err := c.st.OpenMedia(c.ctx, gone.mediaID); err == nil {
		_ = r.Close()
		t.Error("the erased file still opens")
	}
	_, err = c.st.RetryText(c.ctx, gone.sentID)
	assert.ErrorIs(t, err, bot.ErrNotFound)
	last, err := c.st.LastInbound(c.ctx, bot.WhatsApp, gone.p.chat)
	require.NoError(t, err)
	assert.True(t, last.IsZero(), "the chat has no stored inbound message left")
	cards, err := c.st.CardsOf(c.ctx, s)
	require.NoError(t, err)
	assert.Empty(t, cards)
	items, err := c.st.DueOutbox(c.ctx, time.Now().Add(48*time.Hour), 100)
	require.NoError(t, err)
	for _, it := range items {
		assert.NotEqual(t, s, it.Subject, "no reply to them stays queued")
	}
	doubt, err := c.st.InDoubt(c.ctx, 100)
	require.NoError(t, err)
	for _, it := range doubt {
		assert.NotEqual(t, s, it.Subject)
	}
	und, err := c.st.Undrafted(c.ctx, 100)
	require.NoError(t, err)
	for _, m := range und {
		assert.NotEqual(t, s, m.Subject)
	}
	inactive, err := c.st.Inactive(c.ctx, time.Now().Add(24*time.Hour))
	require.NoError(t, err)
	assert.NotContains(t, inactive, s)
	var exported []string
	err = c.st.ExportSubject(c.ctx, s, func(kind string, v any) error { exported = append(exported, kind); return nil })
	assert.True(t, err == nil || errors.Is(err, bot.ErrNotFound), "an export of nobody finds nothing: %v", err)
	assert.Empty(t, exported)
	_, err = c.st.DeleteSubject(c.ctx, s)
	assert.ErrorIs(t, err, bot.ErrNotFound, "erased already")
	n, err := c.st.SweepMedia(c.ctx)
	require.NoError(t, err)
	assert.Zero(t, n, "the erasure left no file for the sweep")

	// The card posted about them waits to be deleted from the platform.
	removals, err := c.st.PendingCardRemovals(c.ctx, 100)
	require.NoError(t, err)
	var refs []bot.CardRef
	for _, r := range removals {
		refs = append(refs, r.Ref)
	}
	assert.Contains(t, refs, bot.CardRef{Conversation: "19:staff@thread.tacv2", ActivityID: "card-12"})
	assert.NotContains(t, refs, bot.CardRef{Conversation: "19:staff@thread.tacv2", ActivityID: "card-13"})
	for _, r := range removals {
		require.NoError(t, c.st.CardRemoved(c.ctx, r.ID))
	}
	removals, err = c.st.PendingCardRemovals(c.ctx, 100)
	require.NoError(t, err)
	assert.Empty(t, removals)

	// The register keeps the request (ids and counts, no data).
	open, err := c.st.OpenRequests(c.ctx)
	require.NoError(t, err)
	var reqIDs []int64
	for _, r := range open {
		reqIDs = append(reqIDs, r.ID)
	}
	assert.Contains(t, reqIDs, gone.requests)
	require.NoError(t, c.st.CompleteRequest(c.ctx, gone.requests, "done", counts, time.Now()))
	open, err = c.st.OpenRequests(c.ctx)
	require.NoError(t, err)
	for _, r := range open {
		assert.NotEqual(t, gone.requests, r.ID)
	}
	require.NoError(t, c.st.Checkpoint(c.ctx))

	// The other person is whole.
	sub, err := c.st.FindSubject(c.ctx, kept.p.sub.ID)
	require.NoError(t, err)
	assert.Equal(t, "Mo "+planted, sub.Name)
	h := c.history(kept.p)
	require.Len(t, h, 3)
	assert.Equal(t, "My address is 1 "+planted+" Road", h[0].Text)
	v := c.view(kept.drafts[0])
	assert.Equal(t, "Thanks, noted "+planted, v.Draft.Text)
	require.NotNil(t, v.Decision)
	assert.Equal(t, "Noted, "+planted, v.Decision.Text)
	assert.Equal(t, staffID(13), v.Decision.By)
	r, err := c.st.OpenMedia(c.ctx, kept.mediaID)
	require.NoError(t, err)
	b, err := io.ReadAll(r)
	require.NoError(t, r.Close())
	require.NoError(t, err)
	assert.Equal(t, []byte("%PDF-1.4 "+planted), b)
	cards, err = c.st.CardsOf(c.ctx, kept.p.sub.ID)
	require.NoError(t, err)
	assert.Len(t, cards, 1)
}

func testEraseStaff(t *testing.T, c *contract) {
	p := c.customer(14, "Ned")
	d := c.draft(c.inbound(p, "wamid.ST", "question"), "answer")
	require.NoError(t, c.st.Decide(c.ctx, bot.Decision{DraftID: d, Kind: bot.Approve, By: staffID(14), ByName: "Sam Staff", ActionID: "st-1"}))
	staff, err := c.st.FindSubjects(c.ctx, staffID(14))
	require.NoError(t, err)
	require.Len(t, staff, 1, "the decider is a subject")
	_, err = c.st.DeleteSubject(c.ctx, staff[0])
	require.NoError(t, err)
	v := c.view(d)
	require.NotNil(t, v.Decision, "the customer's draft stays decided")
	assert.Equal(t, bot.Approve, v.Decision.Kind)
	assert.True(t, v.Decision.By.IsZero(), "and names nobody")
	assert.Empty(t, v.Decision.ByName)
	assert.Equal(t, "answer", c.item(d).Text, "the reply still goes")
	found, err := c.st.FindSubjects(c.ctx, staffID(14))
	require.NoError(t, err)
	assert.Empty(t, found)
}

// testForgetKept: an erasure records what the channels owe with the
// person's identities, readable until the record is completed; what it owes and when it is due change; a
// completed record is gone, and completing it again is no error.
func testForgetKept(t *testing.T, c *contract) {
	gone := c.customer(14, "Gwen Gone")
	kept := c.customer(15, "Kit Kept")
	ids := []bot.Identity{gone.phone, {Kind: bot.IDLID, Value: "140014@lid"}}
	id, counts, err := c.st.EraseSubject(c.ctx, gone.sub.ID, ids, []string{"whatsapp-linked", "teams"})
	require.NoError(t, err)
	require.NotEmpty(t, id)
	assert.Equal(t, 1, counts["subjects"])
	_, err = c.st.FindSubject(c.ctx, gone.sub.ID)
	assert.ErrorIs(t, err, bot.ErrNotFound, "the rows went with the same call")
	found, err := c.st.FindSubjects(c.ctx, gone.phone)
	require.NoError(t, err)
	assert.Empty(t, found)

	pending, err := c.st.PendingForgets(c.ctx)
	require.NoError(t, err)
	require.Len(t, pending, 1)
	pf := pending[0]
	assert.Equal(t, id, pf.ID)
	assert.Equal(t, gone.sub.ID, pf.Subject)
	assert.Equal(t, ids, pf.Identities)
	assert.Equal(t, []string{"whatsapp-linked", "teams"}, pf.Owed)
	assert.False(t, pf.Created.IsZero())
	assert.False(t, pf.Due.After(pf.Created), "due at once")

	due := pf.Created.Add(time.Hour).UTC().Truncate(time.Millisecond)
	require.NoError(t, c.st.UpdateForget(c.ctx, id, []string{"teams"}, due))
	pending, err = c.st.PendingForgets(c.ctx)
	require.NoError(t, err)
	require.Len(t, pending, 1)
	assert.Equal(t, []string{"teams"}, pending[0].Owed)
	assert.True(t, due.Equal(pending[0].Due), "due %v, got %v", due, pending[0].Due)
	assert.Equal(t, ids, pending[0].Identities)
	assert.ErrorIs(t, c.st.UpdateForget(c.ctx, "f_unknown", nil, due), bot.ErrNotFound)

	// A subject already gone: the channels may still know the person.
	again, _, err := c.st.EraseSubject(c.ctx, gone.sub.ID, ids[:1], []string{"teams"})
	assert.ErrorIs(t, err, bot.ErrNotFound)
	require.NotEmpty(t, again)
	assert.NotEqual(t, id, again, "a record of its own")

	require.NoError(t, c.st.CompleteForget(c.ctx, id))
	require.NoError(t, c.st.CompleteForget(c.ctx, again))
	require.NoError(t, c.st.CompleteForget(c.ctx, id), "completed already")
	pending, err = c.st.PendingForgets(c.ctx)
	require.NoError(t, err)
	assert.Empty(t, pending)
	_, err = c.st.FindSubject(c.ctx, kept.sub.ID)
	assert.NoError(t, err, "the others are intact")
}
