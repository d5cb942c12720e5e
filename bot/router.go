package bot

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/rs/zerolog"
)

// Defaults of Options.
const (
	DefaultWorkers      = 4
	DefaultStartWorkers = 2
	DefaultQueueSize    = 1024
	DefaultMaxText      = 16 << 10
	DefaultHistoryLimit = 10
	DefaultSendAttempts = 8
)

// DefaultDraftDeadline bounds one draft, the drafter's own retries
// included (Options.DraftDeadline).
const DefaultDraftDeadline = 45 * time.Second

// DefaultUnavailableWait is how long a reply waits for a channel that is
// reconnecting before it is tried again.
const DefaultUnavailableWait = 15 * time.Second

// DefaultDrainTimeout bounds the drain after Run's context is done.
const DefaultDrainTimeout = 10 * time.Second

// persistTimeout bounds recording finished work (a draft, a sent reply)
// after the context that did the work was cancelled.
const persistTimeout = 5 * time.Second

// cardRetryDelay is the wait before unposted cards are tried again.
const cardRetryDelay = 5 * time.Second

// pollInterval is how often the outbox worker looks for due items and the
// router for work left waiting (undrafted messages, unposted cards).
const pollInterval = time.Second

// Options configures a Router.
type Options struct {
	// Log receives the router's logs: ids and counts only. If zero, nothing
	// is logged.
	Log zerolog.Logger
	// Store keeps subjects, messages, drafts and the outbox. Required.
	Store Store
	// Drafter proposes replies. If nil, ManualDrafter: staff write every
	// reply by hand.
	Drafter Drafter
	// Notifier posts draft cards to staff. If nil, cards are not posted:
	// drafts stay uncarded and are posted by a router that has a notifier,
	// when it starts.
	Notifier Notifier
	// Commands runs slash commands and sees plain text first. If nil, only
	// the built-in /help is known.
	Commands Commands
	// Channels send replies, one per platform. A reply for a platform
	// without a channel waits in the outbox (its card says so) for a
	// process that has one.
	Channels []Channel
	// Metrics counts what the router does. If nil, NopMetrics.
	Metrics Metrics
	// Hours are the business's opening hours: a customer who writes while
	// it is closed gets one acknowledgement per chat and closed period
	// (the Store must be a ClosedAckStore). If nil, none is sent.
	Hours OpeningHours
	// Now returns the time. If nil, time.Now.
	Now func() time.Time
	// Workers is the number of drafting goroutines (they wait for the
	// drafter). If 0, DefaultWorkers.
	Workers int
	// StartWorkers is the number of goroutines that give stored messages a
	// draft row and a card before drafting starts (they never wait for the
	// drafter). If 0, DefaultStartWorkers.
	StartWorkers int
	// QueueSize bounds each of the start and drafting queues. If 0,
	// DefaultQueueSize.
	QueueSize int
	// DraftDeadline bounds one draft, the drafter's own retries included;
	// past it the card says drafting took too long. If 0,
	// DefaultDraftDeadline.
	DraftDeadline time.Duration
	// MaxText is the longest inbound text kept, in bytes; longer text is
	// cut at a character boundary and marked. If 0, DefaultMaxText.
	MaxText int
	// HistoryLimit is how many earlier messages the drafter sees. If 0,
	// DefaultHistoryLimit.
	HistoryLimit int
	// SendAttempts is how often a reply is tried before it is marked
	// failed. If 0, DefaultSendAttempts.
	SendAttempts int
	// Backoff returns the wait after the attempt-th failed send (1-based).
	// If nil, DefaultBackoff.
	Backoff func(attempt int) time.Duration
	// DrainTimeout bounds the drain after Run's context is done. If 0,
	// DefaultDrainTimeout.
	DrainTimeout time.Duration
	// UnavailableWait is how long a reply waits before a channel that said
	// ErrUnavailable (or is off) is tried again; such tries use up no
	// attempt. If 0, DefaultUnavailableWait.
	UnavailableWait time.Duration
	// InDoubtWait is how long a reply whose send is in doubt on a channel
	// that is not Idempotent waits for a receipt with its key before staff
	// are asked to check it. It counts from the later of the attempt and
	// Run's start. If 0, DefaultInDoubtWait.
	InDoubtWait time.Duration
	// Media, if set, fetches, keeps and transcribes attachments: each
	// inbound message that carries one (Inbound.Media) is stored with a
	// pending item, the worker is woken, and when the item settles the
	// card is brought up to date (and a draft made without the voice
	// note's transcript is made again). Its Store must be the Store (or
	// share its data). If nil, attachments show as their placeholder.
	Media *MediaWorker
	// MediaWait bounds how long a first draft waits for its message's
	// voice note to be transcribed (or, for an ImageDrafter that wants
	// images, its photo to be kept) before it drafts without; the wait is
	// part of DraftDeadline. If 0, half of DraftDeadline.
	MediaWait time.Duration
}

