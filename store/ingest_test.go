package store

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboard/switchboard/bot"
)

func phoneID(p string) bot.Identity { return bot.Identity{Kind: bot.IDPhone, Value: p} }

// ingestMsg ingests one text message from ids in their own chat.
func ingestMsg(t testing.TB, db *DB, id string, name string, ids ...bot.Identity) (bot.Subject, int64, bool) {
	t.Helper()
	sub, rowID, dup, err := db.Ingest(context.Background(), bot.SubjectInput{Identities: ids, Name: name},
		bot.Message{Platform: bot.WhatsApp, Chat: bot.ChatID("chat-" + ids[0].Value), PlatformID: bot.MessageID(id), Text: "text " + id})
	require.NoError(t, err)
	return sub, rowID, dup
}

func TestIngest(t *testing.T) {
	db, _ := openTest(t)
	ctx := context.Background()
	p := phoneID("+447700900123")

	a, id1, dup := ingestMsg(t, db, "M1", "Ada", p)
	require.False(t, dup)
	assert.Equal(t, "Ada", a.Name)
	assert.Equal(t, bot.RoleCustomer, a.Role)
	assert.Equal(t, 1, db.subjects.len(), "the batch filled the cache")

	t.Run("ReturningSameSubjectFromCache", func(t *testing.T) {
		b, id2, dup := ingestMsg(t, db, "M2", "Ada", p)
		require.False(t, dup)
		assert.Equal(t, a.ID, b.ID)
		assert.Equal(t, "Ada", b.Name)
		assert.Equal(t, a.CreatedAt, b.CreatedAt)
		assert.Greater(t, id2, id1)
		c, _, _ := ingestMsg(t, db, "M3", "", phoneID("+44 7700 900123"))
		assert.Equal(t, a.ID, c.ID)
		assert.Equal(t, "Ada", c.Name, "empty name keeps the stored one")
		h, err := db.History(ctx, a.ID, "chat-+447700900123", 0, 10)
		require.NoError(t, err)
		require.Len(t, h, 2)
		assert.Equal(t, "text M2", h[1].Text)
	})
	t.Run("Duplicate", func(t *testing.T) {
		b, id, dup := ingestMsg(t, db, "M1", "Ada", p)
		assert.True(t, dup)
		assert.Equal(t, id1, id)
		assert.Equal(t, a.ID, b.ID)
	})
	t.Run("NameChangeStored", func(t *testing.T) {
		b, _, _ := ingestMsg(t, db, "M4", "Ada B", p)
		assert.Equal(t, a.ID, b.ID)
		assert.Equal(t, "Ada B", b.Name)
		s, err := db.FindSubject(ctx, a.ID)
		require.NoError(t, err)
		assert.Equal(t, "Ada B", s.Name)
		c, _, _ := ingestMsg(t, db, "M5", "", p)
		assert.Equal(t, "Ada B", c.Name)
	})
	t.Run("AltIdentityLinked", func(t *testing.T) {
		lid := bot.Identity{Kind: bot.IDLID, Value: "555@lid"}
		b, _, _ := ingestMsg(t, db, "M6", "Ada B", p, lid)
		assert.Equal(t, a.ID, b.ID)
		c, _, _ := ingestMsg(t, db, "M7", "Ada B", lid)
		assert.Equal(t, a.ID, c.ID)
		ids, err := db.Identities(ctx, a.ID)
		require.NoError(t, err)
		assert.Equal(t, []bot.Identity{p, lid}, ids)
	})
	t.Run("RoleRises", func(t *testing.T) {
		s, _, _, err := db.Ingest(ctx, bot.SubjectInput{Identities: []bot.Identity{staff("x")}, Role: bot.RoleStaff, Tenant: "T"},
			bot.Message{Platform: bot.Teams, Chat: "c", PlatformID: "A1", Text: "hi"})
		require.NoError(t, err)
		assert.Equal(t, bot.RoleStaff, s.Role)
		assert.Equal(t, "t", s.Tenant)
		s2, _, _, err := db.Ingest(ctx, bot.SubjectInput{Identities: []bot.Identity{staff("x")}, Role: bot.RoleAdmin},
			bot.Message{Platform: bot.Teams, Chat: "c", PlatformID: "A2", Text: "hi"})
		require.NoError(t, err)
		assert.Equal(t, s.ID, s2.ID)
		assert.Equal(t, bot.RoleAdmin, s2.Role)
		s3, _, _, err := db.Ingest(ctx, bot.SubjectInput{Identities: []bot.Identity{staff("x")}, Role: bot.RoleStaff},
			bot.Message{Platform: bot.Teams, Chat: "c", PlatformID: "A3", Text: "hi"})
		require.NoError(t, err)
		assert.Equal(t, bot.RoleAdmin, s3.Role, "a stored higher role is kept")
	})
	t.Run("NoPlaintextNameInCache", func(t *testing.T) {
		db.subjects.mu.Lock()
		defer db.subjects.mu.Unlock()
		for e := db.subjects.order.Front(); e != nil; e = e.Next() {
			c := e.Value.(*cachedSubject)
			assert.Empty(t, c.sub.Name)
			assert.False(t, bytes.Contains(c.sealedName, []byte("Ada")))
			assert.False(t, bytes.Contains(c.nameMAC, []byte("Ada")))
		}
	})
	for _, tc := range []struct {
		name string
		in   bot.SubjectInput
		m    bot.Message
	}{
		{"NoIdentity", bot.SubjectInput{}, bot.Message{Platform: bot.WhatsApp, Chat: "c"}},
		{"NoChat", bot.SubjectInput{Identities: []bot.Identity{p}}, bot.Message{Platform: bot.WhatsApp}},
		{"TooLarge", bot.SubjectInput{Identities: []bot.Identity{p}}, bot.Message{Platform: bot.WhatsApp, Chat: "c", Text: string(make([]byte, MaxTextLen+1))}},
	} {
		t.Run("Err"+tc.name, func(t *testing.T) {
			_, _, _, err := db.Ingest(ctx, tc.in, tc.m)
			assert.Error(t, err)
		})
	}
}

