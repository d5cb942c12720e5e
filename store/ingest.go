package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/switchboard/switchboard/bot"
)

var _ bot.Ingester = (*DB)(nil)

// ingestReq is the sender half of an Ingest call waiting in a batch.
type ingestReq struct {
	keys []identityKey
	bidx []string // the blind indexes of keys, as map keys
	in   bot.SubjectInput
	mac  []byte // HMAC of in.Name
	msg  bot.Message
	// Results: the subject, or fallback when the identities name several
	// subjects (a merge, done by ResolveSubject outside the batch).
	sub      bot.Subject
	fallback bool
}

// Ingest resolves an inbound message's sender as ResolveSubject does and
// stores the message (its Subject field is set to the resolved subject) as
// SaveInbound does, in one transaction that it shares with concurrent
// Ingest and SaveInbound calls (group commit). A sender seen before whose
// name, role and tenant are unchanged is resolved from an in-memory cache;
// a new sender's data key comes from a pool committed to the keys db ahead.
// dup is true (and id the stored row) if the message was stored before.
// Identities of several subjects are merged by ResolveSubject first.
func (db *DB) Ingest(ctx context.Context, in bot.SubjectInput, m bot.Message) (bot.Subject, int64, bool, error) {
	r, err := db.ingestRequest(in, m)
	if err != nil {
		return bot.Subject{}, 0, false, err
	}
	ir := r.ingest
	in, m = ir.in, ir.msg
	if err := db.inbound.submit(ctx, db, r); err != nil {
		return bot.Subject{}, 0, false, fmt.Errorf("ingest: %w", err)
	}
	if r.err != nil {
		return bot.Subject{}, 0, false, fmt.Errorf("ingest: %w", notFound(r.err))
	}
	if ir.fallback {
		sub, err := db.ResolveSubject(ctx, in)
		if err != nil {
			return bot.Subject{}, 0, false, err
		}
		m.Subject = sub.ID
		id, dup, err := db.SaveInbound(ctx, m)
		return sub, id, dup, err
	}
	return ir.sub, r.id, r.dup, nil
}

// ingestRequest checks an Ingest call's input and returns its request for
// a batch.
func (db *DB) ingestRequest(in bot.SubjectInput, m bot.Message) (*saveReq, error) {
	keys, in, err := db.subjectInput(in)
	if err != nil {
		return nil, err
	}
	if m, err = checkMessage(m, false); err != nil {
		return nil, err
	}
	if _, _, _, err := db.handles(); err != nil {
		return nil, err
	}
	return &saveReq{
		platform:   string(m.Platform),
		chatIdx:    db.keys.chatIndex(m.Chat),
		platformID: nullString(string(m.PlatformID)),
		wake:       make(chan bool, 1),
		ingest:     &ingestReq{keys: keys, bidx: bidxStrings(keys), in: in, mac: db.subjects.nameMAC(in.Name), msg: m},
	}, nil
}

func bidxStrings(keys []identityKey) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = string(k.bidx)
	}
	return out
}

// ingestBatch is the state of one batch: the subjects it created or changed
// (an overlay over the cache, filled into it after the commit) and the keys
// it took from the pool.
type ingestBatch struct {
	gen     uint64 // cache generation when the batch began
	cacheOn bool
	bySubj  map[bot.SubjectID]*cachedSubject
	byBidx  map[string]bot.SubjectID
	created []bot.SubjectID
	unused  []*subjectKey // taken for subjects that were rolled back
	tx      *sql.Tx
	w       *writeStmts
	stmts   map[*sql.Stmt]*sql.Stmt // the writer's prepared statements bound to tx
	// nextMessage is the id the batch's next message row takes (see
	// nextID), 0 until read. Only the batch inserts messages in its
	// transaction, so it is read once and counted on, and read again after
	// a savepoint was rolled back.
	nextMessage int64
}

// messageID returns the id the batch's next message row takes.
func (b *ingestBatch) messageID(ctx context.Context) (int64, error) {
	if b.nextMessage == 0 {
		id, err := b.nextID(ctx, "messages")
		if err != nil {
			return 0, err
		}
		b.nextMessage = id
	}
	return b.nextMessage, nil
}

// nextID is DB.nextID in the batch's transaction.
func (b *ingestBatch) nextID(ctx context.Context, table string) (int64, error) {
	return scanNextID(b.stmt(ctx, b.w.nextID[table]).QueryRowContext(ctx), table)
}

// rolledBack forgets what the batch counted of rows a savepoint's rollback
// took back.
func (b *ingestBatch) rolledBack() { b.nextMessage = 0 }

// stmt returns the prepared statement s bound to the batch's transaction.
func (b *ingestBatch) stmt(ctx context.Context, s *sql.Stmt) *sql.Stmt {
	if t, ok := b.stmts[s]; ok {
		return t
	}
	if b.stmts == nil {
		b.stmts = make(map[*sql.Stmt]*sql.Stmt)
	}
	t := b.tx.StmtContext(ctx, s)
	b.stmts[s] = t
	return t
}

