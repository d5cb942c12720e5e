package privacy

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboard/switchboard/bot"
)

func TestNewValidates(t *testing.T) {
	h := newHarness(t)
	tests := []struct {
		name string
		opts Options
	}{
		{"NoStore", Options{}},
		{"NilForgetter", Options{Store: h.st, Forgetters: []bot.Forgetter{nil}}},
		{"BadCC", Options{Store: h.st, DefaultCC: "+44"}},
		{"BadURL", Options{Store: h.st, ExportURL: "ftp://x/"}},
		{"NegativeRetention", Options{Store: h.st, Policy: Policy{RetentionMonths: -1}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.opts)
			assert.Error(t, err)
		})
	}
}

func TestHelpAndNotice(t *testing.T) {
	h := newHarness(t)
	c := h.customer("+447700900001", "1001@lid", "Alice")
	notice := h.must(c, "/privacy").Text
	for _, want := range []string{"Acme Plumbing Ltd", "OpenAI (USA)", "12 months", "30 days", "/forget me", "/export", "/stop", "ICO", "ico.org.uk", "legitimate interests"} {
		assert.Contains(t, notice, want)
	}
	assert.NotContains(t, h.must(c, "/help").Text, "/requests", "customers are not shown admin commands")
	admin := h.staffer("aad-admin", "Ada Admin", bot.RoleAdmin)
	assert.Contains(t, h.must(admin, "/help").Text, "/requests")
	// /privacy works in a group: it reveals nothing about anyone.
	r, _, err := h.sayIn(c, "/privacy", true)
	require.NoError(t, err)
	assert.Equal(t, notice, r.Text)
}

func TestUnknownCommandPassesOn(t *testing.T) {
	h := newHarness(t)
	c := h.customer("+447700900001", "1001@lid", "Alice")
	_, _, err := h.say(c, "/weather")
	assert.ErrorIs(t, err, bot.ErrUnknownCommand)
}

func TestForgetMeConfirmation(t *testing.T) {
	h := newHarness(t)
	a := h.customer("+447700900001", "1001@lid", "Alice")
	h.conversation(a, bot.Subject{}, "hello")

	t.Run("OtherTextCancels", func(t *testing.T) {
		assert.Contains(t, h.must(a, "/forget me").Text, "Reply YES within 10 minutes")
		_, handled, err := h.say(a, "actually, when do you open?")
		require.NoError(t, err)
		assert.False(t, handled, "other text goes on to staff")
		_, handled, err = h.say(a, "YES")
		require.NoError(t, err)
		assert.False(t, handled, "the cancelled erasure is not revived")
		_, err = h.st.FindSubject(h.ctx, a.ID)
		require.NoError(t, err)
	})
	t.Run("NoCancelsAndSaysSo", func(t *testing.T) {
		h.must(a, "/forget me")
		r, handled, err := h.say(a, "no")
		require.NoError(t, err)
		assert.True(t, handled)
		assert.Equal(t, "Cancelled: nothing was erased.", r.Text)
		_, handled, err = h.say(a, "YES")
		require.NoError(t, err)
		assert.False(t, handled, "the cancelled erasure is not revived")
	})
	t.Run("LateYesDoesNothing", func(t *testing.T) {
		h.must(a, "/forget me")
		h.clock.Add(10*time.Minute + time.Second)
		r := h.must(a, "yes")
		assert.Contains(t, r.Text, "expired")
		_, err := h.st.FindSubject(h.ctx, a.ID)
		require.NoError(t, err)
	})
	t.Run("YesErases", func(t *testing.T) {
		h.must(a, "/forget me")
		h.clock.Add(9 * time.Minute)
		r := h.must(a, " Yes! ")
		assert.Contains(t, r.Text, "Done: we erased your data")
		assert.Contains(t, r.Text, "From our database: 1 message, 1 reply draft,")
		assert.Contains(t, r.Text, "From our key store: 1 encryption key, so older backups of your data can no longer be read.")
		for _, dev := range []string{"subject_keys", "identities", "subjects", "1 messages"} {
			assert.NotContains(t, r.Text, dev, "plain words, not table names")
		}
		_, err := h.st.FindSubject(h.ctx, a.ID)
		require.ErrorIs(t, err, bot.ErrNotFound)
		open, err := h.st.OpenRequests(h.ctx)
		require.NoError(t, err)
		assert.Empty(t, open)
	})
}

