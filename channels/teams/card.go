package teams

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/infracloudio/msbotbuilder-go/schema"

	"github.com/switchboard/switchboard/bot"
)

// obj is one JSON object of an Adaptive Card.
type obj = map[string]any

// maxReplyLen bounds an edited reply or an instruction from a card.
const maxReplyLen = 4096

// removedText is what a card says once blanked at the customer's request.
const removedText = "Removed at the customer's request."

// preparingText is the placeholder posted before a card's content. If the
// bot stopped right after posting it, it stays like this: it names nobody.
const preparingText = "Preparing a card for a new customer message… (if this stays, the bot restarted and posted the card again below)"

// view is what a card is rendered with besides the bot.Card: the time (for
// "12 minutes ago") and the admins' reply snippets offered in Edit.
type view struct {
	now      time.Time
	snippets []Snippet
	// media says how staff can open a card's attachments (medialink.go).
	media mediaView
}

// renderCard builds the Adaptive Card (schema 1.5) staff see for c.
//
// Readability: no text sets a colour. Meaning is carried by words ("Needs a
// person:", "⚠"), weight, and Container styles (warning, attention,
// emphasis) whose backgrounds Teams' host configs pair with their default
// text colour; card_test.go measures those pairs in the light, dark and
// high-contrast themes.
func renderCard(c bot.Card, v view) obj {
	card := obj{
		"type":    "AdaptiveCard",
		"$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
		"version": "1.5",
		"msteams": obj{"width": "Full"},
	}
	if c.Removed {
		card["body"] = []any{plainBlock(removedText, obj{"isSubtle": true, "italic": true})}
		return card
	}
	if c.Preparing {
		// Posted before the card's content: no name, no text, no action.
		card["body"] = []any{textBlock(preparingText, obj{"isSubtle": true, "italic": true})}
		return card
	}
	customer := c.Customer
	if customer == "" {
		customer = "a customer"
	}
	body := []any{
		plainBlock("Reply to "+customer, obj{"size": "Medium", "weight": "Bolder"}),
		textBlock(statusLine(c, v.now), obj{"isSubtle": true, "spacing": "None"}),
	}
	if len(c.Recent) > 0 {
		body = append(body, recentBlock(c.Recent))
	}
	body = append(body,
		textBlock("Customer wrote", obj{"weight": "Bolder"}),
		plainBlock(orPlaceholder(c.Message, "(no text)"), nil))
	body = append(body, mediaBlocks(c, v.media)...)
	r := c.Result
	if label := intentLabel(r); label != "" {
		body = append(body, textBlock("What they want: "+label, obj{"isSubtle": true, "size": "Small", "spacing": "Small"}))
	}
	body = append(body, closedReplyLine(c, v.now)...)
	if c.Draft != "" {
		body = append(body, textBlock(replyHeading(c), obj{"weight": "Bolder"}), plainBlock(c.Draft, nil))
		if c.Author != "" {
			body = append(body, textBlock(c.Author, obj{"isSubtle": true, "size": "Small", "spacing": "None"}))
		}
	}
	if r != nil && r.Quote != nil && len(r.Quote.Lines) > 0 {
		body = append(body, quoteTable(*r.Quote, strings.Contains(c.Author, "edited by"))...)
	}
	body = append(body, attachmentBlocks(c)...)
	if r != nil && r.HumanReason != "" {
		body = append(body, notice("warning", "Needs a person: ", r.HumanReason))
	}
	if c.Note != "" {
		body = append(body, notice("warning", "", c.Note))
	}
	if line := windowLine(c); line != "" && !decided(c) {
		style := obj{"size": "Small"}
		if c.WindowLeft <= 0 {
			style = obj{"weight": "Bolder"}
		}
		body = append(body, textBlock(line, style))
	}
	if r.Blocked() {
		var items []any
		for _, f := range r.Flags {
			items = append(items, plainBlock("⚠ "+f, nil))
		}
		if !decided(c) {
			items = append(items, textBlock("Edit the draft before it can be sent.", obj{"weight": "Bolder"}))
		}
		body = append(body, obj{"type": "Container", "style": "attention", "items": items, "spacing": "Medium"})
	}
	if decided(c) {
		facts := []any{}
		by := c.DecidedBy
		if by == "" {
			by = "staff"
		}
		facts = append(facts, obj{"title": "Decided by", "value": by})
		if !c.DecidedAt.IsZero() {
			facts = append(facts, obj{"title": "When", "value": c.DecidedAt.UTC().Format("2 Jan 2006 15:04 UTC")})
		}
		if c.Status != bot.DraftRejected {
			facts = append(facts, obj{"title": "Reply", "value": sendLabel(c.SendStatus)})
		}
		body = append(body, obj{"type": "FactSet", "facts": facts, "separator": true})
		if c.Waiting != "" && (c.SendStatus == bot.StatusPending || c.SendStatus == "") {
			body = append(body, notice("warning", "Waiting for "+c.Waiting.Name()+": ", "the reply goes out once "+c.Waiting.Name()+" is connected."))
		}
		if resendable(c) {
			reason := c.SendReason
			if reason == "" {
				reason = "The reply was not sent."
			}
			label := "Not sent: "
			if c.SendStatus == bot.StatusUnconfirmed {
				label = "Not confirmed: "
			}
			body = append(body, notice("attention", label, reason))
			card["actions"] = []any{execute("Resend", "resend", c, obj{"style": "positive"})}
		}
	} else {
		card["actions"] = cardActions(c, v.snippets)
	}
	card["body"] = body
	return card
}

