package whatsappcloud

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboard/switchboard/bot"
	"github.com/switchboard/switchboard/channels/whatsappcloud/cloudtest"
	"github.com/switchboard/switchboard/media/mediatest"
)

// wrote makes testChat's customer have written at the clock's time, as the
// inbound webhook would.
func (e *env) wrote(t *testing.T) {
	t.Helper()
	body := cloudtest.TextMessage(testPNID, testWaID, "Ann", "wamid.in-"+e.clock.Now().Format("150405"), "hello", e.clock.Now().Unix())
	require.Equal(t, http.StatusOK, e.postSigned(body).Code)
}

func TestSendText(t *testing.T) {
	e := newEnv(t, nil).run(t)
	e.wrote(t)
	id, err := e.ch.Send(context.Background(), bot.Outbound{Chat: testChat, Text: "Yes, it ships tomorrow.", Key: "outbox-7-a1"})
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(string(id), "wamid."))
	msgs := e.graph.Messages()
	require.Len(t, msgs, 1)
	m := msgs[0]
	assert.Equal(t, "/"+testPNID+"/messages", m.Path)
	assert.Equal(t, testWaID, m.To)
	assert.Empty(t, m.Recipient)
	assert.Equal(t, "text", m.Type)
	assert.Equal(t, "Yes, it ships tomorrow.", m.Text)
	assert.Equal(t, "outbox-7-a1", m.Key, "Outbound.Key goes as biz_opaque_callback_data")
	assert.Equal(t, "individual", m.JSON["recipient_type"])
	assert.Equal(t, false, m.JSON["text"].(map[string]any)["preview_url"])
	assert.Equal(t, StateConnected, e.ch.State().State)
}

func TestSendToUsernameUser(t *testing.T) {
	e := newEnv(t, nil).run(t)
	require.Equal(t, http.StatusOK, e.postSigned(readPayload(t, "text_bsuid_only")).Code)
	in, _ := e.sink.got()
	require.Len(t, in, 1)
	_, err := e.ch.Send(context.Background(), bot.Outbound{Chat: in[0].Chat, Text: "Hello Bob"})
	require.NoError(t, err)
	m := e.graph.Messages()[0]
	assert.Empty(t, m.To)
	assert.Equal(t, "US.13491208655302741999", m.Recipient, "sent to the business-scoped user id")
}

func TestSendDocument(t *testing.T) {
	dir := t.TempDir()
	e := newEnv(t, func(o *Options) { o.StateDir = dir }).run(t)
	e.wrote(t)
	export := []byte(`{"schema":"switchboard.export/v1","name":"Zebedee"}`)
	id, err := e.ch.Send(context.Background(), bot.Outbound{Chat: testChat, Text: "Here is a copy of your data.",
		File: &bot.File{Name: "switchboard-export.json", MIME: "application/json", Data: export}})
	require.NoError(t, err)
	assert.NotEmpty(t, id)

	ups := e.graph.Uploads()
	require.Len(t, ups, 1)
	up := ups[0]
	assert.Equal(t, "/"+testPNID+"/media", up.Path)
	assert.Equal(t, "whatsapp", up.Form["messaging_product"])
	assert.Equal(t, "text/plain", up.Form["type"], "JSON goes as plain text, which the Cloud API takes")
	assert.Equal(t, "switchboard-export.json", up.FileName)
	assert.Equal(t, export, up.File)

	msgs := e.graph.Messages()
	require.Len(t, msgs, 1)
	m := msgs[0]
	assert.Equal(t, "document", m.Type)
	require.NotEmpty(t, m.MediaID)
	assert.True(t, e.graph.HasMedia(m.MediaID))
	assert.Equal(t, "switchboard-export.json", m.Filename)
	assert.Equal(t, "Here is a copy of your data.", m.Text, "the text is the caption")

	// The media id is listed for erasure, without the number.
	b, err := os.ReadFile(filepath.Join(dir, MediaFile))
	require.NoError(t, err)
	assert.Contains(t, string(b), m.MediaID)
	assert.NotContains(t, string(b), "7700900123")
	info, err := os.Stat(filepath.Join(dir, MediaFile))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), info.Mode().Perm())

	t.Run("UnsupportedType", func(t *testing.T) {
		_, err := e.ch.Send(context.Background(), bot.Outbound{Chat: testChat, File: &bot.File{Name: "x.exe", MIME: "application/x-msdownload", Data: []byte("MZ")}})
		assert.ErrorIs(t, err, bot.ErrUnsupported)
	})
	t.Run("LongTextGoesFirst", func(t *testing.T) {
		long := strings.Repeat("a", maxCaption+1)
		_, err := e.ch.Send(context.Background(), bot.Outbound{Chat: testChat, Text: long, File: &bot.File{Name: "a.txt", MIME: "text/plain", Data: []byte("x")}})
		require.NoError(t, err)
		msgs := e.graph.Messages()
		require.GreaterOrEqual(t, len(msgs), 3)
		assert.Equal(t, "text", msgs[len(msgs)-2].Type)
		assert.Equal(t, long, msgs[len(msgs)-2].Text)
		assert.Equal(t, "document", msgs[len(msgs)-1].Type)
		assert.Empty(t, msgs[len(msgs)-1].Text)
	})
}

