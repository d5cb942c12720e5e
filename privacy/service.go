package privacy

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/switchboard/switchboard/bot"
)

// Options configures a Service.
type Options struct {
	// Log receives ids, counts and outcomes only. If zero, nothing is logged.
	Log zerolog.Logger
	// Store is required.
	Store Store
	// Forgetters are the channels' hooks that erase what they keep about a
	// subject (whatsmeow tables, posted Teams cards). They run after the
	// store's rows are gone, with the identities captured before.
	Forgetters []bot.Forgetter
	// Senders reach chats other than the one a command came from: the first
	// admin of a two-admin "company" request is told when a second admin
	// confirmed it. If nil, that notice is skipped. Their Capabilities also
	// say whether an export can go as a file: where it cannot (and no link
	// is possible), /export says so before doing anything.
	Senders map[bot.Platform]bot.Channel
	// DefaultCC is the country code (digits) for national phone numbers an
	// admin types. If empty, "44".
	DefaultCC string
	// Now is the clock. If nil, time.Now.
	Now func() time.Time
	// ExportDir holds export files until they are delivered. If empty,
	// switchboard-exports under os.TempDir(). Created (0700) on first use.
	ExportDir string
	// ExportURL is the public base URL ExportHandler is mounted at
	// ("https://bot.example.com/exports/"). Exports asked for on a platform
	// other than WhatsApp are then sent as a one-time link; if empty, every
	// export is sent as a file.
	ExportURL string
	// Policy feeds /privacy, /retention and the export's supplementary
	// information; its RetentionMonths drives Purge.
	Policy Policy
	// Controller, if set, is asked on every notice, export and
	// confirmation for who the controller is now (the business profile,
	// which admins change at run time); it replaces Policy's Controller,
	// TradingName, Contact and ICORegistration. If nil, Policy's are used.
	Controller func() Controller
	// ConfirmWindow is how long a YES (or a second admin) may take. If 0,
	// 10 minutes.
	ConfirmWindow time.Duration
	// ExportEvery is the least time between two exports for one requester.
	// If 0, one hour.
	ExportEvery time.Duration
	// LinkTTL is how long an export link works. If 0, 24 hours.
	LinkTTL time.Duration
	// ReforgetAfter is how long after a self-erasure whose confirmation had
	// to go as the command's reply (sending it early failed) the channels
	// forget the person again, since sending re-creates their rows. If 0,
	// 30 seconds.
	ReforgetAfter time.Duration
}

// Service is the privacy engine. It satisfies bot.Commands. Its methods may
// be called from several goroutines.
type Service struct {
	log        zerolog.Logger
	st         Store
	forgetters []bot.Forgetter
	senders    map[bot.Platform]bot.Channel
	cc         string
	now        func() time.Time
	dir        string
	url        string
	policy     Policy
	controller func() Controller
	confirm    time.Duration
	every      time.Duration
	ttl        time.Duration
	reforget   time.Duration

	mu         sync.Mutex
	pending    map[chatKey]pending
	company    map[Verb]companyPending
	lastExport map[bot.SubjectID]time.Time
	links      map[[32]byte]link
	// erasing holds, per subject being erased, its cards as they were
	// before the rows went, for the channels' Forget hooks (see Cards).
	erasing map[bot.SubjectID][]bot.CardRef
}

var _ bot.Commands = (*Service)(nil)

// chatKey is one subject in one chat.
type chatKey struct {
	platform bot.Platform
	chat     bot.ChatID
	subject  bot.SubjectID
}

// pending is an erasure waiting for YES.
type pending struct {
	scope    Scope
	subjects []bot.SubjectID
	received time.Time
	expires  time.Time
}

// companyPending is a company-wide request waiting for a second admin.
type companyPending struct {
	by       bot.SubjectID
	platform bot.Platform
	chat     bot.ChatID
	received time.Time
	expires  time.Time
}

