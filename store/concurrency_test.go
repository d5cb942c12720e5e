package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboard/switchboard/bot"
)

// TestConcurrentFlows runs whole flows from several goroutines at once
// (go test -race) and races many decisions on one draft.
func TestConcurrentFlows(t *testing.T) {
	db, _ := openTest(t)
	ctx := context.Background()
	const workers, perWorker = 6, 15
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- func() error {
				for i := range perWorker {
					// Two workers share each customer, so ResolveSubject races too.
					phone := fmt.Sprintf("+4477009%05d", w/2)
					sub, err := db.ResolveSubject(ctx, bot.SubjectInput{Identities: []bot.Identity{{Kind: bot.IDPhone, Value: phone}}, Name: "N"})
					if err != nil {
						return err
					}
					m := bot.Message{Subject: sub.ID, Platform: bot.WhatsApp, Chat: bot.ChatID(phone[1:] + "@s.whatsapp.net"),
						PlatformID: bot.MessageID(fmt.Sprintf("m-%d-%d", w, i)), Text: "hello"}
					id, _, err := db.SaveInbound(ctx, m)
					if err != nil {
						return err
					}
					did, err := db.CreateDraft(ctx, bot.Draft{MessageID: id, Text: "reply"})
					if err != nil {
						return err
					}
					if err := db.Decide(ctx, bot.Decision{DraftID: did, Kind: bot.Approve, By: staff(fmt.Sprint(w))}); err != nil {
						return err
					}
					if _, err := db.History(ctx, sub.ID, m.Chat, 0, 10); err != nil {
						return err
					}
					if _, err := db.LoadDraft(ctx, did); err != nil {
						return err
					}
				}
				return nil
			}()
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	items, err := db.DueOutbox(ctx, db.now(), 1000)
	require.NoError(t, err)
	assert.Len(t, items, workers*perWorker)
	var subjects int
	require.NoError(t, db.read.QueryRow("SELECT count(*) FROM subjects WHERE role = 'customer'").Scan(&subjects))
	assert.Equal(t, workers/2, subjects, "racing ResolveSubject made one subject per phone")

	t.Run("FirstDecisionWins", func(t *testing.T) {
		f := newFixture(t, db, "+447700900999", "Ada", "q", "a")
		var applied, decided atomic.Int32
		var wg sync.WaitGroup
		for i := range 12 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				kind := []bot.DecisionKind{bot.Approve, bot.Edit, bot.Reject}[i%3]
				err := db.Decide(ctx, bot.Decision{DraftID: f.draftID, Kind: kind, Text: "edited", By: staff("race"), ActionID: fmt.Sprint("a", i%4)})
				switch {
				case err == nil:
					applied.Add(1)
				case errors.Is(err, bot.ErrDecided):
					decided.Add(1)
				default:
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		assert.Equal(t, int32(1), applied.Load())
		assert.Equal(t, int32(11), decided.Load())
		var n int
		require.NoError(t, db.read.QueryRow("SELECT count(*) FROM outbox WHERE draft_id = ?", f.draftID).Scan(&n))
		assert.LessOrEqual(t, n, 1)
		require.NoError(t, db.read.QueryRow("SELECT count(*) FROM decisions WHERE draft_id = ?", f.draftID).Scan(&n))
		assert.Equal(t, 1, n)
	})
}

func TestKeyCacheBounded(t *testing.T) {
	c := newKeyCache(2)
	k := func(s string) *subjectKey { return &subjectKey{id: bot.SubjectID(s)} }
	c.put("a", k("a"), c.generation())
	c.put("b", k("b"), c.generation())
	require.NotNil(t, c.get("a")) // a is now most recent
	c.put("c", k("c"), c.generation())
	assert.Equal(t, 2, c.len())
	assert.Nil(t, c.get("b"), "least recently used evicted")
	assert.NotNil(t, c.get("a"))
	gen := c.generation()
	c.evict("a")
	assert.Nil(t, c.get("a"))
	c.put("a", k("a"), gen)
	assert.Nil(t, c.get("a"), "a load that raced an eviction is not cached")
}

func TestKeyCacheSmallStillWorks(t *testing.T) {
	c := newClock()
	db, err := New(Options{Dir: t.TempDir(), MasterKey: testKey, Now: c.Now, KeyCacheSize: 1})
	require.NoError(t, err)
	require.NoError(t, db.Open(context.Background()))
	defer db.Close()
	a := newFixture(t, db, "+447700900123", "Ada", "a text", "a draft")
	b := newFixture(t, db, "+447700900124", "Bob", "b text", "b draft")
	for _, f := range []fixture{a, b, a} {
		v, err := db.LoadDraft(context.Background(), f.draftID)
		require.NoError(t, err)
		assert.Equal(t, f.msg.Text, v.Message.Text)
	}
	assert.Equal(t, 1, db.keys.cache.len())
}

// FuzzOpenField feeds arbitrary bytes to the field decoder: it must fail
// cleanly (never panic) unless the input is a genuine sealed field.
func FuzzOpenField(f *testing.F) {
	kr, err := newKeyring(testKey, 1)
	require.NoError(f, err)
	aead, err := newAEAD(make([]byte, 32))
	require.NoError(f, err)
	sk := &subjectKey{id: "s_fuzz", aead: aead}
	f.Add(sk.seal("messages", "text", rowID(1), []byte("hello")))
	f.Add(sealV1(sk, "messages", "text", []byte("hello")))
	f.Add([]byte{})
	f.Add([]byte{fieldFormat})
	f.Add([]byte{fieldFormatV1})
	f.Add([]byte{3, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		pt, err := sk.open("messages", "text", rowID(1), b)
		if err == nil && len(b) > 0 {
			// Only a genuine ciphertext opens; it re-seals to the same text.
			back, err := sk.open("messages", "text", rowID(1), sk.seal("messages", "text", rowID(1), pt))
			require.NoError(t, err)
			require.Equal(t, pt, back)
		}
		_, _ = kr.unwrap("s_fuzz", b, kekVersion)
	})
}

// TestSaveInboundGroupCommit stores messages from many goroutines (grouped
// into shared transactions), with duplicates and cancelled callers mixed
// in: every message is stored once, duplicates are reported, and no
// cancelled caller strands the batcher.
func TestSaveInboundGroupCommit(t *testing.T) {
	db, _ := openTest(t)
	ctx := context.Background()
	f := newFixture(t, db, "+447700900123", "Ada", "q", "a")
	const workers, each = 8, 40
	var wg sync.WaitGroup
	var dups, cancelled atomic.Int32
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				m := f.msg
				// Workers pair up on the same ids, so half the saves are duplicates.
				m.PlatformID, m.Text = bot.MessageID(fmt.Sprintf("g-%d-%d", w/2, i)), fmt.Sprintf("text %d %d", w/2, i)
				c := ctx
				if w%2 == 0 && i%7 == 3 { // the partner worker still stores it
					cc, cancel := context.WithCancel(ctx)
					cancel()
					c = cc
				}
				_, dup, err := db.SaveInbound(c, m)
				switch {
				case errors.Is(err, context.Canceled):
					cancelled.Add(1)
				case err != nil:
					t.Error(err)
				case dup:
					dups.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	id, dup, err := db.SaveInbound(ctx, bot.Message{Subject: f.customer.ID, Platform: bot.WhatsApp, Chat: f.msg.Chat, PlatformID: "last", Text: "last"})
	require.NoError(t, err, "the batcher is not stuck")
	assert.False(t, dup)
	assert.NotZero(t, id)
	var n int
	require.NoError(t, db.read.QueryRow("SELECT count(*) FROM messages WHERE platform_id LIKE 'g-%'").Scan(&n))
	assert.Equal(t, workers/2*each, n, "each id stored once")
	assert.GreaterOrEqual(t, int(dups.Load())+int(cancelled.Load()), workers/2*each)
	h, err := db.History(ctx, f.customer.ID, f.msg.Chat, 0, 1000)
	require.NoError(t, err)
	for _, m := range h {
		if strings.HasPrefix(string(m.PlatformID), "g-") {
			var a, b int
			_, err := fmt.Sscanf(string(m.PlatformID), "g-%d-%d", &a, &b)
			require.NoError(t, err)
			assert.Equal(t, fmt.Sprintf("text %d %d", a, b), m.Text)
		}
	}
}
