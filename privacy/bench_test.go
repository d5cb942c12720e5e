package privacy

import (
	"context"
	"crypto/rand"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard/switchboard/bot/bottest"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/switchboard/switchboard/bot"
	"github.com/switchboard/switchboard/store"
)

// fill stores n inbound text messages of a new customer and returns it.
func fill(tb testing.TB, h *harness, n int, tag string) bot.Subject {
	tb.Helper()
	s, err := h.st.ResolveSubject(h.ctx, bot.SubjectInput{
		Identities: []bot.Identity{{Kind: bot.IDLID, Value: fmt.Sprintf("%d@lid", time.Now().UnixNano())}}, Role: bot.RoleCustomer, Name: "Bench " + tag,
	})
	require.NoError(tb, err)
	chat := bot.ChatID("chat-" + string(s.ID))
	for i := 0; i < n; i++ {
		_, _, err := h.st.SaveInbound(h.ctx, bot.Message{Subject: s.ID, Platform: bot.WhatsApp, Chat: chat,
			PlatformID: bot.MessageID(fmt.Sprintf("%s-%d", tag, i)), Dir: bot.In, Kind: bot.KindText,
			Text: fmt.Sprintf("message %d of %s: could you quote for replacing the kitchen tap and checking the boiler pressure?", i, tag), SentAt: h.clock.Now()})
		require.NoError(tb, err)
	}
	return s
}

// benchDBs are stores with many messages, built once per size and reused
// by every b.N round; TestMain removes them.
var benchDBs sync.Map // int → *harness

var benchCleanup struct {
	sync.Mutex
	dirs []string
}

func TestMain(m *testing.M) {
	code := m.Run()
	benchCleanup.Lock()
	for _, d := range benchCleanup.dirs {
		_ = os.RemoveAll(d)
	}
	benchCleanup.Unlock()
	os.Exit(code)
}

func benchHarness(b *testing.B, total int) *harness {
	if h, ok := benchDBs.Load(total); ok {
		return h.(*harness)
	}
	h := newBenchHarness(b)
	start := time.Now()
	require.NoError(b, fillRaw(h, total))
	b.Logf("built a %d-message db in %s", total, time.Since(start).Round(time.Millisecond))
	benchDBs.Store(total, h)
	return h
}

