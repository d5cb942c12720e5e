package bot_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/switchboard/switchboard/bot"
	"github.com/switchboard/switchboard/channels/channeltest"
	"github.com/switchboard/switchboard/store"
)

// benchInbound returns n messages from n distinct customers in n chats.
func benchInbound(n int) []bot.Inbound { return benchInboundFrom(n, n) }

// benchInboundFrom returns n messages from customers customers, each in
// their own chat, taking turns.
func benchInboundFrom(n, customers int) []bot.Inbound {
	ins := make([]bot.Inbound, n)
	at := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	for i := range ins {
		phone := fmt.Sprintf("+4477%09d", i%customers)
		ins[i] = bot.Inbound{
			Platform:   bot.WhatsApp,
			Chat:       bot.ChatID(phone[1:] + "@s.whatsapp.net"),
			ID:         bot.MessageID(fmt.Sprintf("3EB0%016X", i)),
			Sender:     bot.Identity{Kind: bot.IDPhone, Value: phone},
			SenderName: fmt.Sprintf("Customer %d", i%customers), // a customer keeps their name
			Role:       bot.RoleCustomer,
			Kind:       bot.KindText,
			Text:       "Hello, could you tell me your opening hours on Sunday, and whether I need to book ahead?",
			SentAt:     at.Add(time.Duration(i) * time.Millisecond),
		}
	}
	return ins
}

func benchStore(b *testing.B) *store.DB {
	b.Helper()
	key := make([]byte, 32)
	_, err := rand.Read(key)
	require.NoError(b, err)
	db, err := store.New(store.Options{Dir: b.TempDir(), MasterKey: key, Log: zerolog.Nop()})
	require.NoError(b, err)
	require.NoError(b, db.Open(context.Background()))
	b.Cleanup(func() { _ = db.Close() })
	return db
}

// rawInsert writes the same rows (the message, and a subject with its
// identity for a new sender) in one transaction per message into plain
// SQLite with the store's pragmas, without blind indexes or encryption, and
// returns the rate in msgs/s. It runs with the store's synchronous=FULL:
// the naive durable baseline, one fsync per message.
func rawInsert(b *testing.B, ins []bot.Inbound) float64 {
	b.Helper()
	path := filepath.Join(b.TempDir(), "raw.db")
	db, err := sql.Open("sqlite3", "file:"+path+"?_foreign_keys=on&_busy_timeout=5000&_txlock=immediate&_secure_delete=on&_synchronous=FULL")
	require.NoError(b, err)
	defer db.Close()
	db.SetMaxOpenConns(1)
	ctx := context.Background()
	// The store's connect pragmas (store.connectPragmas), on the one connection.
	_, err = db.ExecContext(ctx, "PRAGMA page_size = 2048; PRAGMA journal_mode = WAL; PRAGMA journal_size_limit = 16777216; PRAGMA temp_store = MEMORY; PRAGMA wal_autocheckpoint = 4000;")
	require.NoError(b, err)
	_, err = db.ExecContext(ctx, `
		CREATE TABLE subjects (id TEXT PRIMARY KEY, name TEXT, role TEXT NOT NULL, created_at INTEGER NOT NULL) STRICT;
		CREATE TABLE identities (id INTEGER PRIMARY KEY, subject_id TEXT NOT NULL REFERENCES subjects(id), kind TEXT NOT NULL, value TEXT NOT NULL) STRICT;
		CREATE UNIQUE INDEX identities_value ON identities(kind, value);
		CREATE TABLE messages (id INTEGER PRIMARY KEY, subject_id TEXT NOT NULL REFERENCES subjects(id), platform TEXT NOT NULL, chat TEXT NOT NULL,
			platform_id TEXT, dir TEXT NOT NULL, kind TEXT NOT NULL, text TEXT, sent_at INTEGER NOT NULL, stored_at INTEGER NOT NULL, status TEXT NOT NULL) STRICT;
		CREATE UNIQUE INDEX messages_dedup ON messages(platform, chat, platform_id);
		CREATE INDEX messages_subject ON messages(subject_id, chat, id);`)
	require.NoError(b, err)
	start := time.Now()
	for _, in := range ins {
		tx, err := db.BeginTx(ctx, nil)
		require.NoError(b, err)
		now := time.Now().UnixMilli()
		var id string
		err = tx.QueryRowContext(ctx, "SELECT subject_id FROM identities WHERE kind = ? AND value = ?", string(in.Sender.Kind), in.Sender.Value).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			id = string(bot.NewSubjectID())
			_, err = tx.ExecContext(ctx, "INSERT INTO subjects(id, name, role, created_at) VALUES (?, ?, ?, ?)", id, in.SenderName, string(in.Role), now)
			require.NoError(b, err)
			_, err = tx.ExecContext(ctx, "INSERT INTO identities(subject_id, kind, value) VALUES (?, ?, ?)", id, string(in.Sender.Kind), in.Sender.Value)
		}
		require.NoError(b, err)
		_, err = tx.ExecContext(ctx, "INSERT INTO messages(subject_id, platform, chat, platform_id, dir, kind, text, sent_at, stored_at, status) VALUES (?, ?, ?, ?, 'in', ?, ?, ?, ?, 'received')",
			id, string(in.Platform), string(in.Chat), string(in.ID), string(in.Kind), in.Text, in.SentAt.UnixMilli(), now)
		require.NoError(b, err)
		require.NoError(b, tx.Commit())
	}
	return float64(len(ins)) / time.Since(start).Seconds()
}

