package whatsappcloud

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/switchboard/switchboard/bot"
)

// MediaFile is the file in Options.StateDir that lists the media ids Meta
// holds for the business.
const MediaFile = "whatsappcloud-media.json"

// receivedMediaTTL is how long the ledger remembers a received media id:
// Meta keeps media no longer than 30 days.
const receivedMediaTTL = 30 * 24 * time.Hour

// mediaEntry is one media id at Meta. Owner is a keyed hash of the chat, so
// the file names no person, yet erasure finds a person's entries.
type mediaEntry struct {
	ID    string    `json:"id"`
	Owner string    `json:"owner"`
	At    time.Time `json:"at"`
	// Ours is true for a document this channel uploaded (deleted at Meta
	// after MediaTTL), false for a file a customer sent.
	Ours bool `json:"ours"`
}

// mediaLedger is the list of media ids at Meta, kept in a file (0600,
// replaced whole on each change) or, without a directory, in memory.
type mediaLedger struct {
	path string // "" in memory only
	key  []byte

	mu      sync.Mutex
	loaded  bool
	entries []mediaEntry
}

func newMediaLedger(dir string, key []byte) *mediaLedger {
	l := &mediaLedger{key: key}
	if dir != "" {
		l.path = filepath.Join(dir, MediaFile)
	}
	return l
}

// owner is the keyed hash that stands for chat in the file.
func (l *mediaLedger) owner(chat bot.ChatID) string {
	m := hmac.New(sha256.New, l.key)
	m.Write([]byte("whatsappcloud/media-owner|" + string(chat)))
	return hex.EncodeToString(m.Sum(nil)[:16])
}

// load reads the file once.
func (l *mediaLedger) load() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.loadLocked()
}

func (l *mediaLedger) loadLocked() error {
	if l.loaded || l.path == "" {
		l.loaded = true
		return nil
	}
	b, err := os.ReadFile(l.path)
	if errors.Is(err, fs.ErrNotExist) {
		l.loaded = true
		return nil
	}
	if err != nil {
		return fmt.Errorf("read media list: %w", err)
	}
	var es []mediaEntry
	if err := json.Unmarshal(b, &es); err != nil {
		return fmt.Errorf("read media list: %s is not a media list", MediaFile)
	}
	l.entries, l.loaded = es, true
	return nil
}

func (l *mediaLedger) saveLocked() error {
	if l.path == "" {
		return nil
	}
	b, err := json.Marshal(l.entries)
	if err != nil {
		return fmt.Errorf("save media list: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(l.path), 0o700); err != nil {
		return fmt.Errorf("save media list: %w", err)
	}
	tmp := l.path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("save media list: %w", err)
	}
	if err := os.Rename(tmp, l.path); err != nil {
		return fmt.Errorf("save media list: %w", err)
	}
	return nil
}

// add records a media id of chat.
func (l *mediaLedger) add(id string, chat bot.ChatID, at time.Time, ours bool) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.loadLocked(); err != nil {
		return err
	}
	for _, e := range l.entries {
		if e.ID == id {
			return nil
		}
	}
	l.entries = append(l.entries, mediaEntry{ID: id, Owner: l.owner(chat), At: at.UTC(), Ours: ours})
	return l.saveLocked()
}

// select returns the entries for which keep is true.
func (l *mediaLedger) find(match func(mediaEntry) bool) ([]mediaEntry, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.loadLocked(); err != nil {
		return nil, err
	}
	var out []mediaEntry
	for _, e := range l.entries {
		if match(e) {
			out = append(out, e)
		}
	}
	return out, nil
}

// remove drops the entries with the given ids.
func (l *mediaLedger) remove(ids map[string]bool) error {
	if len(ids) == 0 {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	kept := l.entries[:0]
	for _, e := range l.entries {
		if !ids[e.ID] {
			kept = append(kept, e)
		}
	}
	l.entries = kept
	return l.saveLocked()
}

// deleteMedia deletes a media id at Meta. An id Meta no longer knows (or
// never let us delete: a customer's file) counts as deleted.
func (c *Channel) deleteMedia(ctx context.Context, id string) error {
	err := c.retry(ctx, func() error {
		return c.call(ctx, http.MethodDelete, url.PathEscape(id), url.Values{"phone_number_id": {c.opts.PhoneNumberID}}, nil, "", nil)
	})
	var ge *graphError
	if errors.As(err, &ge) && classify(ge) == kindRefused {
		return nil
	}
	if err != nil {
		c.observe(err)
		return fmt.Errorf("delete media: %w", err)
	}
	return nil
}

// deleteEntries deletes the entries' media at Meta (uploads and received
// files alike) and drops those done from the ledger.
func (c *Channel) deleteEntries(ctx context.Context, es []mediaEntry) (int, error) {
	done := map[string]bool{}
	var errs []error
	for _, e := range es {
		if err := c.deleteMedia(ctx, e.ID); err != nil {
			errs = append(errs, err)
			continue
		}
		done[e.ID] = true
	}
	if err := c.media.remove(done); err != nil {
		errs = append(errs, err)
	}
	return len(done), errors.Join(errs...)
}

// sweepMedia deletes uploaded documents whose MediaTTL passed and forgets
// received media ids Meta no longer keeps.
func (c *Channel) sweepMedia(ctx context.Context) {
	now := c.opts.Now()
	due, err := c.media.find(func(e mediaEntry) bool { return e.Ours && now.Sub(e.At) >= c.opts.MediaTTL })
	if err != nil {
		c.log.Error().Err(err).Msg("media sweep failed")
		return
	}
	n, err := c.deleteEntries(ctx, due)
	if err != nil {
		c.log.Warn().Err(err).Int("deleted", n).Msg("media sweep: some uploads not deleted at Meta; retrying later")
	} else if n > 0 {
		c.log.Info().Int("deleted", n).Msg("uploaded documents deleted at Meta")
	}
	old, err := c.media.find(func(e mediaEntry) bool { return !e.Ours && now.Sub(e.At) >= receivedMediaTTL })
	if err == nil && len(old) > 0 {
		ids := map[string]bool{}
		for _, e := range old {
			ids[e.ID] = true
		}
		if err := c.media.remove(ids); err != nil {
			c.log.Warn().Err(err).Msg("media sweep: list not saved")
		}
	}
}