// TestIngestAfterErase: a sender resolved from the cache, then erased, who
// writes again becomes a new subject; nothing of the old one comes back.
func TestIngestAfterErase(t *testing.T) {
	db, _ := openTest(t)
	ctx := context.Background()
	p := phoneID("+447700900777")
	a, _, _ := ingestMsg(t, db, "E1", "Eve", p)
	_, _, _ = ingestMsg(t, db, "E2", "Eve", p) // from the cache
	require.Equal(t, 1, db.subjects.len())

	_, err := db.DeleteSubject(ctx, a.ID)
	require.NoError(t, err)
	assert.Zero(t, db.subjects.len(), "erasure empties the cache")

	b, _, dup := ingestMsg(t, db, "E3", "Eve", p)
	require.False(t, dup)
	assert.NotEqual(t, a.ID, b.ID, "a NEW subject")
	got, err := db.FindSubjects(ctx, p)
	require.NoError(t, err)
	assert.Equal(t, []bot.SubjectID{b.ID}, got)
	_, err = db.FindSubject(ctx, a.ID)
	assert.ErrorIs(t, err, bot.ErrNotFound)
	for table, n := range rowsOf(t, db, a.ID) {
		assert.Zero(t, n, table)
	}
	h, err := db.History(ctx, b.ID, "chat-+447700900777", 0, 10)
	require.NoError(t, err)
	require.Len(t, h, 1, "only the message after the erasure")
	assert.Equal(t, "text E3", h[0].Text)

	// The same through ResolveSubject's cache path.
	c, err := db.ResolveSubject(ctx, bot.SubjectInput{Identities: []bot.Identity{p}, Name: "Eve"})
	require.NoError(t, err)
	assert.Equal(t, b.ID, c.ID)
	_, err = db.DeleteSubject(ctx, b.ID)
	require.NoError(t, err)
	d, err := db.ResolveSubject(ctx, bot.SubjectInput{Identities: []bot.Identity{p}, Name: "Eve"})
	require.NoError(t, err)
	assert.NotEqual(t, b.ID, d.ID)
}

