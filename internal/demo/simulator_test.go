package demo

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboard/switchboard/bot"
	"github.com/switchboard/switchboard/channels/whatsappcloud"
)

const (
	testPNID   = "100000000000001"
	testToken  = "demo-token-3f9a"
	testSecret = "demo-secret-77c1"
	testVerify = "demo-verify"
)

// recordSink keeps what the real channel hands the router.
type recordSink struct {
	mu       sync.Mutex
	inbound  []bot.Inbound
	receipts []bot.Receipt
}

func (s *recordSink) Deliver(_ context.Context, in bot.Inbound) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.inbound = append(s.inbound, in)
	return nil
}

func (s *recordSink) Receipt(_ context.Context, r bot.Receipt) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.receipts = append(s.receipts, r)
	return nil
}

func (s *recordSink) Decide(context.Context, bot.Decision) (bot.DecisionResult, error) {
	return bot.DecisionResult{Outcome: bot.Refused}, nil
}

func (s *recordSink) Revoke(context.Context, bot.Platform, bot.ChatID, bot.Identity, bot.MessageID) error {
	return nil
}

func (s *recordSink) Inbound() []bot.Inbound {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]bot.Inbound(nil), s.inbound...)
}

func (s *recordSink) Receipts() []bot.Receipt {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]bot.Receipt(nil), s.receipts...)
}

// world is the simulator wired to the real WhatsApp Business Platform
// channel, both on loopback, as the demo wires them.
type world struct {
	sim  *Simulator
	ch   *whatsappcloud.Channel
	sink *recordSink
	base string // the simulator's address
}

func newWorld(t *testing.T) *world {
	t.Helper()
	w := &world{sink: &recordSink{}}
	var chHandler atomic.Pointer[http.Handler]
	bot := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		(*chHandler.Load()).ServeHTTP(rw, r)
	}))
	t.Cleanup(bot.Close)
	var err error
	w.sim, err = New(Options{PhoneNumberID: testPNID, AccessToken: testToken, AppSecret: testSecret,
		Webhook: bot.URL + "/webhooks/whatsapp", BusinessName: "Brightwater Plumbing", RetryBackoff: time.Millisecond})
	require.NoError(t, err)
	mux := http.NewServeMux()
	w.sim.Mount(mux)
	simSrv := httptest.NewServer(mux)
	t.Cleanup(simSrv.Close)
	w.base = simSrv.URL
	w.ch, err = whatsappcloud.New(whatsappcloud.Options{PhoneNumberID: testPNID, AccessToken: testToken, AppSecret: testSecret,
		VerifyToken: testVerify, GraphURL: simSrv.URL + "/graph/v26.0", SendBackoff: time.Millisecond})
	require.NoError(t, err)
	h := w.ch.Handler()
	chHandler.Store(&h)

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { _ = w.ch.Run(ctx, w.sink) })
	wg.Go(func() { w.sim.Run(ctx) })
	t.Cleanup(func() { cancel(); wg.Wait() })
	require.Eventually(t, func() bool { return w.ch.State().Ready() }, 5*time.Second, time.Millisecond, "the channel's token check passes")
	return w
}

