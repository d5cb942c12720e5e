package bot

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// Cards are posted as an intent, so none is posted twice or left unknown:
//
//  1. BeginCard records the intent (a card row in state posting) under the
//     draft's subject.
//  2. The notifier posts a placeholder (Card.Preparing): no name, no text,
//     no action.
//  3. SaveCard records the platform's id. If the draft is gone (erased
//     between 1 and 3), the placeholder is removed at once.
//  4. The content replaces the placeholder (UpdateCard), then
//     CardRendered. Every update is followed by a check that the draft
//     still exists; if an erasure came in between, the card is removed.
//
// A crash between 2 and 3 is the one case the platform cannot settle: the
// Bot Framework's POST of an activity takes no idempotency key and no
// client id, and it cannot list a conversation's activities, so a post
// whose answer was lost cannot be found again. The restart then posts a
// new placeholder; the lost one, if it reached Teams, shows "preparing"
// and nothing about anyone. The content itself only ever goes to a
// recorded card, so every card about a person can be found and erased.
// Erasure queues a subject's posted cards in the store (card_removals)
// in its own transaction; the router deletes them (processRemovals), also
// after a restart.

// Every change of a card goes through its draft's card lock and renders
// the draft as it stands once the lock is held (syncCardLocked), so
// concurrent updates (the start lane's first render, the drafter's result,
// a decision, a receipt) are applied in order and the last one shows the
// latest state.

// postUncarded posts the cards of drafts that have none yet (or whose post
// is in doubt), finishes posted cards that still show the placeholder, and
// deletes cards of erased subjects.
func (r *Router) postUncarded(ctx context.Context) {
	r.mu.Lock()
	r.cardRetry = false
	r.mu.Unlock()
	r.processRemovals(ctx)
	ids, err := r.store.Uncarded(ctx, 1000)
	if err != nil {
		r.setCardRetry()
		if ctx.Err() == nil {
			r.metrics.Failure("resume")
			r.log.Error().Err(err).Msg("list uncarded drafts")
		}
		return
	}
	for _, id := range ids {
		if ctx.Err() != nil {
			return
		}
		r.postCard(ctx, id)
	}
	if len(ids) > 0 {
		r.log.Info().Int("drafts", len(ids)).Msg("uncarded drafts resumed")
	}
	ids, err = r.store.Unrendered(ctx, 1000)
	if err != nil {
		r.setCardRetry()
		if ctx.Err() == nil {
			r.log.Error().Err(err).Msg("list unrendered cards")
		}
		return
	}
	for _, id := range ids {
		if ctx.Err() != nil {
			return
		}
		if r.notifier != nil {
			unlock := r.lockCard(id)
			r.syncCardLocked(ctx, id, true)
			unlock()
		}
	}
}

// setCardRetry schedules a retry of unposted cards after cardRetryDelay, so
// an unreachable notifier is not hammered.
func (r *Router) setCardRetry() {
	r.mu.Lock()
	r.cardRetry = true
	r.cardRetryAt = r.now().Add(cardRetryDelay)
	r.mu.Unlock()
}

// cardLock serialises the card changes of one draft.
type cardLock struct {
	mu   sync.Mutex
	refs int
}

// lockCard waits for the draft's card lock and returns its unlock.
func (r *Router) lockCard(id int64) func() {
	r.mu.Lock()
	l := r.carding[id]
	if l == nil {
		l = &cardLock{}
		r.carding[id] = l
	}
	l.refs++
	r.mu.Unlock()
	l.mu.Lock()
	return func() {
		l.mu.Unlock()
		r.mu.Lock()
		l.refs--
		if l.refs == 0 {
			delete(r.carding, id)
		}
		r.mu.Unlock()
	}
}

// postCard posts the draft's card if it has none (steps 1 to 4 above), or
// brings the posted one up to date.
func (r *Router) postCard(ctx context.Context, id int64) {
	if r.notifier == nil {
		return
	}
	unlock := r.lockCard(id)
	defer unlock()
	r.syncCardLocked(ctx, id, false)
}