// windowLine says where the chat is in its reply window (the WhatsApp
// Business Platform's 24 hours), or "" when the channel has none. The
// closing time is absolute, so the line stays true as the card ages.
func windowLine(c bot.Card) string {
	if c.WindowEnds.IsZero() {
		return ""
	}
	at := c.WindowEnds.UTC().Format("2 Jan 15:04") + " UTC"
	if c.WindowLeft > 0 {
		return "Reply window: " + bot.DurationWords(c.WindowLeft) + " left (closes " + at + ")."
	}
	if c.Template {
		return "Reply window closed at " + at + ": send the template to ask the customer to write again, then send the reply."
	}
	return "Reply window closed at " + at + ": the customer must write again before a reply can be sent."
}

// notice is a Container whose style carries the meaning with its
// background; its text keeps the default colour, and label says in words
// what it is. text is shown literally.
func notice(style, label, text string) obj {
	var inlines []any
	if label != "" {
		inlines = append(inlines, obj{"type": "TextRun", "text": label, "weight": "Bolder"})
	}
	inlines = append(inlines, obj{"type": "TextRun", "text": text})
	return obj{"type": "Container", "style": style, "spacing": "Medium",
		"items": []any{obj{"type": "RichTextBlock", "inlines": inlines}}}
}

// recentBlock shows the conversation before the customer's message.
func recentBlock(lines []bot.CardLine) obj {
	items := []any{textBlock("Earlier in this chat", obj{"isSubtle": true, "size": "Small", "weight": "Bolder"})}
	for _, l := range lines {
		who := "Customer: "
		if l.Dir == bot.Out {
			who = "Us: "
		}
		items = append(items, obj{"type": "RichTextBlock", "spacing": "Small", "inlines": []any{
			obj{"type": "TextRun", "text": who, "weight": "Bolder", "size": "Small"},
			obj{"type": "TextRun", "text": l.Text, "size": "Small"},
		}})
	}
	return obj{"type": "Container", "style": "emphasis", "items": items, "spacing": "Medium"}
}

// intentLabels are the drafter's intents in words; others are not shown.
var intentLabels = map[string]string{
	"question":  "an answer to a question",
	"quote":     "a price",
	"booking":   "to book a visit",
	"complaint": "to make a complaint",
}

func intentLabel(r *bot.DraftResult) string {
	if r == nil {
		return ""
	}
	return intentLabels[r.Intent]
}

// replyHeading names the reply block.
func replyHeading(c bot.Card) string {
	switch {
	case c.Status == bot.DraftRejected:
		return "Draft reply (not sent)"
	case decided(c):
		return "Reply"
	}
	return "Draft reply"
}

// decided reports whether the card shows a settled draft.
func decided(c bot.Card) bool { return c.Status.Decided() || c.DecidedBy != "" }

func textBlock(text string, extra obj) obj {
	b := obj{"type": "TextBlock", "text": text, "wrap": true}
	for k, v := range extra {
		b[k] = v
	}
	return b
}

// plainBlock shows untrusted text (the customer's words, drafts, model
// output) as a TextRun, which Teams never renders as markdown: a link or
// formatting in a message stays literal text.
func plainBlock(text string, style obj) obj {
	run := obj{"type": "TextRun", "text": text}
	for k, v := range style {
		run[k] = v
	}
	return obj{"type": "RichTextBlock", "inlines": []any{run}}
}

