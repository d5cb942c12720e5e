package drafts

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/mail"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// ErrBadProfile is matched (errors.Is) by every profile validation and
// /profile parse error. Their messages are sentences for the admin who typed
// the command ("A price is a number such as 60 or 60.50."), with fields in
// the words /profile uses; they name no values other than ids the admin
// typed, so they are also safe to log.
var ErrBadProfile = errors.New("the business profile is not valid")

// profileError is a profile problem worded for people.
type profileError struct{ msg string }

func (e *profileError) Error() string        { return e.msg }
func (e *profileError) Is(target error) bool { return target == ErrBadProfile }

// badProfile makes a profileError; the message is a full sentence.
func badProfile(format string, args ...any) error {
	return &profileError{msg: fmt.Sprintf(format, args...)}
}

// fieldWords names profile fields as /profile does.
var fieldWords = map[string]string{
	"business_name":      "The business name",
	"trade":              "The trade",
	"tone":               "The tone",
	"opening_hours":      "The opening hours",
	"time_zone":          "The time zone",
	"closures":           "The closed dates",
	"urgent_contact":     "The urgent contact",
	"sign_off":           "The sign-off",
	"legal_name":         "The legal name",
	"privacy_contact":    "The privacy contact",
	"item name":          "An item's name",
	"item unit":          "An item's unit",
	"price_list.version": "The price-list version",
}

// lowerFirst lower-cases the first letter, to put a sentence after a colon.
func lowerFirst(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	return string(unicode.ToLower(r)) + s[n:]
}

func fieldName(f string) string {
	if w, ok := fieldWords[f]; ok {
		return w
	}
	return "The " + strings.ReplaceAll(f, "_", " ")
}

// Profile is what the model knows about the business. It lives as JSON in
// the data dir (LoadProfile, SaveProfile) and admins edit it with /profile.
type Profile struct {
	BusinessName string `json:"business_name"`
	Trade        string `json:"trade,omitempty"`         // "plumbing and heating"
	Tone         string `json:"tone,omitempty"`          // "friendly, short, plain English"
	OpeningHours string `json:"opening_hours,omitempty"` // ParseHours; older free text: no closed-hours reply
	SignOff      string `json:"sign_off,omitempty"`      // "Thanks, the Brightwater team"
	// TimeZone is the IANA name of the business's time zone
	// ("Europe/London"): the opening hours are on its clock.
	TimeZone string `json:"time_zone,omitempty"`
	// Closures are dates the business is closed whatever the opening
	// hours say, as ParseClosures reads them ("2025-12-25, 2025-12-24 to
	// 2026-01-02").
	Closures string `json:"closures,omitempty"`
	// UrgentContact is how a customer reaches a person while the business
	// is closed ("call 0117 496 0000"); the closed-hours reply names it.
	UrgentContact string `json:"urgent_contact,omitempty"`
	// LegalName is the business's legal name, the controller of the data
	// people give it ("Brightwater Plumbing Ltd"): the privacy notice and
	// the exports name it. If empty, they say it is not set yet.
	LegalName string `json:"legal_name,omitempty"`
	// PrivacyContact is how people reach the business about their data: an
	// e-mail address or a postal address.
	PrivacyContact string `json:"privacy_contact,omitempty"`
	// ICORegistration is the business's registration number with the
	// Information Commissioner's Office ("Z1234567", "ZA123456"), if any.
	ICORegistration string `json:"ico_registration,omitempty"`
	// VATRate is added to the net price-list amounts of a quote.
	VATRate Rate `json:"vat_rate"`
	// Currency is an ISO 4217 code with two decimal places (GBP, EUR, USD…).
	Currency  string    `json:"currency"`
	PriceList PriceList `json:"price_list"`
	// Vision sends the photos customers send to the model with their
	// message (re-encoded, so without their EXIF data such as a location),
	// for a model that can see. Off by default: the business turns it on
	// with /profile set vision on, and its privacy notice should say so.
	// Never for a customer who objected to AI.
	Vision bool `json:"vision,omitempty"`
}

