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
// Framework activities, webhook JSON, …).
type Driver interface {
	// Conversation returns a one-to-one chat and the person in it, as the
	// adapter names them; distinct n give distinct chats and people. A
	// channel that only answers may treat the person as one who wrote to
	// us before (the driver records it as the inbound path would).
	Conversation(n int) (bot.ChatID, bot.Identity)
	// Inject makes the platform deliver a text message with the given
	// platform id from sender in chat to the running adapter.
	Inject(ctx context.Context, chat bot.ChatID, sender bot.Identity, id bot.MessageID, text string) error
	// Sent returns the texts of the text messages the platform received
	// for chat, oldest first (not the captions of files).
	Sent(chat bot.ChatID) []string
	// SentFiles returns the names of the files the platform received, or
	// was offered to its user, for chat, oldest first.
	SentFiles(chat bot.ChatID) []string
	// Stranger returns a one-to-one chat, distinct for distinct n and from
	// every Conversation, whose person never wrote to us, and what the
	// platform lets the channel send there. The driver makes the chat as
	// real as the platform needs (a Teams bot is installed for the user).
	Stranger(n int) (bot.ChatID, Reach)
}

// Reach is what a channel may send to a chat whose person never wrote to
// us: the platform's rule, not the channel's choice. What it may not send
// there, Send refuses with an error wrapping bot.ErrUnsupported, and
// nothing reaches the platform.
//
//   - Both WhatsApp transports only answer: the zero Reach (the Cloud API's
//     24-hour window never opened; the linked device refuses cold
//     outreach, which gets numbers banned).
//   - A Teams bot may write first (a proactive message) into a
//     conversation it was installed in, text only: files go to a personal
//     chat whose user wrote to the bot (a file consent card).
type Reach struct {
	Text  bool // a text message reaches the platform
	Files bool // a file reaches the platform
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
// order with distinct ids, also concurrently; texts over MaxText, and files
// from a channel without Files, are refused with bot.ErrUnsupported; a
// channel with Files gets a file to a person who wrote; a chat whose person
// never wrote gets what the platform allows there (Driver.Stranger's
// Reach) and every other send is refused with bot.ErrUnsupported; Run
// returns when its context ends. newChannel is called once per subtest and
// must clean up through t.Cleanup.
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
		assert.ErrorIs(t, err, bot.ErrUnsupported, "nothing to send, now or later")
		if !ch.Capabilities().Files {
			_, err := ch.Send(ctx, bot.Outbound{Chat: chat, File: &bot.File{Name: "export.json", MIME: "application/json", Data: []byte("{}")}})
			assert.ErrorIs(t, err, bot.ErrUnsupported)
		}
		assert.Empty(t, drv.Sent(chat))
	})

	t.Run("Texts over MaxText are refused", func(t *testing.T) {
		ch, drv, _, ctx := start(t)
		max := ch.Capabilities().MaxText
		chat, _ := drv.Conversation(7)
		if max == 0 { // no limit: a long text goes as it is
			long := strings.Repeat("a", 100_000)
			_, err := ch.Send(ctx, bot.Outbound{Chat: chat, Text: long})
			require.NoError(t, err)
			require.Eventually(t, func() bool { return len(drv.Sent(chat)) >= 1 }, wait, tick)
			assert.Equal(t, []string{long}, drv.Sent(chat))
			return
		}
		_, err := ch.Send(ctx, bot.Outbound{Chat: chat, Text: strings.Repeat("a", max+1)})
		assert.ErrorIs(t, err, bot.ErrUnsupported)
		_, err = ch.Send(ctx, bot.Outbound{Chat: chat, Text: strings.Repeat("a", max)})
		assert.NoError(t, err, "MaxText bytes are fine")
		require.Eventually(t, func() bool { return len(drv.Sent(chat)) >= 1 }, wait, tick)
		assert.Len(t, drv.Sent(chat), 1)
	})

	t.Run("A file reaches a chat whose person wrote, if the channel has Files", func(t *testing.T) {
		ch, drv, sink, ctx := start(t)
		chat, sender := drv.Conversation(9)
		require.NoError(t, drv.Inject(ctx, chat, sender, "contract-before-file", "Can I have my data?"))
		require.Eventually(t, func() bool { return len(sink.Inbound()) >= 1 }, wait, tick)
		id, err := ch.Send(ctx, bot.Outbound{Chat: chat, Text: "Here is your file.",
			File: &bot.File{Name: "export.json", MIME: "application/json", Data: []byte(`{"messages":[]}`)}})
		if !ch.Capabilities().Files {
			assert.ErrorIs(t, err, bot.ErrUnsupported, "a channel without Files refuses them")
			assert.Empty(t, drv.SentFiles(chat))
			return
		}
		require.NoError(t, err)
		assert.NotEmpty(t, id)
		require.Eventually(t, func() bool { return len(drv.SentFiles(chat)) >= 1 }, wait, tick)
		assert.Equal(t, []string{"export.json"}, drv.SentFiles(chat))
	})

	t.Run("A file goes if the Capabilities take its type, else it is refused", func(t *testing.T) {
		ch, drv, sink, ctx := start(t)
		chat, sender := drv.Conversation(10)
		require.NoError(t, drv.Inject(ctx, chat, sender, "contract-before-zip", "My export, please"))
		require.Eventually(t, func() bool { return len(sink.Inbound()) >= 1 }, wait, tick)
		// An export with the person's photos is a ZIP; the WhatsApp Business
		// Platform takes none, the linked device and Teams do.
		zip := &bot.File{Name: "switchboard-export.zip", MIME: "application/zip", Data: []byte("PK\x05\x06" + strings.Repeat("\x00", 18))}
		_, err := ch.Send(ctx, bot.Outbound{Chat: chat, Text: "Your data", File: zip})
		if !ch.Capabilities().TakesFile(zip.MIME, int64(len(zip.Data))) {
			assert.ErrorIs(t, err, bot.ErrUnsupported, "a file the Capabilities rule out is refused")
			assert.Empty(t, drv.SentFiles(chat))
			assert.Empty(t, drv.Sent(chat), "nothing of it goes")
			return
		}
		require.NoError(t, err)
		require.Eventually(t, func() bool { return len(drv.SentFiles(chat)) >= 1 }, wait, tick)
		assert.Equal(t, []string{"switchboard-export.zip"}, drv.SentFiles(chat))
	})

	t.Run("A chat that never wrote gets what the platform allows", func(t *testing.T) {
		ch, drv, _, ctx := start(t)
		chat, reach := drv.Stranger(8)
		require.NotEmpty(t, chat)
		_, err := ch.Send(ctx, bot.Outbound{Chat: chat, Text: "Have you heard of our offers?"})
		if reach.Text {
			require.NoError(t, err, "the platform lets the channel write first")
			require.Eventually(t, func() bool { return len(drv.Sent(chat)) >= 1 }, wait, tick)
			assert.Equal(t, []string{"Have you heard of our offers?"}, drv.Sent(chat))
		} else {
			assert.ErrorIs(t, err, bot.ErrUnsupported, "a channel that only answers refuses a chat that never wrote")
			assert.Empty(t, drv.Sent(chat))
		}
		if !ch.Capabilities().Files {
			return
		}
		_, err = ch.Send(ctx, bot.Outbound{Chat: chat, File: &bot.File{Name: "offer.pdf", MIME: "application/pdf", Data: []byte("%PDF-1.4 offer")}})
		if reach.Files {
			require.NoError(t, err)
			require.Eventually(t, func() bool { return len(drv.SentFiles(chat)) >= 1 }, wait, tick)
			assert.Equal(t, []string{"offer.pdf"}, drv.SentFiles(chat))
		} else {
			assert.ErrorIs(t, err, bot.ErrUnsupported, "files the platform does not allow here are refused")
			assert.Empty(t, drv.SentFiles(chat))
		}
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
