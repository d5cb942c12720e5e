package bot

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/rs/zerolog"
)

// startDraft gives a stored inbound message its draft row (status
// drafting) and its card, then queues the first draft on the drafting
// lane; first, if the business is closed, it acknowledges the message
// (ackClosed). It runs on the start lane, which never waits for the drafter, so a
// slow or hung model delays no card. A message whose subject is gone
// (erased meanwhile) is dropped; store failures leave the message for a
// later rescan.
func (r *Router) startDraft(ctx context.Context, m Message) {
	r.ackClosed(ctx, m)
	log := r.log.With().Str("subject", string(m.Subject)).Int64("message_id", m.ID).Logger()
	d, err := r.store.StartDraft(ctx, m)
	if errors.Is(err, ErrNotFound) {
		log.Info().Msg("message or subject gone before drafting; dropped")
		return
	}
	if err != nil {
		if ctx.Err() == nil {
			r.failLater(log, r.queue, "draft", err)
		}
		return
	}
	log = log.With().Int64("draft", d.ID).Logger()
	if d.Status == DraftDrafting {
		if err := r.drafting.push(chatKey(d.Platform, d.Chat), job{draftID: d.ID, first: true}); err != nil && !errors.Is(err, ErrStopped) {
			log.Warn().Err(err).Msg("draft stored but not queued for drafting; drafted later")
		}
	}
	r.postCard(ctx, d.ID)
	if d.Status == DraftDrafting {
		r.refreshWindowCards(ctx, log, d)
	}
}

// maxWindowRefresh bounds how many older cards of a chat a new message
// refreshes.
const maxWindowRefresh = 20

// refreshWindowCards refreshes the cards of the chat's other undecided
// drafts when the customer wrote again (d is the new message's draft) on a
// channel with a reply window: the window reopened, so their window line
// (and whether they offer Approve) changed.
func (r *Router) refreshWindowCards(ctx context.Context, log zerolog.Logger, d Draft) {
	ch := r.channels[d.Platform]
	if r.notifier == nil || ch == nil || ch.Capabilities().Window <= 0 {
		return
	}
	ids, err := r.store.OpenDrafts(ctx, d.Platform, d.Chat, maxWindowRefresh+1)
	if err != nil {
		if ctx.Err() == nil {
			log.Warn().Err(err).Msg("list the chat's open drafts")
		}
		return
	}
	for _, id := range ids {
		if id != d.ID {
			r.refreshCard(ctx, id)
		}
	}
}

// firstDraft makes the first draft of a draft row in status drafting and
// updates its card. A draft settled by hand meanwhile is left alone.
func (r *Router) firstDraft(ctx context.Context, id int64) {
	log := r.log.With().Int64("draft", id).Logger()
	view, err := r.store.LoadDraft(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return
	}
	if err != nil {
		if ctx.Err() == nil {
			r.failLater(log, r.drafting, "draft", err)
		}
		return
	}
	if view.Draft.Status != DraftDrafting {
		return
	}
	log = log.With().Str("subject", string(view.Draft.Subject)).Logger()
	subj, err := r.store.FindSubject(ctx, view.Draft.Subject)
	if errors.Is(err, ErrNotFound) {
		return
	}
	if err != nil {
		if ctx.Err() == nil {
			r.failLater(log, r.drafting, "draft", err)
		}
		return
	}
	var res DraftResult
	status := DraftPending
	budget := r.draftDeadline
	if !subj.AIRestricted && !view.Message.AIRestricted {
		var waited time.Duration
		view, waited = r.awaitMedia(ctx, log, view)
		budget = max(budget-waited, budget/4)
		if view.Draft.Status != DraftDrafting {
			return // settled by hand while it waited
		}
	}
	if view.Message.ID == 0 {
		res = DraftResult{Manual: true} // revoked before drafting: nothing to answer from
	} else if res, status = r.draftWithin(ctx, log, budget, subj, view.Message, "", ""); status == DraftFailed && ctx.Err() != nil {
		return // cut off by shutdown: the draft stays drafting and resumes on restart
	}
	// A finished draft is kept even if shutdown's deadline passes meanwhile.
	ctx, cancel := detached(ctx, persistTimeout)
	defer cancel()
	switch err := r.store.ReviseDraft(ctx, id, status, res.Text, &res); {
	case errors.Is(err, ErrDecided):
		log.Debug().Msg("draft decided by hand before the drafter answered; its text dropped")
		return
	case errors.Is(err, ErrNotFound):
		return
	case err != nil:
		r.failLater(log, r.drafting, "draft", err)
		return
	}
	r.metrics.Drafted(status)
	log.Info().Str("status", string(status)).Bool("manual", res.Manual).Msg("draft stored")
	r.refreshCard(ctx, id)
}

