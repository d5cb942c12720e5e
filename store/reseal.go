package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/switchboard/switchboard/bot"
)

// resealTask is the data task (scheduled by migration 016) that re-seals
// every format-1 field bound to its row. Until its data_tasks row is gone,
// format-1 fields open (keyring.fieldV1); after, they do not.
const resealTask = "reseal-rows"

// resealBatchRows bounds the rows one transaction of the task re-seals.
const resealBatchRows = 500

// resealGroup is a set of sealed columns of one table sealed under one key:
// the subject's that keyCol names, or the store's own (keyCol "").
type resealGroup struct {
	table, keyCol string
	cols          []string
	// subjectRow: the row key is the subject id (subjects), not the
	// integer id.
	subjectRow bool
}

// resealGroups are every sealed column of every table: the ones a merge
// re-seals (sealedColumns), the subject's name, and the card removals.
func resealGroups() []resealGroup {
	out := []resealGroup{{table: "subjects", keyCol: "id", cols: []string{"name"}, subjectRow: true}}
	for _, sc := range sealedColumns {
		if len(sc.cols) > 0 {
			out = append(out, resealGroup{table: sc.table, keyCol: sc.subjectCol, cols: sc.cols})
		}
	}
	return append(out, resealGroup{table: "card_removals", cols: []string{"ref"}})
}

// resealStats count what the task did.
type resealStats struct {
	resealed int // values re-sealed as format 2
	corrupt  int // format-1 values that did not open, left as they are
	keyless  int // format-1 values whose subject key is gone, left
}

// resealRows is the data task reseal-rows: it re-seals every format-1
// value (bound to subject, table and column only) as format 2, bound to
// its row as well, so that once it has run no value can be moved to
// another row of its subject, table and column. It works in transactions
// of at most resealBatchRows rows, each table in id order; a crash leaves
// the rows done so far re-sealed, and the next Open goes on (a format-2
// value is not selected again). A value that does not open is left as it
// is and logged by table, column and row; one whose subject key is gone
// (nobody can read it) is left too. It ends with a checkpoint when it
// changed rows.
func (db *DB) resealRows(ctx context.Context) (int, error) {
	var st resealStats
	for _, g := range resealGroups() {
		if err := db.resealGroup(ctx, g, &st); err != nil {
			return st.resealed, fmt.Errorf("%s: %w", g.table, err)
		}
	}
	if st.corrupt > 0 || st.keyless > 0 {
		db.log.Warn().Int("corrupt", st.corrupt).Int("keyless", st.keyless).Msg("format-1 values left as they are")
	}
	if st.resealed > 0 {
		if err := db.Checkpoint(ctx); err != nil {
			return st.resealed, err
		}
	}
	return st.resealed, nil
}

// resealGroup re-seals the format-1 values of g, a batch per transaction.
func (db *DB) resealGroup(ctx context.Context, g resealGroup, st *resealStats) error {
	keyCol := g.keyCol
	if keyCol == "" {
		keyCol = "''"
	}
	var any1 []string
	for _, c := range g.cols {
		any1 = append(any1, "substr("+c+", 1, 1) = x'01'")
	}
	query := "SELECT id, " + keyCol + ", " + strings.Join(g.cols, ", ") + " FROM " + g.table +
		" WHERE id > ? AND (" + strings.Join(any1, " OR ") + ") ORDER BY id LIMIT ?"
	batch := db.resealBatch
	if batch <= 0 {
		batch = resealBatchRows
	}
	var after any = int64(0)
	if g.subjectRow {
		after = ""
	}
	for {
		n := 0
		err := db.tx(ctx, func(tx *sql.Tx) error {
			var err error
			n, after, err = db.resealBatchIn(ctx, tx, g, query, after, batch, st)
			return err
		})
		if err != nil {
			return err
		}
		if db.afterResealBatch != nil {
			db.afterResealBatch(g.table)
		}
		if n < batch {
			return nil
		}
	}
}

// resealBatchIn re-seals the format-1 values of up to limit rows of g
// after row after, in tx; it returns the rows read and the last row's id.
func (db *DB) resealBatchIn(ctx context.Context, tx *sql.Tx, g resealGroup, query string, after any, limit int, st *resealStats) (int, any, error) {
	rows, err := tx.QueryContext(ctx, query, after, limit)
	if err != nil {
		return 0, after, err
	}
	type update struct {
		col string
		id  any
		v   []byte
	}
	var ups []update
	n := 0
	for rows.Next() {
		n++
		var id any
		var intID int64
		var textID string
		var key sql.NullString
		vals := make([][]byte, len(g.cols))
		dest := []any{&intID, &key}
		if g.subjectRow {
			dest[0] = &textID
		}
		for i := range vals {
			dest = append(dest, &vals[i])
		}
		if err := rows.Scan(dest...); err != nil {
			rows.Close()
			return n, after, err
		}
		row := rowID(intID)
		id = intID
		if g.subjectRow {
			row, id = rowKey(textID), textID
		}
		after = id
		var sk *subjectKey
		for i, c := range g.cols {
			v := vals[i]
			if len(v) == 0 || v[0] != fieldFormatV1 {
				continue
			}
			var pt []byte
			var err error
			if g.keyCol == "" {
				if pt, err = db.keys.openRowV1(g.table, c, v); err == nil {
					ups = append(ups, update{c, id, db.keys.sealRow(g.table, c, intID, pt)})
				}
			} else {
				if key.String == "" {
					st.keyless++ // no subject: nobody's key opens it
					continue
				}
				if sk == nil {
					if sk, err = db.subjectKey(ctx, bot.SubjectID(key.String)); errors.Is(err, errKeyGone) {
						st.keyless++
						sk = nil
						continue
					} else if err != nil {
						rows.Close()
						return n, after, err
					}
				}
				if pt, err = sk.openV1(g.table, c, v); err == nil {
					ups = append(ups, update{c, id, sk.seal(g.table, c, row, pt)})
				}
			}
			clear(pt)
			if err != nil {
				st.corrupt++
				db.log.Warn().Str("table", g.table).Str("column", c).Str("row", string(row)).Msg("format-1 value does not open; left as it is")
			}
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return n, after, err
	}
	for _, u := range ups {
		if _, err := tx.ExecContext(ctx, "UPDATE "+g.table+" SET "+u.col+" = ? WHERE id = ?", u.v, u.id); err != nil {
			return n, after, err
		}
	}
	st.resealed += len(ups)
	return n, after, nil
}
