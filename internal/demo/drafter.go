package demo

import (
	"context"
	"strings"
	"unicode"

	"github.com/rs/zerolog"

	"github.com/switchboard/switchboard/bot"
)

// DrafterName is how every card and log line names the canned drafter.
const DrafterName = "Demo drafter — not AI"

// drafterNote is the card note of a canned draft.
const drafterNote = "A ready-made reply picked by keywords for the demo: no AI model is configured. " +
	"Set OPENAI_API_KEY (or OPENAI_BASE_URL and OPENAI_MODEL) before starting the demo to try AI drafts."

// Business is the made-up business the demo plays.
var Business = struct {
	Name, LegalName, PrivacyContact, Trade, Hours, SignOff string
	// Number is the business's WhatsApp number (digits), in the range
	// Ofcom keeps for drama (020 7946 0000 to 0999); NumberShown is how
	// people write it.
	Number, NumberShown string
}{
	Name:           "Brightwater Plumbing",
	LegalName:      "Brightwater Plumbing Ltd (a made-up business for the Switchboard demo)",
	PrivacyContact: "privacy@brightwater.example",
	Trade:          "plumbing and heating",
	Hours:          "Monday to Friday 8:00 to 18:00, Saturday 9:00 to 12:00",
	SignOff:        "Thanks, the Brightwater team",
	Number:         "442079460000",
	NumberShown:    "+44 20 7946 0000",
}

// canned is one kind of message the demo drafter recognises.
type canned struct {
	intent string
	words  []string // any of these words (or phrases) in the message
	says   []string // replies, in turn on Regenerate
}

// replies are tried in order; the last matches anything.
var replies = []canned{
	{"complaint", []string{"complain", "complaint", "unhappy", "disappointed", "refund", "terrible", "awful"},
		[]string{
			"We're sorry to hear that. Could you tell us what went wrong? A manager will look into it and get back to you today.",
			"Thank you for telling us, and sorry. A manager will call you back today to put it right.",
		}},
	{"question", []string{"leak", "leaking", "drip", "dripping", "burst", "flood", "blocked", "boiler", "tap", "toilet", "radiator", "no hot water"},
		[]string{
			"Sorry to hear that! If water is leaking, turn off the stopcock if you can. We'll get back to you shortly with our first free slot.",
			"That sounds annoying: we can help. Could you send us a photo, and tell us when someone can be at home?",
		}},
	{"quote", []string{"price", "prices", "cost", "costs", "quote", "how much", "charge", "estimate"},
		[]string{
			"Thanks for asking! We'll put together a quote for you. Could you tell us a little more about the job?",
			"Happy to give you a price. What needs doing, and roughly where are you?",
		}},
	{"booking", []string{"book", "booking", "appointment", "visit", "come round", "come over", "available", "availability"},
		[]string{
			"We'd be glad to come round. Which day and time suit you best?",
			"We have slots this week. Would a morning or an afternoon suit you better?",
		}},
	{"question", []string{"open", "hours", "today", "tomorrow", "saturday", "sunday", "weekend", "closed"},
		[]string{
			"We're open Monday to Friday 8:00 to 18:00, and Saturday 9:00 to 12:00.",
			"Our hours are Monday to Friday 8:00 to 18:00 and Saturday mornings. How can we help?",
		}},
	{"question", []string{"thank", "thanks", "cheers"},
		[]string{
			"You're welcome! Is there anything else we can help with?",
			"Glad to help. Have a good day!",
		}},
	{"question", []string{"hello", "hi", "hey", "morning", "afternoon", "evening"},
		[]string{
			"Hello, and thanks for getting in touch with Brightwater Plumbing! How can we help?",
			"Hi there! What can we do for you today?",
		}},
	{"question", nil,
		[]string{
			"Thanks for your message! A member of our team will get back to you shortly.",
			"Thanks for getting in touch. We'll reply properly in a moment.",
		}},
}

// Drafter is the demo's canned drafter: it picks a ready-made reply by
// keywords, never calls a model, and names itself DrafterName on the card.
// The router does not ask it for customers who said /stop, as with any
// drafter.
type Drafter struct {
	// Log gets one line per draft, naming the drafter (no text). Zero
	// value discards.
	Log zerolog.Logger
}

var _ bot.Drafter = Drafter{}

// Draft returns the canned reply for the message; on Regenerate, the next
// one of its kind.
func (d Drafter) Draft(_ context.Context, req bot.DraftRequest) (bot.DraftResult, error) {
	c := match(req.Message.Text)
	text := c.says[0]
	for i, s := range c.says {
		if s == req.Previous {
			text = c.says[(i+1)%len(c.says)]
		}
	}
	d.Log.Info().Str("drafter", DrafterName).Str("subject", string(req.Subject)).Str("intent", c.intent).
		Msg("canned demo draft (not AI)")
	return bot.DraftResult{Text: text, Intent: c.intent, Author: DrafterName, Note: drafterNote}, nil
}

// match returns the first canned kind the text has a word of.
func match(text string) canned {
	words := " " + strings.Join(strings.FieldsFunc(strings.ToLower(text), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	}), " ") + " "
	for _, c := range replies {
		if c.words == nil {
			return c
		}
		for _, w := range c.words {
			if strings.Contains(words, " "+w+" ") {
				return c
			}
		}
	}
	return replies[len(replies)-1]
}
