package bot

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Decide takes a staff decision from a card. Approve, Edit and Reject settle
// the draft in the store, where the first decision wins: a repeated,
// retried or concurrent click gets AlreadyDecided and nothing is sent again.
// Regenerate and Retry queue a new draft and answer at once; the card is
// updated when the new draft is ready. Refused answers say why. The error
// is non-nil only when the store failed.
func (r *Router) Decide(ctx context.Context, d Decision) (DecisionResult, error) {
	if d.At.IsZero() {
		d.At = r.now()
	}
	log := r.log.With().Int64("draft", d.DraftID).Str("decision", string(d.Kind)).Logger()
	res, err := r.decide(ctx, d)
	if err != nil {
		r.metrics.Failure("decide")
		log.Error().Err(err).Msg("decision failed")
		return DecisionResult{}, err
	}
	r.metrics.Decided(d.Kind, res.Outcome)
	log.Info().Str("subject", string(res.Card.Subject)).Str("outcome", string(res.Outcome)).Msg("decision taken")
	return res, nil
}

func (r *Router) decide(ctx context.Context, d Decision) (DecisionResult, error) {
	if d.DraftID <= 0 {
		return refused("This card is not linked to a draft."), nil
	}
	if d.By.Kind == "" || d.By.Value == "" {
		return refused("This decision does not say who made it, so it was not taken."), nil
	}
	// The card's token must be its draft's: a card of an erased draft, or
	// a forged click, acts on nothing.
	view, err := r.store.LoadDraft(ctx, d.DraftID)
	if errors.Is(err, ErrNotFound) {
		return refused(msgDraftGone), nil
	}
	if err != nil {
		return DecisionResult{}, fmt.Errorf("load draft %d: %w", d.DraftID, err)
	}
	if d.Kind == Attach {
		if !attachTokenOK(d.Token, view.Draft.Token) {
			return refused("That code does not match a reply's card (check the code on the card), so the file was not attached."), nil
		}
		return r.decideAttach(ctx, d, view)
	}
	if view.Draft.Token != "" && subtle.ConstantTimeCompare([]byte(d.Token), []byte(view.Draft.Token)) != 1 {
		return refused("This card is out of date and no longer matches a draft; nothing was done."), nil
	}
	switch d.Kind {
	case Regenerate, Retry:
		return r.decideRedraft(ctx, d, view)
	case Resend:
		return r.decideResend(ctx, d)
	case SendTemplate:
		return r.decideTemplate(ctx, d)
	case Approve, Reject:
	case Edit:
		if !utf8.ValidString(d.Text) {
			d.Text = strings.ToValidUTF8(d.Text, "\uFFFD")
		}
		if strings.TrimSpace(d.Text) == "" {
			return refused("The edited reply is empty: write a reply, or reject the draft."), nil
		}
		if len(d.Text) > r.maxText {
			return refused(fmt.Sprintf("The edited reply is too long (%d bytes; at most %d).", len(d.Text), r.maxText)), nil
		}
	default:
		return refused("Unknown action on this card."), nil
	}
	if d.Kind != Reject {
		res, ok, err := r.checkSendable(ctx, d)
		if err != nil || !ok {
			return res, err
		}
	}

	err = r.store.Decide(ctx, d)
	switch {
	case errors.Is(err, ErrDecided):
		view, lerr := r.store.LoadDraft(ctx, d.DraftID)
		if lerr != nil {
			return DecisionResult{Outcome: AlreadyDecided, Message: "Already decided; nothing sent again."}, nil
		}
		return DecisionResult{Outcome: AlreadyDecided, Message: alreadyMessage(view), Card: r.cardFor(view)}, nil
	case errors.Is(err, ErrForbidden):
		res := refused(safeText(err, forbiddenMessage(d.Kind)))
		if view, lerr := r.store.LoadDraft(ctx, d.DraftID); lerr == nil {
			res.Card = r.cardFor(view)
		}
		return res, nil
	case errors.Is(err, ErrNotFound):
		return refused(msgDraftGone), nil
	case err != nil:
		return DecisionResult{}, fmt.Errorf("decide draft %d: %w", d.DraftID, err)
	}

	view, err = r.store.LoadDraft(ctx, d.DraftID)
	if err != nil {
		// Settled; the outbox sends regardless.
		r.wakeOutbox()
		return DecisionResult{Outcome: Applied, Message: appliedMessage(d.Kind)}, nil
	}
	card := r.cardFor(view)
	// Rendered afresh under the card lock, not from view: the outbox's poll
	// may send the reply and refresh the card first, and a card built from
	// the state before the send must not overwrite it.
	r.refreshCard(ctx, d.DraftID)
	if d.Kind != Reject {
		r.wakeOutbox()
	}
	return DecisionResult{Outcome: Applied, Message: appliedMessage(d.Kind), Card: card}, nil
}

