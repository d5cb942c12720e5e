package teams

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboard/switchboard/bot"
	"github.com/switchboard/switchboard/bot/bottest"
	"github.com/switchboard/switchboard/media/mediatest"
)

// fakeMedia is the bot's side of View: one draft with a token and its
// attachments, the bytes of kept ones.
type fakeMedia struct {
	mu    sync.Mutex
	token string
	items map[int64]bot.Media
	data  map[int64][]byte
	asked []int64
}

func (f *fakeMedia) ViewMedia(_ context.Context, draftID int64, token string, mediaID int64) (bot.Media, bot.Card, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.asked = append(f.asked, mediaID)
	m, ok := f.items[mediaID]
	if draftID != 12 || token != f.token || !ok || m.State != bot.MediaFetched {
		return bot.Media{}, bot.Card{}, fmt.Errorf("view: %w", bot.ErrNotFound)
	}
	card := bot.Card{DraftID: 12, Token: f.token, Customer: "Sam", Message: "[image] the boiler", Status: bot.DraftPending,
		Draft: "Thanks.", Result: &bot.DraftResult{Text: "Thanks."},
		Media: []bot.CardMedia{{ID: m.ID, Kind: m.Kind, State: m.State, MIME: m.MIME, Size: m.Size, FileName: m.FileName}}}
	return m, card, nil
}

func (f *fakeMedia) OpenMedia(_ context.Context, id int64) (io.ReadCloser, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	b, ok := f.data[id]
	if !ok {
		return nil, fmt.Errorf("open: %w", bot.ErrNotFound)
	}
	return io.NopCloser(bytes.NewReader(b)), nil
}

// viewClickBody is an Action.Execute View on draft 12's card.
func (e *env) viewClick(t *testing.T, media int64, token string) []byte {
	return e.activity(t, "invoke_approve.json", func(m map[string]any) {
		m["value"] = map[string]any{"action": map[string]any{"type": "Action.Execute", "verb": "view",
			"data": map[string]any{"switchboard": "media", "verb": "view", "draft": 12, "media": media, "token": token}}}
	})
}

// openURL finds the Action.OpenUrl of a card.
func openURL(t *testing.T, card any) string {
	t.Helper()
	b, err := json.Marshal(card)
	require.NoError(t, err)
	var found string
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if x["type"] == "Action.OpenUrl" {
				found, _ = x["url"].(string)
			}
			for _, y := range x {
				walk(y)
			}
		case []any:
			for _, y := range x {
				walk(y)
			}
		}
	}
	var v any
	require.NoError(t, json.Unmarshal(b, &v))
	walk(v)
	return found
}

