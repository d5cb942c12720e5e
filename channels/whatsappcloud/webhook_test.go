package whatsappcloud

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboard/switchboard/bot"
	"github.com/switchboard/switchboard/channels/whatsappcloud/cloudtest"
)

// payloadDir holds the wire-format samples the end-to-end tests in
// cmd/switchboard read too.
var payloadDir = filepath.Join("..", "..", "testdata", "whatsappcloud")

func readPayload(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(payloadDir, name+".json"))
	require.NoError(t, err)
	return b
}

// TestGoldenWebhooks posts every sample payload, signed, and compares what
// reached the sink with a golden file (go test -update rewrites them).
func TestGoldenWebhooks(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(payloadDir, "*.json"))
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(files), 20)
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".json")
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, nil).run(t)
			rec := e.postSigned(readPayload(t, name))
			require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
			in, receipts := e.sink.got()
			got, err := json.MarshalIndent(map[string]any{"inbound": in, "receipts": receipts}, "", "  ")
			require.NoError(t, err)
			got = append(got, '\n')
			path := filepath.Join("testdata", "mapped", name+".json")
			if *update {
				require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
				require.NoError(t, os.WriteFile(path, got, 0o644))
			}
			want, err := os.ReadFile(path)
			require.NoError(t, err, "run go test -update to create golden files")
			assert.Equal(t, string(want), string(got))
		})
	}
}