// DefaultInDoubtWait is the default Options.InDoubtWait. Meta sends the
// status webhook of an accepted message within seconds and retries it after
// our downtime; two minutes leaves room for both.
const DefaultInDoubtWait = 2 * time.Minute

// DefaultBackoff waits exponentially from 1 s to 5 min, with ±25 % jitter.
func DefaultBackoff(attempt int) time.Duration {
	if attempt < 1 {
		attempt = 1
	}
	d := time.Second << min(attempt-1, 9)
	d = min(d, 5*time.Minute)
	d += time.Duration(rand.Int64N(int64(d/2)+1)) - d/4
	return max(time.Second, min(d, 5*time.Minute))
}

// Router runs Switchboard's flows: inbound message → store → command or
// draft queue → card to staff → decision → outbox → send → receipts. It is
// the Sink every channel delivers to. Create it with NewRouter and start it
// with Run; channels are run by the caller.
type Router struct {
	early    earlyReceipts
	log      zerolog.Logger
	store    Store
	drafter  Drafter
	notifier Notifier
	commands Commands
	channels map[Platform]Channel
	metrics  Metrics
	now      func() time.Time
	hours    OpeningHours   // nil: no closed-hours acknowledgements
	acks     ClosedAckStore // the store, when it records them

	workers       int
	startWorkers  int
	maxText       int
	draftDeadline time.Duration
	historyLimit  int
	sendAttempts  int
	backoff       func(int) time.Duration
	drainTimeout  time.Duration
	unavailable   time.Duration
	inDoubtWait   time.Duration
	startedAt     time.Time // set by Run before its workers start
	media         *MediaWorker
	mediaStore    MediaStore // media's store; nil without media
	mediaWait     time.Duration

	// queue is the start lane: stored messages waiting for their draft row
	// and card. drafting is the drafting lane: drafts waiting for the
	// drafter (first drafts, regenerate, retry).
	queue    *chatQueue
	drafting *chatQueue
	wake     chan struct{} // nudges the outbox worker
	ready    chan struct{} // closed once Run resumed earlier work and started

	mu      sync.Mutex
	started bool
	// mediaWaiters are first drafts waiting for their message's media to
	// settle, by message row id.
	mediaWaiters map[int64][]chan struct{}
	// carding holds the card locks of drafts whose card is being posted or
	// updated, so one card's changes never interleave (cards.go).
	carding map[int64]*cardLock
	// inflight holds outbox ids this process is sending or resolving now.
	inflight map[int64]bool
	// cardRetry is set when posting a card failed; the poll loop retries
	// unposted cards from cardRetryAt.
	cardRetry   bool
	cardRetryAt time.Time
	// windowRetryAt holds off refreshClosedWindows after a pass whose
	// cards could not be updated.
	windowRetryAt time.Time
}

var _ Sink = (*Router)(nil)