// makeDraft asks the drafter, unless the subject objects to AI now or had
// objected when the message was stored. History leaves out every message
// stored while the subject objected. A drafter failure gives a failed status
// and a note; the error is logged, never shown.
func (r *Router) makeDraft(ctx context.Context, log zerolog.Logger, subj Subject, m Message, instruction, previous string, names ...string) (DraftResult, DraftStatus) {
	return r.draftWithin(ctx, log, r.draftDeadline, subj, m, instruction, previous, names...)
}

// draftWithin is makeDraft with the draft's deadline: what is left of
// DraftDeadline after waiting for an attachment.
func (r *Router) draftWithin(ctx context.Context, log zerolog.Logger, deadline time.Duration, subj Subject, m Message, instruction, previous string, names ...string) (DraftResult, DraftStatus) {
	if subj.AIRestricted || m.AIRestricted {
		log.Debug().Bool("objected_when_stored", m.AIRestricted).Msg("AI restricted: manual draft")
		return DraftResult{Manual: true, Note: NoteAIOff}, DraftPending
	}
	hist, err := r.store.History(ctx, subj.ID, m.Chat, m.ID, r.historyLimit)
	if err != nil {
		r.metrics.Failure("history")
		log.Warn().Err(err).Msg("history unavailable; drafting without it")
		hist = nil
	}
	hist = withoutObjected(hist)
	if subj.Name != "" {
		names = append(names, subj.Name)
	}
	// One deadline for the whole draft, the drafter's own retries included.
	dctx, cancel := context.WithTimeout(ctx, deadline)
	defer cancel()
	req := DraftRequest{
		Subject:     subj.ID,
		Message:     m,
		History:     hist,
		Instruction: instruction,
		Previous:    previous,
		Names:       names,
	}
	awaiting := r.draftInputs(dctx, log, &req)
	res, err := r.drafter.Draft(dctx, req)
	clearImages(req.Images)
	if err != nil {
		r.metrics.Failure("drafter")
		// Not the error text: a model endpoint's error may echo the prompt.
		// The drafter logs what is safe to log.
		f := FailureOf(err)
		if dctx.Err() != nil && ctx.Err() == nil {
			f = FailTimeout // the draft deadline passed
		}
		log.Warn().Str("error_type", fmt.Sprintf("%T", err)).Str("failure", string(f)).Msg("drafter failed")
		return DraftResult{Note: f.Note(), Failure: f}, DraftFailed
	}
	res.Text = cutUTF8(strings.ToValidUTF8(res.Text, "\uFFFD"), r.maxText)
	if res.Manual {
		res.Text = ""
	}
	if awaiting && !res.Manual {
		res.AwaitingMedia = true
		res.Note = strings.TrimSpace(strings.Join([]string{res.Note, NoteAwaitingMedia}, " "))
	}
	return res, DraftPending
}

// clearImages zeroes photos handed to the drafter.
func clearImages(imgs []DraftImage) {
	for _, im := range imgs {
		clear(im.Data)
	}
}

// withoutObjected drops the messages stored while their subject objected to
// AI (/stop): they never go to the model.
func withoutObjected(hist []Message) []Message {
	out := hist[:0:0]
	for _, m := range hist {
		if !m.AIRestricted {
			out = append(out, m)
		}
	}
	return out
}

