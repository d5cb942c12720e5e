package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/switchboard/switchboard/bot"
)

// MaxTextLen bounds a stored message, draft or reply text, in bytes. The
// router truncates long messages before this; the store refuses larger ones
// with bot.ErrTooLarge.
const MaxTextLen = 1 << 20

const messageCols = "id, subject_id, platform, chat, platform_id, dir, kind, text, sent_at, stored_at, status, ai_restricted"

// scanMessage reads one row of messageCols and decrypts it.
func (db *DB) scanMessage(ctx context.Context, rows interface{ Scan(...any) error }) (bot.Message, error) {
	var m bot.Message
	var subject, platform, dir, kind, status string
	var platformID sql.NullString
	var chat, text []byte
	var sent, stored int64
	if err := rows.Scan(&m.ID, &subject, &platform, &chat, &platformID, &dir, &kind, &text, &sent, &stored, &status, &m.AIRestricted); err != nil {
		return bot.Message{}, err
	}
	m.Subject, m.Platform, m.PlatformID = bot.SubjectID(subject), bot.Platform(platform), bot.MessageID(platformID.String)
	m.Dir, m.Kind, m.Status = bot.Direction(dir), bot.MessageKind(kind), bot.MessageStatus(status)
	m.SentAt, m.StoredAt = fromTS(sent), fromTS(stored)
	sk, err := db.subjectKey(ctx, m.Subject)
	if err != nil {
		return bot.Message{}, err
	}
	row := rowID(m.ID)
	c, err := sk.openString("messages", "chat", row, chat)
	if err != nil {
		return bot.Message{}, err
	}
	m.Chat = bot.ChatID(c)
	if m.Text, err = sk.openString("messages", "text", row, text); err != nil {
		return bot.Message{}, err
	}
	return m, nil
}