// TestIngestMerge: a LID and a phone number first seen apart, then in one
// message, end as one subject; later messages by either go to it.
func TestIngestMerge(t *testing.T) {
	db, clk := openTest(t)
	ctx := context.Background()
	lid := bot.Identity{Kind: bot.IDLID, Value: "42@lid"}
	p := phoneID("+447700900042")
	a, _, _ := ingestMsg(t, db, "L1", "Lee", lid)
	clk.Add(time.Minute)
	b, _, _ := ingestMsg(t, db, "P1", "Lee", p)
	require.NotEqual(t, a.ID, b.ID)
	_, _, _ = ingestMsg(t, db, "P2", "Lee", p) // both cached now

	m, _, dup := ingestMsg(t, db, "B1", "Lee", lid, p)
	require.False(t, dup)
	assert.Equal(t, a.ID, m.ID, "the older subject stays")
	for _, id := range []bot.Identity{lid, p} {
		s, _, _ := ingestMsg(t, db, "after-"+id.Value, "Lee", id)
		assert.Equal(t, a.ID, s.ID, "no stale cache entry names the merged-away subject")
		got, err := db.FindSubjects(ctx, id)
		require.NoError(t, err)
		assert.Equal(t, []bot.SubjectID{a.ID}, got)
	}
	_, err := db.FindSubject(ctx, b.ID)
	assert.ErrorIs(t, err, bot.ErrNotFound)
	_, err = db.subjectKey(ctx, b.ID)
	assert.ErrorIs(t, err, bot.ErrNotFound)
}

// TestIngestAfterChanges: SetName, SetRole and SetAIRestricted are seen by
// the next Ingest, not hidden by the cache.
func TestIngestAfterChanges(t *testing.T) {
	db, _ := openTest(t)
	ctx := context.Background()
	p := phoneID("+447700900888")
	a, _, _ := ingestMsg(t, db, "C1", "Cy", p)

	require.NoError(t, db.SetName(ctx, a.ID, "Rectified"))
	b, _, _ := ingestMsg(t, db, "C2", "", p)
	assert.Equal(t, "Rectified", b.Name)
	c, _, _ := ingestMsg(t, db, "C3", "Cy", p)
	assert.Equal(t, "Rectified", c.Name, "the platform name sent again after a /name does not replace it")
	s, err := db.FindSubject(ctx, a.ID)
	require.NoError(t, err)
	assert.Equal(t, "Rectified", s.Name)

	require.NoError(t, db.SetAIRestricted(ctx, a.ID, true))
	d, _, _ := ingestMsg(t, db, "C4", "Cy", p)
	assert.True(t, d.AIRestricted)

	require.NoError(t, db.SetRole(ctx, a.ID, bot.RoleAdmin))
	e, _, _ := ingestMsg(t, db, "C5", "Cy", p)
	assert.Equal(t, bot.RoleAdmin, e.Role)
	require.NoError(t, db.SetRole(ctx, a.ID, bot.RoleCustomer))
	f, _, _ := ingestMsg(t, db, "C6", "Cy", p)
	assert.Equal(t, bot.RoleCustomer, f.Role)
}

