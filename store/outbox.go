package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/switchboard/switchboard/bot"
)

// maxErrLen bounds a stored operator-facing error string.
const maxErrLen = 500

// DueOutbox returns pending outbox items whose next attempt is at or before
// now, earliest first, with chat and text decrypted.
func (db *DB) DueOutbox(ctx context.Context, now time.Time, limit int) ([]bot.OutboxItem, error) {
	_, read, _, err := db.handles()
	if err != nil {
		return nil, err
	}
	if limit <= 0 {
		return nil, nil
	}
	rows, err := read.QueryContext(ctx, `SELECT id, draft_id, subject_id, platform, chat, text, status, attempts, next_attempt, platform_id, last_error
		FROM outbox WHERE status = 'pending' AND next_attempt <= ? ORDER BY next_attempt, id LIMIT ?`, ts(now), limit)
	if err != nil {
		return nil, fmt.Errorf("due outbox: %w", err)
	}
	defer rows.Close()
	var out []bot.OutboxItem
	for rows.Next() {
		it, err := db.scanOutbox(ctx, rows)
		if err != nil {
			return nil, fmt.Errorf("due outbox: %w", err)
		}
		out = append(out, it)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("due outbox: %w", err)
	}
	return out, nil
}

func (db *DB) scanOutbox(ctx context.Context, rows interface{ Scan(...any) error }) (bot.OutboxItem, error) {
	var it bot.OutboxItem
	var draftID sql.NullInt64
	var subject, platform, status string
	var chat, text []byte
	var next int64
	var platformID sql.NullString
	if err := rows.Scan(&it.ID, &draftID, &subject, &platform, &chat, &text, &status, &it.Attempts, &next, &platformID, &it.LastError); err != nil {
		return bot.OutboxItem{}, err
	}
	it.DraftID, it.Subject, it.Platform, it.Status = draftID.Int64, bot.SubjectID(subject), bot.Platform(platform), bot.MessageStatus(status)
	it.NextAttempt, it.PlatformID = fromTS(next), bot.MessageID(platformID.String)
	sk, err := db.subjectKey(ctx, it.Subject)
	if err != nil {
		return bot.OutboxItem{}, err
	}
	c, err := sk.openString("outbox", "chat", chat)
	if err != nil {
		return bot.OutboxItem{}, err
	}
	it.Chat = bot.ChatID(c)
	if it.Text, err = sk.openString("outbox", "text", text); err != nil {
		return bot.OutboxItem{}, err
	}
	return it, nil
}

