package store

import (
	"context"
	"database/sql"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboard/switchboard/bot"
)

// TestRowIDsNeverReused: the store takes row ids itself (to seal fields
// bound to them) and still never hands out an id an AUTOINCREMENT table
// used before, also after its newest row was deleted.
func TestRowIDsNeverReused(t *testing.T) {
	db, _ := openTest(t)
	ctx := context.Background()
	f := newFixture(t, db, "+447700900123", "Ada", "hello", "Hello!")
	m := bot.Message{Subject: f.customer.ID, Platform: bot.WhatsApp, Chat: f.msg.Chat, PlatformID: "M2", Text: "revoked soon", SentAt: db.now()}
	revoked, _, err := db.SaveInbound(ctx, m)
	require.NoError(t, err)
	_, err = db.RevokeMessage(ctx, m.Platform, m.Chat, m.PlatformID)
	require.NoError(t, err)
	m.PlatformID, m.Text = "M3", "after the revoke"
	next, _, err := db.SaveInbound(ctx, m)
	require.NoError(t, err)
	assert.Greater(t, next, revoked, "the revoked message's id is not reused")
	got, err := db.FindMessage(ctx, next)
	require.NoError(t, err)
	assert.Equal(t, "after the revoke", got.Text)

	// Every AUTOINCREMENT table with sealed fields, its newest row deleted
	// (dependants first).
	d2, err := db.CreateDraft(ctx, bot.Draft{MessageID: next, Text: "two"})
	require.NoError(t, err)
	require.NoError(t, db.Decide(ctx, bot.Decision{DraftID: d2, Kind: bot.Edit, Text: "edited", By: staff("1"), ByName: "Sam"}))
	mediaFor(t, db, f, "a.pdf")
	require.NoError(t, db.tx(ctx, func(tx *sql.Tx) error {
		for _, table := range []string{"decisions", "outbox", "media", "drafts", "messages"} {
			var newest int64
			if err := tx.QueryRowContext(ctx, "SELECT max(id) FROM "+table).Scan(&newest); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, "DELETE FROM "+table+" WHERE id = ?", newest); err != nil {
				return fmt.Errorf("%s: %w", table, err)
			}
			id, err := db.nextID(ctx, tx, table)
			if err != nil {
				return err
			}
			assert.Greater(t, id, newest, table)
		}
		return nil
	}))
}
