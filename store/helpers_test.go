package store

import (
	"bytes"
	"context"
	"encoding/hex"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/switchboard/switchboard/bot/bottest"

	"github.com/stretchr/testify/require"

	"github.com/switchboard/switchboard/bot"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

// testKey is a fixed master key for tests.
var testKey = bytes.Repeat([]byte{0x42}, 32)

func newClock() *bottest.Clock { return bottest.NewClock(time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)) }

// openAt opens a DB in dir and closes it at the end of the test.
func openAt(t testing.TB, dir string, now func() time.Time) *DB {
	t.Helper()
	db, err := New(Options{Dir: dir, MasterKey: testKey, Now: now})
	require.NoError(t, err)
	require.NoError(t, db.Open(context.Background()))
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func openTest(t testing.TB) (*DB, *bottest.Clock) {
	t.Helper()
	c := newClock()
	return openAt(t, filepath.Join(t.TempDir(), "data"), c.Now), c
}

// fixture is a customer with one inbound message and a pending draft.
type fixture struct {
	customer bot.Subject
	msg      bot.Message
	draftID  int64
}

func newFixture(t testing.TB, db *DB, phone, name, text, draft string) fixture {
	t.Helper()
	ctx := context.Background()
	sub, err := db.ResolveSubject(ctx, bot.SubjectInput{
		Identities: []bot.Identity{{Kind: bot.IDPhone, Value: phone}},
		Name:       name, Role: bot.RoleCustomer,
	})
	require.NoError(t, err)
	m := bot.Message{Subject: sub.ID, Platform: bot.WhatsApp, Chat: bot.ChatID(phone[1:] + "@s.whatsapp.net"),
		PlatformID: bot.MessageID("3EB0" + hex.EncodeToString(db.keys.blindIndex("test", phone)[:8])), Dir: bot.In, Kind: bot.KindText, Text: text, SentAt: db.now()}
	id, dup, err := db.SaveInbound(ctx, m)
	require.NoError(t, err)
	require.False(t, dup)
	m.ID = id
	did, err := db.CreateDraft(ctx, bot.Draft{Subject: sub.ID, MessageID: id, Platform: m.Platform, Chat: m.Chat, Text: draft,
		Result: &bot.DraftResult{Text: draft, Intent: "question"}})
	require.NoError(t, err)
	return fixture{customer: sub, msg: m, draftID: did}
}

func staff(n string) bot.Identity { return bot.Identity{Kind: bot.IDTeams, Value: "aad-" + n} }

// dbFiles are the files a scan for plaintext reads.
func dbFiles(db *DB) []string {
	var out []string
	for _, base := range []string{db.MainPath(), db.KeysPath()} {
		for _, sfx := range []string{"", "-wal", "-shm", "-journal"} {
			out = append(out, base+sfx)
		}
	}
	return out
}

// scanFiles returns "file: needle" for every needle found in the files.
func scanFiles(t testing.TB, files []string, needles ...string) []string {
	t.Helper()
	var hits []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if os.IsNotExist(err) {
			continue
		}
		require.NoError(t, err)
		for _, n := range needles {
			if bytes.Contains(b, []byte(n)) {
				hits = append(hits, filepath.Base(f)+": "+n)
			}
		}
	}
	return hits
}
