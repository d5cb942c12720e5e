package bot

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rs/zerolog"
)

// outboxBatch is how many due items one query takes.
const outboxBatch = 64

// sendTimeout bounds one send.
const sendTimeout = 30 * time.Second

// wakeOutbox nudges the outbox worker; it never blocks.
func (r *Router) wakeOutbox() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// outboxLoop sends due replies when woken, when a retry falls due and on
// every poll; it also rescans for work left waiting. On stop it makes one
// last pass and returns.
func (r *Router) outboxLoop(ctx context.Context, stop <-chan struct{}) {
	poll := time.NewTicker(pollInterval)
	defer poll.Stop()
	retry := time.NewTimer(time.Hour)
	defer retry.Stop()
	for {
		next := r.outboxPass(ctx)
		if !next.IsZero() {
			retry.Reset(max(0, next.Sub(r.now())))
		}
		select {
		case <-stop:
			r.outboxPass(ctx)
			return
		case <-ctx.Done():
			return
		case <-r.wake:
		case <-retry.C:
		case <-poll.C:
			r.maintain(ctx)
		}
	}
}

// maintain retries what waits for room or for a recovered dependency.
func (r *Router) maintain(ctx context.Context) {
	if r.queue.needsScan() {
		r.rescan(ctx)
	}
	if r.drafting.needsScan() {
		r.rescanDrafting(ctx)
	}
	r.resolveInDoubt(ctx)
	r.processRemovals(ctx)
	r.refreshClosedWindows(ctx)
	r.mu.Lock()
	retry := r.cardRetry && r.notifier != nil && !r.now().Before(r.cardRetryAt)
	r.mu.Unlock()
	if retry {
		r.postUncarded(ctx)
	}
}

// outboxPass sends every due item and returns the earliest retry it
// scheduled within the poll interval (zero if none).
func (r *Router) outboxPass(ctx context.Context) (next time.Time) {
	for ctx.Err() == nil {
		now := r.now()
		items, err := r.store.DueOutbox(ctx, now, outboxBatch)
		if err != nil {
			if ctx.Err() == nil {
				r.metrics.Failure("outbox")
				r.log.Error().Err(err).Msg("list due outbox")
			}
			return next
		}
		if len(items) == 0 {
			return next
		}
		progressed := false
		for _, it := range items {
			if ctx.Err() != nil {
				return next
			}
			at, ok := r.sendItem(ctx, it)
			progressed = progressed || ok
			if !at.IsZero() && at.Sub(now) < pollInterval && (next.IsZero() || at.Before(next)) {
				next = at
			}
		}
		if !progressed {
			return next // the store refuses updates: wait for the next poll
		}
	}
	return next
}