// NewRouter validates opts and fills defaults. It does no I/O.
func NewRouter(opts Options) (*Router, error) {
	if opts.Store == nil {
		return nil, errors.New("new router: store is required")
	}
	if opts.Workers < 0 || opts.StartWorkers < 0 || opts.QueueSize < 0 || opts.MaxText < 0 || opts.HistoryLimit < 0 || opts.SendAttempts < 0 ||
		opts.DrainTimeout < 0 || opts.DraftDeadline < 0 {
		return nil, errors.New("new router: Workers, StartWorkers, QueueSize, MaxText, HistoryLimit, SendAttempts, DrainTimeout and DraftDeadline must not be negative")
	}
	r := &Router{
		log:           opts.Log.With().Str("component", "router").Logger(),
		store:         opts.Store,
		drafter:       opts.Drafter,
		notifier:      opts.Notifier,
		commands:      opts.Commands,
		channels:      make(map[Platform]Channel),
		metrics:       opts.Metrics,
		now:           opts.Now,
		workers:       orDefault(opts.Workers, DefaultWorkers),
		startWorkers:  orDefault(opts.StartWorkers, DefaultStartWorkers),
		draftDeadline: opts.DraftDeadline,
		maxText:       orDefault(opts.MaxText, DefaultMaxText),
		historyLimit:  orDefault(opts.HistoryLimit, DefaultHistoryLimit),
		sendAttempts:  orDefault(opts.SendAttempts, DefaultSendAttempts),
		backoff:       opts.Backoff,
		drainTimeout:  opts.DrainTimeout,
		unavailable:   opts.UnavailableWait,
		inDoubtWait:   opts.InDoubtWait,
		inflight:      make(map[int64]bool),
		queue:         newChatQueue(orDefault(opts.QueueSize, DefaultQueueSize)),
		drafting:      newChatQueue(orDefault(opts.QueueSize, DefaultQueueSize)),
		wake:          make(chan struct{}, 1),
		ready:         make(chan struct{}),
		carding:       make(map[int64]*cardLock),
	}
	if opts.Hours != nil {
		acks, ok := opts.Store.(ClosedAckStore)
		if !ok {
			return nil, errors.New("new router: opening hours need a store that records closed-hours acknowledgements")
		}
		r.hours, r.acks = opts.Hours, acks
	}
	if r.maxText < minMaxText {
		return nil, fmt.Errorf("new router: MaxText must be at least %d bytes", minMaxText)
	}
	for i, ch := range opts.Channels {
		if ch == nil {
			return nil, fmt.Errorf("new router: channel %d is nil", i)
		}
		p := ch.Platform()
		if p == "" {
			return nil, fmt.Errorf("new router: channel %d has no platform", i)
		}
		if _, dup := r.channels[p]; dup {
			return nil, fmt.Errorf("new router: two channels for platform %q", p)
		}
		r.channels[p] = ch
	}
	if r.drafter == nil {
		r.drafter = ManualDrafter{}
	}
	if r.metrics == nil {
		r.metrics = NopMetrics{}
	}
	if r.now == nil {
		r.now = time.Now
	}
	if r.backoff == nil {
		r.backoff = DefaultBackoff
	}
	if r.drainTimeout == 0 {
		r.drainTimeout = DefaultDrainTimeout
	}
	if r.unavailable <= 0 {
		r.unavailable = DefaultUnavailableWait
	}
	if r.inDoubtWait <= 0 {
		r.inDoubtWait = DefaultInDoubtWait
	}
	if r.draftDeadline == 0 {
		r.draftDeadline = DefaultDraftDeadline
	}
	if opts.MediaWait < 0 {
		return nil, errors.New("new router: MediaWait must not be negative")
	}
	r.mediaWait = opts.MediaWait
	if r.mediaWait == 0 {
		r.mediaWait = r.draftDeadline / 2
	}
	r.mediaWait = min(r.mediaWait, r.draftDeadline)
	if opts.Media != nil {
		r.media, r.mediaStore = opts.Media, opts.Media.Store()
		r.mediaWaiters = make(map[int64][]chan struct{})
		opts.Media.listen(r.mediaSettled)
	}
	return r, nil
}

