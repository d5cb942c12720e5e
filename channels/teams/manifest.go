package teams

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"net/url"
	"regexp"
	"time"
)

// Teams app manifest schema written by WriteManifest.
const (
	manifestVersion = "1.22"
	manifestSchema  = "https://developer.microsoft.com/json-schemas/teams/v1.22/MicrosoftTeams.schema.json"
)

// Manifest holds the optional parts of a Teams app package. Zero values
// take the documented defaults.
type Manifest struct {
	// Version is the app package version; if empty, "1.0.0". Raise it for
	// every upload that replaces an installed package.
	Version string
	// Name is the short app name (at most 30 characters); if empty, "Switchboard".
	Name string
	// Developer is the publisher's name; if empty, Name.
	Developer string
	// PrivacyURL and TermsURL are the business's privacy notice and terms
	// of use, https links Teams shows with the app. Required.
	PrivacyURL, TermsURL string
	// WebsiteURL is the business's website; if empty, the site (scheme and
	// host) of PrivacyURL.
	WebsiteURL string
}

// command is one entry of a manifest commandList: what Teams suggests when
// someone types in a chat with the bot.
type command struct {
	Title       string `json:"title"`
	Description string `json:"description"`
}

// Commands Teams suggests, per scope (at most 10 a list; titles up to 32
// characters, descriptions up to 128). Titles keep the slash, so choosing
// one sends a command the bot understands.
var (
	personalCommands = []command{
		{"/help", "What I can do, and the commands"},
		{"/privacy", "How we handle personal data"},
		{"/export", "Get a copy of the data we hold about you"},
		{"/forget me", "Erase the data we hold about you"},
		{"/stop", "No AI on your messages"},
		{"/here", "Admins: post draft cards in this chat"},
		{"/snippet list", "The reply snippets staff can add under Edit"},
		{"/profile", "Admins: the business profile AI drafts use"},
		{"/admin list", "Admins: who the admins are"},
		{"/requests", "Admins: open data-rights requests and their due dates"},
	}
	teamCommands = []command{
		{"/help", "What I can do, and the commands"},
		{"/here", "Admins: post draft cards in this channel"},
		{"/snippet list", "The reply snippets staff can add under Edit"},
		{"/privacy", "How we handle personal data"},
	}
)

var guidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// WriteManifest writes a Teams app package (a zip with manifest.json,
// color.png 192×192 and outline.png 32×32) for the bot with Microsoft App ID
// appID, installable in personal chats, teams and group chats. Upload it in
// Teams under Apps, Manage your apps, Upload an app.
func WriteManifest(w io.Writer, appID string, m Manifest) error {
	if !guidRE.MatchString(appID) {
		return errors.New("teams manifest: the app id must be a GUID (MICROSOFT_APP_ID)")
	}
	if m.Version == "" {
		m.Version = "1.0.0"
	}
	if m.Name == "" {
		m.Name = "Switchboard"
	}
	if len([]rune(m.Name)) > 30 {
		return errors.New("teams manifest: the name has more than 30 characters")
	}
	if m.Developer == "" {
		m.Developer = m.Name
	}
	if m.PrivacyURL == "" || m.TermsURL == "" {
		return errors.New("teams manifest: the business's privacy notice and terms of use links are required (--privacy-url, --terms-url)")
	}
	if m.WebsiteURL == "" {
		if p, err := url.Parse(m.PrivacyURL); err == nil && p.Host != "" {
			m.WebsiteURL = (&url.URL{Scheme: p.Scheme, Host: p.Host, Path: "/"}).String()
		}
	}
	for _, u := range []string{m.WebsiteURL, m.PrivacyURL, m.TermsURL} {
		if p, err := url.Parse(u); err != nil || p.Scheme != "https" || p.Host == "" || len(u) > 2048 {
			return errors.New("teams manifest: the website, privacy and terms links must be https URLs")
		}
	}
	scopes := []string{"personal", "team", "groupChat"}
	doc := map[string]any{
		"$schema":         manifestSchema,
		"manifestVersion": manifestVersion,
		"version":         m.Version,
		"id":              appID,
		"developer": map[string]string{
			"name": m.Developer, "websiteUrl": m.WebsiteURL, "privacyUrl": m.PrivacyURL, "termsOfUseUrl": m.TermsURL,
		},
		"name": map[string]string{"short": m.Name, "full": m.Name + ": customer replies for approval"},
		"description": map[string]string{
			"short": "Approve AI-drafted replies to your WhatsApp customers.",
			"full": "Switchboard posts a card for each customer message with a drafted reply. Staff approve, edit, " +
				"regenerate or reject it, and the reply goes back to the customer on WhatsApp. Customers and admins " +
				"can export or erase personal data with /export and /forget.",
		},
		"icons":       map[string]string{"color": "color.png", "outline": "outline.png"},
		"accentColor": "#2B5797",
		"bots": []any{map[string]any{
			"botId":              appID,
			"scopes":             scopes,
			"supportsFiles":      true, // exports go to personal chats with a consent card
			"isNotificationOnly": false,
			"commandLists": []any{
				map[string]any{"scopes": []string{"personal"}, "commands": personalCommands},
				map[string]any{"scopes": []string{"team", "groupChat"}, "commands": teamCommands},
			},
		}},
		"permissions":  []string{"identity", "messageTeamMembers"},
		"validDomains": []string{},
	}
	manifest, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return fmt.Errorf("teams manifest: %w", err)
	}
	var colorPNG, outlinePNG bytes.Buffer
	if err := png.Encode(&colorPNG, colorIcon()); err != nil {
		return fmt.Errorf("teams manifest: color icon: %w", err)
	}
	if err := png.Encode(&outlinePNG, outlineIcon()); err != nil {
		return fmt.Errorf("teams manifest: outline icon: %w", err)
	}
	zw := zip.NewWriter(w)
	stamp := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) // reproducible archives
	for _, f := range []struct {
		name string
		data []byte
	}{{"manifest.json", manifest}, {"color.png", colorPNG.Bytes()}, {"outline.png", outlinePNG.Bytes()}} {
		fw, err := zw.CreateHeader(&zip.FileHeader{Name: f.name, Method: zip.Deflate, Modified: stamp})
		if err != nil {
			return fmt.Errorf("teams manifest: %w", err)
		}
		if _, err := fw.Write(f.data); err != nil {
			return fmt.Errorf("teams manifest: %w", err)
		}
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("teams manifest: %w", err)
	}
	return nil
}

// switchMark reports whether (x, y) in a size×size square is on the
// Switchboard mark: two horizontal bars with a knob each, like two toggles.
func switchMark(x, y, size int) bool {
	fx, fy := float64(x)+0.5, float64(y)+0.5
	s := float64(size)
	bar := func(cy, knob float64) bool {
		h := s * 0.16
		left, right := s*0.18, s*0.82
		inBar := fx >= left && fx <= right && fy >= cy-h/2 && fy <= cy+h/2
		dx, dy := fx-knob, fy-cy
		inKnob := dx*dx+dy*dy <= (s*0.14)*(s*0.14)
		return inBar || inKnob
	}
	return bar(s*0.34, s*0.34) || bar(s*0.66, s*0.66)
}

// colorIcon is the 192×192 full-colour icon: a white mark on the accent colour.
func colorIcon() image.Image {
	const size = 192
	img := image.NewNRGBA(image.Rect(0, 0, size, size))
	accent := color.NRGBA{R: 0x2B, G: 0x57, B: 0x97, A: 0xFF}
	for y := 0; y < size; y++ {
		for x := 0; x < size; x++ {
			c := accent
			if switchMark(x, y, size) {
				c = color.NRGBA{R: 0xFF, G: 0xFF, B: 0xFF, A: 0xFF}
			}
			img.SetNRGBA(x, y, c)
		}
	}
	return img
}

// outlineIcon is the 32×32 outline icon: white on transparent, as Teams requires.
func outlineIcon() image.Image {
	const size = 32
	img := image.NewNRGBA(image.Rect(0, 0, size, size))
	for y := 0; y < size; y++ {
		for x := 0; x < size; x++ {
			if switchMark(x, y, size) {
				img.SetNRGBA(x, y, color.NRGBA{R: 0xFF, G: 0xFF, B: 0xFF, A: 0xFF})
			}
		}
	}
	return img
}