func TestSendTemplate(t *testing.T) {
	tpl := bot.Template{Name: "reopen_conversation", Language: "en_GB"}
	e := newEnv(t, func(o *Options) { o.Template = tpl }).run(t)
	assert.Equal(t, tpl, e.ch.Capabilities().Template)
	// No inbound ever: a template needs no open window.
	id, err := e.ch.Send(context.Background(), bot.Outbound{Chat: testChat, Template: &tpl, Key: "ob_template9"})
	require.NoError(t, err)
	assert.NotEmpty(t, id)
	m := e.graph.Messages()[0]
	assert.Equal(t, "template", m.Type)
	assert.Equal(t, "reopen_conversation", m.Template)
	assert.Equal(t, "en_GB", m.Language)
	assert.Equal(t, "ob_template9", m.Key)
	assert.NotContains(t, m.JSON["template"], "components", "no parameters")

	t.Run("FirstName", func(t *testing.T) {
		named := bot.Template{Name: "reopen_named", Language: "en_GB", FirstName: true}
		e := newEnv(t, func(o *Options) { o.Template = named }).run(t)
		_, err := e.ch.Send(context.Background(), bot.Outbound{Chat: testChat, Template: &named, TemplateParams: []string{"Zoë\n\t  Ann"}, Key: "ob_t10"})
		require.NoError(t, err)
		m := e.graph.Messages()[0]
		assert.Equal(t, "reopen_named", m.Template)
		b, err := json.Marshal(m.JSON["template"].(map[string]any)["components"])
		require.NoError(t, err)
		assert.JSONEq(t, `[{"type":"body","parameters":[{"type":"text","text":"Zoë Ann"}]}]`, string(b),
			"the body's {{1}}, without the new lines and tabs Meta refuses")
		_, err = e.ch.Send(context.Background(), bot.Outbound{Chat: testChat, Template: &named, TemplateParams: []string{" \n "}})
		assert.ErrorIs(t, err, bot.ErrUnsupported, "an empty parameter is refused before Meta is asked")
		assert.Len(t, e.graph.Messages(), 1)
	})

	none := newEnv(t, nil).run(t)
	assert.True(t, none.ch.Capabilities().Template.IsZero())
	_, err = none.ch.Send(context.Background(), bot.Outbound{Chat: testChat, Template: &tpl})
	assert.ErrorIs(t, err, bot.ErrUnsupported, "no template configured")
	assert.Empty(t, none.graph.Messages())
}

func TestSendRefusals(t *testing.T) {
	e := newEnv(t, nil).run(t)
	e.wrote(t)
	for name, msg := range map[string]bot.Outbound{
		"Empty":       {Chat: testChat},
		"TooLong":     {Chat: testChat, Text: strings.Repeat("x", MaxText+1)},
		"LIDChat":     {Chat: "123456789012345@lid", Text: "hi"},
		"TeamsChat":   {Chat: "19:abc@thread.tacv2", Text: "hi"},
		"GroupChat":   {Chat: "120363000000000000@g.us", Text: "hi"},
		"InvalidUTF8": {Chat: testChat, Text: "\xff\xfe"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := e.ch.Send(context.Background(), msg)
			assert.ErrorIs(t, err, bot.ErrUnsupported)
		})
	}
	assert.Empty(t, e.graph.Messages(), "nothing reached Meta")
}

