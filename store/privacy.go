package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/switchboard/switchboard/bot"
)

// Export kinds passed to ExportSubject's fn, in the order they come, with
// the type of v:
//
//	"subject"     bot.Subject
//	"identity"    bot.Identity
//	"message"     bot.Message       (both directions)
//	"media"       bot.Media         (attachments, without their bytes: OpenMedia reads those)
//	"draft"       bot.Draft         (drafts answering the subject)
//	"decision"    DecisionRecord    (decisions on the subject's drafts, with edited text)
//	"decision-by" DecisionRecord    (decisions the subject took as staff, without the reply text)
//	"outbox"      bot.OutboxItem    (replies to the subject not yet sent or failed)
//	"closed-ack"  bot.ClosedAck     (closed periods the subject got the closed-hours reply for; Platform, Until, At)
//	"card"        bot.CardRef
//	"request"     bot.Request       (requests the subject made)
//	"audit"       bot.AuditEntry    (entries naming the subject as actor or subject)
const (
	ExportSubjectKind = "subject"
	ExportIdentity    = "identity"
	ExportMessage     = "message"
	ExportMedia       = "media"
	ExportDraft       = "draft"
	ExportDecision    = "decision"
	ExportDecisionBy  = "decision-by"
	ExportOutbox      = "outbox"
	ExportClosedAck   = "closed-ack"
	ExportCard        = "card"
	ExportRequest     = "request"
	ExportAudit       = "audit"
)

// ExportSubject streams every stored row of subject s, decrypted, to fn (see
// the Export kinds for order and types). Each table's rows are read and
// closed before fn sees them, so fn may call the store and no read
// transaction outlives a table. fn's error stops the export and is returned.
func (db *DB) ExportSubject(ctx context.Context, s bot.SubjectID, fn func(kind string, v any) error) error {
	_, read, _, err := db.handles()
	if err != nil {
		return err
	}
	wrap := func(what string, err error) error { return fmt.Errorf("export subject: %s: %w", what, err) }
	sub, err := db.loadSubject(ctx, read, s)
	if err != nil {
		return wrap("subject", err)
	}
	if err := fn(ExportSubjectKind, sub); err != nil {
		return err
	}
	ids, err := db.identities(ctx, read, s)
	if err != nil {
		return wrap("identities", err)
	}
	for _, id := range ids {
		if err := fn(ExportIdentity, id); err != nil {
			return err
		}
	}
	// Messages in pages, so a long history is not held in memory at once.
	for after := int64(0); ; {
		ms, err := db.queryMessages(ctx, read, "SELECT "+messageCols+" FROM messages WHERE subject_id = ? AND id > ? ORDER BY id LIMIT 500",
			string(s), after)
		if err != nil {
			return wrap("messages", err)
		}
		for _, m := range ms {
			if err := fn(ExportMessage, m); err != nil {
				return err
			}
			after = m.ID
		}
		if len(ms) < 500 {
			break
		}
	}
	media, err := db.queryMedia(ctx, read, "WHERE subject_id = ? ORDER BY id", string(s))
	if err != nil {
		return wrap("media", err)
	}
	for _, m := range media {
		if err := fn(ExportMedia, m); err != nil {
			return err
		}
	}
	draftIDs, err := queryIDs(ctx, read, "SELECT id FROM drafts WHERE subject_id = ? ORDER BY id", string(s))
	if err != nil {
		return wrap("drafts", err)
	}
	for _, id := range draftIDs {
		d, _, err := db.loadDraftRow(ctx, read, id)
		if err != nil {
			return wrap("drafts", notFound(err))
		}
		if err := fn(ExportDraft, d.Draft); err != nil {
			return err
		}
	}
	decs, err := db.queryDecisions(ctx, read, "WHERE d.subject_id = ?", true, string(s))
	if err != nil {
		return wrap("decisions", err)
	}
	for _, d := range decs {
		if err := fn(ExportDecision, d); err != nil {
			return err
		}
	}
	decs, err = db.queryDecisions(ctx, read, "WHERE d.by_subject = ? AND d.subject_id <> ?", false, string(s), string(s))
	if err != nil {
		return wrap("decisions by subject", err)
	}
	for _, d := range decs {
		if err := fn(ExportDecisionBy, d); err != nil {
			return err
		}
	}
	items, err := db.outboxOf(ctx, read, s)
	if err != nil {
		return wrap("outbox", err)
	}
	for _, it := range items {
		if err := fn(ExportOutbox, it); err != nil {
			return err
		}
	}
	if err := db.exportClosedAcks(ctx, read, s, fn); err != nil {
		return wrap("closed-hours replies", err)
	}
	cards, err := db.CardsOf(ctx, s)
	if err != nil {
		return wrap("cards", err)
	}
	for _, c := range cards {
		if err := fn(ExportCard, c); err != nil {
			return err
		}
	}
	reqs, err := db.queryRequests(ctx, read, "WHERE requested_by = ? ORDER BY id", string(s))
	if err != nil {
		return wrap("requests", err)
	}
	for _, r := range reqs {
		if err := fn(ExportRequest, r); err != nil {
			return err
		}
	}
	audit, err := db.auditOf(ctx, read, s)
	if err != nil {
		return wrap("audit", err)
	}
	for _, a := range audit {
		if err := fn(ExportAudit, a); err != nil {
			return err
		}
	}
	return nil
}