func TestGroupCommandsDoNothing(t *testing.T) {
	h := newHarness(t)
	a := h.customer("+447700900001", "1001@lid", "Alice")
	h.conversation(a, bot.Subject{}, "hello")
	for _, cmd := range []string{"/forget me", "/export", "/stop", "/name Mallory"} {
		r, handled, err := h.sayIn(a, cmd, true)
		require.NoError(t, err)
		require.True(t, handled)
		assert.Equal(t, textGroup, r.Text)
	}
	// A YES in the 1:1 chat finds nothing pending.
	_, handled, err := h.say(a, "YES")
	require.NoError(t, err)
	assert.False(t, handled)
	got, err := h.st.FindSubject(h.ctx, a.ID)
	require.NoError(t, err)
	assert.Equal(t, "Alice", got.Name)
	assert.False(t, got.AIRestricted)
	assert.Empty(t, h.forget.calls)
	open, err := h.st.OpenRequests(h.ctx)
	require.NoError(t, err)
	assert.Empty(t, open)
}

func TestStopStartName(t *testing.T) {
	h := newHarness(t)
	a := h.customer("+447700900001", "1001@lid", "Alice")
	assert.Contains(t, h.must(a, "/STOP").Text, "not be shown to an AI model")
	got, err := h.st.FindSubject(h.ctx, a.ID)
	require.NoError(t, err)
	assert.True(t, got.AIRestricted)
	h.must(a, "/start")
	got, err = h.st.FindSubject(h.ctx, a.ID)
	require.NoError(t, err)
	assert.False(t, got.AIRestricted)
	h.must(a, "/name  Alice   Smith")
	got, err = h.st.FindSubject(h.ctx, a.ID)
	require.NoError(t, err)
	assert.Equal(t, "Alice Smith", got.Name)
	assert.Contains(t, h.must(a, "/name").Text, "could not read that")

	doc := h.exportOf(a.ID)
	for _, kind := range []string{`"kind":"restrict"`, `"kind":"resume"`, `"kind":"rectify"`} {
		assert.Contains(t, doc, kind)
	}
	assert.Equal(t, 3, strings.Count(doc, `"status":"done"`))
}

func TestCustomerCannotActOnOthers(t *testing.T) {
	h := newHarness(t)
	a := h.customer("+447700900001", "1001@lid", "Alice")
	b := h.customer("+447700900002", "1002@lid", "Bob")
	h.conversation(b, bot.Subject{}, "Bob's secret plan")
	for _, cmd := range []string{"/forget +44 7700 900002", "/export 07700900002", "/export whatsapp-lid:1002@lid", "/forget company", "/requests", "/retention"} {
		t.Run(cmd, func(t *testing.T) {
			r := h.must(a, cmd)
			assert.NotContains(t, r.Text, "Bob")
			assert.Nil(t, r.File)
			_, handled, err := h.say(a, "YES")
			require.NoError(t, err)
			assert.False(t, handled, "nothing waits for confirmation")
		})
	}
	_, err := h.st.FindSubject(h.ctx, b.ID)
	require.NoError(t, err)
	assert.Empty(t, h.forget.calls)
	// /export without an identifier is always one's own data.
	r := h.must(a, "/export")
	require.NotNil(t, r.File)
	assert.NotContains(t, string(r.File.Data), "Bob")
	assert.NotContains(t, string(r.File.Data), b.ID)

	// Each refusal was audited, naming the actor and no identifier.
	audit := auditOf(t, h, a.ID)
	assert.Equal(t, 6, strings.Count(audit, `"action":"refused"`), audit)
	assert.NotContains(t, audit, "7700900002")
}

