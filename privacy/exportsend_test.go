package privacy

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboard/switchboard/bot"
)

// cloudCaps are the WhatsApp Business Platform's file types, as the Cloud
// API channel declares them (channels/whatsappcloud/filetypes.go): no ZIP.
var cloudCaps = bot.Capabilities{Files: true, MaxFile: 100 << 20, FileTypes: []bot.FileType{
	{MIME: "image/jpeg", Max: 5 << 20}, {MIME: "image/png", Max: 5 << 20}, {MIME: "audio/ogg", Max: 16 << 20},
	{MIME: "video/mp4", Max: 16 << 20}, {MIME: "text/plain"}, {MIME: "application/json"}, {MIME: "application/pdf"},
}}

// waChannel is the WhatsApp channel of a test: it sends what its caps take
// (and refuses the rest, as the real channels do), records every attempt,
// and fails the sends fail picks.
type waChannel struct {
	mu    sync.Mutex
	caps  bot.Capabilities
	tried []bot.Outbound
	sent  []bot.Outbound
	fail  func(bot.Outbound) error
}

func (c *waChannel) Platform() bot.Platform { return bot.WhatsApp }
func (c *waChannel) Capabilities() bot.Capabilities {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.caps
}
func (c *waChannel) Run(ctx context.Context, _ bot.Sink) error { <-ctx.Done(); return nil }
func (c *waChannel) Send(_ context.Context, m bot.Outbound) (bot.MessageID, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.tried = append(c.tried, m)
	if m.File != nil && !c.caps.TakesFile(m.File.MIME, int64(len(m.File.Data))) {
		return "", fmt.Errorf("file type: %w", bot.ErrUnsupported)
	}
	if c.fail != nil {
		if err := c.fail(m); err != nil {
			return "", err
		}
	}
	c.sent = append(c.sent, m)
	return bot.MessageID(fmt.Sprintf("wamid.%d", len(c.sent))), nil
}

func (c *waChannel) sends() []bot.Outbound {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]bot.Outbound(nil), c.sent...)
}

func (c *waChannel) attempts() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.tried)
}

// withWhatsApp gives the harness a WhatsApp channel with caps.
func withWhatsApp(wa *waChannel) harnessOpt {
	return func(o *Options) { o.Senders[bot.WhatsApp] = wa }
}

// exportRequest is the request register's entry of an export, as the
// person's next export shows it.
func exportRequest(t *testing.T, h *harness, s bot.SubjectID, id int64) xRequest {
	t.Helper()
	var doc struct {
		Subjects []struct {
			Requests []xRequest `json:"requests"`
		} `json:"subjects"`
	}
	require.NoError(t, json.Unmarshal([]byte(h.exportOf(s)), &doc))
	for _, r := range doc.Subjects[0].Requests {
		if r.ID == id {
			return r
		}
	}
	require.FailNow(t, "no such request", "%d", id)
	return xRequest{}
}

// requestID reads the request number a text names ("request #7").
func requestID(t *testing.T, text string) int64 {
	t.Helper()
	var id int64
	i := strings.Index(text, "request #")
	require.GreaterOrEqual(t, i, 0, text)
	_, err := fmt.Sscanf(text[i:], "request #%d", &id)
	require.NoError(t, err)
	return id
}

