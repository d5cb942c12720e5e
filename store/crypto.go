package store

import (
	"container/list"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/switchboard/switchboard/bot"
)

// Versions of the derived keys and of the sealed-field format.
const (
	kekVersion  = 1
	bidxVersion = 1
	// fieldFormat is the first byte of every field sealed now: the
	// additional data names the subject, table, column and row.
	fieldFormat = 2
	// fieldFormatV1 is the first byte of fields sealed before rows were
	// bound (subject, table and column only). New writes never use it; the
	// data task reseal-rows re-seals every such value as format 2, and
	// once it has run they no longer open (keyring.fieldV1).
	fieldFormatV1 = 1
)

// errKeyGone is returned when a subject has no key (never created, or erased).
var errKeyGone = fmt.Errorf("subject key: %w", bot.ErrNotFound)

// errOpen is returned when a sealed field does not authenticate: wrong key,
// another subject's, table's, column's or row's ciphertext, or tampering.
var errOpen = errors.New("sealed field does not authenticate")

// keyring holds the keys derived from the master key and a bounded cache of
// unwrapped subject keys.
type keyring struct {
	kek   cipher.AEAD // wraps subject data keys (version kekVersion)
	bidx  []byte      // HMAC key of the blind index (version bidxVersion)
	store cipher.AEAD // seals rows that outlive their subject (card_removals)
	cache *keyCache
	// fieldV1 is true while format-1 fields still open: from Open until
	// the data task reseal-rows has re-sealed them all (runDataTasks).
	// Once it is false, a format-1 value (which names no row, so it could
	// have been copied from another row) fails with errOpen.
	fieldV1 atomic.Bool
}

func newKeyring(master []byte, cacheSize int) (*keyring, error) {
	kekKey, err := hkdf.Key(sha256.New, master, nil, "switchboard/kek/v1", 32)
	if err != nil {
		return nil, fmt.Errorf("derive kek: %w", err)
	}
	kek, err := newAEAD(kekKey)
	if err != nil {
		return nil, err
	}
	bidx, err := hkdf.Key(sha256.New, master, nil, "switchboard/blind-index/v1", 32)
	if err != nil {
		return nil, fmt.Errorf("derive blind-index key: %w", err)
	}
	storeKey, err := hkdf.Key(sha256.New, master, nil, "switchboard/store-rows/v1", 32)
	if err != nil {
		return nil, fmt.Errorf("derive store-rows key: %w", err)
	}
	sealer, err := newAEAD(storeKey)
	if err != nil {
		return nil, err
	}
	return &keyring{kek: kek, bidx: bidx, store: sealer, cache: newKeyCache(cacheSize)}, nil
}

func newAEAD(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("aes: %w", err)
	}
	aead, err := cipher.NewGCMWithRandomNonce(block)
	if err != nil {
		return nil, fmt.Errorf("gcm: %w", err)
	}
	return aead, nil
}

// dekAAD binds a wrapped data key to its subject and KEK version.
func dekAAD(s bot.SubjectID, version int) []byte {
	return fmt.Appendf(nil, "switchboard/dek|v%d|%s", version, s)
}

// wrap seals a subject's data key with the KEK.
func (k *keyring) wrap(s bot.SubjectID, dek []byte) []byte {
	return k.kek.Seal(nil, nil, dek, dekAAD(s, kekVersion))
}

// unwrap opens a wrapped data key.
func (k *keyring) unwrap(s bot.SubjectID, wrapped []byte, version int) ([]byte, error) {
	if version != kekVersion {
		return nil, fmt.Errorf("unwrap subject key: unknown kek version %d", version)
	}
	dek, err := k.kek.Open(nil, nil, wrapped, dekAAD(s, version))
	if err != nil {
		return nil, fmt.Errorf("unwrap subject key: %w", errOpen)
	}
	return dek, nil
}