// TestIngestConcurrentWithErase ingests from several goroutines, some
// senders shared, while another goroutine erases their subjects: every
// Ingest succeeds, every stored message belongs to an existing subject, and
// no identity names two subjects.
func TestIngestConcurrentWithErase(t *testing.T) {
	db, _ := openTest(t)
	ctx := context.Background()
	const workers, perWorker, phones = 4, 60, 6
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range perWorker {
				p := phoneID(fmt.Sprintf("+4477009001%02d", (w+i)%phones))
				_, _, _, err := db.Ingest(ctx, bot.SubjectInput{Identities: []bot.Identity{p}, Name: fmt.Sprintf("N%d", i%3)},
					bot.Message{Platform: bot.WhatsApp, Chat: bot.ChatID("c" + p.Value), PlatformID: bot.MessageID(fmt.Sprintf("W%d-%d", w, i)), Text: "x"})
				assert.NoError(t, err)
			}
		})
	}
	wg.Go(func() {
		for i := range 20 {
			got, err := db.FindSubjects(ctx, phoneID(fmt.Sprintf("+4477009001%02d", i%phones)))
			if !assert.NoError(t, err) {
				return
			}
			for _, s := range got {
				if _, err := db.DeleteSubject(ctx, s); err != nil {
					assert.ErrorIs(t, err, bot.ErrNotFound)
				}
			}
		}
	})
	wg.Wait()
	var orphans, multi int
	require.NoError(t, db.read.QueryRow("SELECT count(*) FROM messages m WHERE NOT EXISTS (SELECT 1 FROM subjects s WHERE s.id = m.subject_id)").Scan(&orphans))
	require.NoError(t, db.read.QueryRow("SELECT count(*) FROM (SELECT bidx FROM identities GROUP BY bidx HAVING count(DISTINCT subject_id) > 1)").Scan(&multi))
	assert.Zero(t, orphans)
	assert.Zero(t, multi)
	for i := range phones {
		p := phoneID(fmt.Sprintf("+4477009001%02d", i))
		got, err := db.FindSubjects(ctx, p)
		require.NoError(t, err)
		assert.LessOrEqual(t, len(got), 1)
		if len(got) == 1 {
			s, _, _ := ingestMsg(t, db, "final-"+p.Value, "N", p)
			assert.Equal(t, got[0], s.ID)
		}
	}
}

// TestSubjectCacheHold: while a change is held the cache serves nothing,
// and a batch that began before the change cannot fill it afterwards.
func TestSubjectCacheHold(t *testing.T) {
	c := newSubjectCache(2, []byte("k"))
	entry := func(s string, bidx ...string) *cachedSubject {
		return &cachedSubject{sub: bot.Subject{ID: bot.SubjectID(s)}, bidx: bidx}
	}
	gen, on := c.state()
	require.True(t, on)
	c.fill(gen, []*cachedSubject{entry("s1", "a", "b")})
	_, ok := c.lookup([]string{"a", "b"})
	assert.True(t, ok)
	_, ok = c.lookup([]string{"a", "x"})
	assert.False(t, ok, "an unknown index misses")

	release := c.hold()
	_, ok = c.lookup([]string{"a"})
	assert.False(t, ok, "held: emptied and off")
	_, on = c.state()
	assert.False(t, on)
	c.fill(gen, []*cachedSubject{entry("s1", "a")})
	release()
	_, ok = c.lookup([]string{"a"})
	assert.False(t, ok, "a fill from before the hold is refused")
	gen2, _ := c.state()
	c.fill(gen2, []*cachedSubject{entry("s2", "c")})
	_, ok = c.lookup([]string{"c"})
	assert.True(t, ok)

	c.fill(gen2, []*cachedSubject{entry("s3", "d"), entry("s4", "e")})
	assert.Equal(t, 2, c.len(), "bounded")
	_, ok = c.lookup([]string{"c"})
	assert.False(t, ok, "the least recent entry was evicted with its indexes")
}

// TestSpareKeysDroppedOnClose: keys made ahead for new subjects and never
// used leave the keys db when the store closes.
func TestSpareKeysDroppedOnClose(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	db := openAt(t, dir, newClock().Now)
	a, _, _ := ingestMsg(t, db, "K1", "Kim", phoneID("+447700900999"))
	var n int
	require.NoError(t, db.kdb.QueryRow("SELECT count(*) FROM subject_keys").Scan(&n))
	assert.Equal(t, minSpareKeys, n, "one refill")
	require.NoError(t, db.Close())

	db = openAt(t, dir, newClock().Now)
	require.NoError(t, db.kdb.QueryRow("SELECT count(*) FROM subject_keys").Scan(&n))
	assert.Equal(t, 1, n, "only the used key is left")
	s, err := db.FindSubject(context.Background(), a.ID)
	require.NoError(t, err)
	assert.Equal(t, "Kim", s.Name)
}