// New validates opts and fills defaults. It does no I/O.
func New(opts Options) (*Service, error) {
	if opts.Store == nil {
		return nil, errors.New("privacy: Store is required")
	}
	for i, f := range opts.Forgetters {
		if f == nil {
			return nil, fmt.Errorf("privacy: Forgetters[%d] is nil", i)
		}
	}
	if opts.DefaultCC == "" {
		opts.DefaultCC = "44"
	}
	if strings.Trim(opts.DefaultCC, "0123456789") != "" || len(opts.DefaultCC) > 3 {
		return nil, errors.New("privacy: DefaultCC must be 1 to 3 digits")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.ExportDir == "" {
		opts.ExportDir = filepath.Join(os.TempDir(), "switchboard-exports")
	}
	if opts.ExportURL != "" && !strings.HasSuffix(opts.ExportURL, "/") {
		opts.ExportURL += "/"
	}
	if opts.ExportURL != "" && !strings.HasPrefix(opts.ExportURL, "https://") && !strings.HasPrefix(opts.ExportURL, "http://") {
		return nil, errors.New("privacy: ExportURL must be an http(s) URL")
	}
	if opts.Policy.RetentionMonths < 0 || opts.Policy.LogDays < 0 {
		return nil, errors.New("privacy: retention periods must not be negative")
	}
	if opts.ConfirmWindow == 0 {
		opts.ConfirmWindow = 10 * time.Minute
	}
	if opts.ExportEvery == 0 {
		opts.ExportEvery = time.Hour
	}
	if opts.LinkTTL == 0 {
		opts.LinkTTL = 24 * time.Hour
	}
	if opts.ReforgetAfter == 0 {
		opts.ReforgetAfter = 30 * time.Second
	}
	if opts.ConfirmWindow < 0 || opts.ExportEvery < 0 || opts.LinkTTL < 0 || opts.ReforgetAfter < 0 {
		return nil, errors.New("privacy: durations must not be negative")
	}
	return &Service{
		log:        opts.Log,
		st:         opts.Store,
		forgetters: opts.Forgetters,
		senders:    opts.Senders,
		cc:         opts.DefaultCC,
		now:        opts.Now,
		dir:        opts.ExportDir,
		url:        opts.ExportURL,
		policy:     opts.Policy.withDefaults(),
		controller: opts.Controller,
		confirm:    opts.ConfirmWindow,
		every:      opts.ExportEvery,
		ttl:        opts.LinkTTL,
		reforget:   opts.ReforgetAfter,
		pending:    map[chatKey]pending{},
		company:    map[Verb]companyPending{},
		lastExport: map[bot.SubjectID]time.Time{},
		links:      map[[32]byte]link{},
		erasing:    map[bot.SubjectID][]bot.CardRef{},
	}, nil
}

// Texts shown to people.
const (
	textGroup     = "For your privacy I only do this in a one-to-one chat. Please message us directly."
	textOthers    = "You can only ask about your own data: type /export or /forget me."
	textAdminOnly = "Only an admin can do that."
	textNoMatch   = "No one is known by that identifier; nothing was done."
	textTryLater  = "Something went wrong on our side and nothing was lost. Please try again later."
	textExpired   = "That confirmation expired, so nothing was erased. Send the command again to start over."
)

// policyNow is the policy with the controller as it is now.
func (s *Service) policyNow() Policy {
	if s.controller == nil {
		return s.policy
	}
	return s.policy.withController(s.controller())
}

// received is when a command arrived: its timestamp, else now.
func (s *Service) received(req bot.CommandRequest) time.Time {
	if !req.At.IsZero() {
		return req.At.UTC()
	}
	return s.now().UTC()
}

// Handle runs a slash command; see bot.Commands. Refusals are replies, not
// errors; an error is a *bot.UserError (or bot.ErrUnknownCommand).
func (s *Service) Handle(ctx context.Context, req bot.CommandRequest) (bot.Reply, error) {
	op, err := Parse(req.Command, s.cc)
	switch {
	case errors.Is(err, bot.ErrUnknownCommand):
		return bot.Reply{}, err
	case errors.Is(err, ErrUsage), errors.Is(err, bot.ErrBadIdentity):
		return bot.Reply{Text: "Sorry, I could not read that: " + safeUsage(err) + ". Type /help for the commands."}, nil
	case err != nil:
		return bot.Reply{}, fmt.Errorf("parse command: %w", err)
	}
	switch op.Verb {
	case VerbHelp:
		return bot.Reply{Text: Help(req.Subject.Role)}, nil
	case VerbPrivacy:
		return bot.Reply{Text: s.policyNow().Notice()}, nil
	}
	if req.Subject.ID == "" {
		return bot.Reply{}, &bot.UserError{Code: "privacy-no-subject", Safe: textTryLater, Err: errors.New("command from an unresolved sender")}
	}
	if req.Group {
		s.log.Info().Str("subject", string(req.Subject.ID)).Str("command", string(op.Verb)).Msg("data-rights command in a group chat ignored")
		return bot.Reply{Text: textGroup}, nil
	}
	admin := req.Subject.Role == bot.RoleAdmin
	if !admin && (op.Verb == VerbRequests || op.Verb == VerbRetention || (op.Verb == VerbForget || op.Verb == VerbExport) && op.Target.Scope != ScopeSelf) {
		return s.refuse(ctx, req, op)
	}
	switch op.Verb {
	case VerbStop, VerbStart:
		return s.restrict(ctx, req, op.Verb == VerbStop)
	case VerbName:
		return s.rename(ctx, req, op.Name)
	case VerbRequests:
		return s.listRequests(ctx)
	case VerbRetention:
		return bot.Reply{Text: s.policy.RetentionText()}, nil
	case VerbForget:
		return s.askForget(ctx, req, op.Target)
	case VerbExport:
		return s.askExport(ctx, req, op.Target)
	}
	return bot.Reply{}, bot.ErrUnknownCommand
}

// safeUsage is the part of a parse error that may be shown: the parsers'
// messages never repeat the input.
func safeUsage(err error) string {
	msg := err.Error()
	for _, p := range []string{ErrUsage.Error() + ": ", bot.ErrBadIdentity.Error() + ": "} {
		msg = strings.TrimPrefix(msg, p)
	}
	return msg
}

// refuse answers a non-admin who asked for someone else's data or an admin
// command, and audits it.
func (s *Service) refuse(ctx context.Context, req bot.CommandRequest, op Op) (bot.Reply, error) {
	detail := string(op.Verb)
	if op.Target.Scope != "" {
		detail += " " + string(op.Target.Scope)
	}
	detail += ": not an admin"
	s.log.Warn().Str("subject", string(req.Subject.ID)).Str("command", string(op.Verb)).Str("scope", string(op.Target.Scope)).Msg("refused")
	if err := s.st.Audit(ctx, bot.AuditEntry{At: s.now().UTC(), Actor: req.Subject.ID, Action: "refused", Detail: detail}); err != nil {
		return bot.Reply{}, s.userErr("audit", err)
	}
	if op.Verb == VerbForget || op.Verb == VerbExport {
		return bot.Reply{Text: textOthers}, nil
	}
	return bot.Reply{Text: textAdminOnly}, nil
}

// userErr wraps an internal failure for the router: it replies with Safe
// and logs Err (which holds ids only).
func (s *Service) userErr(op string, err error) error {
	return &bot.UserError{Code: "privacy-" + op, Safe: textTryLater, Err: fmt.Errorf("%s: %w", op, err)}
}

// simple registers and completes a request that is done at once.
func (s *Service) simple(ctx context.Context, req bot.CommandRequest, kind bot.RequestKind, act func() error) error {
	rec := s.received(req)
	r := bot.Request{Kind: kind, Scope: string(ScopeSelf), Received: rec, Due: bot.DueDate(rec), RequestedBy: req.Subject.ID, Status: "open"}
	id, err := s.st.CreateRequest(ctx, r)
	if err != nil {
		return s.userErr("create request", err)
	}
	if err := act(); err != nil {
		_ = s.st.CompleteRequest(ctx, id, "failed", nil, s.now().UTC())
		return s.userErr(string(kind), err)
	}
	if err := s.st.CompleteRequest(ctx, id, "done", nil, s.now().UTC()); err != nil {
		return s.userErr("complete request", err)
	}
	if err := s.st.Audit(ctx, bot.AuditEntry{At: s.now().UTC(), Actor: req.Subject.ID, Action: string(kind), Subject: req.Subject.ID, Detail: fmt.Sprintf("request %d", id)}); err != nil {
		return s.userErr("audit", err)
	}
	s.log.Info().Str("subject", string(req.Subject.ID)).Int64("request", id).Str("kind", string(kind)).Msg("request done")
	return nil
}

func (s *Service) restrict(ctx context.Context, req bot.CommandRequest, on bool) (bot.Reply, error) {
	kind, text := bot.RequestResume, "AI drafting is back on for your messages. Type /stop to turn it off."
	if on {
		kind, text = bot.RequestRestrict, "Done: your messages will not be shown to an AI model. Our staff still read and answer them. Type /start to undo."
	}
	err := s.simple(ctx, req, kind, func() error { return s.st.SetAIRestricted(ctx, req.Subject.ID, on) })
	if err != nil {
		return bot.Reply{}, err
	}
	return bot.Reply{Text: s.policyNow().signed(text)}, nil
}

func (s *Service) rename(ctx context.Context, req bot.CommandRequest, name string) (bot.Reply, error) {
	err := s.simple(ctx, req, bot.RequestRectify, func() error { return s.st.SetName(ctx, req.Subject.ID, name) })
	if err != nil {
		return bot.Reply{}, err
	}
	return bot.Reply{Text: s.policyNow().signed("Done: we will use the name you gave from now on.")}, nil
}

// listRequests answers /requests.
func (s *Service) listRequests(ctx context.Context) (bot.Reply, error) {
	open, err := s.st.OpenRequests(ctx)
	if err != nil {
		return bot.Reply{}, s.userErr("open requests", err)
	}
	if len(open) == 0 {
		return bot.Reply{Text: "No open data-rights requests."}, nil
	}
	sort.Slice(open, func(i, j int) bool { return open[i].Due.Before(open[j].Due) })
	var b strings.Builder
	fmt.Fprintf(&b, "Open data-rights requests (%d):", len(open))
	now := s.now()
	for _, r := range open {
		fmt.Fprintf(&b, "\n#%d %s (%s), received %s, due %s", r.ID, r.Kind, r.Scope, r.Received.UTC().Format("2 Jan 2006"), r.Due.UTC().Format("2 Jan 2006"))
		if r.Due.Before(now) {
			b.WriteString(" OVERDUE")
		}
	}
	return bot.Reply{Text: b.String()}, nil
}

// resolve finds the subjects a target names. For ScopeSelf it is the
// requester.
func (s *Service) resolve(ctx context.Context, req bot.CommandRequest, t Target) ([]bot.SubjectID, error) {
	switch t.Scope {
	case ScopeSelf:
		return []bot.SubjectID{req.Subject.ID}, nil
	case ScopeCompany:
		// Everyone: inactive since a century from now. (Stores keep times
		// as Unix nanoseconds, which end in 2262.)
		subs, err := s.st.Inactive(ctx, s.now().AddDate(100, 0, 0))
		if err != nil {
			return nil, fmt.Errorf("all subjects: %w", err)
		}
		return subs, nil
	default:
		subs, err := s.st.FindSubjects(ctx, t.ID)
		if err != nil {
			return nil, fmt.Errorf("find subjects: %w", err)
		}
		return subs, nil
	}
}

// askForget starts an erasure: it waits for YES in the same chat, or for a
// second admin for the whole company.
func (s *Service) askForget(ctx context.Context, req bot.CommandRequest, t Target) (bot.Reply, error) {
	if t.Scope == ScopeCompany {
		return s.companyStep(ctx, req, VerbForget)
	}
	subs, err := s.resolve(ctx, req, t)
	if err != nil {
		return bot.Reply{}, s.userErr("forget", err)
	}
	if len(subs) == 0 {
		return s.noMatch(ctx, req, VerbForget, t)
	}
	now := s.now()
	s.mu.Lock()
	s.pending[chatKey{req.Platform, req.Chat, req.Subject.ID}] = pending{scope: t.Scope, subjects: subs, received: s.received(req), expires: now.Add(s.confirm)}
	s.mu.Unlock()
	notes := s.forgetNotes(ctx, subs)
	if t.Scope == ScopeSelf {
		return bot.Reply{Text: fmt.Sprintf("This permanently erases everything we hold about you: your messages, our replies and drafts, your name and numbers. It cannot be undone.%s Reply YES within %s to confirm; anything else cancels.", notes, minutes(s.confirm))}, nil
	}
	return bot.Reply{Text: fmt.Sprintf("This permanently erases %d person(s) and everything held about them.%s Reply YES within %s to confirm; anything else cancels.", len(subs), notes, minutes(s.confirm))}, nil
}

// ForgetNoter is implemented by a Forgetter whose erasure does more than
// delete data (the Teams channel drops an added admin's rights): its notes
// join the erasure's confirmation prompt.
type ForgetNoter interface {
	ForgetNotes(ctx context.Context, ids []bot.Identity) ([]string, error)
}

// forgetNotes collects the Forgetters' notes on erasing subs, each after a
// space; "" when there are none. A note that cannot be had is left out and
// logged.
func (s *Service) forgetNotes(ctx context.Context, subs []bot.SubjectID) string {
	var b strings.Builder
	for _, f := range s.forgetters {
		n, ok := f.(ForgetNoter)
		if !ok {
			continue
		}
		var ids []bot.Identity
		for _, sub := range subs {
			got, err := s.st.Identities(ctx, sub)
			if err != nil {
				s.log.Warn().Err(err).Str("subject", string(sub)).Msg("forget notes: identities")
				continue
			}
			ids = append(ids, got...)
		}
		notes, err := n.ForgetNotes(ctx, ids)
		if err != nil {
			s.log.Warn().Err(err).Msg("forget notes")
			continue
		}
		for _, note := range notes {
			b.WriteString(" " + note)
		}
	}
	return b.String()
}

// noMatch answers an admin whose identifier matched nobody.
func (s *Service) noMatch(ctx context.Context, req bot.CommandRequest, v Verb, t Target) (bot.Reply, error) {
	if err := s.st.Audit(ctx, bot.AuditEntry{At: s.now().UTC(), Actor: req.Subject.ID, Action: string(v), Detail: string(t.Scope) + ": no match"}); err != nil {
		return bot.Reply{}, s.userErr("audit", err)
	}
	return bot.Reply{Text: textNoMatch}, nil
}

// companyStep records the first admin's company-wide request, or runs it
// when a different admin repeats it within the window.
func (s *Service) companyStep(ctx context.Context, req bot.CommandRequest, v Verb) (bot.Reply, error) {
	now := s.now()
	s.mu.Lock()
	cp, ok := s.company[v]
	if ok && now.Before(cp.expires) && cp.by == req.Subject.ID {
		s.mu.Unlock()
		return bot.Reply{Text: s.companyWait()}, nil
	}
	if !ok || !now.Before(cp.expires) {
		s.company[v] = companyPending{by: req.Subject.ID, platform: req.Platform, chat: req.Chat, received: s.received(req), expires: now.Add(s.confirm)}
		s.mu.Unlock()
		if err := s.st.Audit(ctx, bot.AuditEntry{At: now.UTC(), Actor: req.Subject.ID, Action: string(v), Detail: "company: waiting for a second admin"}); err != nil {
			return bot.Reply{}, s.userErr("audit", err)
		}
		return bot.Reply{Text: "This acts on everyone's data: the whole company. " + s.companyWait()}, nil
	}
	delete(s.company, v)
	s.mu.Unlock()

	if err := s.st.Audit(ctx, bot.AuditEntry{At: now.UTC(), Actor: req.Subject.ID, Action: "confirm", Detail: fmt.Sprintf("company %s: second admin confirmed for %s", v, cp.by)}); err != nil {
		return bot.Reply{}, s.userErr("audit", err)
	}
	subs, err := s.resolve(ctx, req, Target{Scope: ScopeCompany})
	if err != nil {
		return bot.Reply{}, s.userErr(string(v), err)
	}
	var reply bot.Reply
	if v == VerbForget {
		reply, err = s.runErase(ctx, cp.by, ScopeCompany, cp.received, subs)
	} else {
		reply, err = s.runExport(ctx, req, cp.by, ScopeCompany, cp.received, subs)
	}
	if err != nil {
		return bot.Reply{}, err
	}
	s.tell(ctx, cp.platform, cp.chat, fmt.Sprintf("A second admin confirmed your company-wide /%s; it is done.", v))
	return reply, nil
}

// companyWait tells an admin a second admin must confirm.
func (s *Service) companyWait() string {
	return fmt.Sprintf("Waiting for a second admin: another admin must send the same command within %s.", minutes(s.confirm))
}

// minutes renders a confirmation window, "10 minutes".
func minutes(d time.Duration) string {
	n := int(d.Round(time.Minute) / time.Minute)
	if n == 1 {
		return "1 minute"
	}
	return fmt.Sprintf("%d minutes", n)
}

// tell sends a notice to another chat, best effort.
func (s *Service) tell(ctx context.Context, p bot.Platform, chat bot.ChatID, text string) {
	ch, ok := s.senders[p]
	if !ok || ch == nil {
		return
	}
	if _, err := ch.Send(ctx, bot.Outbound{Chat: chat, Text: text}); err != nil {
		s.log.Warn().Err(err).Str("platform", string(p)).Msg("notice to first admin not sent")
	}
}

// isYes reports whether text confirms.
func isYes(text string) bool {
	t := strings.TrimRight(strings.TrimSpace(text), ".!")
	return strings.EqualFold(t, "yes") || strings.EqualFold(t, "y")
}

// Intercept consumes the YES that confirms a pending erasure in the same
// chat. Any other text cancels the pending erasure and passes on.
func (s *Service) Intercept(ctx context.Context, req bot.CommandRequest) (bot.Reply, bool, error) {
	key := chatKey{req.Platform, req.Chat, req.Subject.ID}
	now := s.now()
	s.mu.Lock()
	p, ok := s.pending[key]
	if ok {
		delete(s.pending, key)
	}
	s.mu.Unlock()
	if !ok {
		return bot.Reply{}, false, nil
	}
	if !isYes(req.Text) {
		s.log.Info().Str("subject", string(req.Subject.ID)).Msg("erasure not confirmed")
		return bot.Reply{}, false, nil
	}
	if !now.Before(p.expires) {
		return bot.Reply{Text: textExpired}, true, nil
	}
	by := req.Subject.ID
	reply, err := s.runEraseFrom(ctx, by, p.scope, p.received, p.subjects, req.Platform, req.Chat)
	return reply, true, err
}
