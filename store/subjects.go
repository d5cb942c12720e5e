package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/switchboard/switchboard/bot"
)

// querier is what *sql.DB, *sql.Conn and *sql.Tx share.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// roleRank orders roles so a stored higher role is never lowered.
func roleRank(r bot.Role) int {
	switch r {
	case bot.RoleStaff:
		return 1
	case bot.RoleAdmin:
		return 2
	default:
		return 0
	}
}

func validRole(r bot.Role) bool {
	return r == bot.RoleCustomer || r == bot.RoleStaff || r == bot.RoleAdmin
}

// maxNameLen bounds a stored display name, in bytes.
const maxNameLen = 1024

// identityKey is an identity with its blind index.
type identityKey struct {
	id   bot.Identity
	bidx []byte
}

func (db *DB) identityKeys(ids []bot.Identity) ([]identityKey, error) {
	if len(ids) == 0 {
		return nil, errors.New("resolve subject: no identity")
	}
	out := make([]identityKey, 0, len(ids))
	for _, id := range ids {
		id = normalizeIdentity(id)
		switch {
		case id.Kind == "" || id.Value == "":
			return nil, fmt.Errorf("resolve subject: %w: empty kind or value", bot.ErrBadIdentity)
		case id.Kind == bot.IDTenant:
			return nil, fmt.Errorf("resolve subject: %w: a tenant is not a person", bot.ErrBadIdentity)
		case id.Kind != bot.IDPhone && id.Kind != bot.IDLID && id.Kind != bot.IDBSUID && id.Kind != bot.IDTeams:
			return nil, fmt.Errorf("resolve subject: %w: unknown kind", bot.ErrBadIdentity)
		case len(id.Value) > 256:
			return nil, fmt.Errorf("resolve subject: %w: value too long", bot.ErrBadIdentity)
		}
		out = append(out, identityKey{id: id, bidx: db.keys.identityIndex(id)})
	}
	return out, nil
}

