package teams

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/switchboard/switchboard/bot"
)

// How staff open a customer's file from a card.
//
// A card carries a photo's preview, a voice note's transcript and a
// document's name, type and size; the whole file stays with the bot. A
// staff member clicks View (an Action.Execute): Teams sends the click as a
// signed invoke, so the channel knows who clicked and that they are staff
// of this business (their tenant, from the validated token) and checks the
// click is this card's (the draft's token, an attachment of its message).
// It answers that person alone (the invoke's card replaces the card for
// the one who clicked; everyone else keeps theirs) with a link:
// PublicURL/media/<32 random bytes>. The link opens the file once, and
// within MediaLinkTTL (5 minutes by default); it is held in memory only, so
// a restart ends every link. The link alone is what opens the file, so it
// is given only to a staff member, only on their click, and it works for
// one download: a link copied or forwarded afterwards opens nothing, and
// one copied before it was used works for its owner's minutes at most.
// Files are served whole, with their checked type, inline only for types
// a browser shows without running anything (images, audio, video, PDF),
// as a download otherwise, never cached, never sniffed.

// DefaultMediaLinkTTL is how long a View link works.
const DefaultMediaLinkTTL = 5 * time.Minute

// maxMediaLinks bounds the links waiting to be opened.
const maxMediaLinks = 10000

// MediaPath is where Handler's sibling MediaHandler serves View links;
// mount MediaHandler at "GET " + MediaPath.
const MediaPath = "/media/"

// MediaSource is what the channel needs of the bot to open attachments.
type MediaSource interface {
	// ViewMedia returns attachment mediaID of draft draftID, whose card
	// carries the action token token, and the draft's card as it stands.
	// It returns an error wrapping bot.ErrNotFound when any of them does
	// not match or the file is not kept (erased, still downloading).
	ViewMedia(ctx context.Context, draftID int64, token string, mediaID int64) (bot.Media, bot.Card, error)
	// OpenMedia returns the decrypted bytes of a kept item; the caller
	// closes it.
	OpenMedia(ctx context.Context, mediaID int64) (io.ReadCloser, error)
}

// mediaView is what a card is rendered with about its attachments.
type mediaView struct {
	enabled bool             // View links can be issued (Media and PublicURL set)
	links   map[int64]string // links issued to the person the card is for
	ttl     time.Duration
}

// mediaLink is one issued link.
type mediaLink struct {
	id      int64
	mime    string
	name    string
	expires time.Time
}

// mediaLinks are the links waiting to be opened.
type mediaLinks struct {
	mu sync.Mutex
	m  map[string]mediaLink
}

// issue makes a link for item m that works once until expires.
func (l *mediaLinks) issue(m bot.Media, expires, now time.Time) (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("media link: %w", err)
	}
	tok := base64.RawURLEncoding.EncodeToString(b[:])
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.m == nil {
		l.m = map[string]mediaLink{}
	}
	for k, v := range l.m {
		if !now.Before(v.expires) {
			delete(l.m, k)
		}
	}
	if len(l.m) >= maxMediaLinks {
		return "", errors.New("media link: too many links waiting")
	}
	l.m[tok] = mediaLink{id: m.ID, mime: m.MIME, name: downloadName(m), expires: expires}
	return tok, nil
}

// claim takes a link: it works once, and only before it expires.
func (l *mediaLinks) claim(tok string, now time.Time) (mediaLink, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	v, ok := l.m[tok]
	if !ok {
		return mediaLink{}, false
	}
	delete(l.m, tok)
	return v, now.Before(v.expires)
}

// inlineTypes are shown in the browser; any other type is downloaded.
var inlineTypes = map[string]bool{
	"image/jpeg": true, "image/png": true, "image/gif": true, "image/webp": true,
	"audio/ogg": true, "audio/mp4": true, "audio/mpeg": true, "audio/aac": true,
	"video/mp4": true, "application/pdf": true,
}

// downloadName is the file name a download is offered under: a document's
// own (its base name), else a generic one by kind.
func downloadName(m bot.Media) string {
	if n := path.Base(strings.ReplaceAll(m.FileName, "\\", "/")); m.FileName != "" && n != "." && n != "/" {
		return n
	}
	ext := map[string]string{"image/jpeg": ".jpg", "image/png": ".png", "image/gif": ".gif", "image/webp": ".webp",
		"audio/ogg": ".ogg", "audio/mp4": ".m4a", "audio/mpeg": ".mp3", "video/mp4": ".mp4", "application/pdf": ".pdf"}[bot.CanonicalMIME(m.MIME)]
	return strings.ReplaceAll(mediaNoun(m.Kind), " ", "-") + ext
}

// mediaEnabled reports whether View links can be issued.
func (c *Channel) mediaEnabled() bool { return c.opts.Media != nil && c.opts.PublicURL != "" }