// queryMessages runs a query selecting messageCols and decrypts every row.
func (db *DB) queryMessages(ctx context.Context, q querier, query string, args ...any) ([]bot.Message, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []bot.Message
	for rows.Next() {
		m, err := db.scanMessage(ctx, rows)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

func nullString(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }

// SaveInbound stores a message with its chat and text sealed under the
// subject's key. A message with the same platform, chat and platform id as a
// stored one is not stored again: dup is true and id names the stored row.
// Concurrent calls share one transaction (group commit); each gets its own
// result.
func (db *DB) SaveInbound(ctx context.Context, m bot.Message) (int64, bool, error) {
	r, err := db.saveRequest(ctx, m)
	if err != nil {
		return 0, false, err
	}
	if err := db.inbound.submit(ctx, db, r); err != nil {
		return 0, false, fmt.Errorf("save message: %w", err)
	}
	if r.err != nil {
		return 0, false, fmt.Errorf("save message: %w", notFound(r.err))
	}
	return r.id, r.dup, nil
}

// saveRequest checks a SaveInbound call's message and returns its request
// for a batch.
func (db *DB) saveRequest(ctx context.Context, m bot.Message) (*saveReq, error) {
	m, err := checkMessage(m, true)
	if err != nil {
		return nil, err
	}
	if _, _, _, err := db.handles(); err != nil {
		return nil, err
	}
	sk, err := db.subjectKey(ctx, m.Subject)
	if err != nil {
		return nil, fmt.Errorf("save message: %w", err)
	}
	return &saveReq{
		platform:   string(m.Platform),
		chatIdx:    db.keys.chatIndex(m.Chat),
		platformID: nullString(string(m.PlatformID)),
		wake:       make(chan bool, 1),
		msg:        &m,
		sk:         sk,
	}, nil
}

// checkMessage validates an inbound message and fills its defaults; the
// subject is required unless the message is ingested (resolved later).
func checkMessage(m bot.Message, needSubject bool) (bot.Message, error) {
	switch {
	case (needSubject && m.Subject == "") || m.Platform == "" || m.Chat == "":
		return m, errors.New("save message: subject, platform and chat are required")
	case len(m.Text) > MaxTextLen:
		return m, fmt.Errorf("save message: %w", bot.ErrTooLarge)
	}
	if m.Dir == "" {
		m.Dir = bot.In
	}
	if m.Kind == "" {
		m.Kind = bot.KindText
	}
	if m.Status == "" {
		m.Status = bot.StatusReceived
	}
	return m, nil
}

// messageArgs are the arguments of the writer's insertMessage for m as row
// id, sealed with the key of its subject and bound to the row.
func messageArgs(db *DB, sk *subjectKey, r *saveReq, m bot.Message, id int64) []any {
	row := rowID(id)
	return []any{id, string(sk.id), r.platform, r.chatIdx, sk.seal("messages", "chat", row, []byte(m.Chat)), r.platformID,
		string(m.Dir), string(m.Kind), sk.sealString("messages", "text", row, m.Text), ts(m.SentAt), ts(db.now()), string(m.Status)}
}

// insertMessage inserts r's message m for the subject of sk in the batch's
// transaction, as the batch's next message id, and sets r.id; a message
// stored before (same platform, chat and platform id) is not inserted
// again: r.dup is set and r.id names the stored row.
func (db *DB) insertMessage(ctx context.Context, b *ingestBatch, r *saveReq, sk *subjectKey, m bot.Message) (inserted bool, err error) {
	id, err := b.messageID(ctx)
	if err != nil {
		return false, err
	}
	res, err := b.stmt(ctx, b.w.insertMessage).ExecContext(ctx, messageArgs(db, sk, r, m, id)...)
	if err != nil {
		return false, err
	}
	if n, _ := res.RowsAffected(); n == 1 {
		b.nextMessage++
		r.id = id
		return true, nil
	}
	r.dup = true
	if err := b.stmt(ctx, b.w.findMessage).QueryRowContext(ctx, r.platform, r.chatIdx, r.platformID).Scan(&r.id); err != nil {
		return false, fmt.Errorf("find duplicate: %w", err)
	}
	return false, nil
}

// saveReq is one SaveInbound waiting for a group commit.
type saveReq struct {
	platform   string
	chatIdx    []byte
	platformID sql.NullString
	// wake gets true when the request is done, false when its caller must
	// lead the next batch.
	wake chan bool
	// ingest is set for an Ingest call: the sender is resolved in the
	// batch, which seals the message then.
	ingest *ingestReq
	// msg is the message of a SaveInbound call, sealed in the batch (its
	// row id is taken there) with its subject's key sk; one with an
	// attachment is recorded with it under a savepoint.
	msg *bot.Message
	sk  *subjectKey
	id  int64
	dup bool
	err error
}

// maxBatch bounds the messages stored in one group commit.
const maxBatch = 256

// inboundBatcher groups concurrent SaveInbound calls into one transaction
// (group commit): a commit costs the same for one row or many, so under
// concurrent ingest the rows share it. There is no goroutine: the first
// caller leads a batch, and hands the lead to a waiting caller when done.
type inboundBatcher struct {
	mu      sync.Mutex
	queue   []*saveReq
	leading bool
}

// submit stores r in a batch and returns once r is done (its err says how
// it went), or ctx is done while waiting (r may still be stored later).
func (b *inboundBatcher) submit(ctx context.Context, db *DB, r *saveReq) error {
	b.mu.Lock()
	b.queue = append(b.queue, r)
	lead := !b.leading
	b.leading = true
	b.mu.Unlock()
	for !lead {
		select {
		case done := <-r.wake:
			if done {
				return nil
			}
			lead = true
		case <-ctx.Done():
			return b.abandon(ctx, r)
		}
	}
	// Lead batches until r is done, then pass the lead on. The batch runs
	// without the leader's cancellation: it stores other callers' rows too.
	bctx := context.WithoutCancel(ctx)
	for {
		b.mu.Lock()
		n := min(len(b.queue), maxBatch)
		batch := b.queue[:n:n]
		b.queue = b.queue[n:]
		b.mu.Unlock()
		mine := db.runBatch(bctx, batch, r)
		b.mu.Lock()
		if mine {
			if len(b.queue) > 0 {
				b.queue[0].wake <- false
			} else {
				b.leading = false
			}
			b.mu.Unlock()
			return nil
		}
		b.mu.Unlock()
	}
}

// abandon withdraws r after its caller's ctx ended. If r is still queued it
// leaves the queue (and passes on a lead it was just handed); if it is in a
// running batch, abandon waits for that batch, which is short.
func (b *inboundBatcher) abandon(ctx context.Context, r *saveReq) error {
	b.mu.Lock()
	select {
	case done := <-r.wake:
		if done {
			b.mu.Unlock()
			return nil
		}
		b.remove(r)
		if len(b.queue) > 0 {
			b.queue[0].wake <- false
		} else {
			b.leading = false
		}
		b.mu.Unlock()
		return ctx.Err()
	default:
	}
	if b.remove(r) {
		b.mu.Unlock()
		return ctx.Err()
	}
	b.mu.Unlock()
	<-r.wake // only a running batch can hold r now; it wakes r with true
	return nil
}

// remove takes r out of the queue; b.mu must be held.
func (b *inboundBatcher) remove(r *saveReq) bool {
	for i, q := range b.queue {
		if q == r {
			b.queue = append(b.queue[:i:i], b.queue[i+1:]...)
			return true
		}
	}
	return false
}

// runBatch inserts the batch in one transaction, sets each request's
// result, wakes the others and reports whether mine was in it.
func (db *DB) runBatch(ctx context.Context, batch []*saveReq, mine *saveReq) bool {
	b := &ingestBatch{}
	err := db.tx(ctx, func(tx *sql.Tx) error {
		b.tx = tx
		var err error
		if b.w, err = db.writeStatements(); err != nil {
			return err
		}
		b.gen, b.cacheOn = db.subjects.state()
		savepoints := len(batch) > 1
		for _, r := range batch {
			if r.ingest != nil {
				if err := db.ingestOne(ctx, b, r, savepoints); err != nil {
					return err
				}
				continue
			}
			if r.msg.Media != nil {
				if err := db.saveWithMedia(ctx, b, r); err != nil {
					return err
				}
				continue
			}
			// A failing statement (a subject erased meanwhile) is rolled
			// back alone; the rest of the batch goes on.
			_, r.err = db.insertMessage(ctx, b, r, r.sk, *r.msg)
		}
		return nil
	})
	for _, sk := range b.unused {
		db.returnSubjectKey(sk)
	}
	if err != nil {
		// The subjects this batch created are not stored: destroy their
		// keys, as ResolveSubject does.
		db.destroyKeys(ctx, b.created)
	} else if b.cacheOn && len(b.bySubj) > 0 {
		db.subjects.fill(b.gen, b.entries())
	}
	found := false
	for _, r := range batch {
		if err != nil {
			r.id, r.dup, r.err = 0, false, err
		}
		if r == mine {
			found = true
			continue
		}
		r.wake <- true
	}
	return found
}

// saveWithMedia stores a SaveInbound message and its attachment under a
// savepoint, so a failure leaves neither (and the rest of the batch goes
// on). It returns an error only when the savepoint itself failed.
func (db *DB) saveWithMedia(ctx context.Context, b *ingestBatch, r *saveReq) error {
	tx := b.tx
	if _, err := tx.ExecContext(ctx, "SAVEPOINT message_media"); err != nil {
		r.err = err
		return nil
	}
	err := func() error {
		inserted, err := db.insertMessage(ctx, b, r, r.sk, *r.msg)
		if err != nil || !inserted {
			return err
		}
		return db.insertMessageMedia(ctx, tx, r.sk, r, *r.msg)
	}()
	if err != nil {
		r.id, r.dup, r.err = 0, false, err
		if _, rerr := tx.ExecContext(ctx, "ROLLBACK TO message_media"); rerr != nil {
			return fmt.Errorf("rollback to savepoint: %w", rerr)
		}
		b.rolledBack()
	}
	if _, err := tx.ExecContext(ctx, "RELEASE message_media"); err != nil {
		return fmt.Errorf("release savepoint: %w", err)
	}
	return nil
}

// History returns up to limit messages of the subject in chat with a row id
// below before (any, if before <= 0), oldest first.
func (db *DB) History(ctx context.Context, subject bot.SubjectID, chat bot.ChatID, before int64, limit int) ([]bot.Message, error) {
	_, read, _, err := db.handles()
	if err != nil {
		return nil, err
	}
	if limit <= 0 {
		return nil, nil
	}
	if before <= 0 {
		before = 1<<63 - 1
	}
	ms, err := db.queryMessages(ctx, read, "SELECT "+messageCols+` FROM messages
		WHERE subject_id = ? AND chat_bidx = ? AND id < ? ORDER BY id DESC LIMIT ?`,
		string(subject), db.keys.chatIndex(chat), before, limit)
	if err != nil {
		return nil, fmt.Errorf("history: %w", err)
	}
	for i, j := 0, len(ms)-1; i < j; i, j = i+1, j-1 {
		ms[i], ms[j] = ms[j], ms[i]
	}
	return ms, nil
}

// FindMessage returns the message with row id, decrypted, or an error
// wrapping bot.ErrNotFound.
func (db *DB) FindMessage(ctx context.Context, id int64) (bot.Message, error) {
	_, read, _, err := db.handles()
	if err != nil {
		return bot.Message{}, err
	}
	ms, err := db.queryMessages(ctx, read, "SELECT "+messageCols+" FROM messages WHERE id = ?", id)
	if err != nil {
		return bot.Message{}, fmt.Errorf("find message: %w", notFound(err))
	}
	if len(ms) == 0 {
		return bot.Message{}, fmt.Errorf("find message %d: %w", id, bot.ErrNotFound)
	}
	return ms[0], nil
}

// Undrafted returns inbound messages of customers that have no draft yet,
// oldest first.
func (db *DB) Undrafted(ctx context.Context, limit int) ([]bot.Message, error) {
	_, read, _, err := db.handles()
	if err != nil {
		return nil, err
	}
	if limit <= 0 {
		return nil, nil
	}
	ms, err := db.queryMessages(ctx, read, "SELECT "+prefixCols("m.", messageCols)+` FROM messages m
		JOIN subjects s ON s.id = m.subject_id
		WHERE m.dir = 'in' AND m.handled = 0 AND s.role = 'customer' AND NOT EXISTS (SELECT 1 FROM drafts d WHERE d.message_id = m.id)
		ORDER BY m.id LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("undrafted: %w", err)
	}
	return ms, nil
}

// RetryText returns the text of the message sent on WhatsApp with platform
// id id, so a recipient's retry request can be answered after a restart. An
// unknown id gives bot.ErrNotFound.
func (db *DB) RetryText(ctx context.Context, id bot.MessageID) (string, error) {
	_, read, _, err := db.handles()
	if err != nil {
		return "", err
	}
	ms, err := db.queryMessages(ctx, read, "SELECT "+messageCols+` FROM messages
		WHERE platform = ? AND platform_id = ? AND dir = 'out' ORDER BY id DESC LIMIT 1`,
		string(bot.WhatsApp), string(id))
	if err != nil {
		return "", fmt.Errorf("retry text: %w", err)
	}
	if len(ms) == 0 {
		return "", fmt.Errorf("retry text: %w", bot.ErrNotFound)
	}
	return ms[0].Text, nil
}

// LastInbound returns when the chat last wrote: the platform's time of the
// newest stored inbound message of chat, or the zero time if none is stored.
// A channel with a reply window (the WhatsApp Business Platform's 24 hours)
// asks it before sending.
func (db *DB) LastInbound(ctx context.Context, platform bot.Platform, chat bot.ChatID) (time.Time, error) {
	_, read, _, err := db.handles()
	if err != nil {
		return time.Time{}, err
	}
	t, err := lastInbound(ctx, read, platform, db.keys.chatIndex(chat))
	if err != nil {
		return time.Time{}, fmt.Errorf("last inbound: %w", err)
	}
	return t, nil
}

// lastInbound is LastInbound on q for a chat's blind index. The dedup index
// (platform, chat_bidx, platform_id) bounds the scan to the chat's rows.
func lastInbound(ctx context.Context, q querier, platform bot.Platform, chatIdx []byte) (time.Time, error) {
	var last sql.NullInt64
	err := q.QueryRowContext(ctx, "SELECT MAX(sent_at) FROM messages WHERE platform = ? AND chat_bidx = ? AND dir = 'in'",
		string(platform), chatIdx).Scan(&last)
	if err != nil {
		return time.Time{}, err
	}
	return fromTS(last.Int64), nil
}

// MarkHandled records that the inbound message with row id needs no draft,
// so Undrafted leaves it out. Unknown ids are not an error.
func (db *DB) MarkHandled(ctx context.Context, messageID int64) error {
	err := db.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, "UPDATE messages SET handled = 1 WHERE id = ? AND dir = 'in'", messageID)
		return err
	})
	if err != nil {
		return fmt.Errorf("mark handled: %w", err)
	}
	return nil
}

// RevokeMessage deletes the stored inbound message the sender deleted for
// everyone, with its media and their files, and returns the ids of drafts that answered it (their message
// link is cleared). An unknown message gives bot.ErrNotFound.
func (db *DB) RevokeMessage(ctx context.Context, platform bot.Platform, chat bot.ChatID, id bot.MessageID) ([]int64, error) {
	var drafts []int64
	var files []string
	err := db.tx(ctx, func(tx *sql.Tx) error {
		var rowID int64
		if err := tx.QueryRowContext(ctx, "SELECT id FROM messages WHERE platform = ? AND chat_bidx = ? AND platform_id = ? AND dir = 'in'",
			string(platform), db.keys.chatIndex(chat), string(id)).Scan(&rowID); err != nil {
			return notFound(err)
		}
		var err error
		if drafts, err = queryIDs(ctx, tx, "SELECT id FROM drafts WHERE message_id = ? ORDER BY id", rowID); err != nil {
			return err
		}
		if files, _, err = deleteMediaRows(ctx, tx, "message_id = ?", rowID); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, "DELETE FROM messages WHERE id = ?", rowID)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("revoke message: %w", err)
	}
	if err := db.removeMediaFiles(files); err != nil {
		return drafts, fmt.Errorf("revoke message: %w", err)
	}
	return drafts, nil
}

// queryIDs runs a query selecting one integer column.
func queryIDs(ctx context.Context, q querier, query string, args ...any) ([]int64, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

// prefixCols qualifies a comma-separated column list with a table alias.
func prefixCols(prefix, cols string) string {
	out := make([]byte, 0, len(cols)*2)
	out = append(out, prefix...)
	for i := 0; i < len(cols); i++ {
		out = append(out, cols[i])
		if cols[i] == ' ' && i > 0 && cols[i-1] == ',' {
			out = append(out, prefix...)
		}
	}
	return string(out)
}