// orDefault returns v, or def if v is zero.
func orDefault(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

// Run resumes work left by an earlier process (in-doubt sends, cards of
// erased subjects to delete, unposted cards, undrafted messages, unfinished
// drafts, due replies), runs the start workers (draft row and card for each
// stored message), the drafting workers and the outbox worker, and blocks
// until ctx is done. Then Deliver refuses input with ErrStopped, and Run
// drains both queues and sends due replies within a fresh deadline
// (DrainTimeout, 10 s by default) before it returns; it returns an error if
// the deadline cut the drain short. Work cut off by the deadline stays in
// the store and is resumed by the next Run. Run may be called once.
func (r *Router) Run(ctx context.Context) error {
	r.mu.Lock()
	if r.started {
		r.mu.Unlock()
		return errors.New("run router: already started")
	}
	r.started = true
	r.startedAt = r.now()
	r.mu.Unlock()

	// Jobs outlive ctx while draining; cancelJobs cuts them off when the
	// drain deadline passes.
	jobCtx, cancelJobs := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelJobs()

	r.log.Info().Int("workers", r.workers).Int("channels", len(r.channels)).Bool("notifier", r.notifier != nil).Msg("router starting")
	r.resolveInDoubt(ctx)
	if r.notifier != nil {
		r.postUncarded(ctx)
	}
	r.rescan(ctx)
	r.rescanDrafting(ctx)

	quit := make(chan struct{})
	var starters, drafters sync.WaitGroup
	for range r.startWorkers {
		starters.Go(func() { r.worker(jobCtx, r.queue, quit) })
	}
	for range r.workers {
		drafters.Go(func() { r.worker(jobCtx, r.drafting, quit) })
	}
	stopOutbox := make(chan struct{})
	outboxDone := make(chan struct{})
	go func() {
		defer close(outboxDone)
		r.outboxLoop(jobCtx, stopOutbox)
	}()
	close(r.ready)

	<-ctx.Done()
	r.queue.close()
	r.log.Info().Msg("router draining")
	drainCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.drainTimeout)
	defer cancel()

	var err error
	// The start lane first: its jobs feed the drafting lane.
	for _, q := range []*chatQueue{r.queue, r.drafting} {
		q.close()
		select {
		case <-q.drained:
		case <-drainCtx.Done():
			err = errors.New("run router: drain deadline passed; queued drafts resume on restart")
			cancelJobs()
		}
	}
	close(quit)
	starters.Wait()
	drafters.Wait()
	close(stopOutbox)
	select {
	case <-outboxDone:
	case <-drainCtx.Done():
		if err == nil {
			err = errors.New("run router: drain deadline passed; due replies are sent on restart")
		}
		cancelJobs()
		<-outboxDone
	}
	r.log.Info().Bool("complete", err == nil).Msg("router stopped")
	return err
}

// Ready returns a channel that is closed once Run has resumed the work an
// earlier process left and started its workers: a readiness probe.
func (r *Router) Ready() <-chan struct{} { return r.ready }

// worker runs the jobs of lane q until quit is closed.
func (r *Router) worker(ctx context.Context, q *chatQueue, quit <-chan struct{}) {
	for {
		select {
		case <-quit:
			return
		case key := <-q.ready:
			j, skipped := q.take(key)
			switch {
			case skipped:
			case j.msg.ID != 0:
				r.startDraft(ctx, j.msg)
			case j.first:
				r.firstDraft(ctx, j.draftID)
			default:
				r.redraft(ctx, j.draftID, j.instruction, j.fresh)
			}
			q.finish(key, j)
		}
	}
}

