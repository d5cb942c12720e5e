package privacy

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/switchboard/switchboard/bot"
)

// testStore is what the tests need: the privacy Store plus the router's
// methods used to seed data.
type testStore interface {
	Store
	ResolveSubject(ctx context.Context, in bot.SubjectInput) (bot.Subject, error)
	SaveInbound(ctx context.Context, m bot.Message) (int64, bool, error)
	CreateDraft(ctx context.Context, d bot.Draft) (int64, error)
	SaveCard(ctx context.Context, draftID int64, ref bot.CardRef) error
	Decide(ctx context.Context, d bot.Decision) error
}

// memStore is an in-memory stand-in used only for engine-logic tests.
type memStore struct {
	mu       sync.Mutex
	subjects map[bot.SubjectID]*bot.Subject
	ids      map[bot.Identity]bot.SubjectID
	msgs     []bot.Message
	drafts   []bot.Draft
	cards    map[int64]bot.CardRef
	decs     []bot.Decision
	reqs     []bot.Request
	audit    []bot.AuditEntry
	now      func() time.Time
}

func newMemStore(now func() time.Time) *memStore {
	return &memStore{subjects: map[bot.SubjectID]*bot.Subject{}, ids: map[bot.Identity]bot.SubjectID{}, cards: map[int64]bot.CardRef{}, now: now}
}

func (m *memStore) ResolveSubject(_ context.Context, in bot.SubjectInput) (bot.Subject, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var id bot.SubjectID
	for _, i := range in.Identities {
		if s, ok := m.ids[i]; ok {
			id = s
		}
	}
	if id == "" {
		id = bot.NewSubjectID()
		m.subjects[id] = &bot.Subject{ID: id, Role: in.Role, Tenant: in.Tenant, CreatedAt: m.now()}
	}
	for _, i := range in.Identities {
		m.ids[i] = id
	}
	if in.Name != "" {
		m.subjects[id].Name = in.Name
	}
	return *m.subjects[id], nil
}

func (m *memStore) SaveInbound(_ context.Context, msg bot.Message) (int64, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	msg.ID = int64(len(m.msgs) + 1)
	msg.StoredAt = m.now()
	m.msgs = append(m.msgs, msg)
	return msg.ID, false, nil
}

func (m *memStore) CreateDraft(_ context.Context, d bot.Draft) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	d.ID = int64(len(m.drafts) + 1)
	m.drafts = append(m.drafts, d)
	return d.ID, nil
}

func (m *memStore) SaveCard(_ context.Context, id int64, ref bot.CardRef) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.cards[id] = ref
	return nil
}

func (m *memStore) Decide(_ context.Context, d bot.Decision) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.decs = append(m.decs, d)
	return nil
}

func (m *memStore) FindSubjects(_ context.Context, id bot.Identity) ([]bot.SubjectID, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if id.Kind == bot.IDTenant {
		var out []bot.SubjectID
		for _, s := range m.subjects {
			if s.Tenant == id.Value {
				out = append(out, s.ID)
			}
		}
		return out, nil
	}
	if s, ok := m.ids[id]; ok {
		return []bot.SubjectID{s}, nil
	}
	return nil, nil
}

func (m *memStore) FindSubject(_ context.Context, id bot.SubjectID) (bot.Subject, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.subjects[id]
	if !ok {
		return bot.Subject{}, bot.ErrNotFound
	}
	return *s, nil
}

func (m *memStore) Identities(_ context.Context, s bot.SubjectID) ([]bot.Identity, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []bot.Identity
	for i, id := range m.ids {
		if id == s {
			out = append(out, i)
		}
	}
	slices.SortFunc(out, func(a, b bot.Identity) int {
		if a.String() < b.String() {
			return -1
		}
		return 1
	})
	return out, nil
}

func (m *memStore) SetAIRestricted(_ context.Context, s bot.SubjectID, on bool) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.subjects[s] == nil {
		return bot.ErrNotFound
	}
	m.subjects[s].AIRestricted = on
	return nil
}

func (m *memStore) SetName(_ context.Context, s bot.SubjectID, name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.subjects[s] == nil {
		return bot.ErrNotFound
	}
	m.subjects[s].Name = name
	return nil
}

