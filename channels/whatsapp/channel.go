package whatsapp

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/store"
	"go.mau.fi/whatsmeow/store/sqlstore"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"
	"google.golang.org/protobuf/proto"

	"github.com/switchboard/switchboard/bot"
)

var (
	_ bot.Channel   = (*Channel)(nil)
	_ bot.Forgetter = (*Channel)(nil)
)

// maxText is the longest text WhatsApp takes in one message, in bytes.
const maxText = 65536

// maxFile bounds a document sent with Send (WhatsApp's limit is 2 GB; an
// /export is small).
const maxFile = 100 << 20

// ErrNotRunning is returned by Send while Run is not connected to a session.
// It is transient: the outbox keeps the message and retries.
var ErrNotRunning = fmt.Errorf("whatsapp channel not running: %w", bot.ErrUnavailable)

// RetrySource gives back the text of a message this channel sent, so a
// retry request from the recipient's phone (it could not decrypt the
// message) can be answered after a restart, when whatsmeow's in-memory
// copy is gone. The outbox implements it.
type RetrySource interface {
	// RetryText returns the text sent with platform id id, or an error
	// wrapping bot.ErrNotFound.
	RetryText(ctx context.Context, id bot.MessageID) (string, error)
}

// Options configures a Channel.
type Options struct {
	// Log receives the channel's lines; they name no person. Zero value
	// discards.
	Log zerolog.Logger
	// WhatsmeowLevel is the lowest level of whatsmeow's own lines that is
	// logged (component=whatsmeow, digits redacted). If zero (Debug), Warn.
	WhatsmeowLevel zerolog.Level
	// Dir holds the session database Dir/whatsapp.db (created 0700). Required.
	Dir string
	// PairPhone, if set, pairs a new session with an 8-character code typed
	// on that phone (international format, "+44 7700 900123") instead of
	// the QR code.
	PairPhone string
	// QR is where the pairing QR code (or pairing code) is printed: a
	// terminal. If nil, os.Stdout.
	QR io.Writer
	// Now is the clock. If nil, time.Now.
	Now func() time.Time
	// Retry answers recipients' retry requests for sent texts. If nil, only
	// messages still in whatsmeow's memory (the last 256) can be retried.
	Retry RetrySource
	// OnState is called with every change of the connection's health
	// (state, a temporary ban, an undecryptable message). It must not block.
	OnState func(Health)
	// HTTPClient fetches the current WhatsApp web version at start-up. If
	// nil, a client with a 20 s timeout.
	HTTPClient *http.Client
	// SendBackoff is the first wait before retrying a send that failed for a
	// transient reason (not connected, timeout); it doubles for the second.
	// If zero, 2 s.
	SendBackoff time.Duration
	// ReconnectMax caps the wait between reconnection attempts Run makes
	// itself. If zero, 5 minutes.
	ReconnectMax time.Duration
	// SessionWait is how long Send waits for Run to open the session (at
	// start-up) before it returns ErrNotRunning. If zero, 5 s.
	SessionWait time.Duration
}

// Channel is the WhatsApp channel over whatsmeow: one linked device of the
// business's WhatsApp number, 1:1 chats only.
type Channel struct {
	opts   Options
	log    zerolog.Logger
	health *healthTracker
	chats  chatLocks

	runMu sync.Mutex // held while Run runs

	// fakeConnect, set only by tests, replaces pairing and the whatsmeow
	// connection: Run opens the session db as usual, then hands the event
	// handler to fakeConnect and sends through the client it returns.
	fakeConnect func(handler func(evt any) bool) Client
	// pairFn, set only by tests, replaces pair.
	pairFn func(ctx context.Context, dev *store.Device) error

	mu      sync.RWMutex
	sess    *session      // nil unless Run is connected to a session
	hasSess chan struct{} // closed while sess is not nil
}

// session is what the event handler and Send use while Run runs.
type session struct {
	ctx    context.Context
	db     *sql.DB
	cli    Client
	wm     *whatsmeow.Client // the real client; nil in tests
	lids   lidMap
	cache  *lidCache // nil in tests
	sink   bot.Sink
	follow chan connEvent
}