// blindIndex is the keyed HMAC-SHA256 of a domain and a normalised value.
// It allows equality lookups without storing the value, and cannot be
// reversed by hashing every phone number without the key.
func (k *keyring) blindIndex(domain, value string) []byte {
	m := hmac.New(sha256.New, k.bidx)
	m.Write([]byte(domain))
	m.Write([]byte{0})
	m.Write([]byte(value))
	return m.Sum(nil)
}

// identityIndex is the blind index of an identity.
func (k *keyring) identityIndex(id bot.Identity) []byte {
	return k.blindIndex("identity|"+string(id.Kind), normalizeIdentity(id).Value)
}

// chatIndex is the blind index of a chat id. Chat ids of different
// platforms do not collide (and rows also name their platform).
func (k *keyring) chatIndex(chat bot.ChatID) []byte {
	return k.blindIndex("chat", string(chat))
}

// normalizeIdentity brings an identity to the form its blind index is
// computed over, so "+44 7700 900123" and "+447700900123" match.
func normalizeIdentity(id bot.Identity) bot.Identity {
	v := strings.TrimSpace(id.Value)
	switch id.Kind {
	case bot.IDPhone:
		if p, err := bot.NormalizePhone(v, ""); err == nil {
			v = p
		}
	case bot.IDLID:
		if l, err := bot.NormalizeLID(v); err == nil {
			v = l.Value
		}
	case bot.IDBSUID:
		// Case matters in a business-scoped user id: keep it as Meta sent it.
		if b, err := bot.NormalizeBSUID(v); err == nil {
			v = b.Value
		}
	default:
		v = strings.ToLower(v)
	}
	return bot.Identity{Kind: id.Kind, Value: v}
}

// rowKey names the row a sealed field belongs to, as its additional data
// carries it: the decimal integer id, or for subjects the subject id.
type rowKey string

// rowID is the row key of a row with integer primary key id.
func rowID(id int64) rowKey { return rowKey(strconv.FormatInt(id, 10)) }

// sealRow seals a value of a row that names no subject (table.column of
// the row with id row), under the store's own key.
func (k *keyring) sealRow(table, column string, row int64, plaintext []byte) []byte {
	out := make([]byte, 1, 1+len(plaintext)+k.store.Overhead())
	out[0] = fieldFormat
	return k.store.Seal(out, nil, plaintext, storeRowAAD(table, column, rowID(row)))
}

// openRow opens a value sealed by sealRow for the same row, or, until the
// data task reseal-rows has run, one sealed before rows were bound
// (format 1).
func (k *keyring) openRow(table, column string, row int64, sealed []byte) ([]byte, error) {
	if len(sealed) > 0 && sealed[0] == fieldFormatV1 {
		if !k.fieldV1.Load() {
			return nil, fmt.Errorf("open %s.%s: format 1: %w", table, column, errOpen)
		}
		return k.openRowV1(table, column, sealed)
	}
	var aad []byte
	switch {
	case len(sealed) > 0 && sealed[0] == fieldFormat:
		aad = storeRowAAD(table, column, rowID(row))
	default:
		return nil, fmt.Errorf("open %s.%s: unknown field format", table, column)
	}
	pt, err := k.store.Open(nil, nil, sealed[1:], aad)
	if err != nil {
		return nil, fmt.Errorf("open %s.%s: %w", table, column, errOpen)
	}
	return pt, nil
}

// openRowV1 opens a format-1 value sealed under the store's key (bound to
// table and column only), for the data task that re-seals it.
func (k *keyring) openRowV1(table, column string, sealed []byte) ([]byte, error) {
	pt, err := k.store.Open(nil, nil, sealed[1:], fmt.Appendf(nil, "switchboard/row|%s|%s", table, column))
	if err != nil {
		return nil, fmt.Errorf("open %s.%s: %w", table, column, errOpen)
	}
	return pt, nil
}

// storeRowAAD binds a value sealed under the store's key to its table,
// column and row.
func storeRowAAD(table, column string, row rowKey) []byte {
	return fmt.Appendf(nil, "switchboard/row/v2|%s|%s|%s", table, column, row)
}