func (m *memStore) draftOwner(id int64) bot.SubjectID {
	for _, d := range m.drafts {
		if d.ID == id {
			return d.Subject
		}
	}
	return ""
}

func (m *memStore) ExportSubject(_ context.Context, s bot.SubjectID, fn func(string, any) error) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	subj, ok := m.subjects[s]
	if !ok {
		return bot.ErrNotFound
	}
	if err := fn("subject", *subj); err != nil {
		return err
	}
	var ids []bot.Identity
	for i, id := range m.ids {
		if id == s {
			ids = append(ids, i)
		}
	}
	slices.SortFunc(ids, func(a, b bot.Identity) int {
		if a.String() < b.String() {
			return -1
		}
		return 1
	})
	for _, i := range ids {
		if err := fn("identity", i); err != nil {
			return err
		}
	}
	for _, x := range m.msgs {
		if x.Subject == s {
			if err := fn("message", x); err != nil {
				return err
			}
		}
	}
	for _, x := range m.drafts {
		if x.Subject == s {
			if err := fn("draft", x); err != nil {
				return err
			}
		}
	}
	for _, x := range m.decs {
		if m.draftOwner(x.DraftID) == s {
			if err := fn("decision", x); err != nil {
				return err
			}
		}
	}
	for _, d := range m.drafts {
		if c, ok := m.cards[d.ID]; ok && d.Subject == s {
			if err := fn("card", c); err != nil {
				return err
			}
		}
	}
	for _, x := range m.reqs {
		if x.RequestedBy == s {
			if err := fn("request", x); err != nil {
				return err
			}
		}
	}
	return nil
}

func (m *memStore) DeleteSubject(_ context.Context, s bot.SubjectID) (map[string]int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.subjects[s] == nil {
		return nil, bot.ErrNotFound
	}
	c := map[string]int{"subjects": 1}
	m.decs = slices.DeleteFunc(m.decs, func(d bot.Decision) bool {
		if m.draftOwner(d.DraftID) == s {
			c["decisions"]++
			return true
		}
		return false
	})
	for _, d := range m.drafts {
		if _, ok := m.cards[d.ID]; ok && d.Subject == s {
			delete(m.cards, d.ID)
			c["cards"]++
		}
	}
	m.drafts = slices.DeleteFunc(m.drafts, func(d bot.Draft) bool {
		if d.Subject == s {
			c["drafts"]++
			return true
		}
		return false
	})
	m.msgs = slices.DeleteFunc(m.msgs, func(x bot.Message) bool {
		if x.Subject == s {
			c["messages"]++
			return true
		}
		return false
	})
	for i, id := range m.ids {
		if id == s {
			delete(m.ids, i)
			c["identities"]++
		}
	}
	delete(m.subjects, s)
	return c, nil
}

func (m *memStore) Checkpoint(context.Context) error { return nil }

func (m *memStore) CreateRequest(_ context.Context, r bot.Request) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r.ID = int64(len(m.reqs) + 1)
	m.reqs = append(m.reqs, r)
	return r.ID, nil
}

func (m *memStore) CompleteRequest(_ context.Context, id int64, status string, counts map[string]int, at time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if id < 1 || int(id) > len(m.reqs) {
		return bot.ErrNotFound
	}
	r := &m.reqs[id-1]
	r.Status, r.Counts, r.Done = status, counts, at
	return nil
}

func (m *memStore) OpenRequests(context.Context) ([]bot.Request, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []bot.Request
	for _, r := range m.reqs {
		if r.Status == "open" {
			out = append(out, r)
		}
	}
	return out, nil
}

func (m *memStore) Audit(_ context.Context, e bot.AuditEntry) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.audit = append(m.audit, e)
	return nil
}

func (m *memStore) Inactive(_ context.Context, before time.Time) ([]bot.SubjectID, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []bot.SubjectID
	for id, s := range m.subjects {
		last := s.CreatedAt
		for _, x := range m.msgs {
			if x.Subject == id && x.StoredAt.After(last) {
				last = x.StoredAt
			}
		}
		if last.Before(before) {
			out = append(out, id)
		}
	}
	return out, nil
}