// lookupIdentities maps each blind index found to its subject.
func (db *DB) lookupIdentities(ctx context.Context, q querier, keys []identityKey) (map[string]bot.SubjectID, error) {
	args := make([]any, 0, len(keys)+1)
	args = append(args, bidxVersion)
	for _, k := range keys {
		args = append(args, k.bidx)
	}
	rows, err := q.QueryContext(ctx, "SELECT bidx, subject_id FROM identities WHERE bidx_ver = ? AND bidx IN (?"+
		strings.Repeat(", ?", len(keys)-1)+")", args...)
	if err != nil {
		return nil, fmt.Errorf("look up identities: %w", err)
	}
	defer rows.Close()
	found := make(map[string]bot.SubjectID, len(keys))
	for rows.Next() {
		var b []byte
		var s string
		if err := rows.Scan(&b, &s); err != nil {
			return nil, fmt.Errorf("look up identities: %w", err)
		}
		found[string(b)] = bot.SubjectID(s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("look up identities: %w", err)
	}
	return found, nil
}

// ResolveSubject finds the subject known by any of the identities, or
// creates one with a fresh data key, and links every identity to it. A
// non-empty name replaces the stored one (cut to 1 kB), unless the person
// set theirs with SetName (/name): that one is kept until they set another.
// A higher role
// raises the stored one. If the identities belong to different subjects already, those are
// merged into the oldest (rows re-sealed under its key, the other keys
// destroyed), so one person is one subject for export and erasure.
func (db *DB) ResolveSubject(ctx context.Context, in bot.SubjectInput) (bot.Subject, error) {
	keys, in, err := db.subjectInput(in)
	if err != nil {
		return bot.Subject{}, err
	}
	// Fast paths, no write lock: every identity known, same subject,
	// nothing to update; first from the cache, then from a read.
	if e, ok := db.subjects.lookup(bidxStrings(keys)); ok && !e.needsUpdate(in, db.subjects.nameMAC(in.Name)) {
		if sk, err := db.subjectKey(ctx, e.sub.ID); err == nil {
			sub := e.sub
			if sub.Name, err = e.name(sk, in); err == nil {
				return sub, nil
			}
		}
	}
	_, read, _, err := db.handles()
	if err != nil {
		return bot.Subject{}, err
	}
	found, err := db.lookupIdentities(ctx, read, keys)
	if err != nil {
		return bot.Subject{}, err
	}
	if s, ok := sameSubject(found, keys); ok {
		sub, nameSet, err := db.loadSubjectRow(ctx, read, s)
		if err == nil && !needsUpdate(sub, nameSet, in) {
			return sub, nil
		}
	}

	release := db.subjects.hold()
	var r resolved
	err = db.tx(ctx, func(tx *sql.Tx) error {
		var err error
		r, err = db.resolveIn(ctx, tx, keys, in)
		return err
	})
	release()
	db.afterResolve(ctx, r, err)
	if err != nil {
		return bot.Subject{}, fmt.Errorf("resolve subject: %w", err)
	}
	return r.sub, nil
}

// subjectInput validates and normalises a SubjectInput and computes the
// blind indexes of its identities.
func (db *DB) subjectInput(in bot.SubjectInput) ([]identityKey, bot.SubjectInput, error) {
	keys, err := db.identityKeys(in.Identities)
	if err != nil {
		return nil, in, err
	}
	if in.Role == "" {
		in.Role = bot.RoleCustomer
	}
	if !validRole(in.Role) {
		return nil, in, errors.New("resolve subject: unknown role")
	}
	if len(in.Name) > maxNameLen {
		// A platform display name is not worth losing a message over.
		in.Name = strings.ToValidUTF8(in.Name[:maxNameLen], "")
	}
	in.Tenant = strings.ToLower(strings.TrimSpace(in.Tenant))
	return keys, in, nil
}

// resolved is what resolveIn did.
type resolved struct {
	sub bot.Subject
	// created is a subject (and key) it made; its key must be destroyed if
	// the transaction fails.
	created bot.SubjectID
	// merged are subjects merged into sub; their keys must be destroyed once
	// the transaction committed.
	merged []bot.SubjectID
}

// afterResolve destroys the keys a resolve left behind: the merged
// subjects' on success, the created subject's on failure.
func (db *DB) afterResolve(ctx context.Context, r resolved, err error) {
	drop := r.merged
	if err != nil {
		drop = nil
		if r.created != "" {
			drop = []bot.SubjectID{r.created}
		}
	}
	db.destroyKeys(ctx, drop)
}

// destroyKeys destroys the keys of subjects that are not (or no longer)
// stored.
func (db *DB) destroyKeys(ctx context.Context, subjects []bot.SubjectID) {
	for _, s := range subjects {
		if _, derr := db.destroySubjectKey(context.WithoutCancel(ctx), s); derr != nil {
			db.log.Warn().Err(derr).Str("subject", string(s)).Msg("orphan subject key left in keys db")
		}
	}
}

// resolveIn is ResolveSubject inside tx. When the identities name several
// subjects (a LID and a phone number first seen apart), the newer ones are
// merged into the oldest: their rows are re-sealed under its key.
func (db *DB) resolveIn(ctx context.Context, tx *sql.Tx, keys []identityKey, in bot.SubjectInput) (r resolved, err error) {
	found, err := db.lookupIdentities(ctx, tx, keys)
	if err != nil {
		return r, err
	}
	var s bot.SubjectID
	var sk *subjectKey
	switch subjects := distinct(found); len(subjects) {
	case 0:
		if sk, err = db.takeSubjectKey(ctx); err != nil {
			return r, err
		}
		s = sk.id
		r.created = s
		now := ts(db.now())
		if _, err := tx.ExecContext(ctx, `INSERT INTO subjects (id, name, role, tenant, ai_restricted, created_at, updated_at)
			VALUES (?, ?, ?, ?, 0, ?, ?)`, string(s), sk.sealString("subjects", "name", sk.row(), in.Name), string(in.Role), in.Tenant, now, now); err != nil {
			return r, fmt.Errorf("insert subject: %w", err)
		}
	case 1:
		s = subjects[0]
	default:
		if err := tx.QueryRowContext(ctx, "SELECT id FROM subjects WHERE id IN (?"+strings.Repeat(", ?", len(subjects)-1)+
			") ORDER BY created_at, id LIMIT 1", anys(subjects)...).Scan(&s); err != nil {
			return r, fmt.Errorf("pick subject: %w", err)
		}
		for _, other := range subjects {
			if other == s {
				continue
			}
			if err := db.mergeSubject(ctx, tx, other, s); err != nil {
				return r, fmt.Errorf("merge subjects: %w", err)
			}
			r.merged = append(r.merged, other)
			found = replaceSubject(found, other, s)
		}
		db.log.Info().Strs("merged", strs(r.merged)).Str("subject", string(s)).Msg("subjects of one person merged")
	}
	if sk == nil {
		if sk, err = db.subjectKey(ctx, s); err != nil {
			return r, err
		}
	}
	for _, k := range keys {
		if _, ok := found[string(k.bidx)]; ok {
			continue
		}
		found[string(k.bidx)] = s
		id, err := db.nextID(ctx, tx, "identities")
		if err != nil {
			return r, err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO identities (id, subject_id, kind, bidx, bidx_ver, value, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?)`, id, string(s), string(k.id.Kind), k.bidx, bidxVersion,
			sk.seal("identities", "value", rowID(id), []byte(k.id.Value)), ts(db.now())); err != nil {
			return r, fmt.Errorf("insert identity: %w", err)
		}
	}
	cur, nameSet, err := db.loadSubjectRow(ctx, tx, s)
	if err != nil {
		return r, err
	}
	if needsUpdate(cur, nameSet, in) {
		if in.Name != "" && !nameSet {
			cur.Name = in.Name
		}
		if roleRank(in.Role) > roleRank(cur.Role) {
			cur.Role = in.Role
		}
		if in.Tenant != "" {
			cur.Tenant = in.Tenant
		}
		if _, err := tx.ExecContext(ctx, "UPDATE subjects SET name = ?, role = ?, tenant = ?, updated_at = ? WHERE id = ?",
			sk.sealString("subjects", "name", sk.row(), cur.Name), string(cur.Role), cur.Tenant, ts(db.now()), string(s)); err != nil {
			return r, fmt.Errorf("update subject: %w", err)
		}
	}
	r.sub = cur
	return r, nil
}

// needsUpdate reports whether in changes the stored subject cur; nameSet
// is true when the person set cur's name (a platform name then changes
// nothing).
func needsUpdate(cur bot.Subject, nameSet bool, in bot.SubjectInput) bool {
	return (!nameSet && in.Name != "" && in.Name != cur.Name) ||
		roleRank(in.Role) > roleRank(cur.Role) ||
		(in.Tenant != "" && in.Tenant != cur.Tenant)
}

// sameSubject reports whether every key was found and all name one subject.
func sameSubject(found map[string]bot.SubjectID, keys []identityKey) (bot.SubjectID, bool) {
	var s bot.SubjectID
	for _, k := range keys {
		f, ok := found[string(k.bidx)]
		if !ok || (s != "" && f != s) {
			return "", false
		}
		s = f
	}
	return s, s != ""
}

func distinct(found map[string]bot.SubjectID) []bot.SubjectID {
	var out []bot.SubjectID
	seen := map[bot.SubjectID]bool{}
	for _, s := range found {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

func anys[T ~string](xs []T) []any {
	out := make([]any, len(xs))
	for i, x := range xs {
		out[i] = string(x)
	}
	return out
}

func strs[T ~string](xs []T) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = string(x)
	}
	return out
}

// loadSubject reads and decrypts one subject.
func (db *DB) loadSubject(ctx context.Context, q querier, s bot.SubjectID) (bot.Subject, error) {
	sub, _, err := db.loadSubjectRow(ctx, q, s)
	return sub, err
}

// loadSubjectRow reads and decrypts one subject, and reports whether the
// person set its name (SetName).
func (db *DB) loadSubjectRow(ctx context.Context, q querier, s bot.SubjectID) (bot.Subject, bool, error) {
	var name []byte
	var role, tenant string
	var restricted, nameSet bool
	var created int64
	err := q.QueryRowContext(ctx, "SELECT name, role, tenant, ai_restricted, created_at, name_set FROM subjects WHERE id = ?", string(s)).
		Scan(&name, &role, &tenant, &restricted, &created, &nameSet)
	if err != nil {
		return bot.Subject{}, false, fmt.Errorf("load subject: %w", notFound(err))
	}
	sub := bot.Subject{ID: s, Role: bot.Role(role), Tenant: tenant, AIRestricted: restricted, CreatedAt: fromTS(created)}
	if len(name) > 0 {
		sk, err := db.subjectKey(ctx, s)
		if err != nil {
			return bot.Subject{}, false, err
		}
		if sub.Name, err = sk.openString("subjects", "name", sk.row(), name); err != nil {
			return bot.Subject{}, false, err
		}
	}
	return sub, nameSet, nil
}

// FindSubject returns the subject with its name decrypted, or an error
// wrapping bot.ErrNotFound.
func (db *DB) FindSubject(ctx context.Context, id bot.SubjectID) (bot.Subject, error) {
	_, read, _, err := db.handles()
	if err != nil {
		return bot.Subject{}, err
	}
	return db.loadSubject(ctx, read, id)
}

// FindSubjects returns the subjects an identifier names, through its blind
// index; for an IDTenant identity, every subject of that tenant. None found
// gives an empty slice and no error.
func (db *DB) FindSubjects(ctx context.Context, id bot.Identity) ([]bot.SubjectID, error) {
	_, read, _, err := db.handles()
	if err != nil {
		return nil, err
	}
	id = normalizeIdentity(id)
	if id.Kind == "" || id.Value == "" {
		return nil, fmt.Errorf("find subjects: %w: empty kind or value", bot.ErrBadIdentity)
	}
	var rows *sql.Rows
	if id.Kind == bot.IDTenant {
		rows, err = read.QueryContext(ctx, "SELECT id FROM subjects WHERE tenant = ? AND tenant <> '' ORDER BY created_at, id", id.Value)
	} else {
		rows, err = read.QueryContext(ctx, "SELECT subject_id FROM identities WHERE bidx_ver = ? AND bidx = ?",
			bidxVersion, db.keys.identityIndex(id))
	}
	if err != nil {
		return nil, fmt.Errorf("find subjects: %w", err)
	}
	defer rows.Close()
	out := []bot.SubjectID{}
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, fmt.Errorf("find subjects: %w", err)
		}
		out = append(out, bot.SubjectID(s))
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("find subjects: %w", err)
	}
	return out, nil
}

// Identities returns the subject's identities, decrypted, oldest first.
func (db *DB) Identities(ctx context.Context, s bot.SubjectID) ([]bot.Identity, error) {
	_, read, _, err := db.handles()
	if err != nil {
		return nil, err
	}
	ids, err := db.identities(ctx, read, s)
	if err != nil {
		return nil, fmt.Errorf("identities: %w", err)
	}
	return ids, nil
}

func (db *DB) identities(ctx context.Context, q querier, s bot.SubjectID) ([]bot.Identity, error) {
	sk, err := db.subjectKey(ctx, s)
	if err != nil {
		return nil, err
	}
	rows, err := q.QueryContext(ctx, "SELECT id, kind, value FROM identities WHERE subject_id = ? ORDER BY id", string(s))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []bot.Identity
	for rows.Next() {
		var id int64
		var kind string
		var sealed []byte
		if err := rows.Scan(&id, &kind, &sealed); err != nil {
			return nil, err
		}
		v, err := sk.openString("identities", "value", rowID(id), sealed)
		if err != nil {
			return nil, err
		}
		out = append(out, bot.Identity{Kind: bot.IdentityKind(kind), Value: v})
	}
	return out, rows.Err()
}

// updateSubject runs one UPDATE of a subject row; no row gives ErrNotFound.
func (db *DB) updateSubject(ctx context.Context, op, set string, args ...any) error {
	write, _, _, err := db.handles()
	if err != nil {
		return err
	}
	release := db.subjects.hold()
	defer release()
	res, err := write.ExecContext(ctx, "UPDATE subjects SET "+set+", updated_at = ? WHERE id = ?", args...)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("%s: %w", op, bot.ErrNotFound)
	}
	return nil
}

// SetAIRestricted records the subject's objection to AI processing (/stop)
// or its withdrawal (/start).
func (db *DB) SetAIRestricted(ctx context.Context, s bot.SubjectID, on bool) error {
	return db.updateSubject(ctx, "set ai restricted", "ai_restricted = ?", on, ts(db.now()), string(s))
}

// SetName replaces the subject's display name with the one the person gave
// (rectification, /name): platform display names no longer replace it until
// the next SetName. "" clears it, and platform names apply again.
func (db *DB) SetName(ctx context.Context, s bot.SubjectID, name string) error {
	if len(name) > maxNameLen {
		return fmt.Errorf("set name: %w", bot.ErrTooLarge)
	}
	sk, err := db.subjectKey(ctx, s)
	if err != nil {
		return fmt.Errorf("set name: %w", err)
	}
	return db.updateSubject(ctx, "set name", "name = ?, name_set = ?", sk.sealString("subjects", "name", sk.row(), name), name != "", ts(db.now()), string(s))
}

// SetRole sets the subject's role (up or down, unlike ResolveSubject).
func (db *DB) SetRole(ctx context.Context, s bot.SubjectID, r bot.Role) error {
	if !validRole(r) {
		return errors.New("set role: unknown role")
	}
	return db.updateSubject(ctx, "set role", "role = ?", string(r), ts(db.now()), string(s))
}