// connEvent tells Run's loop about a connection event.
type connEvent struct {
	next      followUp
	wait      time.Duration
	connected bool
	err       error
}

// Client is the part of *whatsmeow.Client the channel uses to send,
// upload and download; tests replace it (SetTestClient).
type Client interface {
	SendMessage(ctx context.Context, to types.JID, message *waE2E.Message, extra ...whatsmeow.SendRequestExtra) (whatsmeow.SendResponse, error)
	Upload(ctx context.Context, plaintext []byte, appInfo whatsmeow.MediaType) (whatsmeow.UploadResponse, error)
	Download(ctx context.Context, msg whatsmeow.DownloadableMessage) ([]byte, error)
	GenerateMessageID() types.MessageID
}

var _ Client = (*whatsmeow.Client)(nil)

// SetTestClient is for tests in other packages (cmd/switchboard's
// end-to-end tests): Run then opens the session database as usual but,
// instead of pairing and connecting, hands whatsmeow's event handler to
// connect and uses the client it returns. Call it before Run.
func (c *Channel) SetTestClient(connect func(handler func(evt any) bool) Client) {
	c.fakeConnect = connect
}

// New validates opts and fills defaults. It does no I/O.
func New(opts Options) (*Channel, error) {
	if opts.Dir == "" {
		return nil, errors.New("whatsapp: Options.Dir is required")
	}
	if opts.PairPhone != "" {
		p, err := bot.NormalizePhone(opts.PairPhone, "")
		if err != nil {
			return nil, fmt.Errorf("whatsapp: pair phone must be in international format: %w", err)
		}
		opts.PairPhone = p
	}
	if opts.QR == nil {
		opts.QR = os.Stdout
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.WhatsmeowLevel == zerolog.DebugLevel {
		opts.WhatsmeowLevel = zerolog.WarnLevel
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Timeout: 20 * time.Second}
	}
	if opts.SendBackoff <= 0 {
		opts.SendBackoff = 2 * time.Second
	}
	if opts.ReconnectMax <= 0 {
		opts.ReconnectMax = 5 * time.Minute
	}
	if opts.SessionWait <= 0 {
		opts.SessionWait = 5 * time.Second
	}
	c := &Channel{
		hasSess: make(chan struct{}),
		opts:    opts,
		log:     opts.Log.With().Str("component", "whatsapp").Logger(),
		health:  &healthTracker{now: opts.Now, on: opts.OnState},
	}
	c.health.h = Health{State: StateStopped, Since: opts.Now()}
	return c, nil
}

// Platform returns bot.WhatsApp.
func (c *Channel) Platform() bot.Platform { return bot.WhatsApp }

// Capabilities: files of any type up to 100 MB (a JPEG or PNG as a photo,
// anything else, a ZIP included, as a document), edits no, texts up to 64
// KiB. Sends are Idempotent: the message id comes from Outbound.Key (see
// messageID), and WhatsApp treats a repeated id as the same message.
func (c *Channel) Capabilities() bot.Capabilities {
	return bot.Capabilities{Files: true, MaxFile: maxFile, Edits: false, MaxText: maxText, Idempotent: true}
}

// State returns the connection's health now.
func (c *Channel) State() Health { return c.health.get() }

func (c *Channel) session() *session {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.sess
}

func (c *Channel) setSession(s *session) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sess = s
	if s != nil {
		close(c.hasSess)
	} else {
		c.hasSess = make(chan struct{})
	}
}

// awaitSession returns the running session, waiting up to d for Run to
// open one (Run starting, or pairing); nil if there is none by then.
func (c *Channel) awaitSession(ctx context.Context, d time.Duration) *session {
	c.mu.RLock()
	s, ready := c.sess, c.hasSess
	c.mu.RUnlock()
	if s != nil {
		return s
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ready:
	case <-t.C:
	case <-ctx.Done():
	}
	return c.session()
}