// auditOf returns the audit part of the subject's export.
func auditOf(t *testing.T, h *harness, s bot.SubjectID) string {
	t.Helper()
	doc := h.exportOf(s)
	i := strings.Index(doc, `"audit":[`)
	require.GreaterOrEqual(t, i, 0)
	return doc[i:]
}

func TestAdminForgetByIdentifier(t *testing.T) {
	h := newHarness(t)
	admin := h.staffer("aad-admin", "Ada Admin", bot.RoleAdmin)
	a := h.customer("+447700900001", "1001@lid", "Alice")
	b := h.customer("+447700900002", "1002@lid", "Bob")
	h.conversation(a, admin, "first")
	h.conversation(b, admin, "second")

	assert.Equal(t, textNoMatch, h.must(admin, "/forget +44 7700 900999").Text)
	assert.Contains(t, h.must(admin, "/forget 07700 900001").Text, "erases 1 person")
	r := h.must(admin, "YES")
	assert.Contains(t, r.Text, "erased 1 person")
	_, err := h.st.FindSubject(h.ctx, a.ID)
	assert.ErrorIs(t, err, bot.ErrNotFound)
	_, err = h.st.FindSubject(h.ctx, b.ID)
	assert.NoError(t, err)
	require.Len(t, h.forget.calls, 1)
	assert.Equal(t, a.ID, h.forget.calls[0].Subject)
	assert.ElementsMatch(t, []bot.Identity{{Kind: bot.IDPhone, Value: "+447700900001"}, {Kind: bot.IDLID, Value: "1001@lid"}}, h.forget.calls[0].IDs)
}

func TestCompanyNeedsTwoAdmins(t *testing.T) {
	h := newHarness(t)
	admin1 := h.staffer("aad-admin1", "Ada", bot.RoleAdmin)
	admin2 := h.staffer("aad-admin2", "Grace", bot.RoleAdmin)
	a := h.customer("+447700900001", "1001@lid", "Alice")
	h.conversation(a, admin1, "hello")

	assert.Contains(t, h.must(admin1, "/forget company").Text, "second admin")
	h.clock.Add(11 * time.Minute)
	assert.Contains(t, h.must(admin2, "/forget company").Text, "This acts on everyone's data", "too late: admin2 starts a new request")
	_, err := h.st.FindSubject(h.ctx, a.ID)
	require.NoError(t, err)

	h.clock.Add(5 * time.Minute)
	r := h.must(admin1, "/forget company")
	assert.Contains(t, r.Text, "erased 4 people", "two admins, the customer and the staff member who decided")
	for _, s := range []bot.Subject{admin1, admin2, a} {
		_, err := h.st.FindSubject(h.ctx, s.ID)
		assert.ErrorIs(t, err, bot.ErrNotFound)
	}
	require.Len(t, h.teams.sent, 1, "the first admin is told")
	assert.Equal(t, chatOf(admin2), h.teams.sent[0].Chat)
}

// TestCompanyWindowIsTruthful: an admin who repeats a company-wide request
// starts its window again and is told until when; a second admin's
// confirmation within what they were told completes it, even seconds
// before the end.
func TestCompanyWindowIsTruthful(t *testing.T) {
	h := newHarness(t)
	admin1 := h.staffer("aad-admin1", "Ada", bot.RoleAdmin)
	admin2 := h.staffer("aad-admin2", "Grace", bot.RoleAdmin)
	a := h.customer("+447700900001", "1001@lid", "Alice")
	h.conversation(a, admin1, "hello")

	first := h.must(admin1, "/forget company").Text
	assert.Contains(t, first, "within 10 minutes (by 09:11 UTC)", first)
	h.clock.Add(5 * time.Minute)
	again := h.must(admin1, "/forget company").Text
	assert.Contains(t, again, "You asked already")
	assert.Contains(t, again, "within 10 minutes (by 09:16 UTC)", "the window starts again, and says so")
	h.clock.Add(10*time.Minute - 4*time.Second)
	r := h.must(admin2, "/forget company")
	assert.Contains(t, r.Text, "Done: erased", "4 s before the end it still counts")
	_, err := h.st.FindSubject(h.ctx, a.ID)
	assert.ErrorIs(t, err, bot.ErrNotFound)
}

