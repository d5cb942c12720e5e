package bot

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Refusals of decisions a chat cannot take. One wording each.
const (
	msgTemplateNone      = "No message template is set up for this chat, so nothing was sent."
	msgTemplateNotNeeded = "The customer wrote recently, so the reply can go as it is: approve or edit it instead."
	msgTemplateFailed    = "The template could not be sent; please try again in a few minutes."
	msgTemplateSent      = "Template sent: the reply can go once the customer writes again."
)

// templateMemory is how long the router remembers that it sent a draft's
// template, so a second click does not send it twice.
const templateMemory = 48 * time.Hour

// windowState says where a draft's chat is in its channel's reply window:
// ends is when it closes, left how much of it is left now (0 once closed).
// ok is false when the channel has no window.
func (r *Router) windowState(v DraftView, caps Capabilities) (ends time.Time, left time.Duration, ok bool) {
	if caps.Window <= 0 {
		return time.Time{}, 0, false
	}
	now := r.now()
	last := v.LastInbound
	if last.IsZero() {
		last = v.Message.SentAt
	}
	if last.IsZero() {
		return now, 0, true // no message of the customer is known: closed
	}
	ends = last.Add(caps.Window)
	return ends, max(0, ends.Sub(now)), true
}

// cardFor renders what staff see about a draft, with what its channel
// adds: the reply window and the template offer.
func (r *Router) cardFor(v DraftView) Card {
	c := cardOf(v)
	c.Media = r.cardMedia(v)
	c.Attachment = attachmentCard(v.Attachment)
	ch := r.channels[v.Draft.Platform]
	if ch == nil {
		return c
	}
	caps := ch.Capabilities()
	if caps.Files && r.media != nil && v.Message.ID != 0 && !v.Draft.Status.Decided() {
		c.AttachCode = AttachCode(v.Draft.ID, v.Draft.Token)
	}
	if ends, left, ok := r.windowState(v, caps); ok {
		c.WindowEnds, c.WindowLeft, c.Template = ends, left, caps.Template
	}
	if at, ok := r.templateSentAt(v.Draft.ID); ok {
		note := "Template sent at " + at.UTC().Format("15:04") + " UTC: the reply can go once the customer writes again."
		if c.Note == "" {
			c.Note = note
		} else if !containsNote(c.Note, note) {
			c.Note += noteSep + note
		}
	}
	return c
}

// checkSendable refuses an approval (or an edit) that the draft's channel
// could not send: a text over the channel's MaxText, or a reply outside its
// reply window. It runs before the decision is stored, so a refused
// approval writes no outbox row and the draft stays pending. ok is true
// when the decision may go on.
func (r *Router) checkSendable(ctx context.Context, d Decision) (res DecisionResult, ok bool, err error) {
	view, err := r.store.LoadDraft(ctx, d.DraftID)
	if errors.Is(err, ErrNotFound) {
		return refused("This draft no longer exists (the customer's data may have been erased)."), false, nil
	}
	if err != nil {
		return DecisionResult{}, false, fmt.Errorf("load draft %d: %w", d.DraftID, err)
	}
	if view.Draft.Status.Decided() {
		return DecisionResult{}, true, nil // the store answers AlreadyDecided
	}
	ch := r.channels[view.Draft.Platform]
	if ch == nil {
		return DecisionResult{}, true, nil // the outbox waits for the channel
	}
	caps := ch.Capabilities()
	text := view.Draft.Text
	if d.Kind == Edit {
		text = d.Text
	}
	if caps.MaxText > 0 && len(text) > caps.MaxText {
		res := refused(fmt.Sprintf("The reply is too long for this chat (%d bytes; at most %d): shorten it with Edit.", len(text), caps.MaxText))
		res.Card = r.cardFor(view)
		return res, false, nil
	}
	if _, left, has := r.windowState(view, caps); has && left <= 0 {
		card := r.cardFor(view)
		r.updateCard(ctx, r.log.With().Int64("draft", d.DraftID).Logger(), view, card)
		res := refused(windowClosedMessage(caps))
		res.Card = card
		return res, false, nil
	}
	return DecisionResult{}, true, nil
}