// post sends JSON to the simulator's page API as the page does.
func (w *world) post(t *testing.T, path string, body any) (int, map[string]any) {
	t.Helper()
	b, err := json.Marshal(body)
	require.NoError(t, err)
	req, err := http.NewRequest(http.MethodPost, w.base+path, bytes.NewReader(b))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", w.base)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// message returns the simulator's message with id.
func (w *world) message(id string) (MessageView, bool) {
	for _, m := range w.sim.Messages() {
		if m.ID == id {
			return m, true
		}
	}
	return MessageView{}, false
}

// TestCustomerMessageReachesTheRealChannel: a message typed in the page
// arrives at the channel's sink as the customer's, through a webhook the
// channel's signature check accepts, and the page shows it delivered.
func TestCustomerMessageReachesTheRealChannel(t *testing.T) {
	w := newWorld(t)
	code, out := w.post(t, "/sim/api/messages", map[string]string{"name": "Sam Taylor", "number": "+44 7700 900123", "text": "Is the boiler service £80?"})
	require.Equal(t, http.StatusAccepted, code, "%v", out)
	id := out["message"].(map[string]any)["id"].(string)
	require.Eventually(t, func() bool { return len(w.sink.Inbound()) == 1 }, 5*time.Second, time.Millisecond)
	in := w.sink.Inbound()[0]
	assert.Equal(t, bot.WhatsApp, in.Platform)
	assert.Equal(t, bot.Identity{Kind: bot.IDPhone, Value: "+447700900123"}, in.Sender)
	assert.Equal(t, "Sam Taylor", in.SenderName)
	assert.Equal(t, "Is the boiler service £80?", in.Text)
	assert.Equal(t, bot.MessageID(id), in.ID)
	require.Eventually(t, func() bool { m, _ := w.message(id); return m.Status == StatusDelivered }, 5*time.Second, time.Millisecond)

	wire := w.sim.Wire()
	require.NotEmpty(t, wire)
	last := wire[len(wire)-1]
	assert.Equal(t, "to-bot", last.Dir)
	assert.Equal(t, http.StatusOK, last.Status)
	assert.Contains(t, last.Body, `"phone_number_id": "100000000000001"`)
	assert.NotContains(t, last.Body, testSecret)
}

// TestReplyTicksFollowTheStatusWebhooks: a reply the channel sends shows
// in the page; its sent, delivered and read statuses reach the channel's
// sink as receipts carrying the reply's key, and the page shows each once
// the bot took it. A late "delivered" after "read" is not sent.
func TestReplyTicksFollowTheStatusWebhooks(t *testing.T) {
	w := newWorld(t)
	code, out := w.post(t, "/sim/api/messages", map[string]string{"name": "Sam", "number": "+44 7700 900123", "text": "hello"})
	require.Equal(t, http.StatusAccepted, code)
	require.Eventually(t, func() bool { return len(w.sink.Inbound()) == 1 }, 5*time.Second, time.Millisecond)
	_ = out
	chat := w.sink.Inbound()[0].Chat

	wamid, err := w.ch.Send(t.Context(), bot.Outbound{Chat: chat, Text: "Hello! How can we help?", Key: "outbox-7"})
	require.NoError(t, err)
	reply, ok := w.message(string(wamid))
	require.True(t, ok, "the reply is in the page")
	assert.Equal(t, "business", reply.From)
	assert.Equal(t, "Hello! How can we help?", reply.Text)
	require.Eventually(t, func() bool { m, _ := w.message(string(wamid)); return m.Status == StatusSent }, 5*time.Second, time.Millisecond)

	code, _ = w.post(t, "/sim/api/receipts", map[string]string{"id": string(wamid), "status": "delivered"})
	require.Equal(t, http.StatusAccepted, code)
	require.Eventually(t, func() bool { m, _ := w.message(string(wamid)); return m.Status == StatusDelivered }, 5*time.Second, time.Millisecond)
	code, _ = w.post(t, "/sim/api/receipts", map[string]string{"id": string(wamid), "status": "read"})
	require.Equal(t, http.StatusAccepted, code)
	require.Eventually(t, func() bool { m, _ := w.message(string(wamid)); return m.Status == StatusRead }, 5*time.Second, time.Millisecond)
	code, _ = w.post(t, "/sim/api/receipts", map[string]string{"id": string(wamid), "status": "delivered"})
	require.Equal(t, http.StatusAccepted, code)
	time.Sleep(50 * time.Millisecond)

	var statuses []bot.MessageStatus
	for _, r := range w.sink.Receipts() {
		assert.Equal(t, "outbox-7", r.Key, "biz_opaque_callback_data comes back")
		assert.Equal(t, []bot.MessageID{wamid}, r.IDs)
		assert.Equal(t, chat, r.Chat)
		statuses = append(statuses, r.Status)
	}
	assert.Equal(t, []bot.MessageStatus{bot.StatusSent, bot.StatusDelivered, bot.StatusRead}, statuses, "each once, in order")
	m, _ := w.message(string(wamid))
	assert.Equal(t, StatusRead, m.Status, "never lowered")
}

// TestExportDocumentUploadDownloadDelete: the channel uploads a document
// and sends it; the page can download it; erasure deletes it at "Meta" and
// the page says so.
func TestExportDocumentUploadDownloadDelete(t *testing.T) {
	w := newWorld(t)
	_, _ = w.post(t, "/sim/api/messages", map[string]string{"name": "Sam", "number": "+44 7700 900124", "text": "/export"})
	require.Eventually(t, func() bool { return len(w.sink.Inbound()) == 1 }, 5*time.Second, time.Millisecond)
	in := w.sink.Inbound()[0]
	data := []byte(`{"format":"switchboard.export/v1"}`)
	wamid, err := w.ch.Send(t.Context(), bot.Outbound{Chat: in.Chat, Text: "Here is a copy of your data.",
		File: &bot.File{Name: "switchboard-export.json", MIME: "application/json", Data: data}})
	require.NoError(t, err)
	m, ok := w.message(string(wamid))
	require.True(t, ok)
	require.NotNil(t, m.Document)
	assert.Equal(t, "switchboard-export.json", m.Document.Filename)
	assert.Equal(t, "text/plain", m.Document.MIME, "JSON goes to Meta as plain text")
	assert.Equal(t, len(data), m.Document.Size)
	assert.Equal(t, "Here is a copy of your data.", m.Text, "the caption")

	resp, err := http.Get(w.base + "/sim/media/" + m.Document.MediaID)
	require.NoError(t, err)
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, data, got)
	assert.Contains(t, resp.Header.Get("Content-Disposition"), `filename=switchboard-export.json`)

	require.NoError(t, w.ch.Forget(t.Context(), "s_demo", []bot.Identity{in.Sender}))
	m, _ = w.message(string(wamid))
	assert.True(t, m.Document.Deleted, "the page shows the file gone")
	resp, err = http.Get(w.base + "/sim/media/" + m.Document.MediaID)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusGone, resp.StatusCode)
}

