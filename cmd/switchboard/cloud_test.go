package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboard/switchboard/bot"
	"github.com/switchboard/switchboard/bot/bottest"
	"github.com/switchboard/switchboard/channels/channeltest"
	"github.com/switchboard/switchboard/channels/whatsapp"
	"github.com/switchboard/switchboard/channels/whatsappcloud"
	"github.com/switchboard/switchboard/channels/whatsappcloud/cloudtest"
)

// The WhatsApp Business Platform of the end-to-end tests.
const (
	e2ePNID   = "106540352242922"
	e2eToken  = "EAAGe2eSystemUserToken"
	e2eSecret = "e2e-app-secret-1b2c3d"
	e2eVerify = "e2e-verify-token"
	e2eWaID   = "447700900123" // plantedPhone's digits
	e2eDraft  = "PLANTED-REPLY: your blue sofa ships tomorrow"
)

// cloudApp is the real process (serve with the production builder, Teams
// in dev mode, WhatsApp on the Cloud API) against a recorded Teams
// connector and a loopback Graph API, on a test clock.
type cloudApp struct {
	base  string
	conn  *connector
	graph *cloudtest.Graph
	clock *bottest.Clock
	tap   *logTap
	dir   string
	stop  func()
}

func startCloudApp(t *testing.T) *cloudApp { t.Helper(); return startCloudAppWith(t, nil) }

// startCloudAppWith starts the app with mod applied to its configuration.
func startCloudAppWith(t *testing.T, mod func(*Config)) *cloudApp {
	t.Helper()
	a := &cloudApp{
		conn:  newConnector(t),
		graph: cloudtest.NewGraph(t, e2ePNID, e2eToken),
		// The store stamps outbox rows with the real time: the test clock
		// starts there and only moves forward.
		clock: bottest.NewClock(time.Now().Add(time.Minute).Truncate(time.Second)),
		tap:   newLogTap(),
		dir:   t.TempDir(),
	}
	cfg := DefaultConfig()
	cfg.DataDir, cfg.Listen, cfg.LogFormat, cfg.LogLevel = a.dir, "127.0.0.1:0", LogJSON, "debug"
	cfg.TeamsDev, cfg.Admins, cfg.MicrosoftAppTenantID = true, []string{e2eAdmin}, e2eTenant
	cfg.CloudPhoneNumberID, cfg.CloudGraphURL = e2ePNID, a.graph.URL()
	cfg.CloudAccessToken, cfg.CloudAppSecret, cfg.CloudVerifyToken = NewSecret(e2eToken), NewSecret(e2eSecret), NewSecret(e2eVerify)
	cfg.CloudTemplate, cfg.CloudTemplateLanguage = "reopen_conversation", "en_GB"
	if mod != nil {
		mod(&cfg)
	}
	require.NoError(t, cfg.Validate())
	build := func(app *App) ([]bot.Channel, error) {
		app.Now = a.clock.Now
		chs, err := buildChannels(app)
		app.Drafter = &channeltest.Drafter{Text: e2eDraft} // the one fake: no LLM here
		return chs, err
	}
	a.base, a.stop = startServe(t, cfg, a.tap, build)
	require.Eventually(t, func() bool { code, _ := get(t, a.base+"/readyz"); return code == http.StatusOK },
		20*time.Second, 20*time.Millisecond, "never ready; log:\n%s", a.tap.String())
	require.Equal(t, http.StatusOK, postActivity(t, a.base, teamsMessage(a.conn.srv.URL, "here-1", e2eTenant, e2eAdmin, "/here")))
	a.conn.waitText(t, "Draft cards will be posted")
	return a
}

// webhook posts body to /webhooks/whatsapp signed with the app secret.
func (a *cloudApp) webhook(t *testing.T, body []byte) int {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, a.base+"/webhooks/whatsapp", bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Hub-Signature-256", cloudtest.Sign(e2eSecret, body))
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	return resp.StatusCode
}

// cards returns the cards posted (not updates), oldest first.
func (a *cloudApp) cards() []posted {
	var out []posted
	for _, p := range a.conn.all() {
		if p.Method == http.MethodPost && strings.Contains(p.Body, "application/vnd.microsoft.card.adaptive") {
			out = append(out, p)
		}
	}
	return out
}

