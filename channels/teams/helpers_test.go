package teams

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard/switchboard/bot/bottest"

	"github.com/golang-jwt/jwt/v4"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/switchboard/switchboard/bot"
)

const (
	testAppID   = "00000000-1111-2222-3333-444444444444"
	testSecret  = "s3cret"
	testTenant  = "72f988bf-86f1-41af-91ab-2d7cd011db47"
	staffAAD    = "6f1c2b3a-0d4e-4f5a-8b6c-7d8e9f0a1b2c"
	adminAAD    = "11111111-2222-4333-8444-555555555555"
	otherTenant = "99999999-8888-4777-8666-555555555555"
)

// rsaKeys are generated once per test binary: 2048-bit keys are slow.
var rsaKeys = sync.OnceValue(func() []*rsa.PrivateKey {
	keys := make([]*rsa.PrivateKey, 3)
	for i := range keys {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		keys[i] = k
	}
	return keys
})

// issuer is a loopback OpenID provider: metadata plus a JWKS of the keys
// it currently publishes.
type issuer struct {
	name         string // the issuer its metadata names
	srv          *httptest.Server
	mu           sync.Mutex
	keys         map[string]*rsa.PrivateKey
	endorsements []string
	metaHits     atomic.Int32
	keyHits      atomic.Int32
	// hang, while set, holds metadata requests until it is closed (or the
	// request's context ends).
	hang atomic.Pointer[chan struct{}]
}

// newIssuer is the Bot Framework's issuer, publishing k1.
func newIssuer(t testing.TB) *issuer { return newIssuerAs(t, BotFrameworkIssuer, "k1", rsaKeys()[0]) }

// tenantIssuerV2 is the Entra v2 issuer of testTenant.
const tenantIssuerV2 = "https://login.microsoftonline.com/" + testTenant + "/v2.0"

// newTenantIssuer is testTenant's Entra issuer, publishing t1.
func newTenantIssuer(t testing.TB) *issuer { return newIssuerAs(t, tenantIssuerV2, "t1", rsaKeys()[2]) }

// newIssuerAs serves metadata naming issuer name and a JWKS with one key.
func newIssuerAs(t testing.TB, name, kid string, key *rsa.PrivateKey) *issuer {
	t.Helper()
	is := &issuer{name: name, keys: map[string]*rsa.PrivateKey{kid: key}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /openid", func(w http.ResponseWriter, r *http.Request) {
		is.metaHits.Add(1)
		if h := is.hang.Load(); h != nil {
			select {
			case <-*h:
			case <-r.Context().Done():
				return
			}
		}
		_ = json.NewEncoder(w).Encode(map[string]string{"issuer": is.name, "jwks_uri": is.srv.URL + "/keys"})
	})
	mux.HandleFunc("GET /keys", func(w http.ResponseWriter, r *http.Request) {
		is.keyHits.Add(1)
		is.mu.Lock()
		defer is.mu.Unlock()
		var set []map[string]any
		for kid, k := range is.keys {
			set = append(set, map[string]any{
				"kty": "RSA", "use": "sig", "kid": kid,
				"n":            base64.RawURLEncoding.EncodeToString(k.N.Bytes()),
				"e":            base64.RawURLEncoding.EncodeToString(big.NewInt(int64(k.E)).Bytes()),
				"endorsements": is.endorsements,
			})
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": set})
	})
	is.srv = httptest.NewServer(mux)
	t.Cleanup(is.srv.Close)
	return is
}

func (is *issuer) publish(kid string, k *rsa.PrivateKey) {
	is.mu.Lock()
	defer is.mu.Unlock()
	is.keys = map[string]*rsa.PrivateKey{kid: k}
}

// sign signs claims with RS256 under kid.
func sign(t testing.TB, claims jwt.MapClaims, kid string, k *rsa.PrivateKey) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
	tok.Header["kid"] = kid
	s, err := tok.SignedString(k)
	require.NoError(t, err)
	return s
}

// recorded is one request the fake connector got.
type recorded struct {
	Method string
	Path   string
	Body   map[string]any
}

// connectorStub is an httptest Bot Connector and token endpoint that checks
// the bearer token and records what the bot posts, updates and deletes.
type connectorStub struct {
	srv        *httptest.Server
	mu         sync.Mutex
	reqs       []recorded
	tokenHits  atomic.Int32
	next       atomic.Int32
	failDelete atomic.Bool
	failAll    atomic.Bool
	goneDelete atomic.Bool // DELETE answers 404, as for an activity deleted already
	// goneConv, if set, answers 404 to posts into that conversation id (a
	// deleted thread root).
	goneConv atomic.Pointer[string]
}

// pastedPicture is what the connector serves for a pasted picture.
var pastedPicture = []byte("\x89PNG\r\n\x1a\n a pasted picture")