// On the WhatsApp Business Platform (no ZIP) and without a link, /export of
// a person with a photo, a voice note and a document comes as the JSON
// document and then each file as its own message, captioned with what it
// is; the reply says exactly what was sent. The register says delivered,
// and the hourly export is used.
func TestExportInPartsWhereTheZipCannotGo(t *testing.T) {
	wa := &waChannel{caps: cloudCaps}
	h := newHarness(t, withWhatsApp(wa))
	a := seedPerson(t, h, "+447700900111", "98765432101@lid", "Alice Aardvark", "PLANTED-ALPHA-7f3c")
	media := seedMedia(t, h, a)

	r := h.must(a.sub, "/export")
	require.Nil(t, r.File)
	sent := wa.sends()
	require.Len(t, sent, 4, "the document and three files")
	id := requestID(t, sent[0].Text)

	doc := sent[0]
	require.NotNil(t, doc.File)
	assert.Equal(t, "application/json", doc.File.MIME)
	assert.Regexp(t, `^switchboard-export-\d{4}-\d\d-\d\d-\d+\.json$`, doc.File.Name)
	assert.Contains(t, doc.Text, "This chat cannot take it as one ZIP file, so this document (format switchboard.export/v1) lists everything, and the 3 files we hold follow, one message each.")
	x := validateExport(t, doc.File.Data)
	listed := x["subjects"].([]any)[0].(map[string]any)["media"].([]any)
	require.Len(t, listed, 3)

	wantCaption := []string{"Photo you sent on ", "Voice note you sent on ", `Document "Alice Aardvark invoice.pdf" you sent on `}
	wantMIME := []string{"image/jpeg", "audio/ogg", "application/pdf"}
	for i, m := range media {
		f := sent[i+1]
		require.NotNil(t, f.File, "file %d", i)
		assert.Equal(t, m.data, f.File.Data, "the file as it was sent to us")
		assert.Equal(t, wantMIME[i], f.File.MIME)
		assert.True(t, strings.HasPrefix(f.Text, wantCaption[i]), f.Text)
		path := listed[i].(map[string]any)["file"].(string)
		assert.Contains(t, f.Text, " UTC ("+path+" in the document)", "the caption names the file's entry")
		assert.Equal(t, path[len("media/"):], f.File.Name)
	}
	assert.Equal(t, fmt.Sprintf("That is all of your export (request #%d): the document listing the data we hold about you and 3 files (1 photo, 1 voice note and 1 document), each in its own message above.", id),
		strings.Split(r.Text, "\n")[0])

	req := exportRequest(t, h, a.sub.ID, id)
	assert.Equal(t, "done", req.Status)
	assert.Equal(t, 4, req.Counts["delivered"])
	assert.Equal(t, 0, req.Counts["not_delivered"])
	assert.Equal(t, 3, req.Counts["media_files"])
	assert.Contains(t, auditOf(t, h, a.sub.ID), fmt.Sprintf(`"detail":"request %d: delivered in 4 parts"`, id))
	assert.Contains(t, h.must(a.sub, "/export").Text, "one export per hour", "a whole export uses up the hour")
	assert.Empty(t, dirFiles(t, h.svc.dir), "no export file is left")
}

// One part fails (the channel is unavailable for the voice note): the
// others go, the reply names the one that did not and how to get it, the
// register says partial, and the hourly export is not used up.
func TestExportPartNotSent(t *testing.T) {
	wa := &waChannel{caps: cloudCaps, fail: func(m bot.Outbound) error {
		if m.File != nil && m.File.MIME == "audio/ogg" {
			return fmt.Errorf("graph unreachable: %w", bot.ErrUnavailable)
		}
		return nil
	}}
	h := newHarness(t, withWhatsApp(wa))
	a := seedPerson(t, h, "+447700900111", "98765432101@lid", "Alice Aardvark", "PLANTED-ALPHA-7f3c")
	seedMedia(t, h, a)

	r := h.must(a.sub, "/export")
	require.Len(t, wa.sends(), 3)
	lines := strings.Split(r.Text, "\n")
	id := requestID(t, lines[0])
	assert.Equal(t, fmt.Sprintf("Your export (request #%d) is not complete. Sent above: the document listing the data we hold about you and 2 of the 3 files (1 photo and 1 document).", id), lines[0])
	assert.Regexp(t, `^Not sent: the voice note you sent on \d+ \w+ 2026 at \d\d:\d\d UTC \(media/\d+\.ogg in the document\): it could not be sent just now\.$`, lines[1])
	assert.Equal(t, "Type /export again to get the whole export again: this one does not count towards your one export per hour.", lines[2])
	assert.Equal(t, "Acme Plumbing Ltd, the controller of your data; privacy contact: privacy@acme.example.", lines[3])
	assert.Len(t, lines, 4, "nothing else: every line is true")

	req := exportRequest(t, h, a.sub.ID, id)
	assert.Equal(t, "partial", req.Status)
	assert.Equal(t, 3, req.Counts["delivered"])
	assert.Equal(t, 1, req.Counts["not_delivered"])

	wa.mu.Lock()
	wa.fail = nil
	wa.mu.Unlock()
	r = h.must(a.sub, "/export")
	assert.Contains(t, r.Text, "That is all of your export", "the hour was not used up")
}

