package store

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboard/switchboard/bot"
)

// TestBatchIDsAfterFailedRequest: one group commit holds several Ingest
// and SaveInbound requests; two in the middle insert their message and
// then fail on the attachment (an insert SQLite refuses), an Ingest and
// a SaveInbound, each followed by a request that succeeds, so their
// savepoints are rolled back after the batch had counted their message
// ids. The batch reads the next id again: the stored messages take
// consecutive, unique ids, each reads back as itself, and the next
// message after the batch follows on without a gap.
func TestBatchIDsAfterFailedRequest(t *testing.T) {
	db, _ := openTest(t)
	ctx := context.Background()
	f := newFixture(t, db, "+447700900123", "Ada", "before the batch", "draft")
	// The writer is one connection: a temporary trigger on it refuses
	// media of one MIME type, as a failing insert would.
	_, err := db.write.ExecContext(ctx, `CREATE TEMP TRIGGER refuse_media BEFORE INSERT ON main.media
		WHEN NEW.mime = 'application/x-refused' BEGIN SELECT RAISE(ABORT, 'refused'); END`)
	require.NoError(t, err)
	refused := &bot.MediaRef{MIME: "application/x-refused", ID: "cloud-x"}

	ingest := func(phone, pid, text string, media *bot.MediaRef) *saveReq {
		kind := bot.KindText
		if media != nil {
			kind = bot.KindDocument
		}
		r, err := db.ingestRequest(bot.SubjectInput{Identities: []bot.Identity{{Kind: bot.IDPhone, Value: phone}}},
			bot.Message{Platform: bot.WhatsApp, Chat: bot.ChatID(phone[1:] + "@s.whatsapp.net"), PlatformID: bot.MessageID(pid),
				Kind: kind, Text: text, Media: media, SentAt: db.now()})
		require.NoError(t, err)
		return r
	}
	save := func(pid, text string, media *bot.MediaRef) *saveReq {
		kind := bot.KindText
		if media != nil {
			kind = bot.KindDocument
		}
		r, err := db.saveRequest(ctx, bot.Message{Subject: f.customer.ID, Platform: bot.WhatsApp, Chat: f.msg.Chat, PlatformID: bot.MessageID(pid),
			Kind: kind, Text: text, Media: media, SentAt: db.now()})
		require.NoError(t, err)
		return r
	}
	batch := []*saveReq{
		ingest("+447700900201", "A", "a: new sender", nil),
		ingest("+447700900202", "B", "b: fails on its file", refused),
		ingest("+447700900123", "D", "d: returning sender", nil),
		save("C", "c: fails on its file", refused),
		save("E", "e: stored", &bot.MediaRef{MIME: "application/pdf", ID: "cloud-e"}),
		ingest("+447700900203", "F", "f: new sender", nil),
	}
	names := []string{"A", "B", "D", "C", "E", "F"}
	db.runBatch(ctx, batch, nil)

	texts := map[int64]string{}
	var ids []int64
	for i, r := range batch {
		name := names[i]
		if name == "B" || name == "C" {
			assert.Error(t, r.err, "%s fails", name)
			continue
		}
		require.NoError(t, r.err, name)
		require.False(t, r.dup, name)
		ids = append(ids, r.id)
		texts[r.id] = map[string]string{"A": "a: new sender", "D": "d: returning sender", "E": "e: stored", "F": "f: new sender"}[name]
	}
	first := f.msg.ID + 1
	assert.Equal(t, []int64{first, first + 1, first + 2, first + 3}, ids, "consecutive and unique")
	for id, text := range texts {
		m, err := db.FindMessage(ctx, id)
		require.NoError(t, err, "message %d", id)
		assert.Equal(t, text, m.Text, "message %d", id)
	}
	var n int
	require.NoError(t, db.read.QueryRowContext(ctx, "SELECT count(*) FROM messages").Scan(&n))
	assert.Equal(t, 5, n, "the failed requests left no message")
	require.NoError(t, db.read.QueryRowContext(ctx, "SELECT count(*) FROM media").Scan(&n))
	assert.Equal(t, 1, n, "nor media")

	next, _, err := db.SaveInbound(ctx, bot.Message{Subject: f.customer.ID, Platform: bot.WhatsApp, Chat: f.msg.Chat, PlatformID: "G",
		Text: "after the batch", SentAt: db.now()})
	require.NoError(t, err)
	assert.Equal(t, first+4, next, fmt.Sprintf("follows %v", ids))
}