// TestSendErrors maps Graph answers onto the bot's sentinels: what the
// outbox must never retry, what waits without using an attempt, what is in
// doubt (never sent again blindly); and the health state admins see. Every
// answer here is a refusal Meta made before taking the message, yet a 5xx
// without a code that proves it cannot be told apart from one after.
func TestSendErrors(t *testing.T) {
	tests := []struct {
		name        string
		status      int
		code        int
		unsupported bool
		unavailable bool
		inDoubt     bool
		state       State
	}{
		{"TokenExpired", 401, 190, false, true, false, StateTokenInvalid},
		{"Permission", 403, 10, false, true, false, StateNoPermission},
		{"PermissionRange", 403, 200, false, true, false, StateNoPermission},
		{"PolicyBlock", 400, 368, false, true, false, StateBlocked},
		{"Throughput", 400, 130429, false, true, false, StateConnected},
		{"PairRate", 400, 131056, false, true, false, StateConnected},
		{"HTTP429", 429, 0, false, true, false, StateConnected},
		{"TransientCodeOn4xx", 400, 131016, false, true, false, StateUnreachable},
		{"Undeliverable", 400, 131026, true, false, false, StateConnected},
		{"WindowClosed", 400, 131047, true, false, false, StateConnected},
		{"BadParameter", 400, 100, true, false, false, StateConnected},
		{"TokenExpiredAs500", 500, 190, false, true, false, StateTokenInvalid},
		{"RateAs503", 503, 130429, false, true, false, StateConnected},
		{"UndeliverableAs500", 500, 131026, true, false, false, StateConnected},
		{"ServerErrorCode1", 500, 1, false, false, true, StateUnreachable},
		{"ServiceUnavailable", 503, 131016, false, false, true, StateUnreachable},
		{"SomethingWentWrong", 500, 131000, false, false, true, StateUnreachable},
		{"BadGateway", 502, 0, false, false, true, StateUnreachable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, nil).run(t)
			e.wrote(t)
			e.graph.FailNext(1, tc.status, tc.code)
			_, err := e.ch.Send(context.Background(), bot.Outbound{Chat: testChat, Text: "hello"})
			require.Error(t, err)
			assert.Equal(t, tc.unsupported, errors.Is(err, bot.ErrUnsupported), err)
			assert.Equal(t, tc.unavailable, errors.Is(err, bot.ErrUnavailable), err)
			assert.Equal(t, tc.inDoubt, errors.Is(err, bot.ErrInDoubt), err)
			assert.NotContains(t, err.Error(), testWaID, "errors carry codes, not numbers")
			assert.NotContains(t, err.Error(), "scripted failure", "nor Meta's message")
			assert.Len(t, e.graph.Messages(), 1, "POST /messages is made once: a retry could be a second message")
			assert.Equal(t, tc.state, e.ch.State().State)
		})
	}
}