func TestExportRateLimitAndFiles(t *testing.T) {
	h := newHarness(t)
	a := h.customer("+447700900001", "1001@lid", "Alice")
	h.conversation(a, bot.Subject{}, "hello")
	r := h.must(a, "/export")
	require.NotNil(t, r.File)
	assert.Equal(t, "application/json", r.File.MIME)
	validateExport(t, r.File.Data)
	ents, err := os.ReadDir(h.svc.dir)
	require.NoError(t, err)
	assert.Empty(t, ents, "the file is removed once handed over")

	h.clock.Add(59 * time.Minute)
	r = h.must(a, "/export")
	assert.Nil(t, r.File)
	assert.Contains(t, r.Text, "one export per hour")
	h.clock.Add(time.Minute)
	assert.NotNil(t, h.must(a, "/export").File)
}

func TestExportLinkOneTime(t *testing.T) {
	h := newHarness(t, func(o *Options) { o.ExportURL = "https://bot.example/exports" })
	admin := h.staffer("aad-admin", "Ada Admin", bot.RoleAdmin)
	a := h.customer("+447700900001", "1001@lid", "Alice")
	h.conversation(a, admin, "hello from alice")
	srv := httptest.NewServer(h.svc.ExportHandler())
	defer srv.Close()

	link := func(r bot.Reply) string {
		t.Helper()
		require.Nil(t, r.File)
		assert.Contains(t, r.Text, "expires in 24 hours.", "words, not a Go duration")
		i := strings.Index(r.Text, "https://bot.example/exports/")
		require.GreaterOrEqual(t, i, 0, r.Text)
		tok := strings.Fields(r.Text[i+len("https://bot.example/exports/"):])[0]
		require.Len(t, tok, 64)
		return srv.URL + "/exports/" + tok
	}
	get := func(url string) (int, string) {
		t.Helper()
		resp, err := http.Get(url)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, string(b)
	}

	url := link(h.delivered(h.must(admin, "/export +447700900001")))
	code, body := get(url)
	require.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, "hello from alice")
	validateExport(t, []byte(body))
	code, _ = get(url)
	assert.Equal(t, http.StatusNotFound, code, "one download only")
	ents, err := os.ReadDir(h.svc.dir)
	require.NoError(t, err)
	assert.Empty(t, ents)

	h.clock.Add(time.Hour)
	url = link(h.delivered(h.must(admin, "/export teams:AAD-ADMIN")))
	h.clock.Add(24 * time.Hour)
	code, _ = get(url)
	assert.Equal(t, http.StatusNotFound, code, "expired")
	ents, err = os.ReadDir(h.svc.dir)
	require.NoError(t, err)
	assert.Empty(t, ents, "an expired file is removed")

	code, _ = get(srv.URL + "/exports/" + strings.Repeat("ab", 32))
	assert.Equal(t, http.StatusNotFound, code)
	resp, err := http.Post(srv.URL+"/exports/x", "text/plain", nil)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
}

