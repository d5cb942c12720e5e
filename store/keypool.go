package store

import (
	"context"
	"crypto/rand"
	"fmt"
	"strings"
	"sync"

	"github.com/switchboard/switchboard/bot"
)

// Refill sizes of the key pool: the first refill makes minSpareKeys keys,
// each later one twice as many as the one before, up to maxSpareKeys.
const (
	minSpareKeys = 8
	maxSpareKeys = 128
)

// keyPool holds fresh subject ids whose data keys are already committed to
// the keys db but which name no subject yet. Creating a subject takes one,
// so a new sender costs no keys-db commit of its own: keys are made in
// batches, one keys-db transaction each. The keys db always holds a key
// before any row is sealed under it. Spare keys are deleted by Close; a
// crash leaves at most one refill of unused keys behind, which seal
// nothing.
type keyPool struct {
	mu    sync.Mutex
	spare []*subjectKey
	next  int // size of the next refill
}

// takeSubjectKey returns a new subject id with its data key, committed in
// the keys db and cached.
func (db *DB) takeSubjectKey(ctx context.Context) (*subjectKey, error) {
	p := &db.pool
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.spare) == 0 {
		if err := db.refillLocked(ctx); err != nil {
			return nil, err
		}
	}
	sk := p.spare[len(p.spare)-1]
	p.spare = p.spare[:len(p.spare)-1]
	db.keys.cache.put(sk.id, sk, db.keys.cache.generation())
	return sk, nil
}

// returnSubjectKey gives back a key whose subject row was certainly not
// committed (its savepoint or transaction was rolled back).
func (db *DB) returnSubjectKey(sk *subjectKey) {
	db.keys.cache.evict(sk.id)
	p := &db.pool
	p.mu.Lock()
	defer p.mu.Unlock()
	p.spare = append(p.spare, sk)
}

// refillLocked makes the next batch of spare keys in one keys-db
// transaction; db.pool.mu must be held.
func (db *DB) refillLocked(ctx context.Context) error {
	_, _, kdb, err := db.handles()
	if err != nil {
		return err
	}
	p := &db.pool
	n := min(max(p.next, minSpareKeys), maxSpareKeys)
	tx, err := kdb.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("new subject keys: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	stmt, err := tx.PrepareContext(ctx, "INSERT INTO subject_keys (subject_id, wrapped_dek, kek_version, created_at) VALUES (?, ?, ?, ?)")
	if err != nil {
		return fmt.Errorf("new subject keys: %w", err)
	}
	defer stmt.Close()
	made := make([]*subjectKey, 0, n)
	dek := make([]byte, 32)
	defer clear(dek)
	now := db.now().UnixNano()
	for range n {
		s := bot.NewSubjectID()
		if _, err := rand.Read(dek); err != nil {
			return fmt.Errorf("new subject keys: %w", err)
		}
		if _, err := stmt.ExecContext(ctx, string(s), db.keys.wrap(s, dek), kekVersion, now); err != nil {
			return fmt.Errorf("new subject keys: %w", err)
		}
		aead, err := newAEAD(dek)
		if err != nil {
			return err
		}
		made = append(made, db.keys.newSubjectKey(s, aead))
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("new subject keys: %w", err)
	}
	p.spare = append(p.spare, made...)
	p.next = min(2*n, maxSpareKeys)
	return nil
}

// dropSpareKeys deletes the unused spare keys from the keys db (Close).
func (db *DB) dropSpareKeys(ctx context.Context) {
	p := &db.pool
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.spare) == 0 {
		return
	}
	_, _, kdb, err := db.handles()
	if err != nil {
		return
	}
	args := make([]any, len(p.spare))
	for i, sk := range p.spare {
		args[i] = string(sk.id)
	}
	if _, err := kdb.ExecContext(ctx, "DELETE FROM subject_keys WHERE subject_id IN (?"+strings.Repeat(", ?", len(args)-1)+")", args...); err != nil {
		db.log.Warn().Err(err).Int("keys", len(args)).Msg("unused spare subject keys left in keys db")
		return
	}
	p.spare = nil
}