// TestSendInDoubt: when Meta took the message but the answer is lost, late,
// or a 5xx, the channel says so (bot.ErrInDoubt) and never sends it again;
// the customer sees one message, and its status webhook carries the key
// that settles it.
func TestSendInDoubt(t *testing.T) {
	tests := []struct {
		name  string
		fault cloudtest.Fault
	}{
		{"ConnectionDropped", cloudtest.Fault{LoseAnswer: true}},
		{"AnswerTooLate", cloudtest.Fault{Delay: 400 * time.Millisecond}},
		{"ServerErrorAfterAccept", cloudtest.Fault{Status: 500, Code: 131000}},
		{"BadGatewayAfterAccept", cloudtest.Fault{Status: 502}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, func(o *Options) { o.HTTPClient = &http.Client{Timeout: 150 * time.Millisecond} }).run(t)
			e.wrote(t)
			e.graph.AcceptThen(1, tc.fault)
			_, err := e.ch.Send(context.Background(), bot.Outbound{Chat: testChat, Text: "Your order ships today.", Key: "ob_key1"})
			require.ErrorIs(t, err, bot.ErrInDoubt)
			assert.NotErrorIs(t, err, bot.ErrUnavailable, "not reported as not sent")
			assert.NotErrorIs(t, err, bot.ErrUnsupported, "nor as refused")
			assert.Len(t, e.graph.Messages(), 1, "sent once")
			acc := e.graph.Accepted()
			require.Len(t, acc, 1, "Meta has it")
			assert.Equal(t, "ob_key1", acc[0].Key, "with the key its status webhook will carry")
		})
	}
	t.Run("CancelledAfterTheRequestLeft", func(t *testing.T) {
		e := newEnv(t, nil).run(t)
		e.wrote(t)
		e.graph.AcceptThen(1, cloudtest.Fault{Delay: 5 * time.Second})
		ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
		defer cancel()
		_, err := e.ch.Send(ctx, bot.Outbound{Chat: testChat, Text: "hello", Key: "ob_key2"})
		require.ErrorIs(t, err, bot.ErrInDoubt)
		assert.Len(t, e.graph.Accepted(), 1)
	})
	t.Run("NoIDIn2xx", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodGet {
				_, _ = w.Write([]byte(`{"id":"` + testPNID + `"}`))
				return
			}
			_, _ = w.Write([]byte(`{"messaging_product":"whatsapp","messages":[]}`))
		}))
		defer srv.Close()
		e := newEnv(t, func(o *Options) { o.GraphURL = srv.URL + "/v26.0" }).run(t)
		e.wrote(t)
		_, err := e.ch.Send(context.Background(), bot.Outbound{Chat: testChat, Text: "hello"})
		assert.ErrorIs(t, err, bot.ErrInDoubt, "a 2xx is acceptance, even without a wamid")
	})
	t.Run("NeverLeft", func(t *testing.T) {
		// Nothing listens: the connection is refused before a byte is
		// written, so the message is certainly not at Meta.
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		addr := ln.Addr().String()
		require.NoError(t, ln.Close())
		e := newEnv(t, func(o *Options) { o.GraphURL = "http://" + addr + "/v26.0" }).run(t)
		e.wrote(t)
		_, err = e.ch.Send(context.Background(), bot.Outbound{Chat: testChat, Text: "hello"})
		require.ErrorIs(t, err, bot.ErrUnavailable)
		assert.NotErrorIs(t, err, bot.ErrInDoubt)
	})
	t.Run("DocumentUploadLost", func(t *testing.T) {
		// The upload's answer is lost: the document may be at Meta, but
		// the message was not sent, so it may be sent again.
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodGet {
				_, _ = w.Write([]byte(`{"id":"` + testPNID + `"}`))
				return
			}
			_, _ = io.Copy(io.Discard, r.Body)
			panic(http.ErrAbortHandler)
		}))
		defer srv.Close()
		e := newEnv(t, func(o *Options) { o.GraphURL = srv.URL + "/v26.0" }).run(t)
		e.wrote(t)
		_, err := e.ch.Send(context.Background(), bot.Outbound{Chat: testChat, Text: "Your data", File: &bot.File{Name: "a.json", Data: []byte("{}")}})
		require.ErrorIs(t, err, bot.ErrUnavailable)
		assert.NotErrorIs(t, err, bot.ErrInDoubt)
	})
}