// waitCard waits for the card showing text, drafted, and returns it (Path
// is the conversation's activities, as for the post) with its draft id. A
// card is posted as a placeholder and its content arrives as an update.
func (a *cloudApp) waitCard(t *testing.T, text string) (posted, int64) {
	t.Helper()
	var card posted
	require.Eventually(t, func() bool {
		for _, c := range a.conn.all() {
			if (c.Method == http.MethodPost || c.Method == http.MethodPut) && strings.Contains(c.Body, "application/vnd.microsoft.card.adaptive") &&
				strings.Contains(c.Body, text) && !strings.Contains(c.Body, "Drafting a reply") {
				card = c
				if c.Method == http.MethodPut {
					card.Path = c.Path[:strings.LastIndex(c.Path, "/")]
				}
				return true
			}
		}
		return false
	}, 10*time.Second, 10*time.Millisecond, "no card shows %q; log:\n%s", text, a.tap.String())
	var id int64
	_, err := fmt.Sscanf(card.Body[strings.Index(card.Body, `"draft":`):], `"draft":%d`, &id)
	require.NoError(t, err)
	return card, id
}

// decide clicks a card button (an Action.Submit) in Teams.
func (a *cloudApp) decide(t *testing.T, click, verb string, draft int64) {
	t.Helper()
	var act map[string]any
	require.NoError(t, json.Unmarshal(teamsMessage(a.conn.srv.URL, click, e2eTenant, e2eAdmin, ""), &act))
	act["value"] = map[string]any{"switchboard": "decide", "verb": verb, "draft": draft, "token": a.token(t, draft)}
	b, err := json.Marshal(act)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, postActivity(t, a.base, b))
}

// token is the action token the draft's card carries.
func (a *cloudApp) token(t *testing.T, draft int64) string {
	t.Helper()
	re := regexp.MustCompile(fmt.Sprintf(`"draft":%d,"switchboard":"decide","token":"([0-9a-f]+)"`, draft))
	for _, p := range a.conn.all() {
		if m := re.FindStringSubmatch(p.Body); m != nil {
			return m[1]
		}
	}
	require.FailNow(t, "no card of the draft carries a token")
	return ""
}

// waitUpdate waits for an update (PUT) of the card that contains want.
func (a *cloudApp) waitUpdate(t *testing.T, card posted, want string) string {
	t.Helper()
	var body string
	require.Eventually(t, func() bool {
		for _, p := range a.conn.all() {
			if p.Method == http.MethodPut && strings.HasPrefix(p.Path, card.Path+"/") && strings.Contains(p.Body, want) {
				body = p.Body
			}
		}
		return body != ""
	}, 10*time.Second, 10*time.Millisecond, "the card never showed %q; log:\n%s", want, a.tap.String())
	return body
}

