// Package channeltest holds fakes for the router's platform seams (a chat
// channel, the staff notifier, the drafter) and RunChannelContract, the
// contract test every channel adapter runs. Tests import it; production code
// does not.
package channeltest

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/switchboard/switchboard/bot"
)

// ErrInjected is the error a Fake returns for a send told to fail.
var ErrInjected = errors.New("channeltest: injected send failure")

// Fake is an in-memory bot.Channel. Inject delivers to the sink given to
// Run; Send records what was sent and returns ids "fake-1", "fake-2", …
// By default it is Idempotent, as whatsmeow is: a send with an
// Outbound.Key it sent before is the same message (the recipient drops the
// repeated id), so it returns the first id and records nothing new;
// Repeats counts those. It is safe for concurrent use.
type Fake struct {
	platform bot.Platform
	caps     bot.Capabilities

	mu      sync.Mutex
	sink    bot.Sink
	running chan struct{} // closed while Run has a sink
	sends   []bot.Outbound
	ids     []bot.MessageID
	fail    int
	failErr error
	seq     int
	byKey   map[string]bot.MessageID
	repeats int
}

var _ bot.Channel = (*Fake)(nil)

// NewFake returns a fake channel for platform that can send files and edits
// and has no text limit.
func NewFake(platform bot.Platform) *Fake {
	return &Fake{
		platform: platform,
		caps:     bot.Capabilities{Files: true, Edits: true, Idempotent: true},
		running:  make(chan struct{}),
		byKey:    make(map[string]bot.MessageID),
	}
}

// SetCapabilities changes what Capabilities reports.
func (f *Fake) SetCapabilities(c bot.Capabilities) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.caps = c
}

// Platform returns the platform given to NewFake.
func (f *Fake) Platform() bot.Platform { return f.platform }

// Capabilities returns the fake's capabilities.
func (f *Fake) Capabilities() bot.Capabilities {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.caps
}

// Run keeps sink for Inject until ctx is done. It returns an error if the
// fake is already running.
func (f *Fake) Run(ctx context.Context, sink bot.Sink) error {
	if sink == nil {
		return errors.New("channeltest: run: nil sink")
	}
	f.mu.Lock()
	if f.sink != nil {
		f.mu.Unlock()
		return errors.New("channeltest: run: already running")
	}
	f.sink = sink
	close(f.running)
	f.mu.Unlock()

	<-ctx.Done()

	f.mu.Lock()
	f.sink = nil
	f.running = make(chan struct{})
	f.mu.Unlock()
	return nil
}

// Running returns a channel that is closed once Run holds a sink.
func (f *Fake) Running() <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.running
}

// currentSink waits until Run holds a sink, or ctx is done.
func (f *Fake) currentSink(ctx context.Context) (bot.Sink, error) {
	for {
		f.mu.Lock()
		sink, running := f.sink, f.running
		f.mu.Unlock()
		if sink != nil {
			return sink, nil
		}
		select {
		case <-running:
		case <-ctx.Done():
			return nil, fmt.Errorf("channeltest: not running: %w", ctx.Err())
		}
	}
}

// Inject delivers in to the sink given to Run (waiting until Run started or
// ctx is done) and returns what the sink returned. Platform defaults to the
// fake's platform.
func (f *Fake) Inject(ctx context.Context, in bot.Inbound) error {
	sink, err := f.currentSink(ctx)
	if err != nil {
		return err
	}
	if in.Platform == "" {
		in.Platform = f.platform
	}
	return sink.Deliver(ctx, in)
}

// InjectReceipt hands a delivery or read receipt to the sink.
func (f *Fake) InjectReceipt(ctx context.Context, r bot.Receipt) error {
	sink, err := f.currentSink(ctx)
	if err != nil {
		return err
	}
	if r.Platform == "" {
		r.Platform = f.platform
	}
	return sink.Receipt(ctx, r)
}

// InjectRevoke tells the sink the sender deleted a message for everyone.
func (f *Fake) InjectRevoke(ctx context.Context, chat bot.ChatID, sender bot.Identity, id bot.MessageID) error {
	sink, err := f.currentSink(ctx)
	if err != nil {
		return err
	}
	return sink.Revoke(ctx, f.platform, chat, sender, id)
}

// FailNext makes the next n sends fail with err (ErrInjected if nil).
func (f *Fake) FailNext(n int, err error) {
	if err == nil {
		err = ErrInjected
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail, f.failErr = n, err
}

// Send records msg and returns the next id, or fails as told by FailNext.
// A message with neither text, file nor template, or a file, template or
// text length the capabilities rule out, is refused.
func (f *Fake) Send(ctx context.Context, msg bot.Outbound) (bot.MessageID, error) {
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("channeltest: send: %w", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case msg.Chat == "":
		return "", fmt.Errorf("channeltest: send: no chat: %w", bot.ErrUnsupported)
	case msg.Template != nil && f.caps.Template.IsZero():
		return "", fmt.Errorf("channeltest: send template: %w", bot.ErrUnsupported)
	case msg.Text == "" && msg.File == nil && msg.Template == nil:
		return "", fmt.Errorf("channeltest: send: nothing to send: %w", bot.ErrUnsupported)
	case msg.File != nil && !f.caps.TakesFile(msg.File.MIME, int64(len(msg.File.Data))):
		return "", fmt.Errorf("channeltest: send file: %w", bot.ErrUnsupported)
	case f.caps.MaxText > 0 && len(msg.Text) > f.caps.MaxText:
		return "", fmt.Errorf("channeltest: send: %w: %w", bot.ErrTooLarge, bot.ErrUnsupported)
	}
	if f.fail > 0 {
		f.fail--
		return "", f.failErr
	}
	if id, ok := f.byKey[msg.Key]; ok && msg.Key != "" && f.caps.Idempotent {
		f.repeats++
		return id, nil
	}
	f.seq++
	id := bot.MessageID(fmt.Sprintf("fake-%d", f.seq))
	f.sends = append(f.sends, msg)
	f.ids = append(f.ids, id)
	if msg.Key != "" {
		f.byKey[msg.Key] = id
	}
	return id, nil
}

// Repeats returns how many sends repeated an earlier Key (and were the
// same message, for an idempotent fake).
func (f *Fake) Repeats() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.repeats
}

// Sent is one recorded send.
type Sent struct {
	ID bot.MessageID
	bot.Outbound
}

// Sends returns the recorded sends, oldest first.
func (f *Fake) Sends() []Sent {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]Sent, len(f.sends))
	for i := range f.sends {
		out[i] = Sent{ID: f.ids[i], Outbound: f.sends[i]}
	}
	return out
}

// SendsTo returns the texts sent to chat, oldest first.
func (f *Fake) SendsTo(chat bot.ChatID) []string {
	var out []string
	for _, s := range f.Sends() {
		if s.Chat == chat {
			out = append(out, s.Text)
		}
	}
	return out
}