// TestWindow: free-form text within 24 hours of the customer's last message,
// refused locally after; Meta's 131047 closes it until the customer writes.
func TestWindow(t *testing.T) {
	var mu sync.Mutex
	last := map[bot.ChatID]time.Time{}
	e := newEnv(t, func(o *Options) {
		o.LastInbound = func(_ context.Context, chat bot.ChatID) (time.Time, error) {
			mu.Lock()
			defer mu.Unlock()
			return last[chat], nil
		}
	}).run(t)
	ctx := context.Background()
	assert.Equal(t, Window, e.ch.Capabilities().Window)

	_, err := e.ch.Send(ctx, bot.Outbound{Chat: testChat, Text: "cold"})
	assert.ErrorIs(t, err, bot.ErrUnsupported, "a chat that never wrote is closed")

	t0 := e.clock.Now()
	mu.Lock()
	last[testChat] = t0 // the store knows the customer wrote
	mu.Unlock()
	e.clock.Add(23*time.Hour + 59*time.Minute)
	_, err = e.ch.Send(ctx, bot.Outbound{Chat: testChat, Text: "inside"})
	require.NoError(t, err)
	e.clock.Add(2 * time.Minute)
	_, err = e.ch.Send(ctx, bot.Outbound{Chat: testChat, Text: "outside"})
	assert.ErrorIs(t, err, bot.ErrUnsupported)
	assert.Len(t, e.graph.Messages(), 1, "refused without asking Meta")

	// The customer writes again (the webhook is seen before the store is).
	e.wrote(t)
	e.graph.FailNext(1, 400, 131047)
	_, err = e.ch.Send(ctx, bot.Outbound{Chat: testChat, Text: "Meta says closed"})
	assert.ErrorIs(t, err, bot.ErrUnsupported)
	n := len(e.graph.Messages())
	_, err = e.ch.Send(ctx, bot.Outbound{Chat: testChat, Text: "again"})
	assert.ErrorIs(t, err, bot.ErrUnsupported, "131047 marks the window closed")
	assert.Len(t, e.graph.Messages(), n)
	e.clock.Add(time.Minute)
	e.wrote(t)
	_, err = e.ch.Send(ctx, bot.Outbound{Chat: testChat, Text: "reopened"})
	require.NoError(t, err)

	// A failed status with 131047 closes it too.
	require.Equal(t, http.StatusOK, e.postSigned(readPayload(t, "status_failed_window")).Code)
	_, err = e.ch.Send(ctx, bot.Outbound{Chat: testChat, Text: "closed by a status"})
	assert.ErrorIs(t, err, bot.ErrUnsupported)
}

func TestHealth(t *testing.T) {
	t.Run("TokenInvalidAtStart", func(t *testing.T) {
		var states []Health
		var mu sync.Mutex
		e := newEnv(t, func(o *Options) {
			o.AccessToken = "EAAGrevokedTokenValue"
			o.OnState = func(h Health) { mu.Lock(); states = append(states, h); mu.Unlock() }
		}).run(t)
		require.Eventually(t, func() bool { return e.ch.State().State == StateTokenInvalid }, 5*time.Second, time.Millisecond)
		h := e.ch.State()
		assert.True(t, h.NeedsPerson())
		assert.False(t, h.Ready())
		assert.Contains(t, h.String(), "WHATSAPP_CLOUD_ACCESS_TOKEN")
		assert.NotContains(t, h.String(), "EAAGrevokedTokenValue", "never the token")
		mu.Lock()
		defer mu.Unlock()
		require.NotEmpty(t, states)
		assert.Equal(t, StateTokenInvalid, states[len(states)-1].State)
		// Inbound still flows: the customer's message is stored.
		require.Equal(t, http.StatusOK, e.postSigned(readPayload(t, "text")).Code)
	})
	t.Run("RecoversOnRecheck", func(t *testing.T) {
		e := newEnv(t, func(o *Options) { o.CheckEvery = 5 * time.Millisecond })
		e.graph.FailNext(1, 403, 10)
		e.run(t)
		require.Eventually(t, func() bool { return e.ch.State().State == StateConnected }, 5*time.Second, time.Millisecond,
			"the permission was granted: the next check finds it")
	})
	t.Run("Unreachable", func(t *testing.T) {
		e := newEnv(t, func(o *Options) { o.GraphURL = "http://127.0.0.1:1/v26.0" }).run(t)
		require.Eventually(t, func() bool { return e.ch.State().State == StateUnreachable }, 5*time.Second, time.Millisecond)
		e.wrote(t)
		_, err := e.ch.Send(context.Background(), bot.Outbound{Chat: testChat, Text: "hello"})
		assert.ErrorIs(t, err, bot.ErrUnavailable, "the reply waits for the Graph API")
	})
	t.Run("StoppedAfterRun", func(t *testing.T) {
		e := newEnv(t, nil)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- e.ch.Run(ctx, e.sink) }()
		require.Eventually(t, func() bool { return e.ch.State().State == StateConnected }, 5*time.Second, time.Millisecond)
		assert.Error(t, e.ch.Run(ctx, e.sink), "one Run at a time")
		cancel()
		require.NoError(t, <-done)
		assert.Equal(t, StateStopped, e.ch.State().State)
		assert.Equal(t, http.StatusServiceUnavailable, e.postSigned(readPayload(t, "text")).Code)
	})
}

