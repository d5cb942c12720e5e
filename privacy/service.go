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
	// store's rows are gone, with the identities captured before, which the
	// store keeps sealed until every forgetter has succeeded: a failed one
	// is retried, also after a restart (see forgets.go, ForgetterNamer).
	// One that also has Platform and ForgetCounted (the WhatsApp channel)
	// has its count named in the confirmation.
	Forgetters []bot.Forgetter
	// Resolvers are the channels' own maps of a person's identities
	// (whatsmeow's LID map, the Cloud API's user ids). Erasure and export
	// ask them for a person's other identities and take every subject those
	// name: one person, first seen under a LID and later under a phone
	// number, is two subjects until a message carries both.
	Resolvers []bot.IdentityResolver
	// AdminHelp are lines /help adds to its Admin section for admins
	// (commands served in front of this service, such as /profile).
	AdminHelp []string
	// Senders are the channels by platform. Exports go through the
	// channel of the chat they were asked in, so the service knows what
	// arrived (see exportsend.go): whole where its Capabilities take the
	// file, else as a link, else in parts; where it takes no file at all
	// and no link is possible, /export says so before doing anything. A
	// platform without one gets its export as the command's reply, as a
	// file, and counts as delivered. They also reach other chats: the
	// first admin of a two-admin "company" request is told when a second
	// admin confirmed it. If nil, that notice is skipped.
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
	// other than WhatsApp are then sent as a one-time link, and on WhatsApp
	// those the channel cannot take as a file (a ZIP on the Cloud API); if
	// empty, exports are sent as files, in parts where the whole cannot go.
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
	// LinkTTL is how long an export link works; its file is deleted when
	// it ends, by a timer. If 0, 24 hours.
	LinkTTL time.Duration
	// SweepEvery is how often Run drops expired confirmations, links and
	// rate-limit entries. If 0, one minute.
	SweepEvery time.Duration
	// ReforgetAfter is how long after a self-erasure whose confirmation had
	// to go as the command's reply (sending it early failed) the channels
	// forget the person again, since sending re-creates their rows. If 0,
	// 30 seconds.
	ReforgetAfter time.Duration
	// ForgetRetry is the least time before a forgetter that failed is
	// tried again; later tries wait as long as the erasure has been
	// pending, up to ForgetRetryMax (or ForgetRetry, if longer). Run's
	// sweep (SweepEvery) does the retrying; every pending forget is also
	// tried when Run starts (see forgets.go). If 0, one minute.
	ForgetRetry time.Duration
	// ForgetRetryMax bounds the wait between tries of a failed forgetter.
	// If 0, one hour.
	ForgetRetryMax time.Duration
}