// msgDraftGone refuses a decision on a draft that no longer exists.
const msgDraftGone = "This draft no longer exists (the customer's data may have been erased)."

// decideResend queues a failed or unconfirmed reply again.
func (r *Router) decideResend(ctx context.Context, d Decision) (DecisionResult, error) {
	err := r.store.Decide(ctx, d)
	view, lerr := r.store.LoadDraft(ctx, d.DraftID)
	switch {
	case errors.Is(err, ErrDecided):
		res := DecisionResult{Outcome: AlreadyDecided, Message: "This reply is not waiting to be resent; nothing was sent again."}
		if lerr == nil {
			res.Card = r.cardFor(view)
		}
		return res, nil
	case errors.Is(err, ErrNotFound):
		return refused(msgDraftGone), nil
	case err != nil:
		return DecisionResult{}, fmt.Errorf("resend draft %d: %w", d.DraftID, err)
	}
	r.wakeOutbox()
	res := DecisionResult{Outcome: Applied, Message: "Sending the reply again."}
	if lerr == nil {
		res.Card = r.cardFor(view)
		// Afresh under the lock: the woken outbox may already have sent it.
		r.refreshCard(ctx, d.DraftID)
	}
	return res, nil
}

// decideRedraft queues a regenerate or retry.
func (r *Router) decideRedraft(ctx context.Context, d Decision, view DraftView) (DecisionResult, error) {
	card := r.cardFor(view)
	if view.Draft.Status.Decided() {
		return DecisionResult{Outcome: AlreadyDecided, Message: alreadyMessage(view), Card: card}, nil
	}
	instruction := strings.TrimSpace(strings.ToValidUTF8(d.Instruction, ""))
	instruction = cutUTF8(instruction, 1000)
	// The card says "drafting again" before the job is queued: a fast
	// worker's refreshed card must not be overwritten by this note.
	log := r.log.With().Int64("draft", d.DraftID).Logger()
	busy := card
	busy.Note = NoteRedrafting
	r.updateCard(ctx, log, view, busy)
	if err := r.drafting.push(chatKey(view.Draft.Platform, view.Draft.Chat), job{draftID: d.DraftID, instruction: instruction}); err != nil {
		r.updateCard(ctx, log, view, card)
		res := refused("Too busy to draft again right now; please try again in a minute.")
		res.Card = card
		return res, nil
	}
	return DecisionResult{Outcome: Applied, Message: NoteRedrafting, Card: busy}, nil
}

func refused(msg string) DecisionResult { return DecisionResult{Outcome: Refused, Message: msg} }

func appliedMessage(k DecisionKind) string {
	switch k {
	case Approve:
		return "Approved; sending the reply."
	case Edit:
		return "Edited reply approved; sending it."
	default:
		return "Rejected; nothing will be sent."
	}
}

func forbiddenMessage(k DecisionKind) string {
	switch k {
	case Approve:
		return "This draft cannot be approved as it stands (it is empty or flagged): edit it, or reject it."
	case Edit:
		return "This reply cannot be sent: check it, or reject the draft."
	default:
		return "You may not decide this draft."
	}
}

// alreadyMessage says who settled a draft and when.
func alreadyMessage(v DraftView) string {
	verb, tail := "decided", "nothing sent again."
	switch v.Draft.Status {
	case DraftApproved, DraftSent:
		verb = "approved"
	case DraftEdited:
		verb = "approved with edits"
	case DraftRejected:
		verb, tail = "rejected", "nothing sent."
	}
	if v.Decision == nil {
		return "Already " + verb + "; " + tail
	}
	if v.Decision.Kind == Edit {
		verb = "approved with edits"
	}
	by := v.Decision.ByName
	if by == "" {
		by = "a colleague"
	}
	return "Already " + verb + " by " + by + " at " + v.Decision.At.Format("15:04") + "; " + tail
}
