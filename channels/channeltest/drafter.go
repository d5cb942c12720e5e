package channeltest

import (
	"context"
	"errors"
	"sync"

	"github.com/switchboard/switchboard/bot"
)

// ErrDrafter is the error a Drafter told to fail returns.
var ErrDrafter = errors.New("channeltest: injected drafter failure")

// Drafter is a fake bot.Drafter. Fn, if set, answers; otherwise the answer
// is Text with Intent "question". It records every request. It is safe for
// concurrent use; set Fn and Text before use.
type Drafter struct {
	Fn   func(ctx context.Context, req bot.DraftRequest) (bot.DraftResult, error)
	Text string

	mu   sync.Mutex
	reqs []bot.DraftRequest
	fail int
}

var _ bot.Drafter = (*Drafter)(nil)

// FailNext makes the next n calls return ErrDrafter.
func (d *Drafter) FailNext(n int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.fail = n
}

// Draft records req and answers.
func (d *Drafter) Draft(ctx context.Context, req bot.DraftRequest) (bot.DraftResult, error) {
	d.mu.Lock()
	d.reqs = append(d.reqs, req)
	fail := d.fail > 0
	if fail {
		d.fail--
	}
	d.mu.Unlock()
	if fail {
		return bot.DraftResult{}, ErrDrafter
	}
	if d.Fn != nil {
		return d.Fn(ctx, req)
	}
	return bot.DraftResult{Text: d.Text, Intent: "question"}, nil
}

// Requests returns the recorded requests, oldest first.
func (d *Drafter) Requests() []bot.DraftRequest {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]bot.DraftRequest(nil), d.reqs...)
}
