package whatsapp

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"

	"github.com/switchboard/switchboard/bot"
	"github.com/switchboard/switchboard/channels/channeltest"
)

// driver plays WhatsApp for the channel contract: it feeds whatsmeow
// message events into the handler Run registered and reads what the fake
// client was asked to send.
type driver struct {
	t       *testing.T
	dir     string
	cli     *fakeClient
	mu      sync.Mutex
	handler func(any) bool
	ready   chan struct{}
}

func newContractChannel(t *testing.T) (bot.Channel, channeltest.Driver) {
	d := &driver{t: t, dir: t.TempDir(), cli: &fakeClient{}, ready: make(chan struct{})}
	// Create the session db before Run, so the driver can mark writers.
	db, _, err := openStore(context.Background(), d.dir, zerolog.Nop(), zerolog.WarnLevel)
	require.NoError(t, err)
	require.NoError(t, db.Close())
	ch, err := New(Options{Dir: d.dir, SendBackoff: time.Millisecond})
	require.NoError(t, err)
	ch.fakeConnect = func(h func(any) bool) Client {
		d.mu.Lock()
		defer d.mu.Unlock()
		if d.handler == nil {
			close(d.ready)
		}
		d.handler = h
		return d.cli
	}
	return ch, d
}

func (d *driver) jid(n int) types.JID {
	return types.JID{User: fmt.Sprintf("4477009%05d", n), Server: types.DefaultUserServer}
}

// Conversation returns chat n; its customer wrote to us before (the channel
// only answers), which the driver records as the inbound path would.
func (d *driver) Conversation(n int) (bot.ChatID, bot.Identity) {
	j := d.jid(n)
	db, _, err := openStore(context.Background(), d.dir, zerolog.Nop(), zerolog.WarnLevel)
	require.NoError(d.t, err)
	defer db.Close()
	require.NoError(d.t, markWriter(context.Background(), db, j, time.Now()))
	id, ok := jidIdentity(j)
	require.True(d.t, ok)
	return makeChatID(j), id
}

// Stranger returns a chat whose customer never wrote: the linked device
// only answers (cold outreach gets numbers banned), so nothing may go there.
func (d *driver) Stranger(n int) (bot.ChatID, channeltest.Reach) {
	return makeChatID(d.jid(50000 + n)), channeltest.Reach{}
}

func (d *driver) Inject(ctx context.Context, chat bot.ChatID, sender bot.Identity, id bot.MessageID, text string) error {
	select {
	case <-d.ready:
	case <-ctx.Done():
		return ctx.Err()
	}
	j, err := parseChatID(chat)
	if err != nil {
		return err
	}
	s, err := identityJID(sender)
	if err != nil {
		return err
	}
	evt := &events.Message{Info: types.MessageInfo{
		MessageSource: types.MessageSource{Chat: j, Sender: s},
		ID:            string(id), Timestamp: time.Now(), PushName: "Contract",
	}, RawMessage: textMsg(text)}
	d.mu.Lock()
	h := d.handler
	d.mu.Unlock()
	if !h(evt.UnwrapRaw()) {
		return errors.New("not acknowledged")
	}
	return nil
}

func (d *driver) Sent(chat bot.ChatID) []string {
	j, err := parseChatID(chat)
	require.NoError(d.t, err)
	d.cli.mu.Lock()
	defer d.cli.mu.Unlock()
	var out []string
	for _, m := range d.cli.sent {
		if m.to == j {
			out = append(out, m.msg.GetConversation())
		}
	}
	return out
}

// SentFiles returns the names of the documents (and "photo" for each
// photo, which carries no name) the fake client sent to chat.
func (d *driver) SentFiles(chat bot.ChatID) []string {
	j, err := parseChatID(chat)
	require.NoError(d.t, err)
	d.cli.mu.Lock()
	defer d.cli.mu.Unlock()
	var out []string
	for _, m := range d.cli.sent {
		switch {
		case m.to != j:
		case m.msg.GetDocumentMessage() != nil:
			out = append(out, m.msg.GetDocumentMessage().GetFileName())
		case m.msg.GetImageMessage() != nil:
			out = append(out, "photo")
		}
	}
	return out
}

func TestChannelContract(t *testing.T) {
	channeltest.RunChannelContract(t, newContractChannel)
}

func TestContractDriverRefusesUnwritten(t *testing.T) {
	ch, _ := newContractChannel(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- ch.Run(ctx, &fakeSink{}) }()
	require.Eventually(t, func() bool { return ch.(*Channel).session() != nil }, 10*time.Second, 5*time.Millisecond)
	_, err := ch.Send(ctx, bot.Outbound{Chat: "447700900555@s.whatsapp.net", Text: "cold outreach"})
	assert.ErrorIs(t, err, bot.ErrForbidden)
	cancel()
	assert.NoError(t, <-done)
}
