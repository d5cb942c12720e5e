package storetest_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboard/switchboard/bot"
	"github.com/switchboard/switchboard/privacy"
	"github.com/switchboard/switchboard/store"
	"github.com/switchboard/switchboard/store/storetest"
)

// The contract's Store spells out privacy.Store's methods (storetest cannot
// import privacy, whose tests import storetest): it must include them all.
var _ privacy.Store = storetest.Store(nil)

func TestOpenAndReopen(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "d")
	db := storetest.OpenWith(t, store.Options{Dir: dir})
	s, err := db.ResolveSubject(ctx, bot.SubjectInput{Identities: []bot.Identity{{Kind: bot.IDPhone, Value: "+447700900123"}}, Name: "Ada"})
	require.NoError(t, err)
	require.NoError(t, db.Close())

	again := storetest.OpenWith(t, store.Options{Dir: dir})
	got, err := again.FindSubject(ctx, s.ID)
	require.NoError(t, err)
	assert.Equal(t, "Ada", got.Name)

	other := storetest.Open(t)
	_, err = other.FindSubject(ctx, s.ID)
	assert.ErrorIs(t, err, bot.ErrNotFound)
}

// mutant is a SQLite store broken on purpose in one promise, to show the
// contract notices.
type mutant struct {
	*store.DB
	name string
	last *lastWrite // "last-receipt-wins"
}

// lastWrite is what a store that lets the latest receipt win would show.
type lastWrite struct {
	mu      sync.Mutex
	draftOf map[int64]int64             // outbox id → draft id
	sent    map[bot.MessageID]int64     // platform id → draft id
	status  map[int64]bot.MessageStatus // draft id → the latest receipt's status
}

func (m mutant) MarkSent(ctx context.Context, outboxID int64, pid bot.MessageID, at time.Time) error {
	if m.last != nil {
		m.last.mu.Lock()
		m.last.sent[pid] = m.last.draftOf[outboxID]
		m.last.mu.Unlock()
	}
	return m.DB.MarkSent(ctx, outboxID, pid, at)
}

func (m mutant) ApplyReceipt(ctx context.Context, r bot.Receipt) ([]int64, error) {
	if m.last != nil {
		m.last.mu.Lock()
		for _, id := range r.IDs {
			if d, ok := m.last.sent[id]; ok {
				m.last.status[d] = r.Status
			}
		}
		m.last.mu.Unlock()
	}
	return m.DB.ApplyReceipt(ctx, r)
}

func (m mutant) LoadDraft(ctx context.Context, id int64) (bot.DraftView, error) {
	v, err := m.DB.LoadDraft(ctx, id)
	if m.last != nil {
		m.last.mu.Lock()
		if st, ok := m.last.status[id]; ok {
			v.SendStatus = st
		}
		m.last.mu.Unlock()
	}
	return v, err
}

func (m mutant) SaveInbound(ctx context.Context, msg bot.Message) (int64, bool, error) {
	id, dup, err := m.DB.SaveInbound(ctx, msg)
	if m.name == "dup-forgotten" {
		dup = false
	}
	return id, dup, err
}

func (m mutant) Decide(ctx context.Context, d bot.Decision) error {
	err := m.DB.Decide(ctx, d)
	if m.name == "later-decision-wins" && errors.Is(err, bot.ErrDecided) {
		return nil
	}
	return err
}

func (m mutant) DueOutbox(ctx context.Context, now time.Time, limit int) ([]bot.OutboxItem, error) {
	items, err := m.DB.DueOutbox(ctx, now, limit)
	if m.last != nil {
		m.last.mu.Lock()
		for _, it := range items {
			m.last.draftOf[it.ID] = it.DraftID
		}
		m.last.mu.Unlock()
	}
	if m.name == "key-per-attempt" {
		for i := range items {
			items[i].Key += fmt.Sprintf("-%d", items[i].Attempts)
		}
	}
	return items, err
}

func (m mutant) DeleteSubject(ctx context.Context, s bot.SubjectID) (map[string]int, error) {
	if m.name == "erase-does-nothing" {
		return m.DB.CountSubject(ctx, s)
	}
	return m.DB.DeleteSubject(ctx, s)
}

// TestMutantContract runs the contract on the mutant STORETEST_MUTANT
// names, in the child process TestContractCatchesMutants starts.
func TestMutantContract(t *testing.T) {
	name := os.Getenv("STORETEST_MUTANT")
	if name == "" {
		t.Skip("run by TestContractCatchesMutants")
	}
	storetest.RunContract(t, func(t *testing.T) storetest.Store {
		m := mutant{DB: storetest.Open(t), name: name}
		if name == "last-receipt-wins" {
			m.last = &lastWrite{draftOf: map[int64]int64{}, sent: map[bot.MessageID]int64{}, status: map[int64]bot.MessageStatus{}}
		}
		return m
	})
}

// TestContractCatchesMutants checks that the contract fails a store that
// breaks one of its promises, in the subtest about that promise.
func TestContractCatchesMutants(t *testing.T) {
	if os.Getenv("STORETEST_MUTANT") != "" {
		t.Skip("in the child")
	}
	for name, subtest := range map[string]string{
		"dup-forgotten":       "SameIDIsDup",
		"later-decision-wins": "FirstDecisionWins",
		"key-per-attempt":     "OutboxKeysStable",
		"erase-does-nothing":  "EraseLeavesNothing",
		"last-receipt-wins":   "ReceiptNeverLowers",
	} {
		t.Run(name, func(t *testing.T) {
			cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestMutantContract$/^"+subtest+"$", "-test.count=1")
			cmd.Env = append(os.Environ(), "STORETEST_MUTANT="+name)
			out, err := cmd.CombinedOutput()
			var exit *exec.ExitError
			require.ErrorAs(t, err, &exit, "the contract passed a store that breaks %s:\n%s", subtest, out)
			assert.Contains(t, string(out), "--- FAIL: TestMutantContract/"+subtest)
		})
	}
}
