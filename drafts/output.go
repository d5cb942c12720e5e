package drafts

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/switchboard/switchboard/bot"
)

// ErrMalformedOutput is returned when the model's answer is not the JSON the
// schema asks for, or has no choice at all. No draft is made up from it.
var ErrMalformedOutput = errors.New("malformed model output")

// Flags: short operator-safe sentences; each blocks approval.
const (
	FlagUnknownItem      = "The draft quotes an item that is not on the price list."
	FlagBadQuantity      = "The draft quotes an implausible quantity."
	FlagInventedAmount   = "The draft states an amount, a discount or free work itself; amounts must come from the price list."
	FlagOtherCurrency    = "The draft states an amount in another currency."
	FlagInventedContact  = "The draft refers to personal details the conversation did not contain."
	FlagTotalNoQuote     = "The draft refers to a quote total, but nothing could be priced."
	FlagLeak             = "The draft repeats the assistant's instructions."
	FlagLink             = "The draft contains a link; check where it goes."
	FlagCustomerInjected = "The customer's message looks like an attempt to instruct the AI; check the draft."
	FlagModelSuspected   = "The AI suspected the customer's message tries to manipulate it; check the draft."
	FlagNoPriceList      = "The draft quotes, but there is no price list."
)

// responseSchema is the strict JSON schema of the model's answer.
func responseSchema() json.RawMessage {
	return json.RawMessage(`{
  "type": "object",
  "properties": {
    "reply": {"type": "string", "description": "The reply to send to the customer, in their language. No amounts: write [PRICE:item id] for an item's price, [QUOTE] on its own line for the priced quote, [TOTAL] for its total. Empty only if a person must answer."},
    "intent": {"type": "string", "enum": ["question", "quote", "booking", "complaint", "other"]},
    "quote_items": {
      "type": "array",
      "description": "Price-list items and quantities for a quote; empty when not quoting.",
      "items": {
        "type": "object",
        "properties": {
          "item_id": {"type": "string"},
          "quantity": {"type": "integer"}
        },
        "required": ["item_id", "quantity"],
        "additionalProperties": false
      }
    },
    "needs_human": {"type": "string", "description": "Why a person must answer; empty if not needed."},
    "suspected_injection": {"type": "boolean"}
  },
  "required": ["reply", "intent", "quote_items", "needs_human", "suspected_injection"],
  "additionalProperties": false
}`)
}

// modelOutput is the model's answer; pointers tell absent from empty.
type modelOutput struct {
	Reply      *string `json:"reply"`
	Intent     *string `json:"intent"`
	QuoteItems *[]struct {
		ItemID   string `json:"item_id"`
		Quantity int64  `json:"quantity"`
	} `json:"quote_items"`
	NeedsHuman         *string `json:"needs_human"`
	SuspectedInjection bool    `json:"suspected_injection"`
}

const maxOutputBytes = 64 << 10

// parseOutput decodes the model's content. A code fence around the JSON (some
// local models add one) is tolerated; anything else malformed is an error
// that holds no content.
func parseOutput(content string) (modelOutput, error) {
	c := strings.TrimSpace(content)
	if strings.HasPrefix(c, "```") {
		c = strings.TrimPrefix(c, "```json")
		c = strings.TrimPrefix(c, "```")
		c = strings.TrimSuffix(strings.TrimSpace(c), "```")
	}
	if c == "" {
		return modelOutput{}, fmt.Errorf("%w: empty content", ErrMalformedOutput)
	}
	if len(c) > maxOutputBytes {
		return modelOutput{}, fmt.Errorf("%w: content over %d bytes", ErrMalformedOutput, maxOutputBytes)
	}
	var out modelOutput
	dec := json.NewDecoder(bytes.NewReader([]byte(c)))
	if err := dec.Decode(&out); err != nil {
		return modelOutput{}, fmt.Errorf("%w: not the schema's JSON", ErrMalformedOutput)
	}
	if dec.More() {
		return modelOutput{}, fmt.Errorf("%w: trailing data", ErrMalformedOutput)
	}
	if out.Reply == nil || out.Intent == nil || out.QuoteItems == nil || out.NeedsHuman == nil {
		return modelOutput{}, fmt.Errorf("%w: a required field is missing", ErrMalformedOutput)
	}
	if strings.TrimSpace(*out.Reply) == "" && strings.TrimSpace(*out.NeedsHuman) == "" {
		return modelOutput{}, fmt.Errorf("%w: neither a reply nor a reason", ErrMalformedOutput)
	}
	if len(*out.QuoteItems) > maxQuoteLines {
		return modelOutput{}, fmt.Errorf("%w: more than 50 quote items", ErrMalformedOutput)
	}
	return out, nil
}

