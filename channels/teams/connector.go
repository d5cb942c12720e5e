package teams

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/infracloudio/msbotbuilder-go/connector/auth"
	"github.com/infracloudio/msbotbuilder-go/core"
	bfactivity "github.com/infracloudio/msbotbuilder-go/core/activity"
	"github.com/infracloudio/msbotbuilder-go/schema"

	"github.com/switchboard/switchboard/bot"
)

// TokenURL returns the client-credentials token endpoint for a tenant. An
// empty tenant gives the multi-tenant Bot Framework authority; single tenant
// bots (all new bots since mid 2025) must use their own tenant.
func TokenURL(tenant string) string {
	if tenant == "" {
		tenant = "botframework.com"
	}
	return "https://login.microsoftonline.com/" + url.PathEscape(tenant) + "/oauth2/v2.0/token"
}

// botScope is the scope of tokens for the Bot Connector service.
const botScope = "https://api.botframework.com/.default"

// tokenSource gets and caches client-credentials tokens. Safe for
// concurrent use; one fetch at a time.
type tokenSource struct {
	url, id, secret string
	client          *http.Client
	now             func() time.Time

	mu     sync.Mutex
	token  string
	expiry time.Time
}

// get returns a token valid for at least five more minutes.
func (s *tokenSource) get(ctx context.Context) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.token != "" && s.now().Add(5*time.Minute).Before(s.expiry) {
		return s.token, nil
	}
	form := url.Values{
		"grant_type":    {"client_credentials"},
		"client_id":     {s.id},
		"client_secret": {s.secret},
		"scope":         {botScope},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, strings.NewReader(form.Encode()))
	if err != nil {
		return "", fmt.Errorf("token request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := s.client.Do(req)
	if err != nil {
		return "", fmt.Errorf("token request: %w", scrubURLError(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("token request: status %d", resp.StatusCode)
	}
	var body struct {
		AccessToken string          `json:"access_token"`
		ExpiresIn   json.RawMessage `json:"expires_in"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&body); err != nil {
		return "", fmt.Errorf("token response: %w", err)
	}
	var secs float64
	if err := json.Unmarshal(bytes.Trim(body.ExpiresIn, `"`), &secs); err != nil || secs <= 0 {
		secs = 3600
	}
	if body.AccessToken == "" {
		return "", errors.New("token response: no access_token")
	}
	s.token, s.expiry = body.AccessToken, s.now().Add(time.Duration(secs)*time.Second)
	return s.token, nil
}

// connector sends, updates and deletes activities through msbotbuilder-go's
// Bot Framework adapter (core.NewBotAdapter), guarding against the SDK's
// known flaws:
//
//   - Its connector client fetches tokens from the hard-coded multi-tenant
//     authority, caches them without a lock or clock skew, and dereferences a
//     nil response when the token endpoint is unreachable. Our AuthClient
//     (tokenTransport) answers the SDK's token request itself from
//     tokenSource (tenant authority, mutex, five minutes of skew) and never
//     returns a transport error, so the SDK never reaches Microsoft and never
//     sees an unreachable endpoint; it tells the SDK the token expires at
//     once, so the SDK's own cache never holds one.
//   - The token cache races even so (the SDK writes it on every call): sem
//     lets one call into the adapter at a time.
//   - Any other panic inside the SDK is recovered and becomes an error.
//   - Post drops the connector's answer, which holds the id of the posted
//     activity: our ReplyClient (replyTransport) reads it from the response.
//   - The SDK joins ids into the URL with path.Join, unescaped: the transport
//     checks that the SDK aimed at the resource we meant (a ".." or "/" in an
//     id cannot move the request elsewhere) and sends it with the ids escaped
//     as the official SDKs do.
//   - Its errors quote URLs (conversation ids): callers get ours instead,
//     built from what the transports saw.
type connector struct {
	appID, password string
	tokens          *tokenSource // nil: no app credentials (dev mode); requests carry no Authorization
	client          *http.Client // does the actual HTTP; its Timeout bounds every request

	sem     chan struct{} // held while calling into the adapter
	adapter core.Adapter  // built on first use, under sem
}

// newBotConnector returns a connector; the adapter is built on first use.
func newBotConnector(appID, password string, tokens *tokenSource, client *http.Client) *connector {
	return &connector{appID: appID, password: password, tokens: tokens, client: client, sem: make(chan struct{}, 1)}
}

// statusError is a non-2xx answer from the connector.
type statusError struct{ status int }

func (e *statusError) Error() string { return fmt.Sprintf("connector: status %d", e.status) }

// activitiesURL builds {serviceUrl}/v3/conversations/{id}/activities[/{activityId}].
func activitiesURL(conv Conversation, activityID string) (string, error) {
	if err := checkServiceURL(conv.ServiceURL); err != nil {
		return "", err
	}
	if conv.ID == "" || len(conv.ID) > maxConvID {
		return "", fmt.Errorf("%w: bad conversation id", errBadActivity)
	}
	u := strings.TrimSuffix(conv.ServiceURL, "/") + "/v3/conversations/" + url.PathEscape(conv.ID) + "/activities"
	if activityID != "" {
		u += "/" + url.PathEscape(activityID)
	}
	return u, nil
}

// exchange is one request the adapter is expected to make for a call, and
// what the transports observed. It travels in the request context; the
// transports run inside the call, under sem.
type exchange struct {
	method string
	target *url.URL // the resource, with ids escaped

	sent   bool   // the request went to the connector
	status int    // the connector's status
	id     string // the id in the connector's answer to a POST
	err    error  // a token, transport or decoding failure, fit for logs
}

// exchangeKey is the context key of the current *exchange.
type exchangeKey struct{}

func newExchange(method string, conv Conversation, activityID string) (*exchange, error) {
	s, err := activitiesURL(conv, activityID)
	if err != nil {
		return nil, err
	}
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("%w: bad service URL", errBadActivity)
	}
	return &exchange{method: method, target: u}, nil
}

// matches reports whether the SDK's request is for the expected resource:
// same method, scheme, host and decoded path.
func (ex *exchange) matches(req *http.Request) bool {
	return req.Method == ex.method && req.URL.Scheme == ex.target.Scheme && req.URL.Host == ex.target.Host &&
		req.URL.Path == ex.target.Path && req.URL.RawQuery == ""
}

// reference is the SDK's conversation reference for conv. replyTo, if set,
// becomes the replyToId of what is sent.
func (conv Conversation) reference(replyTo string) schema.ConversationReference {
	return schema.ConversationReference{
		ActivityID:   replyTo,
		Bot:          schema.ChannelAccount{ID: conv.BotID},
		Conversation: schema.ConversationAccount{ID: conv.ID, TenantID: conv.TenantID, ConversationType: conv.Type},
		ServiceURL:   conv.ServiceURL,
	}
}

// plainText marks a message's text as plain (no markdown from customers).
func plainText(a *schema.Activity) error {
	a.TextFormat = schema.PLAIN
	return nil
}

// textMessage is the options of a plain text message.
func textMessage(text string) []bfactivity.MsgOption {
	return []bfactivity.MsgOption{bfactivity.MsgOptionText(text), plainText}
}

// cardMessage is the options of a message carrying one Adaptive Card.
func cardMessage(card bot.Card, v view) []bfactivity.MsgOption {
	return []bfactivity.MsgOption{bfactivity.MsgOptionAttachments([]schema.Attachment{cardAttachment(card, v)})}
}

// send posts a message into conv (a reply to replyTo, if set) and returns
// the id of the posted activity. It goes through the adapter's
// ProactiveMessage: the SDK builds the turn from the reference, our handler
// builds the message with the turn's SendActivity, and the SDK posts it.
func (c *connector) send(ctx context.Context, conv Conversation, replyTo string, opts ...bfactivity.MsgOption) (string, error) {
	ex, err := newExchange(http.MethodPost, conv, "")
	if err != nil {
		return "", fmt.Errorf("send activity: %w", err)
	}
	handler := bfactivity.HandlerFuncs{OnMessageFunc: func(turn *bfactivity.TurnContext) (schema.Activity, error) {
		return turn.SendActivity(opts...)
	}}
	err = c.call(ctx, ex, func(ctx context.Context, ad core.Adapter) error {
		return ad.ProactiveMessage(ctx, conv.reference(replyTo), handler)
	})
	if err != nil {
		return "", fmt.Errorf("send activity: %w", err)
	}
	return ex.id, nil
}

// update replaces a posted activity (the adapter's UpdateActivity).
func (c *connector) update(ctx context.Context, conv Conversation, id string, opts ...bfactivity.MsgOption) error {
	if id == "" {
		return fmt.Errorf("update activity: %w: no activity id", errBadActivity)
	}
	ex, err := newExchange(http.MethodPut, conv, id)
	if err != nil {
		return fmt.Errorf("update activity: %w", err)
	}
	act := bfactivity.ApplyConversationReference(schema.Activity{Type: schema.Message}, conv.reference(""), false)
	for _, o := range opts {
		if err := o(&act); err != nil {
			return fmt.Errorf("update activity: %w", err)
		}
	}
	act.ID = id
	err = c.call(ctx, ex, func(ctx context.Context, ad core.Adapter) error { return ad.UpdateActivity(ctx, act) })
	if err != nil {
		return fmt.Errorf("update activity: %w", err)
	}
	return nil
}

// remove deletes a posted activity (the adapter's DeleteActivity).
func (c *connector) remove(ctx context.Context, conv Conversation, id string) error {
	if id == "" {
		return fmt.Errorf("delete activity: %w: no activity id", errBadActivity)
	}
	ex, err := newExchange(http.MethodDelete, conv, id)
	if err != nil {
		return fmt.Errorf("delete activity: %w", err)
	}
	err = c.call(ctx, ex, func(ctx context.Context, ad core.Adapter) error {
		return ad.DeleteActivity(ctx, id, conv.reference(""))
	})
	if err != nil {
		return fmt.Errorf("delete activity: %w", err)
	}
	return nil
}

// call runs fn against the adapter, one call at a time, with ex in the
// context for the transports. A panic in the SDK becomes an error. The
// result is judged from what the transports saw: any 2xx is success (the SDK
// accepts only 200, 201 and 202), and our errors replace the SDK's, which
// quote URLs.
func (c *connector) call(ctx context.Context, ex *exchange, fn func(context.Context, core.Adapter) error) (err error) {
	select {
	case c.sem <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("connector: %w", ctx.Err())
	}
	defer func() { <-c.sem }()
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("connector: bot adapter panicked (%T)", p)
			if ex.err != nil {
				err = fmt.Errorf("%w (after: %w)", err, ex.err)
			}
		}
	}()
	ad, err := c.adapterLocked()
	if err != nil {
		return err
	}
	sdkErr := fn(context.WithValue(ctx, exchangeKey{}, ex), ad)
	switch {
	case ex.err != nil:
		return ex.err
	case ex.sent && (ex.status < 200 || ex.status > 299):
		return &statusError{status: ex.status}
	case ex.sent:
		return nil
	case sdkErr != nil:
		return errors.New("connector: the bot adapter did not send the request")
	default:
		return errors.New("connector: the bot adapter sent nothing")
	}
}

