package teams

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"

	"github.com/infracloudio/msbotbuilder-go/schema"

	"github.com/switchboard/switchboard/bot"
)

// Texts the bot answers with. They hold no personal data. Refusals and
// failures use the router's wordings, so each reads the same everywhere.
const (
	msgNotStaff     = "Sorry, this assistant only works for the staff of this business. Nothing you wrote here was kept."
	msgNotAdmin     = bot.ReplyAdminOnly
	msgHere         = "Draft cards will be posted in this conversation from now on."
	msgInstalled    = "Hello! Draft replies to customers will be posted here for approval."
	msgBadAction    = "That card action could not be read, so nothing was done. Please try again."
	msgDecideFailed = bot.ReplyTryLater
	msgRefused      = "That was not done."
	entraIDHint     = "An Entra object id looks like 6f1c2b3a-0d4e-4f5a-8b6c-7d8e9f0a1b2c: find it in the Microsoft Entra admin center under Users, the person, Object ID."
	msgAdminUsage   = "Usage: /admin add <Entra object id>, /admin remove <Entra object id>, /admin list. " + entraIDHint
	msgNotEntraID   = "That is not an Entra object id, so nothing was changed. " + entraIDHint
	msgAdminAdded   = "Done: that person is now an admin."
	msgAdminRemoved = "Done: that person is no longer an admin."
	msgAdminConfig  = "That admin is set in SWITCHBOARD_ADMINS; remove them there and restart."
)

// Handler returns the Bot Framework endpoint; mount it at POST /api/messages.
// It answers 400 for bodies over 256 kB or malformed activities, 401 for
// missing or invalid tokens (unless Dev), 503 before Run, and 500 when the
// sink failed (so the platform redelivers) or anything panicked.
func (c *Channel) Handler() http.Handler { return http.HandlerFunc(c.serveHTTP) }