// openStore opens whatsapp.db in dir and brings whatsmeow's schema and the
// channel's own table up to date.
func openStore(ctx context.Context, dir string, log zerolog.Logger, level zerolog.Level) (*sql.DB, *sqlstore.Container, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, nil, fmt.Errorf("create session dir: %w", err)
	}
	path := filepath.Join(dir, dbFile)
	// The session keys are secrets: create the file owner-only (SQLite gives
	// the -wal and -shm files the same mode).
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, nil, fmt.Errorf("create session db: %w", err)
	}
	_ = f.Close()
	db, err := sql.Open("sqlite3", dsn(path))
	if err != nil {
		return nil, nil, fmt.Errorf("open session db: %w", err)
	}
	container := sqlstore.NewWithDB(db, "sqlite3", newWALogger(log, level).Sub("Database"))
	if err := container.Upgrade(ctx); err != nil {
		_ = db.Close()
		return nil, nil, fmt.Errorf("upgrade session db: %w", err)
	}
	if err := ensureSchema(ctx, db); err != nil {
		_ = db.Close()
		return nil, nil, err
	}
	return db, container, nil
}

// Run opens the session database, pairs a new session if there is none
// (QR code or pairing code printed to Options.QR), connects, and feeds sink
// until ctx is done (then it returns nil) or the session ends for good:
// logged out, replaced by another process, client outdated. It reconnects by
// itself after network failures and temporary bans. Only one Run at a time.
func (c *Channel) Run(ctx context.Context, sink bot.Sink) error {
	if sink == nil {
		return errors.New("whatsapp run: nil sink")
	}
	if !c.runMu.TryLock() {
		return errors.New("whatsapp run: already running")
	}
	defer c.runMu.Unlock()
	defer func() {
		if !c.health.get().Permanent() {
			c.health.set(StateStopped, "")
		}
	}()
	c.health.set(StateStarting, "")

	db, container, err := openStore(ctx, c.opts.Dir, c.opts.Log, c.opts.WhatsmeowLevel)
	if err != nil {
		return fmt.Errorf("whatsapp run: %w", err)
	}
	defer db.Close()
	if c.fakeConnect != nil {
		s := &session{ctx: ctx, db: db, lids: container.LIDMap, sink: sink, follow: make(chan connEvent, 16)}
		s.cli = c.fakeConnect(func(evt any) bool { return c.handle(s, evt) })
		c.setSession(s)
		defer c.setSession(nil)
		return c.wait(ctx, s, nil, nil)
	}
	c.applyLatestVersion(ctx)

	// Pairing retries quickly: a person is waiting at the terminal.
	bo := backoff{min: time.Second, max: min(10*time.Second, c.opts.ReconnectMax)}
	pair := c.pairFn
	if pair == nil {
		pair = c.pair
	}
	var last pairFailure
	for attempt := 1; ; attempt++ {
		dev, err := container.GetFirstDevice(ctx)
		if err != nil {
			return fmt.Errorf("whatsapp run: load device: %w", err)
		}
		if dev.ID != nil {
			return c.serve(ctx, db, dev, sink)
		}
		if last == pairNone {
			c.health.set(StatePairing, "waiting for the QR code or pairing code to be entered on the phone")
		}
		err = pair(ctx, dev)
		if err == nil {
			continue
		}
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, errOutdated) {
			c.health.set(StateClientOutdated, updateHint)
			return fmt.Errorf("whatsapp run: %w", err)
		}
		f := classifyPair(err)
		wait := bo.next()
		if f == pairUnreachable {
			c.health.set(StateUnreachable, "cannot reach WhatsApp's servers from this machine; retrying")
		} else {
			c.health.set(StatePairing, "waiting for the QR code or pairing code to be entered on the phone")
		}
		c.log.Warn().Err(redact(err)).Int("attempt", attempt).Str("retry_in", wait.String()).Str("hint", f.hint(c.opts.PairPhone != "")).
			Msg("pairing did not complete; trying again")
		if f != last {
			// Tell the person at the terminal once per kind of failure.
			fmt.Fprintln(c.opts.QR, f.explain(c.opts.PairPhone != ""))
			last = f
		}
		if !sleep(ctx, wait) {
			return nil
		}
	}
}

// pairFailure is a kind of failed pairing attempt, for the hint an
// operator gets.
type pairFailure int

