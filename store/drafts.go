package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/switchboard/switchboard/bot"
)

// sealResult seals a draft result as JSON for draft row; nil stays NULL.
func sealResult(sk *subjectKey, row rowKey, res *bot.DraftResult) ([]byte, error) {
	if res == nil {
		return nil, nil
	}
	b, err := json.Marshal(res)
	if err != nil {
		return nil, fmt.Errorf("encode draft result: %w", err)
	}
	return sk.seal("drafts", "result", row, b), nil
}

func openResult(sk *subjectKey, row rowKey, sealed []byte) (*bot.DraftResult, error) {
	b, err := sk.open("drafts", "result", row, sealed)
	if err != nil || b == nil {
		return nil, err
	}
	var res bot.DraftResult
	if err := json.Unmarshal(b, &res); err != nil {
		return nil, errors.New("decode draft result: bad json")
	}
	return &res, nil
}

func validDraftStatus(s bot.DraftStatus) bool {
	switch s {
	case bot.DraftPending, bot.DraftApproved, bot.DraftEdited, bot.DraftRejected, bot.DraftFailed, bot.DraftSent, bot.DraftDrafting:
		return true
	}
	return false
}

// CreateDraft stores a draft and returns its id. Subject, Platform and Chat
// default to those of the message it answers.
func (db *DB) CreateDraft(ctx context.Context, d bot.Draft) (int64, error) {
	_, read, _, err := db.handles()
	if err != nil {
		return 0, err
	}
	if d.Status == "" {
		d.Status = bot.DraftPending
	}
	if !validDraftStatus(d.Status) {
		return 0, errors.New("create draft: unknown status")
	}
	if len(d.Text) > MaxTextLen {
		return 0, fmt.Errorf("create draft: %w", bot.ErrTooLarge)
	}
	if d.MessageID != 0 && (d.Subject == "" || d.Platform == "" || d.Chat == "") {
		ms, err := db.queryMessages(ctx, read, "SELECT "+messageCols+" FROM messages WHERE id = ?", d.MessageID)
		if err != nil {
			return 0, fmt.Errorf("create draft: load message: %w", err)
		}
		if len(ms) == 0 {
			return 0, fmt.Errorf("create draft: message: %w", bot.ErrNotFound)
		}
		if d.Subject == "" {
			d.Subject = ms[0].Subject
		}
		if d.Platform == "" {
			d.Platform = ms[0].Platform
		}
		if d.Chat == "" {
			d.Chat = ms[0].Chat
		}
	}
	if d.Subject == "" || d.Platform == "" || d.Chat == "" {
		return 0, errors.New("create draft: subject, platform and chat are required")
	}
	sk, err := db.subjectKey(ctx, d.Subject)
	if err != nil {
		return 0, fmt.Errorf("create draft: %w", err)
	}
	now := db.now()
	if d.CreatedAt.IsZero() {
		d.CreatedAt = now
	}
	var msgID sql.NullInt64
	if d.MessageID != 0 {
		msgID = sql.NullInt64{Int64: d.MessageID, Valid: true}
	}
	var id int64
	err = db.tx(ctx, func(tx *sql.Tx) error {
		var err error
		if id, err = db.nextID(ctx, tx, "drafts"); err != nil {
			return err
		}
		row := rowID(id)
		res, err := sealResult(sk, row, d.Result)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO drafts (id, subject_id, message_id, platform, chat_bidx, chat, text, result, status, created_at, updated_at, token)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			id, string(d.Subject), msgID, string(d.Platform), db.keys.chatIndex(d.Chat), sk.seal("drafts", "chat", row, []byte(d.Chat)),
			sk.sealString("drafts", "text", row, d.Text), res, string(d.Status), ts(d.CreatedAt), ts(now), newDraftToken())
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("create draft: %w", err)
	}
	return id, nil
}

// newDraftToken returns a fresh card-action token: 128 random bits.
func newDraftToken() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic("store: crypto/rand failed: " + err.Error())
	}
	return hex.EncodeToString(b)
}