func (db *DB) outboxOf(ctx context.Context, q querier, s bot.SubjectID) ([]bot.OutboxItem, error) {
	return db.queryOutbox(ctx, q, "WHERE subject_id = ? ORDER BY id", string(s))
}

func (db *DB) auditOf(ctx context.Context, q querier, s bot.SubjectID) ([]bot.AuditEntry, error) {
	rows, err := q.QueryContext(ctx, `SELECT at, actor, action, subject, detail FROM audit
		WHERE id IN (SELECT id FROM audit WHERE subject = ?1 UNION SELECT id FROM audit WHERE actor = ?1) ORDER BY id`, string(s))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []bot.AuditEntry
	for rows.Next() {
		var e bot.AuditEntry
		var at int64
		var actor, subject string
		if err := rows.Scan(&at, &actor, &e.Action, &subject, &e.Detail); err != nil {
			return nil, err
		}
		e.At, e.Actor, e.Subject = fromTS(at), bot.SubjectID(actor), bot.SubjectID(subject)
		out = append(out, e)
	}
	return out, rows.Err()
}

// DeleteSubject erases subject s. In one transaction it deletes, children
// first, every row keyed by s (media, closed-hours records, decisions on
// its drafts, cards, outbox, drafts, messages, identities, the subject) and clears s from decisions it
// took as staff on other subjects' drafts ("decisions_by"); the same
// transaction writes the erasure journal (subject id and step only) and
// queues s's posted cards for removal from the platform (card_removals).
// It unlinks the subject's media files (SweepMedia catches any a crash
// left). Then it destroys
// s's data key in the keys db, so copies of its ciphertext in old backups
// cannot be opened, and checkpoints both databases (TRUNCATE) so the zeroed
// pages replace the old ones on disk. Requests and audit rows hold ids only
// and are kept as evidence.
//
// It returns the rows removed per table ("subject_keys" for the key). An
// unknown subject with no key gives bot.ErrNotFound. A failed checkpoint is
// returned with the counts: the rows are gone but not yet physically. An
// erasure cut off after its rows went (a crash, a failed key deletion) stays
// in the journal and is completed by the next Open; calling DeleteSubject
// again completes it too.
func (db *DB) DeleteSubject(ctx context.Context, s bot.SubjectID) (map[string]int, error) {
	counts, _, err := db.deleteSubject(ctx, s, nil)
	return counts, err
}