// TestExportFileExpiresOnTime: an export link's file is deleted when the
// link's time is up, by its own timer, not at the next daily sweep.
func TestExportFileExpiresOnTime(t *testing.T) {
	h := newHarness(t, func(o *Options) { o.ExportURL = "https://bot.example/exports/"; o.LinkTTL = 200 * time.Millisecond })
	admin := h.staffer("aad-admin", "Ada Admin", bot.RoleAdmin)
	a := h.customer("+447700900001", "1001@lid", "Alice")
	h.conversation(a, admin, "hello from alice")
	r := h.delivered(h.must(admin, "/export +447700900001"))
	require.Contains(t, r.Text, "https://bot.example/exports/")
	ents, err := os.ReadDir(h.svc.dir)
	require.NoError(t, err)
	require.Len(t, ents, 1, "the file waits for its download")
	require.Eventually(t, func() bool {
		ents, err := os.ReadDir(h.svc.dir)
		return err == nil && len(ents) == 0
	}, 5*time.Second, 10*time.Millisecond, "the file is deleted when its link expires")
	h.svc.mu.Lock()
	assert.Empty(t, h.svc.links)
	h.svc.mu.Unlock()
}

// TestRunRemovesLeftoverExportFiles: at start-up every export file an
// earlier process left is deleted, however young: its link died with that
// process, so nobody can fetch it any more.
func TestRunRemovesLeftoverExportFiles(t *testing.T) {
	h := newHarness(t)
	require.NoError(t, os.MkdirAll(h.svc.dir, 0o700))
	left := h.svc.dir + "/export-123.json"
	other := h.svc.dir + "/notes.txt"
	for _, p := range []string{left, other} {
		require.NoError(t, os.WriteFile(p, []byte("{}"), 0o600))
	}
	ctx, cancel := context.WithCancel(h.ctx)
	done := make(chan struct{})
	go func() { h.svc.Run(ctx); close(done) }()
	require.Eventually(t, func() bool { _, err := os.Stat(left); return os.IsNotExist(err) }, 5*time.Second, 10*time.Millisecond)
	assert.FileExists(t, other)
	cancel()
	<-done
}

func TestRequestsAndReminders(t *testing.T) {
	h := newHarness(t)
	admin := h.staffer("aad-admin", "Ada Admin", bot.RoleAdmin)
	// Requests stay open when the register is written but the work fails;
	// plant two open ones directly.
	for _, at := range []time.Time{h.clock.Now(), h.clock.Now().Add(20 * 24 * time.Hour)} {
		_, err := h.st.CreateRequest(h.ctx, bot.Request{Kind: bot.RequestErase, Scope: "phone", Received: at, Due: bot.DueDate(at), RequestedBy: admin.ID, Status: "open"})
		require.NoError(t, err)
	}
	r := h.must(admin, "/requests")
	assert.Contains(t, r.Text, "Open data-rights requests (2)")
	assert.Contains(t, r.Text, "received 31 Jan 2026, due 28 Feb 2026", "31 January is due 28 February")

	rem, err := h.svc.Reminders(h.ctx, time.Date(2026, 2, 21, 9, 0, 0, 0, time.UTC))
	require.NoError(t, err)
	require.Len(t, rem, 1, "only the request due within 7 days")
	assert.Equal(t, time.Date(2026, 2, 28, 9, 0, 0, 0, time.UTC), rem[0].Due.UTC())
	assert.Equal(t, "Data-rights requests due within 7 days (1):\n#1 erase (phone) due Sat 28 Feb 2026\nSend /requests for the full list.",
		ReminderText(rem, time.Date(2026, 2, 21, 9, 0, 0, 0, time.UTC)))
	assert.Contains(t, ReminderText(rem, time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)), "OVERDUE")
	assert.Empty(t, ReminderText(nil, time.Time{}))
	rem, err = h.svc.Reminders(h.ctx, time.Date(2026, 2, 20, 8, 0, 0, 0, time.UTC))
	require.NoError(t, err)
	assert.Empty(t, rem)
}

