package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/switchboard/switchboard/bot"
)

// Forget records (table forgets) say what an erasure still owes the
// channels' forgetters: the erased subject, the identities to hand them
// and the names of those that have not succeeded yet. EraseSubject writes
// one in the transaction that deletes the subject's rows. Its identities
// are sealed under a fresh data key of the record's own, kept in keys.db
// under the record's id ("f_…", in subject_keys beside the subjects'
// keys, wrapped the same way) and committed there (FULL sync) before the
// main transaction begins, so the key is on disk before anything sealed
// with it. CompleteForget deletes the row, then the key: once the key is
// gone, a backup of the main db holding the row cannot be opened for the
// identities, and the next checkpoint removes both from the WAL files.
//
// The orphan sweep at Open (destroyOrphanKeys) counts a record's key as
// live while its row exists, and destroys it once the row is gone: the key
// of an erasure whose transaction rolled back or never began, or of a
// record whose completion was cut off between the two deletes. A row whose
// key is missing (keys.db restored from an older copy) can never be opened;
// Open deletes it and logs the subject (dropKeylessForgets).

// forgetIDPrefix starts every forget record's id, and its key's id in
// keys.db; subject ids start with "s_".
const forgetIDPrefix = "f_"

// newForgetID returns a fresh random forget record id.
func newForgetID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("store: crypto/rand failed: " + err.Error())
	}
	return forgetIDPrefix + hex.EncodeToString(b[:])
}

// forgetAAD binds a record's sealed identities to the record and its
// subject.
func forgetAAD(id string, s bot.SubjectID) []byte {
	return fmt.Appendf(nil, "switchboard/forget|v1|%s|%s", id, s)
}

// forgetIdentity is an identity as a forget record seals it.
type forgetIdentity struct {
	Kind  string `json:"k"`
	Value string `json:"v"`
}

// sealForget seals ids for record id of subject s under the record's key.
func sealForget(sk *subjectKey, id string, s bot.SubjectID, ids []bot.Identity) ([]byte, error) {
	list := make([]forgetIdentity, len(ids))
	for i, x := range ids {
		list[i] = forgetIdentity{Kind: string(x.Kind), Value: x.Value}
	}
	pt, err := json.Marshal(list)
	if err != nil {
		return nil, fmt.Errorf("seal forget: %w", err)
	}
	defer clear(pt)
	out := make([]byte, 1, 1+len(pt)+sk.aead.Overhead())
	out[0] = fieldFormat
	return sk.aead.Seal(out, nil, pt, forgetAAD(id, s)), nil
}

// openForget opens what sealForget sealed. The first byte is 1 for
// records written before fields were bound to their rows (it was
// fieldFormat then) and 2 after; the additional data is the same, and has
// bound the identities to their record from the start, so both open.
func openForget(sk *subjectKey, id string, s bot.SubjectID, sealed []byte) ([]bot.Identity, error) {
	if len(sealed) == 0 || sealed[0] != fieldFormat && sealed[0] != fieldFormatV1 {
		return nil, errors.New("open forget: unknown field format")
	}
	pt, err := sk.aead.Open(nil, nil, sealed[1:], forgetAAD(id, s))
	if err != nil {
		return nil, fmt.Errorf("open forget: %w", errOpen)
	}
	defer clear(pt)
	var list []forgetIdentity
	if err := json.Unmarshal(pt, &list); err != nil {
		return nil, errors.New("open forget: bad identities")
	}
	out := make([]bot.Identity, len(list))
	for i, x := range list {
		out[i] = bot.Identity{Kind: bot.IdentityKind(x.Kind), Value: x.Value}
	}
	return out, nil
}

// encodeOwed renders forgetter names as the owed column holds them.
func encodeOwed(owed []string) (string, error) {
	if owed == nil {
		owed = []string{}
	}
	for _, n := range owed {
		if n == "" {
			return "", errors.New("forget: empty forgetter name")
		}
	}
	b, err := json.Marshal(owed)
	if err != nil {
		return "", fmt.Errorf("forget: %w", err)
	}
	return string(b), nil
}