// StartDraft returns the draft answering the stored inbound message m (by
// its row id), or creates one in status drafting with a fresh token and no
// text, in one transaction: the card goes up before the drafter is asked,
// and a second call (a rescan, a restart) finds the same draft. A message
// or subject gone gives bot.ErrNotFound.
func (db *DB) StartDraft(ctx context.Context, m bot.Message) (bot.Draft, error) {
	if m.ID == 0 {
		return bot.Draft{}, errors.New("start draft: message has no row id")
	}
	var out bot.Draft
	err := db.tx(ctx, func(tx *sql.Tx) error {
		var id int64
		switch err := tx.QueryRowContext(ctx, "SELECT id FROM drafts WHERE message_id = ? ORDER BY id LIMIT 1", m.ID).Scan(&id); {
		case err == nil:
			d, _, err := db.loadDraftRow(ctx, tx, id)
			out = d.Draft
			return err
		case !errors.Is(err, sql.ErrNoRows):
			return err
		}
		var subject, platform string
		var chatIdx []byte
		if err := tx.QueryRowContext(ctx, "SELECT subject_id, platform, chat_bidx FROM messages WHERE id = ? AND dir = 'in'", m.ID).
			Scan(&subject, &platform, &chatIdx); err != nil {
			return notFound(err)
		}
		sk, err := db.subjectKey(ctx, bot.SubjectID(subject))
		if err != nil {
			return err
		}
		now := db.now()
		out = bot.Draft{Token: newDraftToken(), Subject: bot.SubjectID(subject), MessageID: m.ID, Platform: bot.Platform(platform),
			Chat: m.Chat, Status: bot.DraftDrafting, CreatedAt: now, UpdatedAt: now}
		if out.ID, err = db.nextID(ctx, tx, "drafts"); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO drafts (id, subject_id, message_id, platform, chat_bidx, chat, status, created_at, updated_at, token)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, out.ID, subject, m.ID, platform, chatIdx, sk.seal("drafts", "chat", rowID(out.ID), []byte(m.Chat)),
			string(bot.DraftDrafting), ts(now), ts(now), out.Token)
		return err
	})
	if err != nil {
		return bot.Draft{}, fmt.Errorf("start draft for message %d: %w", m.ID, err)
	}
	return out, nil
}

// Drafting returns ids of drafts in status drafting, oldest first.
func (db *DB) Drafting(ctx context.Context, limit int) ([]int64, error) {
	_, read, _, err := db.handles()
	if err != nil {
		return nil, err
	}
	ids, err := queryIDs(ctx, read, "SELECT id FROM drafts WHERE status = 'drafting' ORDER BY id LIMIT ?", limit)
	if err != nil {
		return nil, fmt.Errorf("drafting: %w", err)
	}
	return ids, nil
}

// ReviseDraft replaces the text, result and status (pending or failed) of a
// draft that is still drafting, pending or failed. A settled draft gives
// bot.ErrDecided.
func (db *DB) ReviseDraft(ctx context.Context, id int64, status bot.DraftStatus, text string, res *bot.DraftResult) error {
	if status != bot.DraftPending && status != bot.DraftFailed {
		return errors.New("revise draft: status must be pending or failed")
	}
	if len(text) > MaxTextLen {
		return fmt.Errorf("revise draft: %w", bot.ErrTooLarge)
	}
	err := db.tx(ctx, func(tx *sql.Tx) error {
		var subject, cur string
		if err := tx.QueryRowContext(ctx, "SELECT subject_id, status FROM drafts WHERE id = ?", id).Scan(&subject, &cur); err != nil {
			return notFound(err)
		}
		if st := bot.DraftStatus(cur); st != bot.DraftPending && st != bot.DraftFailed && st != bot.DraftDrafting {
			return bot.ErrDecided
		}
		sk, err := db.subjectKey(ctx, bot.SubjectID(subject))
		if err != nil {
			return err
		}
		sealed, err := sealResult(sk, rowID(id), res)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, "UPDATE drafts SET text = ?, result = ?, status = ?, updated_at = ? WHERE id = ?",
			sk.sealString("drafts", "text", rowID(id), text), sealed, string(status), ts(db.now()), id)
		return err
	})
	if err != nil {
		return fmt.Errorf("revise draft %d: %w", id, err)
	}
	return nil
}

// draftRow is a draft as read, with its sealed chat kept for re-sealing.
type draftRow struct {
	bot.Draft
	chatIdx []byte
}

