package whatsappcloud

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/switchboard/switchboard/bot"
	"github.com/switchboard/switchboard/bot/bottest"
	"github.com/switchboard/switchboard/channels/whatsappcloud/cloudtest"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata")

const (
	testPNID   = "106540352242922"
	testToken  = "EAAGtest-system-user-token"
	testSecret = "0123456789abcdef0123456789abcdef"
	testVerify = "verify-token-7f3a"
	testWaID   = "447700900123"
	testChat   = bot.ChatID("447700900123@s.whatsapp.net")
)

// recSink records what the channel delivers; it can refuse deliveries.
type recSink struct {
	mu       sync.Mutex
	in       []bot.Inbound
	receipts []bot.Receipt
	fail     int
}

func (s *recSink) Deliver(_ context.Context, in bot.Inbound) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail > 0 {
		s.fail--
		return errors.New("sink refused")
	}
	s.in = append(s.in, in)
	return nil
}

func (s *recSink) Receipt(_ context.Context, r bot.Receipt) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail > 0 {
		s.fail--
		return errors.New("sink refused")
	}
	s.receipts = append(s.receipts, r)
	return nil
}

func (s *recSink) Decide(context.Context, bot.Decision) (bot.DecisionResult, error) {
	return bot.DecisionResult{Outcome: bot.Refused}, nil
}

func (s *recSink) Revoke(context.Context, bot.Platform, bot.ChatID, bot.Identity, bot.MessageID) error {
	return nil
}

func (s *recSink) failNext(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail = n
}

func (s *recSink) got() ([]bot.Inbound, []bot.Receipt) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]bot.Inbound(nil), s.in...), append([]bot.Receipt(nil), s.receipts...)
}

// env is a channel under test with its fake Graph API, sink, clock and log.
type env struct {
	ch    *Channel
	graph *cloudtest.Graph
	sink  *recSink
	clock *bottest.Clock
	log   *bottest.LogBuffer
	opts  Options
}

// newEnv builds a channel against a fake Graph API; mod edits its options.
// It does not run it.
func newEnv(t *testing.T, mod func(*Options)) *env {
	t.Helper()
	e := &env{
		graph: cloudtest.NewGraph(t, testPNID, testToken),
		sink:  &recSink{},
		clock: bottest.NewClock(time.Unix(1764583200, 0).Add(time.Hour)),
		log:   &bottest.LogBuffer{},
	}
	e.opts = Options{
		Log:           zerolog.New(e.log).Level(zerolog.DebugLevel),
		PhoneNumberID: testPNID, AccessToken: testToken, AppSecret: testSecret, VerifyToken: testVerify,
		GraphURL: e.graph.URL(), Now: e.clock.Now, SendBackoff: time.Millisecond,
		StateDir: t.TempDir(),
	}
	if mod != nil {
		mod(&e.opts)
	}
	ch, err := New(e.opts)
	require.NoError(t, err)
	e.ch = ch
	return e
}

// run runs the channel until the test ends and waits until it serves.
func (e *env) run(t *testing.T) *env {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.ch.Run(ctx, e.sink) }()
	require.Eventually(t, func() bool { return e.ch.sink.Load() != nil && e.ch.State().State != StateStarting },
		5*time.Second, time.Millisecond)
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
	return e
}

// post posts body to the webhook with the given signature header ("" for
// none) and returns the answer.
func (e *env) post(body []byte, sig string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, "/webhooks/whatsapp", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if sig != "" {
		req.Header.Set("X-Hub-Signature-256", sig)
	}
	rec := httptest.NewRecorder()
	e.ch.Handler().ServeHTTP(rec, req)
	return rec
}

// postSigned posts body signed with the app secret.
func (e *env) postSigned(body []byte) *httptest.ResponseRecorder {
	return e.post(body, cloudtest.Sign(testSecret, body))
}