// TestUnknownRecipientIsUndeliverable: a send to a number nobody uses in
// the page is taken, then reported failed with 131026, as Meta does.
func TestUnknownRecipientIsUndeliverable(t *testing.T) {
	w := newWorld(t)
	// The channel knows no window for this chat, so it leaves the check to
	// Meta, which takes the message and then reports it undeliverable.
	_, err := w.ch.Send(t.Context(), bot.Outbound{Chat: "447700900999@s.whatsapp.net", Text: "hi", Key: "outbox-9"})
	require.NoError(t, err)
	require.Eventually(t, func() bool { return len(w.sink.Receipts()) == 1 }, 5*time.Second, time.Millisecond)
	r := w.sink.Receipts()[0]
	assert.Equal(t, bot.StatusFailed, r.Status)
	assert.Equal(t, "outbox-9", r.Key)
	assert.Contains(t, r.Reason, "131026")
	assert.Empty(t, w.sim.Messages())
}

// TestWebhookRetriedUntilTheBotTakesIt: while the bot answers 503 the
// page shows "retrying" and the simulator posts again with the same
// signed body; once the bot answers 200 the message is delivered.
func TestWebhookRetriedUntilTheBotTakesIt(t *testing.T) {
	var calls atomic.Int32
	var bodies [][]byte
	var mu sync.Mutex
	botSrv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, b)
		mu.Unlock()
		assert.Equal(t, Sign(testSecret, b), r.Header.Get("X-Hub-Signature-256"))
		if calls.Add(1) <= 2 {
			rw.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		rw.WriteHeader(http.StatusOK)
	}))
	defer botSrv.Close()
	sim, err := New(Options{PhoneNumberID: testPNID, AccessToken: testToken, AppSecret: testSecret, Webhook: botSrv.URL, RetryBackoff: 20 * time.Millisecond})
	require.NoError(t, err)
	srv := httptest.NewServer(sim.Handler())
	defer srv.Close()
	var sawRetrying atomic.Bool
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go sim.Run(ctx)
	w := &world{sim: sim, base: srv.URL}
	code, out := w.post(t, "/sim/api/messages", map[string]string{"name": "Sam", "number": "+447700900123", "text": "anyone there?"})
	require.Equal(t, http.StatusAccepted, code)
	id := out["message"].(map[string]any)["id"].(string)
	require.Eventually(t, func() bool {
		m, _ := w.message(id)
		if m.Status == StatusRetrying {
			sawRetrying.Store(true)
			assert.Contains(t, m.Detail, "503")
		}
		return m.Status == StatusDelivered
	}, 5*time.Second, time.Millisecond)
	assert.True(t, sawRetrying.Load(), "the page showed the retry")
	assert.EqualValues(t, 3, calls.Load())
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, bodies[0], bodies[2], "the same payload again")
}

