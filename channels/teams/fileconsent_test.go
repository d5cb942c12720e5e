package teams

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboard/switchboard/bot"
)

// oneDrive is an httptest OneDrive upload session, as Microsoft documents
// it: PUT fragments in order with Content-Range "bytes a-b/N" and a
// matching Content-Length, never an Authorization header, every fragment
// but the last a multiple of 320 KiB and under 60 MiB; 202 Accepted with
// nextExpectedRanges until the last byte, then 201 Created with the
// driveItem. DELETE cancels the session.
type oneDrive struct {
	srv *httptest.Server

	mu        sync.Mutex
	got       []byte
	total     int
	puts      int
	done      bool
	cancelled bool
	fail      int           // answer the next fail PUTs with 503
	hold      chan struct{} // if set, a PUT waits for it to close (or the client to go)
	errs      []string
}

var contentRange = regexp.MustCompile(`^bytes (\d+)-(\d+)/(\d+)$`)

func newOneDrive(t *testing.T) *oneDrive {
	t.Helper()
	od := &oneDrive{}
	od.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		od.mu.Lock()
		defer od.mu.Unlock()
		if r.URL.Path != "/up/session-1" {
			http.NotFound(w, r)
			return
		}
		bad := func(format string, args ...any) {
			od.errs = append(od.errs, fmt.Sprintf(format, args...))
			http.Error(w, `{"error":{"code":"invalidRequest"}}`, http.StatusBadRequest)
		}
		switch r.Method {
		case http.MethodDelete:
			od.cancelled = true
			w.WriteHeader(http.StatusNoContent)
			return
		case http.MethodPut:
		default:
			bad("method %s", r.Method)
			return
		}
		if r.Header.Get("Authorization") != "" {
			od.errs = append(od.errs, "Authorization header on the upload PUT")
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		body, _ := io.ReadAll(r.Body)
		od.puts++
		if hold := od.hold; hold != nil {
			od.mu.Unlock()
			select {
			case <-hold:
			case <-r.Context().Done():
			}
			od.mu.Lock()
		}
		if od.fail > 0 {
			od.fail--
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		m := contentRange.FindStringSubmatch(r.Header.Get("Content-Range"))
		if m == nil {
			bad("Content-Range %q", r.Header.Get("Content-Range"))
			return
		}
		from, _ := strconv.Atoi(m[1])
		to, _ := strconv.Atoi(m[2])
		total, _ := strconv.Atoi(m[3])
		switch {
		case od.done:
			bad("PUT after the upload completed")
		case od.total != 0 && total != od.total:
			bad("total changed from %d to %d", od.total, total)
		case from != len(od.got):
			bad("fragment starts at %d, expected %d", from, len(od.got))
		case to-from+1 != len(body) || r.ContentLength != int64(len(body)):
			bad("Content-Length %d and range %d-%d do not match a %d-byte body", r.ContentLength, from, to, len(body))
		case len(body) >= 60<<20:
			bad("fragment of %d bytes is not under 60 MiB", len(body))
		case to+1 < total && len(body)%(320<<10) != 0:
			bad("fragment of %d bytes is not a multiple of 320 KiB", len(body))
		}
		if len(od.errs) > 0 {
			return
		}
		od.total = total
		od.got = append(od.got, body...)
		w.Header().Set("Content-Type", "application/json")
		if len(od.got) < total {
			w.WriteHeader(http.StatusAccepted)
			fmt.Fprintf(w, `{"expirationDateTime":"2026-11-28T11:00:00Z","nextExpectedRanges":["%d-"]}`, len(od.got))
			return
		}
		od.done = true
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, `{"id":"1150D938","name":"switchboard-export.json","size":%d,"file":{}}`, total)
	}))
	t.Cleanup(od.srv.Close)
	return od
}

func (od *oneDrive) state() (got []byte, puts int, done, cancelled bool, errs []string) {
	od.mu.Lock()
	defer od.mu.Unlock()
	return bytes.Clone(od.got), od.puts, od.done, od.cancelled, append([]string(nil), od.errs...)
}