// redraft drafts an existing draft again (regenerate, retry) and updates its
// card. A draft decided meanwhile is left alone.
//
// A fresh redraft (an attachment settled after the first draft) drafts as
// a first draft does: no previous draft, no hint; it is skipped if the
// draft is no longer pending (staff regenerated it or answered).
func (r *Router) redraft(ctx context.Context, id int64, instruction string, fresh bool) {
	log := r.log.With().Int64("draft", id).Logger()
	view, err := r.store.LoadDraft(ctx, id)
	if err != nil {
		r.metrics.Failure("redraft")
		log.Warn().Err(err).Msg("load draft to redraft")
		return
	}
	log = log.With().Str("subject", string(view.Draft.Subject)).Logger()
	if view.Draft.Status.Decided() {
		log.Debug().Msg("draft decided before redraft; left alone")
		return
	}
	previous := view.Draft.Text
	if fresh {
		if view.Draft.Status != DraftPending || view.Draft.Result == nil || !view.Draft.Result.AwaitingMedia {
			return
		}
		previous = ""
	}
	subj, err := r.store.FindSubject(ctx, view.Draft.Subject)
	if err != nil {
		r.metrics.Failure("redraft")
		log.Warn().Err(err).Msg("find subject to redraft")
		return
	}
	var names []string
	if view.Decision != nil && view.Decision.ByName != "" {
		names = append(names, view.Decision.ByName)
	}
	res, status := r.makeDraft(ctx, log, subj, view.Message, instruction, previous, names...)
	if status == DraftFailed && ctx.Err() != nil {
		return
	}
	ctx, cancel := detached(ctx, persistTimeout)
	defer cancel()
	r.metrics.Drafted(status)
	if status == DraftFailed {
		// Keep the stored draft as it was; the card says the attempt failed.
		card := r.cardFor(view)
		card.Note = res.Note
		r.updateCard(ctx, log, view, card)
		return
	}
	switch err := r.store.ReviseDraft(ctx, id, status, res.Text, &res); {
	case errors.Is(err, ErrDecided):
		log.Debug().Msg("draft decided during redraft; new text dropped")
	case err != nil:
		r.metrics.Failure("redraft")
		log.Error().Err(err).Msg("revise draft")
		return
	default:
		log.Info().Bool("manual", res.Manual).Msg("draft revised")
	}
	r.refreshCard(ctx, id)
}

// failLater counts and logs a store failure on the drafting path and marks
// the lane q for a rescan, so the work is done once the store recovers.
func (r *Router) failLater(log zerolog.Logger, q *chatQueue, stage string, err error) {
	r.metrics.Failure(stage)
	log.Error().Err(err).Str("stage", stage).Msg("drafting step failed; will retry")
	q.markOverflow()
}

// rescan queues stored customer messages that have no draft yet: at start,
// and after the queue overflowed or a store step failed.
func (r *Router) rescan(ctx context.Context) {
	if !r.queue.beginScan() {
		return
	}
	defer r.queue.endScan()
	room := r.queue.room()
	if room <= 0 {
		r.queue.markOverflow()
		return
	}
	msgs, err := r.store.Undrafted(ctx, room)
	if err != nil {
		r.queue.markOverflow()
		if ctx.Err() == nil {
			r.metrics.Failure("resume")
			r.log.Error().Err(err).Msg("list undrafted messages")
		}
		return
	}
	queued := 0
	for _, m := range msgs {
		if r.queue.scanned(m.ID) {
			continue
		}
		if _, isCmd := ParseCommand(m.Text); isCmd && (m.Kind == KindText || m.Kind == "") {
			// Commands were answered when they came in.
			r.markHandled(ctx, r.log.With().Int64("message_id", m.ID).Logger(), m.ID)
			continue
		}
		added, err := r.queue.add(chatKey(m.Platform, m.Chat), job{msg: m})
		if err != nil {
			break
		}
		if added {
			queued++
		}
	}
	if queued > 0 {
		r.log.Info().Int("messages", queued).Msg("undrafted messages queued")
	}
}

// rescanDrafting queues the first drafts of draft rows still drafting: at
// start, and after the drafting lane overflowed or a store step failed.
func (r *Router) rescanDrafting(ctx context.Context) {
	if !r.drafting.beginScan() {
		return
	}
	defer r.drafting.endScan()
	room := r.drafting.room()
	if room <= 0 {
		r.drafting.markOverflow()
		return
	}
	ids, err := r.store.Drafting(ctx, room)
	if err != nil {
		r.drafting.markOverflow()
		if ctx.Err() == nil {
			r.metrics.Failure("resume")
			r.log.Error().Err(err).Msg("list drafts being drafted")
		}
		return
	}
	queued := 0
	for _, id := range ids {
		if r.drafting.scanned(id) {
			continue
		}
		view, err := r.store.LoadDraft(ctx, id)
		if err != nil {
			continue
		}
		added, err := r.drafting.add(chatKey(view.Draft.Platform, view.Draft.Chat), job{draftID: id, first: true})
		if err != nil {
			break
		}
		if added {
			queued++
		}
	}
	if queued > 0 {
		r.log.Info().Int("drafts", queued).Msg("unfinished drafts queued")
	}
}

