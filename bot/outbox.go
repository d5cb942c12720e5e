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
func (r *Router) sendItem(ctx context.Context, it OutboxItem) (retryAt time.Time, ok bool) {
	log := r.log.With().Int64("outbox", it.ID).Int64("draft", it.DraftID).Str("subject", string(it.Subject)).Str("platform", string(it.Platform)).Logger()
	ch := r.channels[it.Platform]
	if ch == nil {
		r.metrics.Sent(it.Platform, ErrUnsupported)
		return time.Time{}, r.giveUp(ctx, log, it, "no channel for platform "+string(it.Platform))
	}
	sctx, cancel := context.WithTimeout(ctx, sendTimeout)
	// Until the outbox keeps an idempotency key per row, the row id names
	// the reply across attempts (the Cloud API echoes it in statuses).
	pid, err := ch.Send(sctx, Outbound{Chat: it.Chat, Text: it.Text, Key: fmt.Sprintf("outbox-%d", it.ID)})
	cancel()
	r.metrics.Sent(it.Platform, err)
	if err == nil {
		// The reply left: record it even if shutdown cancels ctx now, or it
		// would be sent again after a restart.
		pctx, cancel := detached(ctx, persistTimeout)
		err := r.store.MarkSent(pctx, it.ID, pid, r.now())
		cancel()
		if err != nil {
			r.metrics.Failure("outbox")
			log.Error().Err(err).Msg("sent but not recorded")
			return time.Time{}, false
		}
		log.Info().Int("attempt", it.Attempts+1).Msg("reply sent")
		if rc, ok := r.early.take(it.Platform, it.Chat, pid, r.now()); ok {
			if _, err := r.store.ApplyReceipt(ctx, rc); err != nil {
				r.metrics.Failure("receipt")
				log.Warn().Err(err).Msg("apply early receipt")
			}
		}
		if it.DraftID != 0 {
			r.refreshCard(ctx, it.DraftID)
		}
		return time.Time{}, true
	}
	if ctx.Err() != nil {
		return time.Time{}, false // stopping: the item stays due and is sent on restart
	}
	if errors.Is(err, ErrUnavailable) {
		// Disconnected: wait for the reconnect without using up attempts.
		at := r.now().Add(r.unavailable)
		if err := r.store.Postpone(ctx, it.ID, at); err != nil {
			r.metrics.Failure("outbox")
			log.Error().Err(err).Msg("postpone send")
			return time.Time{}, false
		}
		log.Info().Err(err).Time("next", at).Msg("channel unavailable; reply stays pending")
		return at, true
	}
	attempts := it.Attempts + 1
	lastErr := errText(err)
	if errors.Is(err, ErrUnsupported) || attempts >= r.sendAttempts {
		log.Warn().Err(err).Int("attempt", attempts).Msg("send failed; giving up")
		return time.Time{}, r.giveUp(ctx, log, it, lastErr)
	}
	at := r.now().Add(r.backoff(attempts))
	if err := r.store.MarkRetry(ctx, it.ID, at, lastErr); err != nil {
		r.metrics.Failure("outbox")
		log.Error().Err(err).Msg("record retry")
		return time.Time{}, false
	}
	log.Warn().Err(err).Int("attempt", attempts).Time("next", at).Msg("send failed; will retry")
	return at, true
}

// giveUp marks an item failed and updates its card.
func (r *Router) giveUp(ctx context.Context, log zerolog.Logger, it OutboxItem, lastErr string) bool {
	r.metrics.Failure("send")
	if err := r.store.MarkFailed(ctx, it.ID, lastErr); err != nil {
		r.metrics.Failure("outbox")
		log.Error().Err(err).Msg("record failed send")
		return false
	}
	if it.DraftID != 0 {
		r.refreshCard(ctx, it.DraftID)
	}
	if r.notifier != nil {
		// Ids only: the alert reaches admins, not the customer's data.
		msg := fmt.Sprintf("A reply (outbox %d, draft %d) could not be sent on %s and was given up; its card shows it failed.", it.ID, it.DraftID, it.Platform)
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
	if rc.Platform == "" || len(rc.IDs) == 0 {
		return errors.New("receipt: no platform or no message ids")
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
