package drafts

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/switchboard/switchboard/bot"
	"net/http"
	"strings"
	"testing"
	"time"

	openai "github.com/sashabaranov/go-openai"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func testDoer() *retryDoer {
	return &retryDoer{attempts: 3, timeout: time.Second, baseDelay: 500 * time.Millisecond, maxWait: 30 * time.Second,
		now: func() time.Time { return testNow }, sleep: sleepCtx}
}

func TestRetryAfter(t *testing.T) {
	d := testDoer()
	cases := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"", 0, false},
		{"0", 0, true},
		{"12", 12 * time.Second, true},
		{" 3 ", 3 * time.Second, true},
		{"-4", 0, false},
		{"99999999999999999999", 0, false},
		{"86400", 30 * time.Second, true},
		{testNow.Add(10 * time.Second).Format(http.TimeFormat), 10 * time.Second, true},
		{testNow.Add(time.Hour).Format(http.TimeFormat), 30 * time.Second, true},
		{testNow.Add(-time.Hour).Format(http.TimeFormat), 0, true},
		{"soon", 0, false},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			got, ok := d.retryAfter(tc.in)
			assert.Equal(t, tc.ok, ok)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestBackoff(t *testing.T) {
	d := testDoer()
	for attempt, hi := range map[int]time.Duration{1: 500 * time.Millisecond, 2: time.Second, 3: 2 * time.Second, 10: 30 * time.Second, 70: 30 * time.Second} {
		for range 50 {
			got := d.backoff(attempt)
			assert.GreaterOrEqual(t, got, hi/2)
			assert.LessOrEqual(t, got, hi)
		}
	}
}

func TestAddStoreFalse(t *testing.T) {
	cases := map[string]string{
		`{"model":"m"}`:              `{"store":false,"model":"m"}`,
		`{}`:                         `{"store":false}`,
		` { "model":"m"}`:            `{"store":false,"model":"m"}`,
		`{"store":true,"model":"m"}`: `{"store":true,"model":"m"}`,
		`[1]`:                        `[1]`,
		``:                           ``,
	}
	for in, want := range cases {
		got := string(addStoreFalse([]byte(in)))
		assert.Equal(t, want, got, in)
		if strings.HasPrefix(strings.TrimSpace(in), "{") {
			var m map[string]any
			require.NoError(t, json.Unmarshal([]byte(got), &m), in)
		}
	}
}

func TestSafeErrorHidesBodies(t *testing.T) {
	assert.Equal(t, "timeout", errKind(errors.Join(errors.New("x"), errTimeout{})))
	assert.Equal(t, "transport", errKind(errors.New("dial tcp: refused")))
	cases := []struct {
		err  error
		want string
	}{
		{&openai.APIError{HTTPStatusCode: 429, Message: "ECHO-SECRET"}, "llm request failed: http status 429 after 3 attempts"},
		{&openai.RequestError{HTTPStatusCode: 502, Body: []byte("ECHO-SECRET"), Err: errors.New("ECHO-SECRET")}, "llm request failed: http status 502 after 3 attempts"},
		{fmt.Errorf("post: %w", context.DeadlineExceeded), "llm request failed: context deadline exceeded after 3 attempts"},
		{errors.New("ECHO-SECRET dial"), "llm request failed: transport failure after 3 attempts"},
		{&json.SyntaxError{}, "malformed model output: the response is not chat completion JSON"},
	}
	for _, tc := range cases {
		got := safeError(tc.err, 3)
		assert.Equal(t, tc.want, got.Error())
		assert.NotContains(t, got.Error(), "ECHO-SECRET")
	}
}

type errTimeout struct{}

func (errTimeout) Error() string { return "i/o timeout" }
func (errTimeout) Timeout() bool { return true }

func FuzzRetryAfter(f *testing.F) {
	for _, s := range []string{"0", "120", "Wed, 21 Oct 2015 07:28:00 GMT", "-1", "1.5", ""} {
		f.Add(s)
	}
	d := testDoer()
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := d.retryAfter(s)
		if got < 0 || got > d.maxWait || (!ok && got != 0) {
			t.Fatalf("retryAfter(%q) = %v, %v", s, got, ok)
		}
	})
}

// FuzzModelOutput runs arbitrary model content through parsing and every
// check: nothing panics, and an unflagged draft never carries a currency
// symbol the checks could not read, nor a card number.
func FuzzModelOutput(f *testing.F) {
	for _, s := range []string{
		out{Reply: "Hello [PHONE_1]", Intent: "question"}.json(),
		out{Reply: "[QUOTE] £72", Intent: "quote", QuoteItems: []outItem{{"callout", 1}}}.json(),
		`{"reply":"£","intent":"x","quote_items":[{"item_id":"callout","quantity":99999999999}],"needs_human":"","suspected_injection":false}`,
		"```json\n{}\n```", `{"reply":null}`, `[]`, `{"reply":"a","intent":"b","quote_items":[],"needs_human":"","suspected_injection":true} x`,
	} {
		f.Add(s)
	}
	d, err := New(Options{APIKey: "k", Profile: sampleProfile(f), Now: func() time.Time { return testNow }})
	require.NoError(f, err)
	p := d.profile.Load()
	pr := d.buildPrompt(p, request("card "+custCard+" phone "+custPhone), testNow)
	f.Fuzz(func(t *testing.T, content string) {
		o, err := parseOutput(content)
		if err != nil {
			if !errors.Is(err, ErrMalformedOutput) {
				t.Fatalf("error does not wrap ErrMalformedOutput: %v", err)
			}
			return
		}
		res := d.judgeOutput(o, p, pr)
		if strings.Contains(res.Text, custCard) {
			t.Fatalf("card number restored")
		}
		if res.Quote != nil && res.Quote.Total != res.Quote.Net+res.Quote.VAT {
			t.Fatalf("total is not net + VAT")
		}
	})
}

// TestSafeErrorFailure: each failure carries a category the card turns into
// advice staff can act on, never the provider's text.
func TestSafeErrorFailure(t *testing.T) {
	cases := []struct {
		err  error
		want bot.DraftFailure
	}{
		{&openai.APIError{HTTPStatusCode: 401, Message: "ECHO-SECRET"}, bot.FailNotConfigured},
		{&openai.APIError{HTTPStatusCode: 404}, bot.FailNotConfigured},
		{&openai.APIError{HTTPStatusCode: 429}, bot.FailUnreachable},
		{&openai.RequestError{HTTPStatusCode: 503}, bot.FailUnreachable},
		{&openai.APIError{HTTPStatusCode: 504}, bot.FailTimeout},
		{&openai.APIError{HTTPStatusCode: 400}, bot.FailOther},
		{fmt.Errorf("post: %w", context.DeadlineExceeded), bot.FailTimeout},
		{errors.Join(errors.New("x"), errTimeout{}), bot.FailTimeout},
		{errors.New("dial tcp: connection refused"), bot.FailUnreachable},
		{openai.ErrChatCompletionInvalidModel, bot.FailNotConfigured},
		{&json.SyntaxError{}, bot.FailOther},
	}
	for _, tc := range cases {
		got := fmt.Errorf("draft: %w", safeError(tc.err, 3))
		assert.Equal(t, tc.want, bot.FailureOf(got), "%v", tc.err)
	}
	assert.Equal(t, bot.FailRefused, bot.FailureOf(refused(ErrMalformedOutput)))
}