// lookup finds the subject the blind indexes name in this batch's overlay
// or, for a subject this batch did not touch, in the cache.
func (b *ingestBatch) lookup(c *subjectCache, bidx []string) (cachedSubject, bool) {
	if len(b.bySubj) > 0 {
		var s bot.SubjectID
		all := true
		for i, x := range bidx {
			got, ok := b.byBidx[x]
			if !ok {
				all = false
				break
			}
			if i > 0 && got != s {
				return cachedSubject{}, false
			}
			s = got
		}
		if all {
			return *b.bySubj[s], true
		}
	}
	if !b.cacheOn {
		return cachedSubject{}, false
	}
	e, ok := c.lookup(bidx)
	if !ok {
		return cachedSubject{}, false
	}
	if _, touched := b.bySubj[e.sub.ID]; touched {
		return cachedSubject{}, false
	}
	return e, true
}

// record adds what one ingest committed (within the batch) to the overlay.
func (b *ingestBatch) record(e *cachedSubject) {
	if b.bySubj == nil {
		b.bySubj = make(map[bot.SubjectID]*cachedSubject)
		b.byBidx = make(map[string]bot.SubjectID)
	}
	if old, ok := b.bySubj[e.sub.ID]; ok {
		e.bidx = unionStrings(old.bidx, e.bidx)
	}
	b.bySubj[e.sub.ID] = e
	for _, x := range e.bidx {
		b.byBidx[x] = e.sub.ID
	}
}

func (b *ingestBatch) entries() []*cachedSubject {
	out := make([]*cachedSubject, 0, len(b.bySubj))
	for _, e := range b.bySubj {
		out = append(out, e)
	}
	return out
}

// ingestOne runs one Ingest inside the batch's transaction, under a
// savepoint when the batch holds other requests so that a failure undoes
// this request alone. With no savepoint, a failure is returned and the
// whole (one-request) transaction is rolled back.
func (db *DB) ingestOne(ctx context.Context, b *ingestBatch, r *saveReq, savepoint bool) error {
	tx := b.tx
	if savepoint {
		if _, err := tx.ExecContext(ctx, "SAVEPOINT ingest"); err != nil {
			r.err = err
			return nil
		}
	}
	e, created, err := db.ingestIn(ctx, b, r)
	if err == nil && savepoint {
		if _, err = tx.ExecContext(ctx, "RELEASE ingest"); err != nil {
			err = fmt.Errorf("release savepoint: %w", err)
		}
	}
	if err != nil {
		r.err = err
		if created != nil {
			// Its subject row is rolled back (below, or with the whole
			// transaction): runBatch gives the key back after that.
			b.unused = append(b.unused, created)
		}
		if !savepoint {
			return err
		}
		if _, rerr := tx.ExecContext(ctx, "ROLLBACK TO ingest"); rerr != nil {
			return fmt.Errorf("rollback to savepoint: %w", rerr)
		}
		b.rolledBack()
		if _, rerr := tx.ExecContext(ctx, "RELEASE ingest"); rerr != nil {
			return fmt.Errorf("release savepoint: %w", rerr)
		}
		return nil
	}
	if created != nil {
		b.created = append(b.created, created.id)
	}
	if e != nil {
		b.record(e)
	}
	return nil
}

