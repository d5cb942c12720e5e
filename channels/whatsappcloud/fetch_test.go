package whatsappcloud

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboard/switchboard/bot"
	"github.com/switchboard/switchboard/channels/whatsappcloud/cloudtest"
	"github.com/switchboard/switchboard/media/mediatest"
)

// imageWebhook is a webhook with one photo, as Meta posts it: the media id,
// type and base64 sha256, no size and no URL.
func imageWebhook(mediaID string, data []byte) []byte {
	sum := sha256.Sum256(data)
	return cloudtest.Envelope(testPNID, map[string]any{
		"contacts": []any{map[string]any{"profile": map[string]any{"name": "Zebedee"}, "wa_id": testWaID}},
		"messages": []any{map[string]any{"from": testWaID, "id": "wamid.PHOTO" + mediaID, "timestamp": "1764583200", "type": "image",
			"image": map[string]any{"caption": "the boiler", "mime_type": "image/jpeg", "sha256": base64.StdEncoding.EncodeToString(sum[:]), "id": mediaID}}},
	})
}

// TestFetchMediaThroughGraph: a photo's webhook gives the media id; the
// channel asks the Graph API for its URL (with the phone number id), then
// downloads it with the bearer token, and the bytes are the customer's.
func TestFetchMediaThroughGraph(t *testing.T) {
	e := newEnv(t, nil).run(t)
	photo := mediatest.JPEG(800, 600, 1)
	e.graph.AddMediaFile("1479537139650973", "image/jpeg", photo)
	require.Equal(t, http.StatusOK, e.postSigned(imageWebhook("1479537139650973", photo)).Code)
	in, _ := e.sink.got()
	require.Len(t, in, 1)
	require.NotNil(t, in[0].Media)
	assert.Equal(t, bot.KindImage, in[0].Kind)

	got, err := e.ch.FetchMedia(context.Background(), *in[0].Media, 16<<20)
	require.NoError(t, err)
	assert.Equal(t, photo, got)
	m := bot.NewMedia(1, in[0].Kind, *in[0].Media)
	sum := sha256.Sum256(photo)
	assert.Equal(t, sum[:], m.SHA256, "the webhook's base64 sha256 is what the inspector checks")

	var lookups []cloudtest.Request
	for _, r := range e.graph.Requests() {
		if r.Method == http.MethodGet && r.Path == "/1479537139650973" {
			lookups = append(lookups, r)
		}
	}
	require.Len(t, lookups, 1)
	require.Len(t, e.graph.Downloads(), 1)
}

func TestFetchMediaErrors(t *testing.T) {
	ctx := context.Background()
	photo := mediatest.JPEG(320, 240, 2)
	t.Run("TooLargeBeforeDownload", func(t *testing.T) {
		e := newEnv(t, nil)
		e.graph.AddMediaFile("111", "image/jpeg", photo)
		_, err := e.ch.FetchMedia(ctx, bot.MediaRef{ID: "111"}, int64(len(photo)-1))
		assert.ErrorIs(t, err, bot.ErrTooLarge)
		assert.Empty(t, e.graph.Downloads(), "the declared size refuses it before any byte is read")
	})
	t.Run("NotFound", func(t *testing.T) {
		e := newEnv(t, nil)
		_, err := e.ch.FetchMedia(ctx, bot.MediaRef{ID: "222"}, 1<<20)
		assert.ErrorIs(t, err, bot.ErrNotFound)
		_, err = e.ch.FetchMedia(ctx, bot.MediaRef{ID: "../messages"}, 1<<20)
		assert.ErrorIs(t, err, bot.ErrNotFound, "an id that is not one is not fetched")
	})
	t.Run("TokenExpiredWaits", func(t *testing.T) {
		e := newEnv(t, func(o *Options) { o.AccessToken = "EAAGexpired" })
		e.graph.AddMediaFile("333", "image/jpeg", photo)
		_, err := e.ch.FetchMedia(ctx, bot.MediaRef{ID: "333"}, 1<<20)
		assert.ErrorIs(t, err, bot.ErrUnavailable)
		assert.Equal(t, StateTokenInvalid, e.ch.State().State)
	})
	t.Run("MetaFailsThenRetried", func(t *testing.T) {
		e := newEnv(t, nil)
		e.graph.AddMediaFile("444", "image/jpeg", photo)
		e.graph.FailNext(3, 500, 1)
		_, err := e.ch.FetchMedia(ctx, bot.MediaRef{ID: "444"}, 1<<20)
		require.Error(t, err)
		assert.NotErrorIs(t, err, bot.ErrNotFound)
		assert.NotErrorIs(t, err, bot.ErrUnavailable, "a 5xx is retried later, using a try")
		got, err := e.ch.FetchMedia(ctx, bot.MediaRef{ID: "444"}, 1<<20)
		require.NoError(t, err)
		assert.Equal(t, photo, got)
	})
}