// sendItem sends one outbox item and records the outcome. ok is false if
// the outcome could not be recorded; retryAt is the next attempt if one was
// scheduled.
//
// The item becomes sending (committed) before the channel is called and
// carries its Key, so a crash during the send leaves it in doubt rather
// than pending, and a resend is the same message (resolveInDoubt).
func (r *Router) sendItem(ctx context.Context, it OutboxItem) (retryAt time.Time, ok bool) {
	log := r.log.With().Int64("outbox", it.ID).Int64("draft", it.DraftID).Str("subject", string(it.Subject)).Str("platform", string(it.Platform)).Logger()
	ch := r.channels[it.Platform]
	if ch == nil {
		// The channel is off in this process (--no-whatsapp): the reply
		// waits for a process that has it, and the card says so.
		at := r.now().Add(r.unavailable)
		if err := r.store.Postpone(ctx, it.ID, at, it.Platform); err != nil {
			r.metrics.Failure("outbox")
			log.Error().Err(err).Msg("postpone send")
			return time.Time{}, false
		}
		if it.Waiting != it.Platform {
			log.Info().Msg("no channel for the reply's platform; it waits")
			r.refreshDraftCard(ctx, it.DraftID)
		}
		return at, true
	}
	if !r.claimSend(it.ID) {
		return time.Time{}, true
	}
	defer r.releaseSend(it.ID)
	if r.closedAckLate(ctx, it) {
		return time.Time{}, true
	}
	out := Outbound{Chat: it.Chat, Text: it.Text, Key: it.Key}
	if it.Kind != OutboxTemplate {
		// The file staff attached goes with the reply; a reply is never
		// sent without it.
		file, err := r.draftFile(ctx, it.DraftID)
		if err != nil {
			if ctx.Err() != nil {
				return time.Time{}, false
			}
			r.metrics.Failure("outbox")
			log.Error().Err(err).Msg("attachment of the reply unreadable; will retry")
			at := r.now().Add(r.backoff(it.Attempts + 1))
			if err := r.store.MarkRetry(ctx, it.ID, at, "attachment unreadable"); err != nil {
				log.Error().Err(err).Msg("record retry")
				return time.Time{}, false
			}
			return at, true
		}
		out.File = file
	}
	if it.Kind == OutboxTemplate {
		var ok bool
		if out, ok = r.templateOutbound(ctx, log, it); !ok {
			return time.Time{}, true
		}
	}
	if err := r.store.BeginSend(ctx, it.ID, r.now()); err != nil {
		if ctx.Err() == nil {
			r.metrics.Failure("outbox")
			log.Error().Err(err).Msg("record send attempt")
		}
		return time.Time{}, false
	}
	idempotent := ch.Capabilities().Idempotent
	sctx, cancel := context.WithTimeout(ctx, sendTimeout)
	pid, err := ch.Send(sctx, out)
	cancel()
	r.metrics.Sent(it.Platform, err)
	// Record the outcome even if shutdown cancels ctx now: a reply that
	// left must not be sent again after a restart.
	pctx, pcancel := detached(ctx, persistTimeout)
	defer pcancel()
	if err == nil {
		if err := r.store.MarkSent(pctx, it.ID, pid, r.now()); err != nil {
			r.metrics.Failure("outbox")
			log.Error().Err(err).Msg("sent but not recorded; in doubt until resolved")
			return time.Time{}, false
		}
		log.Info().Int("attempt", it.Attempts+1).Str("kind", string(it.kind())).Msg("reply sent")
		if rc, ok := r.early.take(it.Platform, it.Chat, pid, r.now()); ok {
			if _, err := r.store.ApplyReceipt(pctx, rc); err != nil {
				r.metrics.Failure("receipt")
				log.Warn().Err(err).Msg("apply early receipt")
			}
		}
		r.refreshDraftCard(pctx, it.DraftID)
		r.closedAckSettled(pctx, it)
		return time.Time{}, true
	}
	switch {
	case errors.Is(err, ErrUnsupported):
		// Refused before it left: definitely not sent, never retried.
		log.Warn().Err(err).Msg("send refused; giving up")
		return time.Time{}, r.giveUp(pctx, log, it, errText(err), refusedReason(it, err))
	case errors.Is(err, ErrInDoubt) && !idempotent:
		// The channel says the platform may have taken it: a second send
		// could be a second message. In doubt until a receipt with its key
		// settles it (resolveInDoubt).
		log.Warn().Err(err).Msg("send outcome unknown; waiting for a receipt")
		return time.Time{}, true
	case errors.Is(err, ErrUnavailable) || (ctx.Err() != nil && idempotent):
		// Not taken (disconnected), or cut off by shutdown where a resend
		// is harmless: pending again, no attempt used up.
		at := r.now().Add(r.unavailable)
		waiting := it.Platform
		if ctx.Err() != nil {
			at, waiting = r.now(), ""
		}
		if err := r.store.Postpone(pctx, it.ID, at, waiting); err != nil {
			r.metrics.Failure("outbox")
			log.Error().Err(err).Msg("postpone send")
			return time.Time{}, false
		}
		if ctx.Err() != nil {
			return time.Time{}, false // stopping: sent on restart
		}
		log.Info().Err(err).Time("next", at).Msg("channel unavailable; reply stays pending")
		if it.Waiting != it.Platform {
			r.refreshDraftCard(pctx, it.DraftID)
		}
		return at, true
	case !idempotent:
		// The platform may have taken it (a timeout, a lost answer), and a
		// second send would be a second message: the item stays in doubt
		// until a receipt with its key settles it (resolveInDoubt).
		log.Warn().Err(err).Msg("send outcome unknown; waiting for a receipt")
		return time.Time{}, true
	}
	attempts := it.Attempts + 1
	if attempts >= r.sendAttempts {
		log.Warn().Err(err).Int("attempt", attempts).Msg("send failed; giving up")
		reason := fmt.Sprintf("%s did not take the %s after %d tries.", it.Platform.Name(), it.kind().word(), attempts)
		return time.Time{}, r.giveUp(pctx, log, it, errText(err), reason)
	}
	at := r.now().Add(r.backoff(attempts))
	if err := r.store.MarkRetry(pctx, it.ID, at, errText(err)); err != nil {
		r.metrics.Failure("outbox")
		log.Error().Err(err).Msg("record retry")
		return time.Time{}, false
	}
	log.Warn().Err(err).Int("attempt", attempts).Time("next", at).Msg("send failed; will retry")
	return at, true
}

