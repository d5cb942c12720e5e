package privacy

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/switchboard/switchboard/bot"
	"github.com/switchboard/switchboard/store"
	"github.com/switchboard/switchboard/store/storetest"
)

// testStore is what the tests need: the privacy Store plus the router's
// methods used to seed data.
type testStore interface {
	Store
	ResolveSubject(ctx context.Context, in bot.SubjectInput) (bot.Subject, error)
	SaveInbound(ctx context.Context, m bot.Message) (int64, bool, error)
	CreateDraft(ctx context.Context, d bot.Draft) (int64, error)
	SaveCard(ctx context.Context, draftID int64, ref bot.CardRef) error
	Decide(ctx context.Context, d bot.Decision) error
}

// realStore is *store.DB on t.TempDir(). Until the store has Inactive
// (asked for in the privacy report), the tests answer it with a read-only
// query on the same file.
type realStore struct {
	*store.DB
}

func (r realStore) Inactive(ctx context.Context, before time.Time) ([]bot.SubjectID, error) {
	if native, ok := any(r.DB).(interface {
		Inactive(context.Context, time.Time) ([]bot.SubjectID, error)
	}); ok {
		return native.Inactive(ctx, before)
	}
	h, err := sql.Open("sqlite3", "file:"+r.MainPath()+"?mode=ro&_busy_timeout=5000")
	if err != nil {
		return nil, err
	}
	defer h.Close()
	rows, err := h.QueryContext(ctx, `SELECT s.id FROM subjects s
		WHERE COALESCE((SELECT MAX(m.stored_at) FROM messages m WHERE m.subject_id = s.id), s.created_at) < ? ORDER BY s.created_at, s.id`, before.UnixNano())
	if err != nil {
		return nil, fmt.Errorf("inactive: %w", err)
	}
	defer rows.Close()
	out := []bot.SubjectID{}
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, bot.SubjectID(s))
	}
	return out, rows.Err()
}

// openBenchStore opens a real store in dir for benchmarks; it stays open
// for the process, so one built db serves every b.N round.
func openBenchStore(tb testing.TB, dir string, now func() time.Time) (testStore, string) {
	tb.Helper()
	db, err := store.New(store.Options{Dir: dir, MasterKey: storetest.MasterKey(), Now: now})
	require.NoError(tb, err)
	require.NoError(tb, db.Open(context.Background()))
	return realStore{db}, dir
}

// openTestStore opens a real store under t.TempDir() and returns it with
// its directory.
func openTestStore(t testing.TB, now func() time.Time, log zerolog.Logger) (testStore, string) {
	t.Helper()
	db := storetest.OpenWith(t, store.Options{Now: now, Log: log})
	return realStore{db}, filepath.Dir(db.MainPath())
}