// fakeMeta answers GET /{media-id} with a URL of its choosing and serves
// downloads, recording the Authorization header each got.
type fakeMeta struct {
	srv     *httptest.Server
	url     func(base string) string // the media URL to answer with
	dl      func(w http.ResponseWriter, r *http.Request, n int)
	size    string
	sha     string
	auth    []string
	nlookup int
	ndl     int
}

func newFakeMeta(t *testing.T) *fakeMeta {
	f := &fakeMeta{}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/file") {
			f.ndl++
			f.auth = append(f.auth, r.Header.Get("Authorization"))
			f.dl(w, r, f.ndl)
			return
		}
		f.nlookup++
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"messaging_product":"whatsapp","url":"` + f.url(f.srv.URL) + `","mime_type":"image/jpeg","sha256":"` + f.sha +
			`","file_size":` + f.size + `,"id":"555"}`))
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func TestFetchMediaURLs(t *testing.T) {
	ctx := context.Background()
	data := []byte("\xff\xd8\xff\xe0 a photo's bytes")
	sum := sha256.Sum256(data)
	hexSum := func() string { return hex.EncodeToString(sum[:]) }
	parse := func(s string) *url.URL {
		u, err := url.Parse(s)
		require.NoError(t, err)
		return u
	}

	t.Run("ExpiredURLAskedAgain", func(t *testing.T) {
		f := newFakeMeta(t)
		f.url = func(base string) string { return base + "/file?n=" + strconv.Itoa(f.nlookup) }
		f.size, f.sha = strconv.Itoa(len(data)), hexSum()
		f.dl = func(w http.ResponseWriter, r *http.Request, n int) {
			if n == 1 {
				http.Error(w, "expired", http.StatusNotFound)
				return
			}
			_, _ = w.Write(data)
		}
		e := newEnv(t, func(o *Options) { o.GraphURL = f.srv.URL + "/v26.0" })
		got, err := e.ch.FetchMedia(ctx, bot.MediaRef{ID: "555"}, 1<<20)
		require.NoError(t, err)
		assert.Equal(t, data, got)
		assert.Equal(t, 2, f.nlookup, "a new URL for the expired one")
		assert.Equal(t, []string{"Bearer " + testToken, "Bearer " + testToken}, f.auth)
	})
	t.Run("TokenNeverLeavesMeta", func(t *testing.T) {
		f := newFakeMeta(t)
		other := newFakeMeta(t)
		other.dl = func(w http.ResponseWriter, r *http.Request, n int) { _, _ = w.Write(data) }
		f.url = func(string) string { return other.srv.URL + "/file" }
		f.size, f.sha = strconv.Itoa(len(data)), hexSum()
		e := newEnv(t, func(o *Options) { o.GraphURL = f.srv.URL + "/v26.0" })
		_, err := e.ch.FetchMedia(ctx, bot.MediaRef{ID: "555"}, 1<<20)
		require.Error(t, err)
		assert.Zero(t, other.ndl, "no request, so no token, to a host that is not Meta's")
		for _, bad := range []string{"http://lookaside.fbsbx.com/x", "https://fbsbx.com.evil.example/x", "https://evilfbsbx.com/x"} {
			assert.False(t, e.ch.mediaURLAllowed(parse(bad)), bad)
		}
		for _, good := range []string{"https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=1", "https://scontent.whatsapp.net/v/t61"} {
			assert.True(t, e.ch.mediaURLAllowed(parse(good)), good)
		}
	})
	t.Run("ShortOrAlteredRead", func(t *testing.T) {
		f := newFakeMeta(t)
		f.url = func(base string) string { return base + "/file" }
		f.size, f.sha = strconv.Itoa(len(data)+10), hexSum()
		f.dl = func(w http.ResponseWriter, r *http.Request, n int) { _, _ = w.Write(data) }
		e := newEnv(t, func(o *Options) { o.GraphURL = f.srv.URL + "/v26.0" })
		_, err := e.ch.FetchMedia(ctx, bot.MediaRef{ID: "555"}, 1<<20)
		assert.ErrorContains(t, err, "declared")
		f.size, f.sha = `"`+strconv.Itoa(len(data))+`"`, strings.Repeat("00", 32)
		_, err = e.ch.FetchMedia(ctx, bot.MediaRef{ID: "555"}, 1<<20)
		assert.ErrorContains(t, err, "sha256")
	})
	t.Run("OverCapWhileReading", func(t *testing.T) {
		f := newFakeMeta(t)
		f.url = func(base string) string { return base + "/file" }
		f.size, f.sha = "0", ""
		f.dl = func(w http.ResponseWriter, r *http.Request, n int) {
			w.(http.Flusher).Flush() // no Content-Length
			_, _ = w.Write(make([]byte, 5000))
		}
		e := newEnv(t, func(o *Options) { o.GraphURL = f.srv.URL + "/v26.0" })
		_, err := e.ch.FetchMedia(ctx, bot.MediaRef{ID: "555"}, 4096)
		assert.ErrorIs(t, err, bot.ErrTooLarge)
	})
}
