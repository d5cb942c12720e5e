package demo

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// ErrQueueFull is returned when the bot takes webhooks more slowly than
// the page makes them.
var ErrQueueFull = errors.New("too many messages are waiting for Switchboard; try again in a moment")

// delivery is one webhook for the bot.
type delivery struct {
	body    []byte
	summary string // for the wire panel: "message from +44…", "status read"
	// progress is called (without s.mu) after each attempt: ok once the
	// bot answered 2xx; last when no attempt follows.
	progress func(code int, ok, last bool)
}

// Sign returns the X-Hub-Signature-256 header Meta sends with body:
// "sha256=" and the hex HMAC-SHA256 of the raw bytes under the app secret.
func Sign(appSecret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(appSecret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// The webhook JSON, as Meta posts it (field "messages" of a WhatsApp
// Business Account subscription).
type (
	wirePayload struct {
		Object string      `json:"object"`
		Entry  []wireEntry `json:"entry"`
	}
	wireEntry struct {
		ID      string       `json:"id"`
		Changes []wireChange `json:"changes"`
	}
	wireChange struct {
		Value wireValue `json:"value"`
		Field string    `json:"field"`
	}
	wireValue struct {
		MessagingProduct string        `json:"messaging_product"`
		Metadata         wireMetadata  `json:"metadata"`
		Contacts         []wireContact `json:"contacts,omitempty"`
		Messages         []wireMessage `json:"messages,omitempty"`
		Statuses         []wireStatus  `json:"statuses,omitempty"`
	}
	wireMetadata struct {
		DisplayPhoneNumber string `json:"display_phone_number"`
		PhoneNumberID      string `json:"phone_number_id"`
	}
	wireContact struct {
		Profile struct {
			Name string `json:"name"`
		} `json:"profile"`
		WaID string `json:"wa_id"`
	}
	wireMessage struct {
		From      string `json:"from"`
		ID        string `json:"id"`
		Timestamp string `json:"timestamp"`
		Type      string `json:"type"`
		Text      *struct {
			Body string `json:"body"`
		} `json:"text,omitempty"`
	}
	wireStatus struct {
		ID           string            `json:"id"`
		Status       string            `json:"status"`
		Timestamp    string            `json:"timestamp"`
		RecipientID  string            `json:"recipient_id"`
		BizOpaque    string            `json:"biz_opaque_callback_data,omitempty"`
		Conversation *wireConversation `json:"conversation,omitempty"`
		Pricing      *wirePricing      `json:"pricing,omitempty"`
		Errors       []wireError       `json:"errors,omitempty"`
	}
	wireConversation struct {
		ID     string `json:"id"`
		Origin struct {
			Type string `json:"type"`
		} `json:"origin"`
	}
	wirePricing struct {
		Billable     bool   `json:"billable"`
		PricingModel string `json:"pricing_model"`
		Category     string `json:"category"`
	}
	wireError struct {
		Code      int    `json:"code"`
		Title     string `json:"title"`
		Message   string `json:"message"`
		ErrorData *struct {
			Details string `json:"details"`
		} `json:"error_data,omitempty"`
	}
)

// envelope wraps a value for the business number as Meta posts it.
func (s *Simulator) envelope(v wireValue) []byte {
	v.MessagingProduct = "whatsapp"
	v.Metadata = wireMetadata{DisplayPhoneNumber: s.opts.DisplayPhoneNumber, PhoneNumberID: s.opts.PhoneNumberID}
	b, _ := json.Marshal(wirePayload{Object: "whatsapp_business_account", Entry: []wireEntry{{
		ID: s.opts.BusinessAccountID, Changes: []wireChange{{Field: "messages", Value: v}},
	}}})
	return b
}

// textWebhook is the payload of one text message from a customer.
func (s *Simulator) textWebhook(c ChatView, m MessageView) []byte {
	contact := wireContact{WaID: c.WaID}
	contact.Profile.Name = c.Name
	msg := wireMessage{From: c.WaID, ID: m.ID, Timestamp: strconv.FormatInt(m.At/1000, 10), Type: "text"}
	msg.Text = &struct {
		Body string `json:"body"`
	}{m.Text}
	return s.envelope(wireValue{Contacts: []wireContact{contact}, Messages: []wireMessage{msg}})
}

// statusWebhook is the payload of one status of a reply; code, if not 0,
// is the error of a failed one.
func (s *Simulator) statusWebhook(m *message, status string, at time.Time, code int, title string) []byte {
	st := wireStatus{ID: m.ID, Status: status, Timestamp: strconv.FormatInt(at.Unix(), 10), RecipientID: m.WaID, BizOpaque: m.key}
	if status == StatusSent || status == StatusDelivered {
		st.Conversation = &wireConversation{ID: "DEMO" + m.WaID}
		st.Conversation.Origin.Type = "service"
		st.Pricing = &wirePricing{Billable: false, PricingModel: "PMP", Category: "service"}
	}
	if code != 0 {
		st.Errors = []wireError{{Code: code, Title: title, Message: title}}
	}
	return s.envelope(wireValue{Statuses: []wireStatus{st}})
}

// enqueue queues a webhook for the bot.
func (s *Simulator) enqueue(d delivery) error {
	select {
	case s.queue <- d:
		return nil
	default:
		return ErrQueueFull
	}
}

// deliver posts one webhook, again after a growing wait while the bot
// answers anything but 2xx (as Meta does), up to deliveryAttempts times.
func (s *Simulator) deliver(ctx context.Context, d delivery) {
	wait := s.opts.RetryBackoff
	for attempt := 1; ; attempt++ {
		code, err := s.post(ctx, d.body)
		ok := err == nil && code >= 200 && code < 300
		last := ok || attempt == deliveryAttempts || ctx.Err() != nil
		s.mu.Lock()
		s.wireLocked(WireEntry{Dir: "to-bot", Request: "POST /webhooks/whatsapp", Status: code, Summary: d.summary, Body: indent(d.body)})
		s.mu.Unlock()
		ev := s.log.Debug()
		if !ok {
			ev = s.log.Warn()
		}
		ev.Int("status", code).Int("attempt", attempt).Bool("last", last).Str("error_type", errType(err)).Msg("demo webhook posted")
		if d.progress != nil {
			d.progress(code, ok, last)
		}
		if last {
			return
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		wait *= 2
	}
}

// post sends body to the bot's webhook, signed; it returns the HTTP status.
func (s *Simulator) post(ctx context.Context, body []byte) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.opts.Webhook, bytes.NewReader(body))
	if err != nil {
		return 0, fmt.Errorf("webhook request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "facebookexternalua")
	req.Header.Set("X-Hub-Signature-256", Sign(s.opts.AppSecret, body))
	resp, err := s.http.Do(req)
	if err != nil {
		return 0, fmt.Errorf("webhook: %w", err)
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// errType names an error's type for the log (its text can hold the URL).
func errType(err error) string {
	if err == nil {
		return ""
	}
	return fmt.Sprintf("%T", errors.Unwrap(err))
}

// indent re-indents JSON for the wire panel; other bytes are left out.
func indent(b []byte) string {
	var buf bytes.Buffer
	if json.Indent(&buf, b, "", "  ") != nil {
		return ""
	}
	return buf.String()
}