// deleteSubject is DeleteSubject; inTx, if not nil, runs last inside the
// transaction that deletes the rows (EraseSubject records the forget
// there). committed reports whether that transaction committed.
func (db *DB) deleteSubject(ctx context.Context, s bot.SubjectID, inTx func(tx *sql.Tx) error) (counts map[string]int, committed bool, err error) {
	if s == "" {
		return nil, false, errors.New("delete subject: empty id")
	}
	counts = map[string]int{}
	steps := []struct{ table, query string }{
		{"decisions_by", "UPDATE decisions SET by_subject = NULL, by_ident = NULL, by_name = NULL WHERE by_subject = ?1 AND subject_id <> ?1"},
		{"decisions", "DELETE FROM decisions WHERE subject_id = ?1"},
		{"cards", "DELETE FROM cards WHERE subject_id = ?1"},
		{"outbox", "DELETE FROM outbox WHERE subject_id = ?1"},
		{"drafts", "DELETE FROM drafts WHERE subject_id = ?1"},
		{"messages", "DELETE FROM messages WHERE subject_id = ?1"},
		{"identities", "DELETE FROM identities WHERE subject_id = ?1"},
		{"subjects", "DELETE FROM subjects WHERE id = ?1"},
	}
	release := db.subjects.hold()
	var files []string
	err = db.tx(ctx, func(tx *sql.Tx) error {
		if err := db.journalErasure(ctx, tx, s); err != nil {
			return err
		}
		if err := db.queueCardRemovals(ctx, tx, s); err != nil {
			return err
		}
		var n int
		var err error
		if files, n, err = deleteMediaRows(ctx, tx, "subject_id = ?", string(s)); err != nil {
			return fmt.Errorf("media: %w", err)
		}
		if n > 0 {
			counts["media"] = n
		}
		if err := deleteClosedAcks(ctx, tx, s, counts); err != nil {
			return err
		}
		for _, st := range steps {
			res, err := tx.ExecContext(ctx, st.query, string(s))
			if err != nil {
				return fmt.Errorf("%s: %w", st.table, err)
			}
			n, _ := res.RowsAffected()
			counts[st.table] += int(n)
		}
		if inTx != nil {
			return inTx(tx)
		}
		return nil
	})
	release()
	if err != nil {
		return nil, false, fmt.Errorf("delete subject: %w", err)
	}
	if err := db.removeMediaFiles(files); err != nil {
		return counts, true, fmt.Errorf("delete subject: %w", err)
	}
	n, err := db.destroySubjectKey(ctx, s)
	if err != nil {
		return counts, true, fmt.Errorf("delete subject: %w", err)
	}
	counts["subject_keys"] = n
	if counts["subjects"] == 0 && n == 0 {
		if err := db.setErasureStep(ctx, s, ""); err != nil {
			return nil, true, fmt.Errorf("delete subject: %w", err)
		}
		return nil, true, fmt.Errorf("delete subject: %w", bot.ErrNotFound)
	}
	if err := db.setErasureStep(ctx, s, eraseStepCheckpoint); err != nil {
		return counts, true, fmt.Errorf("delete subject: %w", err)
	}
	if err := db.Checkpoint(ctx); err != nil {
		return counts, true, fmt.Errorf("delete subject: %w", err)
	}
	if err := db.setErasureStep(ctx, s, ""); err != nil {
		return counts, true, fmt.Errorf("delete subject: %w", err)
	}
	db.log.Info().Str("subject", string(s)).Int("messages", counts["messages"]).Msg("subject erased")
	return counts, true, nil
}

// CountSubject returns what DeleteSubject would remove of subject s, per
// table, with the same keys (without "subject_keys"), so an erasure can be
// described before it is confirmed. An unknown subject gives zero counts.
func (db *DB) CountSubject(ctx context.Context, s bot.SubjectID) (map[string]int, error) {
	_, read, _, err := db.handles()
	if err != nil {
		return nil, err
	}
	var dby, dec, cards, outbox, drafts, msgs, ids, subs int
	err = read.QueryRowContext(ctx, `SELECT
		(SELECT count(*) FROM decisions WHERE by_subject = ?1 AND subject_id <> ?1),
		(SELECT count(*) FROM decisions WHERE subject_id = ?1),
		(SELECT count(*) FROM cards WHERE subject_id = ?1),
		(SELECT count(*) FROM outbox WHERE subject_id = ?1),
		(SELECT count(*) FROM drafts WHERE subject_id = ?1),
		(SELECT count(*) FROM messages WHERE subject_id = ?1),
		(SELECT count(*) FROM identities WHERE subject_id = ?1),
		(SELECT count(*) FROM subjects WHERE id = ?1)`, string(s)).
		Scan(&dby, &dec, &cards, &outbox, &drafts, &msgs, &ids, &subs)
	if err != nil {
		return nil, fmt.Errorf("count subject: %w", err)
	}
	out := map[string]int{"decisions_by": dby, "decisions": dec, "cards": cards, "outbox": outbox,
		"drafts": drafts, "messages": msgs, "identities": ids, "subjects": subs}
	var media int
	if err := read.QueryRowContext(ctx, "SELECT count(*) FROM media WHERE subject_id = ?", string(s)).Scan(&media); err != nil {
		return nil, fmt.Errorf("count subject: %w", err)
	}
	if media > 0 { // as DeleteSubject reports it
		out["media"] = media
	}
	if err := countClosedAcks(ctx, read, s, out); err != nil {
		return nil, fmt.Errorf("count subject: %w", err)
	}
	return out, nil
}