// cardOf renders what staff see about a draft.
func cardOf(v DraftView) Card {
	c := Card{
		DraftID:    v.Draft.ID,
		Token:      v.Draft.Token,
		SendReason: v.SendReason,
		Waiting:    v.SendWaiting,
		Subject:    v.Draft.Subject,
		Customer:   v.Customer.Name,
		Message:    v.Message.Text,
		WroteAt:    v.Message.SentAt,
		Recent:     cardLines(v.Recent),
		Draft:      v.Draft.Text,
		Status:     v.Draft.Status,
		Result:     v.Draft.Result,
		SendStatus: v.SendStatus,
	}
	c.ClosedReply = v.ClosedReply
	manual := v.Draft.Result == nil || v.Draft.Result.Manual
	if c.Draft != "" && !manual {
		c.Author = "AI draft"
		if a := v.Draft.Result.Author; a != "" {
			c.Author = a
		}
	}
	if c.Customer == "" {
		c.Customer = MaskPhone(v.Phone)
	}
	var notes []string
	if v.Draft.Result != nil && v.Draft.Result.Note != "" {
		notes = append(notes, v.Draft.Result.Note)
	}
	switch {
	case v.Message.Kind != "" && v.Message.Kind != KindText:
		c.Message = v.Message.Kind.Placeholder()
		if v.Message.Text != "" {
			c.Message += " " + v.Message.Text
		}
	case v.Message.ID == 0 || v.Message.Text == "":
		c.Message = "[message deleted by the customer]"
		notes = append(notes, NoteRevoked)
	}
	if n := truncatedFrom(v.Message.Text); n > 0 {
		notes = append(notes, fmt.Sprintf("message truncated from %d bytes", n))
	}
	c.Note = strings.Join(notes, noteSep)
	if v.Decision != nil {
		c.DecidedBy = v.Decision.ByName
		c.DecidedAt = v.Decision.At
		if v.Decision.Kind == Edit && v.Decision.Text != "" {
			c.Draft, c.Author = v.Decision.Text, editedBy(c.Author, v.Decision.ByName)
			c.Result = withoutFlags(c.Result)
		}
	}
	return c
}

// editedBy says who wrote an edited reply: the drafter's draft (drafter
// is how the card named it) edited by name, or, with no draft, name alone.
func editedBy(drafter, name string) string {
	if name == "" {
		name = "a colleague"
	}
	if drafter != "" {
		return drafter + ", edited by " + name
	}
	return "Written by " + name
}

// withoutFlags is the drafter's result once staff replaced its text: the
// flags and the reason a person was needed were about the AI's text, so
// they no longer apply.
func withoutFlags(r *DraftResult) *DraftResult {
	if r == nil {
		return nil
	}
	out := *r
	out.Flags, out.HumanReason = nil, ""
	return &out
}

// cardLines turns earlier messages into card lines: commands are left out,
// text is clipped, other kinds show their placeholder.
func cardLines(ms []Message) []CardLine {
	var out []CardLine
	for _, m := range ms {
		text := m.Text
		if m.Kind != "" && m.Kind != KindText {
			text = strings.TrimSpace(m.Kind.Placeholder() + " " + text)
		} else if _, cmd := ParseCommand(text); cmd {
			continue
		}
		if strings.TrimSpace(text) == "" {
			continue
		}
		if len(text) > MaxCardLine {
			text = cutUTF8(text, MaxCardLine-len("…")) + "…"
		}
		out = append(out, CardLine{Dir: m.Dir, Text: text, At: m.SentAt})
	}
	return out
}

// noteSep joins notes on a card.
const noteSep = " · "

// containsNote reports whether a joined note holds n.
func containsNote(joined, n string) bool {
	for _, part := range strings.Split(joined, noteSep) {
		if part == n {
			return true
		}
	}
	return false
}