// adapterLocked returns the adapter, building it on first use. sem is held.
func (c *connector) adapterLocked() (core.Adapter, error) {
	if c.adapter != nil {
		return c.adapter, nil
	}
	ad, err := core.NewBotAdapter(core.AdapterSetting{
		AppID:       c.appID,
		AppPassword: c.password,
		AuthClient:  &http.Client{Transport: &tokenTransport{tokens: c.tokens}, Timeout: c.client.Timeout},
		ReplyClient: &http.Client{Transport: &replyTransport{client: c.client, anonymous: c.tokens == nil}, Timeout: c.client.Timeout},
	})
	if err != nil {
		return nil, fmt.Errorf("connector: bot adapter: %w", err)
	}
	c.adapter = ad
	return ad, nil
}

// tokenTransport is the adapter's AuthClient transport. It answers the
// SDK's client-credentials request from tokenSource and never returns an
// error (the SDK dereferences the nil response of a failed request): on
// failure it records the error in the exchange and answers a body that is not
// JSON, which makes the SDK give up before sending anything.
type tokenTransport struct {
	tokens *tokenSource // nil: an empty token (dev mode without app id)
}

// RoundTrip implements http.RoundTripper.
func (t *tokenTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		_ = req.Body.Close()
	}
	ex, _ := req.Context().Value(exchangeKey{}).(*exchange)
	fail := func(err error) (*http.Response, error) {
		if ex != nil && ex.err == nil {
			ex.err = err
		}
		return syntheticResponse(req, []byte("token unavailable")), nil
	}
	if ex == nil || req.Method != http.MethodPost || req.URL.String() != auth.ToChannelFromBotLoginURL[0] {
		return fail(errors.New("token request: unexpected request from the bot adapter"))
	}
	var tok string
	if t.tokens != nil {
		var err error
		if tok, err = t.tokens.get(req.Context()); err != nil {
			return fail(err)
		}
	}
	// expires_in 0: the SDK's cache expires at once and asks again next call.
	b, err := json.Marshal(schema.AuthResponse{TokenType: "Bearer", AccessToken: tok})
	if err != nil {
		return fail(fmt.Errorf("token response: %w", err))
	}
	return syntheticResponse(req, b), nil
}

