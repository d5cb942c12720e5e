package drafts

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// ProfileAction is what a /profile command does.
type ProfileAction string

// Profile actions.
const (
	ProfileShow         ProfileAction = "show"          // /profile, /profile show
	ProfileHelp         ProfileAction = "help"          // /profile help
	ProfileSet          ProfileAction = "set"           // /profile set <field> <value>
	ProfilePriceAdd     ProfileAction = "price-add"     // /profile price add <id> <price> <unit> <name…>
	ProfilePriceRemove  ProfileAction = "price-remove"  // /profile price remove <id>
	ProfilePriceVersion ProfileAction = "price-version" // /profile price version <version>
)

// ProfileCommand is a parsed /profile command. Apply runs it on a profile.
type ProfileCommand struct {
	Action ProfileAction
	Field  string // ProfileSet: the canonical JSON field name ("sign_off")
	Value  string // ProfileSet: the new value ("" clears an optional field); ProfilePriceVersion: the version
	Item   Item   // ProfilePriceAdd: the item to add or replace
	ItemID string // ProfilePriceRemove: the id to remove
}

// ProfileUsage is the help text for /profile.
const ProfileUsage = `/profile — show the business profile the AI drafts from
/profile set <field> <value> — fields: name, trade, tone, hours, signoff, vat, currency; and who you are in the privacy notice: legal-name, privacy-contact (an e-mail or postal address), ico (your ICO registration number, if any) ("-" clears all but name, vat and currency)
/profile set hours mon-fri 08:00-17:30, sat 09:00-12:00 — your opening hours; with /profile set timezone Europe/London, a customer who writes while you are closed gets one automatic reply saying when you open
/profile set closed 2025-12-25, 2025-12-24 to 2026-01-02 — dates you are closed (holidays)
/profile set urgent call 0117 496 0000 — how to reach a person while you are closed; the automatic reply names it
/profile set vision on|off — whether the AI model sees the photos customers send (off unless turned on; never for a customer who said /stop)
/profile price add <id> <price> <unit> <name…> — add or replace a price-list item, e.g. /profile price add callout 60.00 visit Standard callout
/profile price remove <id>
/profile price version <version> — price changes bump the version by themselves`

// profileField maps what admins type to the JSON field name.
func profileField(name string) (string, bool) {
	switch strings.ToLower(name) {
	case "name", "business", "business_name":
		return "business_name", true
	case "trade":
		return "trade", true
	case "tone":
		return "tone", true
	case "hours", "opening_hours", "opening-hours":
		return "opening_hours", true
	case "timezone", "time-zone", "time_zone", "tz", "zone":
		return "time_zone", true
	case "closed", "closures", "closure", "holidays", "closed-dates":
		return "closures", true
	case "urgent", "urgent-contact", "urgent_contact", "emergency":
		return "urgent_contact", true
	case "signoff", "sign-off", "sign_off":
		return "sign_off", true
	case "vat", "vat_rate":
		return "vat_rate", true
	case "currency":
		return "currency", true
	case "legal-name", "legal_name", "legalname":
		return "legal_name", true
	case "privacy-contact", "privacy_contact", "privacycontact":
		return "privacy_contact", true
	case "ico", "ico-registration", "ico_registration":
		return "ico_registration", true
	case "vision", "photos", "images":
		return "vision", true
	}
	return "", false
}

