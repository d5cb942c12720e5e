package teams

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// theme is the part of a Teams Adaptive Card host config that decides text
// contrast: each container style's background and foreground colours
// (#AARRGGBB or #RRGGBB, as host configs write them).
type theme struct {
	name string
	bg   map[string]string            // container style → background
	fg   map[string]map[string]string // container style → "default", "subtle", "warning", … → colour
	// showCard is the container style of an Action.ShowCard's card.
	showCard string
}

// Teams' host configs, from microsoft/AdaptiveCards samples/HostConfig
// (microsoft-teams-light.json, microsoft-teams-dark.json). Teams publishes
// no high-contrast host config; that theme uses the palette of Fluent UI's
// teamsHighContrastTheme (black background, white text, #FFFF01 accents)
// for every container, as Teams' high-contrast mode draws cards.
var teamsThemes = func() []theme {
	lightFG := map[string]string{"default": "#ff252424", "subtle": "#bf252424", "accent": "#6264a7",
		"good": "#92c353", "warning": "#f8d22a", "attention": "#c4314b"}
	darkFG := map[string]string{"default": "#ffffffff", "subtle": "#bfffffff", "accent": "#ffa6a7dc",
		"good": "#ff92c353", "warning": "#fff8d22a", "attention": "#ffd74654"}
	darkOnColour := map[string]string{"default": "#ff201f1f", "subtle": "#ff2d2c2c", "accent": "#ffa6a7dc",
		"good": "#ff92c353", "warning": "#fff8d22a", "attention": "#ffd74654"}
	hcFG := map[string]string{"default": "#ffffff", "subtle": "#ffffff", "accent": "#ffff01",
		"good": "#3ff23f", "warning": "#ffff01", "attention": "#ffff01"}
	coloured := map[string]string{"accent": "#C7DEF9", "good": "#CCFFCC", "attention": "#FFC5B2", "warning": "#FFE2B2"}
	light := theme{name: "light", bg: map[string]string{"default": "#ffffff", "emphasis": "#fff9f8f7"}, fg: map[string]map[string]string{}, showCard: "emphasis"}
	dark := theme{name: "dark", bg: map[string]string{"default": "#ff2d2c2c", "emphasis": "#ff292828"}, fg: map[string]map[string]string{}, showCard: "emphasis"}
	hc := theme{name: "high-contrast", bg: map[string]string{}, fg: map[string]map[string]string{}, showCard: "emphasis"}
	for _, st := range []string{"default", "emphasis", "accent", "good", "attention", "warning"} {
		light.fg[st], hc.fg[st], hc.bg[st] = lightFG, hcFG, "#000000"
		dark.fg[st] = darkFG
		if c, ok := coloured[st]; ok {
			light.bg[st], dark.bg[st] = c, c
			dark.fg[st] = darkOnColour
		}
	}
	return []theme{light, dark, hc}
}()

// rgba parses #RRGGBB or #AARRGGBB.
func rgba(t testing.TB, s string) (r, g, b, a float64) {
	t.Helper()
	h := strings.TrimPrefix(s, "#")
	if len(h) == 6 {
		h = "ff" + h
	}
	require.Len(t, h, 8, s)
	v, err := strconv.ParseUint(h, 16, 32)
	require.NoError(t, err, s)
	return float64(v >> 16 & 0xff), float64(v >> 8 & 0xff), float64(v & 0xff), float64(v>>24&0xff) / 255
}

// luminance is WCAG 2's relative luminance of an sRGB colour.
func luminance(r, g, b float64) float64 {
	lin := func(c float64) float64 {
		c /= 255
		if c <= 0.03928 {
			return c / 12.92
		}
		return math.Pow((c+0.055)/1.055, 2.4)
	}
	return 0.2126*lin(r) + 0.7152*lin(g) + 0.0722*lin(b)
}

