package bot

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
)

// Refusals and answers of the template decision. One wording each.
const (
	msgTemplateNone      = "No message template is set up for this chat, so nothing was sent."
	msgTemplateNotNeeded = "The customer wrote recently, so the reply can go as it is: approve or edit it instead."
	msgTemplateQueued    = "Sending the template: the reply can go once the customer writes again."
	msgTemplateNoName    = "This template greets the customer by first name, and their name is not known, so it was not sent."
)

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
// adds: the reply window, the template offer and the template's progress.
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
		c.WindowEnds, c.WindowLeft = ends, left
		// The template is offered until one is on its way or sent; a
		// failed or unconfirmed one may be sent again.
		c.Template = !caps.Template.IsZero() && (v.TemplateStatus == "" || resendable(v.TemplateStatus))
	}
	if note := templateNote(v); note != "" {
		if c.Note == "" {
			c.Note = note
		} else if !containsNote(c.Note, note) {
			c.Note += noteSep + note
		}
	}
	return c
}

// resendable reports whether a reply or template in status s may be sent
// again by staff.
func resendable(s MessageStatus) bool { return s == StatusFailed || s == StatusUnconfirmed }

// templateNote says on the card where the draft's template is.
func templateNote(v DraftView) string {
	at := v.TemplateAt.UTC().Format("15:04") + " UTC"
	switch v.TemplateStatus {
	case "":
		return ""
	case StatusPending, StatusSending:
		return "Template asked for at " + at + ": sending it."
	case StatusSent:
		return "Template sent at " + at + ": the reply can go once the customer writes again."
	case StatusDelivered, StatusRead:
		return "Template sent at " + at + " and " + string(v.TemplateStatus) + ": the reply can go once the customer writes again."
	case StatusUnconfirmed:
		return "The template (asked for at " + at + ") was not confirmed: check the chat, and send it again if the customer did not get it."
	}
	reason := v.TemplateReason
	if reason == "" {
		reason = "it could not be sent."
	}
	return "The template (asked for at " + at + ") was not sent: " + reason
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
	if !caps.Template.IsZero() {
		return msg + ": send the template to ask them to."
	}
	return msg + "."
}

// decideTemplate queues the business's message template for a customer
// whose reply window closed: an outbox row of its own, so it is sent once
// across restarts and its statuses reach the card; the draft stays pending
// for when they answer. A second click while it is on its way or sent does
// nothing; a failed or unconfirmed template may be sent again.
func (r *Router) decideTemplate(ctx context.Context, d Decision) (DecisionResult, error) {
	view, err := r.store.LoadDraft(ctx, d.DraftID)
	if errors.Is(err, ErrNotFound) {
		return refused(msgDraftGone), nil
	}
	if err != nil {
		return DecisionResult{}, fmt.Errorf("load draft %d: %w", d.DraftID, err)
	}
	if view.Draft.Status.Decided() {
		return DecisionResult{Outcome: AlreadyDecided, Message: alreadyMessage(view), Card: r.cardFor(view)}, nil
	}
	ch := r.channels[view.Draft.Platform]
	if ch == nil || ch.Capabilities().Template.IsZero() {
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
	if caps.Template.FirstName && firstName(view.Customer.Name) == "" {
		res := refused(msgTemplateNoName)
		res.Card = r.cardFor(view)
		return res, nil
	}
	err = r.store.QueueTemplate(ctx, d, caps.Template)
	switch {
	case errors.Is(err, ErrDecided):
		view, lerr := r.store.LoadDraft(ctx, d.DraftID)
		if lerr != nil {
			return DecisionResult{Outcome: AlreadyDecided, Message: "The template was already sent; nothing was sent again."}, nil
		}
		msg := "The template was already sent at " + view.TemplateAt.UTC().Format("15:04") + " UTC; wait for the customer to answer."
		if view.Draft.Status.Decided() {
			msg = alreadyMessage(view)
		}
		return DecisionResult{Outcome: AlreadyDecided, Message: msg, Card: r.cardFor(view)}, nil
	case errors.Is(err, ErrNotFound):
		return refused(msgDraftGone), nil
	case err != nil:
		return DecisionResult{}, fmt.Errorf("queue template for draft %d: %w", d.DraftID, err)
	}
	r.log.Info().Int64("draft", d.DraftID).Str("subject", string(view.Draft.Subject)).Msg("template queued")
	r.wakeOutbox()
	res := DecisionResult{Outcome: Applied, Message: msgTemplateQueued}
	if view, err := r.store.LoadDraft(ctx, d.DraftID); err == nil {
		res.Card = r.cardFor(view)
		// Afresh under the lock: the woken outbox may already have sent it.
		r.refreshCard(ctx, d.DraftID)
	}
	return res, nil
}

// firstName is the first word of a person's name, for a template that
// greets them by it: "" when the name has no letter to greet them by.
func firstName(name string) string {
	f := strings.Fields(name)
	if len(f) == 0 {
		return ""
	}
	first := cutUTF8(f[0], 60)
	for _, r := range first {
		if unicode.IsLetter(r) {
			return first
		}
	}
	return ""
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