// TestCloudEndToEnd runs a customer's message through the production
// wiring with WhatsApp on the Cloud API: a signed webhook is stored (twice
// delivered, once stored), the card reaches the recorded Teams connector,
// staff approve, the Graph API gets exactly one send with the draft, and
// status webhooks (read before delivered) bring the card to "read".
func TestCloudEndToEnd(t *testing.T) {
	a := startCloudApp(t)
	_, body := get(t, a.base+"/readyz")
	assert.Contains(t, body, `"whatsapp":{"ready":true,"state":"connected"`)
	_, metrics := get(t, a.base+"/metrics")
	assert.Contains(t, metrics, `switchboard_whatsapp_state{state="connected"} 1`)

	// Meta verifies the callback URL.
	code, challenge := get(t, a.base+"/webhooks/whatsapp?"+url.Values{"hub.mode": {"subscribe"}, "hub.verify_token": {e2eVerify}, "hub.challenge": {"8470"}}.Encode())
	assert.Equal(t, http.StatusOK, code)
	assert.Equal(t, "8470", challenge)

	// A forged webhook stores nothing.
	forged := cloudtest.TextMessage(e2ePNID, e2eWaID, plantedName, "wamid.forged", "FORGED", a.clock.Now().Unix())
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, a.base+"/webhooks/whatsapp", bytes.NewReader(forged))
	require.NoError(t, err)
	req.Header.Set("X-Hub-Signature-256", cloudtest.Sign("not-the-secret", forged))
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)

	// The customer writes; Meta delivers the webhook twice.
	in := cloudtest.TextMessage(e2ePNID, e2eWaID, plantedName, "wamid.HBgMNDQ3NzAwOTAwMTIzFQIAEhgUM0FFNTVCQzgxQzNBQUExQzUwMEMA", plantedText, a.clock.Now().Unix())
	require.Equal(t, http.StatusOK, a.webhook(t, in))
	require.Equal(t, http.StatusOK, a.webhook(t, in))
	card, draft := a.waitCard(t, "blue sofa")
	assert.Contains(t, card.Body, e2eDraft)
	assert.Contains(t, card.Body, "Reply window: 24 hours left", "the window is on the card before anyone approves")
	time.Sleep(300 * time.Millisecond)
	assert.Len(t, a.cards(), 1, "one message, one card")
	db := openTestStore(t, a.dir)
	subs, err := db.FindSubjects(t.Context(), bot.Identity{Kind: bot.IDPhone, Value: plantedPhone})
	require.NoError(t, err)
	require.Len(t, subs, 1)
	hist, err := db.History(t.Context(), subs[0], plantedChat, math.MaxInt64, 100)
	require.NoError(t, err)
	require.Len(t, hist, 1, "the redelivered webhook was stored once")
	assert.Equal(t, plantedText, hist[0].Text)
	require.NoError(t, db.Close())

	// Staff approve (twice: one send).
	a.decide(t, "approve-1", "approve", draft)
	a.decide(t, "approve-2", "approve", draft)
	require.Eventually(t, func() bool { return len(a.graph.Messages()) == 1 }, 10*time.Second, 10*time.Millisecond, "log:\n%s", a.tap.String())
	sent := a.graph.Messages()[0]
	assert.Equal(t, e2eWaID, sent.To)
	assert.Equal(t, "text", sent.Type)
	assert.Equal(t, e2eDraft, sent.Text)
	assert.Regexp(t, `^ob_[0-9a-f]{32}$`, sent.Key, "biz_opaque_callback_data names the outbox row")
	require.NotEmpty(t, sent.ID)
	a.waitUpdate(t, card, `"value":"sent"`)

	// Meta reports read, then (late) delivered: the card shows read.
	now := a.clock.Now().Unix()
	require.Equal(t, http.StatusOK, a.webhook(t, cloudtest.Status(e2ePNID, e2eWaID, sent.ID, "delivered", sent.Key, now+1, 0)))
	a.waitUpdate(t, card, `"value":"delivered"`)
	require.Equal(t, http.StatusOK, a.webhook(t, cloudtest.Status(e2ePNID, e2eWaID, sent.ID, "read", sent.Key, now+9, 0)))
	a.waitUpdate(t, card, `"value":"read"`)
	require.Equal(t, http.StatusOK, a.webhook(t, cloudtest.Status(e2ePNID, e2eWaID, sent.ID, "delivered", sent.Key, now+5, 0)))
	time.Sleep(200 * time.Millisecond)
	assert.Len(t, a.graph.Messages(), 1, "exactly one send")

	// /privacy names Meta as processor on this transport.
	priv := cloudtest.TextMessage(e2ePNID, e2eWaID, plantedName, "wamid.privacy", "/privacy", a.clock.Now().Unix())
	require.Equal(t, http.StatusOK, a.webhook(t, priv))
	require.Eventually(t, func() bool { return len(a.graph.Messages()) == 2 }, 10*time.Second, 10*time.Millisecond)
	assert.Contains(t, a.graph.Messages()[1].Text, "Meta Platforms (WhatsApp Business Platform), which runs our WhatsApp account for us")

	// /export arrives as a document uploaded to Meta; /forget me deletes it
	// there.
	say := func(id, text string) {
		require.Equal(t, http.StatusOK, a.webhook(t, cloudtest.TextMessage(e2ePNID, e2eWaID, plantedName, id, text, a.clock.Now().Unix())))
	}
	say("wamid.export", "/export")
	require.Eventually(t, func() bool { return len(a.graph.Uploads()) == 1 && len(a.graph.Messages()) == 3 }, 10*time.Second, 10*time.Millisecond, "log:\n%s", a.tap.String())
	doc := a.graph.Messages()[2]
	assert.Equal(t, "document", doc.Type)
	require.True(t, a.graph.HasMedia(doc.MediaID))
	assert.Contains(t, string(a.graph.Uploads()[0].File), "switchboard.export/v1")
	say("wamid.forget", "/forget me")
	require.Eventually(t, func() bool { return len(a.graph.Messages()) == 4 }, 10*time.Second, 10*time.Millisecond)
	assert.Contains(t, a.graph.Messages()[3].Text, "YES")
	say("wamid.yes", "YES")
	require.Eventually(t, func() bool { return !a.graph.HasMedia(doc.MediaID) }, 10*time.Second, 10*time.Millisecond,
		"the export is deleted at Meta; log:\n%s", a.tap.String())
	assert.Equal(t, []string{doc.MediaID}, a.graph.Deletes())

	a.stop()
	db = openTestStore(t, a.dir)
	subs, err = db.FindSubjects(t.Context(), bot.Identity{Kind: bot.IDPhone, Value: plantedPhone})
	require.NoError(t, err)
	assert.Empty(t, subs, "the customer is erased")

	logs := a.tap.String()
	assert.NotContains(t, logs, `"level":"error"`)
	for _, planted := range []string{plantedPhone, e2eWaID, "7700900123", plantedName, plantedText, "blue sofa", e2eDraft, e2eToken, e2eSecret, e2eVerify} {
		assert.NotContains(t, logs, planted)
	}
	entries, err := os.ReadDir(a.dir)
	require.NoError(t, err)
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(a.dir, e.Name()))
		require.NoError(t, err)
		for _, planted := range []string{plantedName, "blue sofa", "PLANTED-REPLY", e2eToken} {
			assert.NotContains(t, string(b), planted, "%s holds plaintext", e.Name())
		}
	}
}