// refusedReason says in plain words why a channel refused a reply or a
// template.
func refusedReason(it OutboxItem, err error) string {
	p, what := it.Platform, it.kind().word()
	switch {
	case errors.Is(err, ErrTooLarge):
		return fmt.Sprintf("The %s is too long for %s.", what, p.Name())
	case errors.Is(err, ErrForbidden):
		return fmt.Sprintf("%s does not allow this %s in this chat.", p.Name(), what)
	}
	return fmt.Sprintf("%s refused the %s.", p.Name(), what)
}

// kind is the item's kind, OutboxReply when unset.
func (it OutboxItem) kind() OutboxKind {
	if it.Kind == "" {
		return OutboxReply
	}
	return it.Kind
}

// word names the kind in a sentence for staff.
func (k OutboxKind) word() string {
	if k == OutboxTemplate {
		return "template"
	}
	return "reply"
}

// templateOutbound is the message a template row sends: its template, and
// the customer's first name if it takes one (read when it is sent, so a
// name corrected with /name is the one used). ok is false when the row
// was settled here instead (given up: no name to greet; or left for the
// next pass: the store failed).
func (r *Router) templateOutbound(ctx context.Context, log zerolog.Logger, it OutboxItem) (Outbound, bool) {
	t := it.Template
	out := Outbound{Chat: it.Chat, Key: it.Key, Template: &t}
	if !t.FirstName {
		return out, true
	}
	sub, err := r.store.FindSubject(ctx, it.Subject)
	if err != nil {
		if ctx.Err() == nil {
			r.metrics.Failure("outbox")
			log.Error().Err(err).Msg("read the customer's name for the template")
		}
		return Outbound{}, false
	}
	name := firstName(sub.Name)
	if name == "" {
		r.giveUp(ctx, log, it, "template needs a first name; none known", "The template greets the customer by first name, and their name is not known.")
		return Outbound{}, false
	}
	out.TemplateParams = []string{name}
	return out, true
}

// claimSend marks an outbox item as being sent by this process, so
// resolveInDoubt leaves it alone; false if it already is.
func (r *Router) claimSend(id int64) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.inflight[id] {
		return false
	}
	r.inflight[id] = true
	return true
}

func (r *Router) releaseSend(id int64) {
	r.mu.Lock()
	delete(r.inflight, id)
	r.mu.Unlock()
}