const (
	pairNone        pairFailure = iota
	pairUnreachable             // WhatsApp's servers could not be reached
	pairTimeout                 // the codes ran out before anyone scanned or typed them
	pairOther
)

// errPairConnect marks a pairing attempt that could not connect at all.
var errPairConnect = errors.New("cannot connect to WhatsApp")

func classifyPair(err error) pairFailure {
	switch {
	case errors.Is(err, errPairConnect):
		return pairUnreachable
	case errors.Is(err, errPairTimeout):
		return pairTimeout
	}
	return pairOther
}

// hint is a short log field: what to do.
func (f pairFailure) hint(phone bool) string {
	switch f {
	case pairUnreachable:
		return "check this machine's network, DNS, proxy and firewall (WhatsApp needs outbound HTTPS and WebSocket to web.whatsapp.com), or run with --no-whatsapp"
	case pairTimeout:
		if phone {
			return "enter the pairing code on the business phone: WhatsApp, Settings, Linked devices, Link a device, Link with phone number instead"
		}
		return "scan the QR code with the business phone: WhatsApp, Settings, Linked devices, Link a device (or use --whatsapp-pair-phone for a code)"
	}
	return "trying again; if it keeps failing, check the network and the phone"
}

// explain is what the person at the terminal reads.
func (f pairFailure) explain(phone bool) string {
	switch f {
	case pairUnreachable:
		return "Switchboard cannot reach WhatsApp's servers from this machine, so it cannot show a QR code yet; it keeps trying.\n" +
			"  - Check the network: WhatsApp needs outbound HTTPS and WebSocket to web.whatsapp.com (DNS, proxy, firewall).\n" +
			"  - Once it connects, link the business phone with the QR code shown here, or with a pairing code (--whatsapp-pair-phone).\n" +
			"  - Or, recommended for production, run on the official WhatsApp Business Platform (Cloud API) instead of a linked phone: set WHATSAPP_CLOUD_PHONE_NUMBER_ID and the other WHATSAPP_CLOUD_* settings (README, WhatsApp Business Platform).\n" +
			"  - To try the Teams side alone, start with --no-whatsapp."
	case pairTimeout:
		if phone {
			return "The pairing code was not entered in time; a new one follows. On the business phone: WhatsApp, Settings, Linked devices, Link a device, Link with phone number instead."
		}
		return "Nobody scanned the QR code in time; a new one follows. On the business phone: WhatsApp, Settings, Linked devices, Link a device. (Or start with --whatsapp-pair-phone to type a code instead.)"
	}
	return "Linking WhatsApp did not complete; Switchboard tries again."
}

// serve runs one paired session until ctx ends or it ends for good.
func (c *Channel) serve(ctx context.Context, db *sql.DB, dev *store.Device, sink bot.Sink) error {
	cache, err := newLIDCache(db)
	if err != nil {
		return fmt.Errorf("whatsapp run: %w", err)
	}
	dev.LIDs = cache // before the client exists: nothing reads it concurrently yet
	cli := whatsmeow.NewClient(dev, newWALogger(c.opts.Log, c.opts.WhatsmeowLevel).Sub("Client"))
	cli.SynchronousAck = true
	cli.EnableDecryptedEventBuffer = true
	cli.ManualHistorySyncDownload = true
	cli.InitialAutoReconnect = true
	cli.EnableAutoReconnect = true
	cli.GetMessageForRetry = c.retryMessage
	wctx := ctxLogger(ctx, c.opts.Log, c.opts.WhatsmeowLevel) // for whatsmeow only; the sink keeps ctx
	cli.BackgroundEventCtx = wctx
	cli.AutoReconnectHook = func(error) bool {
		c.health.set(StateDisconnected, "reconnect failed; retrying")
		return true
	}
	s := &session{ctx: ctx, db: db, cli: cli, wm: cli, lids: cache, cache: cache, sink: sink, follow: make(chan connEvent, 16)}
	handlerID := cli.AddEventHandlerWithSuccessStatus(func(evt any) bool { return c.handle(s, evt) })
	c.setSession(s)
	defer func() {
		c.setSession(nil)
		cli.Disconnect()
		cli.RemoveEventHandler(handlerID)
	}()

	bo := backoff{min: time.Second, max: c.opts.ReconnectMax}
	connect := func() bool {
		for {
			err := cli.ConnectContext(wctx)
			if err == nil || errors.Is(err, whatsmeow.ErrAlreadyConnected) {
				return true
			}
			c.health.set(StateDisconnected, "connect failed; retrying")
			c.log.Warn().Err(redact(err)).Msg("connect failed")
			if !sleep(ctx, bo.next()) {
				return false
			}
		}
	}
	if !connect() {
		return nil
	}
	return c.wait(ctx, s, bo.reset, func(wait time.Duration) bool {
		cli.Disconnect()
		if wait <= 0 {
			wait = bo.next()
		}
		return sleep(ctx, wait) && connect()
	})
}