// TestWebhookGivesUp: a bot that never takes the webhook leaves the
// message failed with the reason, after five attempts.
func TestWebhookGivesUp(t *testing.T) {
	var calls atomic.Int32
	botSrv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		rw.WriteHeader(http.StatusUnauthorized)
	}))
	defer botSrv.Close()
	sim, err := New(Options{PhoneNumberID: testPNID, AccessToken: testToken, AppSecret: "wrong", Webhook: botSrv.URL, RetryBackoff: time.Millisecond})
	require.NoError(t, err)
	srv := httptest.NewServer(sim.Handler())
	defer srv.Close()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go sim.Run(ctx)
	w := &world{sim: sim, base: srv.URL}
	_, out := w.post(t, "/sim/api/messages", map[string]string{"name": "Sam", "number": "+447700900123", "text": "hi"})
	id := out["message"].(map[string]any)["id"].(string)
	require.Eventually(t, func() bool { m, _ := w.message(id); return m.Status == StatusFailed }, 5*time.Second, time.Millisecond)
	m, _ := w.message(id)
	assert.Contains(t, m.Detail, "401 Unauthorized every time")
	assert.EqualValues(t, deliveryAttempts, calls.Load())
}

// TestSignMatchesMeta: the signature is Meta's: sha256= and the hex
// HMAC-SHA256 of the raw body, the same as the channel computes.
func TestSignMatchesMeta(t *testing.T) {
	// RFC 4231 test case 2.
	assert.Equal(t, "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
		Sign("Jefe", []byte("what do ya want for nothing?")))
	body := []byte(`{"object":"whatsapp_business_account"}`)
	assert.Equal(t, whatsappcloud.Sign([]byte(testSecret), body), Sign(testSecret, body))
}

// graphCall makes one Graph API request to the simulator.
func graphCall(t *testing.T, base, method, path, token, contentType string, body []byte) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, base+path, bytes.NewReader(body))
	require.NoError(t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

func errCode(out map[string]any) float64 {
	e, _ := out["error"].(map[string]any)
	c, _ := e["code"].(float64)
	return c
}

// TestGraphRefusals: the Graph API refuses what Meta refuses, with Meta's
// status and error codes.
func TestGraphRefusals(t *testing.T) {
	sim, err := New(Options{PhoneNumberID: testPNID, AccessToken: testToken, AppSecret: testSecret, Webhook: "http://127.0.0.1:1/webhooks/whatsapp"})
	require.NoError(t, err)
	srv := httptest.NewServer(sim.Handler())
	defer srv.Close()
	msgs := "/graph/v26.0/" + testPNID + "/messages"
	cases := []struct {
		name, method, path, token, ctype, body string
		status                                 int
		code                                   float64
	}{
		{"NoToken", "POST", msgs, "", "application/json", `{}`, 401, 190},
		{"WrongToken", "POST", msgs, "nope", "application/json", `{}`, 401, 190},
		{"BadVersion", "POST", "/graph/latest/" + testPNID + "/messages", testToken, "application/json", `{}`, 400, 2635},
		{"OtherNumber", "POST", "/graph/v26.0/999/messages", testToken, "application/json", `{}`, 400, 100},
		{"NotJSON", "POST", msgs, testToken, "application/json", `{`, 400, 100},
		{"NoProduct", "POST", msgs, testToken, "application/json", `{"to":"447700900123","type":"text","text":{"body":"x"}}`, 400, 100},
		{"NoRecipient", "POST", msgs, testToken, "application/json", `{"messaging_product":"whatsapp","type":"text","text":{"body":"x"}}`, 400, 100},
		{"EmptyText", "POST", msgs, testToken, "application/json", `{"messaging_product":"whatsapp","to":"447700900123","type":"text","text":{"body":""}}`, 400, 100},
		{"LongText", "POST", msgs, testToken, "application/json", `{"messaging_product":"whatsapp","to":"447700900123","type":"text","text":{"body":"` + strings.Repeat("a", 4097) + `"}}`, 400, 100},
		{"UnknownMedia", "POST", msgs, testToken, "application/json", `{"messaging_product":"whatsapp","to":"447700900123","type":"document","document":{"id":"42"}}`, 400, 131053},
		{"TemplateWithoutLanguage", "POST", msgs, testToken, "application/json", `{"messaging_product":"whatsapp","to":"447700900123","type":"template","template":{"name":"x"}}`, 400, 132001},
		{"UnsupportedType", "POST", msgs, testToken, "application/json", `{"messaging_product":"whatsapp","to":"447700900123","type":"sticker"}`, 400, 131051},
		{"MarkReadUnknown", "POST", msgs, testToken, "application/json", `{"messaging_product":"whatsapp","status":"read","message_id":"wamid.x"}`, 400, 100},
		{"DeleteUnknownMedia", "DELETE", "/graph/v26.0/123456", testToken, "", ``, 400, 100},
		{"UploadNotMultipart", "POST", "/graph/v26.0/" + testPNID + "/media", testToken, "application/json", `{}`, 400, 100},
		{"UnknownRoute", "GET", "/graph/v26.0/" + testPNID + "/phone_numbers", testToken, "", ``, 400, 100},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, out := graphCall(t, srv.URL, tc.method, tc.path, tc.token, tc.ctype, []byte(tc.body))
			assert.Equal(t, tc.status, status)
			assert.Equal(t, tc.code, errCode(out), "%v", out)
		})
	}
	status, out := graphCall(t, srv.URL, "GET", "/graph/v26.0/"+testPNID, testToken, "", nil)
	assert.Equal(t, http.StatusOK, status)
	assert.Equal(t, testPNID, out["id"])
	assert.Empty(t, sim.Messages(), "nothing refused reached the page")
	for _, e := range sim.Wire() {
		assert.NotContains(t, e.Body+e.Summary+e.Request, testToken, "the token is never shown")
	}
}

