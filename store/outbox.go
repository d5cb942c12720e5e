package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/switchboard/switchboard/bot"
)

// maxErrLen bounds a stored operator-facing error string.
const maxErrLen = 500

// outboxCols are the columns scanOutbox reads.
const outboxCols = "id, draft_id, subject_id, platform, chat, text, status, attempts, next_attempt, platform_id, last_error, key, reason, sending_at, waiting, kind, template, template_lang, template_params"

// templateFirstName is outbox.template_params for a template whose {{1}}
// is the customer's first name.
const templateFirstName = "first_name"

// newOutboxKey returns a fresh idempotency key for an outbox row: random,
// no personal data, fit for a platform's callback field.
func newOutboxKey() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic("store: crypto/rand failed: " + err.Error())
	}
	return "ob_" + hex.EncodeToString(b)
}

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
	items, err := db.queryOutbox(ctx, read, "WHERE status = 'pending' AND next_attempt <= ? ORDER BY next_attempt, id LIMIT ?", ts(now), limit)
	if err != nil {
		return nil, fmt.Errorf("due outbox: %w", err)
	}
	return items, nil
}

// InDoubt returns up to limit items whose send is in doubt (status
// sending), oldest first.
func (db *DB) InDoubt(ctx context.Context, limit int) ([]bot.OutboxItem, error) {
	_, read, _, err := db.handles()
	if err != nil {
		return nil, err
	}
	if limit <= 0 {
		return nil, nil
	}
	items, err := db.queryOutbox(ctx, read, "WHERE status = 'sending' ORDER BY id LIMIT ?", limit)
	if err != nil {
		return nil, fmt.Errorf("in-doubt outbox: %w", err)
	}
	return items, nil
}

