package privacy

import (
	"fmt"
	"slices"
	"strings"

	"github.com/switchboard/switchboard/bot"
)

// Policy is what the privacy notice and the export's supplementary
// information tell people. Zero fields take the defaults New documents.
type Policy struct {
	// Controller is the business's name. If empty, "the business you are
	// messaging".
	Controller string
	// Contact is how to reach the controller about data protection. If
	// empty, "reply in this chat".
	Contact string
	// LLMProvider names who runs the AI model that drafts replies, and
	// where ("OpenAI (USA)"). If empty, "the AI model provider the business
	// has configured".
	LLMProvider string
	// NoAI is true when no AI model is configured: staff write every
	// reply, and the notice and exports name no AI provider.
	NoAI bool
	// WhatsAppProcessor names Meta as the business's processor when
	// WhatsApp runs on the WhatsApp Business Platform (the Cloud API),
	// which hosts the business's side of the chats: "Meta Platforms (WhatsApp
	// Business Platform)". If empty, WhatsApp only carries the messages
	// between the phones (the linked-device transport).
	WhatsAppProcessor string
	// RetentionMonths is how long message text and drafts are kept after a
	// subject's last message. If 0, 12.
	RetentionMonths int
	// LogDays is how long technical logs are kept. If 0, 30.
	LogDays int
}

func (p Policy) withDefaults() Policy {
	if p.Controller == "" {
		p.Controller = "the business you are messaging"
	}
	if p.Contact == "" {
		p.Contact = "reply in this chat"
	}
	if p.LLMProvider == "" {
		p.LLMProvider = "the AI model provider the business has configured"
	}
	if p.RetentionMonths == 0 {
		p.RetentionMonths = 12
	}
	if p.LogDays == 0 {
		p.LogDays = 30
	}
	return p
}

// icoRoute is how to complain to the UK regulator.
const icoRoute = "the Information Commissioner's Office (ICO): ico.org.uk/make-a-complaint or 0303 123 1113"

// Notice is the short privacy notice /privacy shows.
func (p Policy) Notice() string {
	why := "Why: to answer your messages and give you the service you ask for (contract and legitimate interests). An AI model drafts replies; a person checks every one before it is sent, and your messages are not used to train AI models."
	meta := "Meta (WhatsApp)"
	if p.WhatsAppProcessor != "" {
		meta = p.WhatsAppProcessor + ", which runs our WhatsApp account for us"
	}
	who := "Who processes it: our staff on Microsoft Teams, Microsoft (Teams), " + meta + " and " + p.LLMProvider + " (AI drafts)."
	if p.NoAI {
		why = "Why: to answer your messages and give you the service you ask for (contract and legitimate interests). Our staff write every reply; no AI model sees your messages."
		who = "Who processes it: our staff on Microsoft Teams, Microsoft (Teams) and " + meta + "."
	}
	return strings.Join([]string{
		"Privacy notice: " + p.Controller,
		"What we keep: your phone number and WhatsApp ids (or your Teams id), the name your app shows, the messages you send us and our replies, and the reply drafts our staff review.",
		why,
		who,
		fmt.Sprintf("How long: messages and drafts are erased %d months after your last message; technical logs after %d days; export files once delivered or after 24 hours.", p.RetentionMonths, p.LogDays),
		"Your rights: /export for a copy of your data, /name to correct your name, /stop to keep AI away from your messages (/start to resume), /forget me to erase your data. We answer within one month.",
		"Complaints: " + p.Contact + "; you can also complain to " + icoRoute + ".",
	}, "\n")
}

// Help lists the commands a subject with role may use.
func Help(role bot.Role) string {
	lines := []string{
		"Commands:",
		"/privacy: what we keep, why, for how long and your rights",
		"/export: a copy of your data (one per hour)",
		"/forget me: erase your data (asks you to confirm)",
		"/stop: no AI on your messages (staff still answer); /start to resume",
		"/name <name>: correct the name we use for you",
	}
	if role == bot.RoleAdmin {
		lines = append(lines,
			"Admin:",
			"/forget <identifier> and /export <identifier>: a phone number, teams:<id>, whatsapp-lid:<n>@lid, tenant:<id>, or company (two admins must confirm within 10 minutes)",
			"/requests: open data-rights requests and their due dates",
			"/retention: the retention policy",
		)
	}
	lines = append(lines, "Data-rights commands work in one-to-one chats only.")
	return strings.Join(lines, "\n")
}

