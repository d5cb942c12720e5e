package whatsappcloud

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"sync/atomic"
	"time"
)

// maxGraphResponse bounds a Graph API answer read into memory.
const maxGraphResponse = 1 << 20

// graphError is a failed Graph call: the HTTP status and Meta's error code.
// Its text carries codes only, never Meta's message (which can quote the
// request) or a phone number.
type graphError struct {
	Status  int
	Code    int
	Subcode int
}

func (e *graphError) Error() string {
	if d := describe(e.Code); d != "" {
		return fmt.Sprintf("graph %d/%d: %s", e.Status, e.Code, d)
	}
	return fmt.Sprintf("graph %d/%d", e.Status, e.Code)
}

// errUnreachable is a Graph call that got no answer (network, timeout,
// TLS) or an answer that is not the Graph API's. call returns one of the
// two errors below, which both wrap it.
var errUnreachable = errors.New("graph api unreachable")

var (
	// errNotSent: the request never left whole (no connection, a write cut
	// off), so the Graph API cannot have acted on it.
	errNotSent = fmt.Errorf("%w: the request did not leave", errUnreachable)
	// errNoAnswer: the request left, but no answer, or no readable one,
	// came back: the Graph API may have acted on it.
	errNoAnswer = fmt.Errorf("%w: no answer after the request left", errUnreachable)
)

// errKind groups Graph errors by what the channel and the outbox do.
type errKind int

const (
	kindTransient     errKind = iota + 1 // 5xx, codes 1, 2, 131000, 131016: idempotent calls retried with backoff; a send is in doubt
	kindRate                             // 429, codes 4, 80007, 130429, 131048, 131056: the reply waits, no attempt used
	kindToken                            // 190: the token expired or was revoked; replies wait, admins alerted
	kindPermission                       // 3, 10, 200–299: a missing permission; replies wait, admins alerted
	kindBlocked                          // 368, 131031, 131042, 133010: the account cannot send; replies wait, admins alerted
	kindWindow                           // 131047: the 24-hour window closed; the reply fails
	kindUndeliverable                    // 131026: the reply fails
	kindRefused                          // any other 4xx: the same request would fail again
)

// classify maps a Graph error onto what to do with it. Codes from Meta's
// error reference (…/whatsapp/support/error-codes).
func classify(e *graphError) errKind {
	switch c := e.Code; {
	case c == 190:
		return kindToken
	case c == 3 || c == 10 || (c >= 200 && c <= 299):
		return kindPermission
	case c == 368 || c == 131031 || c == 131042 || c == 133010:
		return kindBlocked
	case c == 4 || c == 80007 || c == 130429 || c == 131048 || c == 131056:
		return kindRate
	case c == 131047:
		return kindWindow
	case c == 131026:
		return kindUndeliverable
	case c == 1 || c == 2 || c == 131000 || c == 131016:
		return kindTransient
	}
	switch {
	case e.Status == http.StatusTooManyRequests:
		return kindRate
	case e.Status >= 500:
		return kindTransient
	}
	return kindRefused
}

// describe says in words what a known code means, for operators and cards.
func describe(code int) string {
	switch code {
	case 190:
		return "access token expired or invalid"
	case 3, 10:
		return "the app lacks a permission"
	case 368:
		return "temporarily blocked for policy violations"
	case 130429:
		return "throughput limit reached"
	case 131026:
		return "message undeliverable: the number may not use WhatsApp, or must accept WhatsApp's latest terms"
	case 131031:
		return "the business account is locked"
	case 131042:
		return "a payment problem on the business account"
	case 131047:
		return "more than 24 hours since the customer last wrote"
	case 131048:
		return "spam rate limit reached"
	case 131051:
		return "unsupported message type"
	case 131053:
		return "the document could not be uploaded"
	case 131056:
		return "too many messages to this person in a short time"
	case 131062:
		return "this message cannot go to a business-scoped user id"
	case 132000, 132001, 132005, 132007, 132012:
		return "the template is missing, not approved, or its parameters do not match"
	case 133010:
		return "the business phone number is not registered with the Cloud API"
	}
	if code >= 200 && code <= 299 {
		return "the app lacks a permission"
	}
	return ""
}

// call makes one Graph API request to path (relative to the Graph URL,
// with query if any) and decodes a 2xx answer into out (if not nil). A
// non-2xx answer gives a *graphError; no answer gives errNotSent when the
// request never left whole and errNoAnswer when it did (joined with the
// context's error if ctx ended).
func (c *Channel) call(ctx context.Context, method, path string, query url.Values, body []byte, contentType string, out any) error {
	u := c.graph + "/" + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	// wrote is set once the whole request was written to a connection: from
	// then on the Graph API may act on it whatever comes back.
	var wrote atomic.Bool
	tctx := httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{WroteRequest: func(i httptrace.WroteRequestInfo) {
		if i.Err == nil {
			wrote.Store(true)
		}
	}})
	req, err := http.NewRequestWithContext(tctx, method, u, rd)
	if err != nil {
		return fmt.Errorf("graph request: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token())
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	lost := func() error {
		out := errNotSent
		if wrote.Load() {
			out = errNoAnswer
		}
		if ctx.Err() != nil {
			return fmt.Errorf("%w (%w)", ctx.Err(), out)
		}
		return out
	}
	resp, err := c.http.Do(req)
	if err != nil {
		// Not err's text: it quotes the URL.
		c.log.Debug().Str("error_type", fmt.Sprintf("%T", err)).Bool("written", wrote.Load()).Msg("graph api request failed")
		return lost()
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxGraphResponse))
	if err != nil {
		wrote.Store(true) // an answer began: the request arrived
		return lost()
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		var eb graphErrorBody
		_ = json.Unmarshal(b, &eb)
		return &graphError{Status: resp.StatusCode, Code: eb.Error.Code, Subcode: eb.Error.Subcode}
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("%w: a 2xx answer that is not json", errNoAnswer)
		}
	}
	return nil
}

// retry runs fn up to three times while it fails for a transient reason
// (no answer, 5xx), waiting SendBackoff, then twice that. Only for calls
// that may be repeated (a media delete); sends use retryNotSent.
func (c *Channel) retry(ctx context.Context, fn func() error) error {
	wait := c.opts.SendBackoff
	for attempt := 1; ; attempt++ {
		err := fn()
		if err == nil || attempt == 3 || !transient(err) {
			return err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
		wait *= 2
	}
}

// transient reports whether a failed call may pass by itself soon.
func transient(err error) bool {
	var ge *graphError
	if errors.As(err, &ge) {
		return classify(ge) == kindTransient
	}
	return errors.Is(err, errUnreachable)
}
