package store

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboard/switchboard/bot"
)

// TestMergeSubjects: a person first seen by LID and, apart, by phone number
// becomes one subject when a message names both; every row of the newer
// subject moves to the older one, re-sealed, and the newer key is destroyed.
func TestMergeSubjects(t *testing.T) {
	db, clk := openTest(t)
	ctx := context.Background()
	lid := bot.Identity{Kind: bot.IDLID, Value: "987654321@lid"}
	phone := bot.Identity{Kind: bot.IDPhone, Value: "+447700900321"}

	a, err := db.ResolveSubject(ctx, bot.SubjectInput{Identities: []bot.Identity{lid}})
	require.NoError(t, err)
	_, _, err = db.SaveInbound(ctx, bot.Message{Subject: a.ID, Platform: bot.WhatsApp, Chat: "987654321@lid", PlatformID: "L1", Text: "via lid"})
	require.NoError(t, err)
	s1, err := db.ResolveSubject(ctx, bot.SubjectInput{Identities: []bot.Identity{staff("1")}, Role: bot.RoleStaff})
	require.NoError(t, err)
	clk.Add(time.Minute)
	s2, err := db.ResolveSubject(ctx, bot.SubjectInput{Identities: []bot.Identity{staff("2")}, Role: bot.RoleStaff, Name: "Sam Two"})
	require.NoError(t, err)
	b := newFixture(t, db, phone.Value, "Bea", "via phone", "draft for bea")
	require.NoError(t, db.SetAIRestricted(ctx, b.customer.ID, true))
	require.NoError(t, db.SaveCard(ctx, b.draftID, bot.CardRef{Conversation: "c", ActivityID: "a1"}))
	require.NoError(t, db.Decide(ctx, bot.Decision{DraftID: b.draftID, Kind: bot.Edit, Text: "edited for bea", By: staff("2"), ByName: "Sam Two"}))
	_, err = db.CreateRequest(ctx, bot.Request{Kind: bot.RequestExport, Scope: "self", RequestedBy: b.customer.ID})
	require.NoError(t, err)

	merged, err := db.ResolveSubject(ctx, bot.SubjectInput{Identities: []bot.Identity{phone, lid}, Name: "Bea A"})
	require.NoError(t, err)
	assert.Equal(t, a.ID, merged.ID, "the oldest subject stays")
	assert.Equal(t, "Bea A", merged.Name)
	assert.True(t, merged.AIRestricted, "an objection from either subject is kept")

	for table, n := range rowsOf(t, db, b.customer.ID) {
		assert.Zero(t, n, table)
	}
	_, err = db.subjectKey(ctx, b.customer.ID)
	assert.ErrorIs(t, err, bot.ErrNotFound, "the merged subject's key is destroyed")
	ids, err := db.Identities(ctx, a.ID)
	require.NoError(t, err)
	assert.ElementsMatch(t, []bot.Identity{lid, phone}, ids)
	for _, id := range []bot.Identity{lid, phone} {
		got, err := db.FindSubjects(ctx, id)
		require.NoError(t, err)
		assert.Equal(t, []bot.SubjectID{a.ID}, got)
	}
	h, err := db.History(ctx, a.ID, b.msg.Chat, 0, 10)
	require.NoError(t, err)
	require.Len(t, h, 1)
	assert.Equal(t, "via phone", h[0].Text)
	v, err := db.LoadDraft(ctx, b.draftID)
	require.NoError(t, err)
	assert.Equal(t, a.ID, v.Draft.Subject)
	assert.Equal(t, "draft for bea", v.Draft.Text)
	assert.Equal(t, "edited for bea", v.Decision.Text)
	assert.Equal(t, "+447700900321", v.Phone)
	items, err := db.DueOutbox(ctx, clk.Now(), 10)
	require.NoError(t, err)
	require.Len(t, items, 1)
	assert.Equal(t, a.ID, items[0].Subject)
	assert.Equal(t, "edited for bea", items[0].Text)
	cards, err := db.CardsOf(ctx, a.ID)
	require.NoError(t, err)
	assert.Len(t, cards, 1)
	reqs, err := db.OpenRequests(ctx)
	require.NoError(t, err)
	assert.Equal(t, a.ID, reqs[0].RequestedBy)
	audit, err := db.auditOf(ctx, db.read, a.ID)
	require.NoError(t, err)
	require.Len(t, audit, 1)
	assert.Equal(t, "merge", audit[0].Action)

	t.Run("StaffDecisionsFollow", func(t *testing.T) {
		s, err := db.ResolveSubject(ctx, bot.SubjectInput{Identities: []bot.Identity{staff("1"), staff("2")}})
		require.NoError(t, err)
		assert.Equal(t, s1.ID, s.ID)
		assert.Equal(t, "Sam Two", s.Name, "the older subject had no name")
		v, err := db.LoadDraft(ctx, b.draftID)
		require.NoError(t, err)
		assert.Equal(t, staff("2"), v.Decision.By)
		assert.Equal(t, "Sam Two", v.Decision.ByName)
		var by string
		require.NoError(t, db.read.QueryRow("SELECT by_subject FROM decisions WHERE draft_id = ?", b.draftID).Scan(&by))
		assert.Equal(t, string(s1.ID), by)
		_, err = db.FindSubject(ctx, s2.ID)
		assert.ErrorIs(t, err, bot.ErrNotFound)
	})
}