func TestNewValidates(t *testing.T) {
	good := Options{PhoneNumberID: testPNID, AccessToken: "t", AppSecret: "s", VerifyToken: "v"}
	_, err := New(good)
	require.NoError(t, err)
	for name, mod := range map[string]func(*Options){
		"NoPhoneNumberID":  func(o *Options) { o.PhoneNumberID = "" },
		"PhoneNumberIsNot": func(o *Options) { o.PhoneNumberID = "+44 7700 900123" },
		"NoToken":          func(o *Options) { o.AccessToken = "" },
		"NoSecret":         func(o *Options) { o.AppSecret = " " },
		"NoVerifyToken":    func(o *Options) { o.VerifyToken = "" },
		"BadGraphURL":      func(o *Options) { o.GraphURL = "graph.facebook.com" },
	} {
		o := good
		mod(&o)
		_, err := New(o)
		assert.Error(t, err, name)
	}
	c, err := New(good)
	require.NoError(t, err)
	assert.Equal(t, DefaultGraphURL, c.graph)
	caps := c.Capabilities()
	assert.Equal(t, bot.Capabilities{Files: true, MaxText: 4096, Window: 24 * time.Hour, MaxFile: 100 << 20, FileTypes: caps.FileTypes}, caps)
	for _, tc := range []struct {
		mime string
		size int64
		want bool
	}{
		{"image/jpeg", 5 << 20, true}, {"image/png", 5<<20 + 1, false}, {"audio/ogg; codecs=opus", 16 << 20, true}, {"audio/mpeg", 1 << 20, true},
		{"video/mp4", 16<<20 + 1, false}, {"video/3gpp", 1 << 20, true}, {"application/pdf", 100 << 20, true}, {"application/json", 1 << 20, true},
		{"application/zip", 1 << 10, false}, {"image/webp", 1 << 10, false}, {"image/heic", 1 << 10, false}, {"video/quicktime", 1 << 10, false},
		{"application/vnd.oasis.opendocument.text", 1 << 10, false},
	} {
		assert.Equal(t, tc.want, caps.TakesFile(tc.mime, tc.size), "%s %d", tc.mime, tc.size)
	}
	b, _ := json.Marshal(c.State())
	assert.Contains(t, string(b), "stopped")
}

// TestSendPhoto: a JPEG or PNG staff attached goes as an image message
// (uploaded as its type, the text as its caption); a PDF as a document.
func TestSendPhoto(t *testing.T) {
	e := newEnv(t, nil).run(t)
	e.wrote(t)
	photo := mediatest.JPEG(640, 480, 5)
	_, err := e.ch.Send(context.Background(), bot.Outbound{Chat: testChat, Text: "Here is the part we fit.", Key: "ob_photo",
		File: &bot.File{Name: "valve.jpg", MIME: "image/jpeg", Data: photo}})
	require.NoError(t, err)
	up := e.graph.Uploads()[0]
	assert.Equal(t, "image/jpeg", up.Form["type"])
	assert.Equal(t, photo, up.File)
	m := e.graph.Messages()[0]
	assert.Equal(t, "image", m.Type)
	assert.Equal(t, "Here is the part we fit.", m.Text)
	assert.Equal(t, "ob_photo", m.Key)
	assert.True(t, e.graph.HasMedia(m.MediaID))

	_, err = e.ch.Send(context.Background(), bot.Outbound{Chat: testChat, Text: "The quote.",
		File: &bot.File{Name: "quote.pdf", MIME: "application/pdf", Data: mediatest.PDF()}})
	require.NoError(t, err)
	assert.Equal(t, "document", e.graph.Messages()[1].Type)
	assert.Equal(t, "quote.pdf", e.graph.Messages()[1].Filename)
}