// upload posts a multipart upload as the channel does.
func upload(t *testing.T, base, token, typ string, file []byte) (int, map[string]any) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	require.NoError(t, mw.WriteField("messaging_product", "whatsapp"))
	require.NoError(t, mw.WriteField("type", typ))
	fw, err := mw.CreateFormFile("file", "export.json")
	require.NoError(t, err)
	_, _ = fw.Write(file)
	require.NoError(t, mw.Close())
	return graphCall(t, base, "POST", "/graph/v26.0/"+testPNID+"/media", token, mw.FormDataContentType(), buf.Bytes())
}

// TestGraphUploadAndDelete: an upload answers a media id the messages
// endpoint takes; a type Meta does not take is refused; a delete works
// once.
func TestGraphUploadAndDelete(t *testing.T) {
	sim, err := New(Options{PhoneNumberID: testPNID, AccessToken: testToken, AppSecret: testSecret, Webhook: "http://127.0.0.1:1/x"})
	require.NoError(t, err)
	srv := httptest.NewServer(sim.Handler())
	defer srv.Close()
	status, out := upload(t, srv.URL, testToken, "application/zip", []byte("PK"))
	assert.Equal(t, http.StatusBadRequest, status)
	assert.EqualValues(t, 131053, errCode(out))
	status, _ = upload(t, srv.URL, "wrong", "text/plain", []byte("x"))
	assert.Equal(t, http.StatusUnauthorized, status)
	status, out = upload(t, srv.URL, testToken, "text/plain", []byte(`{"a":1}`))
	require.Equal(t, http.StatusOK, status)
	id, _ := out["id"].(string)
	require.NotEmpty(t, id)
	status, _ = graphCall(t, srv.URL, "DELETE", "/graph/v26.0/"+id+"?phone_number_id="+testPNID, testToken, "", nil)
	assert.Equal(t, http.StatusOK, status)
	status, out = graphCall(t, srv.URL, "DELETE", "/graph/v26.0/"+id, testToken, "", nil)
	assert.Equal(t, http.StatusBadRequest, status)
	assert.EqualValues(t, 100, errCode(out))
}