func newConnector(t testing.TB) *connectorStub {
	t.Helper()
	cs := &connectorStub{}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		cs.tokenHits.Add(1)
		if r.FormValue("client_id") != testAppID || r.FormValue("client_secret") != testSecret ||
			r.FormValue("grant_type") != "client_credentials" || r.FormValue("scope") != botScope {
			http.Error(w, `{"error":"invalid_client"}`, http.StatusUnauthorized)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"token_type": "Bearer", "access_token": "tok-1", "expires_in": 3599})
	})
	mux.HandleFunc("GET /v3/attachments/", func(w http.ResponseWriter, r *http.Request) {
		// A picture pasted into a chat: read with the bot's token.
		if r.Header.Get("Authorization") != "Bearer tok-1" {
			http.Error(w, "no token", http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "image/png")
		_, _ = w.Write(pastedPicture)
	})
	mux.HandleFunc("/v3/", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer tok-1" {
			http.Error(w, "no token", http.StatusUnauthorized)
			return
		}
		var body map[string]any
		b, _ := io.ReadAll(r.Body)
		if len(b) > 0 {
			if err := json.Unmarshal(b, &body); err != nil {
				http.Error(w, "bad json", http.StatusBadRequest)
				return
			}
		}
		cs.mu.Lock()
		cs.reqs = append(cs.reqs, recorded{Method: r.Method, Path: r.URL.EscapedPath(), Body: body})
		cs.mu.Unlock()
		if g := cs.goneConv.Load(); g != nil && strings.Contains(r.URL.EscapedPath(), "/v3/conversations/"+*g+"/") {
			http.Error(w, "gone", http.StatusNotFound)
			return
		}
		if cs.failAll.Load() || (r.Method == http.MethodDelete && cs.failDelete.Load()) {
			http.Error(w, "nope", http.StatusForbidden)
			return
		}
		if r.Method == http.MethodDelete && cs.goneDelete.Load() {
			http.Error(w, "gone", http.StatusNotFound)
			return
		}
		switch r.Method {
		case http.MethodPost:
			w.WriteHeader(http.StatusCreated)
			fmt.Fprintf(w, `{"id":"act-%d"}`, cs.next.Add(1))
		case http.MethodPut:
			fmt.Fprint(w, `{"id":"updated"}`)
		default:
			w.WriteHeader(http.StatusOK)
		}
	})
	cs.srv = httptest.NewServer(mux)
	t.Cleanup(cs.srv.Close)
	return cs
}

func (cs *connectorStub) requests() []recorded {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	return slices.Clone(cs.reqs)
}

// fakeSink records what the channel delivers.
type fakeSink struct {
	mu        sync.Mutex
	delivered []bot.Inbound
	decisions []bot.Decision
	deliverFn func(bot.Inbound) error
	decideFn  func(bot.Decision) (bot.DecisionResult, error)
}

func (s *fakeSink) Deliver(_ context.Context, in bot.Inbound) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.deliverFn != nil {
		if err := s.deliverFn(in); err != nil {
			return err
		}
	}
	s.delivered = append(s.delivered, in)
	return nil
}

func (s *fakeSink) Receipt(context.Context, bot.Receipt) error { return nil }

func (s *fakeSink) Decide(_ context.Context, d bot.Decision) (bot.DecisionResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.decisions = append(s.decisions, d)
	if s.decideFn != nil {
		return s.decideFn(d)
	}
	return bot.DecisionResult{Outcome: bot.Applied, Card: bot.Card{DraftID: d.DraftID, Status: bot.DraftApproved, DecidedBy: d.ByName, DecidedAt: d.At}}, nil
}

func (s *fakeSink) Revoke(context.Context, bot.Platform, bot.ChatID, bot.Identity, bot.MessageID) error {
	return nil
}

func (s *fakeSink) got() ([]bot.Inbound, []bot.Decision) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.delivered), slices.Clone(s.decisions)
}

// env is a running channel wired to a loopback issuer and connector.
type env struct {
	ch    *Channel
	iss   *issuer // the Bot Framework's
	tiss  *issuer // the tenant's
	conn  *connectorStub
	sink  *fakeSink
	state *memState
	log   *bottest.LogBuffer
	seq   atomic.Int64 // numbers the activities say sends
}

func newEnv(t testing.TB, mod func(*Options)) *env {
	t.Helper()
	e := &env{iss: newIssuer(t), tiss: newTenantIssuer(t), conn: newConnector(t), sink: &fakeSink{}, state: newMemState(), log: &bottest.LogBuffer{}}
	opts := Options{
		Log:            zerolog.New(e.log),
		AppID:          testAppID,
		AppPassword:    testSecret,
		TenantID:       testTenant,
		Admins:         []string{adminAAD},
		State:          e.state,
		OpenIDMetadata: []string{e.iss.srv.URL + "/openid", e.tiss.srv.URL + "/openid"},
		TokenURL:       e.conn.srv.URL + "/token",
		HTTPClient:     &http.Client{Timeout: 5 * time.Second},
	}
	if mod != nil {
		mod(&opts)
	}
	ch, err := New(opts)
	require.NoError(t, err)
	e.ch = ch
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ch.Run(ctx, e.sink) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
	require.Eventually(t, func() bool { return ch.currentSink() != nil }, 5*time.Second, time.Millisecond)
	return e
}