func syntheticResponse(req *http.Request, body []byte) *http.Response {
	return &http.Response{
		Status:        "200 OK",
		StatusCode:    http.StatusOK,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        http.Header{"Content-Type": {"application/json"}},
		Body:          io.NopCloser(bytes.NewReader(body)),
		ContentLength: int64(len(body)),
		Request:       req,
	}
}

// replyTransport is the adapter's ReplyClient transport. It sends only the
// request the current exchange expects (escaping its ids), records the status
// and, for a POST, the id of the posted activity, which the SDK drops.
type replyTransport struct {
	client    *http.Client
	anonymous bool // no app credentials: drop the SDK's empty "Bearer " header
}

// RoundTrip implements http.RoundTripper.
func (t *replyTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ex, _ := req.Context().Value(exchangeKey{}).(*exchange)
	if ex == nil || ex.sent || !ex.matches(req) {
		if req.Body != nil {
			_ = req.Body.Close()
		}
		err := errors.New("connector: the bot adapter's request is not the one expected")
		if ex != nil && ex.err == nil {
			ex.err = err
		}
		return nil, err
	}
	out := req.Clone(req.Context())
	u := *ex.target
	out.URL, out.Host = &u, ""
	if t.anonymous {
		out.Header.Del("Authorization")
	}
	ex.sent = true
	resp, err := t.client.Do(out)
	if err != nil {
		ex.err = fmt.Errorf("connector: %s: %w", req.Method, scrubURLError(err))
		return nil, ex.err
	}
	ex.status = resp.StatusCode
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	if err != nil {
		ex.err = fmt.Errorf("connector: read response: %w", err)
		return nil, ex.err
	}
	resp.Body = io.NopCloser(bytes.NewReader(b))
	// Some connectors answer 200 with an empty body; that is not an error.
	if ex.method == http.MethodPost && resp.StatusCode/100 == 2 && len(bytes.TrimSpace(b)) > 0 {
		var res schema.ResourceResponse
		if err := json.Unmarshal(b, &res); err != nil {
			ex.err = fmt.Errorf("connector: decode response: %w", err)
		}
		ex.id = res.ID
	}
	return resp, nil
}

// scrubURLError drops the URL (it holds conversation ids) from a transport
// error, keeping the cause.
func scrubURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s: %w", ue.Op, ue.Err)
	}
	return err
}
