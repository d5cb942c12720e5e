package privacy

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/switchboard/switchboard/bot"
)

// Forgets that outlive a failure or a restart.
//
// An erasure hands each erased subject's identities to every forgetter
// (the channels' own data about the person) after the store's rows are
// gone. The store records those identities, sealed, with the names of the
// forgetters owed, in the transaction that deletes the rows (EraseSubject),
// so they are not lost when the process stops before or while the
// forgetters run. A record is completed (row and key destroyed) once every
// forgetter it owes has succeeded; until then:
//
//   - a forgetter that failed is tried again while the process runs, on
//     Run's sweep, after a backoff that doubles with the record's age (from
//     ForgetRetry up to an hour);
//   - the second forget after a fallback confirmation (see forgetLater) is
//     recorded as owed to every forgetter, due ReforgetAfter later;
//   - at start-up (Run) every record is tried at once, whatever its due
//     time; one owed to a forgetter this process does not have (its channel
//     is not configured at this start) keeps that name, and a log line says
//     so, until a start that has it. The others in the record run and are
//     not owed again.

// ForgetterNamer is implemented by a Forgetter with a stable name of its
// own ("whatsapp-linked", "whatsapp-cloud", "teams"), the name forget
// records keep of the forgetters they owe. A forgetter without one is named
// by its Platform, else by its position ("forgetter-1"); a name already
// taken gets "#<position>" appended.
type ForgetterNamer interface {
	ForgetterName() string
}

// forgetterNames names the forgetters, as ForgetterNamer says.
func forgetterNames(fs []bot.Forgetter) []string {
	names := make([]string, len(fs))
	for i, f := range fs {
		var n string
		switch v := f.(type) {
		case ForgetterNamer:
			n = v.ForgetterName()
		case interface{ Platform() bot.Platform }:
			n = string(v.Platform())
		}
		if n == "" {
			n = "forgetter-" + strconv.Itoa(i)
		}
		if slices.Contains(names[:i], n) {
			n += "#" + strconv.Itoa(i)
		}
		names[i] = n
	}
	return names
}

// retryAt is when a record created at created is next tried after a
// failure at now: after as long as it has been pending, within ForgetRetry
// and ForgetRetryMax.
func (s *Service) retryAt(now, created time.Time) time.Time {
	d := now.Sub(created)
	d = max(d, s.retry)
	d = min(d, max(s.retryMax, s.retry))
	return now.Add(d)
}

// forget calls the forgetters named owed for an erased subject. It returns
// what the counting ones removed, per platform ("<platform>_records"), the
// names of those that failed, the names owed that no forgetter of this
// process has, and the failures joined.
func (s *Service) forget(ctx context.Context, sub bot.SubjectID, ids []bot.Identity, owed []string) (counts map[string]int, failed, absent []string, err error) {
	counts = map[string]int{}
	var errs []error
	for _, name := range owed {
		i := slices.Index(s.fnames, name)
		if i < 0 {
			absent = append(absent, name)
			continue
		}
		f := s.forgetters[i]
		var ferr error
		if cf, ok := f.(countingForgetter); ok {
			var n int
			n, ferr = cf.ForgetCounted(ctx, sub, ids)
			counts[string(cf.Platform())+recordsSuffix] += n
		} else {
			ferr = f.Forget(ctx, sub, ids)
		}
		if ferr != nil {
			failed = append(failed, name)
			errs = append(errs, fmt.Errorf("forgetter %s for %s: %w", name, sub, ferr))
		}
	}
	return counts, failed, absent, errors.Join(errs...)
}

// settleForget records what a round of forgetters left of record pf: none, and
// the record is completed; else what is left, tried again after the
// backoff. It reports whether the record was completed.
func (s *Service) settleForget(ctx context.Context, pf bot.PendingForget, left []string) (bool, error) {
	if len(left) == 0 {
		if err := s.st.CompleteForget(ctx, pf.ID); err != nil {
			return false, fmt.Errorf("complete forget of %s: %w", pf.Subject, err)
		}
		return true, nil
	}
	now := s.now().UTC()
	if err := s.st.UpdateForget(ctx, pf.ID, left, s.retryAt(now, pf.Created)); err != nil {
		return false, fmt.Errorf("update forget of %s: %w", pf.Subject, err)
	}
	return false, nil
}

