package privacy

import (
	"context"
	"io"
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
	QueueTemplate(ctx context.Context, d bot.Decision, t bot.Template) error
	DueOutbox(ctx context.Context, now time.Time, limit int) ([]bot.OutboxItem, error)
	MarkSent(ctx context.Context, outboxID int64, platformID bot.MessageID, at time.Time) error
	CreateMedia(ctx context.Context, m bot.Media) (int64, error)
	SaveMediaBytes(ctx context.Context, id int64, c bot.MediaContent, r io.Reader, limit int64) error
	SetMediaTranscript(ctx context.Context, id int64, text string) error
	MediaOf(ctx context.Context, s bot.SubjectID) ([]bot.Media, error)
}

// The real store satisfies the engine's Store and the tests' needs.
var (
	_ Store       = (*store.DB)(nil)
	_ testStore   = (*store.DB)(nil)
	_ MediaSource = (*store.DB)(nil)
)

// openBenchStore opens a real store in dir for benchmarks; it stays open
// for the process, so one built db serves every b.N round.
func openBenchStore(tb testing.TB, dir string, now func() time.Time) (testStore, string) {
	tb.Helper()
	db, err := store.New(store.Options{Dir: dir, MasterKey: storetest.MasterKey(), Now: now})
	require.NoError(tb, err)
	require.NoError(tb, db.Open(context.Background()))
	return db, dir
}

// openTestStore opens a real store under t.TempDir() and returns it with
// its directory.
func openTestStore(t testing.TB, now func() time.Time, log zerolog.Logger) (testStore, string) {
	t.Helper()
	db := storetest.OpenWith(t, store.Options{Now: now, Log: log})
	return db, filepath.Dir(db.MainPath())
}