// ParseProfileCommand parses the arguments of /profile (without "/profile").
// Errors match ErrBadProfile and are sentences fit to show to the admin.
func ParseProfileCommand(args string) (ProfileCommand, error) {
	args = strings.TrimSpace(args)
	if len(args) > 2000 || !utf8.ValidString(args) {
		return ProfileCommand{}, badProfile("That command is too long or not valid text.")
	}
	verb, rest := cutWord(args)
	switch strings.ToLower(verb) {
	case "", "show":
		if rest != "" {
			return ProfileCommand{}, badProfile("/profile show takes nothing after it.")
		}
		return ProfileCommand{Action: ProfileShow}, nil
	case "help":
		return ProfileCommand{Action: ProfileHelp}, nil
	case "set":
		name, value := cutWord(rest)
		field, ok := profileField(name)
		if !ok {
			return ProfileCommand{}, badProfile("There is no profile field by that name; use name, trade, tone, hours, timezone, closed, urgent, signoff, vat, currency, legal-name, privacy-contact, ico or vision.")
		}
		if value == "" {
			return ProfileCommand{}, badProfile("Give the new value too: /profile set %s <value>.", name)
		}
		return ProfileCommand{Action: ProfileSet, Field: field, Value: value}, nil
	case "price", "prices", "item", "items":
		sub, rest := cutWord(rest)
		switch strings.ToLower(sub) {
		case "add", "set":
			id, rest := cutWord(rest)
			price, rest := cutWord(rest)
			unit, name := cutWord(rest)
			if id == "" || price == "" || unit == "" || name == "" {
				return ProfileCommand{}, badProfile("To add a price, type /profile price add <id> <price> <unit> <name>, for example /profile price add callout 60.00 visit Standard callout.")
			}
			id = strings.ToLower(id)
			if err := checkItemID(id); err != nil {
				return ProfileCommand{}, err
			}
			amount, err := ParseAmount(price)
			if err != nil {
				return ProfileCommand{}, err
			}
			it := Item{ID: id, Name: name, UnitPrice: amount, Unit: unit}
			if err := checkLine("item name", it.Name, true, 100); err != nil {
				return ProfileCommand{}, err
			}
			if err := checkLine("item unit", it.Unit, true, 30); err != nil {
				return ProfileCommand{}, err
			}
			return ProfileCommand{Action: ProfilePriceAdd, Item: it}, nil
		case "remove", "rm", "delete":
			id, extra := cutWord(rest)
			if id == "" || extra != "" {
				return ProfileCommand{}, badProfile("To remove a price, type /profile price remove <id>; /profile lists the ids.")
			}
			id = strings.ToLower(id)
			if err := checkItemID(id); err != nil {
				return ProfileCommand{}, err
			}
			return ProfileCommand{Action: ProfilePriceRemove, ItemID: id}, nil
		case "version":
			v, extra := cutWord(rest)
			if extra != "" {
				return ProfileCommand{}, badProfile("A price-list version has no spaces, such as 2026-11.")
			}
			if err := checkToken("price_list.version", v, maxVersionLen); err != nil {
				return ProfileCommand{}, err
			}
			return ProfileCommand{Action: ProfilePriceVersion, Value: v}, nil
		}
		return ProfileCommand{}, badProfile("Use /profile price add, /profile price remove or /profile price version.")
	}
	return ProfileCommand{}, badProfile("There is no such /profile command; /profile help lists them.")
}

// cutWord splits off the first whitespace-separated word.
func cutWord(s string) (word, rest string) {
	s = strings.TrimSpace(s)
	i := strings.IndexFunc(s, unicode.IsSpace)
	if i < 0 {
		return s, ""
	}
	return s[:i], strings.TrimSpace(s[i:])
}

// Apply returns p changed by the command, validated; p itself is not
// modified. Price changes bump the price-list version ("2026-11" →
// "2026-11.1" → "2026-11.2") so earlier quotes keep naming the list they were
// computed from. Show and help return p unchanged.
func (c ProfileCommand) Apply(p Profile) (Profile, error) {
	p = p.clone()
	switch c.Action {
	case ProfileShow, ProfileHelp:
		return p, nil
	case ProfileSet:
		v := c.Value
		optional := c.Field != "business_name" && c.Field != "vat_rate" && c.Field != "currency"
		if optional && v == "-" {
			v = ""
		}
		if c.Field == "opening_hours" || c.Field == "time_zone" || c.Field == "closures" {
			// Before parsing, whose errors may quote what was typed.
			if err := checkLine(c.Field, v, false, 1000); err != nil {
				return Profile{}, err
			}
		}
		switch c.Field {
		case "business_name":
			p.BusinessName = v
		case "trade":
			p.Trade = v
		case "tone":
			p.Tone = v
		case "opening_hours":
			if v != "" {
				w, err := ParseHours(v)
				if err != nil {
					return Profile{}, err
				}
				v = w.String()
			}
			p.OpeningHours = v
		case "time_zone":
			if v != "" {
				loc, err := LoadTimeZone(v)
				if err != nil {
					return Profile{}, err
				}
				v = loc.String()
			}
			p.TimeZone = v
		case "closures":
			if v != "" {
				cs, err := ParseClosures(v)
				if err != nil {
					return Profile{}, err
				}
				v = FormatClosures(cs)
			}
			p.Closures = v
		case "urgent_contact":
			p.UrgentContact = v
		case "sign_off":
			p.SignOff = v
		case "vat_rate":
			r, err := ParseRate(v)
			if err != nil {
				return Profile{}, err
			}
			p.VATRate = r
		case "currency":
			p.Currency = strings.ToUpper(v)
		case "legal_name":
			p.LegalName = v
		case "privacy_contact":
			p.PrivacyContact = v
		case "ico_registration":
			p.ICORegistration = strings.ToUpper(v)
		case "vision":
			switch strings.ToLower(strings.TrimSpace(c.Value)) {
			case "on", "yes", "true":
				p.Vision = true
			case "off", "no", "false", "-":
				p.Vision = false
			default:
				return Profile{}, badProfile("Vision is on or off: /profile set vision on lets the AI model see customers' photos, /profile set vision off stops it.")
			}
		default:
			return Profile{}, badProfile("There is no profile field by that name.")
		}
	case ProfilePriceAdd:
		replaced := false
		for i := range p.PriceList.Items {
			if p.PriceList.Items[i].ID == c.Item.ID {
				p.PriceList.Items[i] = c.Item
				replaced = true
			}
		}
		if !replaced {
			p.PriceList.Items = append(p.PriceList.Items, c.Item)
		}
		p.PriceList.Version = bumpVersion(p.PriceList.Version)
	case ProfilePriceRemove:
		kept := p.PriceList.Items[:0]
		for _, it := range p.PriceList.Items {
			if it.ID != c.ItemID {
				kept = append(kept, it)
			}
		}
		if len(kept) == len(p.PriceList.Items) {
			return Profile{}, badProfile("There is no price-list item with the id %q; /profile lists them.", c.ItemID)
		}
		p.PriceList.Items = kept
		p.PriceList.Version = bumpVersion(p.PriceList.Version)
	case ProfilePriceVersion:
		p.PriceList.Version = c.Value
	default:
		return Profile{}, badProfile("That profile change is not one /profile knows.")
	}
	if err := p.Validate(); err != nil {
		return Profile{}, err
	}
	return p, nil
}

