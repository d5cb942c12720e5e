package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/switchboard/switchboard/bot"
)

var _ bot.ClosedAckStore = (*DB)(nil)

// QueueClosedAck records, in one transaction, that the chat's closed
// period a.Until was acknowledged (a closed_acks row naming the subject)
// and queues a.Text in the outbox: a pending row of its own with a fresh
// key and no draft, chat and text sealed under the subject's key. Both
// name the subject the message row names now (a merge may have moved it).
// A period of the chat acknowledged before gives false and changes
// nothing. A message that is gone (erased, revoked) gives bot.ErrNotFound.
func (db *DB) QueueClosedAck(ctx context.Context, a bot.ClosedAck) (bool, error) {
	if a.Subject == "" || a.Platform == "" || a.Chat == "" || a.MessageID == 0 || a.Text == "" {
		return false, errors.New("queue closed-hours reply: subject, platform, chat, message and text are required")
	}
	at := a.At
	if at.IsZero() {
		at = db.now()
	}
	period, until := ts(a.Until), ts(a.Until)
	if a.Until.IsZero() {
		until = math.MaxInt64
	}
	chatIdx := db.keys.chatIndex(a.Chat)
	queued := false
	err := db.tx(ctx, func(tx *sql.Tx) error {
		// The message row names its subject as it is now (a merge may have
		// moved it since the router read it).
		var fromAt int64
		var subject string
		err := tx.QueryRowContext(ctx, "SELECT stored_at, subject_id FROM messages WHERE id = ?", a.MessageID).Scan(&fromAt, &subject)
		if err != nil {
			return notFound(err)
		}
		a.Subject = bot.SubjectID(subject)
		var n int
		if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM closed_acks WHERE platform = ? AND chat_bidx = ? AND period = ?",
			string(a.Platform), chatIdx, period).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return nil
		}
		sk, err := db.subjectKey(ctx, a.Subject)
		if errors.Is(err, errKeyGone) {
			return bot.ErrNotFound
		}
		if err != nil {
			return err
		}
		now := ts(at)
		outboxID, err := db.nextID(ctx, tx, "outbox")
		if err != nil {
			return err
		}
		row := rowID(outboxID)
		if _, err := tx.ExecContext(ctx, `INSERT INTO outbox (id, draft_id, subject_id, platform, chat_bidx, chat, text, status, attempts, next_attempt, created_at, updated_at, key)
			VALUES (?, NULL, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?)`, outboxID, string(a.Subject), string(a.Platform), chatIdx,
			sk.seal("outbox", "chat", row, []byte(a.Chat)), sk.seal("outbox", "text", row, []byte(a.Text)), string(bot.StatusPending),
			now, now, now, newOutboxKey()); err != nil {
			return fmt.Errorf("insert outbox: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO closed_acks (subject_id, platform, chat_bidx, period, from_at, until, outbox_id, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, string(a.Subject), string(a.Platform), chatIdx, period, fromAt, until, outboxID, now); err != nil {
			if isUnique(err) {
				return errAcknowledged // rolls the outbox row back
			}
			return fmt.Errorf("insert closed ack: %w", err)
		}
		queued = true
		return nil
	})
	if errors.Is(err, errAcknowledged) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("queue closed-hours reply: %w", err)
	}
	return queued, nil
}

// errAcknowledged: another transaction recorded the period first.
var errAcknowledged = errors.New("closed period already acknowledged")

// ClosedAckOf returns the closed period of the closed-hours reply queued
// as outbox item outboxID and the drafts whose cards show it: those
// answering the subject's messages of that chat stored from the
// acknowledged message until the business opened again, oldest first (at
// most 50). An item that is no closed-hours reply gives bot.ErrNotFound.
func (db *DB) ClosedAckOf(ctx context.Context, outboxID int64) (bot.ClosedAckInfo, error) {
	_, read, _, err := db.handles()
	if err != nil {
		return bot.ClosedAckInfo{}, err
	}
	var period int64
	if err := read.QueryRowContext(ctx, "SELECT period FROM closed_acks WHERE outbox_id = ?", outboxID).Scan(&period); err != nil {
		return bot.ClosedAckInfo{}, fmt.Errorf("closed-hours reply %d: %w", outboxID, notFound(err))
	}
	ids, err := queryIDs(ctx, read, `SELECT d.id FROM closed_acks a
		JOIN drafts d ON d.subject_id = a.subject_id AND d.platform = a.platform AND d.chat_bidx = a.chat_bidx
		JOIN messages m ON m.id = d.message_id
		WHERE a.outbox_id = ? AND m.stored_at >= a.from_at AND m.stored_at < a.until
		ORDER BY d.id LIMIT 50`, outboxID)
	if err != nil {
		return bot.ClosedAckInfo{}, fmt.Errorf("closed-hours reply drafts: %w", err)
	}
	return bot.ClosedAckInfo{Until: fromTS(period), Drafts: ids}, nil
}