// fieldAAD binds a sealed field to its subject, table, column and row, so
// that no ciphertext opens as another row's: not another subject's (their
// key differs too), and not another row of the same subject, table and
// column (swapped or copied in the database by someone without the key).
func fieldAAD(s bot.SubjectID, table, column string, row rowKey) []byte {
	return fmt.Appendf(nil, "switchboard/field/v2|%s|%s|%s|%s", s, table, column, row)
}

// fieldAADV1 is the additional data of format 1 (fields sealed before rows
// were bound): subject, table and column.
func fieldAADV1(s bot.SubjectID, table, column string) []byte {
	return fmt.Appendf(nil, "switchboard/field|%s|%s|%s", s, table, column)
}

// subjectKey is one subject's unwrapped data key, ready to seal and open.
type subjectKey struct {
	id   bot.SubjectID
	aead cipher.AEAD
	// v1 is the keyring's fieldV1: whether format-1 fields still open. A
	// key without it (nil) opens format 2 only.
	v1 *atomic.Bool
}

// newSubjectKey is the key of s with data key aead, opening format-1
// fields as long as the keyring does.
func (k *keyring) newSubjectKey(s bot.SubjectID, aead cipher.AEAD) *subjectKey {
	return &subjectKey{id: s, aead: aead, v1: &k.fieldV1}
}

// row is the row key of the subject's own row in subjects.
func (sk *subjectKey) row() rowKey { return rowKey(sk.id) }

// seal encrypts plaintext for table.column of row, a row of the key's
// subject.
func (sk *subjectKey) seal(table, column string, row rowKey, plaintext []byte) []byte {
	out := make([]byte, 1, 1+len(plaintext)+sk.aead.Overhead())
	out[0] = fieldFormat
	return sk.aead.Seal(out, nil, plaintext, fieldAAD(sk.id, table, column, row))
}

// sealString seals s, or returns nil (SQL NULL) for "".
func (sk *subjectKey) sealString(table, column string, row rowKey, s string) []byte {
	if s == "" {
		return nil
	}
	return sk.seal(table, column, row, []byte(s))
}

// open decrypts a field sealed for table.column of row, a row of the key's
// subject; NULL gives nil. A field sealed for another row does not open
// (errOpen). One of format 1 (sealed before rows were bound) opens for any
// row until the data task reseal-rows has re-sealed them all, and fails
// with errOpen after.
func (sk *subjectKey) open(table, column string, row rowKey, sealed []byte) ([]byte, error) {
	if len(sealed) == 0 {
		return nil, nil
	}
	if sealed[0] == fieldFormatV1 {
		if sk.v1 == nil || !sk.v1.Load() {
			return nil, fmt.Errorf("open %s.%s: format 1: %w", table, column, errOpen)
		}
		return sk.openV1(table, column, sealed)
	}
	var aad []byte
	switch sealed[0] {
	case fieldFormat:
		aad = fieldAAD(sk.id, table, column, row)
	default:
		return nil, fmt.Errorf("open %s.%s: unknown field format", table, column)
	}
	pt, err := sk.aead.Open(nil, nil, sealed[1:], aad)
	if err != nil {
		return nil, fmt.Errorf("open %s.%s: %w", table, column, errOpen)
	}
	return pt, nil
}

// openV1 opens a format-1 field of table.column (bound to no row), for
// the data task that re-seals it.
func (sk *subjectKey) openV1(table, column string, sealed []byte) ([]byte, error) {
	pt, err := sk.aead.Open(nil, nil, sealed[1:], fieldAADV1(sk.id, table, column))
	if err != nil {
		return nil, fmt.Errorf("open %s.%s: %w", table, column, errOpen)
	}
	return pt, nil
}

// openString decrypts a field to a string; NULL gives "".
func (sk *subjectKey) openString(table, column string, row rowKey, sealed []byte) (string, error) {
	b, err := sk.open(table, column, row, sealed)
	return string(b), err
}