// refreshCard brings the draft's card up to date, posting it if need be.
func (r *Router) refreshCard(ctx context.Context, id int64) { r.postCard(ctx, id) }

// syncCardLocked makes the draft's card show the draft as it stands now:
// it posts the card (through the placeholder) if none is recorded, else it
// replaces the posted one. markRendered records a first content update
// (the card showed the placeholder). The draft's card lock is held.
func (r *Router) syncCardLocked(ctx context.Context, id int64, markRendered bool) {
	log := r.log.With().Int64("draft", id).Logger()
	view, err := r.store.LoadDraft(ctx, id)
	if err != nil {
		if !errors.Is(err, ErrNotFound) {
			r.metrics.Failure("card")
			log.Error().Err(err).Msg("load draft for its card")
			r.setCardRetry()
		}
		return // erased: a posted card waits in the store's removals
	}
	if view.Card == nil {
		r.postPlaceholderLocked(ctx, log, id, view.Draft.Subject)
		return
	}
	if r.updateCardLocked(ctx, log, view, r.cardFor(view)) && markRendered {
		if err := r.store.CardRendered(ctx, id); err != nil {
			log.Warn().Err(err).Msg("record card rendered")
		}
	}
}

// postPlaceholderLocked records the card intent, posts the placeholder,
// records its id and renders the content (steps 1 to 4).
func (r *Router) postPlaceholderLocked(ctx context.Context, log zerolog.Logger, id int64, subject SubjectID) {
	inDoubt, err := r.store.BeginCard(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return
	}
	if err != nil {
		r.metrics.Failure("card")
		log.Error().Err(err).Msg("record card intent")
		r.setCardRetry()
		return
	}
	if inDoubt {
		log.Warn().Str("resolution", "new-placeholder").
			Msg("card post in doubt: posting a new placeholder; an earlier one, if it arrived, names nobody")
	}
	// The subject id is pseudonymous and never rendered: it lets a notifier
	// thread a customer's cards.
	ref, err := r.notifier.PostCard(ctx, Card{DraftID: id, Subject: subject, Preparing: true})
	if err != nil {
		r.metrics.Failure("card")
		log.Error().Err(err).Msg("post card")
		r.setCardRetry()
		return
	}
	// The post happened: record it even if shutdown cancels ctx now.
	pctx, cancel := detached(ctx, persistTimeout)
	defer cancel()
	if err := r.store.SaveCard(pctx, id, ref); err != nil {
		if errors.Is(err, ErrNotFound) {
			log.Info().Msg("draft erased while its card was posted; card removed")
			r.removeCard(pctx, log, ref)
			return
		}
		r.metrics.Failure("card")
		log.Error().Err(err).Msg("card posted but not recorded")
		r.setCardRetry()
		return
	}
	log.Debug().Str("subject", string(subject)).Msg("card posted")
	r.syncCardLocked(pctx, id, true)
}

// updateCard replaces a posted card with c, under the draft's card lock.
func (r *Router) updateCard(ctx context.Context, log zerolog.Logger, view DraftView, c Card) bool {
	if r.notifier == nil || view.Card == nil {
		return false
	}
	unlock := r.lockCard(view.Draft.ID)
	defer unlock()
	return r.updateCardLocked(ctx, log, view, c)
}

// updateCardLocked replaces a posted card; a platform that cannot edit
// leaves it. Then it checks that the draft still exists: if an erasure
// removed it meanwhile (and maybe deleted the card before this update
// arrived), the card is removed again, so an erasure and an update never
// leave the person on a card. It reports whether the card now shows c.
func (r *Router) updateCardLocked(ctx context.Context, log zerolog.Logger, view DraftView, c Card) bool {
	if r.notifier == nil || view.Card == nil {
		return false
	}
	err := r.notifier.UpdateCard(ctx, *view.Card, c)
	if err != nil && !errors.Is(err, ErrUnsupported) {
		r.metrics.Failure("card")
		log.Error().Err(err).Msg("update card")
		return false
	}
	if _, lerr := r.store.LoadDraft(ctx, view.Draft.ID); errors.Is(lerr, ErrNotFound) {
		log.Info().Msg("draft erased while its card was updated; card removed")
		r.removeCard(ctx, log, *view.Card)
		return false
	}
	if err == nil {
		r.noteWindow(ctx, log, view, c)
	}
	return err == nil
}

