package store

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboard/switchboard/bot"
)

// A name the person set with /name (SetName) is kept until they set
// another: the platform display name (WhatsApp push name, Teams name) that
// comes with every later message no longer replaces it, whichever path
// resolves the sender (Ingest with a warm or cold cache, ResolveSubject).
func TestNameSetByPersonWins(t *testing.T) {
	db, _ := openTest(t)
	ctx := context.Background()
	phone := "+447700900411"
	ids := []bot.Identity{{Kind: bot.IDPhone, Value: phone}}
	chat := bot.ChatID("447700900411@s.whatsapp.net")
	n := 0
	ingest := func(pushName string) bot.Subject {
		t.Helper()
		n++
		sub, _, dup, err := db.Ingest(ctx, bot.SubjectInput{Identities: ids, Name: pushName, Role: bot.RoleCustomer},
			bot.Message{Platform: bot.WhatsApp, Chat: chat, PlatformID: bot.MessageID(fmt.Sprintf("m%d", n)), Text: "hi", SentAt: db.now()})
		require.NoError(t, err)
		require.False(t, dup)
		return sub
	}
	name := func(s bot.SubjectID) string {
		t.Helper()
		got, err := db.FindSubject(ctx, s)
		require.NoError(t, err)
		return got.Name
	}

	sub := ingest("Jo 🌻")
	ingest("Jo 🌻") // warms the cache
	require.Equal(t, "Jo 🌻", name(sub.ID))

	require.NoError(t, db.SetName(ctx, sub.ID, "Joanna Smith"))
	assert.Equal(t, "Joanna Smith", ingest("Jo 🌻").Name, "cold cache: the push name does not overwrite")
	assert.Equal(t, "Joanna Smith", ingest("Jo 🌻").Name, "warm cache")
	assert.Equal(t, "Joanna Smith", ingest("JoJo").Name, "a changed push name does not either")
	assert.Equal(t, "Joanna Smith", name(sub.ID))

	r, err := db.ResolveSubject(ctx, bot.SubjectInput{Identities: ids, Name: "Teams Name"})
	require.NoError(t, err)
	assert.Equal(t, "Joanna Smith", r.Name, "ResolveSubject keeps it too")
	assert.Equal(t, "Joanna Smith", name(sub.ID))

	require.NoError(t, db.SetName(ctx, sub.ID, "Jo Smith"))
	assert.Equal(t, "Jo Smith", ingest("Jo 🌻").Name, "the person's next /name replaces their last")
	assert.Equal(t, "Jo Smith", name(sub.ID))

	// A subject that never set a name still follows its platform name.
	other := []bot.Identity{{Kind: bot.IDPhone, Value: "+447700900412"}}
	o, err := db.ResolveSubject(ctx, bot.SubjectInput{Identities: other, Name: "First"})
	require.NoError(t, err)
	o, err = db.ResolveSubject(ctx, bot.SubjectInput{Identities: other, Name: "Second"})
	require.NoError(t, err)
	assert.Equal(t, "Second", o.Name)
}

// When two subjects of one person merge, a name the person set wins over a
// platform name, whichever subject is older.
func TestMergeKeepsNameSetByPerson(t *testing.T) {
	db, clock := openTest(t)
	ctx := context.Background()
	pn := bot.Identity{Kind: bot.IDPhone, Value: "+447700900413"}
	lid := bot.Identity{Kind: bot.IDLID, Value: "99887766554433@lid"}
	older, err := db.ResolveSubject(ctx, bot.SubjectInput{Identities: []bot.Identity{pn}, Name: "Push Name"})
	require.NoError(t, err)
	// The merge keeps the older subject: make it older, so the name set on
	// the newer one must be carried across.
	clock.Add(time.Minute)
	newer, err := db.ResolveSubject(ctx, bot.SubjectInput{Identities: []bot.Identity{lid}, Name: "Push Name"})
	require.NoError(t, err)
	require.NoError(t, db.SetName(ctx, newer.ID, "Rectified Name"))

	merged, err := db.ResolveSubject(ctx, bot.SubjectInput{Identities: []bot.Identity{pn, lid}, Name: "Push Name"})
	require.NoError(t, err)
	assert.Equal(t, older.ID, merged.ID)
	assert.Equal(t, "Rectified Name", merged.Name)
	again, err := db.ResolveSubject(ctx, bot.SubjectInput{Identities: []bot.Identity{pn}, Name: "Another Push Name"})
	require.NoError(t, err)
	assert.Equal(t, "Rectified Name", again.Name, "the merged subject keeps it as set by the person")
}

// Migration 006 counts a subject that completed a /name request as having
// set its name.
func TestMigrationMarksRectifiedNames(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	db := openAt(t, dir, newClock().Now)
	ctx := context.Background()
	ids := []bot.Identity{{Kind: bot.IDPhone, Value: "+447700900414"}}
	s, err := db.ResolveSubject(ctx, bot.SubjectInput{Identities: ids, Name: "Push"})
	require.NoError(t, err)
	require.NoError(t, db.SetName(ctx, s.ID, "Rectified"))
	id, err := db.CreateRequest(ctx, bot.Request{Kind: bot.RequestRectify, Scope: "self", Received: db.now(), Due: db.now(), RequestedBy: s.ID, Status: "open"})
	require.NoError(t, err)
	require.NoError(t, db.CompleteRequest(ctx, id, "done", nil, db.now()))
	write, _, _, err := db.handles()
	require.NoError(t, err)
	_, err = write.ExecContext(ctx, "DELETE FROM schema_migrations WHERE version = 6; ALTER TABLE subjects DROP COLUMN name_set")
	require.NoError(t, err)
	require.NoError(t, db.Close())

	db = openAt(t, dir, newClock().Now)
	got, err := db.ResolveSubject(ctx, bot.SubjectInput{Identities: ids, Name: "Push again"})
	require.NoError(t, err)
	assert.Equal(t, "Rectified", got.Name)
}
