package teams

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/switchboard/switchboard/bot"
)

// Options configures a Channel. Zero values are documented per field.
type Options struct {
	// Log receives operational events; it never gets names, text or ids
	// other than subject ids. If zero, nothing is logged.
	Log zerolog.Logger
	// AppID, AppPassword and TenantID are the bot's Entra app registration
	// (MICROSOFT_APP_ID, MICROSOFT_APP_PASSWORD, MICROSOFT_APP_TENANT_ID).
	// AppID and AppPassword are required unless Dev is set. TenantID makes
	// the bot single tenant (token authority and accepted issuers) and names
	// the tenant whose users are staff.
	AppID, AppPassword, TenantID string
	// StaffTenants are further tenants whose users are staff. If empty, only
	// TenantID's users are; with neither, nobody is staff.
	StaffTenants []string
	// Admins are AAD object ids of admins (SWITCHBOARD_ADMINS split at
	// commas; blank entries are skipped). Admins must also be users of a
	// staff tenant.
	Admins []string
	// State persists the staff conversation and added admins. Required.
	State State
	// Cards finds a subject's cards for Forget. If nil, Forget returns an
	// error wrapping bot.ErrUnsupported.
	Cards Cards
	// Dev accepts unsigned requests (Microsoft 365 Agents Playground). New
	// refuses it unless ListenAddr is a loopback address.
	Dev bool
	// ListenAddr is where the cmd serves Handler, checked when Dev is set.
	ListenAddr string
	// OpenIDMetadata are the OpenID metadata URLs whose keys sign inbound
	// tokens. If empty: BotFrameworkMetadata, plus TenantMetadata(TenantID)
	// when TenantID is set.
	OpenIDMetadata []string
	// TokenURL is the client-credentials endpoint. If empty, TokenURL(TenantID).
	TokenURL string
	// HTTPClient is used for tokens, metadata and the connector. If nil, a
	// client with a 20 s timeout.
	HTTPClient *http.Client
	// Now is the clock. If nil, time.Now.
	Now func() time.Time
	// FileTTL is how long a file offered in a personal chat (a consent
	// card) waits for the user's Allow; its bytes are held in memory until
	// then. If 0, DefaultFileTTL.
	FileTTL time.Duration
	// UploadBackoff is the wait before another attempt at an upload
	// fragment. If nil, one second per attempt so far.
	UploadBackoff func(attempt int) time.Duration
	// Media opens cards' attachments for staff (View, medialink.go). If
	// nil, or PublicURL is empty, cards offer no View and say why.
	Media MediaSource
	// PublicURL is the https address the bot is reached at from outside
	// (--public-url): View links are PublicURL/media/<one-time token>,
	// served by MediaHandler.
	PublicURL string
	// MediaLinkTTL is how long a View link works (once). If 0,
	// DefaultMediaLinkTTL.
	MediaLinkTTL time.Duration
}

// Channel is the Teams channel. Create it with New, mount Handler on the
// HTTP server, and call Run with the sink.
type Channel struct {
	log     zerolog.Logger
	opts    Options
	now     func() time.Time
	val     *validator
	conn    *connector
	staff   map[string]bool // staff tenants, lower case
	admins  map[string]bool // configured admins, lower case
	sinkMu  sync.RWMutex
	sink    bot.Sink
	staffMu sync.Mutex // serialises staff conversation changes
	files   files      // files offered in personal chats (fileconsent.go)
	fileTTL time.Duration
	// threads serialises threaded card posts per subject, so two cards
	// posted at once for one customer cannot both start a thread.
	threads subjectLocks
	links   mediaLinks // View links waiting to be opened (medialink.go)
	linkTTL time.Duration
}

var (
	_ bot.Channel     = (*Channel)(nil)
	_ bot.Notifier    = (*Channel)(nil)
	_ bot.CardRemover = (*Channel)(nil)
	_ bot.Forgetter   = (*Channel)(nil)
)