// wait follows connection events until ctx ends (nil) or the session ends
// for good (the reason). connected, if not nil, is called on each
// connection; reconnect, if not nil, after whatsmeow gave up on the
// connection, and it reports false once ctx ended. After a remote logout,
// what whatsmeow's own deletion leaves behind is cleared.
func (c *Channel) wait(ctx context.Context, s *session, connected func(), reconnect func(wait time.Duration) bool) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case e := <-s.follow:
			switch {
			case e.connected && connected != nil:
				connected()
			case e.next == followStop:
				c.log.Error().Str("state", string(c.health.get().State)).Msg("whatsapp session ended; a person must act")
				if errors.Is(e.err, ErrLoggedOut) {
					if err := purgeAfterLogout(context.WithoutCancel(ctx), s.db); err != nil {
						c.log.Error().Err(err).Msg("clearing the logged-out session's leftovers failed")
					}
				}
				return fmt.Errorf("whatsapp run: %w", e.err)
			case e.next == followReconnect && reconnect != nil:
				if !reconnect(e.wait) {
					return nil
				}
			}
		}
	}
}

// Errors Run returns when the session ends for good.
var (
	ErrLoggedOut      = errors.New("logged out: pair again")
	ErrStreamReplaced = errors.New("another process uses this session")
	ErrClientOutdated = errors.New("client outdated: update whatsmeow")
	errOutdated       = ErrClientOutdated
)

// handle is the whatsmeow event handler. Its result decides the ack: false
// leaves the message or receipt unacknowledged so WhatsApp redelivers it
// (whatsmeow's decrypted-event buffer keeps the plaintext for that).
func (c *Channel) handle(s *session, evt any) (ack bool) {
	defer func() {
		if r := recover(); r != nil {
			// whatsmeow would recover too, but then acknowledge: refuse instead.
			c.log.Error().Str("event", fmt.Sprintf("%T", evt)).Msg("event handler panicked; not acknowledged")
			ack = false
		}
	}()
	switch v := evt.(type) {
	case *events.Message:
		return c.onMessage(s, v)
	case *events.Receipt:
		return c.onReceipt(s, v)
	case *events.HistorySync:
		return true // old chats are not imported (data minimisation)
	}
	handled, next, wait := c.health.onEvent(evt)
	if !handled {
		return true
	}
	e := connEvent{next: next, wait: wait}
	switch evt.(type) {
	case *events.Connected:
		e.connected = true
		c.log.Info().Msg("connected")
	case *events.LoggedOut:
		e.err = ErrLoggedOut
	case *events.StreamReplaced:
		e.err = ErrStreamReplaced
	case *events.ClientOutdated:
		e.err = ErrClientOutdated
	case *events.UndecryptableMessage:
		c.log.Warn().Msg("a message could not be decrypted; the sender's phone was asked to resend")
	default:
		c.log.Warn().Str("state", string(c.health.get().State)).Msg("connection event")
	}
	select {
	case s.follow <- e:
	default:
		if next == followStop { // never lose a stop behind routine events
			go func() {
				select {
				case s.follow <- e:
				case <-s.ctx.Done():
				}
			}()
		}
	}
	return true
}

