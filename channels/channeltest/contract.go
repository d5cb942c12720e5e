package channeltest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboard/switchboard/bot"
)

// Driver plays the platform's side of a channel adapter in
// RunChannelContract, in the adapter's own terms (whatsmeow events, Bot
// Framework activities, …).
type Driver interface {
	// Conversation returns a one-to-one chat and the person in it, as the
	// adapter names them; distinct n give distinct chats and people.
	Conversation(n int) (bot.ChatID, bot.Identity)
	// Inject makes the platform deliver a text message with the given
	// platform id from sender in chat to the running adapter.
	Inject(ctx context.Context, chat bot.ChatID, sender bot.Identity, id bot.MessageID, text string) error
	// Sent returns the texts the platform received for chat, oldest first.
	Sent(chat bot.ChatID) []string
}

// StrangerDriver is a Driver that can also name a one-to-one chat whose
// person never wrote: a channel that only answers (both WhatsApp
// transports) must refuse to send there with bot.ErrUnsupported.
type StrangerDriver interface {
	Driver
	// Stranger returns a chat, distinct for distinct n and from every
	// Conversation, whose person never wrote to us.
	Stranger(n int) bot.ChatID
}

// Sink records what a channel delivers; a test can make it fail.
type Sink struct {
	mu       sync.Mutex
	inbound  []bot.Inbound
	receipts []bot.Receipt
	fail     int
}

var _ bot.Sink = (*Sink)(nil)

// FailNext makes the next n deliveries return an error.
func (s *Sink) FailNext(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail = n
}

// Deliver records in, or fails as told.
func (s *Sink) Deliver(_ context.Context, in bot.Inbound) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail > 0 {
		s.fail--
		return errors.New("channeltest: sink refused delivery")
	}
	s.inbound = append(s.inbound, in)
	return nil
}

// Receipt records r.
func (s *Sink) Receipt(_ context.Context, r bot.Receipt) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.receipts = append(s.receipts, r)
	return nil
}

// Decide answers Refused; the contract does not decide drafts.
func (s *Sink) Decide(context.Context, bot.Decision) (bot.DecisionResult, error) {
	return bot.DecisionResult{Outcome: bot.Refused, Message: "test sink"}, nil
}

// Revoke does nothing.
func (s *Sink) Revoke(context.Context, bot.Platform, bot.ChatID, bot.Identity, bot.MessageID) error {
	return nil
}

// Inbound returns the delivered messages, oldest first.
func (s *Sink) Inbound() []bot.Inbound {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]bot.Inbound(nil), s.inbound...)
}