// New validates opts and returns a Channel. It does no I/O.
func New(opts Options) (*Channel, error) {
	if opts.State == nil {
		return nil, errors.New("teams: State is required")
	}
	if opts.Dev {
		if !isLoopback(opts.ListenAddr) {
			return nil, fmt.Errorf("teams: dev mode accepts unsigned requests, so it listens only on a loopback address, not %q", opts.ListenAddr)
		}
	} else if opts.AppID == "" || opts.AppPassword == "" {
		return nil, errors.New("teams: MICROSOFT_APP_ID and MICROSOFT_APP_PASSWORD are required (or use dev mode)")
	}
	tenant := strings.ToLower(strings.TrimSpace(opts.TenantID))
	if tenant != "" {
		if _, err := bot.ParseIdentity("tenant:"+tenant, ""); err != nil || strings.ContainsAny(tenant, "/?#%") {
			return nil, errors.New("teams: bad tenant id")
		}
	}
	c := &Channel{
		log:    opts.Log.With().Str("channel", "teams").Logger(),
		opts:   opts,
		now:    opts.Now,
		staff:  map[string]bool{},
		admins: map[string]bool{},
	}
	if c.now == nil {
		c.now = time.Now
	}
	if opts.FileTTL < 0 {
		return nil, errors.New("teams: FileTTL must not be negative")
	}
	c.fileTTL = opts.FileTTL
	if c.fileTTL == 0 {
		c.fileTTL = DefaultFileTTL
	}
	if opts.MediaLinkTTL < 0 {
		return nil, errors.New("teams: MediaLinkTTL must not be negative")
	}
	c.linkTTL = opts.MediaLinkTTL
	if c.linkTTL == 0 {
		c.linkTTL = DefaultMediaLinkTTL
	}
	if tenant != "" {
		c.staff[tenant] = true
	}
	for _, t := range opts.StaffTenants {
		if t = strings.ToLower(strings.TrimSpace(t)); t != "" {
			c.staff[t] = true
		}
	}
	for _, a := range opts.Admins {
		if strings.TrimSpace(a) == "" {
			continue // "a,,b" or a trailing comma in SWITCHBOARD_ADMINS
		}
		id, err := normAAD(a)
		if err != nil {
			return nil, fmt.Errorf("teams: admin list: %w", err)
		}
		c.admins[id] = true
	}
	client := opts.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: 20 * time.Second}
	}
	meta := opts.OpenIDMetadata
	if len(meta) == 0 {
		meta = []string{BotFrameworkMetadata}
		if tenant != "" {
			meta = append(meta, TenantMetadata(tenant))
		}
	}
	c.val = newValidator(opts.AppID, tenant, meta, client, c.now, c.log)
	var tokens *tokenSource
	if opts.AppID != "" && opts.AppPassword != "" {
		tu := opts.TokenURL
		if tu == "" {
			tu = TokenURL(tenant)
		}
		tokens = &tokenSource{url: tu, id: opts.AppID, secret: opts.AppPassword, client: client, now: c.now}
	}
	c.conn = newBotConnector(opts.AppID, opts.AppPassword, tokens, client)
	return c, nil
}

// isLoopback reports whether a listen address binds only loopback.
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// normAAD validates and lower-cases an AAD object id.
func normAAD(s string) (string, error) {
	id, err := bot.ParseIdentity("teams:"+s, "")
	if err != nil {
		return "", err
	}
	return id.Value, nil
}

// Platform implements bot.Channel.
func (c *Channel) Platform() bot.Platform { return bot.Teams }

// Capabilities implements bot.Channel. Teams accepts about 28 KB per
// message. Files of any type go to personal chats only, with the user's
// consent (see fileconsent.go), up to the bytes the channel may hold while
// offers wait; Send refuses them elsewhere.
func (c *Channel) Capabilities() bot.Capabilities {
	return bot.Capabilities{Files: true, MaxFile: maxPendingBytes, Edits: true, MaxText: 28000}
}