func (c *Channel) serveHTTP(w http.ResponseWriter, r *http.Request) {
	defer func() {
		if p := recover(); p != nil {
			c.log.Error().Str("panic_type", fmt.Sprintf("%T", p)).Msg("teams handler panicked")
			http.Error(w, "internal error", http.StatusInternalServerError)
		}
	}()
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		c.log.Warn().Msg("teams request refused: body too large or unreadable")
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	act, err := decodeActivity(body)
	if err != nil {
		c.log.Warn().Err(err).Msg("teams request refused")
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	ctx := r.Context()
	if !c.opts.Dev {
		if err := c.val.validate(ctx, r.Header.Get("Authorization"), act.ServiceURL, act.ChannelID); err != nil {
			c.log.Warn().Err(err).Str("activity_type", string(act.Type)).Msg("teams request refused")
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
	}
	if err := checkServiceURL(act.ServiceURL); err != nil || act.Conversation.ID == "" || len(act.Conversation.ID) > maxConvID {
		c.log.Warn().Str("activity_type", string(act.Type)).Msg("teams request refused: no usable service URL or conversation")
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	sink := c.currentSink()
	if sink == nil {
		http.Error(w, "not running", http.StatusServiceUnavailable)
		return
	}
	switch act.Type {
	case schema.Message:
		c.onMessage(ctx, w, &act, sink)
	case schema.Invoke:
		c.onInvoke(ctx, w, &act, sink)
	case schema.ConversationUpdate:
		c.onConversationUpdate(ctx, w, &act)
	default:
		w.WriteHeader(http.StatusOK)
	}
}

// caller is who sent an activity, as far as the channel trusts it.
type caller struct {
	id     bot.Identity
	name   string
	tenant string
	role   bot.Role // "" for someone who is not staff
}

// identify establishes the sender's role from from.aadObjectId and the
// conversation tenant only; text never matters.
func (c *Channel) identify(ctx context.Context, a *activity) (caller, error) {
	tenant, ok := a.tenant()
	aad, err := normAAD(a.From.AadObjectID)
	if !ok || err != nil || !c.staff[tenant] {
		return caller{tenant: tenant}, nil
	}
	who := caller{id: bot.Identity{Kind: bot.IDTeams, Value: aad}, name: a.From.Name, tenant: tenant, role: bot.RoleStaff}
	admin, err := c.isAdmin(ctx, aad)
	if err != nil {
		return caller{}, err
	}
	if admin {
		who.role = bot.RoleAdmin
	}
	return who, nil
}

func (c *Channel) isAdmin(ctx context.Context, aad string) (bool, error) {
	if c.admins[aad] {
		return true, nil
	}
	added, err := c.opts.State.Admins(ctx)
	if err != nil {
		return false, fmt.Errorf("load admins: %w", err)
	}
	return slices.Contains(added, aad), nil
}

// reply answers in the activity's conversation; failures are logged.
func (c *Channel) reply(ctx context.Context, a *activity, text string) {
	_, err := c.conn.send(ctx, conversationOf(a), a.ID, textMessage(text)...)
	if err != nil {
		c.log.Warn().Err(err).Msg("teams reply failed")
	}
}

func (c *Channel) onMessage(ctx context.Context, w http.ResponseWriter, a *activity, sink bot.Sink) {
	who, err := c.identify(ctx, a)
	if err != nil {
		c.log.Error().Err(err).Msg("teams identify failed")
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	if who.role == "" {
		c.log.Info().Msg("teams message from someone who is not staff refused")
		c.reply(ctx, a, msgNotStaff)
		w.WriteHeader(http.StatusOK)
		return
	}
	text := a.cleanText()
	if text == "" && len(a.Value) > 0 {
		ca, ok, err := parseCardAction(a.Value, false)
		switch {
		case !ok:
		case err != nil:
			c.log.Warn().Err(err).Msg("teams card submit refused")
			c.reply(ctx, a, msgBadAction)
		default:
			c.onSubmit(ctx, w, a, who, ca, sink)
			return
		}
		w.WriteHeader(http.StatusOK)
		return
	}
	if cmd, ok := bot.ParseCommand(text); ok && (cmd.Name == "here" || cmd.Name == "admin" || cmd.Name == "snippet" || cmd.Name == "attach") {
		// Teams redelivers an activity it thinks went unanswered: these
		// change state outside the store, so each runs once.
		first, err := c.opts.State.ClaimActivity(ctx, activityKey(a))
		if err != nil {
			c.log.Error().Err(err).Msg("teams claim activity failed")
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
		if !first {
			c.log.Info().Str("command", cmd.Name).Msg("teams redelivered command ignored")
			w.WriteHeader(http.StatusOK)
			return
		}
		switch cmd.Name {
		case "here":
			c.onHere(ctx, a, who)
			w.WriteHeader(http.StatusOK)
			return
		case "admin":
			c.onAdmin(ctx, a, who, cmd.Args)
			w.WriteHeader(http.StatusOK)
			return
		case "snippet":
			c.onSnippet(ctx, a, who, cmd.Args)
			w.WriteHeader(http.StatusOK)
			return
		case "attach":
			c.onAttach(ctx, a, who, cmd.Args, sink)
			w.WriteHeader(http.StatusOK)
			return
		}
	}
	kind := bot.KindText
	if text == "" {
		if len(a.Attachments) == 0 {
			w.WriteHeader(http.StatusOK)
			return
		}
		kind = bot.KindOther
	}
	in := bot.Inbound{
		Platform:   bot.Teams,
		Chat:       conversationOf(a).chatID(),
		ID:         bot.MessageID(a.ID),
		Sender:     who.id,
		SenderName: who.name,
		Tenant:     who.tenant,
		Role:       who.role,
		Group:      a.group(),
		Kind:       kind,
		Text:       text,
		SentAt:     a.sentAt(c.now().UTC()),
	}
	if a.personalChat() {
		c.files.remember(in.Chat, who.id.Value) // where Send may offer files
	}
	if err := sink.Deliver(ctx, in); err != nil {
		c.log.Error().Err(err).Msg("teams deliver failed")
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// onHere makes the conversation the staff conversation (admins only).
func (c *Channel) onHere(ctx context.Context, a *activity, who caller) {
	if who.role != bot.RoleAdmin {
		c.reply(ctx, a, msgNotAdmin)
		return
	}
	conv := conversationOf(a)
	if err := c.opts.State.SetStaffConversation(ctx, conv); err != nil {
		c.log.Error().Err(err).Msg("teams set staff conversation failed")
		c.reply(ctx, a, msgDecideFailed)
		return
	}
	c.log.Info().Str("conversation_type", conv.Type).Msg("teams staff conversation set by /here")
	c.reply(ctx, a, msgHere)
}

// onAdmin runs /admin add|remove|list (admins only).
func (c *Channel) onAdmin(ctx context.Context, a *activity, who caller, args string) {
	if who.role != bot.RoleAdmin {
		c.log.Info().Msg("teams /admin refused: not an admin")
		c.reply(ctx, a, msgNotAdmin)
		return
	}
	verb, arg, _ := strings.Cut(strings.TrimSpace(args), " ")
	arg = strings.TrimSpace(arg)
	if strings.HasPrefix(strings.ToLower(arg), "teams:") {
		arg = arg[len("teams:"):]
	}
	switch strings.ToLower(verb) {
	case "list":
		added, err := c.opts.State.Admins(ctx)
		if err != nil {
			c.log.Error().Err(err).Msg("teams load admins failed")
			c.reply(ctx, a, msgDecideFailed)
			return
		}
		var b strings.Builder
		b.WriteString("Admins (Entra object ids):")
		configured := slices.Sorted(maps.Keys(c.admins))
		for _, id := range configured {
			b.WriteString("\n- " + id + " (configured)")
		}
		for _, id := range added {
			if !c.admins[id] {
				b.WriteString("\n- " + id)
			}
		}
		c.reply(ctx, a, b.String())
	case "add", "remove":
		if arg == "" {
			c.reply(ctx, a, msgAdminUsage)
			return
		}
		id, err := normEntraID(arg)
		if err != nil {
			c.reply(ctx, a, msgNotEntraID)
			return
		}
		if verb == "add" {
			err = c.opts.State.AddAdmin(ctx, id)
		} else if c.admins[id] {
			c.reply(ctx, a, msgAdminConfig)
			return
		} else {
			err = c.opts.State.RemoveAdmin(ctx, id)
		}
		if err != nil {
			c.log.Error().Err(err).Msg("teams admin change failed")
			c.reply(ctx, a, msgDecideFailed)
			return
		}
		c.log.Info().Str("op", verb).Msg("teams admin list changed")
		if verb == "add" {
			c.reply(ctx, a, msgAdminAdded)
		} else {
			c.reply(ctx, a, msgAdminRemoved)
		}
	default:
		c.reply(ctx, a, msgAdminUsage)
	}
}

// Snippet limits.
const (
	maxSnippets    = 50
	maxSnippetName = 32
	maxSnippetText = 1000
)

// Snippet command texts.
const (
	msgSnippetUsage = "Usage: /snippet add <name> <text>, /snippet list, /snippet remove <name>. A name is one word of letters, digits, - or _ (at most 32). Staff can add a snippet to a reply under Edit on a card."
	msgSnippetNone  = "There are no snippets yet. An admin can add one with /snippet add <name> <text>."
	msgSnippetGone  = "That snippet no longer exists, so nothing was sent. Please choose again."
)

// snippetName validates a snippet name and lower-cases it.
func snippetName(s string) (string, bool) {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "" || len(s) > maxSnippetName {
		return "", false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return "", false
		}
	}
	return s, true
}

// onSnippet runs /snippet add|list|remove: any staff member may list, only
// admins change them.
func (c *Channel) onSnippet(ctx context.Context, a *activity, who caller, args string) {
	verb, rest, _ := strings.Cut(strings.TrimSpace(args), " ")
	verb = strings.ToLower(verb)
	if verb == "list" {
		sn, err := c.opts.State.Snippets(ctx)
		if err != nil {
			c.log.Error().Err(err).Msg("teams load snippets failed")
			c.reply(ctx, a, msgDecideFailed)
			return
		}
		if len(sn) == 0 {
			c.reply(ctx, a, msgSnippetNone)
			return
		}
		var b strings.Builder
		b.WriteString("Snippets:")
		for _, x := range sn {
			b.WriteString("\n- " + x.Name + ": " + x.Text)
		}
		c.reply(ctx, a, b.String())
		return
	}
	if verb != "add" && verb != "remove" {
		c.reply(ctx, a, msgSnippetUsage)
		return
	}
	if who.role != bot.RoleAdmin {
		c.log.Info().Msg("teams /snippet refused: not an admin")
		c.reply(ctx, a, msgNotAdmin)
		return
	}
	rawName, text, _ := strings.Cut(strings.TrimSpace(rest), " ")
	name, ok := snippetName(rawName)
	text = strings.TrimSpace(text)
	if !ok || (verb == "add" && text == "") {
		c.reply(ctx, a, msgSnippetUsage)
		return
	}
	if verb == "remove" {
		removed, err := c.opts.State.RemoveSnippet(ctx, name)
		switch {
		case err != nil:
			c.log.Error().Err(err).Msg("teams remove snippet failed")
			c.reply(ctx, a, msgDecideFailed)
		case removed:
			c.log.Info().Msg("teams snippet removed")
			c.reply(ctx, a, "Removed the snippet "+name+".")
		default:
			c.reply(ctx, a, "There is no snippet called "+name+"; nothing was removed.")
		}
		return
	}
	if len(text) > maxSnippetText {
		c.reply(ctx, a, fmt.Sprintf("That snippet is too long (at most %d characters); nothing was saved.", maxSnippetText))
		return
	}
	sn, err := c.opts.State.Snippets(ctx)
	if err != nil {
		c.log.Error().Err(err).Msg("teams load snippets failed")
		c.reply(ctx, a, msgDecideFailed)
		return
	}
	exists := slices.ContainsFunc(sn, func(x Snippet) bool { return x.Name == name })
	if !exists && len(sn) >= maxSnippets {
		c.reply(ctx, a, fmt.Sprintf("There are already %d snippets, the most there can be; remove one first.", maxSnippets))
		return
	}
	if err := c.opts.State.SetSnippet(ctx, Snippet{Name: name, Text: text}); err != nil {
		c.log.Error().Err(err).Msg("teams save snippet failed")
		c.reply(ctx, a, msgDecideFailed)
		return
	}
	c.log.Info().Bool("replaced", exists).Msg("teams snippet saved")
	if exists {
		c.reply(ctx, a, "Replaced the snippet "+name+". Staff can add it to a reply under Edit.")
	} else {
		c.reply(ctx, a, "Saved the snippet "+name+". Staff can add it to a reply under Edit.")
	}
}

// withSnippet adds the chosen snippet to an edited reply: it is the reply
// when none was written, else it follows it. ok is false when the snippet
// no longer exists.
func (c *Channel) withSnippet(ctx context.Context, ca cardAction) (cardAction, bool, error) {
	if ca.Kind != bot.Edit || ca.Snippet == "" {
		return ca, true, nil
	}
	sn, err := c.opts.State.Snippets(ctx)
	if err != nil {
		return ca, false, fmt.Errorf("load snippets: %w", err)
	}
	i := slices.IndexFunc(sn, func(x Snippet) bool { return x.Name == ca.Snippet })
	if i < 0 {
		return ca, false, nil
	}
	if ca.Text == "" {
		ca.Text = sn[i].Text
	} else {
		ca.Text += "\n\n" + sn[i].Text
	}
	return ca, true, nil
}

// decide passes a card click to the sink, with its snippet added. A snippet
// removed meanwhile refuses the click.
func (c *Channel) decide(ctx context.Context, a *activity, who caller, ca cardAction, sink bot.Sink) (bot.DecisionResult, error) {
	ca, ok, err := c.withSnippet(ctx, ca)
	if err != nil {
		return bot.DecisionResult{}, err
	}
	if !ok {
		return bot.DecisionResult{Outcome: bot.Refused, Message: msgSnippetGone}, nil
	}
	return sink.Decide(ctx, bot.Decision{
		DraftID:     ca.DraftID,
		Token:       ca.Token,
		Kind:        ca.Kind,
		Text:        ca.Text,
		Instruction: ca.Instruction,
		By:          who.id,
		Tenant:      who.tenant,
		ByName:      who.name,
		ActionID:    a.ID,
		At:          c.now().UTC(),
	})
}

// refreshCard replaces the clicked card for everyone.
func (c *Channel) refreshCard(ctx context.Context, a *activity, card bot.Card) {
	if a.ReplyToID == "" || card.DraftID == 0 {
		return
	}
	ref := bot.CardRef{Conversation: string(conversationOf(a).chatID()), ActivityID: a.ReplyToID}
	if err := c.UpdateCard(ctx, ref, card); err != nil {
		c.log.Warn().Err(err).Int64("draft_id", card.DraftID).Msg("teams card refresh failed")
	}
}

// onSubmit handles an Action.Submit click (a message with a value).
func (c *Channel) onSubmit(ctx context.Context, w http.ResponseWriter, a *activity, who caller, ca cardAction, sink bot.Sink) {
	res, err := c.decide(ctx, a, who, ca, sink)
	if err != nil {
		c.log.Error().Err(err).Int64("draft_id", ca.DraftID).Msg("teams decide failed")
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	c.log.Info().Int64("draft_id", ca.DraftID).Str("kind", string(ca.Kind)).Str("outcome", string(res.Outcome)).Msg("teams decision")
	c.refreshCard(ctx, a, res.Card)
	if res.Outcome != bot.Applied && res.Message != "" {
		c.reply(ctx, a, res.Message)
	}
	w.WriteHeader(http.StatusOK)
}

// invokeResponse is the body of an adaptiveCard/action answer.
type invokeResponse struct {
	StatusCode int    `json:"statusCode"`
	Type       string `json:"type"`
	Value      any    `json:"value"`
}

func writeInvoke(w http.ResponseWriter, res invokeResponse) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_ = json.NewEncoder(w).Encode(res)
}

func invokeMessage(text string) invokeResponse {
	return invokeResponse{StatusCode: 200, Type: contentTypeMessage, Value: text}
}

func invokeError(status int, code, text string) invokeResponse {
	return invokeResponse{StatusCode: status, Type: contentTypeError, Value: map[string]string{"code": code, "message": text}}
}

// onInvoke handles Action.Execute (adaptiveCard/action) and answers in the
// HTTP response with the refreshed card.
func (c *Channel) onInvoke(ctx context.Context, w http.ResponseWriter, a *activity, sink bot.Sink) {
	if a.Name == invokeFileConsent {
		c.onFileConsent(ctx, w, a)
		return
	}
	if a.Name != invokeCardAction {
		w.WriteHeader(http.StatusNotImplemented)
		return
	}
	who, err := c.identify(ctx, a)
	if err != nil {
		c.log.Error().Err(err).Msg("teams identify failed")
		writeInvoke(w, invokeError(500, "InternalError", msgDecideFailed))
		return
	}
	if who.role == "" {
		c.log.Info().Msg("teams card action from someone who is not staff refused")
		writeInvoke(w, invokeMessage(msgNotStaff))
		return
	}
	if vc, ok, err := parseViewClick(a.Value); ok {
		if err != nil {
			c.log.Warn().Err(err).Msg("teams view click refused")
			writeInvoke(w, invokeError(400, "BadRequest", msgBadAction))
			return
		}
		c.onView(ctx, w, vc)
		return
	}
	ca, ok, err := parseCardAction(a.Value, true)
	if !ok || err != nil {
		c.log.Warn().Err(err).Msg("teams card action refused")
		writeInvoke(w, invokeError(400, "BadRequest", msgBadAction))
		return
	}
	res, err := c.decide(ctx, a, who, ca, sink)
	if err != nil {
		c.log.Error().Err(err).Int64("draft_id", ca.DraftID).Msg("teams decide failed")
		writeInvoke(w, invokeError(500, "InternalError", msgDecideFailed))
		return
	}
	c.log.Info().Int64("draft_id", ca.DraftID).Str("kind", string(ca.Kind)).Str("outcome", string(res.Outcome)).Msg("teams decision")
	if res.Outcome == bot.Refused {
		msg := res.Message
		if msg == "" {
			msg = msgRefused
		}
		writeInvoke(w, invokeMessage(msg))
		return
	}
	c.refreshCard(ctx, a, res.Card)
	writeInvoke(w, invokeResponse{StatusCode: 200, Type: contentTypeCard, Value: renderCard(res.Card, c.view(ctx))})
}

// onConversationUpdate stores the staff conversation when the bot is added
// to a team channel or group chat of a staff tenant: the first such install,
// or any install by an admin. Personal installs never move it.
func (c *Channel) onConversationUpdate(ctx context.Context, w http.ResponseWriter, a *activity) {
	defer w.WriteHeader(http.StatusOK)
	if !a.botAdded() || !a.group() {
		return
	}
	tenant, ok := a.tenant()
	if !ok || !c.staff[tenant] {
		c.log.Info().Msg("teams install outside the staff tenants ignored")
		return
	}
	who, err := c.identify(ctx, a)
	if err != nil {
		c.log.Error().Err(err).Msg("teams identify failed")
		return
	}
	c.staffMu.Lock()
	defer c.staffMu.Unlock()
	if who.role != bot.RoleAdmin {
		if _, err := c.opts.State.StaffConversation(ctx); err == nil {
			c.log.Info().Msg("teams install ignored: a staff conversation exists (an admin can say /here)")
			return
		}
	}
	conv := conversationOf(a)
	conv.ID = threadRoot(conv.ID)
	if err := c.opts.State.SetStaffConversation(ctx, conv); err != nil {
		c.log.Error().Err(err).Msg("teams set staff conversation failed")
		return
	}
	c.log.Info().Str("conversation_type", conv.Type).Msg("teams staff conversation set by install")
	if _, err := c.conn.send(ctx, conv, "", textMessage(msgInstalled)...); err != nil {
		c.log.Warn().Err(err).Msg("teams welcome failed")
	}
}