// ingestIn resolves the sender and stores the message inside the batch's
// transaction. It
// returns the subject's new cache entry if it read or changed the subject,
// and the key it took from the pool for a new subject. A request whose
// identities name several subjects is marked fallback; nothing is written.
func (db *DB) ingestIn(ctx context.Context, b *ingestBatch, r *saveReq) (*cachedSubject, *subjectKey, error) {
	ir := r.ingest
	in := ir.in
	if e, ok := b.lookup(db.subjects, ir.bidx); ok && !e.needsUpdate(in, ir.mac) {
		sk, err := db.subjectKey(ctx, e.sub.ID)
		if err != nil {
			return nil, nil, err
		}
		sub := e.sub
		if sub.Name, err = e.name(sk, in); err != nil {
			return nil, nil, err
		}
		if err := db.insertIngested(ctx, b, r, sk); err != nil {
			return nil, nil, err
		}
		ir.sub = sub
		return nil, nil, nil
	}

	found := make(map[string]bot.SubjectID, len(ir.keys))
	lookup := b.stmt(ctx, b.w.lookupIdentity)
	for _, k := range ir.keys {
		var s string
		err := lookup.QueryRowContext(ctx, bidxVersion, k.bidx).Scan(&s)
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err != nil {
			return nil, nil, fmt.Errorf("look up identity: %w", err)
		}
		found[string(k.bidx)] = bot.SubjectID(s)
	}
	var cur bot.Subject
	var sealedName []byte
	var nameSet bool
	var sk, created *subjectKey
	now := ts(db.now())
	switch subjects := distinct(found); len(subjects) {
	case 0:
		var err error
		if sk, err = db.takeSubjectKey(ctx); err != nil {
			return nil, nil, err
		}
		created = sk
		cur = bot.Subject{ID: sk.id, Name: in.Name, Role: in.Role, Tenant: in.Tenant, CreatedAt: fromTS(now)}
		sealedName = sk.sealString("subjects", "name", sk.row(), in.Name)
		if _, err := b.stmt(ctx, b.w.insertSubject).ExecContext(ctx, string(cur.ID), sealedName, string(cur.Role), cur.Tenant, now, now); err != nil {
			return nil, created, fmt.Errorf("insert subject: %w", err)
		}
	case 1:
		var err error
		if sk, err = db.subjectKey(ctx, subjects[0]); err != nil {
			return nil, nil, err
		}
		var role, tenant string
		var restricted bool
		var createdAt int64
		if err := b.stmt(ctx, b.w.loadSubject).QueryRowContext(ctx, string(sk.id)).
			Scan(&sealedName, &role, &tenant, &restricted, &createdAt, &nameSet); err != nil {
			return nil, nil, fmt.Errorf("load subject: %w", notFound(err))
		}
		cur = bot.Subject{ID: sk.id, Role: bot.Role(role), Tenant: tenant, AIRestricted: restricted, CreatedAt: fromTS(createdAt)}
		if cur.Name, err = sk.openString("subjects", "name", sk.row(), sealedName); err != nil {
			return nil, nil, err
		}
	default:
		ir.fallback = true
		return nil, nil, nil
	}
	insertIdentity := b.stmt(ctx, b.w.insertIdentity)
	for _, k := range ir.keys {
		if _, ok := found[string(k.bidx)]; ok {
			continue
		}
		found[string(k.bidx)] = cur.ID
		id, err := b.nextID(ctx, "identities")
		if err != nil {
			return nil, created, err
		}
		if _, err := insertIdentity.ExecContext(ctx, id, string(cur.ID), string(k.id.Kind), k.bidx, bidxVersion,
			sk.seal("identities", "value", rowID(id), []byte(k.id.Value)), now); err != nil {
			return nil, created, fmt.Errorf("insert identity: %w", err)
		}
	}
	if created == nil && needsUpdate(cur, nameSet, in) {
		if in.Name != "" && !nameSet {
			cur.Name = in.Name
		}
		if roleRank(in.Role) > roleRank(cur.Role) {
			cur.Role = in.Role
		}
		if in.Tenant != "" {
			cur.Tenant = in.Tenant
		}
		sealedName = sk.sealString("subjects", "name", sk.row(), cur.Name)
		if _, err := b.stmt(ctx, b.w.updateSubject).ExecContext(ctx, sealedName, string(cur.Role), cur.Tenant, now, string(cur.ID)); err != nil {
			return nil, created, fmt.Errorf("update subject: %w", err)
		}
	}
	if err := db.insertIngested(ctx, b, r, sk); err != nil {
		return nil, created, err
	}
	ir.sub = cur
	e := &cachedSubject{sub: cur, sealedName: sealedName, bidx: ir.bidx, nameSet: nameSet}
	e.sub.Name = ""
	if cur.Name == in.Name {
		e.nameMAC = ir.mac
	} else {
		e.nameMAC = db.subjects.nameMAC(cur.Name)
	}
	return e, created, nil
}

// name is the subject's display name for a resolve: the caller's (equal to
// the stored one, or about to replace it) or, if empty or the person set
// the name, the stored one.
func (c *cachedSubject) name(sk *subjectKey, in bot.SubjectInput) (string, error) {
	if in.Name != "" && !c.nameSet {
		return in.Name, nil
	}
	return sk.openString("subjects", "name", sk.row(), c.sealedName)
}

// insertIngested inserts the request's message for the subject of sk and
// sets r.id and r.dup.
func (db *DB) insertIngested(ctx context.Context, b *ingestBatch, r *saveReq, sk *subjectKey) error {
	m := r.ingest.msg
	m.Subject = sk.id
	inserted, err := db.insertMessage(ctx, b, r, sk, m)
	if err != nil {
		return fmt.Errorf("insert message: %w", err)
	}
	if !inserted {
		return nil
	}
	return db.insertMessageMedia(ctx, b.tx, sk, r, m)
}

// insertMessageMedia records the attachment of the message just inserted
// as r.id (if it has one) as a pending media item, in the same
// transaction.
func (db *DB) insertMessageMedia(ctx context.Context, tx *sql.Tx, sk *subjectKey, r *saveReq, m bot.Message) error {
	if m.Media == nil {
		return nil
	}
	if _, err := db.insertMedia(ctx, tx, sk, r.platform, bot.NewMedia(r.id, m.Kind, *m.Media)); err != nil {
		return fmt.Errorf("message media: %w", err)
	}
	return nil
}