// Run stores the sink and blocks until ctx is done; the HTTP server that
// serves Handler belongs to the caller. It returns nil on cancellation.
func (c *Channel) Run(ctx context.Context, sink bot.Sink) error {
	if sink == nil {
		return errors.New("teams run: nil sink")
	}
	if c.opts.Dev {
		c.log.Warn().Str("listen", c.opts.ListenAddr).
			Msg("TEAMS DEV MODE: unsigned requests are accepted; never use this outside a developer machine")
	}
	c.files.start(ctx)
	c.sinkMu.Lock()
	c.sink = sink
	c.sinkMu.Unlock()
	<-ctx.Done()
	c.sinkMu.Lock()
	c.sink = nil
	c.sinkMu.Unlock()
	c.files.stop()
	return nil
}

func (c *Channel) currentSink() bot.Sink {
	c.sinkMu.RLock()
	defer c.sinkMu.RUnlock()
	return c.sink
}

// Send implements bot.Channel: a text message into the conversation named by
// msg.Chat. A file is offered with a consent card, in a personal chat only
// (elsewhere bot.ErrUnsupported); Send then owns msg.File.Data and zeroes it
// once the file is uploaded, declined or its offer ends.
func (c *Channel) Send(ctx context.Context, msg bot.Outbound) (bot.MessageID, error) {
	// Too long is refused for good (ErrUnsupported): the same text fails
	// again, and the outbox must neither retry it nor hold it in doubt.
	if len(msg.Text) > c.Capabilities().MaxText {
		return "", fmt.Errorf("teams send: %w: %w", bot.ErrTooLarge, bot.ErrUnsupported)
	}
	if msg.File != nil {
		return c.sendFile(ctx, msg)
	}
	if msg.Text == "" {
		return "", fmt.Errorf("teams send: %w: empty text", bot.ErrUnsupported)
	}
	conv, err := parseChatID(string(msg.Chat))
	if err != nil {
		return "", fmt.Errorf("teams send: %w: %w", bot.ErrUnsupported, err)
	}
	id, err := c.conn.send(ctx, conv, string(msg.ReplyTo), textMessage(msg.Text)...)
	if err != nil {
		return "", fmt.Errorf("teams send: %w", err)
	}
	return bot.MessageID(id), nil
}

// staffConversation returns where cards go.
func (c *Channel) staffConversation(ctx context.Context) (Conversation, error) {
	conv, err := c.opts.State.StaffConversation(ctx)
	if err != nil {
		return Conversation{}, fmt.Errorf("staff conversation (add the bot to a team or say /here): %w", err)
	}
	return conv, nil
}

// view is what cards are rendered with now: the clock and the admins'
// snippets. Snippets that cannot be loaded are left out (and logged).
func (c *Channel) view(ctx context.Context) view {
	sn, err := c.opts.State.Snippets(ctx)
	if err != nil {
		c.log.Warn().Err(err).Msg("teams snippets unavailable; card rendered without them")
	}
	return view{now: c.now().UTC(), snippets: sn, media: mediaView{enabled: c.mediaEnabled(), ttl: c.linkTTL}}
}

// PostCard implements bot.Notifier. In a team channel, a customer's first
// card starts a thread and later cards about them are replies in it, so the
// channel reads as one thread per customer; a card that cannot go into its
// thread (the root was deleted) starts a new one. Personal and group chats
// get each card as a message of its own.
func (c *Channel) PostCard(ctx context.Context, card bot.Card) (bot.CardRef, error) {
	conv, err := c.staffConversation(ctx)
	if err != nil {
		return bot.CardRef{}, fmt.Errorf("post card: %w", err)
	}
	msg := cardMessage(card, c.view(ctx))
	threaded := conv.Type == "channel" && card.Subject != ""
	if conv.Type == "channel" {
		conv.ID = threadRoot(conv.ID)
	}
	if threaded {
		unlock, err := c.threads.lock(ctx, card.Subject)
		if err != nil {
			return bot.CardRef{}, fmt.Errorf("post card: %w", err)
		}
		defer unlock()
		root, err := c.opts.State.Thread(ctx, conv.ID, card.Subject)
		if err != nil {
			c.log.Warn().Err(err).Str("subject", string(card.Subject)).Msg("teams thread lookup failed; starting a new thread")
		}
		if root != "" {
			in := conv
			in.ID = conv.ID + ";messageid=" + root
			id, err := c.conn.send(ctx, in, "", msg...)
			var se *statusError
			switch {
			case err == nil && id != "":
				return bot.CardRef{Conversation: string(in.chatID()), ActivityID: id}, nil
			case err == nil:
				return bot.CardRef{}, errors.New("post card: connector returned no activity id")
			case !errors.As(err, &se) || !threadGone(se.status):
				return bot.CardRef{}, fmt.Errorf("post card: %w", err)
			}
			c.log.Info().Int("status", se.status).Str("subject", string(card.Subject)).Msg("teams thread unusable; starting a new one")
		}
	}
	id, err := c.conn.send(ctx, conv, "", msg...)
	if err != nil {
		return bot.CardRef{}, fmt.Errorf("post card: %w", err)
	}
	if id == "" {
		return bot.CardRef{}, errors.New("post card: connector returned no activity id")
	}
	if threaded {
		if err := c.opts.State.SetThread(ctx, conv.ID, card.Subject, id); err != nil {
			// The card is posted; the next one starts another thread.
			c.log.Warn().Err(err).Str("subject", string(card.Subject)).Msg("teams thread root not recorded")
		}
	}
	return bot.CardRef{Conversation: string(conv.chatID()), ActivityID: id}, nil
}

