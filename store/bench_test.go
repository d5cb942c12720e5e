package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard/switchboard/bot"
)

// benchText is a typical customer message (about 120 bytes).
var benchText = "Hi, could you tell me how much it would cost to service two bikes next Tuesday? And do you have the blue helmet in M?"

func TestMain(m *testing.M) {
	code := m.Run()
	if deleteTemplate.dir != "" {
		_ = os.RemoveAll(deleteTemplate.dir)
	}
	os.Exit(code)
}

func benchSubject(b *testing.B, db *DB, phone string) bot.Subject {
	b.Helper()
	s, err := db.ResolveSubject(context.Background(), bot.SubjectInput{Identities: []bot.Identity{{Kind: bot.IDPhone, Value: phone}}, Name: "Bench"})
	require.NoError(b, err)
	return s
}

// BenchmarkRawInsert inserts message rows of the same shape as SaveInbound
// without encryption (plaintext chat and text, a fixed index), one
// autocommit INSERT per row on the same connection and DSN.
func BenchmarkRawInsert(b *testing.B) {
	db, _ := openTest(b)
	s := benchSubject(b, db, "+447700900123")
	ctx := context.Background()
	stmt, err := db.write.PrepareContext(ctx, `INSERT INTO messages (subject_id, platform, chat_bidx, chat, platform_id, dir, kind, text, sent_at, stored_at, status)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`)
	require.NoError(b, err)
	defer stmt.Close()
	idx := make([]byte, 32)
	_, _ = io.ReadFull(rand.Reader, idx)
	chat := []byte("447700900123@s.whatsapp.net")
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		now := time.Now().UnixNano()
		if _, err := stmt.ExecContext(ctx, string(s.ID), "whatsapp", idx, chat, fmt.Sprintf("3EB0%016d", i), "in", "text",
			[]byte(benchText), now, now, "received"); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
}