// Deliver takes one inbound message: it validates it, resolves the sender to
// a subject, stores the message (a redelivery returns nil and does nothing
// more), then runs a command, lets Commands intercept plain text, queues a
// customer's message for drafting, or answers staff with a short help. It
// returns an error if the message could not be stored, or if the draft queue
// is full (ErrQueueFull; the message is stored and drafted later), and
// ErrStopped once Run's context is done. Deliver may be called before Run:
// messages then wait in the queue until the workers start.
func (r *Router) Deliver(ctx context.Context, in Inbound) error {
	if r.queue.isClosed() {
		return fmt.Errorf("deliver: %w", ErrStopped)
	}
	if err := validateInbound(in); err != nil {
		r.metrics.Failure("validate")
		return err
	}
	now := r.now()
	kind := in.Kind
	if kind == "" {
		kind = KindText
	}
	role := in.Role
	if role == "" {
		role = RoleCustomer
	}
	text, origLen := r.clipText(in.Text)
	sentAt := in.SentAt
	if sentAt.IsZero() {
		sentAt = now
	}
	ids := append([]Identity{in.Sender}, in.AltSenders...)
	sin := SubjectInput{
		Identities: ids,
		Name:       clipName(in.SenderName),
		Role:       role,
		Tenant:     in.Tenant,
	}
	cmd, isCmd := ParseCommand(text)
	isCmd = isCmd && kind == KindText
	stored := text
	if isCmd {
		// A command is not conversation: its row keeps the message id (so
		// a redelivery is not run twice) and the command's name, never its
		// arguments, which name other people ("/forget 07700 900987").
		stored = CommandText(cmd)
	}
	msg := Message{
		Platform:   in.Platform,
		Chat:       in.Chat,
		PlatformID: in.ID,
		Dir:        In,
		Kind:       kind,
		Text:       stored,
		SentAt:     sentAt,
		StoredAt:   now,
		Status:     StatusReceived,
	}
	if r.media != nil && !isCmd {
		msg.Media = cleanMediaRef(in.Media)
	}
	subj, id, dup, err := r.ingest(ctx, sin, msg)
	if err != nil {
		return err
	}
	msg.Subject = subj.ID
	// The store marked the row the same way, from the subject it resolved.
	msg.AIRestricted = subj.AIRestricted
	log := r.log.With().Str("subject", string(subj.ID)).Str("platform", string(in.Platform)).Logger()
	if dup {
		log.Debug().Int64("message_id", id).Msg("duplicate delivery ignored")
		return nil
	}
	msg.ID = id
	if msg.Media != nil {
		r.mediaStored(ctx, log, msg)
	}
	// Until this message is answered or queued, a concurrent rescan of
	// undrafted messages must leave it alone.
	claimed := r.queue.claim(id)
	r.metrics.Inbound(in.Platform)
	log = log.With().Int64("message_id", id).Logger()
	if origLen > 0 {
		log.Info().Int("bytes", origLen).Int("kept", len(text)).Msg("inbound text truncated")
	}
	if subj.Role == "" {
		subj.Role = role
	}

	req := CommandRequest{
		Text:     text,
		Subject:  subj,
		Sender:   in.Sender,
		Platform: in.Platform,
		Chat:     in.Chat,
		Group:    in.Group,
		At:       now,
	}
	if isCmd {
		req.Command = cmd
		r.runCommand(ctx, log, req, in.ID)
		r.answered(ctx, log, id, claimed)
		return nil
	}
	if r.commands != nil {
		reply, handled, err := r.commands.Intercept(ctx, req)
		switch {
		case err != nil:
			// Lose nothing: the message goes on as if not intercepted, so
			// staff see it.
			r.metrics.Failure("intercept")
			log.Error().Err(err).Msg("intercept failed; message passed on")
		case handled:
			log.Debug().Msg("message intercepted by commands")
			if reply.Text != "" || reply.File != nil {
				r.reply(ctx, log, in.Platform, in.Chat, in.ID, reply)
			}
			r.answered(ctx, log, id, claimed)
			return nil
		}
	}
	if subj.Role != RoleCustomer {
		r.reply(ctx, log, in.Platform, in.Chat, in.ID, Reply{Text: StaffHelp})
		r.answered(ctx, log, id, claimed)
		return nil
	}
	if !claimed {
		log.Debug().Msg("message already queued by a rescan")
		return nil
	}
	if err := r.queue.pushClaimed(chatKey(in.Platform, in.Chat), job{msg: msg}); err != nil {
		r.metrics.Failure("queue")
		log.Warn().Err(err).Msg("message stored but not queued for drafting")
		return fmt.Errorf("deliver: message %d stored, drafting later: %w", id, err)
	}
	log.Debug().Msg("message queued for drafting")
	return nil
}

// ingest resolves the sender and stores the message: in one step if the
// store is an Ingester, else with ResolveSubject then SaveInbound.
func (r *Router) ingest(ctx context.Context, in SubjectInput, msg Message) (Subject, int64, bool, error) {
	if ing, ok := r.store.(Ingester); ok {
		subj, id, dup, err := ing.Ingest(ctx, in, msg)
		if err != nil {
			r.metrics.Failure("save")
			return Subject{}, 0, false, fmt.Errorf("deliver: ingest: %w", err)
		}
		return subj, id, dup, nil
	}
	subj, err := r.store.ResolveSubject(ctx, in)
	if err != nil {
		r.metrics.Failure("resolve")
		return Subject{}, 0, false, fmt.Errorf("deliver: resolve subject: %w", err)
	}
	msg.Subject = subj.ID
	id, dup, err := r.store.SaveInbound(ctx, msg)
	if err != nil {
		r.metrics.Failure("save")
		return Subject{}, 0, false, fmt.Errorf("deliver: save message: %w", err)
	}
	return subj, id, dup, nil
}