// subjectLocks holds one lock per subject while it is in use.
type subjectLocks struct {
	mu sync.Mutex
	m  map[bot.SubjectID]*subjectLock
}

type subjectLock struct {
	ch   chan struct{}
	refs int
}

// lock waits for the subject's turn or ctx; unlock releases it.
func (l *subjectLocks) lock(ctx context.Context, s bot.SubjectID) (unlock func(), err error) {
	l.mu.Lock()
	if l.m == nil {
		l.m = make(map[bot.SubjectID]*subjectLock)
	}
	sl := l.m[s]
	if sl == nil {
		sl = &subjectLock{ch: make(chan struct{}, 1)}
		l.m[s] = sl
	}
	sl.refs++
	l.mu.Unlock()
	release := func() {
		l.mu.Lock()
		if sl.refs--; sl.refs == 0 {
			delete(l.m, s)
		}
		l.mu.Unlock()
	}
	select {
	case sl.ch <- struct{}{}:
		return func() { <-sl.ch; release() }, nil
	case <-ctx.Done():
		release()
		return nil, ctx.Err()
	}
}

// threadGone reports whether the connector's status says a thread cannot
// take replies any more (its root was deleted), rather than a failure that
// another post would meet too.
func threadGone(status int) bool {
	return status == http.StatusBadRequest || status == http.StatusNotFound || status == http.StatusGone
}

// UpdateCard implements bot.Notifier.
func (c *Channel) UpdateCard(ctx context.Context, ref bot.CardRef, card bot.Card) error {
	conv, err := parseChatID(ref.Conversation)
	if err != nil {
		return fmt.Errorf("update card: %w", err)
	}
	if err := c.conn.update(ctx, conv, ref.ActivityID, cardMessage(card, c.view(ctx))...); err != nil {
		return fmt.Errorf("update card: %w", err)
	}
	return nil
}

// RemoveCard implements bot.CardRemover: it deletes the posted card; one
// already gone (404) is not an error. A card Teams refuses to delete is
// replaced with a "removed" card.
func (c *Channel) RemoveCard(ctx context.Context, ref bot.CardRef) error {
	conv, err := parseChatID(ref.Conversation)
	if err != nil {
		return fmt.Errorf("remove card: %w", err)
	}
	err = c.conn.remove(ctx, conv, ref.ActivityID)
	var se *statusError
	switch {
	case err == nil, errors.As(err, &se) && se.status == http.StatusNotFound:
		return nil
	case errors.As(err, &se) && se.status < 500 && se.status != http.StatusTooManyRequests:
		// Refused for good: blank it instead.
		if uerr := c.UpdateCard(ctx, ref, bot.Card{Removed: true}); uerr != nil {
			return fmt.Errorf("remove card: %w (blank: %w)", err, uerr)
		}
		return nil
	}
	return fmt.Errorf("remove card: %w", err)
}