// A file this chat cannot take (a PDF where the channel takes none) is not
// tried: the reply says why and where to ask for it, naming the business's
// privacy contact.
func TestExportPartTheChatCannotTake(t *testing.T) {
	caps := cloudCaps
	caps.FileTypes = []bot.FileType{{MIME: "image/jpeg", Max: 5 << 20}, {MIME: "audio/ogg", Max: 16 << 20}, {MIME: "application/json"}}
	wa := &waChannel{caps: caps}
	h := newHarness(t, withWhatsApp(wa))
	a := seedPerson(t, h, "+447700900111", "98765432101@lid", "Alice Aardvark", "PLANTED-ALPHA-7f3c")
	seedMedia(t, h, a)

	r := h.must(a.sub, "/export")
	assert.Equal(t, 3, wa.attempts(), "the PDF is not tried")
	lines := strings.Split(r.Text, "\n")
	assert.Contains(t, lines[0], "Sent above: the document listing the data we hold about you and 2 of the 3 files (1 photo and 1 voice note).")
	assert.Regexp(t, `^Not sent: the document "Alice Aardvark invoice.pdf" you sent on .* UTC \(media/\d+-Alice_Aardvark_invoice\.pdf in the document\): this chat cannot take files like it \(a PDF document\)\.$`, lines[1])
	assert.Equal(t, "For what this chat cannot take, write to privacy@acme.example.", lines[2])
	assert.Len(t, lines, 4, "the three and the signature")
	assert.NotContains(t, r.Text, "/export again", "trying again would not help")
}

// Nothing can be sent (the channel is down): the person gets one plain
// sentence, the register says failed, the hourly export is not used up,
// and after two failures in a row the rest is not tried.
func TestExportNotSentAtAll(t *testing.T) {
	wa := &waChannel{caps: cloudCaps, fail: func(bot.Outbound) error { return fmt.Errorf("not connected: %w", bot.ErrUnavailable) }}
	h := newHarness(t, withWhatsApp(wa))
	a := seedPerson(t, h, "+447700900111", "98765432101@lid", "Alice Aardvark", "PLANTED-ALPHA-7f3c")
	seedMedia(t, h, a)

	r := h.must(a.sub, "/export")
	id := requestID(t, r.Text)
	assert.Equal(t, fmt.Sprintf("Sorry, your export (request #%d) could not be sent in this chat just now, so it does not count towards your one export per hour: please type /export again later.", id), r.Text)
	assert.Equal(t, 2, wa.attempts(), "two failures in a row stop it")
	req := exportRequest(t, h, a.sub.ID, id)
	assert.Equal(t, "failed", req.Status)
	assert.Equal(t, 0, req.Counts["delivered"])
	assert.Equal(t, 4, req.Counts["not_delivered"])
	assert.Contains(t, auditOf(t, h, a.sub.ID), fmt.Sprintf(`"detail":"request %d: not delivered"`, id))
	assert.Empty(t, dirFiles(t, h.svc.dir))

	// The same when the export goes whole: a JSON document the channel
	// takes, and its send fails.
	b := h.customer("+447700900222", "98765432202@lid", "Bob")
	h.conversation(b, bot.Subject{}, "hello")
	r = h.must(b, "/export")
	assert.Contains(t, r.Text, "could not be sent in this chat just now, so it does not count towards your one export per hour")
	wa.mu.Lock()
	wa.fail = nil
	wa.mu.Unlock()
	require.Nil(t, h.must(b, "/export").File, "the hour was not used up")
	last := wa.sends()[len(wa.sends())-1]
	require.NotNil(t, last.File)
	assert.Equal(t, "application/json", last.File.MIME)
	assert.Contains(t, last.Text, "It is a JSON document (format switchboard.export/v1)")
}

