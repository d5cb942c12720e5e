package whatsappcloud

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/switchboard/switchboard/bot"
)

var _ bot.MediaFetcher = (*Channel)(nil)

// mediaHosts are the hosts (and their subdomains) a media URL from the
// Graph API may point at: the bearer token goes there, so nowhere else.
var mediaHosts = []string{"fbsbx.com", "facebook.com", "fbcdn.net", "whatsapp.net"}

// maxMediaID bounds a media id taken from a webhook.
const maxMediaID = 256

// mediaInfo is the Graph API's answer to GET /{media-id}. file_size comes
// as a string ("303833") in Meta's reference and as a number in some
// answers; both are read.
type mediaInfo struct {
	URL      string          `json:"url"`
	MIME     string          `json:"mime_type"`
	SHA256   string          `json:"sha256"`
	FileSize json.RawMessage `json:"file_size"`
	ID       string          `json:"id"`
}

func (m mediaInfo) size() int64 {
	s := strings.Trim(strings.TrimSpace(string(m.FileSize)), `"`)
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0
	}
	return n
}

// errURLExpired is a media URL that no longer serves the file (its five
// minutes passed): a new one is asked for.
var errURLExpired = errors.New("media url expired")

// FetchMedia downloads a file a customer sent: GET /{media-id} (with the
// phone number id, so only this number's media) gives a short-lived URL
// and the file's size, then the URL is read with the bearer token, at most
// limit bytes. A URL that expired before it was read is asked for once
// more. Errors: bot.ErrTooLarge (over limit, from the declared size before
// any byte is read, or while reading), bot.ErrNotFound (Meta no longer has
// the id: it keeps received media about 7 days, or it was deleted),
// bot.ErrUnavailable (a token, permission or rate problem: the item waits
// without using up a try), anything else is retried by the media worker.
func (c *Channel) FetchMedia(ctx context.Context, ref bot.MediaRef, limit int64) ([]byte, error) {
	id := ref.ID
	if id == "" || len(id) > maxMediaID || strings.ContainsAny(id, "/?#% ") {
		return nil, fmt.Errorf("whatsappcloud fetch media: not a media id: %w", bot.ErrNotFound)
	}
	if limit <= 0 {
		return nil, errors.New("whatsappcloud fetch media: limit must be positive")
	}
	for attempt := 1; ; attempt++ {
		var info mediaInfo
		err := c.retry(ctx, func() error {
			return c.call(ctx, http.MethodGet, url.PathEscape(id), url.Values{"phone_number_id": {c.opts.PhoneNumberID}}, nil, "", &info)
		})
		if err != nil {
			return nil, c.fetchError(err)
		}
		c.observe(nil)
		if n := info.size(); n > limit {
			return nil, fmt.Errorf("whatsappcloud fetch media: %d bytes over the %d-byte cap: %w", n, limit, bot.ErrTooLarge)
		}
		data, err := c.download(ctx, info.URL, limit)
		if errors.Is(err, errURLExpired) && attempt == 1 {
			continue
		}
		if err != nil {
			return nil, err
		}
		// A short read the transport did not notice (no Content-Length)
		// is caught here: the declared size and hash are Meta's.
		if n := info.size(); n > 0 && int64(len(data)) != n {
			clear(data)
			return nil, fmt.Errorf("whatsappcloud fetch media: %d bytes read of %d declared", len(data), n)
		}
		if want := (bot.MediaRef{SHA256: info.SHA256}).Digest(); want != nil {
			if sum := sha256.Sum256(data); !bytes.Equal(sum[:], want) {
				clear(data)
				return nil, errors.New("whatsappcloud fetch media: the bytes do not match Meta's sha256")
			}
		}
		return data, nil
	}
}

// fetchError maps a failed media lookup onto the media worker's sentinels.
func (c *Channel) fetchError(err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("whatsappcloud fetch media: %w", err)
	}
	c.observe(err)
	var ge *graphError
	if !errors.As(err, &ge) {
		return fmt.Errorf("whatsappcloud fetch media: %w", err)
	}
	switch classify(ge) {
	case kindToken, kindPermission, kindBlocked, kindRate:
		return fmt.Errorf("whatsappcloud fetch media: %w: %w", ge, bot.ErrUnavailable)
	case kindRefused:
		// 100 "does not exist": expired (about 7 days) or deleted.
		return fmt.Errorf("whatsappcloud fetch media: %w: %w", ge, bot.ErrNotFound)
	}
	return fmt.Errorf("whatsappcloud fetch media: %w", ge)
}

// mediaURLAllowed reports whether the bearer token may be sent to u: an
// https URL on Meta's media hosts, or the Graph API's own host.
func (c *Channel) mediaURLAllowed(u *url.URL) bool {
	if g, err := url.Parse(c.graph); err == nil && u.Scheme == g.Scheme && u.Host == g.Host {
		return true
	}
	if u.Scheme != "https" {
		return false
	}
	host := strings.ToLower(u.Hostname())
	for _, h := range mediaHosts {
		if host == h || strings.HasSuffix(host, "."+h) {
			return true
		}
	}
	return false
}

// download reads a media URL with the bearer token, at most limit bytes.
func (c *Channel) download(ctx context.Context, raw string, limit int64) ([]byte, error) {
	u, err := url.Parse(raw)
	if err != nil || !c.mediaURLAllowed(u) {
		// Never send the token to a host that is not Meta's.
		return nil, errors.New("whatsappcloud fetch media: the Graph API gave a media URL off Meta's hosts")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("whatsappcloud fetch media: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token())
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("whatsappcloud fetch media: %w", ctx.Err())
		}
		// Not err's text: it quotes the URL.
		return nil, fmt.Errorf("whatsappcloud fetch media: %w", errUnreachable)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone || resp.StatusCode == http.StatusForbidden:
		return nil, fmt.Errorf("whatsappcloud fetch media: download answered %d: %w", resp.StatusCode, errURLExpired)
	case resp.StatusCode == http.StatusUnauthorized:
		return nil, fmt.Errorf("whatsappcloud fetch media: download refused the token: %w", bot.ErrUnavailable)
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("whatsappcloud fetch media: download answered %d", resp.StatusCode)
	}
	if resp.ContentLength > limit {
		return nil, fmt.Errorf("whatsappcloud fetch media: %d bytes over the %d-byte cap: %w", resp.ContentLength, limit, bot.ErrTooLarge)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		clear(data)
		return nil, fmt.Errorf("whatsappcloud fetch media: read: %w", errUnreachable)
	}
	if int64(len(data)) > limit {
		clear(data)
		return nil, fmt.Errorf("whatsappcloud fetch media: over the %d-byte cap: %w", limit, bot.ErrTooLarge)
	}
	return data, nil
}
