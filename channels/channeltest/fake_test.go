package channeltest_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboard/switchboard/bot"
	"github.com/switchboard/switchboard/channels/channeltest"
)

// fakeDriver drives a Fake in the contract: the fake's platform is memory.
type fakeDriver struct{ f *channeltest.Fake }

func (d fakeDriver) Conversation(n int) (bot.ChatID, bot.Identity) {
	return bot.ChatID(fmt.Sprintf("chat-%d", n)), bot.Identity{Kind: bot.IDPhone, Value: fmt.Sprintf("+4477009%05d", n)}
}

func (d fakeDriver) Inject(ctx context.Context, chat bot.ChatID, sender bot.Identity, id bot.MessageID, text string) error {
	return d.f.Inject(ctx, bot.Inbound{Chat: chat, Sender: sender, ID: id, Text: text, Kind: bot.KindText, SentAt: testTime})
}

func (d fakeDriver) Sent(chat bot.ChatID) []string {
	var out []string
	for _, s := range d.f.Sends() {
		if s.Chat == chat && s.File == nil {
			out = append(out, s.Text)
		}
	}
	return out
}

func (d fakeDriver) SentFiles(chat bot.ChatID) []string {
	var out []string
	for _, s := range d.f.Sends() {
		if s.Chat == chat && s.File != nil {
			out = append(out, s.File.Name)
		}
	}
	return out
}

// Stranger: the fake sends anywhere, as a platform that lets bots write
// first would.
func (d fakeDriver) Stranger(n int) (bot.ChatID, channeltest.Reach) {
	return bot.ChatID(fmt.Sprintf("stranger-%d", n)), channeltest.Reach{Text: true, Files: d.f.Capabilities().Files}
}

func TestFakeContract(t *testing.T) {
	for name, caps := range map[string]bot.Capabilities{
		"files, 4096 bytes":  {Files: true, MaxText: 4096},
		"no files, no limit": {},
	} {
		t.Run(name, func(t *testing.T) {
			channeltest.RunChannelContract(t, func(t *testing.T) (bot.Channel, channeltest.Driver) {
				f := channeltest.NewFake(bot.WhatsApp)
				f.SetCapabilities(caps)
				return f, fakeDriver{f}
			})
		})
	}
}

func TestFakeFailNext(t *testing.T) {
	f := channeltest.NewFake(bot.WhatsApp)
	ctx := context.Background()
	f.FailNext(2, nil)
	for range 2 {
		_, err := f.Send(ctx, bot.Outbound{Chat: "c", Text: "x"})
		require.ErrorIs(t, err, channeltest.ErrInjected)
	}
	id, err := f.Send(ctx, bot.Outbound{Chat: "c", Text: "x"})
	require.NoError(t, err)
	assert.Equal(t, bot.MessageID("fake-1"), id)
	assert.Len(t, f.Sends(), 1)
}

func TestFakeInjectNotRunning(t *testing.T) {
	f := channeltest.NewFake(bot.WhatsApp)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := f.Inject(ctx, bot.Inbound{})
	assert.ErrorIs(t, err, context.Canceled)
}

func TestNotifier(t *testing.T) {
	n := channeltest.NewNotifier()
	ctx := context.Background()
	ref, err := n.PostCard(ctx, bot.Card{DraftID: 7, Status: bot.DraftPending})
	require.NoError(t, err)
	require.NoError(t, n.UpdateCard(ctx, ref, bot.Card{DraftID: 7, Status: bot.DraftApproved}))
	c, ok := n.Card(7)
	require.True(t, ok)
	assert.Equal(t, bot.DraftApproved, c.Status)
	assert.Error(t, n.UpdateCard(ctx, ref, bot.Card{DraftID: 8}), "a ref updates only its own draft's card")
	assert.ErrorIs(t, n.UpdateCard(ctx, bot.CardRef{ActivityID: "nope"}, bot.Card{DraftID: 7}), bot.ErrNotFound)
	n.FailPosts(1)
	_, err = n.PostCard(ctx, bot.Card{DraftID: 9})
	assert.Error(t, err)
}

func TestDrafter(t *testing.T) {
	d := &channeltest.Drafter{Text: "hi"}
	ctx := context.Background()
	res, err := d.Draft(ctx, bot.DraftRequest{Subject: "s_1"})
	require.NoError(t, err)
	assert.Equal(t, "hi", res.Text)
	d.FailNext(1)
	_, err = d.Draft(ctx, bot.DraftRequest{})
	assert.ErrorIs(t, err, channeltest.ErrDrafter)
	assert.Len(t, d.Requests(), 2)
}

var testTime = mustTime("2026-11-28T10:00:00Z")
