package drafts

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/switchboard/switchboard/bot"
)

// ErrMalformedOutput is returned when the model's answer is not the JSON the
// schema asks for, or has no choice at all. No draft is made up from it.
var ErrMalformedOutput = errors.New("malformed model output")

// Flags: short operator-safe sentences; each blocks approval.
const (
	FlagUnknownItem      = "The draft quotes an item that is not on the price list."
	FlagBadQuantity      = "The draft quotes an implausible quantity."
	FlagInventedAmount   = "The draft states an amount the price list does not produce."
	FlagOtherCurrency    = "The draft states an amount in another currency."
	FlagInventedContact  = "The draft refers to contact details the customer did not give."
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
    "reply": {"type": "string", "description": "The reply to send to the customer, in their language. Empty only if a person must answer."},
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
		line := bot.QuoteLine{ItemID: it.ID, Name: it.Name, Quantity: int(in.Quantity), UnitPrice: it.UnitPrice, Total: it.UnitPrice * in.Quantity}
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

// RenderQuote renders a quote as plain text lines for the reply.
func RenderQuote(q *bot.Quote, vat Rate) string {
	var b strings.Builder
	for _, l := range q.Lines {
		fmt.Fprintf(&b, "%d × %s at %s = %s\n", l.Quantity, l.Name, FormatAmount(l.UnitPrice, q.Currency), FormatAmount(l.Total, q.Currency))
	}
	fmt.Fprintf(&b, "Subtotal %s, VAT (%s) %s, total %s (price list %s)",
		FormatAmount(q.Net, q.Currency), vat.String(), FormatAmount(q.VAT, q.Currency), FormatAmount(q.Total, q.Currency), q.PriceListVersion)
	return b.String()
}

// checks holds the regular expressions the output and input checks use;
// immutable once built.
type checks struct {
	amountSym  *regexp.Regexp // £12, £ 1,200.50, 12£
	amountCode *regexp.Regexp // 12.50 GBP, GBP 12.50, 12 pounds
	pence      *regexp.Regexp // 50p, 50 pence
	link       *regexp.Regexp
	injection  *regexp.Regexp
	leakLines  []string // lower-cased rule lines
}

func newChecks() *checks {
	const num = `([0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.([0-9]{1,2}))?`
	c := &checks{
		amountSym:  regexp.MustCompile(`([£€$])\s?` + num + `|` + num + `\s?([£€$])`),
		amountCode: regexp.MustCompile(`(?i)\b(GBP|EUR|USD)\s?` + num + `|` + num + `\s?(GBP|EUR|USD|pounds?|quid|euros?|dollars?)\b`),
		pence:      regexp.MustCompile(`(?i)\b([0-9]{1,4})\s?(p|pence)\b`),
		link:       regexp.MustCompile(`(?i)\b(?:https?://|www\.)[^\s<>"]+|\b[a-z0-9-]+(?:\.[a-z0-9-]+)*\.(?:com|net|org|co\.uk|uk|io|ly|me|app|xyz|info|biz)\b/?`),
		injection: regexp.MustCompile(`(?i)\b(?:ignore|disregard|forget|override|bypass)\b[^.\n]{0,60}\b(?:instructions?|rules|prompt|above|previous|guidelines)\b` +
			`|system prompt|developer (?:message|mode)|\byou are now\b|new instructions|jailbreak|<<<|>>>|\[/?(?:system|inst)\]|<\|im_start\|>|\bas an? (?:admin|administrator|system)\b`),
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

// currencyOf maps a symbol or word to an ISO code.
func currencyOf(s string) string {
	switch strings.ToLower(s) {
	case "£", "gbp", "pound", "pounds", "quid", "p", "pence":
		return "GBP"
	case "€", "eur", "euro", "euros":
		return "EUR"
	case "$", "usd", "dollar", "dollars":
		return "USD"
	}
	return strings.ToUpper(s)
}

// allowedAmounts are the figures the price list and the quote produce.
func allowedAmounts(p *Profile, q *bot.Quote) map[int64]bool {
	ok := make(map[int64]bool, 2*len(p.PriceList.Items)+8)
	for _, it := range p.PriceList.Items {
		ok[it.UnitPrice] = true
		ok[it.UnitPrice+vatOf(it.UnitPrice, p.VATRate)] = true
	}
	if q != nil {
		for _, l := range q.Lines {
			ok[l.UnitPrice] = true
			ok[l.Total] = true
		}
		ok[q.Net] = true
		ok[q.VAT] = true
		ok[q.Total] = true
	}
	return ok
}

// checkAmounts flags every currency figure in text that the price list or
// quote does not produce, figures in another currency, and currency symbols
// that are not part of a figure it could read.
func (c *checks) checkAmounts(text string, p *Profile, q *bot.Quote) []string {
	if !strings.ContainsAny(text, "£€$0123456789") {
		return nil
	}
	var flags []string
	allowed := allowedAmounts(p, q)
	covered := make([]bool, len(text))
	judge := func(cur string, minor int64, start, end int) {
		for i := start; i < end; i++ {
			covered[i] = true
		}
		switch {
		case cur != p.Currency:
			flags = appendFlag(flags, FlagOtherCurrency)
		case !allowed[minor]:
			flags = appendFlag(flags, FlagInventedAmount)
		}
	}
	amount := func(whole, frac string) (int64, bool) {
		s := whole
		if frac != "" {
			s += "." + frac
		}
		v, err := parseFixed2(s)
		return v, err == nil
	}
	// Amounts with a currency symbol ("£12.50") or code ("12.50 GBP"): both
	// patterns capture (currency, whole, fraction) before or after the figure.
	for _, re := range []*regexp.Regexp{c.amountSym, c.amountCode} {
		for _, m := range re.FindAllStringSubmatchIndex(text, -1) {
			g := func(i int) string {
				if m[2*i] < 0 {
					return ""
				}
				return text[m[2*i]:m[2*i+1]]
			}
			cur, whole, frac := g(1), g(2), g(3)
			if cur == "" {
				whole, frac, cur = g(4), g(5), g(6)
			}
			v, ok := amount(whole, frac)
			if !ok {
				flags = appendFlag(flags, FlagInventedAmount)
				continue
			}
			judge(currencyOf(cur), v, m[0], m[1])
		}
	}
	for _, m := range c.pence.FindAllStringSubmatchIndex(text, -1) {
		v, ok := amount(text[m[2]:m[3]], "")
		if !ok {
			continue
		}
		judge("GBP", v/100, m[0], m[1])
	}
	// A currency symbol outside any figure read above ("£ sixty", "£٦٠")
	// cannot be checked, so it is flagged.
	for i, r := range text {
		if (r == '£' || r == '€' || r == '$') && !covered[i] {
			flags = appendFlag(flags, FlagInventedAmount)
			break
		}
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
// runs the checks on the model's own text, restores placeholders and inserts
// the rendered quote.
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

	for _, f := range d.checks.checkAmounts(reply, p, q) {
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

	// Card numbers are dropped from the model's own text; restored details
	// are the customer's and were never cards (cards claim text first).
	restored, invented := d.redactor.restore(d.redactor.dropPayment(reply), pr.red)
	if invented > 0 {
		res.Flags = appendFlag(res.Flags, FlagInventedContact)
	}
	if q != nil {
		rendered := RenderQuote(q, p.VATRate)
		if strings.Contains(restored, quoteMarker) {
			restored = strings.Replace(restored, quoteMarker, rendered, 1)
		} else if restored != "" {
			restored += "\n\n" + rendered
		}
	}
	res.Text = strings.TrimSpace(strings.ReplaceAll(restored, quoteMarker, ""))

	reason := strings.TrimSpace(oneLine(sanitize(*out.NeedsHuman)))
	reason, _ = d.redactor.restore(truncate(reason, 300), pr.red)
	res.HumanReason = reason
	return res
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