// Alert implements bot.Notifier: a plain message to the staff conversation.
func (c *Channel) Alert(ctx context.Context, text string) error {
	conv, err := c.staffConversation(ctx)
	if err != nil {
		return fmt.Errorf("alert: %w", err)
	}
	if conv.Type == "channel" {
		conv.ID = threadRoot(conv.ID)
	}
	if _, err := c.conn.send(ctx, conv, "", textMessage("⚠ "+text)...); err != nil {
		return fmt.Errorf("alert: %w", err)
	}
	return nil
}

// Forget implements bot.Forgetter: it deletes every card posted about
// subject, and replaces those it cannot delete with a "removed at the
// customer's request" card; it drops the subject's thread roots, and the
// subject's Teams identities from the admins added with /admin add. It tries
// everything and joins the failures.
func (c *Channel) Forget(ctx context.Context, subject bot.SubjectID, ids []bot.Identity) error {
	var errs []error
	var aads []string
	if err := c.opts.State.ForgetThreads(ctx, subject); err != nil {
		errs = append(errs, fmt.Errorf("forget threads: %w", err))
	}
	for _, id := range ids {
		if id.Kind != bot.IDTeams {
			continue
		}
		if aad, err := normAAD(id.Value); err == nil {
			aads = append(aads, aad)
			if err := c.opts.State.RemoveAdmin(ctx, aad); err != nil {
				errs = append(errs, fmt.Errorf("remove admin: %w", err))
			}
		}
	}
	c.files.forget(aads) // their personal chats and the files offered to them
	if c.opts.Cards == nil {
		errs = append(errs, fmt.Errorf("no card index: %w", bot.ErrUnsupported))
		return fmt.Errorf("teams forget: %w", errors.Join(errs...))
	}
	refs, err := c.opts.Cards.CardsOf(ctx, subject)
	if err != nil {
		errs = append(errs, err)
		return fmt.Errorf("teams forget: %w", errors.Join(errs...))
	}
	deleted, replaced := 0, 0
	for _, ref := range refs {
		conv, err := parseChatID(ref.Conversation)
		if err != nil {
			errs = append(errs, fmt.Errorf("card ref: %w", err))
			continue
		}
		if err := c.conn.remove(ctx, conv, ref.ActivityID); err == nil {
			deleted++
			continue
		}
		if err := c.UpdateCard(ctx, ref, bot.Card{Subject: subject, Removed: true}); err != nil {
			errs = append(errs, err)
			continue
		}
		replaced++
	}
	c.log.Info().Str("subject", string(subject)).Int("deleted", deleted).Int("replaced", replaced).
		Int("failed", len(errs)).Msg("teams cards forgotten")
	if len(errs) > 0 {
		return fmt.Errorf("teams forget: %w", errors.Join(errs...))
	}
	return nil
}

// ForgetterName is "teams", the name an erasure's forget record keeps
// while it owes this channel a Forget (see privacy.ForgetterNamer).
func (c *Channel) ForgetterName() string { return "teams" }

// ForgetNotes says what erasing the person with ids does in Teams beyond
// deleting data, for the erasure's confirmation prompt: an admin added with
// /admin add loses admin rights; one set in SWITCHBOARD_ADMINS keeps them
// until removed there. None is an empty list.
func (c *Channel) ForgetNotes(ctx context.Context, ids []bot.Identity) ([]string, error) {
	added, err := c.opts.State.Admins(ctx)
	if err != nil {
		return nil, fmt.Errorf("teams forget notes: %w", err)
	}
	var notes []string
	addedHit, configHit := false, false
	for _, id := range ids {
		if id.Kind != bot.IDTeams {
			continue
		}
		aad, err := normAAD(id.Value)
		if err != nil {
			continue
		}
		addedHit = addedHit || slices.Contains(added, aad)
		configHit = configHit || c.admins[aad]
	}
	if addedHit {
		notes = append(notes, "This also removes Teams admin rights given with /admin add.")
	}
	if configHit {
		notes = append(notes, "A Teams admin set in SWITCHBOARD_ADMINS stays an admin until removed there.")
	}
	return notes, nil
}