// A message the channel cannot confirm (in doubt) may have arrived: the
// person is told so, the register says partial, and the hour is not used.
func TestExportUnconfirmed(t *testing.T) {
	wa := &waChannel{caps: cloudCaps, fail: func(bot.Outbound) error { return fmt.Errorf("no answer: %w", bot.ErrInDoubt) }}
	h := newHarness(t, withWhatsApp(wa))
	b := h.customer("+447700900222", "98765432202@lid", "Bob")
	h.conversation(b, bot.Subject{}, "hello")
	r := h.must(b, "/export")
	id := requestID(t, r.Text)
	assert.Equal(t, fmt.Sprintf("We could not confirm that your export (request #%d) reached you: if you do not see it above, type /export again (this one does not count towards your one export per hour).", id), r.Text)
	req := exportRequest(t, h, b.ID, id)
	assert.Equal(t, "partial", req.Status)
	assert.Equal(t, 1, req.Counts["unconfirmed"])
	assert.NotContains(t, h.must(b, "/export").Text, "You can ask for one export per hour", "the hour was not used up")
}

// With --public-url, where the ZIP cannot go the person gets a one-time
// link to it instead of parts.
func TestExportLinkWhereTheZipCannotGo(t *testing.T) {
	wa := &waChannel{caps: cloudCaps}
	h := newHarness(t, withWhatsApp(wa), func(o *Options) { o.ExportURL = "https://bot.example/exports/" })
	a := seedPerson(t, h, "+447700900111", "98765432101@lid", "Alice Aardvark", "PLANTED-ALPHA-7f3c")
	media := seedMedia(t, h, a)
	srv := httptest.NewServer(h.svc.ExportHandler())
	defer srv.Close()

	r := h.must(a.sub, "/export")
	assert.Empty(t, r.Text, "the link was the answer")
	sent := wa.sends()
	require.Len(t, sent, 1)
	assert.Nil(t, sent[0].File)
	assert.Contains(t, sent[0].Text, "The link works once and expires in 24 hours. It is a ZIP file: export.json lists everything, and the files are in its media folder.")
	i := strings.Index(sent[0].Text, "https://bot.example/exports/")
	require.GreaterOrEqual(t, i, 0)
	tok := strings.Fields(sent[0].Text[i+len("https://bot.example/exports/"):])[0]
	resp, err := http.Get(srv.URL + "/exports/" + tok)
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	require.Equal(t, http.StatusOK, resp.StatusCode)
	files := unzip(t, body)
	assert.Len(t, files, 1+len(media))
	req := exportRequest(t, h, a.sub.ID, requestID(t, sent[0].Text))
	assert.Equal(t, "done", req.Status)
	assert.Equal(t, 1, req.Counts["delivered"])

	// A link that cannot be sent is dropped with its file.
	b := seedPerson(t, h, "+447700900222", "98765432202@lid", "Bob Bobolink", "PLANTED-BRAVO-91d2")
	seedMedia(t, h, b)
	wa.mu.Lock()
	wa.fail = func(bot.Outbound) error { return fmt.Errorf("down: %w", bot.ErrUnavailable) }
	wa.mu.Unlock()
	r = h.must(b.sub, "/export")
	assert.Contains(t, r.Text, "could not be sent in this chat just now")
	assert.Empty(t, dirFiles(t, h.svc.dir), "the link's file is deleted")
	h.svc.mu.Lock()
	assert.Empty(t, h.svc.links)
	h.svc.mu.Unlock()
}