// TestWebhookMapping spells out what the golden files hold for the cases
// that matter most.
func TestWebhookMapping(t *testing.T) {
	phone := bot.Identity{Kind: bot.IDPhone, Value: "+447700900123"}
	bsuid := bot.Identity{Kind: bot.IDBSUID, Value: "GB.13491208655302741918"}
	deliver := func(t *testing.T, name string) ([]bot.Inbound, []bot.Receipt) {
		e := newEnv(t, nil).run(t)
		require.Equal(t, http.StatusOK, e.postSigned(readPayload(t, name)).Code)
		return e.sink.got()
	}
	t.Run("Text", func(t *testing.T) {
		in, _ := deliver(t, "text")
		require.Len(t, in, 1)
		m := in[0]
		assert.Equal(t, bot.WhatsApp, m.Platform)
		assert.Equal(t, testChat, m.Chat, "the same chat id the linked-device channel makes")
		assert.Equal(t, phone, m.Sender)
		assert.Equal(t, []bot.Identity{bsuid}, m.AltSenders, "the business-scoped user id joins the same subject")
		assert.Equal(t, "Zebedee Quillfeather", m.SenderName)
		assert.Equal(t, bot.KindText, m.Kind)
		assert.Equal(t, "Hello, is my order for the blue sofa ready?", m.Text)
		assert.Equal(t, int64(1764583200), m.SentAt.Unix())
		assert.Equal(t, bot.RoleCustomer, m.Role)
	})
	t.Run("UsernameOnly", func(t *testing.T) {
		in, _ := deliver(t, "text_bsuid_only")
		require.Len(t, in, 1)
		assert.Equal(t, bot.ChatID("US.13491208655302741999@bsuid"), in[0].Chat)
		assert.Equal(t, bot.Identity{Kind: bot.IDBSUID, Value: "US.13491208655302741999"}, in[0].Sender)
		assert.Empty(t, in[0].AltSenders)
		assert.Equal(t, "Bob", in[0].SenderName)
	})
	for name, want := range map[string]struct {
		kind bot.MessageKind
		text string
		mime string
	}{
		"interactive_button_reply": {bot.KindText, "Yes, please", ""},
		"interactive_list_reply":   {bot.KindText, "Tuesday morning", ""},
		"button":                   {bot.KindText, "Show me the answer", ""},
		"image":                    {bot.KindImage, "The boiler display", "image/jpeg"},
		"audio_voice":              {bot.KindVoice, "", "audio/ogg; codecs=opus"},
		"audio":                    {bot.KindAudio, "", "audio/mpeg"},
		"video":                    {bot.KindVideo, "The leak", "video/mp4"},
		"document":                 {bot.KindDocument, "Last year's invoice", "application/pdf"},
		"sticker":                  {bot.KindSticker, "", "image/webp"},
		"location":                 {bot.KindLocation, "", ""},
		"contacts":                 {bot.KindContact, "", ""},
	} {
		t.Run(name, func(t *testing.T) {
			in, _ := deliver(t, name)
			require.Len(t, in, 1)
			assert.Equal(t, want.kind, in[0].Kind)
			assert.Equal(t, want.text, in[0].Text)
			if want.mime == "" {
				assert.Nil(t, in[0].Media)
				return
			}
			require.NotNil(t, in[0].Media, "the media id is kept for a later download")
			assert.NotEmpty(t, in[0].Media.ID)
			assert.Equal(t, want.mime, in[0].Media.MIME)
		})
	}
	for _, name := range []string{"reaction", "unsupported", "system", "errors", "other_phone_number", "template_status_update"} {
		t.Run("Ignored/"+name, func(t *testing.T) {
			in, receipts := deliver(t, name)
			assert.Empty(t, in)
			assert.Empty(t, receipts)
		})
	}
	t.Run("Batch", func(t *testing.T) {
		in, _ := deliver(t, "batch")
		require.Len(t, in, 2)
		assert.Equal(t, "Zebedee Quillfeather", in[0].SenderName)
		assert.Equal(t, "Ann Example", in[1].SenderName)
		assert.Equal(t, bot.ChatID("447700900456@s.whatsapp.net"), in[1].Chat)
	})
	for name, want := range map[string]bot.Receipt{
		"status_sent":          {Status: bot.StatusSent, Key: "outbox-42"},
		"status_delivered":     {Status: bot.StatusDelivered, Key: "outbox-42"},
		"status_read":          {Status: bot.StatusRead, Key: "outbox-42"},
		"status_failed":        {Status: bot.StatusFailed, Key: "outbox-43", Reason: "131026 Message undeliverable"},
		"status_failed_window": {Status: bot.StatusFailed, Key: "outbox-44", Reason: "131047 Re-engagement message"},
	} {
		t.Run(name, func(t *testing.T) {
			in, receipts := deliver(t, name)
			assert.Empty(t, in)
			require.Len(t, receipts, 1)
			r := receipts[0]
			assert.Equal(t, bot.WhatsApp, r.Platform)
			assert.Equal(t, testChat, r.Chat)
			require.Len(t, r.IDs, 1)
			assert.True(t, strings.HasPrefix(string(r.IDs[0]), "wamid."))
			assert.Equal(t, want.Status, r.Status)
			assert.Equal(t, want.Key, r.Key)
			assert.Equal(t, want.Reason, r.Reason)
			assert.False(t, r.At.IsZero())
			assert.Contains(t, r.Recipients, bot.Identity{Kind: bot.IDPhone, Value: "+" + testWaID}, "who it went to, for a reply sent to their other chat")
		})
	}
	t.Run("status_bsuid_only", func(t *testing.T) {
		// A status naming only the business-scoped user id (a reply sent to
		// the number of a person who hides it now): the chat is the user
		// id's, and Recipients names them, so the store finds the reply.
		_, receipts := deliver(t, "status_bsuid_only")
		require.Len(t, receipts, 1)
		r := receipts[0]
		assert.Equal(t, bot.ChatID("GB.13491208655302741918@bsuid"), r.Chat)
		assert.Equal(t, []bot.Identity{{Kind: bot.IDBSUID, Value: "GB.13491208655302741918"}}, r.Recipients)
		assert.Equal(t, "outbox-45", r.Key)
		assert.Equal(t, bot.StatusRead, r.Status)
	})
}