// MediaHandler serves View links at MediaPath; mount it at "GET
// /media/". It answers 404 for a link that is unknown, used or expired.
func (c *Channel) MediaHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		if r.Method == http.MethodHead {
			// A link preview (a chat app's crawler) must not use it up.
			w.WriteHeader(http.StatusOK)
			return
		}
		tok := strings.TrimPrefix(r.URL.Path, MediaPath)
		if c.opts.Media == nil || len(tok) != 43 || strings.Contains(tok, "/") {
			http.Error(w, "not found or expired", http.StatusNotFound)
			return
		}
		l, ok := c.links.claim(tok, c.now())
		if !ok {
			http.Error(w, "not found or expired", http.StatusNotFound)
			return
		}
		rc, err := c.opts.Media.OpenMedia(r.Context(), l.id)
		if err != nil {
			if !errors.Is(err, bot.ErrNotFound) {
				c.log.Warn().Err(err).Int64("media", l.id).Msg("media for a view link not opened")
			}
			http.Error(w, "not found or expired", http.StatusNotFound)
			return
		}
		defer rc.Close()
		mt := bot.CanonicalMIME(l.mime)
		disp := "attachment"
		if inlineTypes[mt] {
			disp = "inline"
		} else {
			mt = "application/octet-stream"
		}
		h := w.Header()
		h.Set("Content-Type", mt)
		h.Set("Content-Disposition", mime.FormatMediaType(disp, map[string]string{"filename": l.name}))
		h.Set("Cache-Control", "no-store")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Content-Security-Policy", "default-src 'none'; img-src 'self'; media-src 'self'; sandbox")
		if _, err := io.Copy(w, rc); err != nil {
			// The error may name the client address: not logged.
			c.log.Warn().Int64("media", l.id).Msg("media view interrupted")
			return
		}
		c.log.Info().Int64("media", l.id).Msg("media viewed through a one-time link")
	})
}

// viewClick is a decoded View click.
type viewClick struct {
	draftID, mediaID int64
	token            string
}

// parseViewClick decodes the value of an adaptiveCard/action invoke that
// is a View click; ok is false for any other value.
func parseViewClick(value json.RawMessage) (viewClick, bool, error) {
	var inv struct {
		Action struct {
			Verb string `json:"verb"`
			Data struct {
				Switchboard string          `json:"switchboard"`
				Draft       json.RawMessage `json:"draft"`
				Media       json.RawMessage `json:"media"`
				Token       string          `json:"token"`
			} `json:"data"`
		} `json:"action"`
	}
	if err := json.Unmarshal(value, &inv); err != nil || inv.Action.Data.Switchboard != "media" {
		return viewClick{}, false, nil
	}
	num := func(raw json.RawMessage) int64 {
		n, err := strconv.ParseInt(strings.Trim(string(bytes.TrimSpace(raw)), `"`), 10, 64)
		if err != nil || n <= 0 {
			return 0
		}
		return n
	}
	v := viewClick{draftID: num(inv.Action.Data.Draft), mediaID: num(inv.Action.Data.Media), token: inv.Action.Data.Token}
	if inv.Action.Verb != "view" || v.draftID == 0 || v.mediaID == 0 || len(v.token) > 64 {
		return viewClick{}, true, fmt.Errorf("view click: %w", errBadActivity)
	}
	return v, true, nil
}

// Texts of View.
const (
	msgViewOff  = "The whole file can be opened from the card once Switchboard has a public address: ask whoever runs it to set --public-url."
	msgViewGone = "That file is not available any more (the customer's data may have been erased), or the card is out of date."
)

// onView answers a staff member's View click with their own copy of the
// card, holding a one-time link to the file.
func (c *Channel) onView(ctx context.Context, w http.ResponseWriter, vc viewClick) {
	if !c.mediaEnabled() {
		writeInvoke(w, invokeMessage(msgViewOff))
		return
	}
	m, card, err := c.opts.Media.ViewMedia(ctx, vc.draftID, vc.token, vc.mediaID)
	if errors.Is(err, bot.ErrNotFound) {
		writeInvoke(w, invokeMessage(msgViewGone))
		return
	}
	if err != nil {
		c.log.Error().Err(err).Int64("draft_id", vc.draftID).Msg("teams view failed")
		writeInvoke(w, invokeError(500, "InternalError", msgDecideFailed))
		return
	}
	now := c.now()
	tok, err := c.links.issue(m, now.Add(c.linkTTL), now)
	if err != nil {
		c.log.Error().Err(err).Msg("teams view link not issued")
		writeInvoke(w, invokeError(500, "InternalError", msgDecideFailed))
		return
	}
	v := c.view(ctx)
	v.media.links = map[int64]string{m.ID: strings.TrimRight(c.opts.PublicURL, "/") + MediaPath + tok}
	c.log.Info().Int64("draft_id", vc.draftID).Int64("media", m.ID).Msg("teams view link issued to a staff member")
	writeInvoke(w, invokeResponse{StatusCode: 200, Type: contentTypeCard, Value: renderCard(card, v)})
}