func TestViewLink(t *testing.T) {
	photo := mediatest.JPEG(800, 600, 3)
	fm := &fakeMedia{token: "00112233445566778899aabbccddeeff",
		items: map[int64]bot.Media{
			31: {ID: 31, Kind: bot.KindImage, State: bot.MediaFetched, MIME: "image/jpeg", Size: int64(len(photo))},
			32: {ID: 32, Kind: bot.KindDocument, State: bot.MediaFetched, MIME: "application/vnd.openxmlformats-officedocument.wordprocessingml.document", FileName: "../../Quote for Ada \"final\".docx"},
			33: {ID: 33, Kind: bot.KindVoice, State: bot.MediaPending, MIME: "audio/ogg"},
		},
		data: map[int64][]byte{31: photo, 32: []byte("PK\x03\x04 a docx")}}
	clock := bottest.NewClock(time.Now())
	e := newEnv(t, func(o *Options) {
		o.Media, o.PublicURL, o.Now = fm, "https://bot.example.com/", clock.Now
	})
	srv := httptest.NewServer(e.ch.MediaHandler())
	t.Cleanup(srv.Close)
	fetch := func(link, method string) *http.Response {
		t.Helper()
		u := srv.URL + strings.TrimPrefix(link, "https://bot.example.com")
		req, err := http.NewRequest(method, u, nil)
		require.NoError(t, err)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
	click := func(media int64, token string) map[string]any {
		t.Helper()
		rec := e.post(e.viewClick(t, media, token), e.token(t))
		require.Equal(t, http.StatusOK, rec.Code)
		return decodeInvoke(t, rec.Body.String())
	}

	res := click(31, fm.token)
	require.Equal(t, contentTypeCard, res["type"], "the clicker gets their own copy of the card")
	link := openURL(t, res["value"])
	require.True(t, strings.HasPrefix(link, "https://bot.example.com/media/"), link)
	assert.Contains(t, fmt.Sprint(res["value"]), "Only you see this link. It opens the photo once, within 5 minutes.")
	assert.Empty(t, e.conn.requests(), "nobody else's card changes")

	head := fetch(link, http.MethodHead)
	assert.Equal(t, http.StatusOK, head.StatusCode, "a HEAD does not use the link up")
	resp := fetch(link, http.MethodGet)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	got, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	assert.Equal(t, photo, got)
	assert.Equal(t, "image/jpeg", resp.Header.Get("Content-Type"))
	assert.Equal(t, `inline; filename=photo.jpg`, resp.Header.Get("Content-Disposition"))
	assert.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
	assert.Equal(t, "nosniff", resp.Header.Get("X-Content-Type-Options"))
	assert.Contains(t, resp.Header.Get("Content-Security-Policy"), "sandbox")
	assert.Equal(t, http.StatusNotFound, fetch(link, http.MethodGet).StatusCode, "a link opens the file once")

	// A document that a browser would run or misread is downloaded, under
	// its own base name.
	doc := openURL(t, click(32, fm.token)["value"])
	resp = fetch(doc, http.MethodGet)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "application/octet-stream", resp.Header.Get("Content-Type"))
	assert.Equal(t, `attachment; filename="Quote for Ada \"final\".docx"`, resp.Header.Get("Content-Disposition"))

	// Expired: five minutes.
	late := openURL(t, click(31, fm.token)["value"])
	clock.Add(5*time.Minute + time.Second)
	assert.Equal(t, http.StatusNotFound, fetch(late, http.MethodGet).StatusCode)
	for _, bad := range []string{"/media/", "/media/short", "/media/" + strings.Repeat("A", 43)} {
		assert.Equal(t, http.StatusNotFound, fetch("https://bot.example.com"+bad, http.MethodGet).StatusCode, bad)
	}

	// Wrong token, an item still downloading, another draft's item: the
	// same plain answer, no link.
	for _, tc := range []struct {
		media int64
		token string
	}{{31, "ffeeddccbbaa99887766554433221100"}, {33, fm.token}, {99, fm.token}} {
		res := click(tc.media, tc.token)
		assert.Equal(t, contentTypeMessage, res["type"])
		assert.Equal(t, msgViewGone, res["value"])
	}

	t.Run("NotStaff", func(t *testing.T) {
		n := len(fm.asked)
		body := e.activity(t, "invoke_approve.json", func(m map[string]any) {
			m["value"] = map[string]any{"action": map[string]any{"type": "Action.Execute", "verb": "view",
				"data": map[string]any{"switchboard": "media", "draft": 12, "media": 31, "token": fm.token}}}
			m["from"].(map[string]any)["aadObjectId"] = ""
		})
		rec := e.post(body, e.token(t))
		res := decodeInvoke(t, rec.Body.String())
		assert.Equal(t, msgNotStaff, res["value"])
		assert.Len(t, fm.asked, n, "the bot is not even asked")
	})
	t.Run("Malformed", func(t *testing.T) {
		body := e.activity(t, "invoke_approve.json", func(m map[string]any) {
			m["value"] = map[string]any{"action": map[string]any{"type": "Action.Execute", "verb": "view",
				"data": map[string]any{"switchboard": "media", "draft": "x", "media": 31}}}
		})
		res := decodeInvoke(t, e.post(body, e.token(t)).Body.String())
		assert.Equal(t, float64(400), res["statusCode"])
	})
}

func TestViewWithoutPublicURL(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.Media = &fakeMedia{} })
	res := decodeInvoke(t, e.post(e.viewClick(t, 31, "x"), e.token(t)).Body.String())
	assert.Equal(t, msgViewOff, res["value"])
	card := renderCard(bot.Card{DraftID: 12, Message: "[image]", Status: bot.DraftPending,
		Media: []bot.CardMedia{{ID: 31, Kind: bot.KindImage, State: bot.MediaFetched, MIME: "image/jpeg"}}}, e.ch.view(context.Background()))
	b, err := json.Marshal(card)
	require.NoError(t, err)
	assert.Contains(t, string(b), "once Switchboard has a public address")
	assert.NotContains(t, string(b), `"verb":"view"`)
}