// subjectKey returns the data key of s, from the cache or the keys db.
// It returns an error wrapping bot.ErrNotFound when s has no key.
func (db *DB) subjectKey(ctx context.Context, s bot.SubjectID) (*subjectKey, error) {
	if sk := db.keys.cache.get(s); sk != nil {
		return sk, nil
	}
	_, _, kdb, err := db.handles()
	if err != nil {
		return nil, err
	}
	gen := db.keys.cache.generation()
	var wrapped []byte
	var version int
	err = kdb.QueryRowContext(ctx, "SELECT wrapped_dek, kek_version FROM subject_keys WHERE subject_id = ?", string(s)).
		Scan(&wrapped, &version)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errKeyGone
	}
	if err != nil {
		return nil, fmt.Errorf("load subject key: %w", err)
	}
	dek, err := db.keys.unwrap(s, wrapped, version)
	if err != nil {
		return nil, err
	}
	aead, err := newAEAD(dek)
	clear(dek)
	if err != nil {
		return nil, err
	}
	sk := db.keys.newSubjectKey(s, aead)
	db.keys.cache.put(s, sk, gen)
	return sk, nil
}

// createSubjectKey makes and stores a fresh random data key for s.
func (db *DB) createSubjectKey(ctx context.Context, s bot.SubjectID) (*subjectKey, error) {
	_, _, kdb, err := db.handles()
	if err != nil {
		return nil, err
	}
	dek := make([]byte, 32)
	if _, err := rand.Read(dek); err != nil {
		return nil, fmt.Errorf("new subject key: %w", err)
	}
	defer clear(dek)
	if _, err := kdb.ExecContext(ctx,
		"INSERT INTO subject_keys (subject_id, wrapped_dek, kek_version, created_at) VALUES (?, ?, ?, ?)",
		string(s), db.keys.wrap(s, dek), kekVersion, db.now().UnixNano()); err != nil {
		return nil, fmt.Errorf("store subject key: %w", err)
	}
	aead, err := newAEAD(dek)
	if err != nil {
		return nil, err
	}
	sk := db.keys.newSubjectKey(s, aead)
	db.keys.cache.put(s, sk, db.keys.cache.generation())
	return sk, nil
}

// destroySubjectKey deletes the wrapped key of s and forgets it in memory.
func (db *DB) destroySubjectKey(ctx context.Context, s bot.SubjectID) (int, error) {
	_, _, kdb, err := db.handles()
	if err != nil {
		return 0, err
	}
	db.keys.cache.evict(s)
	res, err := kdb.ExecContext(ctx, "DELETE FROM subject_keys WHERE subject_id = ?", string(s))
	db.keys.cache.evict(s)
	if err != nil {
		return 0, fmt.Errorf("delete subject key: %w", err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

// keyCache is a bounded LRU of unwrapped subject keys. Every eviction bumps
// a generation; a key loaded before an eviction is not cached after it, so
// an erased subject's key cannot come back from a racing load.
type keyCache struct {
	mu    sync.Mutex
	max   int
	gen   uint64
	order *list.List // front = most recent; values are *subjectKey
	byID  map[bot.SubjectID]*list.Element
}

func newKeyCache(max int) *keyCache {
	return &keyCache{max: max, order: list.New(), byID: make(map[bot.SubjectID]*list.Element)}
}

func (c *keyCache) generation() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

func (c *keyCache) get(s bot.SubjectID) *subjectKey {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.byID[s]
	if !ok {
		return nil
	}
	c.order.MoveToFront(e)
	return e.Value.(*subjectKey)
}

func (c *keyCache) put(s bot.SubjectID, sk *subjectKey, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return
	}
	if e, ok := c.byID[s]; ok {
		e.Value = sk
		c.order.MoveToFront(e)
		return
	}
	c.byID[s] = c.order.PushFront(sk)
	for c.order.Len() > c.max {
		last := c.order.Back()
		c.order.Remove(last)
		delete(c.byID, last.Value.(*subjectKey).id)
	}
}

func (c *keyCache) evict(s bot.SubjectID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	if e, ok := c.byID[s]; ok {
		c.order.Remove(e)
		delete(c.byID, s)
	}
}

func (c *keyCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}

func (c *keyCache) clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	c.order.Init()
	clear(c.byID)
}
