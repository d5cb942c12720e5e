package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/switchboard/switchboard/bot"
)

// MaxTextLen bounds a stored message, draft or reply text, in bytes. The
// router truncates long messages before this; the store refuses larger ones
// with bot.ErrTooLarge.
const MaxTextLen = 1 << 20

const messageCols = "id, subject_id, platform, chat, platform_id, dir, kind, text, sent_at, stored_at, status"

// scanMessage reads one row of messageCols and decrypts it.
func (db *DB) scanMessage(ctx context.Context, rows interface{ Scan(...any) error }) (bot.Message, error) {
	var m bot.Message
	var subject, platform, dir, kind, status string
	var platformID sql.NullString
	var chat, text []byte
	var sent, stored int64
	if err := rows.Scan(&m.ID, &subject, &platform, &chat, &platformID, &dir, &kind, &text, &sent, &stored, &status); err != nil {
		return bot.Message{}, err
	}
	m.Subject, m.Platform, m.PlatformID = bot.SubjectID(subject), bot.Platform(platform), bot.MessageID(platformID.String)
	m.Dir, m.Kind, m.Status = bot.Direction(dir), bot.MessageKind(kind), bot.MessageStatus(status)
	m.SentAt, m.StoredAt = fromTS(sent), fromTS(stored)
	sk, err := db.subjectKey(ctx, m.Subject)
	if err != nil {
		return bot.Message{}, err
	}
	c, err := sk.openString("messages", "chat", chat)
	if err != nil {
		return bot.Message{}, err
	}
	m.Chat = bot.ChatID(c)
	if m.Text, err = sk.openString("messages", "text", text); err != nil {
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
func (db *DB) SaveInbound(ctx context.Context, m bot.Message) (int64, bool, error) {
	switch {
	case m.Subject == "" || m.Platform == "" || m.Chat == "":
		return 0, false, errors.New("save message: subject, platform and chat are required")
	case len(m.Text) > MaxTextLen:
		return 0, false, fmt.Errorf("save message: %w", bot.ErrTooLarge)
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
	write, read, _, err := db.handles()
	if err != nil {
		return 0, false, err
	}
	sk, err := db.subjectKey(ctx, m.Subject)
	if err != nil {
		return 0, false, fmt.Errorf("save message: %w", err)
	}
	chatIdx := db.keys.chatIndex(m.Chat)
	res, err := write.ExecContext(ctx, `INSERT INTO messages (subject_id, platform, chat_bidx, chat, platform_id, dir, kind, text, sent_at, stored_at, status)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		string(m.Subject), string(m.Platform), chatIdx, sk.seal("messages", "chat", []byte(m.Chat)), nullString(string(m.PlatformID)),
		string(m.Dir), string(m.Kind), sk.sealString("messages", "text", m.Text), ts(m.SentAt), ts(db.now()), string(m.Status))
	if err != nil {
		return 0, false, fmt.Errorf("save message: %w", notFound(err))
	}
	if n, _ := res.RowsAffected(); n == 1 {
		id, err := res.LastInsertId()
		return id, false, err
	}
	var id int64
	err = read.QueryRowContext(ctx, "SELECT id FROM messages WHERE platform = ? AND chat_bidx = ? AND platform_id = ?",
		string(m.Platform), chatIdx, string(m.PlatformID)).Scan(&id)
	if err != nil {
		return 0, false, fmt.Errorf("save message: find duplicate: %w", notFound(err))
	}
	return id, true, nil
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
		WHERE m.dir = 'in' AND s.role = 'customer' AND NOT EXISTS (SELECT 1 FROM drafts d WHERE d.message_id = m.id)
		ORDER BY m.id LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("undrafted: %w", err)
	}
	return ms, nil
}

// RevokeMessage deletes the stored inbound message the sender deleted for
// everyone and returns the ids of drafts that answered it (their message
// link is cleared). An unknown message gives bot.ErrNotFound.
func (db *DB) RevokeMessage(ctx context.Context, platform bot.Platform, chat bot.ChatID, id bot.MessageID) ([]int64, error) {
	var drafts []int64
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
		_, err = tx.ExecContext(ctx, "DELETE FROM messages WHERE id = ?", rowID)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("revoke message: %w", err)
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