func (db *DB) loadDraftRow(ctx context.Context, q querier, id int64) (draftRow, *subjectKey, error) {
	var d draftRow
	var subject, platform, status string
	var msgID sql.NullInt64
	var chat, text, result []byte
	var created, updated int64
	err := q.QueryRowContext(ctx, `SELECT subject_id, message_id, platform, chat_bidx, chat, text, result, status, created_at, updated_at, token
		FROM drafts WHERE id = ?`, id).Scan(&subject, &msgID, &platform, &d.chatIdx, &chat, &text, &result, &status, &created, &updated, &d.Token)
	if err != nil {
		return draftRow{}, nil, notFound(err)
	}
	d.ID, d.Subject, d.MessageID, d.Platform = id, bot.SubjectID(subject), msgID.Int64, bot.Platform(platform)
	d.Status, d.CreatedAt, d.UpdatedAt = bot.DraftStatus(status), fromTS(created), fromTS(updated)
	sk, err := db.subjectKey(ctx, d.Subject)
	if err != nil {
		return draftRow{}, nil, err
	}
	row := rowID(id)
	c, err := sk.openString("drafts", "chat", row, chat)
	if err != nil {
		return draftRow{}, nil, err
	}
	d.Chat = bot.ChatID(c)
	if d.Text, err = sk.openString("drafts", "text", row, text); err != nil {
		return draftRow{}, nil, err
	}
	if d.Result, err = openResult(sk, row, result); err != nil {
		return draftRow{}, nil, err
	}
	return d, sk, nil
}

// LoadDraft returns a draft with its message, customer, card, settling
// decision and reply status. An unknown draft gives bot.ErrNotFound.
func (db *DB) LoadDraft(ctx context.Context, id int64) (bot.DraftView, error) {
	_, read, _, err := db.handles()
	if err != nil {
		return bot.DraftView{}, err
	}
	v, err := db.loadDraftView(ctx, read, id)
	if err != nil {
		return bot.DraftView{}, fmt.Errorf("load draft %d: %w", id, err)
	}
	return v, nil
}

func (db *DB) loadDraftView(ctx context.Context, q querier, id int64) (bot.DraftView, error) {
	d, _, err := db.loadDraftRow(ctx, q, id)
	if err != nil {
		return bot.DraftView{}, err
	}
	v := bot.DraftView{Draft: d.Draft}
	if d.MessageID != 0 {
		ms, err := db.queryMessages(ctx, q, "SELECT "+messageCols+" FROM messages WHERE id = ?", d.MessageID)
		if err != nil {
			return bot.DraftView{}, err
		}
		if len(ms) == 1 {
			v.Message = ms[0]
		}
		// The card's context: the conversation just before the message,
		// without what was answered without a draft (commands).
		recent, err := db.queryMessages(ctx, q, "SELECT "+messageCols+` FROM messages
			WHERE subject_id = ? AND chat_bidx = ? AND id < ? AND handled = 0 ORDER BY id DESC LIMIT ?`,
			string(d.Subject), d.chatIdx, d.MessageID, bot.RecentLimit)
		if err != nil {
			return bot.DraftView{}, err
		}
		slices.Reverse(recent)
		v.Recent = recent
		if v.Media, err = db.queryMedia(ctx, q, "WHERE message_id = ? AND dir = 'in' ORDER BY id", d.MessageID); err != nil {
			return bot.DraftView{}, err
		}
	}
	var att sql.NullInt64
	if err := q.QueryRowContext(ctx, "SELECT attachment_id FROM drafts WHERE id = ?", id).Scan(&att); err != nil {
		return bot.DraftView{}, err
	}
	if att.Valid {
		as, err := db.queryMedia(ctx, q, "WHERE id = ? AND state = 'fetched'", att.Int64)
		if err != nil {
			return bot.DraftView{}, err
		}
		if len(as) == 1 {
			v.Attachment = &as[0]
		}
	}
	if v.Customer, err = db.loadSubject(ctx, q, d.Subject); err != nil {
		return bot.DraftView{}, err
	}
	ids, err := db.identities(ctx, q, d.Subject)
	if err != nil {
		return bot.DraftView{}, err
	}
	for _, i := range ids {
		if i.Kind == bot.IDPhone {
			v.Phone = i.Value
			break
		}
	}
	var ref bot.CardRef
	var windowEnds int64
	switch err := q.QueryRowContext(ctx, "SELECT conversation, activity_id, window_ends FROM cards WHERE draft_id = ? AND state = 'posted'", id).
		Scan(&ref.Conversation, &ref.ActivityID, &windowEnds); {
	case err == nil:
		v.Card = &ref
		if windowEnds > 0 {
			v.CardWindowEnds = fromTS(windowEnds)
		}
	case !errors.Is(err, sql.ErrNoRows):
		return bot.DraftView{}, err
	}
	decs, err := db.queryDecisions(ctx, q, "WHERE d.draft_id = ? AND d.kind IN ('approve', 'edit', 'reject')", true, id)
	if err != nil {
		return bot.DraftView{}, err
	}
	if len(decs) > 0 {
		v.Decision = &decs[0].Decision
	}
	var st, waiting string
	switch err := q.QueryRowContext(ctx, "SELECT status, reason, waiting FROM outbox WHERE draft_id = ? AND kind = 'reply'", id).Scan(&st, &v.SendReason, &waiting); {
	case err == nil:
		v.SendStatus, v.SendWaiting = bot.MessageStatus(st), bot.Platform(waiting)
	case !errors.Is(err, sql.ErrNoRows):
		return bot.DraftView{}, err
	}
	var tplAt int64
	switch err := q.QueryRowContext(ctx, "SELECT status, reason, created_at FROM outbox WHERE draft_id = ? AND kind = 'template'", id).
		Scan(&st, &v.TemplateReason, &tplAt); {
	case err == nil:
		v.TemplateStatus, v.TemplateAt = bot.MessageStatus(st), fromTS(tplAt)
	case !errors.Is(err, sql.ErrNoRows):
		return bot.DraftView{}, err
	}
	if v.LastInbound, err = lastInbound(ctx, q, d.Platform, d.chatIdx); err != nil {
		return bot.DraftView{}, err
	}
	if v.ClosedReply, err = closedReplyOf(ctx, q, d.Platform, d.chatIdx, v.Message.StoredAt, d.CreatedAt); err != nil {
		return bot.DraftView{}, err
	}
	return v, nil
}