// hoursWords renders the opening hours for /profile show: in words when
// they are structured, else as the free text they are.
func (p Profile) hoursWords() string {
	if p.OpeningHours == "" {
		return ""
	}
	if w, err := ParseHours(p.OpeningHours); err == nil {
		return w.Words()
	}
	return p.OpeningHours
}

// closedReplyState says whether customers who write while the business is
// closed get the automatic reply, and if not, what to set.
func (p Profile) closedReplyState() string {
	_, hoursErr := ParseHours(p.OpeningHours)
	switch {
	case p.OpeningHours == "":
		return "off (set your opening hours, such as /profile set hours mon-fri 08:00-17:30, sat 09:00-12:00)"
	case hoursErr != nil:
		return "off (the opening hours are free text; set them as days and times, such as /profile set hours mon-fri 08:00-17:30, sat 09:00-12:00)"
	case p.TimeZone == "":
		return "off (set your time zone, such as /profile set timezone Europe/London)"
	}
	return "on (a customer who writes while you are closed gets one automatic reply per closed period, saying when you open)"
}

// bumpVersion increments a trailing ".N", or appends ".1".
func bumpVersion(v string) string {
	if v == "" {
		return "1"
	}
	if i := strings.LastIndexByte(v, '.'); i >= 0 && i < len(v)-1 {
		if n, err := strconv.Atoi(v[i+1:]); err == nil && n >= 0 && n < 1_000_000 && strconv.Itoa(n) == v[i+1:] {
			return v[:i+1] + strconv.Itoa(n+1)
		}
	}
	if len(v) > maxVersionLen-2 {
		v = v[:maxVersionLen-2]
	}
	return v + ".1"
}

// Summary renders the profile for /profile show.
func (p Profile) Summary() string {
	var b strings.Builder
	line := func(label, v string) {
		if v == "" {
			v = "(not set)"
		}
		b.WriteString(label + ": " + v + "\n")
	}
	line("Business", p.BusinessName)
	line("Trade", p.Trade)
	line("Tone", p.Tone)
	line("Opening hours", p.hoursWords())
	line("Time zone", p.TimeZone)
	if p.Closures != "" {
		if cs, err := ParseClosures(p.Closures); err == nil {
			line("Closed on", closuresWords(cs))
		}
	}
	line("Urgent contact", p.UrgentContact)
	line("Closed-hours reply", p.closedReplyState())
	line("Sign-off", p.SignOff)
	line("VAT", p.VATRate.String())
	line("Currency", p.Currency)
	line("Legal name", p.LegalName)
	line("Privacy contact", p.PrivacyContact)
	line("ICO registration", p.ICORegistration)
	if p.Vision {
		b.WriteString("Vision: on (the AI model sees customers' photos)\n")
	} else {
		b.WriteString("Vision: off (the AI model is told a photo was sent, and its caption, but does not see it)\n")
	}
	fmt.Fprintf(&b, "Price list %s (net prices):\n", p.PriceList.Version)
	if len(p.PriceList.Items) == 0 {
		b.WriteString("  (empty)\n")
	}
	for _, it := range p.PriceList.Items {
		fmt.Fprintf(&b, "  %s: %s, %s %s\n", it.ID, it.Name, FormatAmount(it.UnitPrice, p.Currency), PerUnit(it.Unit))
	}
	return strings.TrimSuffix(b.String(), "\n")
}