// noteWindow records when the reply window the card now shows as open
// closes (zero: it shows none, or the draft is decided), so the poll
// refreshes it then (refreshClosedWindows), also after a restart.
func (r *Router) noteWindow(ctx context.Context, log zerolog.Logger, view DraftView, c Card) {
	var ends time.Time
	if !c.WindowEnds.IsZero() && c.WindowLeft > 0 && !c.Status.Decided() && !c.Removed {
		ends = c.WindowEnds
	}
	if ends.Equal(view.CardWindowEnds) {
		return
	}
	if err := r.store.CardWindow(ctx, view.Draft.ID, ends); err != nil {
		log.Warn().Err(err).Msg("record the card's reply window")
	}
}

// refreshClosedWindows refreshes the cards that show a reply window as
// open after it closed, so staff see it closed (and the template offer)
// instead of Approve. The poll runs it every second.
func (r *Router) refreshClosedWindows(ctx context.Context) {
	r.mu.Lock()
	wait := r.now().Before(r.windowRetryAt)
	r.mu.Unlock()
	if r.notifier == nil || wait {
		return
	}
	ids, err := r.store.WindowsClosed(ctx, r.now(), 100)
	if err != nil {
		if ctx.Err() == nil {
			r.log.Warn().Err(err).Msg("list cards whose window closed")
		}
		return
	}
	for _, id := range ids {
		if ctx.Err() != nil {
			return
		}
		r.refreshCard(ctx, id)
	}
	if len(ids) == 0 {
		return
	}
	r.log.Debug().Int("cards", len(ids)).Msg("cards refreshed as their reply window closed")
	if left, err := r.store.WindowsClosed(ctx, r.now(), 1); err == nil && len(left) > 0 && left[0] == ids[0] {
		// The notifier did not take the update: not again every second.
		r.mu.Lock()
		r.windowRetryAt = r.now().Add(cardRetryDelay)
		r.mu.Unlock()
	}
}

// removeCard deletes a posted card, or blanks it if the notifier cannot
// delete. It reports whether the card is gone or blank.
func (r *Router) removeCard(ctx context.Context, log zerolog.Logger, ref CardRef) bool {
	if r.notifier == nil {
		return false
	}
	var err error
	if rm, ok := r.notifier.(CardRemover); ok {
		err = rm.RemoveCard(ctx, ref)
	} else {
		err = r.notifier.UpdateCard(ctx, ref, Card{Removed: true})
	}
	if err != nil {
		r.metrics.Failure("card")
		log.Warn().Err(err).Msg("remove card")
		return false
	}
	return true
}

// processRemovals deletes the posted cards of erased subjects that the
// store queued, and forgets each once it is gone.
func (r *Router) processRemovals(ctx context.Context) {
	if r.notifier == nil {
		return
	}
	rs, err := r.store.PendingCardRemovals(ctx, 100)
	if err != nil {
		if ctx.Err() == nil {
			r.log.Error().Err(err).Msg("list card removals")
		}
		return
	}
	done := 0
	for _, rm := range rs {
		if !r.removeCard(ctx, r.log, rm.Ref) {
			continue
		}
		if err := r.store.CardRemoved(ctx, rm.ID); err != nil {
			r.log.Warn().Err(err).Msg("forget card removal")
			continue
		}
		done++
	}
	if done > 0 {
		r.log.Info().Int("cards", done).Msg("cards of erased subjects removed")
	}
}
