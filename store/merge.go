package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/switchboard/switchboard/bot"
)

// sealedColumns lists, per table, the column naming the subject whose key
// seals the listed columns. A merge re-seals exactly these.
var sealedColumns = []struct {
	table, subjectCol string
	cols              []string
}{
	{"identities", "subject_id", []string{"value"}},
	{"messages", "subject_id", []string{"chat", "text"}},
	{"drafts", "subject_id", []string{"chat", "text", "result"}},
	{"decisions", "subject_id", []string{"text"}},
	{"decisions", "by_subject", []string{"by_ident", "by_name"}},
	{"outbox", "subject_id", []string{"chat", "text"}},
	{"cards", "subject_id", nil},
	{"closed_acks", "subject_id", nil},
	{"media", "subject_id", []string{"sha256", "name", "ref", "file_key", "thumb", "transcript"}},
}

// mergeSubject moves every row of subject from to subject to inside tx,
// re-sealing its fields under to's key, folds the subject row into to's
// (from's name if to has none or only from's was set by the person, the
// higher role, an objection to AI from either),
// points the request register at to, records the merge in the audit trail
// and deletes from's subject row. The caller destroys from's key after the
// commit.
func (db *DB) mergeSubject(ctx context.Context, tx *sql.Tx, from, to bot.SubjectID) error {
	fk, err := db.subjectKey(ctx, from)
	if err != nil {
		return err
	}
	tk, err := db.subjectKey(ctx, to)
	if err != nil {
		return err
	}
	for _, sc := range sealedColumns {
		if err := reseal(ctx, tx, sc.table, sc.subjectCol, sc.cols, fk, tk); err != nil {
			return fmt.Errorf("%s: %w", sc.table, err)
		}
	}
	fromSub, fromSet, err := db.loadSubjectRow(ctx, tx, from)
	if err != nil {
		return err
	}
	toSub, toSet, err := db.loadSubjectRow(ctx, tx, to)
	if err != nil {
		return err
	}
	// A name the person set (/name) wins over a platform name.
	if toSub.Name == "" || fromSet && !toSet {
		toSub.Name, toSet = fromSub.Name, fromSet
	}
	if roleRank(fromSub.Role) > roleRank(toSub.Role) {
		toSub.Role = fromSub.Role
	}
	if toSub.Tenant == "" {
		toSub.Tenant = fromSub.Tenant
	}
	now := ts(db.now())
	if _, err := tx.ExecContext(ctx, `UPDATE subjects SET name = ?, name_set = ?, role = ?, tenant = ?, ai_restricted = ?, updated_at = ? WHERE id = ?`,
		tk.sealString("subjects", "name", tk.row(), toSub.Name), toSet, string(toSub.Role), toSub.Tenant, toSub.AIRestricted || fromSub.AIRestricted,
		now, string(to)); err != nil {
		return fmt.Errorf("update subject: %w", err)
	}
	if _, err := tx.ExecContext(ctx, "UPDATE requests SET requested_by = ? WHERE requested_by = ?", string(to), string(from)); err != nil {
		return fmt.Errorf("requests: %w", err)
	}
	if _, err := tx.ExecContext(ctx, "INSERT INTO audit (at, actor, action, subject, detail) VALUES (?, '', 'merge', ?, ?)",
		now, string(to), "merged subject "+string(from)); err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	if _, err := tx.ExecContext(ctx, "DELETE FROM subjects WHERE id = ?", string(from)); err != nil {
		return fmt.Errorf("delete subject: %w", err)
	}
	return nil
}

// reseal moves the rows of table whose subjectCol is from.id to to.id,
// re-sealing cols under to's key, bound to the same rows.
func reseal(ctx context.Context, tx *sql.Tx, table, subjectCol string, cols []string, from, to *subjectKey) error {
	sel := "id"
	if len(cols) > 0 {
		sel += ", " + strings.Join(cols, ", ")
	}
	rows, err := tx.QueryContext(ctx, "SELECT "+sel+" FROM "+table+" WHERE "+subjectCol+" = ?", string(from.id))
	if err != nil {
		return err
	}
	type row struct {
		id   int64
		vals [][]byte
	}
	var all []row
	for rows.Next() {
		r := row{vals: make([][]byte, len(cols))}
		dest := []any{&r.id}
		for i := range r.vals {
			dest = append(dest, &r.vals[i])
		}
		if err := rows.Scan(dest...); err != nil {
			rows.Close()
			return err
		}
		all = append(all, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	set := subjectCol + " = ?"
	for _, c := range cols {
		set += ", " + c + " = ?"
	}
	stmt, err := tx.PrepareContext(ctx, "UPDATE "+table+" SET "+set+" WHERE id = ?")
	if err != nil {
		return err
	}
	defer stmt.Close()
	for _, r := range all {
		args := []any{string(to.id)}
		for i, c := range cols {
			if r.vals[i] == nil {
				args = append(args, nil)
				continue
			}
			pt, err := from.open(table, c, rowID(r.id), r.vals[i])
			if err != nil {
				return err
			}
			args = append(args, to.seal(table, c, rowID(r.id), pt))
		}
		args = append(args, r.id)
		if _, err := stmt.ExecContext(ctx, args...); err != nil {
			return err
		}
	}
	return nil
}

// replaceSubject rewrites from to to in a lookup result.
func replaceSubject(found map[string]bot.SubjectID, from, to bot.SubjectID) map[string]bot.SubjectID {
	for k, v := range found {
		if v == from {
			found[k] = to
		}
	}
	return found
}
