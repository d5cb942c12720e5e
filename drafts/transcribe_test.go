package drafts

import (
	"bytes"
	"context"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboard/switchboard/bot"
	"github.com/switchboard/switchboard/bot/bottest"
)

// whisperCall is one request the fake transcription server received,
// decoded from its multipart form.
type whisperCall struct {
	path, auth, apiKey, contentType string
	fields                          map[string][]string
	fileName, fileType              string
	file, raw                       []byte
}

// fakeWhisper speaks OpenAI's /audio/transcriptions wire format: a
// multipart/form-data POST with a "file" part and text fields, answered
// with {"text": …} for response_format json.
type fakeWhisper struct {
	srv     *httptest.Server
	mu      sync.Mutex
	calls   []whisperCall
	respond func(n int, c whisperCall, w http.ResponseWriter)
}

func newFakeWhisper(t *testing.T, respond func(n int, c whisperCall, w http.ResponseWriter)) *fakeWhisper {
	t.Helper()
	f := &fakeWhisper{respond: respond}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, "read", http.StatusBadRequest)
			return
		}
		c := whisperCall{path: r.URL.Path, auth: r.Header.Get("Authorization"), apiKey: r.Header.Get("api-key"),
			contentType: r.Header.Get("Content-Type"), fields: map[string][]string{}, raw: raw}
		mt, params, err := mime.ParseMediaType(c.contentType)
		if err != nil || mt != "multipart/form-data" {
			http.Error(w, `{"error":{"message":"want multipart"}}`, http.StatusBadRequest)
			return
		}
		mr := multipart.NewReader(bytes.NewReader(raw), params["boundary"])
		for {
			p, err := mr.NextPart()
			if err == io.EOF {
				break
			}
			if err != nil {
				http.Error(w, "bad multipart", http.StatusBadRequest)
				return
			}
			b, _ := io.ReadAll(p)
			if p.FormName() == "file" {
				c.fileName, c.fileType, c.file = p.FileName(), p.Header.Get("Content-Type"), b
				continue
			}
			c.fields[p.FormName()] = append(c.fields[p.FormName()], string(b))
		}
		f.mu.Lock()
		f.calls = append(f.calls, c)
		n := len(f.calls)
		f.mu.Unlock()
		f.respond(n, c, w)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeWhisper) hits() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.calls)
}

func (f *fakeWhisper) call(i int) whisperCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[i]
}

