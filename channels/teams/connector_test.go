package teams

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboard/switchboard/bot"
)

func TestTokenURL(t *testing.T) {
	assert.Equal(t, "https://login.microsoftonline.com/botframework.com/oauth2/v2.0/token", TokenURL(""))
	assert.Equal(t, "https://login.microsoftonline.com/"+testTenant+"/oauth2/v2.0/token", TokenURL(testTenant))
}

func TestSendUsesCachedToken(t *testing.T) {
	e := newEnv(t, nil)
	chat := Conversation{ServiceURL: e.conn.srv.URL, ID: "a:1x"}.chatID()
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id, err := e.ch.Send(t.Context(), bot.Outbound{Chat: chat, Text: "Your order is ready", ReplyTo: "m1"})
			assert.NoError(t, err)
			assert.NotEmpty(t, id)
		}()
	}
	wg.Wait()
	assert.Equal(t, int32(1), e.conn.tokenHits.Load(), "one token for all sends")
	reqs := e.conn.requests()
	require.Len(t, reqs, 8)
	assert.Equal(t, http.MethodPost, reqs[0].Method)
	assert.Equal(t, "/v3/conversations/a:1x/activities", reqs[0].Path)
	assert.Equal(t, "Your order is ready", reqs[0].Body["text"])
	assert.Equal(t, "m1", reqs[0].Body["replyToId"])
	assert.Equal(t, "message", reqs[0].Body["type"])
}

func TestTokenRefreshedBeforeExpiry(t *testing.T) {
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	e := newEnv(t, func(o *Options) {
		o.Now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	})
	chat := Conversation{ServiceURL: e.conn.srv.URL, ID: "a:1x"}.chatID()
	_, err := e.ch.Send(t.Context(), bot.Outbound{Chat: chat, Text: "one"})
	require.NoError(t, err)
	mu.Lock()
	now = now.Add(50 * time.Minute) // ten minutes left: the cached token is used
	mu.Unlock()
	_, err = e.ch.Send(t.Context(), bot.Outbound{Chat: chat, Text: "again"})
	require.NoError(t, err)
	assert.Equal(t, int32(1), e.conn.tokenHits.Load())
	mu.Lock()
	now = now.Add(5 * time.Minute) // 3599 s token: under five minutes left
	mu.Unlock()
	_, err = e.ch.Send(t.Context(), bot.Outbound{Chat: chat, Text: "two"})
	require.NoError(t, err)
	assert.Equal(t, int32(2), e.conn.tokenHits.Load())
}

func TestSendErrors(t *testing.T) {
	e := newEnv(t, nil)
	chat := Conversation{ServiceURL: e.conn.srv.URL, ID: "a:1x"}.chatID()
	t.Run("File", func(t *testing.T) {
		_, err := e.ch.Send(t.Context(), bot.Outbound{Chat: chat, File: &bot.File{Name: "x.json"}})
		assert.ErrorIs(t, err, bot.ErrUnsupported)
	})
	t.Run("BadChat", func(t *testing.T) {
		_, err := e.ch.Send(t.Context(), bot.Outbound{Chat: "whatsapp-chat", Text: "x"})
		assert.ErrorIs(t, err, bot.ErrUnsupported)
	})
	t.Run("TooLong", func(t *testing.T) {
		_, err := e.ch.Send(t.Context(), bot.Outbound{Chat: chat, Text: string(make([]byte, 30000))})
		assert.ErrorIs(t, err, bot.ErrTooLarge)
		assert.ErrorIs(t, err, bot.ErrUnsupported, "refused for good: not retried, not in doubt")
		_, err = e.ch.Send(t.Context(), bot.Outbound{Chat: chat, Text: string(make([]byte, 30000)), File: &bot.File{Name: "x.json", Data: []byte("{}")}})
		assert.ErrorIs(t, err, bot.ErrTooLarge)
		assert.ErrorIs(t, err, bot.ErrUnsupported)
		assert.Empty(t, e.conn.requests())
	})
	t.Run("ConnectorRefuses", func(t *testing.T) {
		e.conn.failAll.Store(true)
		defer e.conn.failAll.Store(false)
		_, err := e.ch.Send(t.Context(), bot.Outbound{Chat: chat, Text: "secret text"})
		require.Error(t, err)
		assert.Contains(t, err.Error(), "status 403")
		assert.NotContains(t, err.Error(), "secret text")
	})
}

