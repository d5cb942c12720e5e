package bot

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/rs/zerolog"
)

// draftMessage makes the first draft for a stored inbound message, stores it
// and posts its card. A message whose subject was merged into another
// meanwhile is drafted under that one; a message erased with its subject is
// not drafted. Store failures leave the message undrafted for a later
// rescan.
func (r *Router) draftMessage(ctx context.Context, m Message) {
	log := r.log.With().Str("subject", string(m.Subject)).Int64("message_id", m.ID).Logger()
	subj, err := r.store.FindSubject(ctx, m.Subject)
	if errors.Is(err, ErrNotFound) {
		var gone bool
		m, subj, gone, err = r.followMerge(ctx, m)
		if gone {
			log.Info().Msg("message erased with its subject before drafting")
			return
		}
		if err == nil {
			log = log.With().Str("merged_into", string(subj.ID)).Logger()
			log.Info().Msg("subject merged before drafting; drafting under the merged subject")
		}
	}
	if err != nil {
		r.failLater(log, "draft", err)
		return
	}
	res, status := r.makeDraft(ctx, log, subj, m, "", "")
	if status == DraftFailed && ctx.Err() != nil {
		return // cut off by shutdown: the message stays undrafted and resumes on restart
	}
	// A finished draft is kept even if shutdown's deadline passes meanwhile.
	ctx, cancel := detached(ctx, persistTimeout)
	defer cancel()
	now := r.now()
	id, err := r.store.CreateDraft(ctx, Draft{
		Subject:   m.Subject,
		MessageID: m.ID,
		Platform:  m.Platform,
		Chat:      m.Chat,
		Text:      res.Text,
		Status:    status,
		Result:    &res,
		CreatedAt: now,
		UpdatedAt: now,
	})
	if err != nil {
		r.failLater(log, "draft", err)
		return
	}
	r.metrics.Drafted(status)
	log.Info().Int64("draft", id).Str("status", string(status)).Bool("manual", res.Manual).Msg("draft stored")
	r.postCard(ctx, id)
}

// followMerge re-reads a queued message whose subject no longer exists: a
// merge moved it to another subject (returned with it), or an erasure
// deleted it (gone). Without a MessageFinder it reports an error, so the
// message waits for a rescan, which reads it under its current subject.
func (r *Router) followMerge(ctx context.Context, m Message) (Message, Subject, bool, error) {
	mf, ok := r.store.(MessageFinder)
	if !ok {
		return m, Subject{}, false, fmt.Errorf("subject %s gone; message left for a rescan: %w", m.Subject, ErrNotFound)
	}
	cur, err := mf.FindMessage(ctx, m.ID)
	if errors.Is(err, ErrNotFound) {
		return m, Subject{}, true, nil
	}
	if err != nil {
		return m, Subject{}, false, fmt.Errorf("find message: %w", err)
	}
	if cur.Subject == m.Subject {
		// The subject is gone but its message stayed: an erasure between
		// the two reads; the next read finds it gone.
		return m, Subject{}, false, fmt.Errorf("subject %s gone, message still stored: %w", m.Subject, ErrNotFound)
	}
	subj, err := r.store.FindSubject(ctx, cur.Subject)
	if err != nil {
		return m, Subject{}, false, fmt.Errorf("find merged subject: %w", err)
	}
	return cur, subj, false, nil
}