// Replies the router gives by itself.
const (
	// StaffHelp answers plain text from staff.
	StaffHelp = "Drafts of replies to customers appear here as cards: approve, edit or reject them there. Send /help for the commands."
	// BuiltinHelp answers /help when no Commands service knows it.
	BuiltinHelp = "Send your message and a member of the team will answer. Commands: /help (this list)."
	// CommandHelp answers /help when Commands is set but does not know it.
	CommandHelp = "Commands: /export (a copy of your data), /forget me (erase your data), /stop (no AI on your messages), /start (allow it again), /help (this list)."
	// ReplyAdminOnly refuses a command only admins may give; every channel
	// and command service uses this one wording.
	ReplyAdminOnly = "Only an admin can do that."
	// ReplyNoFiles replaces a file in a reply to a chat that takes none.
	ReplyNoFiles = "This chat cannot receive files; please ask in another chat."
	// replyFileNotHere replaces a file of a type or size the chat's
	// channel does not send (TypeWords, SizeWords).
	replyFileNotHere = "The file that goes with this (%s, %s) cannot be sent in this chat; please ask in another chat."
	// ReplyFileFailed follows a reply whose file could not be sent.
	ReplyFileFailed = "Sorry, the file could not be sent in this chat just now. Please try again later."
	// ReplyTryLater answers a failure on our side.
	ReplyTryLater = "Something went wrong on our side and nothing was lost. Please try again later."
	// NoteAIOff is the card note for a customer who objected to AI (/stop).
	NoteAIOff = "AI off at the customer's request: please write the reply by hand."
	// NoteDraftFailed is the card note when the drafter failed for a reason
	// it did not name (DraftFailure.Note has the others).
	NoteDraftFailed = "The AI draft could not be used. Retry, or write the reply by hand."
	// NoteRedrafting is the card note while a draft is being made again.
	NoteRedrafting = "Drafting again…"
	// NoteRevoked is the card note once the customer deleted their message.
	NoteRevoked = "The customer deleted this message."
)

// runCommand runs a slash command and replies in the chat it came from.
func (r *Router) runCommand(ctx context.Context, log zerolog.Logger, req CommandRequest, replyTo MessageID) {
	// The command name is logged only once Commands knew it: an unknown
	// "name" is whatever the person typed.
	var reply Reply
	var err error
	if r.commands == nil {
		err = ErrUnknownCommand
	} else {
		reply, err = r.commands.Handle(ctx, req)
	}
	switch {
	case errors.Is(err, ErrUnknownCommand) && req.Command.Name == "help":
		reply = Reply{Text: BuiltinHelp}
		if r.commands != nil {
			reply.Text = CommandHelp
		}
	case errors.Is(err, ErrUnknownCommand):
		log.Info().Msg("unknown command")
		reply = Reply{Text: "Unknown command /" + req.Command.Name + ". Send /help for the list."}
	case err != nil:
		r.metrics.Failure("command")
		log.Error().Err(err).Str("command", req.Command.Name).Msg("command failed")
		reply = Reply{Text: safeText(err, "Sorry, /"+req.Command.Name+" did not work. Please try again later.")}
	default:
		log.Info().Str("command", req.Command.Name).Msg("command handled")
	}
	if reply.Text != "" || reply.File != nil {
		r.reply(ctx, log, req.Platform, req.Chat, replyTo, reply)
	}
}

// answered records that a message was answered without a draft: in the
// store, and in the queue (so a rescan does not draft it).
func (r *Router) answered(ctx context.Context, log zerolog.Logger, id int64, claimed bool) {
	r.markHandled(ctx, log, id)
	r.queue.answered(id, claimed)
}

// markHandled tells a Store that implements HandledMarker that the message
// needs no draft. Failures only cost a skipped entry in a later rescan.
func (r *Router) markHandled(ctx context.Context, log zerolog.Logger, id int64) {
	hm, ok := r.store.(HandledMarker)
	if !ok {
		return
	}
	if err := hm.MarkHandled(ctx, id); err != nil {
		r.metrics.Failure("mark-handled")
		log.Warn().Err(err).Msg("mark message handled")
	}
}