// contrast is the WCAG contrast ratio of text colour fg (alpha-blended onto
// bg, as a browser draws it) on bg.
func contrast(t testing.TB, fg, bg string) float64 {
	fr, fgc, fb, fa := rgba(t, fg)
	br, bgc, bb, _ := rgba(t, bg)
	blend := func(f, b float64) float64 { return fa*f + (1-fa)*b }
	l1 := luminance(blend(fr, br), blend(fgc, bgc), blend(fb, bb))
	l2 := luminance(br, bgc, bb)
	if l1 < l2 {
		l1, l2 = l2, l1
	}
	return (l1 + 0.05) / (l2 + 0.05)
}

// textUse is one way a card draws text: its container style, colour and
// subtlety.
type textUse struct{ style, color, subtle string }

// textUses walks a card and records every text element's container style,
// colour and subtlety.
func textUses(v any, style string, showCard string, out map[textUse][]string) {
	switch v := v.(type) {
	case obj:
		if st, ok := v["style"].(string); ok && (v["type"] == "Container" || v["type"] == "Column" || v["type"] == "ColumnSet") {
			style = st
		}
		if v["type"] == "Action.ShowCard" {
			style = showCard
		}
		typ, _ := v["type"].(string)
		txt, hasText := v["text"].(string)
		_, hasTitle := v["title"].(string)
		if typ == "TextBlock" || typ == "TextRun" || (typ == "" && hasTitle) {
			color, _ := v["color"].(string)
			if color == "" {
				color = "default"
			}
			subtle := "default"
			if b, _ := v["isSubtle"].(bool); b {
				subtle = "subtle"
			}
			u := textUse{style: style, color: strings.ToLower(color), subtle: subtle}
			if !hasText {
				txt, _ = v["title"].(string)
			}
			out[u] = append(out[u], txt)
		}
		for k, x := range v {
			if k == "card" && typ == "Action.ShowCard" {
				textUses(x, showCard, showCard, out)
				continue
			}
			textUses(x, style, showCard, out)
		}
	case []any:
		for _, x := range v {
			textUses(x, style, showCard, out)
		}
	}
}

// fgOf is the colour a theme draws a text use in.
func fgOf(th theme, u textUse) string {
	fg := th.fg[u.style]
	if u.color == "default" {
		return fg[u.subtle]
	}
	return fg[u.color]
}

// TestCardContrast measures every text on every golden card against Teams'
// light, dark and high-contrast themes: each must reach WCAG AA's 4.5:1 for
// normal text. The ratios are logged (go test -v -run TestCardContrast).
func TestCardContrast(t *testing.T) {
	uses := map[textUse][]string{}
	for _, g := range goldenCards {
		textUses(renderCard(g.card, goldenView(g.snippets, g.media)), "default", "emphasis", uses)
	}
	keys := make([]textUse, 0, len(uses))
	for u := range uses {
		keys = append(keys, u)
	}
	sort.Slice(keys, func(i, j int) bool { return fmt.Sprint(keys[i]) < fmt.Sprint(keys[j]) })
	for _, u := range keys {
		assert.Equal(t, "default", u.color, "text sets a colour %q: %q", u.color, uses[u][0])
		for _, th := range teamsThemes {
			bg := th.bg[u.style]
			require.NotEmpty(t, bg, "style %q", u.style)
			r := contrast(t, fgOf(th, u), bg)
			t.Logf("%-14s container %-9s text %-7s %-7s %5.2f:1  e.g. %q", th.name, u.style, u.color, u.subtle, r, clipRunes(uses[u][0], 40))
			assert.GreaterOrEqual(t, r, 4.5, "%s theme, %s container, %s %s text: %.2f:1 (%q)", th.name, u.style, u.color, u.subtle, r, uses[u][0])
		}
	}
}

// TestContrastMeasure pins the measure to the figure in issue 12: Teams'
// "Warning" text colour on the light theme's card background is 1.47:1,
// which the old "Needs a person" line used.
func TestContrastMeasure(t *testing.T) {
	light := teamsThemes[0]
	assert.InDelta(t, 1.47, contrast(t, light.fg["default"]["warning"], light.bg["default"]), 0.005)
	assert.InDelta(t, 21.0, contrast(t, "#000000", "#ffffff"), 0.001)
	assert.InDelta(t, 1.0, contrast(t, "#00ffffff", "#ffffff"), 0.001, "a transparent colour is the background")
}