func orPlaceholder(s, p string) string {
	if strings.TrimSpace(s) == "" {
		return p
	}
	return s
}

// statusLine is the card's state and, while undecided, how long ago the
// customer wrote ("12 minutes ago", then the time in the viewer's zone).
func statusLine(c bot.Card, now time.Time) string {
	s := statusLabel(c)
	if decided(c) || c.WroteAt.IsZero() || now.IsZero() {
		return s
	}
	at := c.WroteAt.UTC()
	when := "{{TIME(" + at.Format("2006-01-02T15:04:05Z") + ")}}"
	if now.Sub(at) >= 20*time.Hour {
		when = "{{DATE(" + at.Format("2006-01-02T15:04:05Z") + ", SHORT)}} " + when
	}
	return s + " · the customer wrote " + ago(now.Sub(at)) + " (" + when + ")"
}

// ago says a duration in plain words: "just now", "1 minute ago",
// "3 hours ago", "2 days ago".
func ago(d time.Duration) string {
	plural := func(n int, unit string) string {
		if n == 1 {
			return "1 " + unit + " ago"
		}
		return strconv.Itoa(n) + " " + unit + "s ago"
	}
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return plural(int(d/time.Minute), "minute")
	case d < 48*time.Hour:
		return plural(int(d/time.Hour), "hour")
	}
	return plural(int(d/(24*time.Hour)), "day")
}

func statusLabel(c bot.Card) string {
	switch c.Status {
	case bot.DraftApproved:
		return "Approved"
	case bot.DraftEdited:
		return "Edited and approved"
	case bot.DraftRejected:
		return "Rejected"
	case bot.DraftFailed:
		return "Drafting failed"
	case bot.DraftSent:
		// The headline follows the reply's ticks, as the Reply fact does.
		switch c.SendStatus {
		case bot.StatusDelivered:
			return "Sent and delivered"
		case bot.StatusRead:
			return "Sent and read"
		case bot.StatusFailed:
			return "Sent, then not delivered"
		}
		return "Sent"
	case bot.DraftDrafting:
		return "Drafting a reply…"
	}
	if c.Result != nil && c.Result.Manual {
		return "Waiting for a reply by hand"
	}
	return "Waiting for approval"
}

func sendLabel(s bot.MessageStatus) string {
	switch s {
	case bot.StatusPending:
		return "queued"
	case bot.StatusSending:
		return "sending"
	case bot.StatusUnconfirmed:
		return "not confirmed"
	case bot.StatusSent:
		return "sent"
	case bot.StatusDelivered:
		return "delivered"
	case bot.StatusRead:
		return "read"
	case bot.StatusFailed:
		return "failed to send"
	}
	return "not sent yet"
}

// quoteTable renders a quote as a Table with totals and the price list
// version (for staff only; the customer's reply never carries it). fromAI
// marks a quote whose reply staff rewrote.
func quoteTable(q bot.Quote, fromAI bool) []any {
	cell := func(s string, extra obj) obj {
		return obj{"type": "TableCell", "items": []any{textBlock(s, extra)}}
	}
	row := func(cells ...obj) obj {
		cs := make([]any, len(cells))
		for i, c := range cells {
			cs[i] = c
		}
		return obj{"type": "TableRow", "cells": cs}
	}
	right := obj{"horizontalAlignment": "Right"}
	rows := []any{row(cell("Item", nil), cell("Qty", right), cell("Unit", right), cell("Total", right))}
	for _, l := range q.Lines {
		rows = append(rows, row(cell(l.Name, nil), cell(strconv.Itoa(l.Quantity), right),
			cell(money(l.UnitPrice, q.Currency), right), cell(money(l.Total, q.Currency), right)))
	}
	bold := obj{"horizontalAlignment": "Right", "weight": "Bolder"}
	rows = append(rows,
		row(cell("Net", nil), cell("", nil), cell("", nil), cell(money(q.Net, q.Currency), right)),
		row(cell("VAT", nil), cell("", nil), cell("", nil), cell(money(q.VAT, q.Currency), right)),
		row(cell("Total", obj{"weight": "Bolder"}), cell("", nil), cell("", nil), cell(money(q.Total, q.Currency), bold)))
	title := "Quote"
	if fromAI {
		title = "Quote from the AI draft"
	}
	out := []any{
		textBlock(title, obj{"weight": "Bolder"}),
		obj{
			"type":             "Table",
			"firstRowAsHeader": true,
			"showGridLines":    false,
			"columns":          []any{obj{"width": 4}, obj{"width": 1}, obj{"width": 2}, obj{"width": 2}},
			"rows":             rows,
		},
	}
	if q.PriceListVersion != "" {
		out = append(out, textBlock("Prices from price list version "+q.PriceListVersion, obj{"isSubtle": true, "size": "Small"}))
	}
	return out
}