// Resolutions of an in-doubt send, as logged ("resolution").
const (
	// ResolvedResend: the channel is idempotent, so the reply is sent
	// again with the same key, which the platform treats as the same
	// message.
	ResolvedResend = "resend-same-key"
	// ResolvedUnconfirmed: no receipt came within InDoubtWait; staff see
	// the reply as unconfirmed and may resend it.
	ResolvedUnconfirmed = "unconfirmed"
	// A receipt carrying the key settles the send: the store logs
	// resolution "receipt".
)

// ReasonUnconfirmed is the card's reason for an unconfirmed reply.
const reasonUnconfirmedFmt = "%s did not confirm whether this reply was sent. Check the chat, and resend it if the customer did not get it."

// resolveInDoubt settles outbox items left sending by an earlier process or
// by a send whose outcome was unknown: for an idempotent channel the item
// is pending again (the resend carries the same key, so the platform drops
// a copy that did arrive); otherwise it waits for a receipt with its key
// (ApplyReceipt settles it) for InDoubtWait after the later of the attempt
// and this router's start (a platform retries its status webhooks after
// our downtime), and then becomes unconfirmed for staff to check. Items
// whose platform has no channel here wait.
func (r *Router) resolveInDoubt(ctx context.Context) {
	items, err := r.store.InDoubt(ctx, outboxBatch)
	if err != nil {
		if ctx.Err() == nil {
			r.metrics.Failure("outbox")
			r.log.Error().Err(err).Msg("list in-doubt sends")
		}
		return
	}
	for _, it := range items {
		ch := r.channels[it.Platform]
		if ch == nil || !r.claimSend(it.ID) {
			continue
		}
		log := r.log.With().Int64("outbox", it.ID).Int64("draft", it.DraftID).Str("platform", string(it.Platform)).Logger()
		switch {
		case ch.Capabilities().Idempotent:
			if err := r.store.Postpone(ctx, it.ID, r.now(), ""); err != nil {
				log.Warn().Err(err).Msg("resolve in-doubt send")
				break
			}
			log.Info().Str("resolution", ResolvedResend).Msg("in-doubt send resolved")
			r.wakeOutbox()
		case r.now().After(later(it.SendingAt, r.startedAt).Add(r.inDoubtWait)):
			if err := r.store.MarkUnconfirmed(ctx, it.ID, fmt.Sprintf(reasonUnconfirmedFmt, it.Platform.Name())); err != nil {
				log.Warn().Err(err).Msg("resolve in-doubt send")
				break
			}
			log.Warn().Str("resolution", ResolvedUnconfirmed).Msg("in-doubt send resolved")
			r.refreshDraftCard(ctx, it.DraftID)
			r.closedAckSettled(ctx, it)
			if r.notifier != nil {
				msg := fmt.Sprintf("A %s (outbox %d, draft %d) may or may not have gone out on %s; its card asks staff to check and send it again.", it.kind().word(), it.ID, it.DraftID, it.Platform.Name())
				if it.DraftID == 0 {
					msg = fmt.Sprintf("An automatic closed-hours reply (outbox %d) may or may not have gone out on %s; the customer's card says so.", it.ID, it.Platform.Name())
				}
				if err := r.notifier.Alert(ctx, msg); err != nil {
					log.Warn().Err(err).Msg("alert admins")
				}
			}
		}
		r.releaseSend(it.ID)
	}
}

// later returns the later of a and b.
func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// refreshDraftCard refreshes the card of a draft; 0 (no draft) does nothing.
func (r *Router) refreshDraftCard(ctx context.Context, draftID int64) {
	if draftID != 0 {
		r.refreshCard(ctx, draftID)
	}
}

