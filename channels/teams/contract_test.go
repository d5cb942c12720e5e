package teams

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v4"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/switchboard/switchboard/bot"
	"github.com/switchboard/switchboard/channels/channeltest"
)

// contractDriver plays the Bot Framework for the channel contract: it
// posts activities signed by the loopback issuer to the channel's real
// handler, and reads what the recorded httptest connector received. Its
// people are staff of the bot's tenant writing in personal chats (the
// only senders a Teams bot serves).
type contractDriver struct {
	t    *testing.T
	ch   *Channel
	iss  *issuer
	conn *connectorStub
}

func newContractChannel(t *testing.T) (bot.Channel, channeltest.Driver) {
	d := &contractDriver{t: t, iss: newIssuer(t), conn: newConnector(t)}
	ch, err := New(Options{
		Log:            zerolog.Nop(),
		AppID:          testAppID,
		AppPassword:    testSecret,
		TenantID:       testTenant,
		State:          newMemState(),
		OpenIDMetadata: []string{d.iss.srv.URL + "/openid"},
		TokenURL:       d.conn.srv.URL + "/token",
		HTTPClient:     &http.Client{Timeout: 5 * time.Second},
	})
	require.NoError(t, err)
	d.ch = ch
	return ch, d
}

// contractAAD is the Entra object id of person n.
func contractAAD(n int) string { return fmt.Sprintf("6f1c2b3a-0d4e-4f5a-8b6c-%012d", n) }

// conv is the conversation id on the connector.
func (d *contractDriver) conv(id string) Conversation {
	return Conversation{ServiceURL: d.conn.srv.URL, ID: id}
}

// Conversation returns the personal chat of staff member n with the bot.
func (d *contractDriver) Conversation(n int) (bot.ChatID, bot.Identity) {
	return d.conv(fmt.Sprintf("a:1contract%d", n)).chatID(), bot.Identity{Kind: bot.IDTeams, Value: contractAAD(n)}
}

// Stranger returns the personal chat of a staff member who installed the
// bot and never wrote to it: the driver delivers the installation
// (conversationUpdate), after which a Teams bot may message the chat
// proactively; files need a chat whose user wrote (fileconsent.go).
func (d *contractDriver) Stranger(n int) (bot.ChatID, channeltest.Reach) {
	id := fmt.Sprintf("a:1stranger%d", n)
	act := map[string]any{
		"type": "conversationUpdate", "id": fmt.Sprintf("install-%d", n), "channelId": "msteams",
		"serviceUrl":   d.conn.srv.URL,
		"from":         map[string]any{"id": "29:stranger", "aadObjectId": contractAAD(50000 + n)},
		"recipient":    map[string]any{"id": "28:" + testAppID, "name": "Switchboard"},
		"conversation": map[string]any{"id": id, "conversationType": "personal", "tenantId": testTenant},
		"membersAdded": []any{map[string]any{"id": "28:" + testAppID}},
		"channelData":  map[string]any{"tenant": map[string]any{"id": testTenant}},
	}
	require.NoError(d.t, d.post(context.Background(), act))
	return d.conv(id).chatID(), channeltest.Reach{Text: true}
}

// Inject posts the message activity Teams sends when sender writes text
// in chat, with a token from the loopback issuer; before Run (503) it
// tries again.
func (d *contractDriver) Inject(ctx context.Context, chat bot.ChatID, sender bot.Identity, id bot.MessageID, text string) error {
	conv, err := parseChatID(string(chat))
	if err != nil {
		return err
	}
	if sender.Kind != bot.IDTeams {
		return fmt.Errorf("sender %v is not a Teams user", sender.Kind)
	}
	act := map[string]any{
		"type": "message", "id": string(id), "channelId": "msteams", "text": text, "textFormat": "plain",
		"timestamp":    time.Now().UTC().Format(time.RFC3339Nano),
		"serviceUrl":   conv.ServiceURL,
		"from":         map[string]any{"id": "29:contract", "name": "Contract Staff", "aadObjectId": sender.Value},
		"recipient":    map[string]any{"id": "28:" + testAppID, "name": "Switchboard"},
		"conversation": map[string]any{"id": conv.ID, "conversationType": "personal", "tenantId": testTenant},
		"channelData":  map[string]any{"tenant": map[string]any{"id": testTenant}},
	}
	return d.post(ctx, act)
}

// post delivers one activity through the handler, signed.
func (d *contractDriver) post(ctx context.Context, act map[string]any) error {
	body, err := json.Marshal(act)
	if err != nil {
		return err
	}
	claims := jwtClaims(d.conn.srv.URL)
	for {
		rec := httpRecorder(d.ch, body, sign(d.t, claims, "k1", rsaKeys()[0]))
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
		return fmt.Errorf("handler answered %d: %s", rec.Code, strings.TrimSpace(rec.Body.String()))
	}
}

// jwtClaims are the claims of a Bot Framework token for serviceURL.
func jwtClaims(serviceURL string) jwt.MapClaims {
	now := time.Now()
	return jwt.MapClaims{
		"iss": BotFrameworkIssuer, "aud": testAppID, "serviceurl": serviceURL,
		"exp": now.Add(time.Hour).Unix(), "nbf": now.Add(-time.Minute).Unix(),
	}
}

// posts returns the activities the bot posted into chat's conversation.
func (d *contractDriver) posts(chat bot.ChatID) []map[string]any {
	conv, err := parseChatID(string(chat))
	require.NoError(d.t, err)
	var out []map[string]any
	for _, r := range d.conn.requests() {
		rest, ok := strings.CutPrefix(r.Path, "/v3/conversations/")
		if !ok || r.Method != http.MethodPost {
			continue
		}
		esc, ok := strings.CutSuffix(rest, "/activities")
		if !ok {
			continue
		}
		if id, err := url.PathUnescape(esc); err == nil && id == conv.ID {
			out = append(out, r.Body)
		}
	}
	return out
}

// Sent returns the texts of the bot's messages without attachments.
func (d *contractDriver) Sent(chat bot.ChatID) []string {
	var out []string
	for _, b := range d.posts(chat) {
		if atts, _ := b["attachments"].([]any); len(atts) == 0 {
			text, _ := b["text"].(string)
			out = append(out, text)
		}
	}
	return out
}

// SentFiles returns the names of the files offered with a consent card.
func (d *contractDriver) SentFiles(chat bot.ChatID) []string {
	var out []string
	for _, b := range d.posts(chat) {
		atts, _ := b["attachments"].([]any)
		for _, a := range atts {
			if m, _ := a.(map[string]any); m["contentType"] == contentTypeFileConsent {
				name, _ := m["name"].(string)
				out = append(out, name)
			}
		}
	}
	return out
}

func TestChannelContract(t *testing.T) {
	channeltest.RunChannelContract(t, newContractChannel)
}