// MarkSent records a successful send in one transaction: the outbox row
// becomes sent with the platform's id, an outbound message row (text sealed)
// is written, and the draft's status becomes sent. Marking a sent item again
// changes nothing.
func (db *DB) MarkSent(ctx context.Context, outboxID int64, platformID bot.MessageID, at time.Time) error {
	if at.IsZero() {
		at = db.now()
	}
	err := db.tx(ctx, func(tx *sql.Tx) error {
		it, err := db.scanOutbox(ctx, tx.QueryRowContext(ctx, `SELECT id, draft_id, subject_id, platform, chat, text, status, attempts, next_attempt, platform_id, last_error
			FROM outbox WHERE id = ?`, outboxID))
		if err != nil {
			return notFound(err)
		}
		if it.Status != bot.StatusPending && it.Status != bot.StatusFailed {
			return nil // already sent (and maybe delivered): idempotent
		}
		sk, err := db.subjectKey(ctx, it.Subject)
		if err != nil {
			return err
		}
		now := ts(db.now())
		if _, err := tx.ExecContext(ctx, "UPDATE outbox SET status = 'sent', platform_id = ?, attempts = attempts + 1, updated_at = ? WHERE id = ?",
			nullString(string(platformID)), now, outboxID); err != nil {
			return fmt.Errorf("update outbox: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO messages (subject_id, platform, chat_bidx, chat, platform_id, dir, kind, text, sent_at, stored_at, status)
			VALUES (?, ?, ?, ?, ?, 'out', 'text', ?, ?, ?, 'sent') ON CONFLICT DO NOTHING`,
			string(it.Subject), string(it.Platform), db.keys.chatIndex(it.Chat), sk.seal("messages", "chat", []byte(it.Chat)),
			nullString(string(platformID)), sk.sealString("messages", "text", it.Text), ts(at), now); err != nil {
			return fmt.Errorf("insert outbound message: %w", err)
		}
		if it.DraftID != 0 {
			if _, err := tx.ExecContext(ctx, "UPDATE drafts SET status = 'sent', updated_at = ? WHERE id = ?", now, it.DraftID); err != nil {
				return fmt.Errorf("update draft: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("mark sent %d: %w", outboxID, err)
	}
	return nil
}

// MarkRetry schedules another attempt of a pending item; lastErr must not
// hold message text (it is stored and shown to operators).
func (db *DB) MarkRetry(ctx context.Context, outboxID int64, next time.Time, lastErr string) error {
	return db.updateOutbox(ctx, "mark retry", outboxID,
		"attempts = attempts + 1, next_attempt = ?, last_error = ?", ts(next), truncErr(lastErr))
}

// MarkFailed gives up on a pending item.
func (db *DB) MarkFailed(ctx context.Context, outboxID int64, lastErr string) error {
	return db.updateOutbox(ctx, "mark failed", outboxID,
		"status = 'failed', attempts = attempts + 1, last_error = ?", truncErr(lastErr))
}

func (db *DB) updateOutbox(ctx context.Context, op string, id int64, set string, args ...any) error {
	err := db.tx(ctx, func(tx *sql.Tx) error {
		var status string
		if err := tx.QueryRowContext(ctx, "SELECT status FROM outbox WHERE id = ?", id).Scan(&status); err != nil {
			return notFound(err)
		}
		if status != string(bot.StatusPending) {
			return errors.New("item is not pending")
		}
		_, err := tx.ExecContext(ctx, "UPDATE outbox SET "+set+", updated_at = ? WHERE id = ?", append(args, ts(db.now()), id)...)
		return err
	})
	if err != nil {
		return fmt.Errorf("%s %d: %w", op, id, err)
	}
	return nil
}

func truncErr(s string) string {
	if len(s) <= maxErrLen {
		return s
	}
	return strings.ToValidUTF8(s[:maxErrLen], "") // drops a rune cut in half
}

// rankSQL is MessageStatus.Rank as an SQL expression over column col.
func rankSQL(col string) string {
	var b strings.Builder
	b.WriteString("CASE " + col)
	for _, s := range []bot.MessageStatus{bot.StatusPending, bot.StatusSent, bot.StatusDelivered, bot.StatusRead, bot.StatusFailed} {
		fmt.Fprintf(&b, " WHEN '%s' THEN %d", s, s.Rank())
	}
	b.WriteString(" ELSE 0 END")
	return b.String()
}

// ApplyReceipt raises the status of the sent messages named by platform,
// chat and platform ids, in the outbox and the outbound message rows. It
// never lowers a status (bot.MessageStatus.Rank) and returns the ids of the
// drafts whose reply changed.
func (db *DB) ApplyReceipt(ctx context.Context, r bot.Receipt) ([]int64, error) {
	if r.Status.Rank() == 0 {
		return nil, errors.New("apply receipt: unknown status")
	}
	if len(r.IDs) == 0 {
		return nil, nil
	}
	chatIdx := db.keys.chatIndex(r.Chat)
	var drafts []int64
	err := db.tx(ctx, func(tx *sql.Tx) error {
		now := ts(db.now())
		seen := map[int64]bool{}
		for _, id := range r.IDs {
			if id == "" {
				continue
			}
			ids, err := queryIDs(ctx, tx, `UPDATE outbox SET status = ?1, updated_at = ?2
				WHERE platform = ?3 AND chat_bidx = ?4 AND platform_id = ?5 AND `+rankSQL("status")+` < ?6
				RETURNING COALESCE(draft_id, 0)`, string(r.Status), now, string(r.Platform), chatIdx, string(id), r.Status.Rank())
			if err != nil {
				return fmt.Errorf("update outbox: %w", err)
			}
			for _, d := range ids {
				if d != 0 && !seen[d] {
					seen[d] = true
					drafts = append(drafts, d)
				}
			}
			if _, err := tx.ExecContext(ctx, `UPDATE messages SET status = ?1
				WHERE platform = ?2 AND chat_bidx = ?3 AND platform_id = ?4 AND dir = 'out' AND `+rankSQL("status")+` < ?5`,
				string(r.Status), string(r.Platform), chatIdx, string(id), r.Status.Rank()); err != nil {
				return fmt.Errorf("update message: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("apply receipt: %w", err)
	}
	return drafts, nil
}
