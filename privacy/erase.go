package privacy

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/switchboard/switchboard/bot"
)

// runErase registers an erasure, erases each person and closes the
// register entry. The reply goes to the chat the request came from, even
// when the requester erased themself.
func (s *Service) runErase(ctx context.Context, by bot.SubjectID, scope Scope, received time.Time, people []person) (bot.Reply, error) {
	return s.runEraseFrom(ctx, by, scope, received, people, "", "")
}

// runEraseFrom is runErase for a request made in chat on platform. A
// person who erased themself is told there before the channels forget
// them: on WhatsApp, sending re-creates the Signal session and LID-map
// rows that the channel's Forget deletes, so a confirmation sent afterwards
// would leave the person's number in whatsmeow's tables. The reply is then
// empty. If that early send fails, the confirmation comes back as the reply
// as usual, and the channels forget the person again once it is sent.
func (s *Service) runEraseFrom(ctx context.Context, by bot.SubjectID, scope Scope, received time.Time, people []person, platform bot.Platform, chat bot.ChatID) (bot.Reply, error) {
	var announce func(id int64, counts map[string]int) bool
	if ch := s.senders[platform]; scope == ScopeSelf && ch != nil && chat != "" && len(people) == 1 {
		announce = func(id int64, counts map[string]int) bool {
			_, err := ch.Send(ctx, bot.Outbound{Chat: chat, Text: s.selfErasedText(id, counts, s.forgetterPlatforms())})
			if err != nil {
				s.log.Warn().Err(err).Int64("request", id).Msg("erasure confirmation not sent before forgetting; it goes as the reply")
				return false
			}
			return true
		}
	}
	id, counts, announced, err := s.erase(ctx, by, scope, received, people, announce)
	if err != nil {
		if id == 0 {
			return bot.Reply{}, s.userErr("erase", err)
		}
		return bot.Reply{}, &bot.UserError{Code: "privacy-erase", Err: fmt.Errorf("erase request %d: %w", id, err),
			Safe: fmt.Sprintf("The erasure (request #%d) did not fully complete; our staff have been told and will finish it.", id)}
	}
	if announced {
		return bot.Reply{}, nil
	}
	if scope == ScopeSelf {
		return bot.Reply{Text: s.selfErasedText(id, counts, nil)}, nil
	}
	when := s.now().UTC().Format("2 Jan 2006 15:04 MST")
	lines := []string{"Done: erased " + peopleCount(len(people)) + "."}
	lines = append(lines, erasedLines(counts, nil, s.hasForgetter(bot.Teams), "their")...)
	lines = append(lines, fmt.Sprintf("Request #%d, completed %s.", id, when))
	return bot.Reply{Text: strings.Join(lines, "\n")}, nil
}

// peopleCount renders "1 person", "3 people".
func peopleCount(n int) string {
	return plural(n, countWord{"", "person", "people"})
}

// selfErasedText confirms a person's erasure of their own data. pending
// are the platforms whose channels forget the person after it is sent.
func (s *Service) selfErasedText(id int64, counts map[string]int, pending []bot.Platform) string {
	when := s.now().UTC().Format("2 Jan 2006 15:04 MST")
	lines := []string{"Done: we erased your data."}
	lines = append(lines, erasedLines(counts, pending, s.hasForgetter(bot.Teams), "your")...)
	lines = append(lines, fmt.Sprintf("Request #%d, completed %s. If you message us again, that starts a new record.", id, when))
	return s.policyNow().signed(strings.Join(lines, "\n"))
}

// forgetterPlatforms lists the platforms of the forgetters that are
// channels, once each.
func (s *Service) forgetterPlatforms() []bot.Platform {
	var out []bot.Platform
	for _, f := range s.forgetters {
		if pf, ok := f.(interface{ Platform() bot.Platform }); ok && !slices.Contains(out, pf.Platform()) {
			out = append(out, pf.Platform())
		}
	}
	return out
}

// hasForgetter reports whether the channel of platform p forgets people.
func (s *Service) hasForgetter(p bot.Platform) bool {
	return slices.Contains(s.forgetterPlatforms(), p)
}

// countingForgetter is a bot.Forgetter that also says how many records it
// removed (the WhatsApp channel), so the confirmation can name them.
type countingForgetter interface {
	Platform() bot.Platform
	ForgetCounted(ctx context.Context, subject bot.SubjectID, ids []bot.Identity) (int, error)
}

// forgotten is one erased subject with the identities its forgetters are
// given and the id of its forget record.
type forgotten struct {
	subject bot.SubjectID
	ids     []bot.Identity
	record  string
}