// BenchmarkIngest measures inbound messages from distinct customers in
// distinct chats through Router.Deliver into the real store (subject
// resolution with a new subject key, blind indexes, sealed name and text,
// every commit synced: synchronous=FULL on both databases), next to a naive
// durable insert of the same rows in the same run: plain SQLite, one
// synchronous=FULL transaction per message ("naive-full-msgs/s";
// "x-naive-full" is the ratio, the goal for new senders is ≥ 2). Several
// senders at once share commits (group commit), which is where the store
// gains; one sender alone waits for each of its commits, as the naive
// insert does.
//
// "ingest" is the ingest path only: the router is not running, so drafting
// does not compete (the queue holds every message); "ingest-4-senders" is
// the same with four goroutines delivering at once, as several channels do;
// "ingest-returning-4-senders" has 200 customers writing again and again
// (the usual day: most senders are known, under an unchanged name), the raw
// side then inserts only the message row after its identity lookup. "pipeline" runs the
// router with a fake drafter and notifier and counts until every message
// has its draft and card.
func BenchmarkIngest(b *testing.B) {
	ingest := func(b *testing.B, customers, senders int) {
		ins := benchInboundFrom(b.N, customers)
		db := benchStore(b)
		r, err := bot.NewRouter(bot.Options{Store: db, QueueSize: b.N + 1})
		require.NoError(b, err)
		ctx := context.Background()
		b.ResetTimer()
		start := time.Now()
		var wg sync.WaitGroup
		for w := range senders {
			wg.Go(func() {
				for i := w; i < len(ins); i += senders {
					if err := r.Deliver(ctx, ins[i]); err != nil {
						b.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
		rate := float64(b.N) / time.Since(start).Seconds()
		b.StopTimer()
		raw := rawInsert(b, benchInboundFrom(b.N, customers))
		b.ReportMetric(rate, "msgs/s")
		b.ReportMetric(raw, "naive-full-msgs/s")
		b.ReportMetric(rate/raw, "x-naive-full")
		if b.N >= 100 { // not the calibration runs
			fmt.Printf("%s: store (FULL, group commit) %.0f msgs/s, naive per-message FULL insert %.0f msgs/s: %.2fx\n", b.Name(), rate, raw, rate/raw)
		}
	}
	b.Run("ingest", func(b *testing.B) { ingest(b, b.N, 1) })
	b.Run("ingest-4-senders", func(b *testing.B) { ingest(b, b.N, 4) })
	b.Run("ingest-16-senders", func(b *testing.B) { ingest(b, b.N, 16) })
	b.Run("ingest-returning-4-senders", func(b *testing.B) { ingest(b, 200, 4) })
	b.Run("pipeline", func(b *testing.B) {
		ins := benchInbound(b.N)
		db := benchStore(b)
		notifier := channeltest.NewNotifier()
		r, err := bot.NewRouter(bot.Options{Store: db, QueueSize: b.N + 1, Drafter: &channeltest.Drafter{Text: "We open 10 to 4 on Sunday; no need to book."}, Notifier: notifier})
		require.NoError(b, err)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- r.Run(ctx) }()
		b.ResetTimer()
		start := time.Now()
		for _, in := range ins {
			if err := r.Deliver(context.Background(), in); err != nil {
				b.Fatal(err)
			}
		}
		for len(notifier.Posts()) < b.N {
			time.Sleep(time.Millisecond)
		}
		rate := float64(b.N) / time.Since(start).Seconds()
		b.StopTimer()
		cancel()
		require.NoError(b, <-done)
		raw := rawInsert(b, benchInbound(b.N))
		b.ReportMetric(rate, "msgs/s")
		b.ReportMetric(raw, "naive-full-msgs/s")
		b.ReportMetric(rate/raw, "x-naive-full")
	})
}
