package whatsappcloud

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/switchboard/switchboard/bot"
)

var (
	_ bot.Channel   = (*Channel)(nil)
	_ bot.Forgetter = (*Channel)(nil)
)

// DefaultGraphURL is the Graph API base the channel calls: the version
// current when this was written (v26.0, July 2026; Meta keeps each version
// for about two years).
const DefaultGraphURL = "https://graph.facebook.com/v26.0"

// Limits of the Cloud API and of this channel.
const (
	// MaxText is the longest text sent in one message: Meta allows 4096
	// characters, so 4096 bytes is always within it.
	MaxText = 4096
	// Window is the customer-service window: free-form messages only this
	// long after the customer's last message.
	Window = 24 * time.Hour
	// maxCaption bounds a caption of a photo, video or document (1024
	// characters at Meta).
	maxCaption = 1024
	// maxFile bounds an uploaded document (Meta allows 100 MB).
	maxFile = 100 << 20
	// DefaultMaxBody bounds a webhook body.
	DefaultMaxBody = 1 << 20
)

// Options configures a Channel. PhoneNumberID, AccessToken, AppSecret and
// VerifyToken are required.
type Options struct {
	// Log receives the channel's lines; they name no person. Zero value
	// discards.
	Log zerolog.Logger
	// PhoneNumberID is the business phone number's id in WhatsApp Manager
	// (not the number itself). Webhooks for other numbers are ignored.
	PhoneNumberID string
	// AccessToken is a system-user token with whatsapp_business_messaging.
	AccessToken string
	// ReloadToken, if set, returns the access token as it is now (cmd
	// reads WHATSAPP_CLOUD_ACCESS_TOKEN_FILE again). The channel calls it
	// when the Graph API answers 190 (the token expired or was revoked)
	// and from ReloadToken, so an operator rotates the token by replacing
	// the file, without a restart.
	ReloadToken func() (string, error)
	// AppSecret is the Meta app's secret: webhooks must be signed with it.
	AppSecret string
	// VerifyToken is what Meta must echo when it verifies the webhook URL.
	VerifyToken string
	// GraphURL is the Graph API base, with its version. If empty,
	// DefaultGraphURL.
	GraphURL string
	// HTTPClient makes the Graph calls. If nil, a client with a 30 s
	// timeout.
	HTTPClient *http.Client
	// Template, if its Name is set, can be sent outside the window: the
	// business's approved template, in its Language ("en" if empty), with
	// no parameter or, with FirstName, the customer's first name as {{1}}
	// of its body. Write it so it stands alone ("We have an answer to your
	// message; reply here to see it.").
	Template bot.Template
	// Now is the clock. If nil, time.Now.
	Now func() time.Time
	// OnState is called with every change of Health. It must not block.
	OnState func(Health)
	// LastInbound returns when chat last wrote (the store's newest inbound
	// message, zero if none); Send refuses free-form text to a chat whose
	// window closed. If nil, the channel knows only the messages it
	// received since it started, and leaves other chats to Meta's check.
	LastInbound func(ctx context.Context, chat bot.ChatID) (time.Time, error)
	// StateDir holds whatsappcloud-media.json, the ids of media at Meta
	// that erasure must delete (owners as keyed hashes, no numbers). If
	// empty, the list is kept in memory only.
	StateDir string
	// MediaTTL is how long a document the channel uploaded (an /export)
	// stays at Meta before the channel deletes it. If zero, 24 hours, as
	// the privacy notice promises for exports.
	MediaTTL time.Duration
	// SendBackoff is the first wait before a Graph call that failed for a
	// transient reason is tried again (twice more, doubling): a send only
	// when its request never left, a media delete on any transient
	// failure. If zero, 1 s.
	SendBackoff time.Duration
	// CheckEvery is how often Run checks the token again while the Graph
	// API refuses it or cannot be reached, and sweeps expired media. If
	// zero, one minute.
	CheckEvery time.Duration
	// MaxBody bounds a webhook body; larger ones get 413. If zero,
	// DefaultMaxBody.
	MaxBody int64
}

// Channel is the WhatsApp channel over the WhatsApp Business Platform.
type Channel struct {
	opts   Options
	log    zerolog.Logger
	graph  string
	http   *http.Client
	health *healthTracker
	media  *mediaLedger

	accessToken atomic.Pointer[string] // the token Graph calls carry; replaced by ReloadToken
	reloadMu    sync.Mutex             // one reload at a time

	runMu sync.Mutex                 // held while Run runs
	sink  atomic.Pointer[sinkHolder] // set while Run runs; the webhook answers 503 without it

	mu      sync.Mutex
	windows map[bot.ChatID]window
}

type sinkHolder struct{ bot.Sink }

// window is what the channel saw of a chat: its last inbound message, and
// whether Meta said the window closed (131047) since.
type window struct {
	last   time.Time
	closed bool
}