// BenchmarkSaveInbound stores messages through SaveInbound: blind index of
// the chat, chat and text sealed with the subject's key, one INSERT each.
func BenchmarkSaveInbound(b *testing.B) {
	db, _ := openTest(b)
	s := benchSubject(b, db, "+447700900123")
	ctx := context.Background()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		if _, _, err := db.SaveInbound(ctx, bot.Message{Subject: s.ID, Platform: bot.WhatsApp, Chat: "447700900123@s.whatsapp.net",
			PlatformID: bot.MessageID(fmt.Sprintf("3EB0%016d", i)), Text: benchText, SentAt: time.Now()}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
}

// BenchmarkResolveAndSave is what the router does per inbound message:
// ResolveSubject (read-only fast path for a known sender) then SaveInbound.
func BenchmarkResolveAndSave(b *testing.B) {
	db, _ := openTest(b)
	ctx := context.Background()
	in := bot.SubjectInput{Identities: []bot.Identity{{Kind: bot.IDPhone, Value: "+447700900123"}, {Kind: bot.IDLID, Value: "1234@lid"}}, Name: "Bench"}
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		s, err := db.ResolveSubject(ctx, in)
		if err != nil {
			b.Fatal(err)
		}
		if _, _, err := db.SaveInbound(ctx, bot.Message{Subject: s.ID, Platform: bot.WhatsApp, Chat: "447700900123@s.whatsapp.net",
			PlatformID: bot.MessageID(fmt.Sprintf("3EB0%016d", i)), Text: benchText, SentAt: time.Now()}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
}

// BenchmarkSaveInboundParallel is SaveInbound from 4 goroutines (2 per
// CPU), each its own customer, as a pool of channel handlers would call it;
// concurrent calls share commits.
func BenchmarkSaveInboundParallel(b *testing.B) {
	db, _ := openTest(b)
	ctx := context.Background()
	var mu sync.Mutex
	n := 0
	b.ResetTimer()
	start := time.Now()
	b.SetParallelism(2)
	b.RunParallel(func(pb *testing.PB) {
		mu.Lock()
		n++
		phone := fmt.Sprintf("+4477009%05d", n)
		mu.Unlock()
		s, err := db.ResolveSubject(ctx, bot.SubjectInput{Identities: []bot.Identity{{Kind: bot.IDPhone, Value: phone}}})
		if err != nil {
			b.Error(err)
			return
		}
		for i := 0; pb.Next(); i++ {
			if _, _, err := db.SaveInbound(ctx, bot.Message{Subject: s.ID, Platform: bot.WhatsApp, Chat: bot.ChatID(phone[1:] + "@s.whatsapp.net"),
				PlatformID: bot.MessageID(fmt.Sprintf("3EB0%016d", i)), Text: benchText}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
}

// bulkMessages inserts n sealed messages of s in one transaction (setup).
func bulkMessages(tb testing.TB, db *DB, s bot.SubjectID, chat bot.ChatID, n int) {
	tb.Helper()
	ctx := context.Background()
	sk, err := db.subjectKey(ctx, s)
	require.NoError(tb, err)
	idx := db.keys.chatIndex(chat)
	require.NoError(tb, db.tx(ctx, func(tx *sql.Tx) error {
		first, err := db.nextID(ctx, tx, "messages")
		if err != nil {
			return err
		}
		stmt, err := tx.PrepareContext(ctx, `INSERT INTO messages (id, subject_id, platform, chat_bidx, chat, platform_id, dir, kind, text, sent_at, stored_at, status)
			VALUES (?, ?, 'whatsapp', ?, ?, ?, 'in', 'text', ?, ?, ?, 'received')`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		now := time.Now().UnixNano()
		for i := range n {
			id := first + int64(i)
			if _, err := stmt.ExecContext(ctx, id, string(s), idx, sk.seal("messages", "chat", rowID(id), []byte(chat)), fmt.Sprintf("%s-%d", s, i),
				sk.seal("messages", "text", rowID(id), []byte(benchText)), now, now); err != nil {
				return err
			}
		}
		return nil
	}))
}

// deleteTemplate is a data dir with 99,000 messages of 990 customers, built
// once per test binary and copied for each BenchmarkDeleteSubject run.
var deleteTemplate struct {
	once sync.Once
	dir  string
	err  error
}

func buildDeleteTemplate(b *testing.B) string {
	deleteTemplate.once.Do(func() {
		dir, err := os.MkdirTemp("", "store-bench-")
		if err != nil {
			deleteTemplate.err = err
			return
		}
		deleteTemplate.dir = dir
		db, err := New(Options{Dir: dir, MasterKey: testKey})
		require.NoError(b, err)
		require.NoError(b, db.Open(context.Background()))
		for i := range 990 {
			phone := fmt.Sprintf("+4477001%05d", i)
			s := benchSubject(b, db, phone)
			bulkMessages(b, db, s.ID, bot.ChatID(phone[1:]+"@s.whatsapp.net"), 100)
		}
		require.NoError(b, db.Checkpoint(context.Background()))
		deleteTemplate.err = db.Close()
	})
	require.NoError(b, deleteTemplate.err)
	return deleteTemplate.dir
}

func copyDir(b *testing.B, from, to string) {
	require.NoError(b, os.MkdirAll(to, 0o700))
	for _, name := range []string{MainFile, KeysFile} {
		data, err := os.ReadFile(filepath.Join(from, name))
		require.NoError(b, err)
		require.NoError(b, os.WriteFile(filepath.Join(to, name), data, 0o600))
	}
}

// BenchmarkDeleteSubject erases one customer with 1,000 messages from a
// database of 100,000 messages, checkpoint (TRUNCATE) included.
func BenchmarkDeleteSubject(b *testing.B) {
	tmpl := buildDeleteTemplate(b)
	dir := filepath.Join(b.TempDir(), "data")
	copyDir(b, tmpl, dir)
	db := openAt(b, dir, nil)
	ctx := context.Background()
	var total time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		phone := fmt.Sprintf("+4477002%05d", i)
		s := benchSubject(b, db, phone)
		bulkMessages(b, db, s.ID, bot.ChatID(phone[1:]+"@s.whatsapp.net"), 1000)
		require.NoError(b, db.Checkpoint(ctx))
		b.StartTimer()
		start := time.Now()
		counts, err := db.DeleteSubject(ctx, s.ID)
		total += time.Since(start)
		if err != nil || counts["messages"] != 1000 {
			b.Fatal(err, counts)
		}
	}
	b.ReportMetric(float64(total.Microseconds())/1000/float64(b.N), "ms/op")
	var n int
	require.NoError(b, db.read.QueryRow("SELECT count(*) FROM messages").Scan(&n))
	if !strings.Contains(fmt.Sprint(n), "99000") {
		b.Fatalf("messages left: %d", n)
	}
}

// BenchmarkIngestNewSenders is Ingest from one caller, a new customer per
// message: a subject, an identity and a message per commit.
func BenchmarkIngestNewSenders(b *testing.B) {
	db, _ := openTest(b)
	ctx := context.Background()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		phone := fmt.Sprintf("+4477%09d", i)
		if _, _, _, err := db.Ingest(ctx, bot.SubjectInput{Identities: []bot.Identity{{Kind: bot.IDPhone, Value: phone}}, Name: "Bench"},
			bot.Message{Platform: bot.WhatsApp, Chat: bot.ChatID(phone[1:] + "@s.whatsapp.net"), PlatformID: bot.MessageID(fmt.Sprintf("3EB0%016d", i)),
				Text: benchText, SentAt: time.Now()}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
}

// BenchmarkIngestReturning is Ingest from one caller, 200 customers writing
// in turn with unchanged names: resolved from the subject cache.
func BenchmarkIngestReturning(b *testing.B) {
	db, _ := openTest(b)
	ctx := context.Background()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		phone := fmt.Sprintf("+4477%09d", i%200)
		if _, _, _, err := db.Ingest(ctx, bot.SubjectInput{Identities: []bot.Identity{{Kind: bot.IDPhone, Value: phone}}, Name: "Bench"},
			bot.Message{Platform: bot.WhatsApp, Chat: bot.ChatID(phone[1:] + "@s.whatsapp.net"), PlatformID: bot.MessageID(fmt.Sprintf("3EB0%016d", i)),
				Text: benchText, SentAt: time.Now()}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
}

// BenchmarkResealRows times the Open that runs the data task reseal-rows
// over 20,000 messages of 200 subjects (chat and text of format 1, so
// 40,000 values re-sealed, plus the subjects' names and identities). Run
// with -benchtime 1x; each iteration builds its database first.
func BenchmarkResealRows(b *testing.B) {
	ctx := context.Background()
	const subjects, perSubject = 200, 100
	for range b.N {
		b.StopTimer()
		dir := filepath.Join(b.TempDir(), "data")
		db := openAt(b, dir, time.Now)
		keys := make([]*subjectKey, subjects)
		for s := range keys {
			sk, err := db.subjectKey(ctx, benchSubject(b, db, fmt.Sprintf("+4477009%05d", s)).ID)
			require.NoError(b, err)
			keys[s] = sk
		}
		require.NoError(b, db.tx(ctx, func(tx *sql.Tx) error {
			id := int64(0)
			for s, sk := range keys {
				sub := bot.Subject{ID: sk.id}
				chat := fmt.Sprintf("4477009%05d@s.whatsapp.net", s)
				for range perSubject {
					id++
					if _, err := tx.ExecContext(ctx, `INSERT INTO messages (id, subject_id, platform, chat_bidx, chat, platform_id, dir, kind, text, sent_at, stored_at, status)
						VALUES (?, ?, 'whatsapp', ?, ?, ?, 'in', 'text', ?, 1, 1, 'received')`, id, string(sub.ID), db.keys.chatIndex(bot.ChatID(chat)),
						sealV1(sk, "messages", "chat", []byte(chat)), fmt.Sprintf("P%d", id), sealV1(sk, "messages", "text", []byte(benchText))); err != nil {
						return err
					}
				}
			}
			_, err := tx.ExecContext(ctx, "DELETE FROM schema_migrations WHERE version = 16")
			return err
		}))
		require.NoError(b, db.Close())
		again, err := New(Options{Dir: dir, MasterKey: testKey})
		require.NoError(b, err)
		b.StartTimer()
		require.NoError(b, again.Open(ctx))
		b.StopTimer()
		var left int
		require.NoError(b, again.read.QueryRowContext(ctx, "SELECT count(*) FROM messages WHERE substr(text, 1, 1) = x'01'").Scan(&left))
		require.Zero(b, left)
		require.NoError(b, again.Close())
		b.StartTimer()
	}
}