// money formats minor units: 1250 GBP is "£12.50".
func money(minor int64, currency string) string {
	sign := ""
	if minor < 0 {
		sign, minor = "-", -minor
	}
	amount := fmt.Sprintf("%d.%02d", minor/100, minor%100)
	switch strings.ToUpper(currency) {
	case "GBP", "":
		return sign + "£" + amount
	case "EUR":
		return sign + "€" + amount
	case "USD":
		return sign + "$" + amount
	}
	return sign + amount + " " + currency
}

// resendable reports whether the card offers to send a failed or
// unconfirmed reply again.
func resendable(c bot.Card) bool {
	return c.SendStatus == bot.StatusFailed || c.SendStatus == bot.StatusUnconfirmed
}

// Card verbs; each is one bot.DecisionKind.
var verbs = map[string]bot.DecisionKind{
	"approve":    bot.Approve,
	"edit":       bot.Edit,
	"reject":     bot.Reject,
	"regenerate": bot.Regenerate,
	"retry":      bot.Retry,
	"resend":     bot.Resend,
	"template":   bot.SendTemplate,
}

// execute is an Action.Execute whose data also carries the verb, so the
// same click works as an Action.Submit on clients that fall back. The data
// carries the draft's token, so the click acts on this card's draft only.
func execute(title, verb string, c bot.Card, extra obj) obj {
	data := obj{"switchboard": "decide", "verb": verb, "draft": c.DraftID}
	if c.Token != "" {
		data["token"] = c.Token
	}
	a := obj{
		"type":  "Action.Execute",
		"title": title,
		"verb":  verb,
		"data":  data,
	}
	for k, v := range extra {
		a[k] = v
	}
	return a
}

func showCard(title string, body []any, actions []any) obj {
	return obj{
		"type":  "Action.ShowCard",
		"title": title,
		"card":  obj{"type": "AdaptiveCard", "body": body, "actions": actions},
	}
}

// cardActions offers what staff may do with an undecided draft.
func cardActions(c bot.Card, snippets []Snippet) []any {
	r := c.Result
	manual := r != nil && r.Manual
	drafting := c.Status == bot.DraftDrafting
	// A closed reply window takes no reply: neither Approve nor Edit is
	// offered until the customer writes again (the router refreshes the
	// card when the window closes and when it reopens).
	closed := !c.WindowEnds.IsZero() && c.WindowLeft <= 0
	var acts []any
	switch {
	case c.Status == bot.DraftFailed:
		if r == nil || r.Failure.Retry() {
			acts = append(acts, execute("Retry", "retry", c, nil))
		}
	case !manual && !drafting && c.Draft != "" && !r.Blocked() && !closed:
		acts = append(acts, execute("Approve", "approve", c, obj{"style": "positive"}))
	}
	editTitle := "Edit"
	if c.Draft == "" {
		editTitle = "Write reply"
	}
	if !closed {
		acts = append(acts, showCard(editTitle, editInputs(c, snippets),
			[]any{execute("Send this reply", "edit", c, obj{"style": "positive"})}))
	}
	if !manual && !drafting && c.Status != bot.DraftFailed {
		acts = append(acts, showCard("Regenerate",
			[]any{obj{"type": "Input.Text", "id": "instruction", "label": "What should change? (optional)",
				"placeholder": "shorter, friendlier, mention opening hours…", "maxLength": 500}},
			[]any{execute("Draft again", "regenerate", c, nil)}))
	}
	if c.Template && closed {
		acts = append(acts, execute("Send template", "template", c, nil))
	}
	acts = append(acts, execute("Reject", "reject", c, obj{"style": "destructive"}))
	return acts
}