// Controller is who the business is in data protection terms: the
// controller of the personal data people send it (UK GDPR Art. 4(7)).
type Controller struct {
	LegalName       string
	TradingName     string // the business name the drafts use
	PrivacyContact  string
	ICORegistration string
}

// Controller returns the profile's controller details.
func (p Profile) Controller() Controller {
	return Controller{LegalName: p.LegalName, TradingName: p.BusinessName, PrivacyContact: p.PrivacyContact, ICORegistration: p.ICORegistration}
}

// Schedule returns the profile's opening hours as a Schedule. ok is false
// when they are not set, are free text ParseHours cannot read, or the time
// zone is not set: then no closed-hours reply is sent.
func (p Profile) Schedule() (Schedule, bool) {
	if p.OpeningHours == "" || p.TimeZone == "" {
		return Schedule{}, false
	}
	w, err := ParseHours(p.OpeningHours)
	if err != nil {
		return Schedule{}, false
	}
	loc, err := LoadTimeZone(p.TimeZone)
	if err != nil {
		return Schedule{}, false
	}
	var cs []Closure
	if p.Closures != "" {
		if cs, err = ParseClosures(p.Closures); err != nil {
			return Schedule{}, false
		}
	}
	return Schedule{Week: w, Closures: cs, Loc: loc, Urgent: p.UrgentContact}, true
}

// PriceList is the versioned list quotes are computed from. Prices are net
// (without VAT). Any change to the items should change Version; the /profile
// price commands do that by themselves.
type PriceList struct {
	Version string `json:"version"`
	Items   []Item `json:"items"`
}

// Item is one price-list line.
type Item struct {
	ID        string `json:"id"`         // what the model names: "callout"
	Name      string `json:"name"`       // "Standard callout (first hour)"
	UnitPrice int64  `json:"unit_price"` // net, minor units (pence)
	Unit      string `json:"unit"`       // "visit", "hour", "item"
}

// Item returns the price-list item with the id.
func (pl PriceList) Item(id string) (Item, bool) {
	for _, it := range pl.Items {
		if it.ID == id {
			return it, true
		}
	}
	return Item{}, false
}

// Limits of a profile.
const (
	maxProfileBytes = 1 << 20
	maxItems        = 500
	maxUnitPrice    = 10_000_000_000 // 100 million in major units
	maxItemIDLen    = 40
	maxVersionLen   = 40
)

// Rate is a percentage in basis points: 2000 is 20%, 1750 is 17.5%.
type Rate int

// ParseRate reads "20", "20%", "17.5" or "17.50 %" (at most two decimals,
// 0 to 100).
func ParseRate(s string) (Rate, error) {
	s = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(s), "%"))
	v, err := parseFixed2(s)
	if err != nil || v > 10000 {
		return 0, badProfile("A VAT rate is a percentage from 0 to 100 with at most two decimals, such as 20 or 17.5.")
	}
	return Rate(v), nil
}

// String renders the rate as a percentage: "20%", "17.5%".
func (r Rate) String() string { return formatFixed2(int64(r), true) + "%" }

// MarshalJSON writes the percentage as a number: 20, 17.5.
func (r Rate) MarshalJSON() ([]byte, error) { return []byte(formatFixed2(int64(r), true)), nil }

// UnmarshalJSON reads a percentage as a number (20) or a string ("20%").
func (r *Rate) UnmarshalJSON(b []byte) error {
	s := string(b)
	if len(b) > 0 && b[0] == '"' {
		if err := json.Unmarshal(b, &s); err != nil {
			return badProfile("The VAT rate in the profile file is not a number.")
		}
	}
	v, err := ParseRate(s)
	if err != nil {
		return err
	}
	*r = v
	return nil
}

