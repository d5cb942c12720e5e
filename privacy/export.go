package privacy

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"slices"
	"time"

	"github.com/switchboard/switchboard/bot"
)

// ExportSchema names the export document's format and version. The JSON
// Schema is testdata/export.schema.json; a new field keeps the version, a
// removed or changed one bumps it.
const ExportSchema = "switchboard.export/v1"

// exportKinds are the arrays of one subject, in the order the store
// streams them (see Store.ExportSubject), with their names in the document.
var exportKinds = []string{"identity", "message", "media", "draft", "decision", "decision-by", "outbox", "closed-ack", "card", "request", "audit"}

var exportArrays = map[string]string{
	"identity":    "identities",
	"message":     "messages",
	"media":       "media",
	"draft":       "drafts",
	"decision":    "decisions",
	"decision-by": "decisions_by_you",
	"outbox":      "outbox",
	"closed-ack":  "closed_hours_replies",
	"card":        "cards",
	"request":     "requests",
	"audit":       "audit",
}

// Document fields. Times are RFC 3339 in UTC; zero times are left out.

type xSubject struct {
	SubjectID    string `json:"subject_id"`
	Name         string `json:"name"`
	Role         string `json:"role"`
	Tenant       string `json:"tenant,omitempty"`
	AIRestricted bool   `json:"ai_restricted"`
	CreatedAt    string `json:"created_at,omitempty"`
}

type xIdentity struct {
	Kind  string `json:"kind"`
	Value string `json:"value"`
}

type xMessage struct {
	ID         int64  `json:"id"`
	Platform   string `json:"platform"`
	Chat       string `json:"chat"`
	PlatformID string `json:"platform_message_id"`
	Direction  string `json:"direction"`
	Kind       string `json:"kind"`
	Text       string `json:"text"`
	SentAt     string `json:"sent_at,omitempty"`
	StoredAt   string `json:"stored_at,omitempty"`
	Status     string `json:"status"`
}

type xQuoteLine struct {
	ItemID    string `json:"item_id"`
	Name      string `json:"name"`
	Quantity  int    `json:"quantity"`
	UnitPrice int64  `json:"unit_price"`
	Total     int64  `json:"total"`
}

type xQuote struct {
	Lines            []xQuoteLine `json:"lines"`
	Net              int64        `json:"net"`
	VAT              int64        `json:"vat"`
	Total            int64        `json:"total"`
	Currency         string       `json:"currency"`
	PriceListVersion string       `json:"price_list_version"`
}

type xDraft struct {
	ID          int64    `json:"id"`
	MessageID   int64    `json:"message_id"`
	Platform    string   `json:"platform"`
	Text        string   `json:"text"`
	Status      string   `json:"status"`
	Intent      string   `json:"intent,omitempty"`
	Quote       *xQuote  `json:"quote,omitempty"`
	HumanReason string   `json:"human_reason,omitempty"`
	Flags       []string `json:"flags,omitempty"`
	Manual      bool     `json:"manual"`
	Note        string   `json:"note,omitempty"`
	CreatedAt   string   `json:"created_at,omitempty"`
	UpdatedAt   string   `json:"updated_at,omitempty"`
}

type xDecision struct {
	DraftID     int64  `json:"draft_id"`
	Kind        string `json:"kind"`
	Text        string `json:"text,omitempty"`
	Instruction string `json:"instruction,omitempty"`
	// ByYou is true when the subject made the decision; other staff
	// members' identities are third-party data and left out.
	ByYou bool   `json:"by_you"`
	At    string `json:"at,omitempty"`
}

// xDecisionBy is a decision the subject took as staff on someone else's
// draft; the customer and the reply text are left out.
type xDecisionBy struct {
	DraftID int64  `json:"draft_id"`
	Kind    string `json:"kind"`
	At      string `json:"at,omitempty"`
}

type xOutbox struct {
	ID          int64  `json:"id"`
	DraftID     int64  `json:"draft_id"`
	Platform    string `json:"platform"`
	Chat        string `json:"chat"`
	Text        string `json:"text"`
	Status      string `json:"status"`
	Attempts    int    `json:"attempts"`
	NextAttempt string `json:"next_attempt,omitempty"`
	PlatformID  string `json:"platform_message_id,omitempty"`
	// Kind is "reply", or "template" for the business's message template
	// sent to ask you to write again (Template names it; Text is empty).
	Kind     string `json:"kind"`
	Template string `json:"template,omitempty"`
}

