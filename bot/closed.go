package bot

import (
	"context"
	"errors"
	"time"
)

// OpeningHours tells the router when the business is closed, so a customer
// who writes then gets one acknowledgement per chat and closed period
// (Options.Hours).
type OpeningHours interface {
	// Closed reports whether the business is closed at t and, if so, the
	// closed period t falls in. It is false when the business is open at
	// t or has no opening hours set. It must not block: no I/O.
	Closed(t time.Time) (ClosedPeriod, bool)
}

// ClosedPeriod is one stretch of time the business is closed: from when
// it closed until it opens again.
type ClosedPeriod struct {
	// Until is when the business opens again, ending the period; zero if
	// no opening is known (closed until further notice). It names the
	// period: one acknowledgement per chat is sent for each Until.
	Until time.Time
	// Reply is the acknowledgement for a customer who writes in the
	// period, in plain words and the business's time zone ("Thanks for
	// your message. We're closed now; we'll answer from 8:00 on Monday.").
	// It is a fixed text, not AI: it is sent to customers who objected to
	// AI (/stop) too.
	Reply string
}

// ClosedAck is one closed-hours acknowledgement to queue: the record that
// the chat's closed period was acknowledged, and the reply.
type ClosedAck struct {
	Subject  SubjectID
	Platform Platform
	Chat     ChatID
	// MessageID is the row id of the inbound message it answers; staff
	// see the acknowledgement on the cards of that message and the later
	// ones of the same closed period.
	MessageID int64
	// Until is the closed period's ClosedPeriod.Until.
	Until time.Time
	// Text is the reply; personal data once addressed (sealed at rest).
	Text string
	// At is when it was queued.
	At time.Time
}

// ClosedReply is what a card shows of the closed-hours acknowledgement a
// customer got in the closed period of the card's message.
type ClosedReply struct {
	// Status is the acknowledgement's send status (pending until sent).
	Status MessageStatus
	// SentAt is when it was sent; zero until then.
	SentAt time.Time
	// Reason says in plain words why it failed or is unconfirmed.
	Reason string
}

// ClosedAckInfo is what the router needs of one queued closed-hours
// reply when it sends it.
type ClosedAckInfo struct {
	// Until is when its closed period ends (ClosedAck.Until): a reply not
	// sent by then is not sent at all, as "we're closed now" is no longer
	// true.
	Until time.Time
	// Drafts are the ids of the drafts whose cards show it.
	Drafts []int64
}

// ClosedAckStore is implemented by a Store that records closed-hours
// acknowledgements. The router needs it when Options.Hours is set.
type ClosedAckStore interface {
	// QueueClosedAck records, in one transaction, that the chat's closed
	// period a.Until was acknowledged, naming the subject, and queues the
	// reply in the outbox: a row of its own, with its own key, tied to no
	// draft. It returns false and changes nothing if that period of the
	// chat was acknowledged before (also by an earlier process). It
	// returns an error wrapping ErrNotFound if the subject or the message
	// is gone.
	QueueClosedAck(ctx context.Context, a ClosedAck) (queued bool, err error)
	// ClosedAckOf returns the closed period and the cards of the
	// acknowledgement queued as outbox item outboxID, or an error wrapping
	// ErrNotFound if the item is no acknowledgement.
	ClosedAckOf(ctx context.Context, outboxID int64) (ClosedAckInfo, error)
}

// ackClosed sends the customer who wrote m the business's closed-hours
// acknowledgement, through the outbox, when opening hours are set, the
// business is closed now, m was written in this same closed period (not
// while open and delivered late, nor in an earlier period) and the chat's
// period was not acknowledged yet. It runs for customers' conversation
// messages only (never commands), before their draft, whether or not the
// customer objected to AI: the reply is a fixed text. Failures are logged;
// the message goes on to its draft either way.
func (r *Router) ackClosed(ctx context.Context, m Message) {
	if r.hours == nil || r.channels[m.Platform] == nil {
		return // no hours, or no channel here: a late acknowledgement would be wrong
	}
	now := r.now()
	p, closed := r.hours.Closed(now)
	if !closed {
		return
	}
	wrote := m.SentAt
	if wrote.IsZero() || wrote.After(now) {
		wrote = now
	}
	if wp, ok := r.hours.Closed(wrote); !ok || !wp.Until.Equal(p.Until) {
		return
	}
	log := r.log.With().Str("subject", string(m.Subject)).Int64("message_id", m.ID).Logger()
	queued, err := r.acks.QueueClosedAck(ctx, ClosedAck{
		Subject: m.Subject, Platform: m.Platform, Chat: m.Chat, MessageID: m.ID,
		Until: p.Until, Text: p.Reply, At: now,
	})
	switch {
	case errors.Is(err, ErrNotFound):
		return // erased or revoked meanwhile
	case err != nil:
		if ctx.Err() == nil {
			r.metrics.Failure("closed-ack")
			log.Error().Err(err).Msg("queue closed-hours acknowledgement")
		}
		return
	case !queued:
		log.Debug().Msg("closed period already acknowledged in this chat")
		return
	}
	log.Info().Time("opens", p.Until).Msg("closed-hours acknowledgement queued")
	r.wakeOutbox()
}

// ReasonClosedAckLate is why a closed-hours reply was not sent: it could
// not go before the business opened again.
const ReasonClosedAckLate = "The business opened again before it could be sent."

// closedAckOf returns what the router needs of outbox item it if it is a
// closed-hours acknowledgement.
func (r *Router) closedAckOf(ctx context.Context, it OutboxItem) (ClosedAckInfo, bool) {
	if it.DraftID != 0 || r.acks == nil {
		return ClosedAckInfo{}, false
	}
	info, err := r.acks.ClosedAckOf(ctx, it.ID)
	if err != nil {
		if !errors.Is(err, ErrNotFound) {
			r.log.Warn().Err(err).Int64("outbox", it.ID).Msg("look up a closed-hours acknowledgement")
		}
		return ClosedAckInfo{}, false
	}
	return info, true
}

// closedAckLate gives up an acknowledgement whose closed period ended
// before it could be sent (the channel was down all night): it is marked
// failed without an alert and its cards say why. It reports whether it
// did.
func (r *Router) closedAckLate(ctx context.Context, it OutboxItem) bool {
	info, ok := r.closedAckOf(ctx, it)
	if !ok || info.Until.IsZero() || r.now().Before(info.Until) {
		return false
	}
	log := r.log.With().Int64("outbox", it.ID).Str("subject", string(it.Subject)).Logger()
	if err := r.store.MarkFailed(ctx, it.ID, "closed period over before sending", ReasonClosedAckLate); err != nil {
		r.metrics.Failure("closed-ack")
		log.Error().Err(err).Msg("give up a late closed-hours acknowledgement")
		return true // not sent; the next pass tries again to record it
	}
	log.Info().Msg("closed-hours acknowledgement not sent: the business opened before it could go")
	for _, id := range info.Drafts {
		r.refreshCard(ctx, id)
	}
	return true
}

// closedAckSettled refreshes the cards that show the acknowledgement sent
// (or given up) as outbox item it; items of drafts are left to their own
// card.
func (r *Router) closedAckSettled(ctx context.Context, it OutboxItem) {
	info, ok := r.closedAckOf(ctx, it)
	if !ok {
		return
	}
	for _, id := range info.Drafts {
		r.refreshCard(ctx, id)
	}
}