// TestSendAudioVideo: a voice note goes as an audio message, its text on
// its own before it (audio takes no caption); a video as a video message
// with its caption. A ZIP, a WebP or a photo over 5 MB is refused before
// any call; an upload Meta refuses leaves the text sent and says so.
func TestSendAudioVideo(t *testing.T) {
	e := newEnv(t, nil).run(t)
	e.wrote(t)
	ctx := context.Background()
	voice := mediatest.Opus(3)
	_, err := e.ch.Send(ctx, bot.Outbound{Chat: testChat, Text: "Voice note sent on 31 Jan", Key: "ob_voice",
		File: &bot.File{Name: "13.ogg", MIME: "audio/ogg; codecs=opus", Data: voice}})
	require.NoError(t, err)
	up := e.graph.Uploads()[0]
	assert.Equal(t, "audio/ogg", up.Form["type"])
	assert.Equal(t, voice, up.File)
	msgs := e.graph.Messages()
	require.Len(t, msgs, 2)
	assert.Equal(t, "text", msgs[0].Type)
	assert.Equal(t, "Voice note sent on 31 Jan", msgs[0].Text)
	assert.Empty(t, msgs[0].Key, "the key goes with the file")
	assert.Equal(t, "audio", msgs[1].Type)
	assert.Equal(t, "ob_voice", msgs[1].Key)
	assert.NotContains(t, string(msgs[1].Body), "caption")
	assert.True(t, e.graph.HasMedia(msgs[1].MediaID))

	video := append([]byte("\x00\x00\x00\x18ftypmp42"), make([]byte, 64)...)
	_, err = e.ch.Send(ctx, bot.Outbound{Chat: testChat, Text: "Video sent on 31 Jan", File: &bot.File{Name: "14.mp4", MIME: "video/mp4", Data: video}})
	require.NoError(t, err)
	v := e.graph.Messages()[2]
	assert.Equal(t, "video", v.Type)
	assert.Equal(t, "Video sent on 31 Jan", v.Text)
	assert.Equal(t, "video/mp4", e.graph.Uploads()[1].Form["type"])

	before := len(e.graph.Requests())
	for _, f := range []*bot.File{
		{Name: "export.zip", MIME: "application/zip", Data: []byte("PK\x03\x04")},
		{Name: "s.webp", MIME: "image/webp", Data: []byte("RIFF....WEBP")},
		{Name: "big.jpg", MIME: "image/jpeg", Data: make([]byte, 5<<20+1)},
		{Name: "long.ogg", MIME: "audio/ogg", Data: make([]byte, 16<<20+1)},
	} {
		_, err := e.ch.Send(ctx, bot.Outbound{Chat: testChat, Text: "x", File: f})
		assert.ErrorIs(t, err, bot.ErrUnsupported, f.Name)
		assert.False(t, e.ch.Capabilities().TakesFile(f.MIME, int64(len(f.Data))), "the capabilities say so first: %s", f.Name)
	}
	assert.Len(t, e.graph.Requests(), before, "refused before any call")

	// Meta refuses the audio's upload: its text went, so the message is
	// half sent (in doubt, never sent again whole).
	e.graph.FailUploads("audio/ogg", 1, http.StatusBadRequest, 131053)
	_, err = e.ch.Send(ctx, bot.Outbound{Chat: testChat, Text: "Voice note", File: &bot.File{Name: "15.ogg", MIME: "audio/ogg", Data: voice}})
	assert.ErrorIs(t, err, bot.ErrInDoubt)
	assert.Equal(t, "Voice note", e.graph.Messages()[3].Text)
	assert.Len(t, e.graph.Messages(), 4, "no audio message without its upload")
}

