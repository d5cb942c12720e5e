package privacy

import (
	"context"
	"database/sql"
	"errors"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboard/switchboard/bot"
	"github.com/switchboard/switchboard/store"
	"github.com/switchboard/switchboard/store/storetest"
)

// restart stands for the process stopping and starting again on the same
// data directory: the store is closed (nothing of the service's memory
// survives) and opened again, and a new service is built on it with the
// harness's options changed by opts. The old service is left as it is, as
// a killed process leaves it.
func (h *harness) restart(opts ...harnessOpt) {
	h.t.Helper()
	require.NotEmpty(h.t, h.dir)
	c, ok := h.st.(io.Closer)
	require.True(h.t, ok)
	require.NoError(h.t, c.Close())
	db := storetest.OpenWith(h.t, store.Options{Dir: h.dir, Now: h.clock.Now, Log: h.log})
	h.st = db
	o := h.options()
	for _, f := range opts {
		f(&o)
	}
	svc, err := New(o)
	require.NoError(h.t, err)
	h.svc = svc
}

// runService runs the service's Run (what switchboard starts once the
// channels exist) until the test ends.
func (h *harness) runService() {
	h.t.Helper()
	ctx, cancel := context.WithCancel(h.ctx)
	done := make(chan struct{})
	go func() { h.svc.Run(ctx); close(done) }()
	h.t.Cleanup(func() { cancel(); <-done })
}

// forgetsLeft counts the forget records and their keys in keys.db (ids
// "f_…", see the store's migration 015).
func forgetsLeft(t *testing.T, dir string) (records, keys int) {
	t.Helper()
	for _, q := range []struct {
		file, query string
		n           *int
	}{
		{store.MainFile, "SELECT count(*) FROM forgets", &records},
		{store.KeysFile, "SELECT count(*) FROM subject_keys WHERE subject_id LIKE 'f\\_%' ESCAPE '\\'", &keys},
	} {
		h, err := sql.Open("sqlite3", "file:"+filepath.Join(dir, q.file)+"?mode=ro")
		require.NoError(t, err)
		require.NoError(t, h.QueryRow(q.query).Scan(q.n))
		require.NoError(t, h.Close())
	}
	return records, keys
}

// callsOf returns a copy of the forgetter's calls.
func (f *recForgetter) callsOf() []forgetCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]forgetCall(nil), f.calls...)
}

// TestForgetResumesAfterRestart: the channel's forgetter fails when a
// person is erased (as when the process dies right after the store's
// commit: the rows are gone, the channel still holds the person). After a
// restart the service runs the forgetter with the person's identities,
// which only the sealed forget record still knows, then destroys the
// record and its key: nothing of the person is left in the data dir.
func TestForgetResumesAfterRestart(t *testing.T) {
	h := newHarness(t, func(o *Options) { o.ForgetRetry = time.Hour })
	a := seedPerson(t, h, "+447700900111", "98765432101@lid", "Alice Aardvark", "PLANTED-ALPHA-7f3c")
	b := seedPerson(t, h, "+447700900222", "98765432202@lid", "Bob Bobolink", "PLANTED-BRAVO-91d2")
	h.forget.err = errors.New("whatsapp.db is locked")

	h.must(a.sub, "/forget me")
	_, _, err := h.say(a.sub, "YES")
	var ue *bot.UserError
	require.ErrorAs(t, err, &ue, "the person is told the erasure did not fully complete")
	require.Len(t, h.forget.callsOf(), 1, "the forgetter was tried once")
	_, err = h.st.FindSubject(h.ctx, a.sub.ID)
	require.ErrorIs(t, err, bot.ErrNotFound, "our rows are gone")
	records, _ := forgetsLeft(t, h.dir)
	require.Equal(t, 1, records, "what the channel still owes is recorded")
	require.NoError(t, h.st.Checkpoint(h.ctx))
	assert.Empty(t, scan(t, readFiles(t, storeFiles(h.dir)), a.needles()), "the record holds the identities sealed")

	after := &recForgetter{}
	h.restart(func(o *Options) { o.Forgetters = []bot.Forgetter{after} })
	h.runService()
	require.Eventually(t, func() bool { r, k := forgetsLeft(t, h.dir); return r == 0 && k == 0 }, 5*time.Second, 5*time.Millisecond,
		"the forget record and its key are destroyed once the forgetter succeeded")
	calls := after.callsOf()
	require.Len(t, calls, 1, "the forgetter ran once after the restart")
	assert.Equal(t, a.sub.ID, calls[0].Subject)
	assert.ElementsMatch(t, []bot.Identity{{Kind: bot.IDPhone, Value: a.phone}, {Kind: bot.IDLID, Value: a.lid}}, calls[0].IDs)

	require.NoError(t, h.st.Checkpoint(h.ctx))
	blobs := readFiles(t, storeFiles(h.dir))
	blobs["logs"] = h.logs.Bytes()
	assert.Empty(t, scan(t, blobs, a.needles()), "nothing of A in the data dir or the logs")
	assert.Contains(t, h.logs.String(), string(a.sub.ID), "the logs name the subject by its id")
	_, err = h.st.FindSubject(h.ctx, b.sub.ID)
	assert.NoError(t, err, "B is intact")
}