// onMessage maps and delivers one message; the message is acked only if
// the sink stored it (or it is ignored). A message not acked is noted with
// its sender (its plaintext waits in whatsmeow's buffer; see buffer.go), so
// erasing someone else never deletes it.
func (c *Channel) onMessage(s *session, evt *events.Message) bool {
	ack := c.deliverMessage(s, evt)
	ctx := context.WithoutCancel(s.ctx)
	if err := noteUnacked(ctx, s.db, evt.RawMessage, evt.Info.ID, senderUsers(evt.Info), ack, c.opts.Now()); err != nil {
		c.log.Warn().Err(err).Bool("acked", ack).Msg("unacknowledged message not noted")
	}
	return ack
}

// deliverMessage is onMessage's delivery.
func (c *Channel) deliverMessage(s *session, evt *events.Message) bool {
	ctx := s.ctx
	if ctx.Err() != nil {
		return false
	}
	m := mapMessage(ctx, evt, s.lids)
	switch m.act {
	case actDeliver:
		if err := markWriter(ctx, s.db, evt.Info.Chat, c.opts.Now()); err != nil {
			c.log.Error().Err(err).Msg("inbound message not acknowledged")
			return false
		}
		if err := s.sink.Deliver(ctx, m.in); err != nil {
			c.log.Warn().Err(err).Msg("sink refused inbound message; WhatsApp will redeliver it")
			return false
		}
	case actRevoke:
		if err := s.sink.Revoke(ctx, bot.WhatsApp, m.in.Chat, m.in.Sender, m.in.ID); err != nil {
			c.log.Warn().Err(err).Msg("sink refused revoke; WhatsApp will redeliver it")
			return false
		}
	default:
		c.log.Debug().Str("why", m.why).Msg("message ignored")
	}
	return true
}

// onReceipt passes delivery and read receipts to the sink.
func (c *Channel) onReceipt(s *session, evt *events.Receipt) bool {
	r, ok := mapReceipt(evt)
	if !ok {
		return true
	}
	if err := s.sink.Receipt(s.ctx, r); err != nil {
		c.log.Warn().Err(err).Msg("sink refused receipt; WhatsApp will redeliver it")
		return false
	}
	return true
}

// retryMessage is whatsmeow's GetMessageForRetry: it rebuilds a sent text
// from the outbox. Documents cannot be rebuilt (their media keys are gone).
func (c *Channel) retryMessage(_, _ types.JID, id types.MessageID) *waE2E.Message {
	if c.opts.Retry == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	text, err := c.opts.Retry.RetryText(ctx, bot.MessageID(id))
	if err != nil || text == "" {
		return nil
	}
	return &waE2E.Message{Conversation: proto.String(text)}
}

// applyLatestVersion asks web.whatsapp.com for the current web client
// version and makes whatsmeow announce it. The pinned whatsmeow's
// store.SetWAVersion updates the version and its hash but not the app
// version in store.BaseClientPayload, so that is set too. A failure keeps
// the built-in version.
func (c *Channel) applyLatestVersion(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	v, err := whatsmeow.GetLatestVersion(ctx, c.opts.HTTPClient)
	if err != nil || v == nil || v.IsZero() {
		c.log.Warn().Err(err).Str("version", store.GetWAVersion().String()).Msg("could not fetch the current WhatsApp web version; using the built-in one")
		return
	}
	setWAVersion(*v)
	c.log.Info().Str("version", v.String()).Msg("using the current WhatsApp web version")
}

// setWAVersion applies a web client version everywhere whatsmeow reads it.
func setWAVersion(v store.WAVersionContainer) {
	store.SetWAVersion(v)
	store.BaseClientPayload.UserAgent.AppVersion = v.ProtoAppVersion()
}

// backoff doubles a wait from min to max.
type backoff struct {
	min, max, cur time.Duration
}

func (b *backoff) next() time.Duration {
	if b.cur < b.min {
		b.cur = b.min
	} else if b.cur *= 2; b.cur > b.max {
		b.cur = b.max
	}
	return b.cur
}

func (b *backoff) reset() { b.cur = 0 }

// sleep waits d or until ctx ends; it reports whether ctx is still live.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
