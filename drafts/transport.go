package drafts

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"
	openai "github.com/sashabaranov/go-openai"
)

// maxResponseBytes bounds what is read from the endpoint.
const maxResponseBytes = 4 << 20

// retryDoer is the HTTPDoer go-openai sends through. go-openai has no
// retries and hides response headers on errors, so this layer gives each
// attempt its own timeout, retries 429 and 5xx (and transport failures) with
// exponential backoff and jitter, honours Retry-After (seconds or an HTTP
// date, capped at maxWait), and hands the last response to go-openai after
// the last attempt. It logs status codes, attempts and durations only.
type retryDoer struct {
	base      openai.HTTPDoer
	attempts  int
	timeout   time.Duration // per attempt
	baseDelay time.Duration
	maxWait   time.Duration
	// storeFalse adds "store":false to JSON request bodies: go-openai's
	// Store field is omitempty, so false cannot be sent through it.
	storeFalse bool
	// maxBody bounds a request body (it is held for retries); a larger one
	// is an error. If 0, 8 MiB.
	maxBody int64
	now     func() time.Time
	sleep   func(ctx context.Context, d time.Duration) error
}

// attemptKey carries a per-call logger and a hit counter through the request
// context, so Draft can log attempts without the doer knowing the subject.
type attemptKey struct{}

type callInfo struct {
	log      zerolog.Logger
	attempts int
	status   int
}

func withCallInfo(ctx context.Context, ci *callInfo) context.Context {
	return context.WithValue(ctx, attemptKey{}, ci)
}

// Do sends req, retrying as described on retryDoer.
func (t *retryDoer) Do(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	ci, _ := ctx.Value(attemptKey{}).(*callInfo)
	if ci == nil {
		ci = &callInfo{log: zerolog.Nop()}
	}
	var body []byte
	if req.Body != nil {
		limit := t.maxBody
		if limit <= 0 {
			limit = 8 << 20
		}
		b, err := io.ReadAll(io.LimitReader(req.Body, limit+1))
		_ = req.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("read request body: %w", err)
		}
		if int64(len(b)) > limit {
			return nil, fmt.Errorf("request body over %d bytes", limit)
		}
		body = b
	}
	if t.storeFalse && req.Method == http.MethodPost {
		body = addStoreFalse(body)
	}
	for attempt := 1; ; attempt++ {
		ci.attempts = attempt
		start := time.Now()
		resp, err := t.once(ctx, req, body)
		took := time.Since(start)
		last := attempt >= t.attempts
		if err != nil {
			if ctx.Err() != nil {
				ci.log.Warn().Int("attempt", attempt).Dur("took", took).Msg("llm request cancelled")
				return nil, ctx.Err()
			}
			ci.log.Warn().Int("attempt", attempt).Dur("took", took).Str("error", errKind(err)).Msg("llm request failed")
			if last {
				return nil, err
			}
			if werr := t.wait(ctx, t.backoff(attempt)); werr != nil {
				return nil, err
			}
			continue
		}
		ci.status = resp.StatusCode
		retryable := resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500
		ev := ci.log.Info()
		if retryable || resp.StatusCode >= 400 {
			ev = ci.log.Warn()
		}
		ev.Int("attempt", attempt).Int("status", resp.StatusCode).Dur("took", took).Msg("llm request")
		if !retryable || last {
			return resp, nil
		}
		delay, ok := t.retryAfter(resp.Header.Get("Retry-After"))
		if !ok {
			delay = t.backoff(attempt)
		}
		if dl, has := ctx.Deadline(); has && time.Until(dl) < delay {
			// The wait would outlive the caller: give the answer now.
			return resp, nil
		}
		if werr := t.wait(ctx, delay); werr != nil {
			return resp, nil
		}
	}
}

// once runs one attempt under its own timeout and reads the whole body
// before the attempt's context ends.
func (t *retryDoer) once(ctx context.Context, req *http.Request, body []byte) (*http.Response, error) {
	actx, cancel := context.WithTimeout(ctx, t.timeout)
	defer cancel()
	r := req.Clone(actx)
	if body != nil {
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
		r.ContentLength = int64(len(body))
	}
	resp, err := t.base.Do(r)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read response: %w", err)
	}
	if len(b) > maxResponseBytes {
		return nil, fmt.Errorf("read response: over %d bytes", maxResponseBytes)
	}
	resp.Body = io.NopCloser(bytes.NewReader(b))
	resp.ContentLength = int64(len(b))
	return resp, nil
}

// retryAfter reads a Retry-After header: delay-seconds or an HTTP date,
// clamped to [0, maxWait].
func (t *retryDoer) retryAfter(h string) (time.Duration, bool) {
	h = strings.TrimSpace(h)
	if h == "" {
		return 0, false
	}
	var d time.Duration
	if secs, err := strconv.ParseInt(h, 10, 64); err == nil {
		if secs < 0 {
			return 0, false
		}
		if secs > int64(t.maxWait/time.Second)+1 {
			return t.maxWait, true
		}
		d = time.Duration(secs) * time.Second
	} else if at, err := http.ParseTime(h); err == nil {
		d = at.Sub(t.now())
	} else {
		return 0, false
	}
	return min(max(d, 0), t.maxWait), true
}

// backoff is baseDelay·2^(attempt-1) with jitter in [50%, 100%], capped.
func (t *retryDoer) backoff(attempt int) time.Duration {
	d := t.baseDelay << min(attempt-1, 16)
	if d <= 0 || d > t.maxWait {
		d = t.maxWait
	}
	half := d / 2
	if half > 0 {
		d = half + rand.N(half+1)
	}
	return d
}

func (t *retryDoer) wait(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	return t.sleep(ctx, d)
}

// sleepCtx waits d or until ctx is done.
func sleepCtx(ctx context.Context, d time.Duration) error {
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-tm.C:
		return nil
	}
}

// addStoreFalse inserts "store":false as the first member of a JSON object
// body that has no top-level store member (go-openai omits Store=false).
func addStoreFalse(body []byte) []byte {
	b := bytes.TrimLeft(body, " \t\r\n")
	if len(b) < 2 || b[0] != '{' || bytes.Contains(body, []byte(`"store":`)) {
		return body
	}
	out := make([]byte, 0, len(b)+16)
	out = append(out, `{"store":false`...)
	rest := bytes.TrimLeft(b[1:], " \t\r\n")
	if len(rest) > 0 && rest[0] != '}' {
		out = append(out, ',')
	}
	return append(out, rest...)
}

// errKind names a transport error without its text.
func errKind(err error) string {
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "cancelled"
	}
	var ne interface{ Timeout() bool }
	if errors.As(err, &ne) && ne.Timeout() {
		return "timeout"
	}
	return "transport"
}
