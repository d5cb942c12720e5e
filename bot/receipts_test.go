package bot_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboard/switchboard/bot"
	"github.com/switchboard/switchboard/channels/channeltest"
)

// receiptFirst is a WhatsApp channel whose delivery receipt reaches the
// router before Send has even returned, so before the send is recorded.
type receiptFirst struct {
	*channeltest.Fake
	sink atomic.Pointer[bot.Router]
}

func (c *receiptFirst) Send(ctx context.Context, m bot.Outbound) (bot.MessageID, error) {
	id, err := c.Fake.Send(ctx, m)
	if err == nil {
		if r := c.sink.Load(); r != nil {
			_ = r.Receipt(ctx, bot.Receipt{Platform: bot.WhatsApp, Chat: m.Chat, IDs: []bot.MessageID{id}, Status: bot.StatusDelivered})
		}
	}
	return id, err
}

func TestReceiptBeforeSendIsRecorded(t *testing.T) {
	wa := &receiptFirst{Fake: channeltest.NewFake(bot.WhatsApp)}
	h := newHarness(t, zerolog.Nop(), func(o *bot.Options) {
		for i, ch := range o.Channels {
			if ch.Platform() == bot.WhatsApp {
				o.Channels[i] = wa
			}
		}
	})
	wa.sink.Store(h.router)
	c := newCustomer(41)
	h.send(c, "quick receipt please")
	card := h.cardFor("quick receipt please")
	res := h.decide(bot.Decision{DraftID: card.DraftID, Kind: bot.Approve})
	require.Equal(t, bot.Applied, res.Outcome)
	h.waitCard(card.DraftID, func(c bot.Card) bool { return c.SendStatus == bot.StatusDelivered },
		"a receipt that came before the send was recorded still reaches the card")
	require.NoError(t, h.stop())
	assert.Len(t, wa.SendsTo(c.chat), 1)
}