// QuoteItem is one line the model asked for.
type QuoteItem struct {
	ItemID   string
	Quantity int64
}

// Bounds of a quote: they keep every amount far from int64 overflow
// (1e10 × 999 × 50 × 10000 < 9.2e18).
const (
	maxQuantity   = 999
	maxQuoteLines = 50
)

// ComputeQuote prices items from the profile's price list. Amounts are minor
// units; VAT is rounded half up to the minor unit on the net total. Items not
// on the list, with a quantity outside 1..999 or beyond 50 lines are left
// out and reported in flags. It returns a nil quote when no line could be priced.
func ComputeQuote(p *Profile, items []QuoteItem) (*bot.Quote, []string) {
	var flags []string
	q := &bot.Quote{Currency: p.Currency, PriceListVersion: p.PriceList.Version}
	for _, in := range items {
		if len(q.Lines) == maxQuoteLines {
			flags = appendFlag(flags, FlagBadQuantity)
			break
		}
		it, ok := p.PriceList.Item(strings.TrimSpace(in.ItemID))
		if !ok {
			flags = appendFlag(flags, FlagUnknownItem)
			continue
		}
		if in.Quantity < 1 || in.Quantity > maxQuantity {
			flags = appendFlag(flags, FlagBadQuantity)
			continue
		}
		line := bot.QuoteLine{ItemID: it.ID, Name: it.Name, Unit: it.Unit, Quantity: int(in.Quantity), UnitPrice: it.UnitPrice, Total: it.UnitPrice * in.Quantity}
		q.Lines = append(q.Lines, line)
		q.Net += line.Total
	}
	if len(q.Lines) == 0 {
		return nil, flags
	}
	q.VAT = vatOf(q.Net, p.VATRate)
	q.Total = q.Net + q.VAT
	return q, flags
}

// vatOf is net × rate rounded half up to the minor unit.
func vatOf(net int64, r Rate) int64 {
	return (net*int64(r) + 5000) / 10000
}

// RenderQuote renders a quote as its own block of the customer's reply: one
// line per item with its unit price, then subtotal, VAT and total. Nothing
// internal (item ids, the price-list version) is in it; those are on the
// staff card, from DraftResult.Quote.
func RenderQuote(q *bot.Quote, vat Rate) string {
	var b strings.Builder
	for _, l := range q.Lines {
		fmt.Fprintf(&b, "• %d × %s (%s %s): %s\n", l.Quantity, l.Name, FormatAmount(l.UnitPrice, q.Currency), PerUnit(l.Unit), FormatAmount(l.Total, q.Currency))
	}
	if q.VAT == 0 && vat == 0 {
		fmt.Fprintf(&b, "Total: %s (no VAT)", FormatAmount(q.Total, q.Currency))
		return b.String()
	}
	fmt.Fprintf(&b, "Subtotal: %s\nVAT at %s: %s\nTotal: %s", FormatAmount(q.Net, q.Currency), vat.String(),
		FormatAmount(q.VAT, q.Currency), FormatAmount(q.Total, q.Currency))
	return b.String()
}

// PerUnit words a price's unit for people: "per visit", "per hour", and
// "each" for units that count items ("each", "item", "unit", "piece"),
// never "per each". A unit typed with its own "per" or "a" ("per m²", "a
// day") is kept.
func PerUnit(unit string) string {
	u := strings.TrimSpace(unit)
	switch strings.ToLower(strings.TrimSuffix(u, ".")) {
	case "", "each", "ea", "item", "items", "unit", "units", "piece", "pieces", "pc", "pcs", "one", "apiece":
		return "each"
	}
	lu := strings.ToLower(u)
	if strings.HasPrefix(lu, "per ") || strings.HasPrefix(lu, "a ") || strings.HasPrefix(lu, "an ") {
		return u
	}
	return "per " + u
}

// unitPrice renders an item's price for [PRICE:id]: "£85.00 per service
// plus VAT".
func unitPrice(it Item, p *Profile) string {
	s := FormatAmount(it.UnitPrice, p.Currency) + " " + PerUnit(it.Unit)
	if p.VATRate > 0 {
		s += " plus VAT"
	}
	return s
}

// checks holds the regular expressions the output and input checks use;
// immutable once built.
type checks struct {
	link      *regexp.Regexp
	injection *regexp.Regexp
	priceRef  *regexp.Regexp
	leakLines []string // lower-cased rule lines
}