// claimForget marks record pf as being run by the caller, unless it is already,
// or its subject is being erased (that erasure runs it).
func (s *Service) claimForget(pf bot.PendingForget) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, erasing := s.erasing[pf.Subject]; erasing || s.inflight[pf.ID] {
		return false
	}
	s.inflight[pf.ID] = true
	return true
}

// releaseForget ends claimForget.
func (s *Service) releaseForget(pf bot.PendingForget) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.inflight, pf.ID)
}

// Why runPending runs.
const (
	runStartup = "start-up"
	runRetry   = "retry"
	runAgain   = "after the confirmation"
)

// runPending runs the forgetters still owed by the pending forget records
// pick chooses, one record at a time, and settles each; then, if any was
// completed, checkpoints. It logs, by subject id only, each failure, each
// forgetter owed that this process does not have (at start-up), and each
// record completed.
func (s *Service) runPending(ctx context.Context, why string, pick func(bot.PendingForget) bool) {
	pfs, err := s.st.PendingForgets(ctx)
	if err != nil {
		s.log.Warn().Err(err).Str("run", why).Msg("pending forgets unreadable; tried again later")
		return
	}
	completed := 0
	for _, pf := range pfs {
		if !pick(pf) || !s.claimForget(pf) {
			continue
		}
		_, failed, absent, ferr := s.forget(ctx, pf.Subject, pf.Identities, pf.Owed)
		if ferr != nil {
			s.log.Warn().Err(ferr).Str("subject", string(pf.Subject)).Strs("forgetters", failed).Str("run", why).Msg("forget failed; retried later")
		}
		if why == runStartup {
			for _, name := range absent {
				s.log.Warn().Str("subject", string(pf.Subject)).Str("forgetter", name).
					Msg("an erased subject is still owed a forget by a channel not configured at this start; kept until a start that has it")
			}
		}
		done, err := s.settleForget(ctx, pf, append(failed, absent...))
		s.releaseForget(pf)
		if err != nil {
			s.log.Warn().Err(err).Str("subject", string(pf.Subject)).Str("run", why).Msg("forget record not settled; tried again later")
			continue
		}
		if done {
			completed++
			s.log.Info().Str("subject", string(pf.Subject)).Str("run", why).Msg("channels forgot an erased subject")
		}
	}
	if completed > 0 {
		if err := s.st.Checkpoint(ctx); err != nil {
			s.log.Warn().Err(err).Msg("checkpoint after completing forgets")
		}
	}
}

// resumeForgets runs every pending forget at once (Run, at start-up: the
// channels exist by then).
func (s *Service) resumeForgets(ctx context.Context) {
	s.runPending(ctx, runStartup, func(bot.PendingForget) bool { return true })
}

// retryForgets runs the pending forgets due by now that owe a forgetter
// this process has (Run's sweep).
func (s *Service) retryForgets(ctx context.Context, now time.Time) {
	s.runPending(ctx, runRetry, func(pf bot.PendingForget) bool {
		if pf.Due.After(now) {
			return false
		}
		return slices.ContainsFunc(pf.Owed, func(n string) bool { return slices.Contains(s.fnames, n) })
	})
}

// forgetLater runs the forget records ids again ReforgetAfter from now,
// once the fallback confirmation (the command's reply) has gone out, since
// sending re-creates rows such as whatsmeow's Signal session. The records
// say so (every forgetter owed again), so a restart before then runs them
// at start-up instead.
func (s *Service) forgetLater(ids []string) {
	if len(ids) == 0 {
		return
	}
	time.AfterFunc(s.reforget, func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		s.runPending(ctx, runAgain, func(pf bot.PendingForget) bool { return slices.Contains(ids, pf.ID) })
	})
}
