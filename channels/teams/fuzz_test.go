package teams

import (
	"encoding/json"
	"github.com/switchboard/switchboard/bot"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func seedActivities(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	require.NoError(f, err)
	for _, name := range files {
		b, err := os.ReadFile(name)
		require.NoError(f, err)
		f.Add(b)
	}
	f.Add([]byte(`{"type":"message","value":"x"}`))
	f.Add([]byte(`{"type":"message","entities":[{"type":"mention","mentioned":null}]}`))
	f.Add([]byte(`{"type":1}`))
	f.Add([]byte(`null`))
}

func FuzzDecodeActivity(f *testing.F) {
	seedActivities(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		a, err := decodeActivity(body)
		if err != nil {
			assert.ErrorIs(t, err, errBadActivity)
			return
		}
		assert.NotEmpty(t, a.Type)
		text := a.cleanText()
		assert.Equal(t, strings.TrimSpace(text), text)
		a.tenant()
		a.group()
		a.botAdded()
		a.sentAt(time.Time{})
		// Accepted bodies yield a conversation that round-trips through a chat id.
		conv := conversationOf(&a)
		if parsed, err := parseChatID(string(conv.chatID())); err == nil {
			assert.Equal(t, conv.ServiceURL, parsed.ServiceURL)
			assert.Equal(t, conv.ID, parsed.ID)
		}
		for _, invoke := range []bool{false, true} {
			ca, ok, err := parseCardAction(a.Value, invoke)
			if ok && err == nil {
				assert.Positive(t, ca.DraftID)
				assert.NotEmpty(t, ca.Kind)
			}
		}
	})
}

func FuzzParseCardAction(f *testing.F) {
	for _, s := range []string{
		`{"switchboard":"decide","verb":"edit","draft":12,"text":"hi"}`,
		`{"switchboard":"decide","verb":"approve","draft":"12"}`,
		`{"action":{"type":"Action.Execute","verb":"regenerate","data":{"switchboard":"decide","draft":3,"instruction":"shorter"}}}`,
		`{"action":{"verb":"reject"}}`,
		`{"switchboard":"decide","verb":"nuke","draft":-1}`,
		`{"switchboard":"decide","verb":"edit","draft":12,"text":"","snippet":"Thanks"}`,
		`{"switchboard":"decide","verb":"edit","draft":12,"snippet":"../x"}`,
		`"text"`, `[]`, `{}`,
	} {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	f.Fuzz(func(t *testing.T, value []byte, invoke bool) {
		ca, ok, err := parseCardAction(json.RawMessage(value), invoke)
		if !ok || err != nil {
			return
		}
		_, known := verbs[string(ca.Kind)]
		assert.True(t, known)
		assert.Positive(t, ca.DraftID)
		assert.LessOrEqual(t, len(ca.Text), maxReplyLen)
		assert.LessOrEqual(t, len(ca.Instruction), maxReplyLen)
		if ca.Snippet != "" {
			name, ok := snippetName(ca.Snippet)
			assert.True(t, ok)
			assert.Equal(t, name, ca.Snippet)
			assert.Equal(t, bot.Edit, ca.Kind)
		}
	})
}

// FuzzSnippetName: a snippet name the channel accepts is lower case, short
// and path-safe.
func FuzzSnippetName(f *testing.F) {
	for _, s := range []string{"hours", "Opening-Hours_2", "", "bad/name", "ünïcode", strings.Repeat("a", 40)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		name, ok := snippetName(s)
		if !ok {
			return
		}
		assert.Equal(t, strings.ToLower(name), name)
		assert.LessOrEqual(t, len(name), maxSnippetName)
		assert.NotContains(t, name, "/")
		again, ok := snippetName(name)
		assert.True(t, ok)
		assert.Equal(t, name, again)
	})
}

// FuzzNormEntraID: an accepted Entra object id is lower case hex in five
// dash-separated groups, and normalising it again changes nothing.
func FuzzNormEntraID(f *testing.F) {
	for _, s := range []string{"6f1c2b3a-0d4e-4f5a-8b6c-7d8e9f0a1b2c", "6F1C2B3A-0D4E-4F5A-8B6C-7D8E9F0A1B2C", "not-a-guid", "00000000-0000-0000-0000-0000000000020", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := normEntraID(s)
		if err != nil {
			assert.ErrorIs(t, err, bot.ErrBadIdentity)
			return
		}
		assert.Equal(t, 4, strings.Count(id, "-"))
		assert.Equal(t, strings.ToLower(id), id)
		again, err := normEntraID(id)
		assert.NoError(t, err)
		assert.Equal(t, id, again)
	})
}