// makeDraft asks the drafter, unless the subject objects to AI now or had
// objected when the message was stored. History leaves out every message
// stored while the subject objected. A drafter failure gives a failed status
// and a note; the error is logged, never shown.
func (r *Router) makeDraft(ctx context.Context, log zerolog.Logger, subj Subject, m Message, instruction, previous string) (DraftResult, DraftStatus) {
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
	res, err := r.drafter.Draft(ctx, DraftRequest{
		Subject:     subj.ID,
		Message:     m,
		History:     hist,
		Instruction: instruction,
		Previous:    previous,
	})
	if err != nil {
		r.metrics.Failure("drafter")
		// Not the error text: a model endpoint's error may echo the prompt.
		// The drafter logs what is safe to log.
		f := FailureOf(err)
		log.Warn().Str("error_type", fmt.Sprintf("%T", err)).Str("failure", string(f)).Msg("drafter failed")
		return DraftResult{Note: f.Note(), Failure: f}, DraftFailed
	}
	res.Text = cutUTF8(strings.ToValidUTF8(res.Text, "\uFFFD"), r.maxText)
	if res.Manual {
		res.Text = ""
	}
	return res, DraftPending
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
func (r *Router) redraft(ctx context.Context, id int64, instruction string) {
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
	subj, err := r.store.FindSubject(ctx, view.Draft.Subject)
	if err != nil {
		r.metrics.Failure("redraft")
		log.Warn().Err(err).Msg("find subject to redraft")
		return
	}
	res, status := r.makeDraft(ctx, log, subj, view.Message, instruction, view.Draft.Text)
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
// the queue for a rescan, so the message is drafted once the store recovers.
func (r *Router) failLater(log zerolog.Logger, stage string, err error) {
	r.metrics.Failure(stage)
	log.Error().Err(err).Str("stage", stage).Msg("drafting step failed; will retry")
	r.queue.markOverflow()
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

// postUncarded posts the cards of drafts that have none yet.
func (r *Router) postUncarded(ctx context.Context) {
	r.mu.Lock()
	r.cardRetry = false
	r.mu.Unlock()
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
}

// setCardRetry schedules a retry of unposted cards after cardRetryDelay, so
// an unreachable notifier is not hammered.
func (r *Router) setCardRetry() {
	r.mu.Lock()
	r.cardRetry = true
	r.cardRetryAt = r.now().Add(cardRetryDelay)
	r.mu.Unlock()
}

// postCard posts the card of a draft that has none and records where it
// went. Only one goroutine posts a given draft's card at a time, and it
// checks under that claim that no card was recorded, so a card is posted
// once.
func (r *Router) postCard(ctx context.Context, id int64) {
	if r.notifier == nil {
		return
	}
	r.mu.Lock()
	if r.carding[id] {
		r.mu.Unlock()
		return
	}
	r.carding[id] = true
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		delete(r.carding, id)
		r.mu.Unlock()
	}()

	log := r.log.With().Int64("draft", id).Logger()
	view, err := r.store.LoadDraft(ctx, id)
	if err != nil {
		r.metrics.Failure("card")
		log.Error().Err(err).Msg("load draft for its card")
		if !errors.Is(err, ErrNotFound) {
			r.setCardRetry()
		}
		return
	}
	if view.Card != nil {
		return
	}
	ref, err := r.notifier.PostCard(ctx, r.cardFor(view))
	if err != nil {
		r.metrics.Failure("card")
		log.Error().Err(err).Msg("post card")
		r.setCardRetry()
		return
	}
	if err := r.store.SaveCard(ctx, id, ref); err != nil {
		r.metrics.Failure("card")
		log.Error().Err(err).Msg("card posted but not recorded")
		return
	}
	log.Debug().Str("subject", string(view.Draft.Subject)).Msg("card posted")
}

// refreshCard reloads a draft and updates its posted card.
func (r *Router) refreshCard(ctx context.Context, id int64) {
	log := r.log.With().Int64("draft", id).Logger()
	view, err := r.store.LoadDraft(ctx, id)
	if err != nil {
		r.metrics.Failure("card")
		log.Error().Err(err).Msg("load draft for its card")
		return
	}
	if view.Card == nil {
		r.postCard(ctx, id)
		return
	}
	r.updateCard(ctx, log, view, r.cardFor(view))
}

// updateCard replaces a posted card; a platform that cannot edit leaves it.
func (r *Router) updateCard(ctx context.Context, log zerolog.Logger, view DraftView, c Card) {
	if r.notifier == nil || view.Card == nil {
		return
	}
	err := r.notifier.UpdateCard(ctx, *view.Card, c)
	if err != nil && !errors.Is(err, ErrUnsupported) {
		r.metrics.Failure("card")
		log.Error().Err(err).Msg("update card")
	}
}

// cardOf renders what staff see about a draft.
func cardOf(v DraftView) Card {
	c := Card{
		DraftID:    v.Draft.ID,
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