func (db *DB) queryOutbox(ctx context.Context, q querier, where string, args ...any) ([]bot.OutboxItem, error) {
	rows, err := q.QueryContext(ctx, "SELECT "+outboxCols+" FROM outbox "+where, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []bot.OutboxItem
	for rows.Next() {
		it, err := db.scanOutbox(ctx, rows)
		if err != nil {
			return nil, err
		}
		out = append(out, it)
	}
	return out, rows.Err()
}

func (db *DB) scanOutbox(ctx context.Context, rows interface{ Scan(...any) error }) (bot.OutboxItem, error) {
	var it bot.OutboxItem
	var draftID sql.NullInt64
	var subject, platform, status, waiting, kind, params string
	var chat, text []byte
	var next, sendingAt int64
	var platformID sql.NullString
	if err := rows.Scan(&it.ID, &draftID, &subject, &platform, &chat, &text, &status, &it.Attempts, &next, &platformID, &it.LastError,
		&it.Key, &it.Reason, &sendingAt, &waiting, &kind, &it.Template.Name, &it.Template.Language, &params); err != nil {
		return bot.OutboxItem{}, err
	}
	it.Kind, it.Template.FirstName = bot.OutboxKind(kind), params == templateFirstName
	it.DraftID, it.Subject, it.Platform, it.Status = draftID.Int64, bot.SubjectID(subject), bot.Platform(platform), bot.MessageStatus(status)
	it.NextAttempt, it.PlatformID, it.SendingAt, it.Waiting = fromTS(next), bot.MessageID(platformID.String), fromTS(sendingAt), bot.Platform(waiting)
	sk, err := db.subjectKey(ctx, it.Subject)
	if err != nil {
		return bot.OutboxItem{}, err
	}
	row := rowID(it.ID)
	c, err := sk.openString("outbox", "chat", row, chat)
	if err != nil {
		return bot.OutboxItem{}, err
	}
	it.Chat = bot.ChatID(c)
	if it.Text, err = sk.openString("outbox", "text", row, text); err != nil {
		return bot.OutboxItem{}, err
	}
	return it, nil
}

// BeginSend marks a pending item sending, committed before the channel is
// called, so that a crash during the send leaves it in doubt (InDoubt)
// instead of pending: a pending item is certainly unsent.
func (db *DB) BeginSend(ctx context.Context, outboxID int64, at time.Time) error {
	if at.IsZero() {
		at = db.now()
	}
	return db.updateOutbox(ctx, "begin send", outboxID, []bot.MessageStatus{bot.StatusPending},
		"status = 'sending', sending_at = ?, waiting = ''", ts(at))
}

// notSent are the statuses of an item whose send was not recorded yet.
func notSent(s bot.MessageStatus) bool {
	switch s {
	case bot.StatusPending, bot.StatusSending, bot.StatusUnconfirmed, bot.StatusFailed:
		return true
	}
	return false
}

// MarkSent records a successful send in one transaction: the outbox row
// becomes sent with the platform's id, an outbound message row (text sealed)
// is written, and the draft's status becomes sent. Marking a sent item again
// (or one a receipt settled first) changes nothing.
func (db *DB) MarkSent(ctx context.Context, outboxID int64, platformID bot.MessageID, at time.Time) error {
	if at.IsZero() {
		at = db.now()
	}
	err := db.tx(ctx, func(tx *sql.Tx) error {
		it, err := db.scanOutbox(ctx, tx.QueryRowContext(ctx, "SELECT "+outboxCols+" FROM outbox WHERE id = ?", outboxID))
		if err != nil {
			return notFound(err)
		}
		if !notSent(it.Status) {
			return nil // already sent (and maybe delivered): idempotent
		}
		return db.settleSent(ctx, tx, it, platformID, bot.StatusSent, at, true)
	})
	if err != nil {
		return fmt.Errorf("mark sent %d: %w", outboxID, err)
	}
	return nil
}

// settleSent records in tx that item it went out with platform id pid: the
// outbox row takes status (sent or higher), and for a reply an outbound
// message row is written and the draft becomes sent (a template leaves the
// draft waiting for the customer's answer). attempt counts an attempt (a
// send of this process, not a receipt).
func (db *DB) settleSent(ctx context.Context, tx *sql.Tx, it bot.OutboxItem, pid bot.MessageID, status bot.MessageStatus, at time.Time, attempt bool) error {
	sk, err := db.subjectKey(ctx, it.Subject)
	if err != nil {
		return err
	}
	now := ts(db.now())
	inc := 0
	if attempt {
		inc = 1
	}
	if _, err := tx.ExecContext(ctx, `UPDATE outbox SET status = ?, platform_id = COALESCE(?, platform_id), attempts = attempts + ?,
		sending_at = 0, waiting = '', reason = '', updated_at = ? WHERE id = ?`,
		string(status), nullString(string(pid)), inc, now, it.ID); err != nil {
		return fmt.Errorf("update outbox: %w", err)
	}
	if it.Kind == bot.OutboxTemplate {
		return nil
	}
	id, err := db.nextID(ctx, tx, "messages")
	if err != nil {
		return err
	}
	row := rowID(id)
	if _, err := tx.ExecContext(ctx, `INSERT INTO messages (id, subject_id, platform, chat_bidx, chat, platform_id, dir, kind, text, sent_at, stored_at, status)
		VALUES (?, ?, ?, ?, ?, ?, 'out', 'text', ?, ?, ?, ?) ON CONFLICT (platform, chat_bidx, platform_id) DO NOTHING`,
		id, string(it.Subject), string(it.Platform), db.keys.chatIndex(it.Chat), sk.seal("messages", "chat", row, []byte(it.Chat)),
		nullString(string(pid)), sk.sealString("messages", "text", row, it.Text), ts(at), now, string(status)); err != nil {
		return fmt.Errorf("insert outbound message: %w", err)
	}
	if it.DraftID != 0 {
		if _, err := tx.ExecContext(ctx, "UPDATE drafts SET status = 'sent', updated_at = ? WHERE id = ?", now, it.DraftID); err != nil {
			return fmt.Errorf("update draft: %w", err)
		}
	}
	return nil
}

// MarkRetry schedules another attempt of a pending or sending item;
// lastErr must not hold message text (it is stored and shown to operators).
func (db *DB) MarkRetry(ctx context.Context, outboxID int64, next time.Time, lastErr string) error {
	return db.updateOutbox(ctx, "mark retry", outboxID, []bot.MessageStatus{bot.StatusPending, bot.StatusSending},
		"status = 'pending', sending_at = 0, attempts = attempts + 1, next_attempt = ?, last_error = ?", ts(next), truncErr(lastErr))
}

// Postpone makes a pending or sending item pending at next without
// counting an attempt; waiting is the platform it waits for ("" none).
func (db *DB) Postpone(ctx context.Context, outboxID int64, next time.Time, waiting bot.Platform) error {
	return db.updateOutbox(ctx, "postpone", outboxID, []bot.MessageStatus{bot.StatusPending, bot.StatusSending},
		"status = 'pending', sending_at = 0, next_attempt = ?, waiting = ?", ts(next), string(waiting))
}

// MarkFailed gives up on a pending, sending or unconfirmed item; reason
// says why in plain words for staff.
func (db *DB) MarkFailed(ctx context.Context, outboxID int64, lastErr, reason string) error {
	return db.updateOutbox(ctx, "mark failed", outboxID, []bot.MessageStatus{bot.StatusPending, bot.StatusSending, bot.StatusUnconfirmed},
		"status = 'failed', sending_at = 0, waiting = '', attempts = attempts + 1, last_error = ?, reason = ?", truncErr(lastErr), truncErr(reason))
}

// MarkUnconfirmed gives up waiting for a receipt of a sending item.
func (db *DB) MarkUnconfirmed(ctx context.Context, outboxID int64, reason string) error {
	return db.updateOutbox(ctx, "mark unconfirmed", outboxID, []bot.MessageStatus{bot.StatusSending},
		"status = 'unconfirmed', sending_at = 0, attempts = attempts + 1, reason = ?", truncErr(reason))
}

// errNotInState is returned when an outbox item is not in a state the
// update applies to (another path settled it first).
var errNotInState = errors.New("outbox item is not in that state")

func (db *DB) updateOutbox(ctx context.Context, op string, id int64, from []bot.MessageStatus, set string, args ...any) error {
	err := db.tx(ctx, func(tx *sql.Tx) error {
		var status string
		if err := tx.QueryRowContext(ctx, "SELECT status FROM outbox WHERE id = ?", id).Scan(&status); err != nil {
			return notFound(err)
		}
		if !slices.Contains(from, bot.MessageStatus(status)) {
			return fmt.Errorf("%w (%s)", errNotInState, status)
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
	for _, s := range bot.OutboundStatuses {
		fmt.Fprintf(&b, " WHEN '%s' THEN %d", s, s.Rank())
	}
	b.WriteString(" ELSE 0 END")
	return b.String()
}

// ApplyReceipt raises the status of the sent messages named by platform,
// chat and platform ids, in the outbox and the outbound message rows. It
// never lowers a status (bot.MessageStatus.Rank) and returns the ids of the
// drafts whose reply changed.
//
// A receipt with a Key (the platform echoed Outbound.Key) first settles the
// outbox row of that key, whatever its state: a row not yet recorded as
// sent (pending, sending in doubt after a crash, unconfirmed) becomes sent,
// delivered or read with the receipt's first id as its platform id, as
// MarkSent would have made it; a failed receipt marks the row failed with
// the receipt's Reason.
func (db *DB) ApplyReceipt(ctx context.Context, r bot.Receipt) ([]int64, error) {
	switch r.Status {
	case bot.StatusSent, bot.StatusDelivered, bot.StatusRead, bot.StatusFailed:
	default:
		return nil, errors.New("apply receipt: unknown status")
	}
	if len(r.IDs) == 0 && r.Key == "" {
		return nil, nil
	}
	chatIdx := db.keys.chatIndex(r.Chat)
	var drafts []int64
	err := db.tx(ctx, func(tx *sql.Tx) error {
		now := ts(db.now())
		seen := map[int64]bool{}
		if r.Key != "" {
			d, err := db.receiptByKey(ctx, tx, r)
			if err != nil {
				return err
			}
			if d != 0 {
				seen[d] = true
				drafts = append(drafts, d)
			}
		}
		var people []string // the recipients' subjects, looked up once if needed
		for _, id := range r.IDs {
			if id == "" {
				continue
			}
			// The message in the receipt's chat; else in another chat of
			// the person the receipt names (a reply sent to their user id
			// whose status names only their number, or the reverse).
			where, args := "chat_bidx = ?", []any{chatIdx}
			if !db.sentIn(ctx, tx, r.Platform, chatIdx, id) {
				if people == nil {
					var err error
					if people, err = db.recipientSubjects(ctx, tx, r.Recipients); err != nil {
						return err
					}
				}
				if len(people) == 0 {
					continue
				}
				where, args = "subject_id IN (?"+strings.Repeat(", ?", len(people)-1)+")", nil
				for _, p := range people {
					args = append(args, p)
				}
			}
			ids, err := queryIDs(ctx, tx, `UPDATE outbox SET status = ?, updated_at = ?
				WHERE platform = ? AND platform_id = ? AND `+rankSQL("status")+` < ? AND `+where+`
				RETURNING COALESCE(draft_id, 0)`, append([]any{string(r.Status), now, string(r.Platform), string(id), r.Status.Rank()}, args...)...)
			if err != nil {
				return fmt.Errorf("update outbox: %w", err)
			}
			for _, d := range ids {
				if d != 0 && !seen[d] {
					seen[d] = true
					drafts = append(drafts, d)
				}
			}
			if _, err := tx.ExecContext(ctx, `UPDATE messages SET status = ?
				WHERE platform = ? AND platform_id = ? AND dir = 'out' AND `+rankSQL("status")+` < ? AND `+where,
				append([]any{string(r.Status), string(r.Platform), string(id), r.Status.Rank()}, args...)...); err != nil {
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

// sentIn reports whether chatIdx holds a sent message (outbox row or
// outbound message) with platform id id.
func (db *DB) sentIn(ctx context.Context, tx *sql.Tx, p bot.Platform, chatIdx []byte, id bot.MessageID) bool {
	var n int
	err := tx.QueryRowContext(ctx, `SELECT (SELECT count(*) FROM outbox WHERE platform = ?1 AND chat_bidx = ?2 AND platform_id = ?3)
		+ (SELECT count(*) FROM messages WHERE platform = ?1 AND chat_bidx = ?2 AND platform_id = ?3 AND dir = 'out')`,
		string(p), chatIdx, string(id)).Scan(&n)
	return err != nil || n > 0 // on error, the receipt's chat only, as before
}

// recipientSubjects returns the subjects the identities belong to (none
// for unknown identities; the empty list, not nil, when there are none).
func (db *DB) recipientSubjects(ctx context.Context, tx *sql.Tx, ids []bot.Identity) ([]string, error) {
	out := []string{}
	if len(ids) == 0 {
		return out, nil
	}
	keys, err := db.identityKeys(ids)
	if err != nil {
		return out, nil // a malformed identity names nobody
	}
	found, err := db.lookupIdentities(ctx, tx, keys)
	if err != nil {
		return nil, fmt.Errorf("receipt recipients: %w", err)
	}
	seen := map[bot.SubjectID]bool{}
	for _, s := range found {
		if !seen[s] {
			seen[s] = true
			out = append(out, string(s))
		}
	}
	slices.Sort(out)
	return out, nil
}

// receiptByKey applies a receipt to the outbox row of its Key and returns
// the row's draft id if the row changed (0 if not, or for no draft).
func (db *DB) receiptByKey(ctx context.Context, tx *sql.Tx, r bot.Receipt) (int64, error) {
	it, err := db.scanOutbox(ctx, tx.QueryRowContext(ctx, "SELECT "+outboxCols+" FROM outbox WHERE key = ? AND platform = ?", r.Key, string(r.Platform)))
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil // not ours, or its subject was erased
	}
	if err != nil {
		return 0, fmt.Errorf("receipt key: %w", err)
	}
	if it.Status.Rank() >= r.Status.Rank() {
		return 0, nil
	}
	log := db.log.With().Int64("outbox", it.ID).Str("from", string(it.Status)).Str("to", string(r.Status)).Logger()
	if r.Status == bot.StatusFailed {
		reason := "The platform could not deliver it."
		if r.Reason != "" {
			reason = "The platform could not deliver it: " + r.Reason + "."
		}
		if _, err := tx.ExecContext(ctx, "UPDATE outbox SET status = 'failed', sending_at = 0, last_error = ?, reason = ?, updated_at = ? WHERE id = ?",
			truncErr(r.Reason), truncErr(reason), ts(db.now()), it.ID); err != nil {
			return 0, fmt.Errorf("receipt key: %w", err)
		}
		log.Info().Msg("outbox item failed by a receipt")
		return it.DraftID, nil
	}
	if notSent(it.Status) {
		var pid bot.MessageID
		if len(r.IDs) > 0 {
			pid = r.IDs[0]
		}
		at := r.At
		if at.IsZero() {
			at = db.now()
		}
		if err := db.settleSent(ctx, tx, it, pid, r.Status, at, false); err != nil {
			return 0, fmt.Errorf("receipt key: %w", err)
		}
		if it.Status == bot.StatusSending || it.Status == bot.StatusUnconfirmed {
			log.Info().Str("resolution", "receipt").Msg("in-doubt send settled")
		}
		return it.DraftID, nil
	}
	if _, err := tx.ExecContext(ctx, "UPDATE outbox SET status = ?, updated_at = ? WHERE id = ?", string(r.Status), ts(db.now()), it.ID); err != nil {
		return 0, fmt.Errorf("receipt key: %w", err)
	}
	// Its outbound message row, in the chat it was sent to (which may not
	// be the receipt's).
	if it.PlatformID != "" {
		if _, err := tx.ExecContext(ctx, `UPDATE messages SET status = ?1 WHERE platform = ?2 AND chat_bidx = ?3 AND platform_id = ?4 AND dir = 'out' AND `+
			rankSQL("status")+` < ?5`, string(r.Status), string(it.Platform), db.keys.chatIndex(it.Chat), string(it.PlatformID), r.Status.Rank()); err != nil {
			return 0, fmt.Errorf("receipt key: %w", err)
		}
	}
	return it.DraftID, nil
}