// closedReplyOf returns the closed-hours reply shown on the card of a
// draft of the chat whose message was stored at stored (the draft's
// creation if the message is gone): the latest one acknowledged from a
// message stored no later, in a period that had not ended by then. nil for
// none.
func closedReplyOf(ctx context.Context, q querier, platform bot.Platform, chatIdx []byte, stored, created time.Time) (*bot.ClosedReply, error) {
	if stored.IsZero() {
		stored = created
	}
	storedAt := ts(stored)
	var status, reason string
	var sentAt, updatedAt int64
	err := q.QueryRowContext(ctx, `SELECT o.status, o.reason, COALESCE(m.sent_at, 0), o.updated_at FROM closed_acks a
		JOIN outbox o ON o.id = a.outbox_id
		LEFT JOIN messages m ON m.platform = o.platform AND m.chat_bidx = o.chat_bidx AND m.platform_id = o.platform_id AND m.dir = 'out'
		WHERE a.platform = ? AND a.chat_bidx = ? AND a.from_at <= ? AND a.until > ?
		ORDER BY a.id DESC LIMIT 1`, string(platform), chatIdx, storedAt, storedAt).Scan(&status, &reason, &sentAt, &updatedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("closed-hours reply: %w", err)
	}
	r := &bot.ClosedReply{Status: bot.MessageStatus(status), Reason: reason}
	if r.Status.Rank() >= bot.StatusSent.Rank() && r.Status != bot.StatusFailed {
		if sentAt == 0 {
			sentAt = updatedAt // sent without a platform id
		}
		r.SentAt = fromTS(sentAt)
	}
	return r, nil
}

// deleteClosedAcks deletes subject s's closed-hours records inside its
// erasure's transaction, before the outbox rows they name, and counts
// them (only when there were some, as media are).
func deleteClosedAcks(ctx context.Context, tx *sql.Tx, s bot.SubjectID, counts map[string]int) error {
	res, err := tx.ExecContext(ctx, "DELETE FROM closed_acks WHERE subject_id = ?", string(s))
	if err != nil {
		return fmt.Errorf("closed_acks: %w", err)
	}
	if n, _ := res.RowsAffected(); n > 0 {
		counts["closed_acks"] = int(n)
	}
	return nil
}

// countClosedAcks adds subject s's closed-hours records to counts as
// DeleteSubject reports them.
func countClosedAcks(ctx context.Context, q querier, s bot.SubjectID, counts map[string]int) error {
	var n int
	if err := q.QueryRowContext(ctx, "SELECT count(*) FROM closed_acks WHERE subject_id = ?", string(s)).Scan(&n); err != nil {
		return fmt.Errorf("count closed_acks: %w", err)
	}
	if n > 0 {
		counts["closed_acks"] = n
	}
	return nil
}

// exportClosedAcks streams subject s's closed-hours records to fn as
// bot.ClosedAck (Subject, Platform, Until, At), oldest first; the reply's
// text is the outbox row's.
func (db *DB) exportClosedAcks(ctx context.Context, q querier, s bot.SubjectID, fn func(kind string, v any) error) error {
	rows, err := q.QueryContext(ctx, "SELECT platform, period, created_at FROM closed_acks WHERE subject_id = ? ORDER BY id", string(s))
	if err != nil {
		return err
	}
	var out []bot.ClosedAck
	for rows.Next() {
		var platform string
		var period, created int64
		if err := rows.Scan(&platform, &period, &created); err != nil {
			_ = rows.Close()
			return err
		}
		out = append(out, bot.ClosedAck{Subject: s, Platform: bot.Platform(platform), Until: fromTS(period), At: fromTS(created)})
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return err
	}
	for _, a := range out {
		if err := fn(ExportClosedAck, a); err != nil {
			return err
		}
	}
	return nil
}