// parseFixed2 parses a non-negative decimal with at most two decimals into
// hundredths: "12" → 1200, "12.5" → 1250, "1,200.00" → 120000.
func parseFixed2(s string) (int64, error) {
	if s == "" || len(s) > 24 {
		return 0, errors.New("bad number")
	}
	whole, frac, hasDot := strings.Cut(s, ".")
	if whole == "" || (hasDot && (frac == "" || len(frac) > 2)) {
		return 0, errors.New("bad number")
	}
	if strings.Contains(whole, ",") {
		groups := strings.Split(whole, ",")
		if len(groups[0]) == 0 || len(groups[0]) > 3 {
			return 0, errors.New("bad number")
		}
		for _, g := range groups[1:] {
			if len(g) != 3 {
				return 0, errors.New("bad number")
			}
		}
		whole = strings.Join(groups, "")
	}
	for _, c := range whole + frac {
		if c < '0' || c > '9' {
			return 0, errors.New("bad number")
		}
	}
	if len(whole) > 15 {
		return 0, errors.New("bad number")
	}
	w, err := strconv.ParseInt(whole, 10, 64)
	if err != nil {
		return 0, errors.New("bad number")
	}
	var f int64
	switch len(frac) {
	case 1:
		f = int64(frac[0]-'0') * 10
	case 2:
		f = int64(frac[0]-'0')*10 + int64(frac[1]-'0')
	}
	return w*100 + f, nil
}

// formatFixed2 renders hundredths: 1250 → "12.50", or "12.5" when trim.
func formatFixed2(v int64, trim bool) string {
	neg := v < 0
	if neg {
		v = -v
	}
	s := strconv.FormatInt(v/100, 10)
	if f := v % 100; f != 0 || !trim {
		fs := fmt.Sprintf("%02d", f)
		if trim {
			fs = strings.TrimRight(fs, "0")
		}
		s += "." + fs
	}
	if neg {
		s = "-" + s
	}
	return s
}

// ParseAmount reads an amount typed by an admin, in major units with at most
// two decimals ("60", "60.5", "£1,200.00"), into minor units.
func ParseAmount(s string) (int64, error) {
	s = strings.TrimSpace(s)
	for _, sym := range []string{"£", "€", "$"} {
		s = strings.TrimPrefix(s, sym)
	}
	v, err := parseFixed2(strings.TrimSpace(s))
	if err != nil || v > maxUnitPrice {
		return 0, badProfile("A price is a number such as 60 or 60.50, up to 100000000.")
	}
	return v, nil
}

// FormatAmount renders minor units for people: "£60.00", "€5.50",
// "12.00 CHF".
func FormatAmount(minor int64, currency string) string {
	v := formatFixed2(minor, false)
	switch currency {
	case "GBP":
		return "£" + v
	case "EUR":
		return "€" + v
	case "USD":
		return "$" + v
	}
	return v + " " + currency
}