// TestPageAPIGuards: only JSON from the page's own origin, on a loopback
// host, with a valid name, number and text.
func TestPageAPIGuards(t *testing.T) {
	sim, err := New(Options{PhoneNumberID: testPNID, AccessToken: testToken, AppSecret: testSecret, Webhook: "http://127.0.0.1:1/x"})
	require.NoError(t, err)
	srv := httptest.NewServer(sim.Handler())
	defer srv.Close()
	do := func(mut func(r *http.Request), body string) (int, string) {
		req, err := http.NewRequest(http.MethodPost, srv.URL+"/sim/api/messages", strings.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		if mut != nil {
			mut(req)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		var out struct{ Error string }
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out.Error
	}
	ok := `{"name":"Sam","number":"+44 7700 900123","text":"hi"}`
	cases := []struct {
		name   string
		mut    func(r *http.Request)
		body   string
		status int
		says   string
	}{
		{"FormPost", func(r *http.Request) { r.Header.Set("Content-Type", "text/plain") }, ok, 415, "Send JSON."},
		{"OtherOrigin", func(r *http.Request) { r.Header.Set("Origin", "https://evil.example") }, ok, 403, "own page"},
		{"CrossSite", func(r *http.Request) { r.Header.Set("Sec-Fetch-Site", "cross-site") }, ok, 403, "own page"},
		{"RebindedHost", func(r *http.Request) { r.Host = "demo.evil.example:3978" }, ok, 403, ""},
		{"NoName", nil, `{"name":" ","number":"+447700900123","text":"hi"}`, 400, "Type a name"},
		{"LongName", nil, `{"name":"` + strings.Repeat("n", 61) + `","number":"+447700900123","text":"hi"}`, 400, "shorter name"},
		{"NationalNumber", nil, `{"name":"Sam","number":"07700 900123","text":"hi"}`, 400, "country code"},
		{"Letters", nil, `{"name":"Sam","number":"+44 call me","text":"hi"}`, 400, "only digits"},
		{"EmptyText", nil, `{"name":"Sam","number":"+447700900123","text":"  \n"}`, 400, "Type a message"},
		{"LongText", nil, `{"name":"Sam","number":"+447700900123","text":"` + strings.Repeat("x", 4097) + `"}`, 400, "4096"},
		{"NotJSON", nil, `{`, 400, "not valid JSON"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, says := do(tc.mut, tc.body)
			assert.Equal(t, tc.status, status)
			assert.Contains(t, says, tc.says)
		})
	}
	assert.Empty(t, sim.Messages(), "nothing refused was kept")
	status, _ := do(func(r *http.Request) { r.Header.Set("Origin", srv.URL); r.Header.Set("Sec-Fetch-Site", "same-origin") }, ok)
	assert.Equal(t, http.StatusAccepted, status)
}

// TestParseNumber: numbers as people type them.
func TestParseNumber(t *testing.T) {
	for in, want := range map[string]string{
		"+44 7700 900123": "447700900123", "+44 (0)7700-900123": "4407700900123", "0044 7700 900123": "447700900123",
		"+1 (555) 010-0199": "15550100199", " +49.30.901820 ": "4930901820",
	} {
		got, err := ParseNumber(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	for _, in := range []string{"", "07700 900123", "+44", "+0 7700 900123", "+44 7700 900123 ext 4", "++447700900123", "+1234567890123456"} {
		_, err := ParseNumber(in)
		assert.Error(t, err, in)
	}
}

// FuzzParseNumber: any input gives 8 to 15 digits or a sentence.
func FuzzParseNumber(f *testing.F) {
	for _, s := range []string{"+44 7700 900123", "0044 7700-900123", "07700", "+", "٠٤٤", "+44\x007700"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseNumber(s)
		if err != nil {
			assert.Empty(t, d)
			assert.NotEmpty(t, err.Error())
			return
		}
		assert.GreaterOrEqual(t, len(d), 8)
		assert.LessOrEqual(t, len(d), 15)
		assert.Equal(t, "", strings.Trim(d, "0123456789"))
		assert.NotEqual(t, byte('0'), d[0])
	})
}

// FuzzGraphMessage: no request body makes the Graph API fail to answer
// with JSON, or show a message it refused.
func FuzzGraphMessage(f *testing.F) {
	for _, s := range []string{
		`{"messaging_product":"whatsapp","to":"447700900123","type":"text","text":{"body":"hi"}}`,
		`{"messaging_product":"whatsapp","to":"447700900123","type":"document","document":{"id":"1","caption":"x"}}`,
		`{"messaging_product":"whatsapp","status":"read","message_id":"wamid.1"}`,
		`{"messaging_product":"whatsapp","to":"","type":"template","template":{"name":"a","language":{"code":"en"}}}`,
		`[]`, `null`, `{"text":7}`,
	} {
		f.Add([]byte(s))
	}
	sim, err := New(Options{PhoneNumberID: testPNID, AccessToken: testToken, AppSecret: testSecret, Webhook: "http://127.0.0.1:1/x"})
	require.NoError(f, err)
	h := sim.Handler()
	f.Fuzz(func(t *testing.T, body []byte) {
		req := httptest.NewRequest(http.MethodPost, "http://127.0.0.1/graph/v26.0/"+testPNID+"/messages", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+testToken)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		assert.True(t, json.Valid(rec.Body.Bytes()), "answer: %s", rec.Body.Bytes())
		if rec.Code != http.StatusOK {
			assert.Contains(t, rec.Body.String(), `"error"`)
		}
		for len(sim.queue) > 0 {
			<-sim.queue // no bot here: drop the statuses
		}
	})
}

// TestEventStream: the page's stream starts with the whole state, then
// carries each change; it ends when the simulator stops.
func TestEventStream(t *testing.T) {
	sim, err := New(Options{PhoneNumberID: testPNID, AccessToken: testToken, AppSecret: testSecret, Webhook: "http://127.0.0.1:1/x",
		BusinessName: "Brightwater Plumbing", StaffHint: "Open the playground."})
	require.NoError(t, err)
	srv := httptest.NewServer(sim.Handler())
	defer srv.Close()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { sim.Run(ctx); close(done) }()

	resp, err := http.Get(srv.URL + "/sim/api/events")
	require.NoError(t, err)
	defer resp.Body.Close()
	assert.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))
	events := make(chan [2]string, 16)
	go func() {
		defer close(events)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		var name string
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "event: "):
				name = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				events <- [2]string{name, strings.TrimPrefix(line, "data: ")}
			}
		}
	}()
	next := func() [2]string {
		select {
		case e, ok := <-events:
			require.True(t, ok, "stream ended")
			return e
		case <-time.After(5 * time.Second):
			require.FailNow(t, "no event")
		}
		return [2]string{}
	}
	first := next()
	require.Equal(t, "state", first[0])
	var st pageState
	require.NoError(t, json.Unmarshal([]byte(first[1]), &st))
	assert.Equal(t, "Brightwater Plumbing", st.Business.Name)
	assert.Equal(t, "Open the playground.", st.StaffHint)

	w := &world{sim: sim, base: srv.URL}
	code, _ := w.post(t, "/sim/api/messages", map[string]string{"name": "Sam", "number": "+447700900123", "text": "hi"})
	require.Equal(t, http.StatusAccepted, code)
	ev := next()
	require.Equal(t, "message", ev[0])
	var me messageEvent
	require.NoError(t, json.Unmarshal([]byte(ev[1]), &me))
	assert.Equal(t, "hi", me.Message.Text)
	assert.Equal(t, "Sam", me.Chat.Name)
	assert.Equal(t, "+447700900123", me.Chat.Number)

	cancel()
	<-done
	for range events {
	}
}