// TestSignatureMatrix: only the app secret's HMAC of the exact bytes gets in.
func TestSignatureMatrix(t *testing.T) {
	body := readPayload(t, "text")
	altered := []byte(strings.Replace(string(body), "blue sofa", "red sofa", 1))
	right := cloudtest.Sign(testSecret, body)
	tests := []struct {
		name string
		body []byte
		sig  string
		want int
	}{
		{"Missing", body, "", http.StatusUnauthorized},
		{"WrongSecret", body, cloudtest.Sign("another-secret", body), http.StatusUnauthorized},
		{"RightSecretAlteredBody", altered, right, http.StatusUnauthorized},
		{"NoPrefix", body, strings.TrimPrefix(right, "sha256="), http.StatusUnauthorized},
		{"SHA1Prefix", body, "sha1=" + strings.TrimPrefix(right, "sha256="), http.StatusUnauthorized},
		{"NotHex", body, "sha256=zz" + right[9:], http.StatusUnauthorized},
		{"Truncated", body, right[:len(right)-2], http.StatusUnauthorized},
		{"UppercaseHex", body, "sha256=" + strings.ToUpper(strings.TrimPrefix(right, "sha256=")), http.StatusOK},
		{"Right", body, right, http.StatusOK},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, nil).run(t)
			rec := e.post(tc.body, tc.sig)
			assert.Equal(t, tc.want, rec.Code)
			in, _ := e.sink.got()
			logs := e.log.String()
			if tc.want != http.StatusOK {
				assert.Empty(t, in, "nothing stored")
				assert.Contains(t, logs, "webhook signature refused")
			} else {
				assert.Len(t, in, 1)
			}
			for _, planted := range []string{"sofa", "Zebedee", "447700900123", testSecret} {
				assert.NotContains(t, logs, planted, "the log line carries no body")
			}
		})
	}
	t.Run("NoSecretLetsNobodyIn", func(t *testing.T) {
		assert.NotEmpty(t, checkSig(nil, body, cloudtest.Sign("", body)))
	})
}

// TestVerifyMatrix: Meta's GET check gets the challenge back only with the
// right mode and verify token.
func TestVerifyMatrix(t *testing.T) {
	e := newEnv(t, nil)
	tests := []struct {
		name  string
		query url.Values
		want  int
	}{
		{"Right", url.Values{"hub.mode": {"subscribe"}, "hub.verify_token": {testVerify}, "hub.challenge": {"1158201444"}}, http.StatusOK},
		{"WrongToken", url.Values{"hub.mode": {"subscribe"}, "hub.verify_token": {"nope"}, "hub.challenge": {"1158201444"}}, http.StatusForbidden},
		{"TokenPrefix", url.Values{"hub.mode": {"subscribe"}, "hub.verify_token": {testVerify[:4]}, "hub.challenge": {"1"}}, http.StatusForbidden},
		{"EmptyToken", url.Values{"hub.mode": {"subscribe"}, "hub.verify_token": {""}, "hub.challenge": {"1"}}, http.StatusForbidden},
		{"WrongMode", url.Values{"hub.mode": {"unsubscribe"}, "hub.verify_token": {testVerify}, "hub.challenge": {"1"}}, http.StatusForbidden},
		{"NoMode", url.Values{"hub.verify_token": {testVerify}, "hub.challenge": {"1"}}, http.StatusForbidden},
		{"NoChallenge", url.Values{"hub.mode": {"subscribe"}, "hub.verify_token": {testVerify}}, http.StatusForbidden},
		{"LongChallenge", url.Values{"hub.mode": {"subscribe"}, "hub.verify_token": {testVerify}, "hub.challenge": {strings.Repeat("9", 300)}}, http.StatusForbidden},
		{"Nothing", url.Values{}, http.StatusForbidden},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			e.ch.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/webhooks/whatsapp?"+tc.query.Encode(), nil))
			assert.Equal(t, tc.want, rec.Code)
			if tc.want == http.StatusOK {
				assert.Equal(t, "1158201444", rec.Body.String())
				assert.Equal(t, "text/plain; charset=utf-8", rec.Header().Get("Content-Type"))
			} else {
				assert.NotContains(t, rec.Body.String(), "1158201444")
			}
		})
	}
}