// EraseSubject is DeleteSubject that also records the forget the channels
// owe: the same transaction that deletes s's rows writes a forget record
// holding ids (sealed, see above) and owed, the names of the forgetters
// to run, due at once. It returns the record's id whenever that
// transaction committed, also with an error from what follows it (the key,
// the checkpoint; the journal finishes those) and with bot.ErrNotFound for
// a subject that is not known (the channels may still know the person).
// The id is "" if nothing was recorded. Run the forgetters, then
// CompleteForget or UpdateForget.
func (db *DB) EraseSubject(ctx context.Context, s bot.SubjectID, ids []bot.Identity, owed []string) (string, map[string]int, error) {
	owedText, err := encodeOwed(owed)
	if err != nil {
		return "", nil, fmt.Errorf("erase subject: %w", err)
	}
	id := newForgetID()
	// The key is committed in keys.db before the rows go: a crash after the
	// main commit finds it; a crash before leaves an orphan key, which the
	// next Open destroys.
	sk, err := db.createSubjectKey(ctx, bot.SubjectID(id))
	if err != nil {
		return "", nil, fmt.Errorf("erase subject: forget key: %w", err)
	}
	sealed, err := sealForget(sk, id, s, ids)
	if err != nil {
		db.dropForgetKey(ctx, id)
		return "", nil, fmt.Errorf("erase subject: %w", err)
	}
	now := ts(db.now())
	counts, committed, err := db.deleteSubject(ctx, s, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, "INSERT INTO forgets (id, subject_id, ids, owed, due_at, created_at) VALUES (?, ?, ?, ?, ?, ?)",
			id, string(s), sealed, owedText, now, now); err != nil {
			return fmt.Errorf("forget record: %w", err)
		}
		return nil
	})
	if !committed {
		db.dropForgetKey(ctx, id)
		return "", nil, fmt.Errorf("erase subject: %w", err)
	}
	if err != nil {
		return id, counts, fmt.Errorf("erase subject: %w", err)
	}
	return id, counts, nil
}

// dropForgetKey destroys the key of a forget record that was never
// written; on failure the next Open's orphan sweep destroys it.
func (db *DB) dropForgetKey(ctx context.Context, id string) {
	if _, err := db.destroySubjectKey(context.WithoutCancel(ctx), bot.SubjectID(id)); err != nil {
		db.log.Warn().Err(err).Msg("key of an unwritten forget record left for the next start")
	}
}

// PendingForgets returns the forget records not completed, oldest first,
// with their identities opened.
func (db *DB) PendingForgets(ctx context.Context) ([]bot.PendingForget, error) {
	_, read, _, err := db.handles()
	if err != nil {
		return nil, err
	}
	rs, err := db.forgetRows(ctx, read)
	if err != nil {
		return nil, fmt.Errorf("pending forgets: %w", err)
	}
	out := make([]bot.PendingForget, 0, len(rs))
	for _, r := range rs {
		sk, err := db.subjectKey(ctx, bot.SubjectID(r.pf.ID))
		if err != nil {
			return nil, fmt.Errorf("pending forgets: key of %s: %w", r.pf.ID, err)
		}
		ids, err := openForget(sk, r.pf.ID, r.pf.Subject, r.sealed)
		if err != nil {
			return nil, fmt.Errorf("pending forgets: %s: %w", r.pf.ID, err)
		}
		r.pf.Identities = ids
		out = append(out, r.pf)
	}
	return out, nil
}

// forgetRow is a forget record as stored, its identities still sealed.
type forgetRow struct {
	pf     bot.PendingForget
	sealed []byte
}

// forgetRows reads every forget record, oldest first.
func (db *DB) forgetRows(ctx context.Context, q querier) ([]forgetRow, error) {
	rows, err := q.QueryContext(ctx, "SELECT id, subject_id, ids, owed, due_at, created_at FROM forgets ORDER BY created_at, id")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []forgetRow
	for rows.Next() {
		var r forgetRow
		var sub, owed string
		var due, created int64
		if err := rows.Scan(&r.pf.ID, &sub, &r.sealed, &owed, &due, &created); err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(owed), &r.pf.Owed); err != nil {
			return nil, fmt.Errorf("forget %s: bad owed list", r.pf.ID)
		}
		r.pf.Subject, r.pf.Due, r.pf.Created = bot.SubjectID(sub), fromTS(due), fromTS(created)
		out = append(out, r)
	}
	return out, rows.Err()
}