// A channel that takes any file (the linked device, Teams) gets the ZIP
// whole; one too large for it gets the parts instead.
func TestExportZipWholeWhereItCanGo(t *testing.T) {
	wa := &waChannel{caps: bot.Capabilities{Files: true, MaxFile: 100 << 20}}
	h := newHarness(t, withWhatsApp(wa))
	a := seedPerson(t, h, "+447700900111", "98765432101@lid", "Alice Aardvark", "PLANTED-ALPHA-7f3c")
	media := seedMedia(t, h, a)

	r := h.must(a.sub, "/export")
	assert.Empty(t, r.Text)
	sent := wa.sends()
	require.Len(t, sent, 1)
	require.NotNil(t, sent[0].File)
	assert.Equal(t, "application/zip", sent[0].File.MIME)
	assert.Contains(t, sent[0].Text, "It is a ZIP file")
	assert.Len(t, unzip(t, sent[0].File.Data), 1+len(media))
	id := requestID(t, sent[0].Text)
	req := exportRequest(t, h, a.sub.ID, id)
	assert.Equal(t, "done", req.Status)
	assert.Contains(t, auditOf(t, h, a.sub.ID), fmt.Sprintf(`"detail":"request %d: delivered as a file"`, id))

	// Too large for the channel as one file, each file fits.
	wa.mu.Lock()
	wa.caps.MaxFile = int64(len(media[0].data)) + 1024
	wa.mu.Unlock()
	b := seedPerson(t, h, "+447700900222", "98765432202@lid", "Bob Bobolink", "PLANTED-BRAVO-91d2")
	seedMedia(t, h, b)
	r = h.must(b.sub, "/export")
	assert.Contains(t, r.Text, "That is all of your export")
	assert.Len(t, wa.sends(), 1+4)
}

func dirFiles(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil
	}
	require.NoError(t, err)
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

// Nothing of the export is a file this chat takes, and the business set no
// privacy contact: one sentence says so and where to ask instead.
func TestExportCannotGoAtAll(t *testing.T) {
	wa := &waChannel{caps: bot.Capabilities{Files: true, FileTypes: []bot.FileType{{MIME: "image/png"}}}}
	h := newHarness(t, withWhatsApp(wa), func(o *Options) { o.Policy.Contact = "" })
	a := seedPerson(t, h, "+447700900111", "98765432101@lid", "Alice Aardvark", "PLANTED-ALPHA-7f3c")
	seedMedia(t, h, a)
	r := h.must(a.sub, "/export")
	id := requestID(t, r.Text)
	assert.Equal(t, fmt.Sprintf("Sorry, your export (request #%d) cannot be sent in this chat, so it does not count towards your one export per hour: to get it, reply here and ask us to send it another way.", id), r.Text)
	assert.Zero(t, wa.attempts(), "nothing is tried that the chat cannot take")
	assert.Equal(t, "failed", exportRequest(t, h, a.sub.ID, id).Status)
}

// BenchmarkExportDelivery: /export of a person with a photo, a voice note
// and a PDF (and a short conversation), through a channel in memory: as one
// ZIP where the channel takes it, and in parts (the document and each file
// on its own) where it does not, in the same run.
func BenchmarkExportDelivery(b *testing.B) {
	for _, tc := range []struct {
		name  string
		caps  bot.Capabilities
		sends int
	}{
		{"zip-whole", bot.Capabilities{Files: true, MaxFile: 100 << 20}, 1},
		{"parts", cloudCaps, 4},
	} {
		b.Run(tc.name, func(b *testing.B) {
			wa := &waChannel{caps: tc.caps}
			h := newHarness(b, withWhatsApp(wa), func(o *Options) { o.ExportEvery = time.Nanosecond })
			a := seedPerson(b, h, "+447700900111", "98765432101@lid", "Alice Aardvark", "PLANTED-ALPHA-7f3c")
			seedMedia(b, h, a)
			b.ResetTimer()
			for b.Loop() {
				h.clock.Add(time.Millisecond)
				if _, _, err := h.say(a.sub, "/export"); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			if n := len(wa.sends()); n != tc.sends*b.N {
				b.Fatalf("%d sends for %d exports", n, b.N)
			}
		})
	}
}