// Validate checks the profile; errors match ErrBadProfile and say, for
// people, which field is wrong.
func (p *Profile) Validate() error {
	texts := []struct {
		field    string
		v        string
		required bool
		max      int
	}{
		{"business_name", p.BusinessName, true, 100},
		{"trade", p.Trade, false, 100},
		{"tone", p.Tone, false, 200},
		{"opening_hours", p.OpeningHours, false, 300},
		{"sign_off", p.SignOff, false, 200},
		{"closures", p.Closures, false, 1000},
		{"urgent_contact", p.UrgentContact, false, 200},
		{"legal_name", p.LegalName, false, 160},
		{"privacy_contact", p.PrivacyContact, false, 300},
	}
	for _, t := range texts {
		if err := checkLine(t.field, t.v, t.required, t.max); err != nil {
			return err
		}
	}
	if p.TimeZone != "" {
		if _, err := LoadTimeZone(p.TimeZone); err != nil {
			return err
		}
	}
	if p.Closures != "" {
		if _, err := ParseClosures(p.Closures); err != nil {
			return err
		}
	}
	if err := checkPrivacyContact(p.PrivacyContact); err != nil {
		return err
	}
	if err := checkICORegistration(p.ICORegistration); err != nil {
		return err
	}
	if p.VATRate < 0 || p.VATRate > 10000 {
		return badProfile("The VAT rate is a percentage from 0 to 100.")
	}
	if len(p.Currency) != 3 || strings.ToUpper(p.Currency) != p.Currency || strings.Trim(p.Currency, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != "" {
		return badProfile("The currency is a three-letter code such as GBP or EUR.")
	}
	return p.PriceList.validate()
}

func (pl *PriceList) validate() error {
	if err := checkToken("price_list.version", pl.Version, maxVersionLen); err != nil {
		return err
	}
	if len(pl.Items) > maxItems {
		return badProfile("The price list can hold at most %d items.", maxItems)
	}
	seen := make(map[string]bool, len(pl.Items))
	for i, it := range pl.Items {
		if err := checkItemID(it.ID); err != nil {
			return badProfile("Price-list item %d: %s", i+1, lowerFirst(err.Error()))
		}
		if seen[it.ID] {
			return badProfile("Two price-list items have the id %q; give each its own.", it.ID)
		}
		seen[it.ID] = true
		if err := checkLine("item name", it.Name, true, 100); err != nil {
			return badProfile("Price-list item %q: %s", it.ID, lowerFirst(err.Error()))
		}
		if err := checkLine("item unit", it.Unit, true, 30); err != nil {
			return badProfile("Price-list item %q: %s", it.ID, lowerFirst(err.Error()))
		}
		if it.UnitPrice < 0 || it.UnitPrice > maxUnitPrice {
			return badProfile("The price of item %q must be from 0 to %d.", it.ID, int64(maxUnitPrice/100))
		}
	}
	return nil
}

// checkPrivacyContact allows an e-mail address (a bare one, with a dotted
// domain) or a postal address (a line with a space and a digit or a comma,
// "12 High Street, Bristol BS1 4DJ"). Empty is allowed: not set.
func checkPrivacyContact(v string) error {
	v = strings.TrimSpace(v)
	if v == "" {
		return nil
	}
	if strings.Contains(v, "@") {
		a, err := mail.ParseAddress(v)
		_, domain, _ := strings.Cut(v, "@")
		if err != nil || a.Address != v || a.Name != "" || !strings.Contains(strings.Trim(domain, "."), ".") {
			return badProfile("The privacy contact is not an e-mail address such as privacy@example.co.uk.")
		}
		return nil
	}
	if len(v) < 8 || !strings.Contains(v, " ") || !strings.ContainsAny(v, "0123456789,") {
		return badProfile("The privacy contact is an e-mail address or a postal address, such as 12 High Street, Bristol BS1 4DJ.")
	}
	return nil
}

// checkICORegistration allows an ICO data protection register number:
// "Z" and seven characters, the last six digits ("Z1234567", "ZA123456").
// Empty is allowed: the business has none (or has not said).
func checkICORegistration(v string) error {
	if v == "" {
		return nil
	}
	ok := len(v) == 8 && v[0] == 'Z' && (v[1] >= 'A' && v[1] <= 'Z' || v[1] >= '0' && v[1] <= '9')
	for i := 2; ok && i < len(v); i++ {
		ok = v[i] >= '0' && v[i] <= '9'
	}
	if !ok {
		return badProfile("The ICO registration is a register number such as Z1234567 or ZA123456.")
	}
	return nil
}

// checkItemID allows lower-case letters, digits, '-' and '_', starting with
// a letter or digit.
func checkItemID(id string) error {
	if id == "" || len(id) > maxItemIDLen {
		return badProfile("An item id has 1 to %d characters, such as tap-washer.", maxItemIDLen)
	}
	for i, c := range id {
		ok := c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || (i > 0 && (c == '-' || c == '_'))
		if !ok {
			return badProfile("An item id uses lower-case letters, digits, - and _, and starts with a letter or digit, such as tap-washer.")
		}
	}
	return nil
}

// checkToken allows printable ASCII without spaces.
func checkToken(field, v string, max int) error {
	if v == "" || len(v) > max {
		return badProfile("%s has 1 to %d characters.", fieldName(field), max)
	}
	for _, c := range v {
		if c <= ' ' || c > '~' {
			return badProfile("%s has no spaces or special characters, such as 2026-11.", fieldName(field))
		}
	}
	return nil
}

// checkLine allows one line of valid UTF-8 without control characters.
func checkLine(field, v string, required bool, max int) error {
	if required && strings.TrimSpace(v) == "" {
		return badProfile("%s is required.", fieldName(field))
	}
	if utf8.RuneCountInString(v) > max {
		return badProfile("%s is longer than %d characters.", fieldName(field), max)
	}
	if !utf8.ValidString(v) {
		return badProfile("%s is not valid text.", fieldName(field))
	}
	for _, r := range v {
		if unicode.IsControl(r) || isInvisible(r) {
			return badProfile("%s has an invisible or control character; type it again.", fieldName(field))
		}
	}
	return nil
}

// clone returns a deep copy.
func (p Profile) clone() Profile {
	p.PriceList.Items = append([]Item(nil), p.PriceList.Items...)
	return p
}

// LoadProfile reads and validates a profile file. A missing file gives an
// error wrapping fs.ErrNotExist.
func LoadProfile(path string) (Profile, error) {
	f, err := os.Open(path)
	if err != nil {
		return Profile{}, fmt.Errorf("load profile: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxProfileBytes+1))
	if err != nil {
		return Profile{}, fmt.Errorf("load profile: %w", err)
	}
	if len(b) > maxProfileBytes {
		return Profile{}, fmt.Errorf("load profile: %w", badProfile("The profile file is larger than %d KB.", maxProfileBytes>>10))
	}
	p, err := decodeProfile(b)
	if err != nil {
		return Profile{}, fmt.Errorf("load profile: %w", err)
	}
	return p, nil
}

func decodeProfile(b []byte) (Profile, error) {
	var p Profile
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		var syn *json.SyntaxError
		if errors.As(err, &syn) {
			return Profile{}, badProfile("The profile file is not valid JSON (near byte %d).", syn.Offset)
		}
		if errors.Is(err, ErrBadProfile) {
			return Profile{}, err
		}
		if f, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			return Profile{}, badProfile("The profile file has a setting it does not know: %s.", f)
		}
		return Profile{}, badProfile("The profile file has a setting of the wrong kind (a number where text belongs, or the other way round).")
	}
	if dec.More() {
		return Profile{}, badProfile("The profile file has more after the profile; it holds one JSON object.")
	}
	if err := p.Validate(); err != nil {
		return Profile{}, err
	}
	return p, nil
}

// SaveProfile validates p and writes it atomically (temporary file, fsync,
// rename) with mode 0600. A profile that does not validate gives its error
// as it is, a sentence for the admin.
func SaveProfile(path string, p Profile) (err error) {
	if err := p.Validate(); err != nil {
		return err
	}
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return fmt.Errorf("save profile: %w", err)
	}
	b = append(b, '\n')
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, ".profile-*.tmp")
	if err != nil {
		return fmt.Errorf("save profile: %w", err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(tmp)
		}
	}()
	if err = f.Chmod(0o600); err != nil {
		return fmt.Errorf("save profile: %w", err)
	}
	if _, err = f.Write(b); err != nil {
		return fmt.Errorf("save profile: %w", err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("save profile: %w", err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("save profile: %w", err)
	}
	if err = os.Rename(tmp, path); err != nil {
		return fmt.Errorf("save profile: %w", err)
	}
	if d, derr := os.Open(dir); derr == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	return nil
}