// CreateRequest adds a data-rights request to the register and returns its
// id. Received defaults to now, Due to one calendar month after Received,
// Status to "open".
func (db *DB) CreateRequest(ctx context.Context, r bot.Request) (int64, error) {
	write, _, _, err := db.handles()
	if err != nil {
		return 0, err
	}
	if r.Kind == "" || r.Scope == "" {
		return 0, errors.New("create request: kind and scope are required")
	}
	if r.Received.IsZero() {
		r.Received = db.now()
	}
	if r.Due.IsZero() {
		r.Due = bot.DueDate(r.Received)
	}
	if r.Status == "" {
		r.Status = "open"
	}
	counts, err := json.Marshal(nonNil(r.Counts))
	if err != nil {
		return 0, fmt.Errorf("create request: %w", err)
	}
	res, err := write.ExecContext(ctx, `INSERT INTO requests (kind, scope, received_at, due_at, done_at, requested_by, counts, status)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, string(r.Kind), r.Scope, ts(r.Received), ts(r.Due), ts(r.Done), string(r.RequestedBy), string(counts), r.Status)
	if err != nil {
		return 0, fmt.Errorf("create request: %w", err)
	}
	return res.LastInsertId()
}

func nonNil(m map[string]int) map[string]int {
	if m == nil {
		return map[string]int{}
	}
	return m
}

// CompleteRequest closes a request with a status ("done", "refused",
// "failed"), the row counts and the time.
func (db *DB) CompleteRequest(ctx context.Context, id int64, status string, counts map[string]int, at time.Time) error {
	write, _, _, err := db.handles()
	if err != nil {
		return err
	}
	if status == "" || status == "open" {
		return errors.New("complete request: status must be done, refused or failed")
	}
	if at.IsZero() {
		at = db.now()
	}
	c, err := json.Marshal(nonNil(counts))
	if err != nil {
		return fmt.Errorf("complete request: %w", err)
	}
	res, err := write.ExecContext(ctx, "UPDATE requests SET status = ?, counts = ?, done_at = ? WHERE id = ?", status, string(c), ts(at), id)
	if err != nil {
		return fmt.Errorf("complete request %d: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("complete request %d: %w", id, bot.ErrNotFound)
	}
	return nil
}

// OpenRequests returns the requests still open, earliest due first.
func (db *DB) OpenRequests(ctx context.Context) ([]bot.Request, error) {
	_, read, _, err := db.handles()
	if err != nil {
		return nil, err
	}
	rs, err := db.queryRequests(ctx, read, "WHERE status = 'open' ORDER BY due_at, id")
	if err != nil {
		return nil, fmt.Errorf("open requests: %w", err)
	}
	return rs, nil
}

func (db *DB) queryRequests(ctx context.Context, q querier, where string, args ...any) ([]bot.Request, error) {
	rows, err := q.QueryContext(ctx, "SELECT id, kind, scope, received_at, due_at, done_at, requested_by, counts, status FROM requests "+where, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []bot.Request
	for rows.Next() {
		var r bot.Request
		var kind, by, counts string
		var received, due, done int64
		if err := rows.Scan(&r.ID, &kind, &r.Scope, &received, &due, &done, &by, &counts, &r.Status); err != nil {
			return nil, err
		}
		r.Kind, r.RequestedBy = bot.RequestKind(kind), bot.SubjectID(by)
		r.Received, r.Due, r.Done = fromTS(received), fromTS(due), fromTS(done)
		if err := json.Unmarshal([]byte(counts), &r.Counts); err != nil {
			return nil, errors.New("request counts: bad json")
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// Audit appends one entry to the audit trail. At defaults to now. Detail
// must be operator-safe (ids, counts, outcomes).
func (db *DB) Audit(ctx context.Context, e bot.AuditEntry) error {
	write, _, _, err := db.handles()
	if err != nil {
		return err
	}
	if e.Action == "" {
		return errors.New("audit: action is required")
	}
	if e.At.IsZero() {
		e.At = db.now()
	}
	if _, err := write.ExecContext(ctx, "INSERT INTO audit (at, actor, action, subject, detail) VALUES (?, ?, ?, ?, ?)",
		ts(e.At), string(e.Actor), e.Action, string(e.Subject), truncErr(e.Detail)); err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	return nil
}

// Inactive returns the subjects whose last message to us (inbound; a reply
// we sent later does not count) or, with none, whose creation is before the
// given time, oldest first: the candidates of a retention purge. None is an
// empty slice.
func (db *DB) Inactive(ctx context.Context, before time.Time) ([]bot.SubjectID, error) {
	_, read, _, err := db.handles()
	if err != nil {
		return nil, err
	}
	rows, err := read.QueryContext(ctx, `SELECT s.id FROM subjects s
		WHERE COALESCE((SELECT MAX(m.stored_at) FROM messages m WHERE m.subject_id = s.id AND m.dir = 'in'), s.created_at) < ?
		ORDER BY s.created_at, s.id`, ts(before))
	if err != nil {
		return nil, fmt.Errorf("inactive subjects: %w", err)
	}
	defer rows.Close()
	out := []bot.SubjectID{}
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, fmt.Errorf("inactive subjects: %w", err)
		}
		out = append(out, bot.SubjectID(s))
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("inactive subjects: %w", err)
	}
	return out, nil
}