// TestCloudWindowEndToEnd: an approval 23 h 59 min after the customer wrote
// is sent; one at 24 h 01 min is not, the card says the window closed and
// offers the template, which goes out once.
func TestCloudWindowEndToEnd(t *testing.T) {
	a := startCloudApp(t)
	t0 := a.clock.Now()
	require.Equal(t, http.StatusOK, a.webhook(t, cloudtest.TextMessage(e2ePNID, "447700900201", "Early", "wamid.early", "Can you fix a tap on Monday?", t0.Unix())))
	require.Equal(t, http.StatusOK, a.webhook(t, cloudtest.TextMessage(e2ePNID, "447700900202", "Late", "wamid.late", "Do you do boilers?", t0.Unix())))
	early, earlyDraft := a.waitCard(t, "fix a tap")
	late, lateDraft := a.waitCard(t, "boilers")
	for _, c := range []posted{early, late} {
		assert.Contains(t, c.Body, "Reply window: 24 hours left (closes "+t0.Add(24*time.Hour).UTC().Format("2 Jan 15:04")+" UTC)")
	}

	a.clock.Add(23*time.Hour + 59*time.Minute)
	a.decide(t, "approve-early", "approve", earlyDraft)
	require.Eventually(t, func() bool { return len(a.graph.Messages()) == 1 }, 10*time.Second, 10*time.Millisecond, "log:\n%s", a.tap.String())
	assert.Equal(t, "447700900201", a.graph.Messages()[0].To)
	assert.Equal(t, e2eDraft, a.graph.Messages()[0].Text)

	a.clock.Add(2 * time.Minute)
	a.decide(t, "approve-late", "approve", lateDraft)
	a.conn.waitText(t, "The customer last wrote more than 24 hours ago, so this chat takes no reply until they write again: send the template to ask them to.")
	updated := a.waitUpdate(t, late, "Reply window closed")
	assert.Contains(t, updated, `"verb":"template"`, "the card offers the template")
	time.Sleep(1500 * time.Millisecond) // an outbox pass would have sent it by now
	assert.Len(t, a.graph.Messages(), 1, "nothing sent outside the window")

	a.decide(t, "template-1", "template", lateDraft)
	a.decide(t, "template-2", "template", lateDraft)
	require.Eventually(t, func() bool { return len(a.graph.Messages()) == 2 }, 10*time.Second, 10*time.Millisecond)
	tpl := a.graph.Messages()[1]
	assert.Equal(t, "template", tpl.Type)
	assert.Equal(t, "447700900202", tpl.To)
	assert.Equal(t, "reopen_conversation", tpl.Template)
	assert.Equal(t, "en_GB", tpl.Language)
	a.conn.waitText(t, "The template was already sent")
	assert.Len(t, a.graph.Messages(), 2, "the template went once")

	// The customer answers the template: the old draft can go now.
	require.Equal(t, http.StatusOK, a.webhook(t, cloudtest.TextMessage(e2ePNID, "447700900202", "Late", "wamid.late2", "Yes please", a.clock.Now().Unix())))
	a.waitCard(t, "Yes please")
	a.decide(t, "approve-late-2", "approve", lateDraft)
	require.Eventually(t, func() bool { return len(a.graph.Messages()) == 3 }, 10*time.Second, 10*time.Millisecond)
	assert.Equal(t, e2eDraft, a.graph.Messages()[2].Text)
}