// fileEnv is a running channel in which a staff member wrote in their
// personal chat with the bot, so a file can be offered there.
type fileEnv struct {
	*env
	drive *oneDrive
	in    bot.Inbound
}

func newFileEnv(t *testing.T, mod func(*Options)) *fileEnv {
	t.Helper()
	e := &fileEnv{env: newEnv(t, func(o *Options) {
		o.UploadBackoff = func(int) time.Duration { return 0 }
		if mod != nil {
			mod(o)
		}
	}), drive: newOneDrive(t)}
	rec := e.post(e.activity(t, "message_personal.json", func(m map[string]any) { m["text"] = "/export" }), e.token(t))
	require.Equal(t, http.StatusOK, rec.Code)
	got, _ := e.sink.got()
	require.Len(t, got, 1)
	e.in = got[0]
	return e
}

// exportFile is a file bigger than one upload fragment, with a marker.
func exportFile(t *testing.T) *bot.File {
	t.Helper()
	data := make([]byte, uploadFragment+123_457)
	_, err := rand.Read(data)
	require.NoError(t, err)
	copy(data, `{"schema":"switchboard.export/v1","marker":"PLANTED-EXPORT-5c1e"}`)
	return &bot.File{Name: "switchboard-export-2026-11-28-7.json", MIME: "application/json", Data: data}
}

// offer sends f in the personal chat and returns the consent card's
// activity id and the token its accept context carries.
func (e *fileEnv) offer(t *testing.T, f *bot.File) (string, string) {
	t.Helper()
	id, err := e.ch.Send(context.Background(), bot.Outbound{Chat: e.in.Chat, ReplyTo: e.in.ID, Text: "Here is a copy of the data we hold about you (request #7).", File: f})
	require.NoError(t, err)
	var card map[string]any
	for _, r := range e.conn.requests() {
		atts, _ := r.Body["attachments"].([]any)
		if r.Method == http.MethodPost && len(atts) == 1 {
			card = atts[0].(map[string]any)
			assert.Equal(t, "Here is a copy of the data we hold about you (request #7).", r.Body["text"])
		}
	}
	require.NotNil(t, card, "a consent card was posted")
	assert.Equal(t, contentTypeFileConsent, card["contentType"])
	assert.Equal(t, f.Name, card["name"])
	content := card["content"].(map[string]any)
	assert.EqualValues(t, len(f.Data), content["sizeInBytes"])
	assert.Contains(t, content["description"], "Allow")
	accept := content["acceptContext"].(map[string]any)
	assert.Equal(t, content["declineContext"], content["acceptContext"])
	assert.Equal(t, "file", accept["switchboard"])
	tok, _ := accept["token"].(string)
	require.Len(t, tok, 64)
	return string(id), tok
}

// consent posts the user's answer to the consent card.
func (e *fileEnv) consent(t *testing.T, card, tok, action string, edit func(map[string]any)) int {
	t.Helper()
	body := e.activity(t, "invoke_file_consent.json", func(m map[string]any) {
		m["replyToId"] = card
		v := m["value"].(map[string]any)
		v["action"] = action
		v["context"].(map[string]any)["token"] = tok
		v["uploadInfo"].(map[string]any)["uploadUrl"] = e.drive.srv.URL + "/up/session-1"
		if action == "decline" {
			delete(v, "uploadInfo")
		}
		if edit != nil {
			edit(m)
		}
	})
	return e.post(body, e.token(t)).Code
}

// posted returns the texts and attachment content types the bot posted.
func (e *fileEnv) posted() (texts []string, types []string, deletes []string) {
	for _, r := range e.conn.requests() {
		switch r.Method {
		case http.MethodPost:
			if s, ok := r.Body["text"].(string); ok {
				texts = append(texts, s)
			}
			atts, _ := r.Body["attachments"].([]any)
			for _, a := range atts {
				types = append(types, a.(map[string]any)["contentType"].(string))
			}
		case http.MethodDelete:
			deletes = append(deletes, r.Path)
		}
	}
	return texts, types, deletes
}

