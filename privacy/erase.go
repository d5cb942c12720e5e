package privacy

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/switchboard/switchboard/bot"
)

// runErase registers an erasure, erases each subject and closes the
// register entry. The reply goes to the chat the request came from, even
// when the requester erased themself.
func (s *Service) runErase(ctx context.Context, by bot.SubjectID, scope Scope, received time.Time, subjects []bot.SubjectID) (bot.Reply, error) {
	return s.runEraseFrom(ctx, by, scope, received, subjects, "", "")
}

// runEraseFrom is runErase for a request made in chat on platform. A
// person who erased themself is told there before the channels forget
// them: on WhatsApp, sending re-creates the Signal session and LID-map
// rows that the channel's Forget deletes, so a confirmation sent afterwards
// would leave the person's number in whatsmeow's tables. The reply is then
// empty. If that early send fails, the confirmation comes back as the reply
// as usual.
func (s *Service) runEraseFrom(ctx context.Context, by bot.SubjectID, scope Scope, received time.Time, subjects []bot.SubjectID, platform bot.Platform, chat bot.ChatID) (bot.Reply, error) {
	var announce func(id int64, counts map[string]int) bool
	if ch := s.senders[platform]; scope == ScopeSelf && ch != nil && chat != "" {
		announce = func(id int64, counts map[string]int) bool {
			_, err := ch.Send(ctx, bot.Outbound{Chat: chat, Text: s.selfErasedText(id, counts)})
			if err != nil {
				s.log.Warn().Err(err).Int64("request", id).Msg("erasure confirmation not sent before forgetting; it goes as the reply")
				return false
			}
			return true
		}
	}
	var ids []bot.Identity
	if announce != nil && len(subjects) == 1 {
		var err error
		if ids, err = s.st.Identities(ctx, subjects[0]); err != nil && !errors.Is(err, bot.ErrNotFound) {
			return bot.Reply{}, s.userErr("erase", err)
		}
	}
	id, counts, announced, err := s.erase(ctx, by, scope, received, subjects, announce)
	if announce != nil && !announced && len(ids) > 0 {
		s.forgetLater(subjects[0], ids)
	}
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
		return bot.Reply{Text: s.selfErasedText(id, counts)}, nil
	}
	when := s.now().UTC().Format("2 Jan 2006 15:04 MST")
	return bot.Reply{Text: fmt.Sprintf("Done: erased %d person(s) (%s). Request #%d, completed %s.", len(subjects), countsText(counts), id, when)}, nil
}

// forgetLater runs the channels' forgetters for an erased subject again
// once the fallback confirmation (the command's reply) has gone out, since
// sending re-creates rows such as whatsmeow's Signal session. The
// identities stay in memory until then, and are lost if the process stops
// first.
func (s *Service) forgetLater(sub bot.SubjectID, ids []bot.Identity) {
	time.AfterFunc(s.reforget, func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		for i, f := range s.forgetters {
			if err := f.Forget(ctx, sub, ids); err != nil {
				s.log.Warn().Err(err).Int("forgetter", i).Str("subject", string(sub)).Msg("second forget after the confirmation failed")
			}
		}
		s.log.Info().Str("subject", string(sub)).Msg("channels forgot the subject again after the confirmation")
	})
}

// selfErasedText confirms a person's erasure of their own data.
func (s *Service) selfErasedText(id int64, counts map[string]int) string {
	when := s.now().UTC().Format("2 Jan 2006 15:04 MST")
	return s.policyNow().signed(fmt.Sprintf("Done: we erased your data (%s). Request #%d, completed %s. If you message us again, that starts a new record.", countsText(counts), id, when))
}

// countsText renders row counts, "3 messages, 1 drafts", sorted by name.
func countsText(c map[string]int) string {
	keys := slices.Sorted(maps.Keys(c))
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		if c[k] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", c[k], k))
		}
	}
	if len(parts) == 0 {
		return "nothing was stored"
	}
	return strings.Join(parts, ", ")
}

// erase is the one erasure path (commands and retention). It returns the
// register id and the rows removed per table. A failure on one subject
// does not stop the others; the register entry is then "failed". If
// announce is not nil, it is called once our rows of a single subject are
// gone and before the channels forget them; announced reports whether it
// returned true.
func (s *Service) erase(ctx context.Context, by bot.SubjectID, scope Scope, received time.Time, subjects []bot.SubjectID, announce func(id int64, counts map[string]int) bool) (id int64, total map[string]int, announced bool, err error) {
	r := bot.Request{Kind: bot.RequestErase, Scope: string(scope), Received: received, Due: bot.DueDate(received), RequestedBy: by, Status: "open"}
	id, err = s.st.CreateRequest(ctx, r)
	if err != nil {
		return 0, nil, false, fmt.Errorf("create request: %w", err)
	}
	total = map[string]int{}
	var errs []error
	var before func(map[string]int)
	if announce != nil && len(subjects) == 1 {
		before = func(counts map[string]int) { announced = announce(id, counts) }
	}
	for _, sub := range subjects {
		counts, err := s.eraseSubject(ctx, sub, before)
		for k, n := range counts {
			total[k] += n
		}
		outcome := "erased"
		if err != nil {
			errs = append(errs, err)
			outcome = "failed"
		}
		detail := fmt.Sprintf("request %d %s: %s", id, outcome, countsText(counts))
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

// eraseSubject deletes the subject's rows and key, calls before (if not
// nil) with the counts, calls every forgetter with the identities it had
// (and, through Cards, the cards it had), and checkpoints. A subject
// already gone counts as erased.
func (s *Service) eraseSubject(ctx context.Context, sub bot.SubjectID, before func(map[string]int)) (map[string]int, error) {
	ids, err := s.st.Identities(ctx, sub)
	if err != nil && !errors.Is(err, bot.ErrNotFound) {
		return nil, fmt.Errorf("identities of %s: %w", sub, err)
	}
	cards, err := s.st.CardsOf(ctx, sub)
	if err != nil {
		return nil, fmt.Errorf("cards of %s: %w", sub, err)
	}
	s.mu.Lock()
	s.erasing[sub] = cards
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.erasing, sub)
		s.mu.Unlock()
	}()
	counts, err := s.st.DeleteSubject(ctx, sub)
	if err != nil && !errors.Is(err, bot.ErrNotFound) {
		return nil, fmt.Errorf("delete subject %s: %w", sub, err)
	}
	if before != nil {
		before(counts)
	}
	var errs []error
	for i, f := range s.forgetters {
		if err := f.Forget(ctx, sub, ids); err != nil {
			errs = append(errs, fmt.Errorf("forgetter %d for %s: %w", i, sub, err))
		}
	}
	if err := s.st.Checkpoint(ctx); err != nil {
		errs = append(errs, fmt.Errorf("checkpoint: %w", err))
	}
	s.dropState(sub)
	return counts, errors.Join(errs...)
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
// last message is older than the retention period (Policy.RetentionMonths
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
	id, counts, _, err := s.erase(ctx, "", ScopeRetention, now.UTC(), victims, nil)
	s.log.Info().Int64("request", id).Int("subjects", len(victims)).Int("messages", counts["messages"]).Msg("retention purge")
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