// TestCloudLostAnswerEndToEnd: Meta takes an approved reply but the answer
// is lost (the connection drops): the reply is not sent again, and the
// status webhook, which carries its key, brings the card to delivered.
func TestCloudLostAnswerEndToEnd(t *testing.T) {
	a := startCloudApp(t)
	require.Equal(t, http.StatusOK, a.webhook(t, cloudtest.TextMessage(e2ePNID, e2eWaID, plantedName, "wamid.lost", plantedText, a.clock.Now().Unix())))
	card, draft := a.waitCard(t, "blue sofa")
	a.graph.AcceptThen(1, cloudtest.Fault{LoseAnswer: true})
	a.decide(t, "approve-lost", "approve", draft)
	require.Eventually(t, func() bool { return len(a.graph.Accepted()) == 1 }, 10*time.Second, 10*time.Millisecond, "log:\n%s", a.tap.String())
	time.Sleep(1500 * time.Millisecond) // past an outbox pass and a poll
	require.Len(t, a.graph.Messages(), 1, "not sent again")
	sent := a.graph.Accepted()[0]
	require.Equal(t, http.StatusOK, a.webhook(t, cloudtest.Status(e2ePNID, e2eWaID, sent.ID, "delivered", sent.Key, a.clock.Now().Unix(), 0)))
	a.waitUpdate(t, card, `"value":"delivered"`)
	assert.Len(t, a.graph.Messages(), 1, "exactly one send")
}

// TestTransportsShareChatIDs checks that switching transport keeps chats
// and people: each WhatsApp channel accepts the ChatID the other makes, and
// both name the person the same way.
func TestTransportsShareChatIDs(t *testing.T) {
	graph := cloudtest.NewGraph(t, e2ePNID, e2eToken)
	cloud, err := whatsappcloud.New(whatsappcloud.Options{PhoneNumberID: e2ePNID, AccessToken: e2eToken, AppSecret: e2eSecret,
		VerifyToken: e2eVerify, GraphURL: graph.URL(), SendBackoff: time.Millisecond})
	require.NoError(t, err)
	linked, err := whatsapp.New(whatsapp.Options{Dir: t.TempDir(), SessionWait: time.Millisecond, Log: zerolog.Nop()})
	require.NoError(t, err)

	// The Cloud API channel's chat and sender for a webhook from wa_id.
	sink := &recordSink{}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- cloud.Run(ctx, sink) }()
	defer func() { cancel(); <-done }()
	body := cloudtest.TextMessage(e2ePNID, e2eWaID, "Ann", "wamid.share", "hello", time.Now().Unix())
	require.Eventually(t, func() bool {
		req, _ := http.NewRequest(http.MethodPost, "/webhooks/whatsapp", bytes.NewReader(body))
		req.Header.Set("X-Hub-Signature-256", cloudtest.Sign(e2eSecret, body))
		rec := newRecorder()
		cloud.Handler().ServeHTTP(rec, req)
		return rec.code == http.StatusOK
	}, 5*time.Second, 5*time.Millisecond)
	require.Len(t, sink.in, 1)
	cloudChat, cloudSender := sink.in[0].Chat, sink.in[0].Sender

	// The linked device's chat for the same person is plantedChat (its own
	// tests pin makeChatID), and it names them whatsapp:+E164.
	assert.Equal(t, bot.ChatID(plantedChat), cloudChat)
	assert.Equal(t, bot.Identity{Kind: bot.IDPhone, Value: plantedPhone}, cloudSender)

	// The linked device takes the Cloud API's chat: it fails only for want
	// of a session, not for the chat.
	_, err = linked.Send(t.Context(), bot.Outbound{Chat: cloudChat, Text: "hi"})
	assert.ErrorIs(t, err, bot.ErrUnavailable)
	assert.False(t, errors.Is(err, bot.ErrUnsupported), "the chat id is accepted")
	// The Cloud API takes the linked device's chat and reaches the number.
	_, err = cloud.Send(t.Context(), bot.Outbound{Chat: plantedChat, Text: "hi"})
	require.NoError(t, err)
	assert.Equal(t, e2eWaID, graph.Messages()[0].To)

	// Neither takes what it cannot reach: a LID chat on the Cloud API, a
	// username's chat on the linked device.
	_, err = cloud.Send(t.Context(), bot.Outbound{Chat: "88112233445566@lid", Text: "hi"})
	assert.ErrorIs(t, err, bot.ErrUnsupported)
	_, err = linked.Send(t.Context(), bot.Outbound{Chat: "US.13491208655302741918@bsuid", Text: "hi"})
	assert.ErrorIs(t, err, bot.ErrUnsupported)
}