// detached returns a context that outlives ctx's cancellation for up to d:
// recording work already done (a sent reply, a finished draft) must not be
// cut off by shutdown.
func detached(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), d)
}

// safeText returns the Safe text of a UserError in err's chain, or def.
func safeText(err error, def string) string {
	var ue *UserError
	if errors.As(err, &ue) && ue.Safe != "" {
		return ue.Safe
	}
	return def
}

// reply sends a reply through the channel of the platform. Failures are
// logged and counted; the inbound message stays stored.
func (r *Router) reply(ctx context.Context, log zerolog.Logger, p Platform, chat ChatID, replyTo MessageID, rep Reply) {
	ch := r.channels[p]
	if ch == nil {
		r.metrics.Failure("reply")
		log.Error().Msg("no channel to reply through")
		return
	}
	out := Outbound{Chat: chat, ReplyTo: replyTo, Text: rep.Text, File: rep.File}
	if f := rep.File; f != nil {
		switch caps := ch.Capabilities(); {
		case !caps.Files:
			out.File = nil
			out.Text = strings.TrimSpace(rep.Text + "\n\n" + ReplyNoFiles)
		case !caps.TakesFile(f.MIME, int64(len(f.Data))):
			// Refused before any call: the person hears why, not silence.
			out.File = nil
			out.Text = strings.TrimSpace(rep.Text + "\n\n" + fmt.Sprintf(replyFileNotHere, TypeWords(f.MIME), SizeWords(int64(len(f.Data)))))
		}
	}
	_, err := ch.Send(ctx, out)
	r.metrics.Sent(p, err)
	if err != nil {
		r.metrics.Failure("reply")
		log.Error().Err(err).Bool("file", out.File != nil).Msg("reply failed")
	}
	if err != nil && out.File != nil && !errors.Is(err, ErrInDoubt) {
		// The file did not go: say so in a plain text, which may.
		_, err := ch.Send(ctx, Outbound{Chat: chat, ReplyTo: replyTo, Text: ReplyFileFailed})
		r.metrics.Sent(p, err)
		if err != nil {
			log.Warn().Err(err).Msg("reply that the file failed not sent either")
		}
	}
}

// validateInbound checks what every inbound message needs.
func validateInbound(in Inbound) error {
	switch {
	case in.Platform == "":
		return errors.New("deliver: inbound message has no platform")
	case in.Sender.Kind == "" || in.Sender.Value == "":
		return errors.New("deliver: inbound message has no sender identity")
	case in.Chat == "":
		return errors.New("deliver: inbound message has no chat")
	case in.ID == "":
		return errors.New("deliver: inbound message has no platform message id")
	}
	for _, a := range in.AltSenders {
		if a.Kind == "" || a.Value == "" {
			return errors.New("deliver: inbound message has an empty alternative sender identity")
		}
	}
	return nil
}

// truncMark is appended to text cut at MaxText; the card shows it as a note.
const truncMarkFmt = "\n\n[message truncated from %d bytes]"

// minMaxText leaves room for the truncation mark.
const minMaxText = 64

// clipText makes text valid UTF-8 and cuts it to maxText bytes at a
// character boundary, marked with its original length. origLen is 0 if text
// was not cut.
func (r *Router) clipText(text string) (clipped string, origLen int) {
	if !utf8.ValidString(text) {
		text = strings.ToValidUTF8(text, "\uFFFD")
	}
	if len(text) <= r.maxText {
		return text, 0
	}
	mark := fmt.Sprintf(truncMarkFmt, len(text))
	return cutUTF8(text, r.maxText-len(mark)) + mark, len(text)
}

// cutUTF8 returns the longest prefix of s of at most n bytes that ends at a
// character boundary.
func cutUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// truncatedFrom returns the original length recorded by clipText, or 0.
func truncatedFrom(text string) int {
	i := strings.LastIndex(text, "\n\n[message truncated from ")
	if i < 0 {
		return 0
	}
	var n int
	if _, err := fmt.Sscanf(text[i:], truncMarkFmt, &n); err != nil || fmt.Sprintf(truncMarkFmt, n) != text[i:] {
		return 0
	}
	return n
}

// clipName bounds a display name.
func clipName(s string) string {
	s = strings.ToValidUTF8(strings.TrimSpace(s), "")
	return cutUTF8(s, 256)
}
