package privacy

import (
	"fmt"
	"slices"
	"strings"

	"github.com/switchboard/switchboard/bot"
)

// Controller names the business as the controller of the data people send
// it (UK GDPR Art. 4(7)), as its business profile says.
type Controller struct {
	// LegalName is the business's legal name ("Acme Plumbing Ltd").
	LegalName string
	// TradingName is the name people know it by ("Acme Plumbing"), if any.
	TradingName string
	// Contact is how to reach it about data protection: an e-mail or
	// postal address.
	Contact string
	// ICORegistration is its ICO register number, if any.
	ICORegistration string
	// ClosedHoursReply is true when the business has opening hours set,
	// so a customer who writes while it is closed gets its fixed
	// closed-hours reply: the notice says that /stop does not stop it.
	ClosedHoursReply bool
}

// Policy is what the privacy notice and the export's supplementary
// information tell people. Zero fields take the defaults New documents.
type Policy struct {
	// Controller is the business's legal name. If empty, the notice says
	// the business has not set it yet. Options.Controller, if set,
	// replaces it and the next three fields on every use.
	Controller string
	// TradingName is the name people know the business by, if different.
	TradingName string
	// Contact is how to reach the controller about data protection. If
	// empty, the notice says the business has not set one yet.
	Contact string
	// ICORegistration is the business's ICO registration number, if any.
	ICORegistration string
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
	// ClosedHoursReply is true when customers who write while the business
	// is closed get its fixed closed-hours reply (Controller's, on every
	// use, when Options.Controller is set).
	ClosedHoursReply bool
}

func (p Policy) withDefaults() Policy {
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

// withController returns p naming c as the controller.
func (p Policy) withController(c Controller) Policy {
	p.Controller, p.TradingName, p.Contact, p.ICORegistration = c.LegalName, c.TradingName, c.Contact, c.ICORegistration
	p.ClosedHoursReply = c.ClosedHoursReply
	return p
}

// Words for a controller the business has not named yet.
const (
	notSet        = "not yet set by the business"
	contactNotSet = "The business has not yet set a privacy contact in Switchboard; until it does, reply in this chat."
)

// tradingAs is " (trading as X)" when the business trades under another
// name than its legal one, else "".
func (p Policy) tradingAs() string {
	if p.TradingName == "" || strings.EqualFold(p.TradingName, p.Controller) {
		return ""
	}
	return " (trading as " + p.TradingName + ")"
}

// who is the notice's first line: who the controller is, or that the
// business has not said yet.
func (p Policy) who() string {
	if p.Controller == "" {
		name := "The business"
		if p.TradingName != "" {
			name = p.TradingName
		}
		return "Privacy notice: " + name + " has not yet set its legal name in Switchboard, so this notice cannot name the controller of your data yet. Your rights below apply all the same."
	}
	line := "Privacy notice: " + p.Controller + p.tradingAs() + " is the controller of your data"
	if p.ICORegistration != "" {
		line += "; ICO registration " + p.ICORegistration
	}
	return line + "."
}

// contactLine says how to reach the controller about data protection.
func (p Policy) contactLine() string {
	if p.Contact == "" {
		return "Contact about your data: " + contactNotSet
	}
	return "Contact about your data: " + p.Contact + "."
}

// complaintsTo is whom to complain to first: the controller's contact, or
// this chat.
func (p Policy) complaintsTo() string {
	if p.Contact == "" {
		return "reply in this chat"
	}
	return p.Contact
}

// signature ends a confirmation: who did it and how to reach them. It is
// empty while the business has not set its legal name.
func (p Policy) signature() string {
	if p.Controller == "" {
		return ""
	}
	s := p.Controller + ", the controller of your data"
	if p.Contact != "" {
		s += "; privacy contact: " + p.Contact
	}
	return s + "."
}

// signed appends the policy's signature to a confirmation, on its own line.
func (p Policy) signed(text string) string {
	if sig := p.signature(); sig != "" && text != "" {
		return text + "\n" + sig
	}
	return text
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
	lines := []string{
		p.who(),
		p.contactLine(),
		"What we keep: your phone number and WhatsApp ids (or your Teams id), the name your app shows (or the one you gave with /name), the messages you send us and our replies, and the reply drafts our staff review.",
		why,
		who,
		fmt.Sprintf("How long: messages and drafts are erased %d months after your last message; technical logs after %d days; export files once delivered or after 24 hours.", p.RetentionMonths, p.LogDays),
		"Your rights: /export for a copy of your data, /name to correct your name, /stop to keep AI away from your messages (/start to resume), /forget me to erase your data. We answer within one month.",
		"Complaints: " + p.complaintsTo() + "; you can also complain to " + icoRoute + ".",
	}
	if p.ClosedHoursReply {
		// After the rights line, which names /stop.
		lines = slices.Insert(lines, len(lines)-1, ClosedHoursNotice)
	}
	return strings.Join(lines, "\n")
}

// ClosedHoursNotice is the notice's line when the business sends its
// closed-hours reply.
const ClosedHoursNotice = "Outside our opening hours, one automatic reply per closed period tells you when we open. It is a fixed text, not written by AI, so it comes after /stop too."

// Help lists the commands a subject with role may use. adminExtra are more
// lines for the one Admin section (commands served in front of the
// privacy service).
func Help(role bot.Role, adminExtra ...string) string {
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
		lines = append(lines, adminExtra...)
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
	// Controller is the business's legal name (and trading name), or says
	// it is not set yet.
	Controller string `json:"controller"`
	// Contact is how to reach the controller, or says it is not set yet.
	Contact                string          `json:"contact"`
	ICORegistration        string          `json:"ico_registration,omitempty"`
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
	controller, staffOf := p.Controller+p.tradingAs(), p.Controller
	if p.Controller == "" {
		controller, staffOf = notSet+p.tradingAs(), p.TradingName
		if staffOf == "" {
			staffOf = "the business"
		}
	}
	contact := p.Contact
	if contact == "" {
		contact = notSet
	}
	s := Supplementary{
		Controller:      controller,
		Contact:         contact,
		ICORegistration: p.ICORegistration,
		Purposes: []Purpose{
			{"Answering your messages and providing the service you ask for", "contract (Art. 6(1)(b))"},
			{"AI-drafted replies reviewed by staff before sending", "legitimate interests (Art. 6(1)(f)); you may object with /stop"},
			{"Keeping a register of data-rights requests", "legal obligation (Art. 6(1)(c))"},
		},
		Recipients: []Recipient{
			{"Staff of " + staffOf, "read your messages and approve replies"},
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
		Complaints:             p.complaintsTo() + "; or " + icoRoute,
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