// erase is the one erasure path (commands and retention). It returns the
// register id, the rows removed per table (and per channel,
// "<platform>_records") and whether announce sent the confirmation. In
// order: every subject's rows and key go, each subject in its own
// transaction, which also records the forget its channels owe (see
// forgets.go); then announce (if not nil, for a single person) is called
// with the counts so far; then every channel forgets every subject, with
// all the identities known for its person, and each subject's forget
// record is completed, or kept for what failed; then the WAL is
// checkpointed. If announce did not send the confirmation, the records are
// kept and every channel forgets the subjects again after it (see
// forgetLater). A failure on one subject does not stop the others; the
// register entry is then "failed".
func (s *Service) erase(ctx context.Context, by bot.SubjectID, scope Scope, received time.Time, people []person, announce func(id int64, counts map[string]int) bool) (id int64, total map[string]int, announced bool, err error) {
	r := bot.Request{Kind: bot.RequestErase, Scope: string(scope), Received: received, Due: bot.DueDate(received), RequestedBy: by, Status: "open"}
	id, err = s.st.CreateRequest(ctx, r)
	if err != nil {
		return 0, nil, false, fmt.Errorf("create request: %w", err)
	}
	total = map[string]int{}
	var errs []error
	perSubject := map[bot.SubjectID]map[string]int{}
	failed := map[bot.SubjectID]bool{}
	var erased []forgotten
	for _, p := range people {
		for _, sub := range p.subjects {
			e, counts, err := s.deleteSubject(ctx, sub, p.ids)
			if err != nil {
				// A forget record written before the failure waits for
				// Run's sweep (it is due at once).
				errs = append(errs, err)
				failed[sub] = true
				continue
			}
			perSubject[sub] = counts
			add(total, counts)
			erased = append(erased, e)
		}
	}
	if announce != nil && len(people) == 1 {
		announced = announce(id, total)
	}
	again := announce != nil && !announced
	var later []string
	for _, e := range erased {
		counts, left, _, err := s.forget(ctx, e.subject, e.ids, s.fnames)
		add(total, counts)
		add(perSubject[e.subject], counts)
		if err != nil {
			errs = append(errs, err)
			failed[e.subject] = true
		}
		if again {
			if uerr := s.st.UpdateForget(ctx, e.record, s.fnames, s.now().UTC().Add(s.reforget)); uerr != nil {
				errs = append(errs, fmt.Errorf("forget again of %s: %w", e.subject, uerr))
			}
			later = append(later, e.record)
		} else if _, serr := s.settleForget(ctx, bot.PendingForget{ID: e.record, Subject: e.subject, Created: s.now().UTC()}, left); serr != nil {
			errs = append(errs, serr)
		}
		s.mu.Lock()
		delete(s.erasing, e.subject)
		s.mu.Unlock()
		s.dropState(e.subject)
	}
	s.forgetLater(later)
	if len(erased) > 0 {
		if err := s.st.Checkpoint(ctx); err != nil {
			errs = append(errs, fmt.Errorf("checkpoint: %w", err))
		}
	}
	for _, sub := range subjectsOf(people) {
		outcome := "erased"
		if failed[sub] {
			outcome = "failed"
		}
		detail := fmt.Sprintf("request %d %s: %s", id, outcome, countsText(perSubject[sub]))
		if aerr := s.st.Audit(ctx, bot.AuditEntry{At: s.now().UTC(), Actor: by, Action: "erase", Subject: sub, Detail: detail}); aerr != nil {
			errs = append(errs, fmt.Errorf("audit: %w", aerr))
		}
		s.log.Info().Int64("request", id).Str("subject", string(sub)).Str("actor", string(by)).Str("outcome", outcome).Msg("subject erased")
	}
	status := "done"
	if len(errs) > 0 {
		status = "failed"
	}
	if err := s.st.CompleteRequest(ctx, id, status, total, s.now().UTC()); err != nil {
		errs = append(errs, fmt.Errorf("complete request: %w", err))
	}
	return id, total, announced, errors.Join(errs...)
}

// add adds counts to total.
func add(total, counts map[string]int) {
	if total == nil {
		return
	}
	for k, n := range counts {
		total[k] += n
	}
}

// deleteSubject captures the subject's identities (with extra, its
// person's others) and cards, then deletes its rows and key and records
// the forget its channels owe, with every forgetter's name. The cards stay
// in s.erasing for the Teams forgetter until erase is done with the
// subject; while they do, Run's sweep leaves the record to erase. A
// subject already gone counts as erased with nothing.
func (s *Service) deleteSubject(ctx context.Context, sub bot.SubjectID, extra []bot.Identity) (forgotten, map[string]int, error) {
	own, err := s.st.Identities(ctx, sub)
	if err != nil && !errors.Is(err, bot.ErrNotFound) {
		return forgotten{}, nil, fmt.Errorf("identities of %s: %w", sub, err)
	}
	ids := slices.Clone(own)
	for _, id := range extra {
		if !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	cards, err := s.st.CardsOf(ctx, sub)
	if err != nil {
		return forgotten{}, nil, fmt.Errorf("cards of %s: %w", sub, err)
	}
	s.mu.Lock()
	s.erasing[sub] = cards
	s.mu.Unlock()
	record, counts, err := s.st.EraseSubject(ctx, sub, ids, s.fnames)
	if err != nil && !errors.Is(err, bot.ErrNotFound) {
		s.mu.Lock()
		delete(s.erasing, sub)
		s.mu.Unlock()
		return forgotten{}, nil, fmt.Errorf("delete subject %s: %w", sub, err)
	}
	if counts == nil {
		counts = map[string]int{}
	}
	return forgotten{subject: sub, ids: ids, record: record}, counts, nil
}

// dropState forgets in-memory state about an erased subject, including
// export files not yet downloaded.
func (s *Service) dropState(sub bot.SubjectID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.lastExport, sub)
	for k := range s.pending {
		if k.subject == sub {
			delete(s.pending, k)
		}
	}
	for k, l := range s.links {
		if slices.Contains(l.subjects, sub) {
			delete(s.links, k)
			s.removeFile(l.path)
		}
	}
}