func TestTokenEndpointFailures(t *testing.T) {
	tests := []struct {
		name    string
		handler http.HandlerFunc
		want    string
	}{
		{name: "Status", handler: func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, `{"error":"invalid_client","error_description":"AADSTS700016"}`, http.StatusBadRequest)
		}, want: "status 400"},
		{name: "NoToken", handler: func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(`{"expires_in":3600}`)) }, want: "no access_token"},
		{name: "Garbage", handler: func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(`<html>`)) }, want: "token response"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(tc.handler)
			defer srv.Close()
			e := newEnv(t, func(o *Options) { o.TokenURL = srv.URL })
			_, err := e.ch.Send(t.Context(), bot.Outbound{Chat: Conversation{ServiceURL: e.conn.srv.URL, ID: "a:1x"}.chatID(), Text: "x"})
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			assert.Empty(t, e.conn.requests(), "nothing is sent without a token")
		})
	}
	t.Run("Unreachable", func(t *testing.T) {
		e := newEnv(t, func(o *Options) { o.TokenURL = "http://127.0.0.1:1/token" })
		_, err := e.ch.Send(t.Context(), bot.Outbound{Chat: Conversation{ServiceURL: e.conn.srv.URL, ID: "a:1x"}.chatID(), Text: "x"})
		require.Error(t, err)
	})
}

func TestDevWithoutAppIDSendsNoToken(t *testing.T) {
	var got []string
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r.Header.Get("Authorization"))
		mu.Unlock()
		w.Write([]byte(`{"id":"1"}`))
	}))
	defer srv.Close()
	ch, err := New(Options{Dev: true, ListenAddr: "127.0.0.1:3978", State: newMemState()})
	require.NoError(t, err)
	_, err = ch.Send(context.Background(), bot.Outbound{Chat: Conversation{ServiceURL: srv.URL, ID: "c"}.chatID(), Text: "x"})
	require.NoError(t, err)
	assert.Equal(t, []string{""}, got)
}

func TestNew(t *testing.T) {
	base := Options{AppID: testAppID, AppPassword: testSecret, State: newMemState()}
	tests := []struct {
		name string
		mod  func(*Options)
		ok   bool
	}{
		{name: "OK", mod: func(*Options) {}, ok: true},
		{name: "NoState", mod: func(o *Options) { o.State = nil }},
		{name: "NoAppID", mod: func(o *Options) { o.AppID = "" }},
		{name: "NoPassword", mod: func(o *Options) { o.AppPassword = "" }},
		{name: "BadTenant", mod: func(o *Options) { o.TenantID = "a/b" }},
		{name: "BadAdmin", mod: func(o *Options) { o.Admins = []string{"has space"} }},
		{name: "BlankAdminsSkipped", mod: func(o *Options) { o.Admins = []string{"", " ", adminAAD} }, ok: true},
		{name: "DevLoopback", mod: func(o *Options) { *o = Options{Dev: true, ListenAddr: "127.0.0.1:3978", State: newMemState()} }, ok: true},
		{name: "DevLocalhost", mod: func(o *Options) { *o = Options{Dev: true, ListenAddr: "localhost:3978", State: newMemState()} }, ok: true},
		{name: "DevIPv6Loopback", mod: func(o *Options) { *o = Options{Dev: true, ListenAddr: "[::1]:3978", State: newMemState()} }, ok: true},
		{name: "DevAllInterfaces", mod: func(o *Options) { *o = Options{Dev: true, ListenAddr: ":3978", State: newMemState()} }},
		{name: "DevPublic", mod: func(o *Options) { *o = Options{Dev: true, ListenAddr: "0.0.0.0:3978", State: newMemState()} }},
		{name: "DevNoAddr", mod: func(o *Options) { *o = Options{Dev: true, State: newMemState()} }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := base
			tc.mod(&o)
			_, err := New(o)
			if tc.ok {
				assert.NoError(t, err)
			} else {
				assert.Error(t, err)
			}
		})
	}
}

func TestDevModeAcceptsUnsigned(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.Dev, o.ListenAddr = true, "127.0.0.1:3978" })
	assert.Equal(t, http.StatusOK, e.post(e.activity(t, "message_personal.json", nil), "").Code)
	got, _ := e.sink.got()
	assert.Len(t, got, 1)
	assert.Contains(t, e.log.String(), "TEAMS DEV MODE")
}

func TestUnsignedRefusedOutsideDev(t *testing.T) {
	e := newEnv(t, nil)
	assert.Equal(t, http.StatusUnauthorized, e.post(e.activity(t, "message_personal.json", nil), "").Code)
}