// UpdateForget records what forget record id still owes (the names of the
// forgetters that have not succeeded) and when it is next due. An unknown
// id gives bot.ErrNotFound.
func (db *DB) UpdateForget(ctx context.Context, id string, owed []string, due time.Time) error {
	write, _, _, err := db.handles()
	if err != nil {
		return err
	}
	owedText, err := encodeOwed(owed)
	if err != nil {
		return fmt.Errorf("update forget: %w", err)
	}
	res, err := write.ExecContext(ctx, "UPDATE forgets SET owed = ?, due_at = ? WHERE id = ?", owedText, ts(due), id)
	if err != nil {
		return fmt.Errorf("update forget %s: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("update forget %s: %w", id, bot.ErrNotFound)
	}
	return nil
}

// CompleteForget ends forget record id once every forgetter it owed has
// succeeded: it deletes the row (main db), then destroys the record's key
// (keys.db). The bytes of both leave the WAL files at the next Checkpoint
// (the erasure that made the record ends with one; so does a caller that
// completes records later). An unknown or completed id is not an error.
func (db *DB) CompleteForget(ctx context.Context, id string) error {
	write, _, _, err := db.handles()
	if err != nil {
		return err
	}
	if !strings.HasPrefix(id, forgetIDPrefix) {
		return fmt.Errorf("complete forget %q: not a forget record id", id)
	}
	if _, err := write.ExecContext(ctx, "DELETE FROM forgets WHERE id = ?", id); err != nil {
		return fmt.Errorf("complete forget %s: %w", id, err)
	}
	if _, err := db.destroySubjectKey(ctx, bot.SubjectID(id)); err != nil {
		return fmt.Errorf("complete forget %s: %w", id, err)
	}
	return nil
}

// liveForgets returns the ids of the forget records, whose keys the
// orphan sweep keeps.
func (db *DB) liveForgets(ctx context.Context, q querier) ([]string, error) {
	return queryStrings(ctx, q, "SELECT id FROM forgets")
}

// dropKeylessForgets deletes the forget records whose key keys.db does not
// hold (it was restored from a copy older than the record): their
// identities can never be opened again, so the channels cannot be told.
// Each is logged with its subject, for the operator to erase the person in
// the channels by hand. It returns how many it deleted.
func (db *DB) dropKeylessForgets(ctx context.Context) (int, error) {
	write, read, kdb, err := db.handles()
	if err != nil {
		return 0, err
	}
	rs, err := db.forgetRows(ctx, read)
	if err != nil || len(rs) == 0 {
		return 0, err
	}
	keyed := map[string]bool{}
	for _, r := range rs {
		var n int
		if err := kdb.QueryRowContext(ctx, "SELECT count(*) FROM subject_keys WHERE subject_id = ?", r.pf.ID).Scan(&n); err != nil {
			return 0, err
		}
		keyed[r.pf.ID] = n > 0
	}
	dropped := 0
	for _, r := range rs {
		if keyed[r.pf.ID] {
			continue
		}
		if _, err := write.ExecContext(ctx, "DELETE FROM forgets WHERE id = ?", r.pf.ID); err != nil {
			return dropped, fmt.Errorf("forget %s: %w", r.pf.ID, err)
		}
		db.log.Error().Str("subject", string(r.pf.Subject)).Strs("owed", r.pf.Owed).
			Msg("forget record without its key (keys.db older than switchboard.db?): the channels it owed were not told; erase the person there by hand")
		dropped++
	}
	return dropped, nil
}

// queryStrings returns the first column of q's rows.
func queryStrings(ctx context.Context, q querier, query string, args ...any) ([]string, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}
