package privacy

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboard/switchboard/bot"
)

// orderLog records sends and forgets in the order they happen.
type orderLog struct {
	mu      sync.Mutex
	events  []string
	sent    []bot.Outbound
	sendErr error
}

func (o *orderLog) add(e string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.events = append(o.events, e)
}

func (o *orderLog) snapshot() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.events...)
}

// waSender stands in for the WhatsApp channel as a Sender.
type waSender struct{ log *orderLog }

func (w waSender) Platform() bot.Platform                    { return bot.WhatsApp }
func (w waSender) Capabilities() bot.Capabilities            { return bot.Capabilities{Files: true} }
func (w waSender) Run(ctx context.Context, _ bot.Sink) error { <-ctx.Done(); return nil }
func (w waSender) Send(_ context.Context, m bot.Outbound) (bot.MessageID, error) {
	if w.log.sendErr != nil {
		return "", w.log.sendErr
	}
	w.log.add("send")
	w.log.mu.Lock()
	w.log.sent = append(w.log.sent, m)
	w.log.mu.Unlock()
	return "wa-1", nil
}

// waForgetter stands in for the WhatsApp channel as a Forgetter that
// counts what it removed.
type waForgetter struct{ log *orderLog }

func (w waForgetter) Forget(ctx context.Context, s bot.SubjectID, ids []bot.Identity) error {
	_, err := w.ForgetCounted(ctx, s, ids)
	return err
}

func (w waForgetter) Platform() bot.Platform { return bot.WhatsApp }

func (w waForgetter) ForgetCounted(context.Context, bot.SubjectID, []bot.Identity) (int, error) {
	w.log.add("forget")
	return 7, nil
}

func TestSelfErasureConfirmsBeforeChannelsForget(t *testing.T) {
	tests := []struct {
		name      string
		sendErr   error
		wantOrder []string
		wantReply bool
	}{
		// Sending on WhatsApp re-creates the session rows Forget deletes:
		// the confirmation must leave first, and not again as the reply.
		{name: "ConfirmedFirst", wantOrder: []string{"send", "forget"}},
		// If the early send fails, nothing is lost: the reply carries it,
		// and the channels forget the person again after it went out.
		{name: "SendFailsReplyCarriesIt", sendErr: errors.New("not connected"), wantOrder: []string{"forget"}, wantReply: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ol := &orderLog{sendErr: tc.sendErr}
			h := newHarness(t, func(o *Options) {
				o.Forgetters = []bot.Forgetter{waForgetter{ol}}
				o.Senders = map[bot.Platform]bot.Channel{bot.WhatsApp: waSender{ol}}
				o.ReforgetAfter = time.Millisecond
			})
			a := h.customer("+447700900123", "111111111@lid", "Ada")
			h.must(a, "/forget me")
			reply, handled, err := h.say(a, "YES")
			require.NoError(t, err)
			require.True(t, handled)
			if tc.wantReply {
				assert.Contains(t, reply.Text, "we erased your data")
				assert.Contains(t, reply.Text, "Our WhatsApp connection: 7 records", "sent after the channels forgot: their count")
				require.Eventually(t, func() bool { return len(ol.snapshot()) == 2 }, 5*time.Second, time.Millisecond,
					"the channels forget the person again after the fallback reply")
				assert.Equal(t, []string{"forget", "forget"}, ol.snapshot())
				return
			}
			assert.Equal(t, tc.wantOrder, ol.snapshot())
			assert.Empty(t, reply.Text, "the confirmation already went out")
			require.Len(t, ol.sent, 1)
			assert.Equal(t, chatOf(a), ol.sent[0].Chat)
			assert.Contains(t, ol.sent[0].Text, "we erased your data")
			assert.Contains(t, ol.sent[0].Text, "Our WhatsApp connection: what it keeps about you is deleted right after this message.",
				"sent before the channel forgot: what will happen, not a count")
			_, err = h.st.FindSubject(h.ctx, a.ID)
			assert.ErrorIs(t, err, bot.ErrNotFound, "our rows were gone before the confirmation")
		})
	}
}