func (e *fileEnv) pendingBytes() int {
	e.ch.files.mu.Lock()
	defer e.ch.files.mu.Unlock()
	return e.ch.files.bytes
}

func allZero(b []byte) bool { return !bytes.ContainsFunc(b, func(r rune) bool { return r != 0 }) }

// Allow: the bytes go to the user's OneDrive upload session in 320 KiB
// multiples, a FileInfoCard follows, the consent card is removed and the
// bytes held in memory are zeroed; a redelivered invoke uploads nothing more.
func TestFileConsentAcceptUploads(t *testing.T) {
	e := newFileEnv(t, nil)
	f := exportFile(t)
	want := bytes.Clone(f.Data)
	card, tok := e.offer(t, f)
	assert.Equal(t, len(want), e.pendingBytes())

	require.Equal(t, http.StatusOK, e.consent(t, card, tok, "accept", nil))
	require.Eventually(t, func() bool { _, types, _ := e.posted(); return len(types) == 2 }, 5*time.Second, 5*time.Millisecond)
	got, puts, done, cancelled, errs := e.drive.state()
	assert.Empty(t, errs)
	assert.True(t, done)
	assert.False(t, cancelled)
	assert.Equal(t, 2, puts, "two fragments")
	assert.True(t, bytes.Equal(want, got), "OneDrive got the file")

	var info map[string]any
	for _, r := range e.conn.requests() {
		if atts, _ := r.Body["attachments"].([]any); r.Method == http.MethodPost && len(atts) == 1 &&
			atts[0].(map[string]any)["contentType"] == contentTypeFileInfo {
			info = atts[0].(map[string]any)
			assert.Equal(t, msgFileSaved, r.Body["text"])
			assert.Equal(t, "f:7c1d2e3f-4a5b-4c6d-8e9f-0a1b2c3d4e5f", r.Body["replyToId"])
		}
	}
	require.NotNil(t, info)
	assert.Equal(t, "https://contoso-my.sharepoint.com/personal/alex_contoso_com/Documents/Applications/Switchboard/switchboard-export.json", info["contentUrl"])
	assert.Equal(t, "switchboard-export.json", info["name"])
	assert.Equal(t, map[string]any{"uniqueId": "1150D938-8870-4044-9F2C-5BBDEBA70C8C", "fileType": "json"}, info["content"])
	require.Eventually(t, func() bool { _, _, dels := e.posted(); return len(dels) == 1 }, 5*time.Second, 5*time.Millisecond)
	_, _, dels := e.posted()
	assert.True(t, strings.HasSuffix(dels[0], "/activities/"+card), "the consent card is removed")

	assert.True(t, allZero(f.Data), "the bytes held for the upload are zeroed")
	assert.Zero(t, e.pendingBytes())

	require.Equal(t, http.StatusOK, e.consent(t, card, tok, "accept", nil), "a redelivered invoke")
	_, puts, _, _, _ = e.drive.state()
	assert.Equal(t, 2, puts, "nothing is uploaded twice")
	texts, _, _ := e.posted()
	assert.NotContains(t, texts, msgFileEnded)
	assert.NotContains(t, e.log.String(), "PLANTED-EXPORT")
	assert.NotContains(t, e.log.String(), "sharepoint")
}

// Decline: nothing is uploaded, the user is told, the bytes are zeroed.
func TestFileConsentDecline(t *testing.T) {
	e := newFileEnv(t, nil)
	f := exportFile(t)
	card, tok := e.offer(t, f)
	require.Equal(t, http.StatusOK, e.consent(t, card, tok, "decline", nil))
	texts, _, dels := e.posted()
	assert.Contains(t, texts, msgFileDeclined)
	assert.Len(t, dels, 1)
	assert.True(t, allZero(f.Data))
	assert.Zero(t, e.pendingBytes())
	// Allow on the same card afterwards uploads nothing.
	require.Equal(t, http.StatusOK, e.consent(t, card, tok, "accept", nil))
	_, puts, _, _, _ := e.drive.state()
	assert.Zero(t, puts)
}