// RunChannelContract checks what the router relies on from a channel:
// inbound text reaches the sink with platform, chat, sender and id intact;
// a refused delivery does not stop the channel; sends reach the platform in
// order with distinct ids, also concurrently; unsupported files are refused
// with bot.ErrUnsupported; Run returns when its context ends. newChannel is
// called once per subtest and must clean up through t.Cleanup.
func RunChannelContract(t *testing.T, newChannel func(t *testing.T) (bot.Channel, Driver)) {
	t.Helper()
	const wait, tick = 10 * time.Second, 10 * time.Millisecond

	start := func(t *testing.T) (bot.Channel, Driver, *Sink, context.Context) {
		t.Helper()
		ch, drv := newChannel(t)
		require.NotNil(t, ch)
		require.NotNil(t, drv)
		sink := &Sink{}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- ch.Run(ctx, sink) }()
		t.Cleanup(func() {
			cancel()
			select {
			case <-done:
			case <-time.After(wait):
				t.Error("Run did not return after its context ended")
			}
		})
		return ch, drv, sink, ctx
	}

	t.Run("Describes itself", func(t *testing.T) {
		ch, _ := newChannel(t)
		assert.NotEmpty(t, ch.Platform())
		assert.GreaterOrEqual(t, ch.Capabilities().MaxText, 0)
	})

	t.Run("Inbound text reaches the sink", func(t *testing.T) {
		ch, drv, sink, ctx := start(t)
		chat, sender := drv.Conversation(1)
		texts := []string{"Hello, do you open on Sunday?", "Ünïcödé ✓ 😀 שלום 你好", "second line\nthird line"}
		for i, text := range texts {
			require.NoError(t, drv.Inject(ctx, chat, sender, bot.MessageID(fmt.Sprintf("contract-in-%d", i)), text))
		}
		require.Eventually(t, func() bool { return len(sink.Inbound()) >= len(texts) }, wait, tick)
		got := sink.Inbound()
		require.Len(t, got, len(texts))
		for i, in := range got {
			assert.Equal(t, ch.Platform(), in.Platform)
			assert.Equal(t, chat, in.Chat)
			assert.Equal(t, sender, in.Sender)
			assert.Equal(t, bot.MessageID(fmt.Sprintf("contract-in-%d", i)), in.ID)
			assert.Equal(t, texts[i], in.Text)
			assert.Contains(t, []bot.MessageKind{"", bot.KindText}, in.Kind)
			assert.False(t, in.SentAt.IsZero(), "SentAt is set")
		}
	})

	t.Run("A refused delivery does not stop the channel", func(t *testing.T) {
		_, drv, sink, ctx := start(t)
		chat, sender := drv.Conversation(2)
		sink.FailNext(1)
		_ = drv.Inject(ctx, chat, sender, "contract-refused", "first")
		require.NoError(t, drv.Inject(ctx, chat, sender, "contract-after", "second"))
		require.Eventually(t, func() bool {
			for _, in := range sink.Inbound() {
				if in.ID == "contract-after" {
					return true
				}
			}
			return false
		}, wait, tick)
	})

	t.Run("Sends reach the platform in order", func(t *testing.T) {
		ch, drv, _, ctx := start(t)
		chat1, _ := drv.Conversation(3)
		chat2, _ := drv.Conversation(4)
		require.NotEqual(t, chat1, chat2)
		texts := []string{"Yes, 10:00 to 16:00.", "Ünïcödé ✓ 😀", "third"}
		seen := map[bot.MessageID]bool{}
		for _, text := range texts {
			id, err := ch.Send(ctx, bot.Outbound{Chat: chat1, Text: text})
			require.NoError(t, err)
			assert.NotEmpty(t, id)
			assert.False(t, seen[id], "ids are distinct")
			seen[id] = true
		}
		_, err := ch.Send(ctx, bot.Outbound{Chat: chat2, Text: "other chat"})
		require.NoError(t, err)
		require.Eventually(t, func() bool { return len(drv.Sent(chat1)) >= len(texts) }, wait, tick)
		assert.Equal(t, texts, drv.Sent(chat1))
		require.Eventually(t, func() bool { return len(drv.Sent(chat2)) >= 1 }, wait, tick)
		assert.Equal(t, []string{"other chat"}, drv.Sent(chat2))
	})

	t.Run("Concurrent sends all arrive", func(t *testing.T) {
		ch, drv, _, ctx := start(t)
		chat, _ := drv.Conversation(5)
		const n = 8
		ids := make([]bot.MessageID, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() { ids[i], errs[i] = ch.Send(ctx, bot.Outbound{Chat: chat, Text: fmt.Sprintf("reply %d", i)}) })
		}
		wg.Wait()
		seen := map[bot.MessageID]bool{}
		for i := range n {
			require.NoError(t, errs[i])
			assert.False(t, seen[ids[i]], "ids are distinct")
			seen[ids[i]] = true
		}
		require.Eventually(t, func() bool { return len(drv.Sent(chat)) >= n }, wait, tick)
		assert.ElementsMatch(t, []string{"reply 0", "reply 1", "reply 2", "reply 3", "reply 4", "reply 5", "reply 6", "reply 7"}, drv.Sent(chat))
	})

	t.Run("Bad sends are refused", func(t *testing.T) {
		ch, drv, _, ctx := start(t)
		chat, _ := drv.Conversation(6)
		_, err := ch.Send(ctx, bot.Outbound{Chat: chat})
		assert.Error(t, err, "nothing to send")
		if !ch.Capabilities().Files {
			_, err := ch.Send(ctx, bot.Outbound{Chat: chat, File: &bot.File{Name: "export.json", MIME: "application/json", Data: []byte("{}")}})
			assert.ErrorIs(t, err, bot.ErrUnsupported)
		}
		assert.Empty(t, drv.Sent(chat))
	})

	t.Run("Texts over MaxText are refused", func(t *testing.T) {
		ch, drv, _, ctx := start(t)
		max := ch.Capabilities().MaxText
		if max == 0 {
			t.Skip("no text limit")
		}
		chat, _ := drv.Conversation(7)
		_, err := ch.Send(ctx, bot.Outbound{Chat: chat, Text: strings.Repeat("a", max+1)})
		assert.ErrorIs(t, err, bot.ErrUnsupported)
		_, err = ch.Send(ctx, bot.Outbound{Chat: chat, Text: strings.Repeat("a", max)})
		assert.NoError(t, err, "MaxText bytes are fine")
		require.Eventually(t, func() bool { return len(drv.Sent(chat)) >= 1 }, wait, tick)
		assert.Len(t, drv.Sent(chat), 1)
	})

	t.Run("A chat that never wrote is refused", func(t *testing.T) {
		ch, drv, _, ctx := start(t)
		sd, ok := drv.(StrangerDriver)
		if !ok {
			t.Skip("the driver names no stranger")
		}
		chat := sd.Stranger(8)
		_, err := ch.Send(ctx, bot.Outbound{Chat: chat, Text: "Have you heard of our offers?"})
		assert.ErrorIs(t, err, bot.ErrUnsupported)
		assert.Empty(t, drv.Sent(chat))
	})

	t.Run("Run returns when its context ends", func(t *testing.T) {
		ch, _ := newChannel(t)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			defer close(done)
			_ = ch.Run(ctx, &Sink{})
		}()
		cancel()
		require.Eventually(t, func() bool {
			select {
			case <-done:
				return true
			default:
				return false
			}
		}, wait, tick)
	})
}