// claims returns valid claims for the env.
func (e *env) claims() jwt.MapClaims {
	now := time.Now()
	return jwt.MapClaims{
		"iss":        BotFrameworkIssuer,
		"aud":        testAppID,
		"serviceurl": e.conn.srv.URL,
		"exp":        now.Add(time.Hour).Unix(),
		"nbf":        now.Add(-time.Minute).Unix(),
	}
}

// token signs valid claims with the published key.
func (e *env) token(t testing.TB) string {
	return sign(t, e.claims(), "k1", rsaKeys()[0])
}

// activity loads testdata/name with the connector's service URL, applying
// edits to the decoded JSON.
func (e *env) activity(t testing.TB, name string, edit func(map[string]any)) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	b = []byte(strings.ReplaceAll(string(b), "{{serviceUrl}}", e.conn.srv.URL))
	if edit == nil {
		return b
	}
	var m map[string]any
	require.NoError(t, json.Unmarshal(b, &m))
	edit(m)
	b, err = json.Marshal(m)
	require.NoError(t, err)
	return b
}

// post sends body to the handler with the bearer token (none if empty).
func (e *env) post(body []byte, token string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, "/api/messages", strings.NewReader(string(body)))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	e.ch.Handler().ServeHTTP(rec, req)
	return rec
}

// memState is the in-memory State for tests.
type memState struct {
	mu       sync.Mutex
	staff    *Conversation
	admins   []string
	handled  []string
	snippets []Snippet
	threads  map[bot.SubjectID]thread
	err      error
}

func newMemState() *memState { return &memState{} }

func (m *memState) StaffConversation(context.Context) (Conversation, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err != nil {
		return Conversation{}, m.err
	}
	if m.staff == nil {
		return Conversation{}, bot.ErrNotFound
	}
	return *m.staff, nil
}

func (m *memState) SetStaffConversation(_ context.Context, c Conversation) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err != nil {
		return m.err
	}
	m.staff = &c
	return nil
}

func (m *memState) Admins(context.Context) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.admins), m.err
}

func (m *memState) AddAdmin(_ context.Context, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !slices.Contains(m.admins, id) {
		m.admins = append(m.admins, id)
	}
	return m.err
}

func (m *memState) RemoveAdmin(_ context.Context, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.admins = slices.DeleteFunc(m.admins, func(s string) bool { return s == id })
	return m.err
}

func (m *memState) ClaimActivity(_ context.Context, key string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err != nil {
		return false, m.err
	}
	if slices.Contains(m.handled, key) {
		return false, nil
	}
	m.handled = append(m.handled, key)
	return true, nil
}

func (m *memState) Snippets(context.Context) ([]Snippet, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.snippets), m.err
}

func (m *memState) SetSnippet(_ context.Context, sn Snippet) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err != nil {
		return m.err
	}
	m.snippets = slices.DeleteFunc(m.snippets, func(x Snippet) bool { return x.Name == sn.Name })
	m.snippets = append(m.snippets, sn)
	slices.SortFunc(m.snippets, func(a, b Snippet) int { return strings.Compare(a.Name, b.Name) })
	return nil
}

func (m *memState) RemoveSnippet(_ context.Context, name string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := len(m.snippets)
	m.snippets = slices.DeleteFunc(m.snippets, func(x Snippet) bool { return x.Name == name })
	return len(m.snippets) < n, m.err
}

func (m *memState) Thread(_ context.Context, conv string, subject bot.SubjectID) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if t, ok := m.threads[subject]; ok && t.Conv == conv {
		return t.Root, m.err
	}
	return "", m.err
}

func (m *memState) SetThread(_ context.Context, conv string, subject bot.SubjectID, root string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err != nil {
		return m.err
	}
	if m.threads == nil {
		m.threads = map[bot.SubjectID]thread{}
	}
	m.threads[subject] = thread{Conv: conv, Root: root}
	return nil
}

func (m *memState) ForgetThreads(_ context.Context, subject bot.SubjectID) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.threads, subject)
	return m.err
}

var _ State = (*memState)(nil)

func newRequest(body []byte) *http.Request {
	req := httptest.NewRequest(http.MethodPost, "/api/messages", strings.NewReader(string(body)))
	req.Header.Set("Content-Type", "application/json")
	return req
}

func serve(e *env, req *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	e.ch.Handler().ServeHTTP(rec, req)
	return rec
}

// httpRecorder posts body to ch's handler.
func httpRecorder(ch *Channel, body []byte, token string) *httptest.ResponseRecorder {
	req := newRequest(body)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	ch.Handler().ServeHTTP(rec, req)
	return rec
}