// giveUp marks an item failed and updates its card.
func (r *Router) giveUp(ctx context.Context, log zerolog.Logger, it OutboxItem, lastErr, reason string) bool {
	r.metrics.Failure("send")
	if err := r.store.MarkFailed(ctx, it.ID, lastErr, reason); err != nil {
		r.metrics.Failure("outbox")
		log.Error().Err(err).Msg("record failed send")
		return false
	}
	r.refreshDraftCard(ctx, it.DraftID)
	r.closedAckSettled(ctx, it)
	if r.notifier != nil {
		// Ids only: the alert reaches admins, not the customer's data.
		msg := fmt.Sprintf("A %s (outbox %d, draft %d) could not be sent on %s and was given up; its card shows why and can send it again.", it.kind().word(), it.ID, it.DraftID, it.Platform.Name())
		if it.DraftID == 0 {
			msg = fmt.Sprintf("An automatic closed-hours reply (outbox %d) could not be sent on %s and was given up; the customer's card says so.", it.ID, it.Platform.Name())
		}
		if err := r.notifier.Alert(ctx, msg); err != nil {
			log.Warn().Err(err).Msg("alert admins")
		}
	}
	return true
}

// errText bounds an error for the outbox row. Channel errors carry no
// message text (they end up in logs too).
func errText(err error) string {
	return cutUTF8(err.Error(), 300)
}

// Receipt applies delivery or read receipts and updates the cards of the
// drafts whose reply changed status.
func (r *Router) Receipt(ctx context.Context, rc Receipt) error {
	if rc.Platform == "" || (len(rc.IDs) == 0 && rc.Key == "") {
		return errors.New("receipt: no platform, or neither message ids nor a key")
	}
	switch rc.Status {
	case StatusSent, StatusDelivered, StatusRead, StatusFailed:
	default:
		return fmt.Errorf("receipt: status %q is not sent, delivered, read or failed", rc.Status)
	}
	if rc.At.IsZero() {
		rc.At = r.now()
	}
	// Held first, so a send recorded between ApplyReceipt and hold still
	// finds it.
	r.early.hold(rc, r.now())
	ids, err := r.store.ApplyReceipt(ctx, rc)
	if err != nil {
		r.metrics.Failure("receipt")
		return fmt.Errorf("receipt: %w", err)
	}
	if len(ids) > 0 && len(rc.IDs) <= 1 {
		// It found its reply: nothing to hold for a later send (a resend
		// under the same id must not meet this receipt again). A receipt
		// naming several messages stays held: some may be early.
		r.early.forget(rc)
	}
	r.log.Debug().Str("platform", string(rc.Platform)).Str("status", string(rc.Status)).Int("drafts", len(ids)).Msg("receipt applied")
	for _, id := range ids {
		r.refreshCard(ctx, id)
	}
	return nil
}

// Revoke deletes the stored copy of a message its sender deleted for
// everyone and tells staff on the cards of the drafts that answered it.
func (r *Router) Revoke(ctx context.Context, p Platform, chat ChatID, sender Identity, id MessageID) error {
	if p == "" || chat == "" || id == "" {
		return errors.New("revoke: no platform, chat or message id")
	}
	ids, err := r.store.RevokeMessage(ctx, p, chat, id)
	if errors.Is(err, ErrNotFound) {
		return nil // never stored (a command answered, or erased already)
	}
	if err != nil {
		r.metrics.Failure("revoke")
		return fmt.Errorf("revoke: %w", err)
	}
	r.log.Info().Str("platform", string(p)).Int("drafts", len(ids)).Msg("message revoked by sender")
	for _, d := range ids {
		log := r.log.With().Int64("draft", d).Logger()
		view, err := r.store.LoadDraft(ctx, d)
		if err != nil {
			log.Warn().Err(err).Msg("load draft of revoked message")
			continue
		}
		card := r.cardFor(view)
		card.Message = "[message deleted by the customer]"
		switch {
		case card.Note == "":
			card.Note = NoteRevoked
		case !containsNote(card.Note, NoteRevoked):
			card.Note += noteSep + NoteRevoked
		}
		r.updateCard(ctx, log, view, card)
	}
	return nil
}