func TestPurgeUsesErasurePath(t *testing.T) {
	h := newHarness(t)
	admin := h.staffer("aad-admin", "Ada Admin", bot.RoleAdmin)
	old := h.customer("+447700900001", "1001@lid", "Old Olive")
	h.conversation(old, admin, "a year ago")
	h.clock.Add(200 * 24 * time.Hour)
	recent := h.customer("+447700900002", "1002@lid", "Recent Rita")
	h.conversation(recent, admin, "lately")

	now := bot.AddMonths(h.clock.Now(), 6)
	require.NoError(t, h.svc.Purge(h.ctx, now))
	_, err := h.st.FindSubject(h.ctx, old.ID)
	assert.ErrorIs(t, err, bot.ErrNotFound)
	_, err = h.st.FindSubject(h.ctx, recent.ID)
	assert.NoError(t, err)
	_, err = h.st.FindSubject(h.ctx, admin.ID)
	assert.NoError(t, err, "staff are not purged")
	require.Len(t, h.forget.calls, 1)
	assert.Equal(t, old.ID, h.forget.calls[0].Subject)
	require.NoError(t, h.svc.Purge(h.ctx, now), "a second run finds nothing to do")
	assert.Len(t, h.forget.calls, 1)
}

// TestPurgeCountsTheCustomersLastMessage: "erased N months after your last
// message" is the customer's last message; a reply we sent later does not
// keep a silent customer's data alive.
func TestPurgeCountsTheCustomersLastMessage(t *testing.T) {
	h := newHarness(t)
	admin := h.staffer("aad-admin", "Ada Admin", bot.RoleAdmin)
	c := h.customer("+447700900001", "1001@lid", "Silent Sue")
	h.conversation(c, admin, "one question")
	last := h.clock.Now()
	h.clock.Add(100 * 24 * time.Hour) // the reply goes out months later
	due, err := h.st.DueOutbox(h.ctx, h.clock.Now(), 10)
	require.NoError(t, err)
	require.Len(t, due, 1)
	require.NoError(t, h.st.MarkSent(h.ctx, due[0].ID, "WAMID-reply", h.clock.Now()))

	now := bot.AddMonths(last, 12).Add(24 * time.Hour)
	require.NoError(t, h.svc.Purge(h.ctx, now))
	_, err = h.st.FindSubject(h.ctx, c.ID)
	assert.ErrorIs(t, err, bot.ErrNotFound, "12 months after the customer's last message, whatever we sent since")
}

func TestForgetterFailureIsReported(t *testing.T) {
	h := newHarness(t)
	h.forget.err = errors.New("teams unavailable")
	a := h.customer("+447700900001", "1001@lid", "Alice")
	h.must(a, "/forget me")
	_, handled, err := h.say(a, "YES")
	assert.True(t, handled)
	var ue *bot.UserError
	require.ErrorAs(t, err, &ue)
	assert.Contains(t, ue.Safe, "did not fully complete")
	_, err = h.st.FindSubject(h.ctx, a.ID)
	assert.ErrorIs(t, err, bot.ErrNotFound, "our rows are gone even so")
}

func TestPurgeRemovesLeftoverExportFiles(t *testing.T) {
	h := newHarness(t)
	require.NoError(t, os.MkdirAll(h.svc.dir, 0o700))
	stale := h.svc.dir + "/export-crashed.json"
	fresh := h.svc.dir + "/export-writing.json"
	other := h.svc.dir + "/notes.txt"
	for _, p := range []string{stale, fresh, other} {
		require.NoError(t, os.WriteFile(p, []byte("{}"), 0o600))
	}
	now := time.Now()
	require.NoError(t, os.Chtimes(stale, now.Add(-25*time.Hour), now.Add(-25*time.Hour)))
	require.NoError(t, h.svc.Purge(h.ctx, now))
	assert.NoFileExists(t, stale)
	assert.FileExists(t, fresh)
	assert.FileExists(t, other)
}