// DecisionRecord is a stored decision with the subjects it involves.
type DecisionRecord struct {
	bot.Decision
	// Subject is the customer the decided draft answers.
	Subject bot.SubjectID
	// BySubject is the deciding staff member; empty once they were erased.
	BySubject bot.SubjectID
}

// queryDecisions reads decisions matching where; withText decrypts the
// edited reply (sealed under the customer's key).
func (db *DB) queryDecisions(ctx context.Context, q querier, where string, withText bool, args ...any) ([]DecisionRecord, error) {
	rows, err := q.QueryContext(ctx, `SELECT d.id, d.draft_id, d.subject_id, d.by_subject, d.by_ident, d.by_name, d.kind, d.text, d.action_id, d.at,
		COALESCE(s.tenant, '') FROM decisions d LEFT JOIN subjects s ON s.id = d.by_subject `+where+" ORDER BY d.id", args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []DecisionRecord
	for rows.Next() {
		var r DecisionRecord
		var id int64
		var subject, kind string
		var by, actionID sql.NullString
		var byIdent, byName, text []byte
		var at int64
		if err := rows.Scan(&id, &r.DraftID, &subject, &by, &byIdent, &byName, &kind, &text, &actionID, &at, &r.Tenant); err != nil {
			return nil, err
		}
		r.Subject, r.BySubject, r.Kind = bot.SubjectID(subject), bot.SubjectID(by.String), bot.DecisionKind(kind)
		r.ActionID, r.At = actionID.String, fromTS(at)
		if r.BySubject != "" {
			bk, err := db.subjectKey(ctx, r.BySubject)
			if err != nil {
				return nil, err
			}
			ident, err := bk.openString("decisions", "by_ident", rowID(id), byIdent)
			if err != nil {
				return nil, err
			}
			if kind, val, ok := strings.Cut(ident, ":"); ok {
				r.By = bot.Identity{Kind: bot.IdentityKind(kind), Value: val}
			}
			if r.ByName, err = bk.openString("decisions", "by_name", rowID(id), byName); err != nil {
				return nil, err
			}
		}
		if withText && len(text) > 0 {
			sk, err := db.subjectKey(ctx, r.Subject)
			if err != nil {
				return nil, err
			}
			if r.Text, err = sk.openString("decisions", "text", rowID(id), text); err != nil {
				return nil, err
			}
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// Uncarded returns ids of drafts whose card was never posted, or whose
// post is in doubt (an intent row without the platform's id), oldest first.
func (db *DB) Uncarded(ctx context.Context, limit int) ([]int64, error) {
	_, read, _, err := db.handles()
	if err != nil {
		return nil, err
	}
	ids, err := queryIDs(ctx, read, `SELECT d.id FROM drafts d WHERE NOT EXISTS (SELECT 1 FROM cards c WHERE c.draft_id = d.id)
		UNION SELECT draft_id FROM cards WHERE state = 'posting' ORDER BY 1 LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("uncarded: %w", err)
	}
	return ids, nil
}

// BeginCard records the intent to post the draft's card (a cards row in
// state posting, under the draft's subject) before it is posted, so a
// crash between the post and SaveCard leaves a trace. inDoubt is true if
// the intent existed already. A card already posted gives inDoubt false and
// changes nothing; a draft gone gives bot.ErrNotFound.
func (db *DB) BeginCard(ctx context.Context, draftID int64) (inDoubt bool, err error) {
	err = db.tx(ctx, func(tx *sql.Tx) error {
		var state string
		switch err := tx.QueryRowContext(ctx, "SELECT state FROM cards WHERE draft_id = ?", draftID).Scan(&state); {
		case err == nil:
			inDoubt = state == "posting"
			return nil
		case !errors.Is(err, sql.ErrNoRows):
			return err
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO cards (draft_id, subject_id, conversation, activity_id, posted_at, state, rendered)
			SELECT id, subject_id, '', '', 0, 'posting', 0 FROM drafts WHERE id = ?`, draftID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return bot.ErrNotFound
		}
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("begin card of draft %d: %w", draftID, err)
	}
	return inDoubt, nil
}

// SaveCard records (or replaces) where a draft's card was posted, under the
// draft's subject: its intent row becomes posted, not yet rendered. A draft
// gone (erased meanwhile) gives bot.ErrNotFound, and the caller must remove
// the card it posted.
func (db *DB) SaveCard(ctx context.Context, draftID int64, ref bot.CardRef) error {
	write, _, _, err := db.handles()
	if err != nil {
		return err
	}
	if ref.Conversation == "" || ref.ActivityID == "" {
		return errors.New("save card: conversation and activity id are required")
	}
	res, err := write.ExecContext(ctx, `INSERT INTO cards (draft_id, subject_id, conversation, activity_id, posted_at, state, rendered)
		SELECT id, subject_id, ?, ?, ?, 'posted', 0 FROM drafts WHERE id = ?
		ON CONFLICT (draft_id) DO UPDATE SET conversation = excluded.conversation, activity_id = excluded.activity_id,
			posted_at = excluded.posted_at, state = 'posted', rendered = 0, window_ends = 0`,
		ref.Conversation, ref.ActivityID, ts(db.now()), draftID)
	if err != nil {
		return fmt.Errorf("save card: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("save card: draft %d: %w", draftID, bot.ErrNotFound)
	}
	return nil
}

// CardRendered records that the draft's posted card shows its content.
func (db *DB) CardRendered(ctx context.Context, draftID int64) error {
	write, _, _, err := db.handles()
	if err != nil {
		return err
	}
	if _, err := write.ExecContext(ctx, "UPDATE cards SET rendered = 1 WHERE draft_id = ? AND state = 'posted' AND rendered = 0", draftID); err != nil {
		return fmt.Errorf("card rendered: %w", err)
	}
	return nil
}

// CardWindow records when the reply window the draft's posted card shows
// as open closes; zero: the card shows no open window.
func (db *DB) CardWindow(ctx context.Context, draftID int64, ends time.Time) error {
	write, _, _, err := db.handles()
	if err != nil {
		return err
	}
	var v int64
	if !ends.IsZero() {
		v = max(1, ts(ends))
	}
	if _, err := write.ExecContext(ctx, "UPDATE cards SET window_ends = ? WHERE draft_id = ? AND state = 'posted'", v, draftID); err != nil {
		return fmt.Errorf("card window: %w", err)
	}
	return nil
}

// WindowsClosed returns ids of drafts whose posted card shows a reply
// window open that closed at or before now, soonest first.
func (db *DB) WindowsClosed(ctx context.Context, now time.Time, limit int) ([]int64, error) {
	_, read, _, err := db.handles()
	if err != nil {
		return nil, err
	}
	ids, err := queryIDs(ctx, read, "SELECT draft_id FROM cards WHERE window_ends > 0 AND window_ends <= ? ORDER BY window_ends, draft_id LIMIT ?", ts(now), limit)
	if err != nil {
		return nil, fmt.Errorf("windows closed: %w", err)
	}
	return ids, nil
}

// OpenDrafts returns ids of the undecided drafts (drafting, pending,
// failed) of a chat that have a posted card, oldest first.
func (db *DB) OpenDrafts(ctx context.Context, platform bot.Platform, chat bot.ChatID, limit int) ([]int64, error) {
	_, read, _, err := db.handles()
	if err != nil {
		return nil, err
	}
	ids, err := queryIDs(ctx, read, `SELECT d.id FROM drafts d JOIN cards c ON c.draft_id = d.id AND c.state = 'posted'
		WHERE d.platform = ? AND d.chat_bidx = ? AND d.status IN ('drafting', 'pending', 'failed') ORDER BY d.id LIMIT ?`,
		string(platform), db.keys.chatIndex(chat), limit)
	if err != nil {
		return nil, fmt.Errorf("open drafts: %w", err)
	}
	return ids, nil
}

// Unrendered returns ids of drafts whose posted card may still show the
// placeholder, oldest first.
func (db *DB) Unrendered(ctx context.Context, limit int) ([]int64, error) {
	_, read, _, err := db.handles()
	if err != nil {
		return nil, err
	}
	ids, err := queryIDs(ctx, read, "SELECT draft_id FROM cards WHERE state = 'posted' AND rendered = 0 ORDER BY draft_id LIMIT ?", limit)
	if err != nil {
		return nil, fmt.Errorf("unrendered: %w", err)
	}
	return ids, nil
}

// PendingCardRemovals returns cards of erased subjects still to be deleted
// from the platform, oldest first.
func (db *DB) PendingCardRemovals(ctx context.Context, limit int) ([]bot.CardRemoval, error) {
	_, read, _, err := db.handles()
	if err != nil {
		return nil, err
	}
	rows, err := read.QueryContext(ctx, "SELECT id, ref FROM card_removals ORDER BY id LIMIT ?", limit)
	if err != nil {
		return nil, fmt.Errorf("card removals: %w", err)
	}
	defer rows.Close()
	var out []bot.CardRemoval
	for rows.Next() {
		var r bot.CardRemoval
		var sealed []byte
		if err := rows.Scan(&r.ID, &sealed); err != nil {
			return nil, fmt.Errorf("card removals: %w", err)
		}
		b, err := db.keys.openRow("card_removals", "ref", r.ID, sealed)
		if err != nil {
			return nil, fmt.Errorf("card removals: %w", err)
		}
		if err := json.Unmarshal(b, &r.Ref); err != nil {
			return nil, errors.New("card removals: bad json")
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// CardRemoved forgets a card removal once the card is gone.
func (db *DB) CardRemoved(ctx context.Context, id int64) error {
	write, _, _, err := db.handles()
	if err != nil {
		return err
	}
	if _, err := write.ExecContext(ctx, "DELETE FROM card_removals WHERE id = ?", id); err != nil {
		return fmt.Errorf("card removed: %w", err)
	}
	return nil
}

// CardsOf returns the posted cards about drafts for subject s.
func (db *DB) CardsOf(ctx context.Context, s bot.SubjectID) ([]bot.CardRef, error) {
	_, read, _, err := db.handles()
	if err != nil {
		return nil, err
	}
	rows, err := read.QueryContext(ctx, "SELECT conversation, activity_id FROM cards WHERE subject_id = ? AND state = 'posted' ORDER BY id", string(s))
	if err != nil {
		return nil, fmt.Errorf("cards of subject: %w", err)
	}
	defer rows.Close()
	var out []bot.CardRef
	for rows.Next() {
		var r bot.CardRef
		if err := rows.Scan(&r.Conversation, &r.ActivityID); err != nil {
			return nil, fmt.Errorf("cards of subject: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("cards of subject: %w", err)
	}
	return out, nil
}

// errNotSettling is returned when Decide gets a kind it does not settle.
var errNotSettling = errors.New("only approve, edit and reject are decided here; regenerate and retry revise the draft")

// Decide settles a pending (or failed) draft in one immediate transaction:
// the decision row, the draft's status and, for approve and edit, an outbox
// row with the reply sealed. The first settling decision wins; a later one,
// or the same ActionID again, gives bot.ErrDecided. Approving an empty,
// failed or flagged draft, or editing to empty text, gives bot.ErrForbidden.
// The deciding identity is resolved to a staff subject (created if new).
func (db *DB) Decide(ctx context.Context, d bot.Decision) error {
	if d.Kind == bot.Resend {
		return db.resend(ctx, d)
	}
	var status bot.DraftStatus
	switch d.Kind {
	case bot.Approve:
		status = bot.DraftApproved
	case bot.Edit:
		status = bot.DraftEdited
		if strings.TrimSpace(d.Text) == "" {
			return fmt.Errorf("decide draft %d: edit with empty text: %w", d.DraftID, bot.ErrForbidden)
		}
		if len(d.Text) > MaxTextLen {
			return fmt.Errorf("decide draft %d: %w", d.DraftID, bot.ErrTooLarge)
		}
	case bot.Reject:
		status = bot.DraftRejected
	default:
		return fmt.Errorf("decide draft %d: %w", d.DraftID, errNotSettling)
	}
	var byKeys []identityKey
	if !d.By.IsZero() {
		var err error
		if byKeys, err = db.identityKeys([]bot.Identity{d.By}); err != nil {
			return fmt.Errorf("decide draft %d: decider: %w", d.DraftID, err)
		}
	}
	if d.At.IsZero() {
		d.At = db.now()
	}
	var r resolved
	if byKeys != nil {
		// The decider is resolved (created, renamed) in the transaction.
		release := db.subjects.hold()
		defer release()
	}
	err := db.tx(ctx, func(tx *sql.Tx) error {
		if d.ActionID != "" {
			var n int
			if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM decisions WHERE action_id = ?", d.ActionID).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return bot.ErrDecided
			}
		}
		dr, sk, err := db.loadDraftRow(ctx, tx, d.DraftID)
		if err != nil {
			return err
		}
		if dr.Status.Decided() {
			return bot.ErrDecided
		}
		reply := d.Text
		if d.Kind == bot.Approve {
			if dr.Status == bot.DraftFailed || strings.TrimSpace(dr.Text) == "" || dr.Result.Blocked() {
				return fmt.Errorf("approve of an empty, failed or flagged draft: %w", bot.ErrForbidden)
			}
			reply = dr.Text
		}
		decisionID, err := db.nextID(ctx, tx, "decisions")
		if err != nil {
			return err
		}
		decisionRow := rowID(decisionID)
		var by sql.NullString
		var byIdent, byName []byte
		if byKeys != nil {
			r, err = db.resolveIn(ctx, tx, byKeys, bot.SubjectInput{Name: d.ByName, Role: bot.RoleStaff,
				Tenant: strings.ToLower(strings.TrimSpace(d.Tenant))})
			if err != nil {
				return err
			}
			staff := r.sub
			bk, err := db.subjectKey(ctx, staff.ID)
			if err != nil {
				return err
			}
			by = sql.NullString{String: string(staff.ID), Valid: true}
			byIdent = bk.seal("decisions", "by_ident", decisionRow, []byte(byKeys[0].id.String()))
			byName = bk.sealString("decisions", "by_name", decisionRow, d.ByName)
		}
		var text []byte
		if d.Kind == bot.Edit {
			text = sk.seal("decisions", "text", decisionRow, []byte(d.Text))
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO decisions (id, draft_id, subject_id, by_subject, by_ident, by_name, kind, text, action_id, at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, decisionID, d.DraftID, string(dr.Subject), by, byIdent, byName, string(d.Kind), text,
			nullString(d.ActionID), ts(d.At)); err != nil {
			if isUnique(err) {
				return bot.ErrDecided
			}
			return fmt.Errorf("insert decision: %w", err)
		}
		now := ts(db.now())
		if _, err := tx.ExecContext(ctx, "UPDATE drafts SET status = ?, updated_at = ? WHERE id = ?", string(status), now, d.DraftID); err != nil {
			return fmt.Errorf("update draft: %w", err)
		}
		if d.Kind == bot.Reject {
			return nil
		}
		outboxID, err := db.nextID(ctx, tx, "outbox")
		if err != nil {
			return err
		}
		outboxRow := rowID(outboxID)
		if _, err := tx.ExecContext(ctx, `INSERT INTO outbox (id, draft_id, subject_id, platform, chat_bidx, chat, text, status, attempts, next_attempt, created_at, updated_at, key)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?)`, outboxID, d.DraftID, string(dr.Subject), string(dr.Platform), dr.chatIdx,
			sk.seal("outbox", "chat", outboxRow, []byte(dr.Chat)), sk.seal("outbox", "text", outboxRow, []byte(reply)), string(bot.StatusPending),
			now, now, now, newOutboxKey()); err != nil {
			if isUnique(err) {
				return bot.ErrDecided
			}
			return fmt.Errorf("insert outbox: %w", err)
		}
		return nil
	})
	db.afterResolve(ctx, r, err)
	if err != nil {
		return fmt.Errorf("decide draft %d: %w", d.DraftID, err)
	}
	return nil
}

// resend queues the reply of a decided draft again after its send failed or
// could not be confirmed: the outbox row becomes pending, due now, with its
// attempts reset and the same key (a copy that did arrive on an idempotent
// channel is dropped by the platform). The click is recorded as a decision
// (kind resend, not settling). A reply that is not failed or unconfirmed,
// or the same ActionID again, gives bot.ErrDecided.
func (db *DB) resend(ctx context.Context, d bot.Decision) error {
	if d.At.IsZero() {
		d.At = db.now()
	}
	err := db.tx(ctx, func(tx *sql.Tx) error {
		var subject, status string
		var outboxID int64
		if err := tx.QueryRowContext(ctx, "SELECT d.subject_id, o.id, o.status FROM drafts d JOIN outbox o ON o.draft_id = d.id AND o.kind = 'reply' WHERE d.id = ?", d.DraftID).
			Scan(&subject, &outboxID, &status); err != nil {
			return notFound(err)
		}
		if st := bot.MessageStatus(status); st != bot.StatusFailed && st != bot.StatusUnconfirmed {
			return bot.ErrDecided
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO decisions (draft_id, subject_id, kind, action_id, at) VALUES (?, ?, 'resend', ?, ?)`,
			d.DraftID, subject, nullString(d.ActionID), ts(d.At)); err != nil {
			if isUnique(err) {
				return bot.ErrDecided
			}
			return fmt.Errorf("insert decision: %w", err)
		}
		now := ts(db.now())
		_, err := tx.ExecContext(ctx, `UPDATE outbox SET status = 'pending', attempts = 0, next_attempt = ?, sending_at = 0, waiting = '',
			last_error = '', reason = '', updated_at = ? WHERE id = ?`, now, now, outboxID)
		return err
	})
	if err != nil {
		return fmt.Errorf("resend draft %d: %w", d.DraftID, err)
	}
	return nil
}

// QueueTemplate queues the business's template t for the chat of an
// undecided draft, in one immediate transaction: an outbox row of kind
// template (its own key, the template's name and language, no text; the
// first name it may take is filled in when it is sent) and a decision row
// of kind template (not settling: the draft waits for the customer's
// answer). A draft has one template row: a failed or unconfirmed one is
// queued again, due now, under the same key; any other, the same ActionID
// again, or a decided draft gives bot.ErrDecided. The row's created_at is
// the decision's time (when staff asked for it).
func (db *DB) QueueTemplate(ctx context.Context, d bot.Decision, t bot.Template) error {
	if t.IsZero() {
		return fmt.Errorf("queue template for draft %d: no template", d.DraftID)
	}
	if d.At.IsZero() {
		d.At = db.now()
	}
	params := ""
	if t.FirstName {
		params = templateFirstName
	}
	err := db.tx(ctx, func(tx *sql.Tx) error {
		dr, sk, err := db.loadDraftRow(ctx, tx, d.DraftID)
		if err != nil {
			return err
		}
		if dr.Status.Decided() {
			return bot.ErrDecided
		}
		var outboxID int64
		var status string
		switch err := tx.QueryRowContext(ctx, "SELECT id, status FROM outbox WHERE draft_id = ? AND kind = 'template'", d.DraftID).Scan(&outboxID, &status); {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return err
		default:
			if st := bot.MessageStatus(status); st != bot.StatusFailed && st != bot.StatusUnconfirmed {
				return bot.ErrDecided
			}
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO decisions (draft_id, subject_id, kind, action_id, at) VALUES (?, ?, 'template', ?, ?)`,
			d.DraftID, string(dr.Subject), nullString(d.ActionID), ts(d.At)); err != nil {
			if isUnique(err) {
				return bot.ErrDecided
			}
			return fmt.Errorf("insert decision: %w", err)
		}
		now := ts(db.now())
		if outboxID != 0 {
			_, err := tx.ExecContext(ctx, `UPDATE outbox SET status = 'pending', attempts = 0, next_attempt = ?, sending_at = 0, waiting = '',
				last_error = '', reason = '', template = ?, template_lang = ?, template_params = ?, created_at = ?, updated_at = ? WHERE id = ?`,
				now, t.Name, t.Language, params, ts(d.At), now, outboxID)
			return err
		}
		if outboxID, err = db.nextID(ctx, tx, "outbox"); err != nil {
			return err
		}
		outboxRow := rowID(outboxID)
		if _, err := tx.ExecContext(ctx, `INSERT INTO outbox (id, draft_id, subject_id, platform, chat_bidx, chat, text, status, attempts, next_attempt,
			created_at, updated_at, key, kind, template, template_lang, template_params) VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', 0, ?, ?, ?, ?, 'template', ?, ?, ?)`,
			outboxID, d.DraftID, string(dr.Subject), string(dr.Platform), dr.chatIdx, sk.seal("outbox", "chat", outboxRow, []byte(dr.Chat)),
			sk.seal("outbox", "text", outboxRow, nil), now, ts(d.At), now, newOutboxKey(), t.Name, t.Language, params); err != nil {
			if isUnique(err) {
				return bot.ErrDecided
			}
			return fmt.Errorf("insert outbox: %w", err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("queue template for draft %d: %w", d.DraftID, err)
	}
	return nil
}