// windowClosedMessage refuses a reply outside the window, in one sentence.
func windowClosedMessage(caps Capabilities) string {
	msg := "The customer last wrote more than " + DurationWords(caps.Window) + " ago, so this chat takes no reply until they write again"
	if caps.Template {
		return msg + ": send the template to ask them to."
	}
	return msg + "."
}

// decideTemplate sends the business's message template to a customer whose
// reply window closed; the draft stays pending for when they answer. A
// second click within templateMemory sends nothing.
func (r *Router) decideTemplate(ctx context.Context, d Decision) (DecisionResult, error) {
	view, err := r.store.LoadDraft(ctx, d.DraftID)
	if errors.Is(err, ErrNotFound) {
		return refused("This draft no longer exists (the customer's data may have been erased)."), nil
	}
	if err != nil {
		return DecisionResult{}, fmt.Errorf("load draft %d: %w", d.DraftID, err)
	}
	if view.Draft.Status.Decided() {
		return DecisionResult{Outcome: AlreadyDecided, Message: alreadyMessage(view), Card: r.cardFor(view)}, nil
	}
	log := r.log.With().Int64("draft", d.DraftID).Str("subject", string(view.Draft.Subject)).Logger()
	ch := r.channels[view.Draft.Platform]
	if ch == nil || !ch.Capabilities().Template {
		res := refused(msgTemplateNone)
		res.Card = r.cardFor(view)
		return res, nil
	}
	caps := ch.Capabilities()
	if _, left, has := r.windowState(view, caps); has && left > 0 {
		res := refused(msgTemplateNotNeeded)
		res.Card = r.cardFor(view)
		return res, nil
	}
	now := r.now()
	r.mu.Lock()
	if r.templates == nil {
		r.templates = make(map[int64]time.Time)
	}
	for id, at := range r.templates {
		if now.Sub(at) > templateMemory {
			delete(r.templates, id)
		}
	}
	if at, sent := r.templates[d.DraftID]; sent {
		r.mu.Unlock()
		res := refused("The template was already sent at " + at.UTC().Format("15:04") + " UTC; wait for the customer to answer.")
		res.Card = r.cardFor(view)
		return res, nil
	}
	r.templates[d.DraftID] = now
	r.mu.Unlock()

	sctx, cancel := context.WithTimeout(ctx, sendTimeout)
	_, err = ch.Send(sctx, Outbound{Chat: view.Draft.Chat, Template: true, Key: fmt.Sprintf("template-%d-%d", d.DraftID, now.Unix())})
	cancel()
	r.metrics.Sent(view.Draft.Platform, err)
	if err != nil {
		r.mu.Lock()
		delete(r.templates, d.DraftID)
		r.mu.Unlock()
		r.metrics.Failure("template")
		log.Warn().Err(err).Msg("template send failed")
		res := refused(msgTemplateFailed)
		res.Card = r.cardFor(view)
		return res, nil
	}
	log.Info().Msg("template sent")
	card := r.cardFor(view)
	r.updateCard(ctx, log, view, card)
	return DecisionResult{Outcome: Applied, Message: msgTemplateSent, Card: card}, nil
}

// templateSentAt returns when the router sent the draft's template, if it
// did within templateMemory.
func (r *Router) templateSentAt(draftID int64) (time.Time, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	at, ok := r.templates[draftID]
	if !ok || r.now().Sub(at) > templateMemory {
		return time.Time{}, false
	}
	return at, true
}

// DurationWords says a duration the way people do: "24 hours", "1 hour
// 30 minutes", "45 minutes", "less than a minute".
func DurationWords(d time.Duration) string {
	if d < time.Minute {
		return "less than a minute"
	}
	h, m := int(d/time.Hour), int(d%time.Hour/time.Minute)
	plural := func(n int, unit string) string {
		if n == 1 {
			return "1 " + unit
		}
		return fmt.Sprintf("%d %ss", n, unit)
	}
	switch {
	case h == 0:
		return plural(m, "minute")
	case m == 0 || h >= 10:
		return plural(h, "hour")
	default:
		return plural(h, "hour") + " " + plural(m, "minute")
	}
}