func FuzzParseChatID(f *testing.F) {
	f.Add("https://smba.trafficmanager.net/emea/#19:abc@thread.tacv2;messageid=1")
	f.Add("http://127.0.0.1:1234#a:1x")
	f.Add("#x")
	f.Add("https://a#")
	f.Add("file:///etc#x")
	f.Fuzz(func(t *testing.T, id string) {
		conv, err := parseChatID(id)
		if err != nil {
			return
		}
		assert.Equal(t, id, string(conv.chatID()), "a parsed chat id renders back unchanged")
		_, err = activitiesURL(conv, "1")
		assert.NoError(t, err)
		ex, err := newExchange(http.MethodPut, conv, "1")
		if assert.NoError(t, err) {
			assert.Equal(t, conv.ID, strings.TrimPrefix(strings.TrimSuffix(ex.target.Path, "/activities/1"),
				strings.TrimSuffix(mustParse(t, conv.ServiceURL).Path, "/")+"/v3/conversations/"), "the target names the conversation")
		}
	})
}

func mustParse(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	require.NoError(t, err)
	return u
}

func FuzzParseFileConsent(f *testing.F) {
	tok := strings.Repeat("ab", 32)
	for _, s := range []string{
		`{"type":"fileUpload","action":"accept","context":{"switchboard":"file","token":"` + tok + `"},"uploadInfo":{"uploadUrl":"https://contoso.sharepoint.com/up/1","name":"a.json"}}`,
		`{"type":"fileUpload","action":"decline","context":{"switchboard":"file","token":"` + strings.ToUpper(tok) + `"}}`,
		`{"action":"accept","context":{"switchboard":"file","token":"xyz"}}`,
		`{"action":"maybe","context":{"switchboard":"file","token":"` + tok + `"}}`,
		`{"action":"accept","context":"text"}`, `"x"`, `null`, `{}`,
	} {
		f.Add([]byte(s), "https://contoso.sharepoint.com/up/1")
	}
	f.Add([]byte(`{}`), "http://127.0.0.1:8080/up")
	f.Add([]byte(`{}`), "http://[::1]/up")
	f.Add([]byte(`{}`), "http://upload.example.com/up")
	f.Add([]byte(`{}`), "https://user:pw@host/up")
	f.Add([]byte(`{}`), "ftp://host/up")
	f.Fuzz(func(t *testing.T, value []byte, uploadURL string) {
		v, key, err := parseFileConsent(json.RawMessage(value))
		if err == nil {
			assert.Contains(t, []string{"accept", "decline"}, v.Action)
			assert.NotEqual(t, [32]byte{}, key)
		} else {
			assert.ErrorIs(t, err, errBadConsent)
		}
		if checkUploadURL(uploadURL) == nil {
			u, err := url.Parse(uploadURL)
			require.NoError(t, err)
			assert.NotEmpty(t, u.Host)
			assert.Nil(t, u.User)
			if u.Scheme != "https" {
				assert.Equal(t, "http", u.Scheme)
				h := u.Hostname()
				assert.True(t, h == "localhost" || strings.HasPrefix(h, "127.") || h == "::1" || strings.Contains(h, ":"), "plain http only to loopback, got %q", h)
			}
		}
	})
}

func FuzzParseViewClick(f *testing.F) {
	f.Add(`{"action":{"type":"Action.Execute","verb":"view","data":{"switchboard":"media","draft":12,"media":31,"token":"00112233"}}}`)
	f.Add(`{"action":{"verb":"view","data":{"switchboard":"media","draft":"12","media":"x"}}}`)
	f.Add(`{"action":{"verb":"approve","data":{"switchboard":"decide","draft":12}}}`)
	f.Add(`[]`)
	f.Fuzz(func(t *testing.T, s string) {
		v, ok, err := parseViewClick([]byte(s))
		if ok && err == nil && (v.draftID <= 0 || v.mediaID <= 0 || len(v.token) > 64) {
			t.Fatalf("accepted a bad click: %+v", v)
		}
	})
}
