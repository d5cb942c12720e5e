package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// mainMigrations and keysMigrations are the numbered, forward-only schema
// changes of the two databases: NNN_name.sql, applied in order, each in its
// own transaction and recorded in schema_migrations.
//
//go:embed migrations/*.sql
var mainMigrations embed.FS

//go:embed migrations/keys/*.sql
var keysMigrations embed.FS

// migration is one parsed migration file.
type migration struct {
	version int
	name    string
	sql     string
	// autoincrement lists tables to rebuild with an AUTOINCREMENT id before
	// sql runs, from the file's "-- autoincrement: t1 t2" lines (see
	// rebuildAutoincrement).
	autoincrement []string
}

// autoincrementDirective starts a migration line naming tables whose id
// must never be reused.
const autoincrementDirective = "-- autoincrement:"

// loadMigrations reads dir of fsys, checks names and numbering (1, 2, 3, …
// without gaps) and the "-- NNN: what and why" header line.
func loadMigrations(fsys fs.FS, dir string) ([]migration, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, err
	}
	var ms []migration
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".sql") {
			continue
		}
		num, name, ok := strings.Cut(strings.TrimSuffix(e.Name(), ".sql"), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || len(num) != 3 || name == "" {
			return nil, fmt.Errorf("migration %s: name must be NNN_name.sql", e.Name())
		}
		b, err := fs.ReadFile(fsys, path.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		if !strings.HasPrefix(string(b), "-- "+num+": ") {
			return nil, fmt.Errorf("migration %s: first line must be \"-- %s: what and why\"", e.Name(), num)
		}
		m := migration{version: v, name: name, sql: string(b)}
		for _, line := range strings.Split(m.sql, "\n") {
			if rest, ok := strings.CutPrefix(strings.TrimSpace(line), autoincrementDirective); ok {
				m.autoincrement = append(m.autoincrement, strings.Fields(rest)...)
			}
		}
		ms = append(ms, m)
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	for i, m := range ms {
		if m.version != i+1 {
			return nil, fmt.Errorf("migration %03d: versions must run 1, 2, 3 without gaps", m.version)
		}
	}
	return ms, nil
}

// migrate applies the migrations of dir not yet recorded in h.
func migrate(ctx context.Context, h *sql.DB, fsys fs.FS, dir string) error {
	ms, err := loadMigrations(fsys, dir)
	if err != nil {
		return err
	}
	if _, err := h.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
	version    INTEGER PRIMARY KEY,
	name       TEXT NOT NULL,
	applied_at INTEGER NOT NULL
) STRICT`); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	for _, m := range ms {
		if err := applyMigration(ctx, h, m); err != nil {
			return fmt.Errorf("migration %03d_%s: %w", m.version, m.name, err)
		}
	}
	return nil
}

// applyMigration applies m in one transaction on one connection of h. A
// migration that rebuilds tables runs with foreign keys off (SQLite cannot
// drop a referenced table otherwise; the switch only works outside a
// transaction) and checks them with foreign_key_check before it commits.
func applyMigration(ctx context.Context, h *sql.DB, m migration) (err error) {
	conn, err := h.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if len(m.autoincrement) > 0 {
		if _, err := conn.ExecContext(ctx, "PRAGMA foreign_keys = OFF"); err != nil {
			return err
		}
		defer func() {
			if _, ferr := conn.ExecContext(context.WithoutCancel(ctx), "PRAGMA foreign_keys = ON"); ferr != nil && err == nil {
				err = ferr
			}
		}()
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	var n int
	if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM schema_migrations WHERE version = ?", m.version).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return nil
	}
	for _, t := range m.autoincrement {
		if err := rebuildAutoincrement(ctx, tx, t); err != nil {
			return fmt.Errorf("rebuild %s: %w", t, err)
		}
	}
	if _, err := tx.ExecContext(ctx, m.sql); err != nil {
		return err
	}
	if len(m.autoincrement) > 0 {
		rows, err := tx.QueryContext(ctx, "PRAGMA foreign_key_check")
		if err != nil {
			return err
		}
		bad := rows.Next()
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return err
		}
		if bad {
			return errors.New("foreign key check failed after rebuilding tables")
		}
	}
	if _, err := tx.ExecContext(ctx, "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
		m.version, m.name, time.Now().UnixNano()); err != nil {
		return err
	}
	return tx.Commit()
}

// idPrimaryKey finds the "id INTEGER PRIMARY KEY" column definition.
var idPrimaryKey = regexp.MustCompile(`(?i)\bid\s+INTEGER\s+PRIMARY\s+KEY\b`)

// createTable finds the start of a CREATE TABLE statement up to the name.
var createTable = regexp.MustCompile(`(?is)^\s*CREATE\s+TABLE\s+("[^"]+"|\S+)`)

// rebuildAutoincrement makes table's "id INTEGER PRIMARY KEY" an
// AUTOINCREMENT key, so that the id of a deleted row (an erased customer's
// newest draft) is never given to a new row: SQLite otherwise reuses the
// largest id once its row is gone. SQLite cannot alter a key, so the table
// is rebuilt from its own stored definition, whatever columns, indexes and
// triggers earlier migrations (of any branch) gave it: a new table with the
// same definition plus AUTOINCREMENT, every row copied, the old table
// dropped, the new one renamed, then the old indexes and triggers created
// again. Foreign keys must be off (applyMigration); references to the table
// by name stay valid. A table that already has AUTOINCREMENT is left alone.
func rebuildAutoincrement(ctx context.Context, tx *sql.Tx, table string) error {
	var def string
	if err := tx.QueryRowContext(ctx, "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", table).Scan(&def); err != nil {
		return fmt.Errorf("read definition: %w", err)
	}
	if strings.Contains(strings.ToUpper(def), "AUTOINCREMENT") {
		return nil
	}
	loc := idPrimaryKey.FindStringIndex(def)
	head := createTable.FindStringIndex(def)
	if loc == nil || head == nil {
		return errors.New("no \"id INTEGER PRIMARY KEY\" column")
	}
	tmp := table + "__rebuild"
	newDef := `CREATE TABLE "` + tmp + `"` + def[head[1]:loc[1]] + " AUTOINCREMENT" + def[loc[1]:]
	rows, err := tx.QueryContext(ctx, "SELECT sql FROM sqlite_master WHERE tbl_name = ? AND type IN ('index', 'trigger') AND sql IS NOT NULL ORDER BY type, name", table)
	if err != nil {
		return err
	}
	var deps []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			_ = rows.Close()
			return err
		}
		deps = append(deps, s)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return err
	}
	// legacy_alter_table: the rename must not re-check (or rewrite) other
	// tables' triggers while the old table is gone.
	for _, q := range []string{
		"PRAGMA legacy_alter_table = ON",
		newDef,
		`INSERT INTO "` + tmp + `" SELECT * FROM "` + table + `"`,
		`DROP TABLE "` + table + `"`,
		`ALTER TABLE "` + tmp + `" RENAME TO "` + table + `"`,
		"PRAGMA legacy_alter_table = OFF",
	} {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return err
		}
	}
	for _, d := range deps {
		if _, err := tx.ExecContext(ctx, d); err != nil {
			return fmt.Errorf("recreate index or trigger: %w", err)
		}
	}
	return nil
}