// TestSecondForgetSurvivesRestart: a self-erasure whose early confirmation
// could not be sent goes as the command's reply, and the channels must
// forget the person again after it, since sending re-creates their rows.
// The process stops before that second forget: after the restart it runs,
// with the person's identities, and the record goes.
func TestSecondForgetSurvivesRestart(t *testing.T) {
	ol := &orderLog{sendErr: errors.New("not connected")}
	h := newHarness(t, func(o *Options) {
		o.Forgetters = []bot.Forgetter{waForgetter{ol}}
		o.Senders = map[bot.Platform]bot.Channel{bot.WhatsApp: waSender{ol}}
		o.ReforgetAfter = time.Hour // the process stops long before
	})
	a := seedPerson(t, h, "+447700900111", "98765432101@lid", "Alice Aardvark", "PLANTED-ALPHA-7f3c")
	h.must(a.sub, "/forget me")
	reply := h.must(a.sub, "YES")
	require.Contains(t, reply.Text, "we erased your data", "the confirmation goes as the reply")
	require.Equal(t, []string{"forget"}, ol.snapshot(), "the first forget ran")
	records, _ := forgetsLeft(t, h.dir)
	require.Equal(t, 1, records, "the second forget is recorded")

	after := &namedForgetter{name: "whatsapp"} // waForgetter's name: its platform
	h.restart(func(o *Options) { o.Forgetters = []bot.Forgetter{after} })
	h.runService()
	require.Eventually(t, func() bool { r, k := forgetsLeft(t, h.dir); return r == 0 && k == 0 }, 5*time.Second, 5*time.Millisecond)
	calls := after.callsOf()
	require.Len(t, calls, 1, "the second forget ran after the restart")
	assert.Equal(t, a.sub.ID, calls[0].Subject)
	assert.ElementsMatch(t, []bot.Identity{{Kind: bot.IDPhone, Value: a.phone}, {Kind: bot.IDLID, Value: a.lid}}, calls[0].IDs)
	require.NoError(t, h.st.Checkpoint(h.ctx))
	blobs := readFiles(t, storeFiles(h.dir))
	blobs["logs"] = h.logs.Bytes()
	assert.Empty(t, scan(t, blobs, a.needles()))
}

// namedForgetter is a recording forgetter with a name of its own, as the
// channels have ("whatsapp-linked", "teams").
type namedForgetter struct {
	recForgetter
	name string
}

func (n *namedForgetter) ForgetterName() string { return n.name }

// TestForgetOwedToAbsentChannel: a forget owed to a channel that is not
// configured at this start (Teams turned off) is kept, with a log line
// naming the subject and the channel, while the others run and are not
// run again; when the channel is back, it runs and the record goes.
func TestForgetOwedToAbsentChannel(t *testing.T) {
	wa := &namedForgetter{name: "whatsapp-linked"}
	tm := &namedForgetter{name: "teams"}
	wa.err, tm.err = errors.New("down"), errors.New("down")
	h := newHarness(t, func(o *Options) { o.Forgetters = []bot.Forgetter{wa, tm}; o.ForgetRetry = time.Hour })
	a := seedPerson(t, h, "+447700900111", "98765432101@lid", "Alice Aardvark", "PLANTED-ALPHA-7f3c")
	h.must(a.sub, "/forget me")
	_, _, err := h.say(a.sub, "YES")
	require.Error(t, err)

	wa2 := &namedForgetter{name: "whatsapp-linked"}
	h.restart(func(o *Options) { o.Forgetters = []bot.Forgetter{wa2} })
	h.runService()
	require.Eventually(t, func() bool { return len(wa2.callsOf()) == 1 }, 5*time.Second, 5*time.Millisecond)
	require.Eventually(t, func() bool {
		return strings.Contains(h.logs.String(), "not configured at this start")
	}, 5*time.Second, 5*time.Millisecond, "the operator is told")
	records, _ := forgetsLeft(t, h.dir)
	assert.Equal(t, 1, records, "kept for the absent channel")
	assert.Contains(t, h.logs.String(), string(a.sub.ID))
	assert.Contains(t, h.logs.String(), `"forgetter":"teams"`)

	wa3, tm3 := &namedForgetter{name: "whatsapp-linked"}, &namedForgetter{name: "teams"}
	h.restart(func(o *Options) { o.Forgetters = []bot.Forgetter{wa3, tm3} })
	h.runService()
	require.Eventually(t, func() bool { r, k := forgetsLeft(t, h.dir); return r == 0 && k == 0 }, 5*time.Second, 5*time.Millisecond)
	assert.Empty(t, wa3.callsOf(), "the linked device forgot the person already")
	calls := tm3.callsOf()
	require.Len(t, calls, 1)
	assert.ElementsMatch(t, []bot.Identity{{Kind: bot.IDPhone, Value: a.phone}, {Kind: bot.IDLID, Value: a.lid}}, calls[0].IDs)
}

