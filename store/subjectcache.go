package store

import (
	"container/list"
	"crypto/hmac"
	"crypto/sha256"
	"sync"

	"github.com/switchboard/switchboard/bot"
)

// cachedSubject is what the subject cache knows about one subject: enough to
// tell that a returning sender changes nothing, without reading the db. It
// holds no plaintext personal data: the name only as an HMAC (to compare)
// and as the ciphertext stored in the db (to open when the caller gave no
// name).
type cachedSubject struct {
	sub        bot.Subject // Name is always empty
	nameMAC    []byte      // nil when the subject has no name
	sealedName []byte      // subjects.name as stored
	bidx       []string    // blind indexes known to name this subject
	// nameSet is true when the person set the name (/name): platform
	// names then change nothing.
	nameSet bool
}

// needsUpdate is needsUpdate for a cached subject; mac is the HMAC of
// in.Name.
func (c *cachedSubject) needsUpdate(in bot.SubjectInput, mac []byte) bool {
	return (!c.nameSet && in.Name != "" && !hmac.Equal(mac, c.nameMAC)) ||
		roleRank(in.Role) > roleRank(c.sub.Role) ||
		(in.Tenant != "" && in.Tenant != c.sub.Tenant)
}

// subjectCache is a bounded LRU, keyed by identity blind index, of the
// subjects of recent senders, so that resolving a returning sender whose
// identities, name, role and tenant are unchanged costs no query and no
// write.
//
// Correctness rules (erasure must never leave an entry that resurrects or
// misroutes a subject):
//   - Every change of subjects or identities other than an ingest batch
//     (erasure, merge, SetName, SetRole, SetAIRestricted, ResolveSubject's
//     write path) runs inside hold: the cache is emptied and serves nothing
//     from before the change begins until after it committed or failed.
//   - Only ingest batches fill it. Batches run one at a time on the single
//     writer connection, and a batch fills only if no hold began since it
//     started (the generation is unchanged), with what it committed.
type subjectCache struct {
	mu     sync.Mutex
	max    int
	gen    uint64 // bumped when a hold begins and ends
	holds  int    // changes in progress; while > 0 the cache is off
	order  *list.List
	bySubj map[bot.SubjectID]*list.Element // values *cachedSubject
	byBidx map[string]bot.SubjectID
	macKey []byte // HMAC key for names; random per process, memory only
}

func newSubjectCache(max int, macKey []byte) *subjectCache {
	return &subjectCache{max: max, order: list.New(), bySubj: make(map[bot.SubjectID]*list.Element),
		byBidx: make(map[string]bot.SubjectID), macKey: macKey}
}

// nameMAC is the HMAC of a display name, or nil for "".
func (c *subjectCache) nameMAC(name string) []byte {
	if name == "" {
		return nil
	}
	m := hmac.New(sha256.New, c.macKey)
	m.Write([]byte(name))
	return m.Sum(nil)
}

// state returns the generation and whether the cache may be used now.
func (c *subjectCache) state() (gen uint64, on bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen, c.holds == 0
}

// lookup returns a copy of the subject every blind index names, if all are
// cached and name the same subject and no hold is in progress.
func (c *subjectCache) lookup(bidx []string) (cachedSubject, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.holds > 0 || len(bidx) == 0 {
		return cachedSubject{}, false
	}
	var s bot.SubjectID
	for i, b := range bidx {
		got, ok := c.byBidx[b]
		if !ok || (i > 0 && got != s) {
			return cachedSubject{}, false
		}
		s = got
	}
	e, ok := c.bySubj[s]
	if !ok {
		return cachedSubject{}, false
	}
	c.order.MoveToFront(e)
	return *e.Value.(*cachedSubject), true
}

// fill stores what an ingest batch committed, if no hold began since gen
// was read and none is in progress.
func (c *subjectCache) fill(gen uint64, entries []*cachedSubject) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.holds > 0 || c.gen != gen || c.max <= 0 {
		return
	}
	for _, n := range entries {
		if e, ok := c.bySubj[n.sub.ID]; ok {
			old := e.Value.(*cachedSubject)
			n.bidx = unionStrings(old.bidx, n.bidx)
			e.Value = n
			c.order.MoveToFront(e)
		} else {
			c.bySubj[n.sub.ID] = c.order.PushFront(n)
		}
		for _, b := range n.bidx {
			c.byBidx[b] = n.sub.ID
		}
	}
	for c.order.Len() > c.max {
		last := c.order.Back()
		old := c.order.Remove(last).(*cachedSubject)
		delete(c.bySubj, old.sub.ID)
		for _, b := range old.bidx {
			if c.byBidx[b] == old.sub.ID {
				delete(c.byBidx, b)
			}
		}
	}
}

// hold empties the cache and turns it off until the returned release is
// called; wrap every change of subjects or identities (other than an ingest
// batch) in it, releasing after the commit or rollback.
func (c *subjectCache) hold() (release func()) {
	c.mu.Lock()
	c.holds++
	c.gen++
	c.clearLocked()
	c.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			c.mu.Lock()
			c.holds--
			c.gen++
			c.clearLocked()
			c.mu.Unlock()
		})
	}
}

// clear empties the cache (Close).
func (c *subjectCache) clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	c.clearLocked()
}

func (c *subjectCache) clearLocked() {
	c.order.Init()
	clear(c.bySubj)
	clear(c.byBidx)
}

func (c *subjectCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}

func unionStrings(a, b []string) []string {
	out := append([]string(nil), a...)
	for _, x := range b {
		found := false
		for _, y := range out {
			if x == y {
				found = true
				break
			}
		}
		if !found {
			out = append(out, x)
		}
	}
	return out
}