// fillRaw adds total filler messages of total/100 filler subjects straight
// through SQL in one transaction: random bytes where the store keeps
// ciphertext, so the file and its indexes have the size the API would give
// at a fraction of the build time. Only the erased subjects go through the
// store's API.
func fillRaw(h *harness, total int) error {
	db, err := sql.Open("sqlite3", "file:"+filepath.Join(h.dir, store.MainFile)+"?_busy_timeout=5000&_txlock=immediate")
	if err != nil {
		return err
	}
	defer db.Close()
	tx, err := db.Begin()
	if err != nil {
		return err
	}
	defer tx.Rollback()
	sub, err := tx.Prepare("INSERT INTO subjects (id, name, role, tenant, ai_restricted, created_at, updated_at) VALUES (?, ?, 'customer', '', 0, ?, ?)")
	if err != nil {
		return err
	}
	msg, err := tx.Prepare(`INSERT INTO messages (subject_id, platform, chat_bidx, chat, platform_id, dir, kind, text, sent_at, stored_at, status)
		VALUES (?, 'whatsapp', ?, ?, ?, 'in', 'text', ?, ?, ?, 'received')`)
	if err != nil {
		return err
	}
	now := h.clock.Now().UnixNano()
	bidx, chat, text := make([]byte, 32), make([]byte, 60), make([]byte, 140)
	var id bot.SubjectID
	for i := 0; i < total; i++ {
		if i%100 == 0 {
			id = bot.NewSubjectID()
			_, _ = rand.Read(bidx)
			_, _ = rand.Read(chat)
			if _, err := sub.Exec(string(id), chat[:40], now, now); err != nil {
				return err
			}
		}
		_, _ = rand.Read(text)
		if _, err := msg.Exec(string(id), bidx, chat, fmt.Sprintf("F%d", i), text, now, now); err != nil {
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	_, err = db.Exec("PRAGMA wal_checkpoint(TRUNCATE)")
	return err
}

// newBenchHarness is a harness whose store outlives one benchmark run
// (b.TempDir is per run; the built db is reused across b.N rounds).
func newBenchHarness(b *testing.B) *harness {
	dir, err := os.MkdirTemp("", "privacy-bench-*")
	require.NoError(b, err)
	benchCleanup.Lock()
	benchCleanup.dirs = append(benchCleanup.dirs, dir)
	benchCleanup.Unlock()
	h := &harness{t: b, ctx: context.Background(), clock: newClock(), logs: &bottest.LogBuffer{}, forget: &recForgetter{}, teams: &recChannel{}}
	h.st, h.dir = openBenchStore(b, filepath.Join(dir, "data"), h.clock.Now)
	svc, err := New(Options{Log: zerolog.Nop(), Store: h.st, Forgetters: []bot.Forgetter{h.forget}, Now: h.clock.Now, ExportDir: filepath.Join(dir, "exports")})
	require.NoError(b, err)
	h.svc = svc
	return h
}

func benchErase(b *testing.B, total int) {
	h := benchHarness(b, total)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		victim := fill(b, h, 1000, fmt.Sprintf("victim%d-%d", total, i))
		require.NoError(b, h.st.Checkpoint(h.ctx))
		b.StartTimer()
		_, counts, _, err := h.svc.erase(h.ctx, victim.ID, ScopeSelf, h.clock.Now(), singletons([]bot.SubjectID{victim.ID}), nil)
		b.StopTimer()
		require.NoError(b, err)
		require.Equal(b, 1000, counts["messages"])
		b.StartTimer()
	}
}

// BenchmarkErase: erasure of a subject with 1,000 messages (register,
// delete, forgetter, key destruction, WAL checkpoint TRUNCATE).
func BenchmarkErase100k(b *testing.B) { benchErase(b, 100_000) }

// BenchmarkErase1M: the same in a 1,000,000-message db.
func BenchmarkErase1M(b *testing.B) { benchErase(b, 1_000_000) }

// BenchmarkExport10k streams the export of a subject with 10,000 messages
// to a file and reports the peak live heap seen while it ran.
func BenchmarkExport10k(b *testing.B) {
	h := newBenchHarness(b)
	s := fill(b, h, 10_000, "export")
	path := filepath.Join(b.TempDir(), "export.json")
	sup := h.svc.policy.Supplementary()
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	runtime.GC()
	metrics.Read(sample)
	base := sample[0].Value.Uint64()
	var peak atomic.Uint64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		t := time.NewTicker(200 * time.Microsecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				metrics.Read(s)
				if v := s[0].Value.Uint64(); v > peak.Load() {
					peak.Store(v)
				}
			}
		}
	}()
	b.ReportAllocs()
	b.ResetTimer()
	var size int64
	for i := 0; i < b.N; i++ {
		f, err := os.Create(path)
		require.NoError(b, err)
		counts, err := writeExport(h.ctx, h.st, f, h.clock.Now(), 1, ScopeSelf, sup, []bot.SubjectID{s.ID})
		require.NoError(b, err)
		require.NoError(b, f.Close())
		require.Equal(b, 10_000, counts["messages"])
		st, _ := os.Stat(path)
		size = st.Size()
	}
	b.StopTimer()
	close(stop)
	<-done
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(peak.Load()-min(base, peak.Load()))/(1<<20), "peak-heap-MB")
	b.ReportMetric(float64(size)/(1<<20), "file-MB")
	b.ReportMetric(float64(ms.Sys)/(1<<20), "sys-MB")
}