// TestWebhookRefusals: size, syntax, not running, a refusing sink, other
// methods.
func TestWebhookRefusals(t *testing.T) {
	t.Run("TooLarge", func(t *testing.T) {
		e := newEnv(t, func(o *Options) { o.MaxBody = 1024 }).run(t)
		big := cloudtest.TextMessage(testPNID, testWaID, "A", "wamid.big", strings.Repeat("x", 2000), 1764583200)
		assert.Equal(t, http.StatusRequestEntityTooLarge, e.postSigned(big).Code)
		in, _ := e.sink.got()
		assert.Empty(t, in)
	})
	t.Run("DefaultLimitIsOneMiB", func(t *testing.T) {
		e := newEnv(t, nil).run(t)
		big := cloudtest.TextMessage(testPNID, testWaID, "A", "wamid.big", strings.Repeat("x", 1<<20), 1764583200)
		assert.Equal(t, http.StatusRequestEntityTooLarge, e.postSigned(big).Code)
	})
	for _, body := range []string{`{"object":`, `[1,2]`, `{"object":"whatsapp_business_account","entry":{"id":1}}`, "\x00\x01"} {
		t.Run("Malformed", func(t *testing.T) {
			e := newEnv(t, nil).run(t)
			assert.Equal(t, http.StatusBadRequest, e.postSigned([]byte(body)).Code)
		})
	}
	t.Run("BeforeRun", func(t *testing.T) {
		e := newEnv(t, nil)
		rec := e.postSigned(readPayload(t, "text"))
		assert.Equal(t, http.StatusServiceUnavailable, rec.Code)
		assert.NotEmpty(t, rec.Header().Get("Retry-After"))
	})
	t.Run("UnsignedBeforeRun", func(t *testing.T) {
		e := newEnv(t, nil)
		assert.Equal(t, http.StatusUnauthorized, e.post(readPayload(t, "text"), "").Code)
	})
	t.Run("SinkRefusesThenAccepts", func(t *testing.T) {
		e := newEnv(t, nil).run(t)
		e.sink.failNext(1)
		body := readPayload(t, "batch")
		assert.Equal(t, http.StatusInternalServerError, e.postSigned(body).Code, "not stored: Meta delivers it again")
		assert.Equal(t, http.StatusOK, e.postSigned(body).Code)
		in, _ := e.sink.got()
		assert.Len(t, in, 2)
	})
	t.Run("ReceiptRefused", func(t *testing.T) {
		e := newEnv(t, nil).run(t)
		e.sink.failNext(1)
		assert.Equal(t, http.StatusInternalServerError, e.postSigned(readPayload(t, "status_read")).Code)
	})
	t.Run("OtherMethod", func(t *testing.T) {
		e := newEnv(t, nil).run(t)
		rec := httptest.NewRecorder()
		e.ch.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodPut, "/webhooks/whatsapp", nil))
		assert.Equal(t, http.StatusMethodNotAllowed, rec.Code)
	})
}

// FuzzDecodeWebhook checks the webhook decoder and mapping on any body:
// no panic, and whatever is delivered names a chat and a sender that parse
// back as this channel's (internal/waid's) ids.
func FuzzDecodeWebhook(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join(payloadDir, "*.json"))
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(`{"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages","value":{"metadata":{"phone_number_id":"106540352242922"},"messages":[{"from":"1","id":"x","type":"text","text":{"body":"hi"}}]}}]}]}`))
	c, err := New(Options{PhoneNumberID: testPNID, AccessToken: "t", AppSecret: "s", VerifyToken: "v"})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		p, err := decodeWebhook(body)
		if err != nil {
			return
		}
		for _, e := range p.Entry {
			for _, ch := range e.Changes {
				for _, m := range ch.Value.Messages {
					in, why := c.mapMessage(m, ch.Value.Contacts)
					if why != "" {
						continue
					}
					to, err := parseChatID(in.Chat)
					if err != nil {
						t.Fatalf("delivered chat %q does not parse: %v", in.Chat, err)
					}
					if (to.to == "") == (to.bsuid == "") {
						t.Fatalf("chat %q names no one recipient", in.Chat)
					}
					if in.ID == "" || in.Sender.IsZero() || in.SentAt.IsZero() {
						t.Fatalf("incomplete inbound %+v", in)
					}
					if ids := chatsOf([]bot.Identity{in.Sender}); len(ids) != 1 || ids[0] != in.Chat {
						t.Fatalf("sender %v does not name chat %q", in.Sender, in.Chat)
					}
				}
				for _, s := range ch.Value.Statuses {
					r, why := c.mapStatus(s)
					if why != "" {
						continue
					}
					if _, err := parseChatID(r.Chat); err != nil || len(r.IDs) != 1 || r.Status.Rank() == 0 {
						t.Fatalf("bad receipt %+v", r)
					}
				}
			}
		}
	})
}