func newChecks() *checks {
	c := &checks{
		link: regexp.MustCompile(`(?i)\b(?:https?://|www\.)[^\s<>"]+|\b[a-z0-9-]+(?:\.[a-z0-9-]+)*\.(?:com|net|org|co\.uk|uk|io|ly|me|app|xyz|info|biz)\b/?`),
		injection: regexp.MustCompile(`(?i)\b(?:ignore|disregard|forget|override|bypass)\b[^.\n]{0,60}\b(?:instructions?|rules|prompt|above|previous|guidelines)\b` +
			`|system prompt|developer (?:message|mode)|\byou are now\b|new instructions|jailbreak|<<<|>>>|\[/?(?:system|inst)\]|<\|im_start\|>|\bas an? (?:admin|administrator|system)\b`),
		priceRef: regexp.MustCompile(`\[PRICE:([^\]\s]{0,60})\]`),
	}
	for _, l := range strings.Split(rules, "\n") {
		l = strings.TrimSpace(l)
		if len(l) > 3 && l[1] == '.' {
			l = strings.TrimSpace(l[2:]) // drop the rule number
		}
		// Sentence fragments of at least 40 bytes: a reply quoting any of
		// them is repeating the instructions.
		for _, s := range strings.Split(l, ". ") {
			if len(s) >= 40 {
				c.leakLines = append(c.leakLines, strings.ToLower(s))
			}
		}
	}
	return c
}

// checkAmounts flags money the model wrote itself (see scanAmounts): in
// another currency than the profile's, or in any form at all.
func (c *checks) checkAmounts(text string, p *Profile) []string {
	invented, curs := scanAmounts(text, p)
	if !invented {
		return nil
	}
	var flags []string
	own := len(curs) == 0
	for _, cur := range curs {
		if cur == p.Currency {
			own = true
		} else {
			flags = appendFlag(flags, FlagOtherCurrency)
		}
	}
	if own {
		flags = append([]string{FlagInventedAmount}, flags...)
	}
	return flags
}

// hasLink reports a link or domain in text that the profile does not name
// itself (a sign-off with the business's website is fine).
func (c *checks) hasLink(text string, p *Profile) bool {
	if !strings.ContainsAny(text, ".") {
		return false
	}
	own := strings.ToLower(p.SignOff + " " + p.BusinessName + " " + p.OpeningHours)
	for _, m := range c.link.FindAllString(text, -1) {
		if !strings.Contains(own, strings.ToLower(strings.TrimSuffix(m, "/"))) {
			return true
		}
	}
	return false
}

// checkLeak reports whether text repeats the rules or the block delimiters.
func (c *checks) checkLeak(text string) bool {
	if strings.Contains(text, "<<<") || strings.Contains(text, ">>>") ||
		strings.Contains(text, blockCustomer) || strings.Contains(text, blockEnd) {
		return true
	}
	low := strings.ToLower(text)
	for _, l := range c.leakLines {
		if strings.Contains(low, l) {
			return true
		}
	}
	return false
}

// judgeOutput turns a parsed answer into a DraftResult: it prices the quote,
// runs the checks on the model's own text, restores placeholders, writes
// the amounts the references stand for and lays the quote out as a block.
func (d *Drafter) judgeOutput(out modelOutput, p *Profile, pr *prompt) bot.DraftResult {
	var res bot.DraftResult
	reply := strings.TrimSpace(sanitize(*out.Reply))
	res.Intent = normIntent(*out.Intent)

	items := make([]QuoteItem, 0, len(*out.QuoteItems))
	for _, it := range *out.QuoteItems {
		items = append(items, QuoteItem{ItemID: it.ItemID, Quantity: it.Quantity})
	}
	if len(items) > 0 && len(p.PriceList.Items) == 0 {
		res.Flags = appendFlag(res.Flags, FlagNoPriceList)
	}
	q, qflags := ComputeQuote(p, items)
	res.Quote = q
	for _, f := range qflags {
		res.Flags = appendFlag(res.Flags, f)
	}

	for _, f := range d.checks.checkAmounts(reply, p) {
		res.Flags = appendFlag(res.Flags, f)
	}
	if d.checks.checkLeak(reply) {
		res.Flags = appendFlag(res.Flags, FlagLeak)
	}
	if d.checks.hasLink(reply, p) {
		res.Flags = appendFlag(res.Flags, FlagLink)
	}
	if pr.suspicious {
		res.Flags = appendFlag(res.Flags, FlagCustomerInjected)
	}
	if out.SuspectedInjection {
		res.Flags = appendFlag(res.Flags, FlagModelSuspected)
	}

	// Card and bank numbers are dropped from the model's own text; restored
	// details are the customer's and were never cards (cards claim text
	// first).
	restored, invented := d.redactor.restore(d.redactor.dropPayment(reply), pr.red)
	if invented > 0 {
		res.Flags = appendFlag(res.Flags, FlagInventedContact)
	}
	// Go writes every amount: [PRICE:id] and [TOTAL] become figures here.
	restored = d.checks.priceRef.ReplaceAllStringFunc(restored, func(m string) string {
		it, ok := p.PriceList.Item(strings.TrimSpace(d.checks.priceRef.FindStringSubmatch(m)[1]))
		if !ok {
			res.Flags = appendFlag(res.Flags, FlagUnknownItem)
			return m
		}
		return unitPrice(it, p)
	})
	if strings.Contains(restored, totalMarker) {
		if q == nil {
			res.Flags = appendFlag(res.Flags, FlagTotalNoQuote)
		} else {
			total := FormatAmount(q.Total, q.Currency)
			if q.VAT > 0 {
				total += " including VAT"
			}
			restored = strings.ReplaceAll(restored, totalMarker, total)
		}
	}
	block := ""
	if q != nil {
		block = RenderQuote(q, p.VATRate)
	}
	res.Text = layoutQuote(restored, block, p.SignOff)

	reason := strings.TrimSpace(oneLine(sanitize(*out.NeedsHuman)))
	reason, _ = d.redactor.restore(truncate(reason, 300), pr.red)
	res.HumanReason = reason
	return res
}