// TestForgetRetriedWhileRunning: a forgetter that fails is tried again
// while the process runs, once the backoff has passed, and the record
// stays until it succeeds.
func TestForgetRetriedWhileRunning(t *testing.T) {
	h := newHarness(t, func(o *Options) { o.ForgetRetry = time.Minute; o.SweepEvery = time.Millisecond })
	a := seedPerson(t, h, "+447700900111", "98765432101@lid", "Alice Aardvark", "PLANTED-ALPHA-7f3c")
	h.forget.mu.Lock()
	h.forget.err = errors.New("down")
	h.forget.mu.Unlock()
	h.must(a.sub, "/forget me")
	_, _, err := h.say(a.sub, "YES")
	require.Error(t, err)
	h.runService()
	// At start-up every pending forget is tried at once; it fails again.
	require.Eventually(t, func() bool {
		h.svc.mu.Lock()
		settled := len(h.svc.inflight) == 0
		h.svc.mu.Unlock()
		return len(h.forget.callsOf()) == 2 && settled
	}, 5*time.Second, time.Millisecond)
	records, _ := forgetsLeft(t, h.dir)
	assert.Equal(t, 1, records)
	h.forget.mu.Lock()
	h.forget.err = nil
	h.forget.mu.Unlock()
	h.clock.Add(time.Hour)
	require.Eventually(t, func() bool { r, k := forgetsLeft(t, h.dir); return r == 0 && k == 0 }, 5*time.Second, time.Millisecond)
	calls := h.forget.callsOf()
	require.Len(t, calls, 3)
	assert.ElementsMatch(t, []bot.Identity{{Kind: bot.IDPhone, Value: a.phone}, {Kind: bot.IDLID, Value: a.lid}}, calls[2].IDs)
	assert.Contains(t, h.logs.String(), "forget failed; retried later")
}

// plainForgetter has neither a name nor a platform.
type plainForgetter struct{}

func (plainForgetter) Forget(context.Context, bot.SubjectID, []bot.Identity) error { return nil }

// TestForgetterNames: a forgetter's own name, else its platform, else its
// position; a name taken already gets the position appended.
func TestForgetterNames(t *testing.T) {
	got := forgetterNames([]bot.Forgetter{
		&namedForgetter{name: "whatsapp-linked"}, &recForgetter{}, plainForgetter{}, &namedForgetter{name: "whatsapp-linked"}, &recForgetter{},
	})
	assert.Equal(t, []string{"whatsapp-linked", "teams", "forgetter-2", "whatsapp-linked#3", "teams#4"}, got)
}

// TestForgetRetryBackoff: a failed forgetter waits as long as its erasure
// has been pending, at least ForgetRetry and at most ForgetRetryMax, so a
// forget owed for days is tried hourly and one in a test settles quickly.
func TestForgetRetryBackoff(t *testing.T) {
	now := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	s := &Service{retry: time.Minute, retryMax: time.Hour}
	assert.Equal(t, now.Add(time.Minute), s.retryAt(now, now.Add(-10*time.Second)), "young record: ForgetRetry")
	assert.Equal(t, now.Add(20*time.Minute), s.retryAt(now, now.Add(-20*time.Minute)), "as long as it has been pending")
	assert.Equal(t, now.Add(time.Hour), s.retryAt(now, now.Add(-72*time.Hour)), "at most ForgetRetryMax")
	s = &Service{retry: 50 * time.Millisecond, retryMax: time.Second}
	assert.Equal(t, now.Add(time.Second), s.retryAt(now, now.Add(-40*time.Second)), "a short cap holds")
	s = &Service{retry: 2 * time.Hour, retryMax: time.Hour}
	assert.Equal(t, now.Add(2*time.Hour), s.retryAt(now, now.Add(-72*time.Hour)), "ForgetRetry longer than the cap wins")
}