// An offer nobody answers ends after FileTTL: the bytes are zeroed, the
// card is removed, and a late Allow is told the offer ended.
func TestFileConsentExpires(t *testing.T) {
	e := newFileEnv(t, func(o *Options) { o.FileTTL = 50 * time.Millisecond })
	f := exportFile(t)
	card, tok := e.offer(t, f)
	require.Eventually(t, func() bool { return allZero(f.Data) && e.pendingBytes() == 0 }, 5*time.Second, 5*time.Millisecond)
	require.Eventually(t, func() bool { _, _, dels := e.posted(); return len(dels) == 1 }, 5*time.Second, 5*time.Millisecond)
	require.Equal(t, http.StatusOK, e.consent(t, card, tok, "accept", nil))
	texts, _, _ := e.posted()
	assert.Contains(t, texts, msgFileEnded)
	_, puts, _, _, _ := e.drive.state()
	assert.Zero(t, puts)
}

// The token alone is not enough: an invoke from another user or chat is
// refused and the offer stays for its user; a malformed one is refused.
func TestFileConsentBoundToUserAndChat(t *testing.T) {
	e := newFileEnv(t, nil)
	f := exportFile(t)
	card, tok := e.offer(t, f)
	assert.Equal(t, http.StatusForbidden, e.consent(t, card, tok, "accept", func(m map[string]any) {
		m["from"].(map[string]any)["aadObjectId"] = adminAAD
	}))
	assert.Equal(t, http.StatusForbidden, e.consent(t, card, tok, "accept", func(m map[string]any) {
		m["conversation"].(map[string]any)["id"] = "a:someoneElsesChat"
	}))
	assert.Equal(t, http.StatusBadRequest, e.consent(t, card, tok, "accept", func(m map[string]any) {
		m["value"] = "not an object"
	}))
	assert.Equal(t, http.StatusBadRequest, e.consent(t, card, tok, "maybe", nil))
	_, puts, _, _, _ := e.drive.state()
	assert.Zero(t, puts)
	assert.Equal(t, len(f.Data), e.pendingBytes(), "the offer still waits for its user")

	// A plain-http upload URL to a non-loopback host is refused.
	assert.Equal(t, http.StatusBadRequest, e.consent(t, card, tok, "accept", func(m map[string]any) {
		m["value"].(map[string]any)["uploadInfo"].(map[string]any)["uploadUrl"] = "http://upload.example.com/up/1"
	}))
	assert.True(t, allZero(f.Data))
	texts, _, _ := e.posted()
	assert.Contains(t, texts, msgFileFailed)
}

// A failing upload is retried, then cancelled (no partial file is left in
// OneDrive), the user is told, and the bytes are zeroed.
func TestFileConsentUploadFails(t *testing.T) {
	e := newFileEnv(t, nil)
	f := exportFile(t)
	card, tok := e.offer(t, f)
	e.drive.mu.Lock()
	e.drive.fail = 1000
	e.drive.mu.Unlock()
	require.Equal(t, http.StatusOK, e.consent(t, card, tok, "accept", nil))
	require.Eventually(t, func() bool { texts, _, _ := e.posted(); return slices.Contains(texts, msgFileFailed) }, 5*time.Second, 5*time.Millisecond)
	_, puts, done, cancelled, _ := e.drive.state()
	assert.Equal(t, uploadAttempts, puts)
	assert.False(t, done)
	assert.True(t, cancelled, "the upload session is deleted")
	assert.True(t, allZero(f.Data))

	// One transient failure is retried and the upload completes.
	e2 := newFileEnv(t, nil)
	f2 := exportFile(t)
	want := bytes.Clone(f2.Data)
	card, tok = e2.offer(t, f2)
	e2.drive.mu.Lock()
	e2.drive.fail = 1
	e2.drive.mu.Unlock()
	require.Equal(t, http.StatusOK, e2.consent(t, card, tok, "accept", nil))
	require.Eventually(t, func() bool { _, _, done, _, _ := e2.drive.state(); return done }, 5*time.Second, 5*time.Millisecond)
	got, _, _, _, errs := e2.drive.state()
	assert.Empty(t, errs)
	assert.True(t, bytes.Equal(want, got))
}