// Purge erases, through the same path as /forget, every customer whose
// last message to us (not our last reply) is older than the retention period (Policy.RetentionMonths
// calendar months before now), and removes expired export files. Staff and
// admins are kept. Run it daily.
func (s *Service) Purge(ctx context.Context, now time.Time) error {
	s.sweep(now)
	cutoff := bot.AddMonths(now.UTC(), -s.policy.RetentionMonths)
	subs, err := s.st.Inactive(ctx, cutoff)
	if err != nil {
		return fmt.Errorf("purge: inactive: %w", err)
	}
	var victims []bot.SubjectID
	for _, sub := range subs {
		subj, err := s.st.FindSubject(ctx, sub)
		if errors.Is(err, bot.ErrNotFound) {
			continue
		}
		if err != nil {
			return fmt.Errorf("purge: find %s: %w", sub, err)
		}
		if subj.Role == bot.RoleCustomer || subj.Role == "" {
			victims = append(victims, sub)
		}
	}
	if len(victims) == 0 {
		return nil
	}
	// A person is erased only when every record of theirs is past the
	// period: a LID that fell silent while the same person writes from
	// their number is kept.
	expired := map[bot.SubjectID]bool{}
	for _, v := range victims {
		expired[v] = true
	}
	people, err := s.resolvePeople(ctx, victims)
	if err != nil {
		return fmt.Errorf("purge: %w", err)
	}
	people = slices.DeleteFunc(people, func(p person) bool {
		for _, sub := range p.subjects {
			if !expired[sub] {
				s.log.Info().Int("subjects", len(p.subjects)).Msg("retention: kept a record linked to a person still writing")
				return true
			}
		}
		return false
	})
	if len(people) == 0 {
		return nil
	}
	id, counts, _, err := s.erase(ctx, "", ScopeRetention, now.UTC(), people, nil)
	s.log.Info().Int64("request", id).Int("subjects", len(subjectsOf(people))).Int("messages", counts["messages"]).Msg("retention purge")
	if err != nil {
		return fmt.Errorf("purge: %w", err)
	}
	return nil
}

// ReminderText renders reminders for the admins (Notifier.Alert): ids,
// kinds, scopes and due dates only, no personal data. Empty for none.
func ReminderText(reqs []bot.Request, now time.Time) string {
	if len(reqs) == 0 {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Data-rights requests due within 7 days (%d):", len(reqs))
	for _, r := range reqs {
		fmt.Fprintf(&b, "\n#%d %s (%s) due %s", r.ID, r.Kind, r.Scope, r.Due.UTC().Format("Mon 2 Jan 2006"))
		if r.Due.Before(now) {
			b.WriteString(" OVERDUE")
		}
	}
	b.WriteString("\nSend /requests for the full list.")
	return b.String()
}

// Reminders returns the open requests due within 7 days of now (or
// overdue), soonest first, for a reminder to the admins.
func (s *Service) Reminders(ctx context.Context, now time.Time) ([]bot.Request, error) {
	open, err := s.st.OpenRequests(ctx)
	if err != nil {
		return nil, fmt.Errorf("reminders: %w", err)
	}
	limit := now.Add(7 * 24 * time.Hour)
	var due []bot.Request
	for _, r := range open {
		if !r.Due.After(limit) {
			due = append(due, r)
		}
	}
	sort.Slice(due, func(i, j int) bool { return due[i].Due.Before(due[j].Due) })
	return due, nil
}

// CardIndex finds the staff cards posted about a subject.
type CardIndex interface {
	// CardsOf returns the cards posted about subject; none is not an error.
	CardsOf(ctx context.Context, subject bot.SubjectID) ([]bot.CardRef, error)
}

// Cards is the card index to give a channel whose Forget hook deletes
// posted cards (the Teams channel's Options.Cards). Erasure deletes the
// store's card rows before it calls the hooks, so while a subject is being
// erased this index answers with the cards captured just before; otherwise
// it asks the store.
func (s *Service) Cards() CardIndex { return cardIndex{s} }

type cardIndex struct{ s *Service }

func (c cardIndex) CardsOf(ctx context.Context, sub bot.SubjectID) ([]bot.CardRef, error) {
	c.s.mu.Lock()
	refs, ok := c.s.erasing[sub]
	c.s.mu.Unlock()
	if ok {
		return slices.Clone(refs), nil
	}
	refs, err := c.s.st.CardsOf(ctx, sub)
	if err != nil {
		return nil, fmt.Errorf("cards of %s: %w", sub, err)
	}
	return refs, nil
}