// TestPageServesItsAssets: the page and its assets come from the binary,
// with a policy that allows nothing from elsewhere.
func TestPageServesItsAssets(t *testing.T) {
	sim, err := New(Options{PhoneNumberID: testPNID, AccessToken: testToken, AppSecret: testSecret, Webhook: "http://127.0.0.1:1/x"})
	require.NoError(t, err)
	mux := http.NewServeMux()
	sim.Mount(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	for path, typ := range map[string]string{"/": "text/html", "/sim/app.js": "text/javascript", "/sim/style.css": "text/css"} {
		resp, err := http.Get(srv.URL + path)
		require.NoError(t, err)
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		assert.Equal(t, http.StatusOK, resp.StatusCode, path)
		assert.Contains(t, resp.Header.Get("Content-Type"), typ, path)
		assert.Contains(t, resp.Header.Get("Content-Security-Policy"), "default-src 'none'", path)
		assert.NotContains(t, string(b), "https://", "%s loads nothing from elsewhere", path)
	}
	resp, err := http.Get(srv.URL + "/nothing")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
}

// TestNewRequires: the options the simulator cannot do without.
func TestNewRequires(t *testing.T) {
	_, err := New(Options{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "PhoneNumberID, Options.AccessToken, Options.AppSecret, Options.Webhook")
	_, err = New(Options{PhoneNumberID: "1", AccessToken: "t", AppSecret: "s", Webhook: "ftp://x"})
	assert.Error(t, err)
}
