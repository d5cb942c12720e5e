package bot_test

import (
	"context"
	"testing"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboard/switchboard/bot"
)

// plainStore hides every optional interface of the store (Ingester,
// HandledMarker): the router falls back to ResolveSubject and SaveInbound.
type plainStore struct{ bot.Store }

// TestDeliverWithAndWithoutIngester runs the same messages through a store
// that has Ingest and one that does not: same subjects, same drafts, and a
// redelivery is dropped either way.
func TestDeliverWithAndWithoutIngester(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts func(*bot.Options)
	}{
		{"Ingester", nil},
		{"ResolveThenSave", func(o *bot.Options) { o.Store = plainStore{o.Store} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, zerolog.Nop(), tc.opts)
			if tc.opts == nil {
				var s bot.Store = h.db
				_, ok := s.(bot.Ingester)
				require.True(t, ok, "the real store is an Ingester")
			}
			c := newCustomer(7)
			in := h.send(c, "First question")
			first := h.cardFor("First question")
			h.send(c, "Second question")
			second := h.cardFor("Second question")
			assert.Equal(t, first.Subject, second.Subject, "a returning sender is the same subject")
			assert.Equal(t, c.name, second.Customer)

			require.NoError(t, h.wa.Inject(context.Background(), in), "a redelivery is accepted")
			ctx := context.Background()
			ids, err := h.db.FindSubjects(ctx, bot.Identity{Kind: bot.IDPhone, Value: c.phone})
			require.NoError(t, err)
			assert.Equal(t, []bot.SubjectID{first.Subject}, ids)
			msgs, err := h.db.History(ctx, first.Subject, c.chat, 0, 10)
			require.NoError(t, err)
			assert.Len(t, msgs, 2, "the redelivery stored nothing")
			assert.Len(t, h.drafter.Requests(), 2)
		})
	}
}