// recordSink keeps what a channel delivers.
type recordSink struct {
	channeltest.Sink
	in []bot.Inbound
}

func (s *recordSink) Deliver(_ context.Context, in bot.Inbound) error {
	s.in = append(s.in, in)
	return nil
}

// recorder is a minimal http.ResponseWriter.
type recorder struct {
	h    http.Header
	code int
}

func newRecorder() *recorder { return &recorder{h: http.Header{}, code: http.StatusOK} }

func (r *recorder) Header() http.Header         { return r.h }
func (r *recorder) Write(b []byte) (int, error) { return len(b), nil }
func (r *recorder) WriteHeader(code int)        { r.code = code }

// TestCloudTokenExpiredHoldsReplies: Meta answers 190 to an approved
// reply: the admins are alerted in Teams, /readyz and /metrics say why, and
// the reply waits in the outbox (not failed) for a new token.
func TestCloudTokenExpiredHoldsReplies(t *testing.T) {
	a := startCloudApp(t)
	require.Equal(t, http.StatusOK, a.webhook(t, cloudtest.TextMessage(e2ePNID, e2eWaID, plantedName, "wamid.tok", plantedText, a.clock.Now().Unix())))
	card, draft := a.waitCard(t, "blue sofa")
	a.graph.FailNext(1, http.StatusUnauthorized, 190)
	a.decide(t, "approve-tok", "approve", draft)
	alert := a.conn.waitText(t, "token-invalid")
	assert.Contains(t, alert, "WHATSAPP_CLOUD_ACCESS_TOKEN")
	assert.Contains(t, alert, "Replies wait in the outbox")
	assert.NotContains(t, alert, e2eToken)
	_, body := get(t, a.base+"/readyz")
	assert.Contains(t, body, `"whatsapp":{"ready":false,"state":"token-invalid"`)
	_, metrics := get(t, a.base+"/metrics")
	assert.Contains(t, metrics, `switchboard_whatsapp_state{state="token-invalid"} 1`)
	assert.Contains(t, metrics, `switchboard_component_ready{component="whatsapp"} 0`)
	time.Sleep(300 * time.Millisecond)
	for _, p := range a.conn.all() {
		if p.Method == http.MethodPut && strings.HasPrefix(p.Path, card.Path+"/") {
			assert.NotContains(t, p.Body, "failed to send", "the reply is held, not failed")
		}
	}
	a.stop()
	items, err := openTestStore(t, a.dir).DueOutbox(t.Context(), time.Now().Add(time.Hour), 10)
	require.NoError(t, err)
	require.Len(t, items, 1, "the reply waits")
	assert.Equal(t, bot.StatusPending, items[0].Status)
	assert.Equal(t, 0, items[0].Attempts, "no attempt used up")
}