// totalMarker stands for the quote's total in the model's reply.
const totalMarker = "[TOTAL]"

// layoutQuote puts the quote block into the reply as a paragraph of its own:
// where the model wrote [QUOTE] on a line by itself; after the line that
// holds a [QUOTE] written inside a sentence (the marker taken out of the
// sentence); with no marker, before the sign-off, or at the end. Without a
// block the markers are taken out.
func layoutQuote(text, block, signOff string) string {
	const slot = "\x00quote\x00"
	lines := strings.Split(text, "\n")
	placed := false
	for i := 0; i < len(lines); i++ {
		if !strings.Contains(lines[i], quoteMarker) {
			continue
		}
		rest := tidyLine(strings.ReplaceAll(lines[i], quoteMarker, " "))
		if placed || rest == "" {
			lines[i] = rest
			if !placed {
				lines[i] = slot
				placed = true
			}
			continue
		}
		// "Here is your quote: [QUOTE] Any questions…": split at the marker
		// where a clause ends; inside a sentence ("is [QUOTE] and") the
		// marker goes and the block follows the line.
		k := strings.Index(lines[i], quoteMarker)
		before := tidyLine(lines[i][:k])
		after := strings.TrimLeft(tidyLine(strings.ReplaceAll(lines[i][k+len(quoteMarker):], quoteMarker, " ")), ".,;: ")
		last, _ := utf8.DecodeLastRuneInString(before)
		first, _ := utf8.DecodeRuneInString(after)
		if before == "" || strings.ContainsRune(":.!?", last) || after == "" || unicode.IsUpper(first) {
			var repl []string
			if before != "" {
				repl = append(repl, before)
			}
			repl = append(repl, slot)
			if after != "" {
				repl = append(repl, after)
			}
			lines = slices.Replace(lines, i, i+1, repl...)
			i += len(repl) - 1
		} else {
			lines[i] = rest
			lines = slices.Insert(lines, i+1, slot)
			i++
		}
		placed = true
	}
	if !placed && block != "" {
		at := len(lines)
		for at > 0 && strings.TrimSpace(lines[at-1]) == "" {
			at--
		}
		if so := strings.ToLower(strings.TrimSpace(signOff)); so != "" && at > 1 && strings.Contains(strings.ToLower(lines[at-1]), so) {
			at--
		}
		lines = slices.Insert(lines, at, slot)
	}
	out := strings.Join(lines, "\n")
	if block == "" {
		out = strings.ReplaceAll(out, slot, "")
	} else {
		out = strings.Replace(out, slot, "\n"+block+"\n", 1)
	}
	for strings.Contains(out, "\n\n\n") {
		out = strings.ReplaceAll(out, "\n\n\n", "\n\n")
	}
	return strings.TrimSpace(out)
}

// tidyLine cleans a line a marker was taken out of: no doubled spaces, no
// space before punctuation, no dangling colon before the end.
func tidyLine(l string) string {
	l = strings.Join(strings.Fields(l), " ")
	for _, p := range []string{" .", " ,", " !", " ?", " :", " ;"} {
		l = strings.ReplaceAll(l, p, p[1:])
	}
	l = strings.ReplaceAll(l, ":.", ":")
	if l == "." || l == ":" || l == "," {
		return ""
	}
	return l
}

// normIntent keeps an intent label the schema allows, else "other".
func normIntent(s string) string {
	switch s = strings.ToLower(strings.TrimSpace(s)); s {
	case "question", "quote", "booking", "complaint":
		return s
	}
	return "other"
}

func appendFlag(flags []string, f string) []string {
	for _, have := range flags {
		if have == f {
			return flags
		}
	}
	return append(flags, f)
}