// RetentionText is what /retention shows.
func (p Policy) RetentionText() string {
	return fmt.Sprintf("Retention: a customer's messages, drafts, decisions and cards are erased %d months after their last message (daily, through the same path as /forget). Staff and admins are not purged. Technical logs are kept %d days. Export files are deleted after one download or 24 hours. The request register keeps kind, dates, counts and who asked, never the identifier.",
		p.RetentionMonths, p.LogDays)
}

// Purpose is one purpose of processing with its lawful basis.
type Purpose struct {
	Purpose     string `json:"purpose"`
	LawfulBasis string `json:"lawful_basis"`
}

// Recipient is someone the data is disclosed to.
type Recipient struct {
	Name string `json:"name"`
	Role string `json:"role"`
}

// RetentionRule says how long one category of data is kept.
type RetentionRule struct {
	Data   string `json:"data"`
	Period string `json:"period"`
}

// Supplementary is the supplementary information of an access request
// (UK GDPR Art. 15(1)(a)–(h), (2)), carried in every export.
type Supplementary struct {
	Controller             string          `json:"controller"`
	Contact                string          `json:"contact"`
	Purposes               []Purpose       `json:"purposes"`
	Recipients             []Recipient     `json:"recipients"`
	Retention              []RetentionRule `json:"retention"`
	Rights                 []string        `json:"rights"`
	Source                 string          `json:"source"`
	AutomatedDecisions     string          `json:"automated_decision_making"`
	InternationalTransfers string          `json:"international_transfers"`
	Complaints             string          `json:"complaints"`
}

// Supplementary returns the export's supplementary information.
func (p Policy) Supplementary() Supplementary {
	s := Supplementary{
		Controller: p.Controller,
		Contact:    p.Contact,
		Purposes: []Purpose{
			{"Answering your messages and providing the service you ask for", "contract (Art. 6(1)(b))"},
			{"AI-drafted replies reviewed by staff before sending", "legitimate interests (Art. 6(1)(f)); you may object with /stop"},
			{"Keeping a register of data-rights requests", "legal obligation (Art. 6(1)(c))"},
		},
		Recipients: []Recipient{
			{"Staff of " + p.Controller, "read your messages and approve replies"},
			{"Microsoft (Teams)", "processor: hosts the staff conversation"},
			{"Meta (WhatsApp)", "carries the messages"},
			{p.LLMProvider, "processor: drafts replies from your message text; no training on your data"},
		},
		Retention: []RetentionRule{
			{"messages, drafts, decisions, cards", fmt.Sprintf("%d months after your last message", p.RetentionMonths)},
			{"technical logs (no message text, names or numbers)", fmt.Sprintf("%d days", p.LogDays)},
			{"export files", "deleted after one download or 24 hours"},
			{"request register (no identifiers)", "kept as evidence of requests"},
		},
		Rights: []string{
			"access and a copy (/export)",
			"rectification (/name)",
			"erasure (/forget me)",
			"restriction and objection to AI processing (/stop, /start)",
			"data portability (this JSON document)",
			"complaint to the ICO",
		},
		Source:                 "you, through the chat app you messaged us with; staff decisions about replies to you",
		AutomatedDecisions:     "none: AI only drafts; a person approves every reply",
		InternationalTransfers: "the AI provider and Microsoft may process data outside the UK under UK adequacy regulations or the International Data Transfer Addendum",
		Complaints:             p.Contact + "; or " + icoRoute,
	}
	if p.NoAI {
		s.Purposes = slices.DeleteFunc(s.Purposes, func(x Purpose) bool { return strings.HasPrefix(x.Purpose, "AI-drafted") })
		s.Recipients = s.Recipients[:len(s.Recipients)-1]
		s.AutomatedDecisions = "none: staff write every reply"
		s.InternationalTransfers = "Microsoft may process data outside the UK under UK adequacy regulations or the International Data Transfer Addendum"
	}
	if p.WhatsAppProcessor != "" {
		for i := range s.Recipients {
			if s.Recipients[i].Name == "Meta (WhatsApp)" {
				s.Recipients[i] = Recipient{p.WhatsAppProcessor, "processor: runs the business's WhatsApp account; holds messages and files sent through it for up to 30 days"}
			}
		}
		s.InternationalTransfers = strings.NewReplacer(
			"the AI provider and Microsoft may", "the AI provider, Microsoft and Meta may",
			"Microsoft may", "Microsoft and Meta may",
		).Replace(s.InternationalTransfers)
	}
	return s
}