// Service is the privacy engine. It satisfies bot.Commands. Its methods may
// be called from several goroutines.
type Service struct {
	log        zerolog.Logger
	st         Store
	forgetters []bot.Forgetter
	fnames     []string // the forgetters' names, by position (forgetterNames)
	resolvers  []bot.IdentityResolver
	adminHelp  []string
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
	retry      time.Duration
	retryMax   time.Duration
	sweepEvery time.Duration

	mu         sync.Mutex
	pending    map[chatKey]pending
	company    map[Verb]companyPending
	lastExport map[bot.SubjectID]time.Time
	links      map[[32]byte]link
	// erasing holds, per subject being erased, its cards as they were
	// before the rows went, for the channels' Forget hooks (see Cards).
	erasing map[bot.SubjectID][]bot.CardRef
	// inflight holds the forget records being run outside erase (start-up,
	// retries, the second forget), so none runs twice at once.
	inflight map[string]bool

	// fmu guards files, the export files this process wrote and has not
	// removed; every other export file in the directory is a leftover.
	// It is never held while taking mu.
	fmu   sync.Mutex
	files map[string]bool
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
	people   []person
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
	for i, r := range opts.Resolvers {
		if r == nil {
			return nil, fmt.Errorf("privacy: Resolvers[%d] is nil", i)
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
	if opts.SweepEvery == 0 {
		opts.SweepEvery = time.Minute
	}
	if opts.ForgetRetry == 0 {
		opts.ForgetRetry = time.Minute
	}
	if opts.ForgetRetryMax == 0 {
		opts.ForgetRetryMax = time.Hour
	}
	if opts.ConfirmWindow < 0 || opts.ExportEvery < 0 || opts.LinkTTL < 0 || opts.ReforgetAfter < 0 || opts.SweepEvery < 0 || opts.ForgetRetry < 0 || opts.ForgetRetryMax < 0 {
		return nil, errors.New("privacy: durations must not be negative")
	}
	return &Service{
		log:        opts.Log,
		st:         opts.Store,
		forgetters: opts.Forgetters,
		fnames:     forgetterNames(opts.Forgetters),
		resolvers:  opts.Resolvers,
		adminHelp:  opts.AdminHelp,
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
		retry:      opts.ForgetRetry,
		retryMax:   opts.ForgetRetryMax,
		sweepEvery: opts.SweepEvery,
		pending:    map[chatKey]pending{},
		company:    map[Verb]companyPending{},
		lastExport: map[bot.SubjectID]time.Time{},
		links:      map[[32]byte]link{},
		erasing:    map[bot.SubjectID][]bot.CardRef{},
		inflight:   map[string]bool{},
		files:      map[string]bool{},
	}, nil
}

// Texts shown to people.
const (
	textGroup     = "For your privacy I only do this in a one-to-one chat. Please message us directly."
	textOthers    = "You can only ask about your own data: type /export or /forget me."
	textAdminOnly = bot.ReplyAdminOnly
	textNoMatch   = "No one is known by that identifier; nothing was done."
	textTryLater  = bot.ReplyTryLater
	textExpired   = "That confirmation expired, so nothing was erased. Send the command again to start over."
	textCancelled = "Cancelled: nothing was erased."
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
		return bot.Reply{Text: Help(req.Subject.Role, s.adminHelp...)}, nil
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

// resolve finds the people a target names: for ScopeSelf the requester,
// with every record the system links to them; for an identifier, whoever it
// names, directly or through the channels' maps; for a tenant, each of its
// subjects with theirs; for the company, everyone, one subject each.
func (s *Service) resolve(ctx context.Context, req bot.CommandRequest, t Target) ([]person, error) {
	switch t.Scope {
	case ScopeSelf:
		p, err := s.resolvePerson(ctx, []bot.SubjectID{req.Subject.ID}, nil)
		if err != nil {
			return nil, err
		}
		return []person{p}, nil
	case ScopeCompany:
		// Everyone: inactive since a century from now. (Stores keep times
		// as Unix nanoseconds, which end in 2262.)
		subs, err := s.st.Inactive(ctx, s.now().AddDate(100, 0, 0))
		if err != nil {
			return nil, fmt.Errorf("all subjects: %w", err)
		}
		return singletons(subs), nil
	}
	subs, err := s.st.FindSubjects(ctx, t.ID)
	if err != nil {
		return nil, fmt.Errorf("find subjects: %w", err)
	}
	if t.Scope == ScopeTenant {
		return s.resolvePeople(ctx, subs)
	}
	p, err := s.resolvePerson(ctx, subs, []bot.Identity{t.ID})
	if err != nil {
		return nil, err
	}
	if len(p.subjects) == 0 {
		return nil, nil
	}
	return []person{p}, nil
}

// askForget starts an erasure: it waits for YES in the same chat, or for a
// second admin for the whole company.
func (s *Service) askForget(ctx context.Context, req bot.CommandRequest, t Target) (bot.Reply, error) {
	if t.Scope == ScopeCompany {
		return s.companyStep(ctx, req, VerbForget)
	}
	people, err := s.resolve(ctx, req, t)
	if err != nil {
		return bot.Reply{}, s.userErr("forget", err)
	}
	if len(people) == 0 {
		return s.noMatch(ctx, req, VerbForget, t)
	}
	text, err := s.forgetPrompt(ctx, req, t.Scope, people)
	if err != nil {
		return bot.Reply{}, s.userErr("forget", err)
	}
	rec := s.received(req)
	s.mu.Lock()
	s.pending[chatKey{req.Platform, req.Chat, req.Subject.ID}] = pending{scope: t.Scope, people: people, received: rec, expires: rec.Add(s.confirm)}
	s.mu.Unlock()
	return bot.Reply{Text: text}, nil
}

// maxPromptPeople bounds the people a YES prompt lists one by one.
const maxPromptPeople = 10

// forgetPrompt says what an erasure will remove, so a mistyped target is
// caught before YES: for an admin's target the masked number or id, the
// role and the counts of each person; for oneself the counts.
func (s *Service) forgetPrompt(ctx context.Context, req bot.CommandRequest, scope Scope, people []person) (string, error) {
	type summary struct {
		counts map[string]int
		role   bot.Role
		admins int
	}
	sums := make([]summary, len(people))
	admins, self := 0, false
	for i, p := range people {
		sums[i].counts = map[string]int{}
		for _, sub := range p.subjects {
			c, err := s.st.CountSubject(ctx, sub)
			if err != nil {
				return "", fmt.Errorf("count subject: %w", err)
			}
			add(sums[i].counts, c)
			subj, err := s.st.FindSubject(ctx, sub)
			if errors.Is(err, bot.ErrNotFound) {
				continue
			}
			if err != nil {
				return "", fmt.Errorf("find subject: %w", err)
			}
			if roleRank(subj.Role) > roleRank(sums[i].role) {
				sums[i].role = subj.Role
			}
			if subj.Role == bot.RoleAdmin {
				sums[i].admins++
			}
			self = self || sub == req.Subject.ID
		}
		if sums[i].admins > 0 {
			admins++
		}
	}
	var ids []bot.Identity
	for _, p := range people {
		ids = append(ids, p.ids...)
	}
	notes := s.forgetNotes(ctx, ids)
	confirm := fmt.Sprintf("It cannot be undone. Reply YES within %s to confirm, or NO to cancel.", duration(s.confirm))
	if scope == ScopeSelf {
		what := listWords(sums[0].counts, dbWords[:2])
		if sums[0].counts["messages"] > 0 {
			what[0] += " (yours and our replies)"
		}
		what = append(what, "your name and your numbers")
		lines := []string{"This permanently erases everything we hold about you: " + strings.Join(what, ", ") + "."}
		if n := len(people[0].subjects); n > 1 {
			lines = append(lines, fmt.Sprintf("That includes %d records our WhatsApp connection links to you.", n))
		}
		if admins > 0 {
			lines = append(lines, "This also removes you as an admin.")
		}
		lines = append(lines, notes...)
		return strings.Join(append(lines, confirm), "\n"), nil
	}
	lines := []string{"This permanently erases " + peopleCount(len(people)) + ":"}
	for i, p := range people {
		if i == maxPromptPeople {
			lines = append(lines, "…and "+peopleCount(len(people)-i)+" more.")
			break
		}
		lines = append(lines, "• "+describe(p, sums[i].role, sums[i].counts))
	}
	switch {
	case self:
		lines = append(lines, "This includes you.")
	case admins == 1:
		lines = append(lines, "This also removes an admin.")
	case admins > 1:
		lines = append(lines, fmt.Sprintf("This also removes %d admins.", admins))
	}
	lines = append(lines, notes...)
	return strings.Join(append(lines, confirm), "\n"), nil
}

// describe is one person in a YES prompt: "+44 7••• ••0987, WhatsApp id
// ••••6789 (customer, 2 records): 5 messages, 1 reply draft".
func describe(p person, role bot.Role, counts map[string]int) string {
	var who []string
	for _, id := range p.ids {
		if id.Kind == bot.IDTenant || len(who) == 3 {
			continue
		}
		who = append(who, maskIdentity(id))
	}
	if len(who) == 0 {
		who = []string{"someone with no identifier left"}
	}
	var what []string
	switch role {
	case bot.RoleAdmin:
		what = append(what, "admin")
	case bot.RoleStaff:
		what = append(what, "staff member")
	default:
		what = append(what, "customer")
	}
	if n := len(p.subjects); n > 1 {
		what = append(what, fmt.Sprintf("%d records", n))
	}
	held := listWords(counts, dbWords[:2])
	if len(held) == 0 {
		held = []string{"no messages"}
	}
	return strings.Join(who, ", ") + " (" + strings.Join(what, ", ") + "): " + strings.Join(held, ", ")
}

// roleRank orders roles: customer < staff < admin.
func roleRank(r bot.Role) int {
	switch r {
	case bot.RoleAdmin:
		return 2
	case bot.RoleStaff:
		return 1
	}
	return 0
}

// ForgetNoter is implemented by a Forgetter whose erasure does more than
// delete data (the Teams channel drops an added admin's rights): its notes
// join the erasure's confirmation prompt.
type ForgetNoter interface {
	ForgetNotes(ctx context.Context, ids []bot.Identity) ([]string, error)
}

// forgetNotes collects the Forgetters' notes on erasing people with ids. A
// note that cannot be had is left out and logged.
func (s *Service) forgetNotes(ctx context.Context, ids []bot.Identity) []string {
	var out []string
	for _, f := range s.forgetters {
		n, ok := f.(ForgetNoter)
		if !ok {
			continue
		}
		notes, err := n.ForgetNotes(ctx, ids)
		if err != nil {
			s.log.Warn().Err(err).Msg("forget notes")
			continue
		}
		out = append(out, notes...)
	}
	return out
}

// noMatch answers an admin whose identifier matched nobody.
func (s *Service) noMatch(ctx context.Context, req bot.CommandRequest, v Verb, t Target) (bot.Reply, error) {
	if err := s.st.Audit(ctx, bot.AuditEntry{At: s.now().UTC(), Actor: req.Subject.ID, Action: string(v), Detail: string(t.Scope) + ": no match"}); err != nil {
		return bot.Reply{}, s.userErr("audit", err)
	}
	return bot.Reply{Text: textNoMatch}, nil
}

// companyStep records the first admin's company-wide request, or runs it
// when a different admin repeats it within the window. The same admin
// repeating it starts the window again, and is told until when.
func (s *Service) companyStep(ctx context.Context, req bot.CommandRequest, v Verb) (bot.Reply, error) {
	now := s.received(req)
	s.mu.Lock()
	cp, ok := s.company[v]
	live := ok && now.Before(cp.expires)
	switch {
	case live && cp.by == req.Subject.ID:
		cp.expires = now.Add(s.confirm)
		s.company[v] = cp
		s.mu.Unlock()
		return bot.Reply{Text: "You asked already. " + s.companyWait(v, cp.expires)}, nil
	case !live:
		cp = companyPending{by: req.Subject.ID, platform: req.Platform, chat: req.Chat, received: now, expires: now.Add(s.confirm)}
		s.company[v] = cp
		s.mu.Unlock()
		if err := s.st.Audit(ctx, bot.AuditEntry{At: now.UTC(), Actor: req.Subject.ID, Action: string(v), Detail: "company: waiting for a second admin"}); err != nil {
			return bot.Reply{}, s.userErr("audit", err)
		}
		return bot.Reply{Text: "This acts on everyone's data: the whole company. " + s.companyWait(v, cp.expires)}, nil
	}
	delete(s.company, v)
	s.mu.Unlock()

	if err := s.st.Audit(ctx, bot.AuditEntry{At: s.now().UTC(), Actor: req.Subject.ID, Action: "confirm", Detail: fmt.Sprintf("company %s: second admin confirmed for %s", v, cp.by)}); err != nil {
		return bot.Reply{}, s.userErr("audit", err)
	}
	people, err := s.resolve(ctx, req, Target{Scope: ScopeCompany})
	if err != nil {
		return bot.Reply{}, s.userErr(string(v), err)
	}
	var reply bot.Reply
	if v == VerbForget {
		reply, err = s.runErase(ctx, cp.by, ScopeCompany, cp.received, people)
	} else {
		reply, err = s.runExport(ctx, req, cp.by, ScopeCompany, cp.received, subjectsOf(people))
	}
	if err != nil {
		return bot.Reply{}, err
	}
	s.tell(ctx, cp.platform, cp.chat, fmt.Sprintf("A second admin confirmed your company-wide /%s; it is done.", v))
	return reply, nil
}

// companyWait tells an admin a second admin must confirm, and by when.
func (s *Service) companyWait(v Verb, until time.Time) string {
	return fmt.Sprintf("Waiting for a second admin: another admin must send /%s company within %s (by %s).",
		v, duration(s.confirm), until.UTC().Format("15:04 MST"))
}

// tell sends a notice to another chat, best effort.
func (s *Service) tell(ctx context.Context, p bot.Platform, chat bot.ChatID, text string) {
	ch, ok := s.senders[p]
	if !ok || ch == nil {
		return
	}
	if _, err := ch.Send(ctx, bot.Outbound{Chat: chat, Text: text}); err != nil {
		s.log.Warn().Err(err).Str("platform", string(p)).Msg("notice not sent")
	}
}

// answer reads a reply to a YES prompt: yes, no, or anything else.
func answer(text string) (yes, no bool) {
	t := strings.ToLower(strings.TrimRight(strings.TrimSpace(text), ".!"))
	switch t {
	case "yes", "y":
		return true, false
	case "no", "n", "nope", "cancel":
		return false, true
	}
	return false, false
}

// Intercept consumes the answer to a pending erasure's YES prompt in the
// same chat: YES erases, NO cancels and says so. Any other text cancels
// too, says so, and passes on to staff.
func (s *Service) Intercept(ctx context.Context, req bot.CommandRequest) (bot.Reply, bool, error) {
	key := chatKey{req.Platform, req.Chat, req.Subject.ID}
	now := s.received(req)
	s.mu.Lock()
	p, ok := s.pending[key]
	if ok {
		delete(s.pending, key)
	}
	s.mu.Unlock()
	if !ok {
		return bot.Reply{}, false, nil
	}
	yes, no := answer(req.Text)
	switch {
	case !now.Before(p.expires):
		if !yes {
			return bot.Reply{}, false, nil // long forgotten: plain text
		}
		return bot.Reply{Text: textExpired}, true, nil
	case no:
		s.log.Info().Str("subject", string(req.Subject.ID)).Msg("erasure cancelled")
		return bot.Reply{Text: textCancelled}, true, nil
	case !yes:
		s.log.Info().Str("subject", string(req.Subject.ID)).Msg("erasure not confirmed")
		s.tell(ctx, req.Platform, req.Chat, textCancelled)
		return bot.Reply{}, false, nil
	}
	people, err := s.again(ctx, p.people)
	if err != nil {
		return bot.Reply{}, true, s.userErr("erase", err)
	}
	reply, err := s.runEraseFrom(ctx, req.Subject.ID, p.scope, p.received, people, req.Platform, req.Chat)
	return reply, true, err
}