func TestUnresolvedSenderIsAnError(t *testing.T) {
	h := newHarness(t)
	_, err := h.svc.Handle(h.ctx, bot.CommandRequest{Command: bot.Command{Name: "forget", Args: "me"}, Platform: bot.WhatsApp, Chat: "c"})
	var ue *bot.UserError
	require.ErrorAs(t, err, &ue)
	assert.NotEmpty(t, ue.Safe)
}

func TestAdminExportTenant(t *testing.T) {
	h := newHarness(t)
	admin := h.staffer("aad-admin", "Ada Admin", bot.RoleAdmin)
	staff := h.staffer("aad-sam", "Sam Staff", bot.RoleStaff)
	a := h.customer("+447700900001", "1001@lid", "Alice")
	h.conversation(a, admin, "hello")
	r := h.delivered(h.must(admin, "/export tenant:TENANT-1"))
	require.NotNil(t, r.File, r.Text)
	assert.Contains(t, r.Text, "3 records")
	doc := validateExport(t, r.File.Data)
	assert.Equal(t, "tenant", doc["scope"])
	var ids []string
	for _, s := range doc["subjects"].([]any) {
		ids = append(ids, s.(map[string]any)["subject"].(map[string]any)["subject_id"].(string))
	}
	assert.Contains(t, ids, string(admin.ID))
	assert.Contains(t, ids, string(staff.ID))
	assert.NotContains(t, ids, string(a.ID), "customers have no tenant")
	assert.NotContains(t, string(r.File.Data), "Alice")
}

func TestConcurrentYesErasesOnce(t *testing.T) {
	h := newHarness(t)
	a := h.customer("+447700900001", "1001@lid", "Alice")
	h.conversation(a, bot.Subject{}, "hello")
	h.must(a, "/forget me")
	req := bot.CommandRequest{Text: "YES", Subject: a, Platform: bot.WhatsApp, Chat: chatOf(a), At: h.clock.Now()}
	const n = 8
	handled := make(chan bool, n)
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		go func() {
			_, ok, err := h.svc.Intercept(h.ctx, req)
			handled <- ok
			errs <- err
		}()
	}
	count := 0
	for i := 0; i < n; i++ {
		if <-handled {
			count++
		}
		require.NoError(t, <-errs)
	}
	assert.Equal(t, 1, count)
	assert.Len(t, h.forget.calls, 1)
}

// noterForgetter is a Forgetter that also has notes on an erasure.
type noterForgetter struct {
	recForgetter
	seen [][]bot.Identity
}

func (n *noterForgetter) ForgetNotes(_ context.Context, ids []bot.Identity) ([]string, error) {
	n.seen = append(n.seen, ids)
	for _, id := range ids {
		if id.Kind == bot.IDTeams && id.Value == "aad-added" {
			return []string{"This also removes Teams admin rights given with /admin add."}, nil
		}
	}
	return nil, nil
}

// TestForgetPromptNotes: an erasure that removes an added admin says so in
// its prompt, before anyone confirms.
func TestForgetPromptNotes(t *testing.T) {
	nf := &noterForgetter{}
	h := newHarness(t, func(o *Options) { o.Forgetters = []bot.Forgetter{nf} })
	admin := h.staffer("aad-admin", "Ada Admin", bot.RoleAdmin)
	added := h.staffer("aad-added", "Sam Staff", bot.RoleAdmin)
	r := h.must(admin, "/forget teams:aad-added")
	assert.Contains(t, r.Text, "This also removes Teams admin rights given with /admin add.")
	assert.Contains(t, r.Text, "Reply YES")
	require.NotEmpty(t, nf.seen)
	assert.Contains(t, nf.seen[0], bot.Identity{Kind: bot.IDTeams, Value: "aad-added"})

	r = h.must(added, "/forget me")
	assert.Contains(t, r.Text, "removes Teams admin rights")
	c := h.customer("+447700900001", "1001@lid", "Alice")
	assert.NotContains(t, h.must(c, "/forget me").Text, "admin")
}