// New validates opts and fills defaults. It does no I/O.
func New(opts Options) (*Channel, error) {
	var missing []string
	for _, f := range []struct{ v, name string }{
		{opts.PhoneNumberID, "PhoneNumberID"}, {opts.AccessToken, "AccessToken"},
		{opts.AppSecret, "AppSecret"}, {opts.VerifyToken, "VerifyToken"},
	} {
		if strings.TrimSpace(f.v) == "" {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("whatsappcloud: Options.%s required", strings.Join(missing, ", Options."))
	}
	if strings.Trim(opts.PhoneNumberID, "0123456789") != "" {
		return nil, errors.New("whatsappcloud: the phone number id is the digits WhatsApp Manager shows as Phone number ID, not the number")
	}
	if opts.GraphURL == "" {
		opts.GraphURL = DefaultGraphURL
	}
	u, err := url.Parse(opts.GraphURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" {
		return nil, errors.New("whatsappcloud: the Graph URL must be an http(s) URL such as " + DefaultGraphURL)
	}
	if opts.Template.Name != "" && opts.Template.Language == "" {
		opts.Template.Language = "en"
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MediaTTL <= 0 {
		opts.MediaTTL = 24 * time.Hour
	}
	if opts.SendBackoff <= 0 {
		opts.SendBackoff = time.Second
	}
	if opts.CheckEvery <= 0 {
		opts.CheckEvery = time.Minute
	}
	if opts.MaxBody <= 0 {
		opts.MaxBody = DefaultMaxBody
	}
	c := &Channel{
		opts:    opts,
		log:     opts.Log.With().Str("component", "whatsappcloud").Logger(),
		graph:   strings.TrimRight(opts.GraphURL, "/"),
		http:    opts.HTTPClient,
		health:  &healthTracker{now: opts.Now},
		media:   newMediaLedger(opts.StateDir, []byte(opts.AppSecret)),
		windows: make(map[bot.ChatID]window),
	}
	tok := opts.AccessToken
	c.accessToken.Store(&tok)
	c.health.h = Health{State: StateStopped, Since: opts.Now()}
	c.health.on = func(h Health) {
		ev := c.log.Info()
		if h.NeedsPerson() {
			ev = c.log.Error()
		} else if h.State == StateUnreachable {
			ev = c.log.Warn()
		}
		ev.Str("state", string(h.State)).Str("detail", h.Detail).Msg("whatsapp cloud api state")
		if opts.OnState != nil {
			opts.OnState(h)
		}
	}
	return c, nil
}

// token returns the access token Graph calls carry now.
func (c *Channel) token() string { return *c.accessToken.Load() }

// ReloadToken reads the access token again (Options.ReloadToken) and, if
// it changed, uses it from the next Graph call on and checks it at once, so
// /readyz and the admins see the new state. It reports whether the token
// changed. Without Options.ReloadToken it does nothing. Safe to call at any
// time (cmd calls it on SIGHUP).
func (c *Channel) ReloadToken(ctx context.Context) (bool, error) {
	changed, err := c.reloadToken()
	if changed {
		c.checkToken(ctx)
	}
	return changed, err
}

// reloadToken swaps in the token Options.ReloadToken returns; changed is
// false if it is the same (or there is no ReloadToken). Errors never hold
// the token.
func (c *Channel) reloadToken() (changed bool, err error) {
	if c.opts.ReloadToken == nil {
		return false, nil
	}
	c.reloadMu.Lock()
	defer c.reloadMu.Unlock()
	tok, err := c.opts.ReloadToken()
	tok = strings.TrimSpace(tok)
	switch {
	case err != nil:
		c.log.Warn().Err(err).Msg("access token not reloaded")
		return false, fmt.Errorf("whatsappcloud: reload access token: %w", err)
	case tok == "":
		c.log.Warn().Msg("access token not reloaded: empty")
		return false, errors.New("whatsappcloud: reload access token: empty")
	case tok == c.token():
		return false, nil
	}
	c.accessToken.Store(&tok)
	c.log.Info().Msg("access token reloaded")
	return true, nil
}

// tokenRefused reports whether err is the Graph API refusing the access
// token (190).
func tokenRefused(err error) bool {
	var ge *graphError
	return errors.As(err, &ge) && classify(ge) == kindToken
}

// Platform returns bot.WhatsApp: customers are on WhatsApp whichever
// transport carries them.
func (c *Channel) Platform() bot.Platform { return bot.WhatsApp }

// Capabilities: the files Meta takes (mediaTypes: photos, audio, video and
// documents, no ZIP), edits no, 4096 bytes of text, a 24-hour window, and a
// template when one is configured.
func (c *Channel) Capabilities() bot.Capabilities {
	return bot.Capabilities{Files: true, FileTypes: slices.Clone(fileTypes), MaxFile: maxFile, MaxText: MaxText, Window: Window, Template: c.opts.Template}
}

// State returns the channel's health now.
func (c *Channel) State() Health { return c.health.get() }

// Run serves the webhook into sink until ctx is done, then returns nil. It
// checks the access token at once and, while the Graph API refuses it or
// cannot be reached, again every CheckEvery; it deletes uploaded media whose
// time is up. Inbound messages are accepted whatever the token's state. Only
// one Run at a time.
func (c *Channel) Run(ctx context.Context, sink bot.Sink) error {
	if sink == nil {
		return errors.New("whatsappcloud run: nil sink")
	}
	if !c.runMu.TryLock() {
		return errors.New("whatsappcloud run: already running")
	}
	defer c.runMu.Unlock()
	if err := c.media.load(); err != nil {
		c.log.Error().Err(err).Msg("media list unreadable; starting with an empty one")
	}
	c.health.set(StateStarting, "")
	c.sink.Store(&sinkHolder{sink})
	defer func() {
		c.sink.Store(nil)
		c.health.set(StateStopped, "")
	}()
	c.log.Info().Bool("template", c.opts.Template.Name != "").Msg("whatsapp cloud api webhook serving")

	c.checkToken(ctx)
	t := time.NewTicker(c.opts.CheckEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if !c.health.get().Ready() {
				c.checkToken(ctx)
			}
			c.sweepMedia(ctx)
		}
	}
}

// checkToken asks the Graph API for the phone number, which needs a valid
// token with the messaging permission.
func (c *Channel) checkToken(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	check := func() error {
		return c.call(ctx, http.MethodGet, url.PathEscape(c.opts.PhoneNumberID), url.Values{"fields": {"id"}}, nil, "", nil)
	}
	err := check()
	if tokenRefused(err) {
		if changed, _ := c.reloadToken(); changed {
			err = check()
		}
	}
	if ctx.Err() != nil {
		return
	}
	c.observe(err)
}

// observe moves the health state after a Graph call.
func (c *Channel) observe(err error) {
	var ge *graphError
	switch {
	case err == nil:
		c.health.set(StateConnected, "")
	case errors.As(err, &ge):
		switch classify(ge) {
		case kindToken:
			fix := "set a new system-user token (WHATSAPP_CLOUD_ACCESS_TOKEN) and restart"
			if c.opts.ReloadToken != nil {
				fix = "put a new system-user token in its file (WHATSAPP_CLOUD_ACCESS_TOKEN_FILE): it is read again on the next try, or at once on SIGHUP"
			}
			c.health.set(StateTokenInvalid, fmt.Sprintf("error %d: the access token expired or was revoked; %s; replies wait", ge.Code, fix))
		case kindPermission:
			c.health.set(StateNoPermission, fmt.Sprintf("error %d: the token lacks a permission (whatsapp_business_messaging) or the number is not in its WhatsApp Business Account; replies wait", ge.Code))
		case kindBlocked:
			c.health.set(StateBlocked, fmt.Sprintf("error %d: %s; see WhatsApp Manager; replies wait", ge.Code, describe(ge.Code)))
		case kindTransient:
			c.health.set(StateUnreachable, fmt.Sprintf("the Graph API answered %d (code %d); retrying", ge.Status, ge.Code))
		default:
			if !c.health.get().NeedsPerson() {
				c.health.set(StateConnected, "") // the API answered: the token is fine
			}
		}
	case errors.Is(err, errUnreachable):
		c.health.set(StateUnreachable, "the Graph API cannot be reached; retrying")
	}
}

// sawInbound records that chat wrote at t: the window is open again.
func (c *Channel) sawInbound(chat bot.ChatID, t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	w := c.windows[chat]
	if t.After(w.last) {
		w.last = t
	}
	w.closed = false
	c.windows[chat] = w
	if len(c.windows) > 4096 {
		cut := c.opts.Now().Add(-Window)
		for k, v := range c.windows {
			if v.last.Before(cut) && !v.closed {
				delete(c.windows, k)
			}
		}
	}
}

// markClosed records that Meta refused a free-form message to chat because
// the window closed (131047), until the customer writes again.
func (c *Channel) markClosed(chat bot.ChatID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	w := c.windows[chat]
	w.closed = true
	c.windows[chat] = w
}

// windowOpen reports whether free-form text may go to chat now. A chat the
// channel knows nothing about (no LastInbound, nothing seen since start) is
// left to Meta, which answers 131047 if it is closed.
func (c *Channel) windowOpen(ctx context.Context, chat bot.ChatID) (bool, error) {
	c.mu.Lock()
	w, seen := c.windows[chat]
	c.mu.Unlock()
	if w.closed {
		return false, nil
	}
	last := w.last
	if c.opts.LastInbound != nil {
		l, err := c.opts.LastInbound(ctx, chat)
		if err != nil {
			return false, fmt.Errorf("last inbound: %w", err)
		}
		if l.After(last) {
			last = l
		}
	} else if !seen {
		return true, nil
	}
	return !last.IsZero() && c.opts.Now().Before(last.Add(Window)), nil
}