// xClosedAck is a closed period in which the business sent its fixed
// closed-hours reply (the text is in outbox and messages).
type xClosedAck struct {
	Platform    string `json:"platform"`
	ClosedUntil string `json:"closed_until,omitempty"`
	QueuedAt    string `json:"queued_at,omitempty"`
}

type xCard struct {
	Conversation string `json:"conversation"`
	ActivityID   string `json:"activity_id"`
}

type xAudit struct {
	At     string `json:"at"`
	Action string `json:"action"`
	// Actor is "you", "staff" or "system"; other people's ids are left out.
	Actor    string `json:"actor"`
	AboutYou bool   `json:"about_you"`
	Detail   string `json:"detail,omitempty"`
}

type xRequest struct {
	ID       int64          `json:"id"`
	Kind     string         `json:"kind"`
	Scope    string         `json:"scope"`
	Received string         `json:"received"`
	Due      string         `json:"due"`
	Done     string         `json:"done,omitempty"`
	Status   string         `json:"status"`
	Counts   map[string]int `json:"counts,omitempty"`
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// exportDoc writes one export document to w, streaming each row as the
// store yields it; only one row is in memory at a time.
type exportDoc struct {
	w      *bufio.Writer
	enc    *json.Encoder
	counts map[string]int

	// per subject
	self    bot.SubjectID  // the subject being written
	mine    []bot.Identity // its identities, for by_you
	next    int            // index in exportKinds of the next array to open
	open    bool           // an array is open
	first   bool           // no element yet in the open array
	started bool           // the subject object is open

	files []zipFile // fetched media, for the ZIP (exportzip.go)
}

func newExportDoc(w io.Writer) *exportDoc {
	bw := bufio.NewWriterSize(w, 64<<10)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	return &exportDoc{w: bw, enc: enc, counts: map[string]int{}}
}

func (d *exportDoc) raw(s string) error {
	_, err := d.w.WriteString(s)
	return err
}

func (d *exportDoc) key(k string, v any) error {
	if err := d.raw(fmt.Sprintf("%q:", k)); err != nil {
		return err
	}
	return d.enc.Encode(v)
}

// begin writes the document head up to the subjects array.
func (d *exportDoc) begin(generated time.Time, requestID int64, scope Scope, sup Supplementary) error {
	if err := d.raw("{\n"); err != nil {
		return err
	}
	for _, kv := range []struct {
		k string
		v any
	}{{"schema", ExportSchema}, {"generated_at", stamp(generated)}, {"request_id", requestID}, {"scope", string(scope)}, {"supplementary_information", sup}} {
		if err := d.key(kv.k, kv.v); err != nil {
			return err
		}
		if err := d.raw(","); err != nil {
			return err
		}
	}
	return d.raw("\"subjects\":[\n")
}

// subject streams one subject through ExportSubject.
func (d *exportDoc) subject(ctx context.Context, st Store, s bot.SubjectID, nth int) error {
	ids, err := st.Identities(ctx, s)
	if err != nil {
		return fmt.Errorf("export identities: %w", err)
	}
	d.self, d.mine, d.next, d.open, d.started = s, ids, 0, false, false
	if nth > 0 {
		if err := d.raw(","); err != nil {
			return err
		}
	}
	if err := st.ExportSubject(ctx, s, d.row); err != nil {
		return fmt.Errorf("export subject %s: %w", s, err)
	}
	if !d.started {
		return fmt.Errorf("export subject %s: %w", s, bot.ErrNotFound)
	}
	if err := d.closeTo(len(exportKinds)); err != nil {
		return err
	}
	d.counts["subjects"]++
	return d.raw("}\n")
}

// closeTo closes the open array and writes empty arrays for the kinds the
// store had no rows of, up to (not including) index i.
func (d *exportDoc) closeTo(i int) error {
	if d.open {
		if err := d.raw("]"); err != nil {
			return err
		}
		d.open = false
	}
	for ; d.next < i; d.next++ {
		if err := d.raw(fmt.Sprintf(",%q:[]", exportArrays[exportKinds[d.next]])); err != nil {
			return err
		}
	}
	return nil
}

// row is the ExportSubject callback.
func (d *exportDoc) row(kind string, v any) error {
	if kind == "subject" {
		if d.started {
			return fmt.Errorf("export: second subject row")
		}
		x, err := d.convert(kind, v)
		if err != nil {
			return err
		}
		d.started = true
		if err := d.raw("{"); err != nil {
			return err
		}
		return d.key("subject", x)
	}
	if !d.started {
		return fmt.Errorf("export: %s row before the subject row", kind)
	}
	i := slices.Index(exportKinds, kind)
	if i < 0 {
		return fmt.Errorf("export: unknown row kind %q", kind)
	}
	x, err := d.convert(kind, v)
	if err != nil {
		return err
	}
	switch {
	case d.open && i == d.next-1: // same array
		if err := d.raw(","); err != nil {
			return err
		}
	case i >= d.next:
		if err := d.closeTo(i); err != nil {
			return err
		}
		if err := d.raw(fmt.Sprintf(",%q:[\n", exportArrays[kind])); err != nil {
			return err
		}
		d.open, d.next = true, i+1
	default:
		return fmt.Errorf("export: %s rows out of order", kind)
	}
	d.counts[exportArrays[kind]]++
	return d.enc.Encode(x)
}

// end closes the document and flushes it.
func (d *exportDoc) end() error {
	if err := d.raw("]}\n"); err != nil {
		return err
	}
	return d.w.Flush()
}

// convert maps a store row to its documented form. Unknown types are an
// error, so the document never holds fields its schema does not describe.
func (d *exportDoc) convert(kind string, v any) (any, error) {
	if kind == "decision" || kind == "decision-by" {
		x, by, ok := decisionOf(v)
		if !ok {
			return nil, fmt.Errorf("export: %s row of unexpected type %T", kind, v)
		}
		if kind == "decision-by" {
			return xDecisionBy{DraftID: x.DraftID, Kind: string(x.Kind), At: stamp(x.At)}, nil
		}
		byYou := by != "" && by == d.self || !x.By.IsZero() && slices.Contains(d.mine, x.By)
		return xDecision{DraftID: x.DraftID, Kind: string(x.Kind), Text: x.Text, Instruction: x.Instruction,
			ByYou: byYou, At: stamp(x.At)}, nil
	}
	if rv := reflect.ValueOf(v); rv.Kind() == reflect.Pointer && !rv.IsNil() {
		v = rv.Elem().Interface()
	}
	var out any
	ok := false
	switch x := v.(type) {
	case bot.Subject:
		out, ok = xSubject{SubjectID: string(x.ID), Name: x.Name, Role: string(x.Role), Tenant: x.Tenant,
			AIRestricted: x.AIRestricted, CreatedAt: stamp(x.CreatedAt)}, kind == "subject"
	case bot.Identity:
		out, ok = xIdentity{Kind: string(x.Kind), Value: x.Value}, kind == "identity"
	case bot.Message:
		out, ok = xMessage{ID: x.ID, Platform: string(x.Platform), Chat: string(x.Chat), PlatformID: string(x.PlatformID),
			Direction: string(x.Dir), Kind: string(x.Kind), Text: x.Text, SentAt: stamp(x.SentAt),
			StoredAt: stamp(x.StoredAt), Status: string(x.Status)}, kind == "message"
	case bot.Media:
		out, ok = d.mediaDoc(x), kind == "media"
	case bot.Draft:
		out, ok = draftDoc(x), kind == "draft"
	case bot.OutboxItem:
		out, ok = xOutbox{ID: x.ID, DraftID: x.DraftID, Platform: string(x.Platform), Chat: string(x.Chat), Text: x.Text,
			Status: string(x.Status), Attempts: x.Attempts, NextAttempt: stamp(x.NextAttempt), PlatformID: string(x.PlatformID),
			Kind: outboxKind(x.Kind), Template: x.Template.Name}, kind == "outbox"
	case bot.ClosedAck:
		out, ok = xClosedAck{Platform: string(x.Platform), ClosedUntil: stamp(x.Until), QueuedAt: stamp(x.At)}, kind == "closed-ack"
	case bot.CardRef:
		out, ok = xCard{Conversation: x.Conversation, ActivityID: x.ActivityID}, kind == "card"
	case bot.Request:
		out, ok = xRequest{ID: x.ID, Kind: string(x.Kind), Scope: x.Scope, Received: stamp(x.Received), Due: stamp(x.Due),
			Done: stamp(x.Done), Status: x.Status, Counts: x.Counts}, kind == "request"
	case bot.AuditEntry:
		actor := "staff"
		switch x.Actor {
		case "":
			actor = "system"
		case d.self:
			actor = "you"
		}
		out, ok = xAudit{At: stamp(x.At), Action: x.Action, Actor: actor, AboutYou: x.Subject == d.self, Detail: x.Detail}, kind == "audit"
	}
	if !ok {
		return nil, fmt.Errorf("export: %s row of unexpected type %T", kind, v)
	}
	return out, nil
}

// outboxKind names an outbox row's kind in the export.
func outboxKind(k bot.OutboxKind) string {
	if k == "" {
		return string(bot.OutboxReply)
	}
	return string(k)
}

func draftDoc(x bot.Draft) xDraft {
	out := xDraft{ID: x.ID, MessageID: x.MessageID, Platform: string(x.Platform), Text: x.Text,
		Status: string(x.Status), CreatedAt: stamp(x.CreatedAt), UpdatedAt: stamp(x.UpdatedAt)}
	if r := x.Result; r != nil {
		out.Intent, out.HumanReason, out.Flags, out.Manual, out.Note = r.Intent, r.HumanReason, r.Flags, r.Manual, r.Note
		if q := r.Quote; q != nil {
			xq := &xQuote{Lines: []xQuoteLine{}, Net: q.Net, VAT: q.VAT, Total: q.Total, Currency: q.Currency, PriceListVersion: q.PriceListVersion}
			for _, l := range q.Lines {
				xq.Lines = append(xq.Lines, xQuoteLine{l.ItemID, l.Name, l.Quantity, l.UnitPrice, l.Total})
			}
			out.Quote = xq
		}
	}
	return out
}

// decisionOf reads a decision row: a bot.Decision, or a store record that
// embeds one next to a BySubject field (the deciding subject).
func decisionOf(v any) (bot.Decision, bot.SubjectID, bool) {
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.Pointer {
		if rv.IsNil() {
			return bot.Decision{}, "", false
		}
		rv = rv.Elem()
	}
	if rv.Kind() != reflect.Struct {
		return bot.Decision{}, "", false
	}
	if d, ok := rv.Interface().(bot.Decision); ok {
		return d, "", true
	}
	f := rv.FieldByName("Decision")
	if !f.IsValid() || !f.CanInterface() {
		return bot.Decision{}, "", false
	}
	d, ok := f.Interface().(bot.Decision)
	if !ok {
		return bot.Decision{}, "", false
	}
	var by bot.SubjectID
	if b := rv.FieldByName("BySubject"); b.IsValid() && b.CanInterface() {
		by, _ = b.Interface().(bot.SubjectID)
	}
	return d, by, true
}

// writeExport streams the export document of subjects to w and returns the
// rows written per array.
func writeExport(ctx context.Context, st Store, w io.Writer, generated time.Time, requestID int64, scope Scope, sup Supplementary, subjects []bot.SubjectID) (map[string]int, error) {
	counts, _, err := writeExportFiles(ctx, st, w, generated, requestID, scope, sup, subjects)
	return counts, err
}

// writeExportFiles is writeExport that also returns the fetched media the
// document names, for the ZIP that carries them (see writeExportZip).
func writeExportFiles(ctx context.Context, st Store, w io.Writer, generated time.Time, requestID int64, scope Scope, sup Supplementary, subjects []bot.SubjectID) (map[string]int, []zipFile, error) {
	counts, files, err := writeExportDoc(ctx, st, newExportDoc(w), generated, requestID, scope, sup, subjects)
	return counts, files, err
}

func writeExportDoc(ctx context.Context, st Store, d *exportDoc, generated time.Time, requestID int64, scope Scope, sup Supplementary, subjects []bot.SubjectID) (map[string]int, []zipFile, error) {
	if err := d.begin(generated, requestID, scope, sup); err != nil {
		return nil, nil, fmt.Errorf("export: %w", err)
	}
	for i, s := range subjects {
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
		if err := d.subject(ctx, st, s, i); err != nil {
			return nil, nil, err
		}
	}
	if err := d.end(); err != nil {
		return nil, nil, fmt.Errorf("export: %w", err)
	}
	return d.counts, d.files, nil
}
