package whatsappcloud

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard/switchboard/bot"
	"github.com/switchboard/switchboard/channels/channeltest"
	"github.com/switchboard/switchboard/channels/whatsappcloud/cloudtest"
	"github.com/switchboard/switchboard/internal/waid"
)

// driver plays Meta for the channel contract: it posts signed webhooks to
// the channel's real handler and reads what the fake Graph API was asked to
// send. It is the store too, as far as the window goes: the customers of
// its conversations wrote a minute ago.
type driver struct {
	ch    *Channel
	graph *cloudtest.Graph

	mu    sync.Mutex
	wrote map[bot.ChatID]time.Time
}

func newContractChannel(t *testing.T) (bot.Channel, channeltest.Driver) {
	d := &driver{graph: cloudtest.NewGraph(t, testPNID, testToken), wrote: map[bot.ChatID]time.Time{}}
	ch, err := New(Options{
		PhoneNumberID: testPNID, AccessToken: testToken, AppSecret: testSecret, VerifyToken: testVerify,
		GraphURL: d.graph.URL(), SendBackoff: time.Millisecond, StateDir: t.TempDir(),
		LastInbound: func(_ context.Context, chat bot.ChatID) (time.Time, error) {
			d.mu.Lock()
			defer d.mu.Unlock()
			return d.wrote[chat], nil
		},
	})
	require.NoError(t, err)
	d.ch = ch
	return ch, d
}

func (d *driver) digits(n int) string { return fmt.Sprintf("4477009%05d", n) }

// Conversation returns chat n; its customer wrote a minute ago.
func (d *driver) Conversation(n int) (bot.ChatID, bot.Identity) {
	c, err := waid.PhoneChat(d.digits(n))
	if err != nil {
		panic(err)
	}
	d.mu.Lock()
	d.wrote[c.ID()] = time.Now().Add(-time.Minute)
	d.mu.Unlock()
	return c.ID(), c.Identity()
}

// Stranger returns a chat whose customer never wrote: its 24-hour window
// never opened, so only a template could go there.
func (d *driver) Stranger(n int) (bot.ChatID, channeltest.Reach) {
	c, _ := waid.PhoneChat(d.digits(50000 + n))
	return c.ID(), channeltest.Reach{}
}

// Inject posts the webhook Meta sends for a text message, signed, and
// waits for the channel to serve (Run starting).
func (d *driver) Inject(ctx context.Context, chat bot.ChatID, sender bot.Identity, id bot.MessageID, text string) error {
	to, err := parseChatID(chat)
	if err != nil {
		return err
	}
	if sender.Value != "+"+to.to {
		return fmt.Errorf("sender %v is not the person of chat %s", sender, chat)
	}
	body := cloudtest.TextMessage(testPNID, to.to, "Contract", string(id), text, time.Now().Unix())
	for {
		req := httptest.NewRequestWithContext(ctx, http.MethodPost, "/webhooks/whatsapp", bytes.NewReader(body))
		req.Header.Set("X-Hub-Signature-256", cloudtest.Sign(testSecret, body))
		rec := httptest.NewRecorder()
		d.ch.Handler().ServeHTTP(rec, req)
		switch rec.Code {
		case http.StatusOK:
			return nil
		case http.StatusServiceUnavailable: // Run not started yet
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(5 * time.Millisecond):
			}
			continue
		}
		return fmt.Errorf("webhook answered %d: %s", rec.Code, strings.TrimSpace(rec.Body.String()))
	}
}

// Sent returns the texts the fake Graph API accepted for chat.
func (d *driver) Sent(chat bot.ChatID) []string {
	to, err := parseChatID(chat)
	if err != nil {
		return nil
	}
	var out []string
	for _, m := range d.graph.Messages() {
		if m.To == to.to && m.Type == "text" {
			out = append(out, m.Text)
		}
	}
	return out
}

// SentFiles returns the file names of the documents (and "photo" for each
// photo) the fake Graph API accepted for chat.
func (d *driver) SentFiles(chat bot.ChatID) []string {
	to, err := parseChatID(chat)
	if err != nil {
		return nil
	}
	var out []string
	for _, m := range d.graph.Accepted() {
		switch {
		case m.To != to.to:
		case m.Type == "document":
			out = append(out, m.Filename)
		case m.Type == "image":
			out = append(out, "photo")
		}
	}
	return out
}

func TestChannelContract(t *testing.T) {
	channeltest.RunChannelContract(t, newContractChannel)
}
