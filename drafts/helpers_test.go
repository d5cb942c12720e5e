package drafts

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/switchboard/switchboard/bot/bottest"

	"github.com/rs/zerolog"
	openai "github.com/sashabaranov/go-openai"
	"github.com/stretchr/testify/require"

	"github.com/switchboard/switchboard/bot"
)

// testNow is the fixed clock of the tests.
var testNow = time.Date(2026, 11, 28, 14, 30, 0, 0, time.UTC)

// fakeLLM is an httptest server speaking the OpenAI chat completions wire
// format. respond answers hit n (1-based) given the decoded request.
type fakeLLM struct {
	srv     *httptest.Server
	mu      sync.Mutex
	bodies  [][]byte
	reqs    []*http.Request
	respond func(n int, req openai.ChatCompletionRequest, w http.ResponseWriter, r *http.Request)
}

func newFakeLLM(t *testing.T, respond func(n int, req openai.ChatCompletionRequest, w http.ResponseWriter, r *http.Request)) *fakeLLM {
	t.Helper()
	f := &fakeLLM{respond: respond}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, "read", http.StatusBadRequest)
			return
		}
		f.mu.Lock()
		f.bodies = append(f.bodies, body)
		f.reqs = append(f.reqs, r.Clone(context.Background()))
		n := len(f.bodies)
		f.mu.Unlock()
		var req openai.ChatCompletionRequest
		if err := json.Unmarshal(body, &req); err != nil {
			http.Error(w, "bad json", http.StatusBadRequest)
			return
		}
		f.respond(n, req, w, r)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeLLM) hits() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.bodies)
}

func (f *fakeLLM) body(i int) []byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.bodies[i]
}

func (f *fakeLLM) request(i int) *http.Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.reqs[i]
}

// out is a model answer in the schema's shape.
type out struct {
	Reply      string    `json:"reply"`
	Intent     string    `json:"intent"`
	QuoteItems []outItem `json:"quote_items"`
	NeedsHuman string    `json:"needs_human"`
	Suspected  bool      `json:"suspected_injection"`
}

type outItem struct {
	ItemID   string `json:"item_id"`
	Quantity int    `json:"quantity"`
}

func (o out) json() string {
	if o.QuoteItems == nil {
		o.QuoteItems = []outItem{}
	}
	b, _ := json.Marshal(o)
	return string(b)
}

// writeContent answers with one choice holding content.
func writeContent(w http.ResponseWriter, content string) {
	writeResponse(w, openai.ChatCompletionResponse{
		ID: "chatcmpl-1", Object: "chat.completion", Model: "test-model",
		Choices: []openai.ChatCompletionChoice{{
			Index:        0,
			Message:      openai.ChatCompletionMessage{Role: openai.ChatMessageRoleAssistant, Content: content},
			FinishReason: openai.FinishReasonStop,
		}},
	})
}

func writeResponse(w http.ResponseWriter, resp openai.ChatCompletionResponse) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(resp)
}

// writeError answers with an OpenAI error body that echoes secret.
func writeError(w http.ResponseWriter, status int, secret string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{
		"message": "echo of your prompt: " + secret, "type": "server_error", "code": "server_error",
	}})
}

// sampleProfile loads testdata/profile.json.
func sampleProfile(t testing.TB) *Profile {
	t.Helper()
	p, err := LoadProfile("testdata/profile.json")
	require.NoError(t, err)
	return &p
}

// sleeps records the waits the retry layer asked for instead of sleeping.
type sleeps struct {
	mu sync.Mutex
	d  []time.Duration
}

func (s *sleeps) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.d = append(s.d, d)
	s.mu.Unlock()
	return ctx.Err()
}

func (s *sleeps) all() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.d...)
}

// harness is a Drafter against a fake endpoint with recorded logs and waits.
type harness struct {
	d      *Drafter
	llm    *fakeLLM
	logs   *bottest.LogBuffer
	sleeps *sleeps
}

func newHarness(t *testing.T, respond func(n int, req openai.ChatCompletionRequest, w http.ResponseWriter, r *http.Request), mutate ...func(*Options)) *harness {
	t.Helper()
	h := &harness{llm: newFakeLLM(t, respond), logs: &bottest.LogBuffer{}, sleeps: &sleeps{}}
	opts := Options{
		Log:     zerolog.New(h.logs),
		APIKey:  "test-key",
		BaseURL: h.llm.srv.URL + "/v1",
		Model:   "test-model",
		Profile: sampleProfile(t),
		Now:     func() time.Time { return testNow },
	}
	for _, m := range mutate {
		m(&opts)
	}
	d, err := New(opts)
	require.NoError(t, err)
	d.doer.sleep = h.sleeps.sleep
	h.d = d
	return h
}

// Customer data used across tests; none of it may reach the endpoint as is
// (PII) or at all (ids, names).
const (
	custPhone    = "07700 900123"
	custEmail    = "jane.doe@example.co.uk"
	custCard     = "4111 1111 1111 1111"
	custPostcode = "SW1A 1AA"
	custName     = "Jane Doe"
	custSubject  = bot.SubjectID("s_0123456789abcdef01234567")
	custChat     = bot.ChatID("447700900123@s.whatsapp.net")
)

func request(text string, history ...bot.Message) bot.DraftRequest {
	return bot.DraftRequest{
		Subject: custSubject,
		Message: bot.Message{ID: 42, Subject: custSubject, Platform: bot.WhatsApp, Chat: custChat,
			PlatformID: "3EB0C431C26A1916E5B1", Dir: bot.In, Kind: bot.KindText, Text: text,
			SentAt: testNow.Add(-2 * time.Minute)},
		History: history,
	}
}

func writeFile(path, s string) error { return os.WriteFile(path, []byte(s), 0o600) }