// TestCloudTokenRotatedWithoutRestart: Meta revokes the system-user token;
// the reply waits and the admins are told; the operator puts the new token
// in WHATSAPP_CLOUD_ACCESS_TOKEN_FILE and sends SIGHUP: WhatsApp is ready
// again and the reply goes, once, without a restart.
func TestCloudTokenRotatedWithoutRestart(t *testing.T) {
	const rotated = "EAAGe2eRotatedToken"
	file := filepath.Join(t.TempDir(), "wa-token")
	require.NoError(t, os.WriteFile(file, []byte(e2eToken+"\n"), 0o600))
	a := startCloudAppWith(t, func(c *Config) { c.CloudAccessTokenFile = file })
	require.Equal(t, http.StatusOK, a.webhook(t, cloudtest.TextMessage(e2ePNID, e2eWaID, plantedName, "wamid.rot", plantedText, a.clock.Now().Unix())))
	_, draft := a.waitCard(t, "blue sofa")

	a.graph.SetToken(rotated) // the old token is revoked
	a.decide(t, "approve-rot", "approve", draft)
	alert := a.conn.waitText(t, "token-invalid")
	assert.Contains(t, alert, "WHATSAPP_CLOUD_ACCESS_TOKEN_FILE")
	assert.Empty(t, a.graph.Accepted())

	// The operator replaces the file and sends SIGHUP. (The test listens
	// too, so a signal that came before the app's handler would not end
	// the test process.)
	require.NoError(t, os.WriteFile(file, []byte(rotated+"\n"), 0o600))
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	require.NoError(t, syscall.Kill(os.Getpid(), syscall.SIGHUP))
	require.Eventually(t, func() bool {
		_, body := get(t, a.base+"/readyz")
		return strings.Contains(body, `"whatsapp":{"ready":true,"state":"connected"`)
	}, 10*time.Second, 20*time.Millisecond, "WhatsApp is ready again; log:\n%s", a.tap.String())

	a.clock.Add(16 * time.Second) // the held reply's next try
	require.Eventually(t, func() bool { return len(a.graph.Accepted()) == 1 }, 10*time.Second, 20*time.Millisecond, "log:\n%s", a.tap.String())
	assert.Equal(t, e2eDraft, a.graph.Accepted()[0].Text)
	a.stop()
	logs := a.tap.String()
	assert.Contains(t, logs, "SIGHUP: WhatsApp access token file read")
	for _, tok := range []string{e2eToken, rotated} {
		assert.NotContains(t, logs, tok)
	}
	assert.Len(t, a.graph.Accepted(), 1, "sent once")
}

// TestBuildChannelsWithCloud builds (without running) the production
// channels with WhatsApp on the Cloud API: the webhook is mounted, WhatsApp
// is on /readyz, and building touches nothing in the data dir.
func TestBuildChannelsWithCloud(t *testing.T) {
	cfg := DefaultConfig()
	cfg.DataDir = t.TempDir()
	cfg.CloudPhoneNumberID = e2ePNID
	cfg.CloudAccessToken, cfg.CloudAppSecret, cfg.CloudVerifyToken = NewSecret(e2eToken), NewSecret(e2eSecret), NewSecret(e2eVerify)
	require.NoError(t, cfg.Validate())
	metrics := NewMetrics()
	app := &App{
		Config: cfg, Log: zerolog.Nop(), Store: newTestDB(t), Metrics: metrics,
		Health: NewHealth(nil, metrics.ComponentReady), Mux: http.NewServeMux(), ListenAddr: "127.0.0.1:3978",
	}
	chs, err := buildChannels(app)
	require.NoError(t, err)
	require.Len(t, chs, 1)
	assert.IsType(t, &whatsappcloud.Channel{}, chs[0])
	assert.Equal(t, bot.WhatsApp, chs[0].Platform())
	_, comps := app.Health.Snapshot()
	assert.Contains(t, comps, compWhatsApp)
	for _, m := range []string{http.MethodGet, http.MethodPost} {
		_, pattern := app.Mux.Handler(httptestRequest(m, "/webhooks/whatsapp"))
		assert.Equal(t, "/webhooks/whatsapp", pattern, m)
	}
	entries, err := os.ReadDir(cfg.DataDir)
	require.NoError(t, err)
	assert.Empty(t, entries, "building does no I/O in the data dir")
}

func httptestRequest(method, target string) *http.Request {
	r, _ := http.NewRequest(method, "http://127.0.0.1"+target, nil)
	return r
}