func answerText(text string) func(int, whisperCall, http.ResponseWriter) {
	return func(_ int, _ whisperCall, w http.ResponseWriter) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"text":`+quoteJSON(text)+`}`)
	}
}

func quoteJSON(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"', '\\':
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	b.WriteByte('"')
	return b.String()
}

// voiceNote is an Ogg Opus-looking voice note: the bytes are opaque to the
// transcriber, which only sends them.
var voiceNote = append([]byte("OggS\x00\x02\x00\x00\x00\x00\x00\x00\x00\x00\x07\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\x13OpusHead\x01\x01\x38\x01\x80\xBB\x00\x00\x00\x00\x00"),
	bytes.Repeat([]byte{0x5a, 0xa5}, 3000)...)

// customer is the person whose voice note is transcribed; none of this
// may reach the endpoint.
var (
	customerSubject = bot.SubjectID("s_6b0f387a812c213dad9128aa")
	customerNeedles = []string{"Ada Lovelace", "Lovelace", "+447700900123", "447700900123", string(customerSubject)}
)

func notRestricted(context.Context, bot.SubjectID) (bool, error) { return false, nil }

func newTestTranscriber(t *testing.T, url string, mod func(*TranscriberOptions)) (*Transcriber, *bottest.LogBuffer) {
	t.Helper()
	logs := &bottest.LogBuffer{}
	o := TranscriberOptions{Log: zerolog.New(logs), APIKey: "sk-test", BaseURL: url + "/v1", Restricted: notRestricted,
		Now: func() time.Time { return testNow }, MaxRetryWait: 10 * time.Millisecond}
	if mod != nil {
		mod(&o)
	}
	tr, err := NewTranscriber(o)
	require.NoError(t, err)
	return tr, logs
}

func TestTranscribe(t *testing.T) {
	srv := newFakeWhisper(t, answerText("  Hi, it's Ada Lovelace, the boiler at 12 Acacia Avenue is leaking.  "))
	tr, logs := newTestTranscriber(t, srv.srv.URL, nil)
	text, err := tr.Transcribe(context.Background(), customerSubject, "audio/ogg; codecs=opus", voiceNote)
	require.NoError(t, err)
	assert.Equal(t, "Hi, it's Ada Lovelace, the boiler at 12 Acacia Avenue is leaking.", text)

	require.Equal(t, 1, srv.hits())
	c := srv.call(0)
	assert.Equal(t, "/v1/audio/transcriptions", c.path)
	assert.Equal(t, "Bearer sk-test", c.auth)
	assert.True(t, strings.HasPrefix(c.contentType, "multipart/form-data; boundary="), "multipart, not JSON")
	assert.Equal(t, map[string][]string{"model": {"whisper-1"}, "response_format": {"json"}}, c.fields,
		"the model and the response format, and nothing else: no prompt, no user, no language")
	assert.Equal(t, "voice.ogg", c.fileName, "a generic file name")
	assert.Equal(t, voiceNote, c.file, "the audio as it is")
	for _, n := range customerNeedles {
		assert.NotContains(t, string(c.raw), n, "the request names nobody")
	}
	for _, n := range append(customerNeedles[:2], "boiler", "Acacia") {
		assert.NotContains(t, logs.String(), n, "logs hold no transcript and no name")
	}
	assert.Contains(t, logs.String(), string(customerSubject), "logs name the pseudonymous subject")
	assert.Contains(t, logs.String(), "voice note transcribed")
}

func TestTranscribeOptions(t *testing.T) {
	srv := newFakeWhisper(t, answerText("hola"))
	tr, _ := newTestTranscriber(t, srv.srv.URL, func(o *TranscriberOptions) {
		o.Model, o.Language, o.APIKey = "Systran/faster-whisper-small", "es", ""
	})
	for _, tc := range []struct{ mime, file string }{{"audio/mpeg", "voice.mp3"}, {"audio/mp4", "voice.m4a"}, {"audio/wave", "voice.wav"}, {"application/ogg", "voice.ogg"}} {
		_, err := tr.Transcribe(context.Background(), customerSubject, tc.mime, voiceNote)
		require.NoError(t, err)
		c := srv.call(srv.hits() - 1)
		assert.Equal(t, tc.file, c.fileName)
		assert.Equal(t, map[string][]string{"model": {"Systran/faster-whisper-small"}, "language": {"es"}, "response_format": {"json"}}, c.fields)
		assert.Empty(t, c.auth, "no key for a local server")
	}
	_, err := tr.Transcribe(context.Background(), customerSubject, "audio/amr", voiceNote)
	assert.ErrorIs(t, err, ErrAudioType)
	assert.Equal(t, 4, srv.hits(), "an unsupported type is not sent")
}

// A subject who said /stop is never transcribed: no request at all.
func TestTranscribeObjectionGate(t *testing.T) {
	srv := newFakeWhisper(t, answerText("should not happen"))
	var asked []bot.SubjectID
	tr, _ := newTestTranscriber(t, srv.srv.URL, func(o *TranscriberOptions) {
		o.Restricted = func(_ context.Context, s bot.SubjectID) (bool, error) { asked = append(asked, s); return true, nil }
	})
	_, err := tr.Transcribe(context.Background(), customerSubject, "audio/ogg", voiceNote)
	assert.ErrorIs(t, err, ErrRestricted)
	assert.Zero(t, srv.hits())
	assert.Equal(t, []bot.SubjectID{customerSubject}, asked)

	tr, _ = newTestTranscriber(t, srv.srv.URL, func(o *TranscriberOptions) {
		o.Restricted = func(context.Context, bot.SubjectID) (bool, error) { return false, errors.New("store closed") }
	})
	_, err = tr.Transcribe(context.Background(), customerSubject, "audio/ogg", voiceNote)
	assert.ErrorContains(t, err, "check objection")
	assert.Zero(t, srv.hits(), "an unknown objection state sends nothing")

	_, err = NewTranscriber(TranscriberOptions{BaseURL: srv.srv.URL + "/v1"})
	assert.ErrorContains(t, err, "objection gate", "a transcriber without the gate is refused")
}

// Errors are mapped like the drafter's: retried on 5xx, and neither the
// error nor the logs hold what the endpoint said.
func TestTranscribeErrors(t *testing.T) {
	echo := `{"error":{"message":"cannot transcribe Ada Lovelace's note: boiler","type":"server_error"}}`
	srv := newFakeWhisper(t, func(n int, _ whisperCall, w http.ResponseWriter) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = io.WriteString(w, echo)
	})
	tr, logs := newTestTranscriber(t, srv.srv.URL, nil)
	_, err := tr.Transcribe(context.Background(), customerSubject, "audio/ogg", voiceNote)
	require.Error(t, err)
	assert.ErrorIs(t, err, ErrModel)
	assert.Equal(t, 3, srv.hits(), "5xx is retried")
	assert.Contains(t, err.Error(), "http status 500 after 3 attempts")
	for _, n := range []string{"Ada", "boiler", "cannot transcribe"} {
		assert.NotContains(t, err.Error(), n)
		assert.NotContains(t, logs.String(), n)
	}

	bad := newFakeWhisper(t, func(int, whisperCall, http.ResponseWriter) {})
	bad.respond = func(_ int, _ whisperCall, w http.ResponseWriter) {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = io.WriteString(w, `{"error":{"message":"Invalid file format. Ada"}}`)
	}
	tr, _ = newTestTranscriber(t, bad.srv.URL, nil)
	_, err = tr.Transcribe(context.Background(), customerSubject, "audio/ogg", voiceNote)
	assert.ErrorIs(t, err, ErrModel)
	assert.Equal(t, 1, bad.hits(), "4xx is not retried")
	assert.NotContains(t, err.Error(), "Ada")

	garbled := newFakeWhisper(t, func(_ int, _ whisperCall, w http.ResponseWriter) { _, _ = io.WriteString(w, "<html>proxy</html>") })
	tr, _ = newTestTranscriber(t, garbled.srv.URL, nil)
	_, err = tr.Transcribe(context.Background(), customerSubject, "audio/ogg", voiceNote)
	assert.ErrorIs(t, err, ErrMalformedOutput)
}

func TestTranscribeLimits(t *testing.T) {
	srv := newFakeWhisper(t, answerText("x"))
	tr, _ := newTestTranscriber(t, srv.srv.URL, func(o *TranscriberOptions) { o.MaxBytes = 1000 })
	_, err := tr.Transcribe(context.Background(), customerSubject, "audio/ogg", make([]byte, 1001))
	assert.ErrorIs(t, err, bot.ErrTooLarge)
	_, err = tr.Transcribe(context.Background(), customerSubject, "audio/ogg", nil)
	assert.Error(t, err)
	assert.Zero(t, srv.hits())
	_, err = tr.Transcribe(context.Background(), customerSubject, "audio/ogg", make([]byte, 1000))
	require.NoError(t, err, "at the cap is fine")

	// The default cap (25 MB) is above the retry layer's 8 MiB default body
	// bound: a 9 MB voice note goes through whole.
	big := bytes.Repeat([]byte{1}, 9<<20)
	tr, _ = newTestTranscriber(t, srv.srv.URL, nil)
	_, err = tr.Transcribe(context.Background(), customerSubject, "audio/ogg", big)
	require.NoError(t, err)
	assert.Len(t, srv.call(srv.hits()-1).file, len(big))
}

func TestTranscribeAzure(t *testing.T) {
	srv := newFakeWhisper(t, answerText("azure text"))
	tr, _ := newTestTranscriber(t, srv.srv.URL, func(o *TranscriberOptions) {
		o.BaseURL, o.Azure = "", &AzureOptions{Endpoint: srv.srv.URL, Deployment: "whisper-dep"}
	})
	text, err := tr.Transcribe(context.Background(), customerSubject, "audio/ogg", voiceNote)
	require.NoError(t, err)
	assert.Equal(t, "azure text", text)
	c := srv.call(0)
	assert.Equal(t, "/openai/deployments/whisper-dep/audio/transcriptions", c.path)
	assert.Equal(t, "sk-test", c.apiKey)
	assert.Equal(t, []string{"whisper-dep"}, c.fields["model"])
}

func TestNewTranscriberValidates(t *testing.T) {
	for name, o := range map[string]TranscriberOptions{
		"NoKeyForOpenAI": {Restricted: notRestricted},
		"BadURL":         {BaseURL: "ftp://x", Restricted: notRestricted},
		"BadLanguage":    {BaseURL: "http://localhost/v1", Language: "English", Restricted: notRestricted},
		"Attempts":       {BaseURL: "http://localhost/v1", Attempts: 11, Restricted: notRestricted},
		"AzureNoDep":     {APIKey: "k", Azure: &AzureOptions{Endpoint: "https://x.openai.azure.com"}, Restricted: notRestricted},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := NewTranscriber(o)
			assert.Error(t, err)
		})
	}
	o := TranscriberOptionsFrom(Options{APIKey: "sk-secret", BaseURL: "http://localhost:11434/v1", Restricted: notRestricted}, "whisper-1")
	assert.NotContains(t, o.String(), "sk-secret")
	tr, err := NewTranscriber(o)
	require.NoError(t, err)
	assert.Equal(t, "whisper-1", tr.model)
}
