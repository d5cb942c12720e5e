package teams

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/infracloudio/msbotbuilder-go/connector/auth"
	"github.com/infracloudio/msbotbuilder-go/core"
	"github.com/infracloudio/msbotbuilder-go/schema"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboard/switchboard/bot"
)

// failingTransport fails every request, as an unreachable endpoint does.
type failingTransport struct{}

func (failingTransport) RoundTrip(*http.Request) (*http.Response, error) {
	return nil, errors.New("connection refused")
}

func TestAdapterPanicBecomesError(t *testing.T) {
	e := newEnv(t, nil)
	chat := Conversation{ServiceURL: e.conn.srv.URL, ID: "a:1x"}.chatID()
	conv, err := parseChatID(string(chat))
	require.NoError(t, err)
	t.Run("SDKPanicsOnUnreachableTokenEndpoint", func(t *testing.T) {
		// The SDK's own behaviour without our AuthClient: it dereferences the
		// nil response of the failed token request. call recovers.
		ad, err := core.NewBotAdapter(core.AdapterSetting{AppID: testAppID, AppPassword: testSecret,
			AuthClient: &http.Client{Transport: failingTransport{}}})
		require.NoError(t, err)
		ex, err := newExchange(http.MethodDelete, conv, "1")
		require.NoError(t, err)
		err = e.ch.conn.call(t.Context(), ex, func(ctx context.Context, _ core.Adapter) error {
			return ad.DeleteActivity(ctx, "1", conv.reference(""))
		})
		require.Error(t, err)
		assert.Contains(t, err.Error(), "panicked")
	})
	t.Run("AnyPanic", func(t *testing.T) {
		ex, err := newExchange(http.MethodPost, conv, "")
		require.NoError(t, err)
		err = e.ch.conn.call(t.Context(), ex, func(context.Context, core.Adapter) error { panic("boom") })
		require.Error(t, err)
		assert.NotContains(t, err.Error(), "boom")
	})
	// The adapter is free again afterwards.
	id, err := e.ch.Send(t.Context(), bot.Outbound{Chat: chat, Text: "still works"})
	require.NoError(t, err)
	assert.NotEmpty(t, id)
}

func TestTokenTransport(t *testing.T) {
	e := newEnv(t, nil)
	tt := &tokenTransport{tokens: e.ch.conn.tokens}
	ask := func(t *testing.T, u string, ex *exchange) (schema.AuthResponse, error) {
		t.Helper()
		ctx := t.Context()
		if ex != nil {
			ctx = context.WithValue(ctx, exchangeKey{}, ex)
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader("grant_type=client_credentials"))
		require.NoError(t, err)
		resp, err := tt.RoundTrip(req)
		require.NoError(t, err, "never a transport error: the SDK would dereference a nil response")
		require.NotNil(t, resp)
		defer resp.Body.Close()
		var ar schema.AuthResponse
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return ar, json.Unmarshal(b, &ar)
	}
	t.Run("SDKTokenURLAnsweredLocally", func(t *testing.T) {
		ex := &exchange{}
		ar, err := ask(t, auth.ToChannelFromBotLoginURL[0], ex)
		require.NoError(t, err)
		assert.Equal(t, "tok-1", ar.AccessToken)
		assert.Zero(t, ar.ExpireTime, "the SDK's own cache must not keep the token")
		assert.NoError(t, ex.err)
		assert.Equal(t, int32(1), e.conn.tokenHits.Load(), "fetched from our token endpoint")
	})
	t.Run("OtherURLRefused", func(t *testing.T) {
		ex := &exchange{}
		_, err := ask(t, "https://evil.example/token", ex)
		assert.Error(t, err, "the SDK cannot decode the refusal, so it sends nothing")
		assert.Error(t, ex.err)
	})
	t.Run("OutsideACall", func(t *testing.T) {
		_, err := ask(t, auth.ToChannelFromBotLoginURL[0], nil)
		assert.Error(t, err)
	})
}

func TestConnectorTargets(t *testing.T) {
	e := newEnv(t, nil)
	t.Run("IDsEscaped", func(t *testing.T) {
		_, err := e.ch.Send(t.Context(), bot.Outbound{Chat: Conversation{ServiceURL: e.conn.srv.URL, ID: "a/b c"}.chatID(), Text: "x"})
		require.NoError(t, err)
		reqs := e.conn.requests()
		require.NotEmpty(t, reqs)
		assert.Equal(t, "/v3/conversations/a%2Fb%20c/activities", reqs[len(reqs)-1].Path)
	})
	t.Run("DotDotRefused", func(t *testing.T) {
		n := len(e.conn.requests())
		ref := bot.CardRef{Conversation: string(Conversation{ServiceURL: e.conn.srv.URL, ID: "a:1x"}.chatID()), ActivityID: ".."}
		err := e.ch.UpdateCard(t.Context(), ref, bot.Card{DraftID: 1})
		require.Error(t, err)
		assert.Contains(t, err.Error(), "not the one expected")
		assert.NotContains(t, err.Error(), "a:1x", "errors do not quote conversation ids")
		ref.Conversation = string(Conversation{ServiceURL: e.conn.srv.URL, ID: "x/../../y"}.chatID())
		ref.ActivityID = "1"
		require.Error(t, e.ch.UpdateCard(t.Context(), ref, bot.Card{DraftID: 1}))
		assert.Len(t, e.conn.requests(), n, "nothing was sent elsewhere")
	})
	t.Run("ServiceURLTheSDKWouldCleanRefused", func(t *testing.T) {
		_, err := e.ch.Send(t.Context(), bot.Outbound{Chat: Conversation{ServiceURL: e.conn.srv.URL + "/v3/../", ID: "a:1x"}.chatID(), Text: "x"})
		assert.Error(t, err, "a service URL the SDK would clean is refused")
	})
}

func TestConnectorStatuses(t *testing.T) {
	var mu sync.Mutex
	status := http.StatusNoContent
	body := ""
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}))
	defer srv.Close()
	set := func(s int, b string) { mu.Lock(); status, body = s, b; mu.Unlock() }
	c := newBotConnector("", "", nil, srv.Client())
	conv := Conversation{ServiceURL: srv.URL, ID: "c"}

	set(http.StatusNoContent, "")
	assert.NoError(t, c.remove(t.Context(), conv, "1"), "any 2xx is success (the SDK accepts only 200, 201, 202)")
	set(http.StatusOK, "")
	id, err := c.send(t.Context(), conv, "", textMessage("x")...)
	assert.NoError(t, err, "an empty 200 is not an error")
	assert.Empty(t, id)
	set(http.StatusCreated, `{"id":`)
	_, err = c.send(t.Context(), conv, "", textMessage("x")...)
	assert.ErrorContains(t, err, "decode response")
	set(http.StatusNotFound, `{"error":{"message":"conversation c not found"}}`)
	err = c.update(t.Context(), conv, "1", textMessage("x")...)
	assert.ErrorContains(t, err, "status 404")
	assert.NotContains(t, err.Error(), "not found")
}