// Files go only to a personal chat the bot has seen: a group chat or an
// unknown chat is refused before anything is posted or held.
func TestSendFileOnlyInPersonalChat(t *testing.T) {
	e := newEnv(t, nil)
	rec := e.post(e.activity(t, "message_channel_mention.json", nil), e.token(t))
	require.Equal(t, http.StatusOK, rec.Code)
	got, _ := e.sink.got()
	require.Len(t, got, 1)
	for _, chat := range []bot.ChatID{got[0].Chat, bot.ChatID(e.conn.srv.URL + "#a:neverSeen")} {
		_, err := e.ch.Send(context.Background(), bot.Outbound{Chat: chat, Text: "x", File: &bot.File{Name: "a.json", Data: []byte("{}")}})
		assert.ErrorIs(t, err, bot.ErrUnsupported)
	}
	assert.Empty(t, e.conn.requests())
	assert.Zero(t, e.ch.files.bytes)
	assert.True(t, e.ch.Capabilities().Files)
	assert.True(t, e.ch.Capabilities().TakesFile("application/zip", 100<<20), "any type, a ZIP export included")
	assert.False(t, e.ch.Capabilities().TakesFile("application/zip", maxPendingBytes+1))
}

// Erasing a person drops the files offered to them.
func TestForgetDropsOfferedFiles(t *testing.T) {
	e := newFileEnv(t, func(o *Options) {
		o.Cards = cardsFunc(func(context.Context, bot.SubjectID) ([]bot.CardRef, error) { return nil, nil })
	})
	f := exportFile(t)
	e.offer(t, f)
	require.NoError(t, e.ch.Forget(context.Background(), "s_1", []bot.Identity{{Kind: bot.IDTeams, Value: staffAAD}}))
	assert.True(t, allZero(f.Data))
	assert.Zero(t, e.pendingBytes())
	_, err := e.ch.Send(context.Background(), bot.Outbound{Chat: e.in.Chat, Text: "x", File: &bot.File{Name: "a.json", Data: []byte("{}")}})
	assert.ErrorIs(t, err, bot.ErrUnsupported, "their personal chat is forgotten too")
}

type cardsFunc func(context.Context, bot.SubjectID) ([]bot.CardRef, error)

func (f cardsFunc) CardsOf(ctx context.Context, s bot.SubjectID) ([]bot.CardRef, error) {
	return f(ctx, s)
}

// Erasing the person while their file uploads stops the upload and zeroes
// the bytes; no file card follows.
func TestForgetStopsUpload(t *testing.T) {
	e := newFileEnv(t, func(o *Options) {
		o.Cards = cardsFunc(func(context.Context, bot.SubjectID) ([]bot.CardRef, error) { return nil, nil })
	})
	hold := make(chan struct{})
	e.drive.mu.Lock()
	e.drive.hold = hold
	e.drive.mu.Unlock()
	defer close(hold)
	f := exportFile(t)
	card, tok := e.offer(t, f)
	require.Equal(t, http.StatusOK, e.consent(t, card, tok, "accept", nil))
	require.Eventually(t, func() bool { _, puts, _, _, _ := e.drive.state(); return puts == 1 }, 5*time.Second, 5*time.Millisecond)
	require.NoError(t, e.ch.Forget(context.Background(), "s_1", []bot.Identity{{Kind: bot.IDTeams, Value: staffAAD}}))
	require.Eventually(t, func() bool { return allZero(f.Data) }, 5*time.Second, 5*time.Millisecond)
	e.ch.files.bg.Wait()
	_, types, _ := e.posted()
	assert.NotContains(t, types, contentTypeFileInfo)
	texts, _, _ := e.posted()
	assert.NotContains(t, texts, msgFileFailed, "nobody to tell")
	_, _, done, cancelled, _ := e.drive.state()
	assert.False(t, done)
	assert.True(t, cancelled, "the upload session is deleted")
}