// TestTokenRotation: an operator replaces the token file; on Meta's 190 the
// channel reads it again and sends with the new token, the same message
// once; ReloadToken (SIGHUP) picks a new file up before any refusal.
func TestTokenRotation(t *testing.T) {
	file := filepath.Join(t.TempDir(), "token")
	require.NoError(t, os.WriteFile(file, []byte(testToken+"\n"), 0o600))
	reload := func() (string, error) {
		b, err := os.ReadFile(file)
		return strings.TrimSpace(string(b)), err
	}
	e := newEnv(t, func(o *Options) { o.ReloadToken = reload }).run(t)
	e.wrote(t)
	ctx := context.Background()
	refused := func() int {
		n := 0
		for _, r := range e.graph.Requests() {
			if r.ID == "" && r.Method == http.MethodPost {
				n++
			}
		}
		return n
	}

	// Meta revokes the token; the file still holds it.
	e.graph.SetToken("EAAGrotated-1")
	_, err := e.ch.Send(ctx, bot.Outbound{Chat: testChat, Text: "one", Key: "ob_1"})
	require.ErrorIs(t, err, bot.ErrUnavailable, "the reply waits")
	assert.Equal(t, StateTokenInvalid, e.ch.State().State)
	assert.Contains(t, e.ch.State().Detail, "WHATSAPP_CLOUD_ACCESS_TOKEN_FILE")
	assert.NotContains(t, e.ch.State().String(), testToken)

	// The operator replaces the file: the next try reads it.
	require.NoError(t, os.WriteFile(file, []byte("EAAGrotated-1\n"), 0o600))
	_, err = e.ch.Send(ctx, bot.Outbound{Chat: testChat, Text: "one", Key: "ob_1"})
	require.NoError(t, err)
	assert.Equal(t, StateConnected, e.ch.State().State)
	acc := e.graph.Accepted()
	require.Len(t, acc, 1, "sent once")
	assert.Equal(t, "one", acc[0].Text)

	// SIGHUP: the new file is read before Meta refuses anything.
	require.NoError(t, os.WriteFile(file, []byte("EAAGrotated-2"), 0o600))
	e.graph.SetToken("EAAGrotated-2")
	changed, err := e.ch.ReloadToken(ctx)
	require.NoError(t, err)
	assert.True(t, changed)
	before := refused()
	_, err = e.ch.Send(ctx, bot.Outbound{Chat: testChat, Text: "two"})
	require.NoError(t, err)
	assert.Equal(t, before, refused(), "no refused request: the new token went first")
	changed, err = e.ch.ReloadToken(ctx)
	require.NoError(t, err)
	assert.False(t, changed, "the same token again changes nothing")

	// A missing or empty file keeps the token in use.
	require.NoError(t, os.WriteFile(file, nil, 0o600))
	_, err = e.ch.ReloadToken(ctx)
	assert.Error(t, err)
	_, err = e.ch.Send(ctx, bot.Outbound{Chat: testChat, Text: "three"})
	require.NoError(t, err)
	logs := e.log.String()
	for _, tok := range []string{testToken, "EAAGrotated-1", "EAAGrotated-2"} {
		assert.NotContains(t, logs, tok, "logs never hold a token")
	}
}

// TestTokenRecoversOnCheck: while the token is refused, Run's check reads
// the file again, so the state recovers with no reply needed.
func TestTokenRecoversOnCheck(t *testing.T) {
	file := filepath.Join(t.TempDir(), "token")
	require.NoError(t, os.WriteFile(file, []byte("EAAGold"), 0o600))
	e := newEnv(t, func(o *Options) {
		o.AccessToken = "EAAGold"
		o.CheckEvery = 10 * time.Millisecond
		o.ReloadToken = func() (string, error) {
			b, err := os.ReadFile(file)
			return string(b), err
		}
	}).run(t)
	require.Eventually(t, func() bool { return e.ch.State().State == StateTokenInvalid }, 5*time.Second, time.Millisecond)
	require.NoError(t, os.WriteFile(file, []byte(testToken), 0o600))
	require.Eventually(t, func() bool { return e.ch.State().State == StateConnected }, 5*time.Second, time.Millisecond)
}
