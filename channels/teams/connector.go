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

// connector speaks the Bot Connector REST API.
type connector struct {
	client *http.Client
	tokens *tokenSource // nil: send no Authorization (dev mode without app id)
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

// send POSTs an activity into a conversation and returns its id.
func (c *connector) send(ctx context.Context, conv Conversation, act outActivity) (string, error) {
	u, err := activitiesURL(conv, "")
	if err != nil {
		return "", fmt.Errorf("send activity: %w", err)
	}
	var res struct {
		ID string `json:"id"`
	}
	if err := c.do(ctx, http.MethodPost, u, act, &res); err != nil {
		return "", fmt.Errorf("send activity: %w", err)
	}
	return res.ID, nil
}

// update PUTs a new version of a posted activity.
func (c *connector) update(ctx context.Context, conv Conversation, id string, act outActivity) error {
	if id == "" {
		return fmt.Errorf("update activity: %w: no activity id", errBadActivity)
	}
	u, err := activitiesURL(conv, id)
	if err != nil {
		return fmt.Errorf("update activity: %w", err)
	}
	act.ID = id
	if err := c.do(ctx, http.MethodPut, u, act, nil); err != nil {
		return fmt.Errorf("update activity: %w", err)
	}
	return nil
}

// remove DELETEs a posted activity.
func (c *connector) remove(ctx context.Context, conv Conversation, id string) error {
	if id == "" {
		return fmt.Errorf("delete activity: %w: no activity id", errBadActivity)
	}
	u, err := activitiesURL(conv, id)
	if err != nil {
		return fmt.Errorf("delete activity: %w", err)
	}
	if err := c.do(ctx, http.MethodDelete, u, nil, nil); err != nil {
		return fmt.Errorf("delete activity: %w", err)
	}
	return nil
}

func (c *connector) do(ctx context.Context, method, u string, body, into any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("encode: %w", err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return fmt.Errorf("request: %w", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.tokens != nil {
		tok, err := c.tokens.get(ctx)
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return fmt.Errorf("%s: %w", method, scrubURLError(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return &statusError{status: resp.StatusCode}
	}
	if into != nil {
		// Some connectors answer 200 with an empty body; that is not an error.
		b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		if err != nil {
			return fmt.Errorf("read response: %w", err)
		}
		if len(bytes.TrimSpace(b)) > 0 {
			if err := json.Unmarshal(b, into); err != nil {
				return fmt.Errorf("decode response: %w", err)
			}
		}
	}
	return nil
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