// editInputs is the Edit form: the reply, and the admins' snippets to add
// to it. With snippets the reply may be left empty (the snippet is the
// reply); the router refuses a reply that is empty all the same.
func editInputs(c bot.Card, snippets []Snippet) []any {
	text := obj{"type": "Input.Text", "id": "text", "label": "Reply", "isMultiline": true,
		"value": c.Draft, "maxLength": maxReplyLen, "isRequired": true, "errorMessage": "Write a reply"}
	if len(snippets) == 0 {
		return []any{text}
	}
	delete(text, "isRequired")
	delete(text, "errorMessage")
	choices := make([]any, 0, len(snippets))
	for _, sn := range snippets {
		choices = append(choices, obj{"title": sn.Name + ": " + clipRunes(sn.Text, 60), "value": sn.Name})
	}
	return []any{text, obj{"type": "Input.ChoiceSet", "id": "snippet", "label": "Add a snippet (optional)",
		"style": "compact", "isMultiSelect": false, "placeholder": "No snippet", "choices": choices}}
}

// clipRunes cuts s to n characters, marking the cut.
func clipRunes(s string, n int) string {
	r := []rune(strings.Join(strings.Fields(s), " "))
	if len(r) <= n {
		return string(r)
	}
	return string(r[:n-1]) + "…"
}

// cardAttachment wraps a card for an activity.
func cardAttachment(c bot.Card, v view) schema.Attachment {
	return schema.Attachment{ContentType: contentTypeCard, Content: renderCard(c, v)}
}

// cardAction is a decoded click on a card.
type cardAction struct {
	Kind        bot.DecisionKind
	DraftID     int64
	Token       string
	Text        string
	Instruction string
	Snippet     string // the snippet chosen under Edit, lower case; "" for none
}

// parseCardAction decodes the value of an Action.Submit message (invoke
// false) or an adaptiveCard/action invoke (invoke true). ok is false when the
// value is not one of our card actions at all.
func parseCardAction(value json.RawMessage, invoke bool) (a cardAction, ok bool, err error) {
	if len(bytes.TrimSpace(value)) == 0 {
		return cardAction{}, false, nil
	}
	data := value
	verb := ""
	if invoke {
		var inv struct {
			Action struct {
				Type string          `json:"type"`
				Verb string          `json:"verb"`
				Data json.RawMessage `json:"data"`
			} `json:"action"`
		}
		if err := json.Unmarshal(value, &inv); err != nil {
			return cardAction{}, false, fmt.Errorf("card action: %w: malformed value", errBadActivity)
		}
		data, verb = inv.Action.Data, inv.Action.Verb
		if len(bytes.TrimSpace(data)) == 0 {
			data = []byte("{}")
		}
	}
	var d struct {
		Switchboard string          `json:"switchboard"`
		Verb        string          `json:"verb"`
		Draft       json.RawMessage `json:"draft"`
		Token       string          `json:"token"`
		Text        *string         `json:"text"`
		Instruction *string         `json:"instruction"`
		Snippet     *string         `json:"snippet"`
	}
	if err := json.Unmarshal(data, &d); err != nil {
		if invoke {
			return cardAction{}, false, fmt.Errorf("card action: %w: malformed data", errBadActivity)
		}
		return cardAction{}, false, nil // a Submit from someone else's card
	}
	if d.Switchboard != "decide" {
		return cardAction{}, false, nil
	}
	if verb == "" {
		verb = d.Verb
	}
	kind, known := verbs[verb]
	if !known {
		return cardAction{}, true, fmt.Errorf("card action: %w: unknown verb", errBadActivity)
	}
	id, err := strconv.ParseInt(strings.Trim(string(bytes.TrimSpace(d.Draft)), `"`), 10, 64)
	if err != nil || id <= 0 {
		return cardAction{}, true, fmt.Errorf("card action: %w: bad draft id", errBadActivity)
	}
	if len(d.Token) > 64 {
		return cardAction{}, true, fmt.Errorf("card action: %w: bad token", errBadActivity)
	}
	a = cardAction{Kind: kind, DraftID: id, Token: d.Token}
	if kind == bot.Edit && d.Text != nil {
		a.Text = strings.TrimSpace(*d.Text)
	}
	if kind == bot.Regenerate && d.Instruction != nil {
		a.Instruction = strings.TrimSpace(*d.Instruction)
	}
	if kind == bot.Edit && d.Snippet != nil && strings.TrimSpace(*d.Snippet) != "" {
		name, ok := snippetName(*d.Snippet)
		if !ok {
			return cardAction{}, true, fmt.Errorf("card action: %w: bad snippet name", errBadActivity)
		}
		a.Snippet = name
	}
	if len(a.Text) > maxReplyLen || len(a.Instruction) > maxReplyLen {
		return cardAction{}, true, fmt.Errorf("card action: %w", bot.ErrTooLarge)
	}
	return a, true, nil
}
