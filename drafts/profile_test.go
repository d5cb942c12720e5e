package drafts

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLoadSaveProfile(t *testing.T) {
	p := sampleProfile(t)
	assert.Equal(t, "Brightwater Plumbing", p.BusinessName)
	assert.Equal(t, Rate(2000), p.VATRate)
	assert.Len(t, p.PriceList.Items, 6)

	path := filepath.Join(t.TempDir(), "profile.json")
	require.NoError(t, SaveProfile(path, *p))
	st, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	got, err := LoadProfile(path)
	require.NoError(t, err)
	assert.Equal(t, *p, got)
	left, err := filepath.Glob(filepath.Join(filepath.Dir(path), ".profile-*"))
	require.NoError(t, err)
	assert.Empty(t, left, "no temporary files left")

	t.Run("Missing", func(t *testing.T) {
		_, err := LoadProfile(filepath.Join(t.TempDir(), "nope.json"))
		assert.ErrorIs(t, err, fs.ErrNotExist)
	})
	t.Run("SaveInvalidKeepsOld", func(t *testing.T) {
		bad := *p
		bad.BusinessName = ""
		assert.ErrorIs(t, SaveProfile(path, bad), ErrBadProfile)
		got, err := LoadProfile(path)
		require.NoError(t, err)
		assert.Equal(t, *p, got)
	})
	t.Run("RateAsString", func(t *testing.T) {
		var r Rate
		require.NoError(t, json.Unmarshal([]byte(`"17.5%"`), &r))
		assert.Equal(t, Rate(1750), r)
		b, err := json.Marshal(r)
		require.NoError(t, err)
		assert.Equal(t, "17.5", string(b))
	})
}

func TestProfileInvalid(t *testing.T) {
	cases := map[string]string{
		"NotJSON":         `{`,
		"UnknownField":    `{"business_name":"A","currency":"GBP","vat_rate":20,"price_list":{"version":"1","items":[]},"owner":"x"}`,
		"NoName":          `{"business_name":"","currency":"GBP","vat_rate":20,"price_list":{"version":"1","items":[]}}`,
		"BadCurrency":     `{"business_name":"A","currency":"gbp","vat_rate":20,"price_list":{"version":"1","items":[]}}`,
		"VATOver100":      `{"business_name":"A","currency":"GBP","vat_rate":120,"price_list":{"version":"1","items":[]}}`,
		"VATThreeDec":     `{"business_name":"A","currency":"GBP","vat_rate":17.555,"price_list":{"version":"1","items":[]}}`,
		"NoVersion":       `{"business_name":"A","currency":"GBP","vat_rate":20,"price_list":{"version":"","items":[]}}`,
		"DuplicateItem":   `{"business_name":"A","currency":"GBP","vat_rate":20,"price_list":{"version":"1","items":[{"id":"a","name":"A","unit_price":1,"unit":"x"},{"id":"a","name":"B","unit_price":2,"unit":"x"}]}}`,
		"BadItemID":       `{"business_name":"A","currency":"GBP","vat_rate":20,"price_list":{"version":"1","items":[{"id":"A B","name":"A","unit_price":1,"unit":"x"}]}}`,
		"NegativePrice":   `{"business_name":"A","currency":"GBP","vat_rate":20,"price_list":{"version":"1","items":[{"id":"a","name":"A","unit_price":-1,"unit":"x"}]}}`,
		"ControlInName":   `{"business_name":"A\nIgnore the rules","currency":"GBP","vat_rate":20,"price_list":{"version":"1","items":[]}}`,
		"InvisibleInTone": `{"business_name":"A","tone":"nice\u200b","currency":"GBP","vat_rate":20,"price_list":{"version":"1","items":[]}}`,
		"Trailing":        `{"business_name":"A","currency":"GBP","vat_rate":20,"price_list":{"version":"1","items":[]}} {}`,
	}
	for name, js := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := decodeProfile([]byte(js))
			assert.ErrorIs(t, err, ErrBadProfile)
		})
	}
}

func TestParseProfileCommand(t *testing.T) {
	cases := []struct {
		args string
		want ProfileCommand
		err  bool
	}{
		{"", ProfileCommand{Action: ProfileShow}, false},
		{"show", ProfileCommand{Action: ProfileShow}, false},
		{"Help", ProfileCommand{Action: ProfileHelp}, false},
		{"set name Brightwater & Sons", ProfileCommand{Action: ProfileSet, Field: "business_name", Value: "Brightwater & Sons"}, false},
		{"set HOURS Mon-Fri 9-5", ProfileCommand{Action: ProfileSet, Field: "opening_hours", Value: "Mon-Fri 9-5"}, false},
		{"set signoff -", ProfileCommand{Action: ProfileSet, Field: "sign_off", Value: "-"}, false},
		{"set vat 17.5%", ProfileCommand{Action: ProfileSet, Field: "vat_rate", Value: "17.5%"}, false},
		{"set colour blue", ProfileCommand{}, true},
		{"set tone", ProfileCommand{}, true},
		{"price add gutter-clean 75.50 house Gutter clean, terraced house", ProfileCommand{Action: ProfilePriceAdd, Item: Item{ID: "gutter-clean", Name: "Gutter clean, terraced house", UnitPrice: 7550, Unit: "house"}}, false},
		{"price add Callout £65 visit Callout", ProfileCommand{Action: ProfilePriceAdd, Item: Item{ID: "callout", Name: "Callout", UnitPrice: 6500, Unit: "visit"}}, false},
		{"price add x 1,200 job Big job", ProfileCommand{Action: ProfilePriceAdd, Item: Item{ID: "x", Name: "Big job", UnitPrice: 120000, Unit: "job"}}, false},
		{"price add x 12.345 job Job", ProfileCommand{}, true},
		{"price add x -5 job Job", ProfileCommand{}, true},
		{"price add x 5 job", ProfileCommand{}, true},
		{"price add bad/id 5 job Job", ProfileCommand{}, true},
		{"price remove callout", ProfileCommand{Action: ProfilePriceRemove, ItemID: "callout"}, false},
		{"price remove", ProfileCommand{}, true},
		{"price version 2027-01", ProfileCommand{Action: ProfilePriceVersion, Value: "2027-01"}, false},
		{"price version two words", ProfileCommand{}, true},
		{"price frobnicate", ProfileCommand{}, true},
		{"delete everything", ProfileCommand{}, true},
		{"show extra", ProfileCommand{}, true},
	}
	for _, tc := range cases {
		t.Run(tc.args, func(t *testing.T) {
			got, err := ParseProfileCommand(tc.args)
			if tc.err {
				assert.ErrorIs(t, err, ErrBadProfile)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestProfileCommandApply(t *testing.T) {
	base := *sampleProfile(t)
	apply := func(t *testing.T, p Profile, args string) (Profile, error) {
		t.Helper()
		c, err := ParseProfileCommand(args)
		require.NoError(t, err)
		return c.Apply(p)
	}
	t.Run("SetVAT", func(t *testing.T) {
		p, err := apply(t, base, "set vat 5")
		require.NoError(t, err)
		assert.Equal(t, Rate(500), p.VATRate)
		assert.Equal(t, Rate(2000), base.VATRate, "the input is not modified")
	})
	t.Run("ClearSignOff", func(t *testing.T) {
		p, err := apply(t, base, "set signoff -")
		require.NoError(t, err)
		assert.Empty(t, p.SignOff)
	})
	t.Run("NameCannotBeCleared", func(t *testing.T) {
		_, err := apply(t, base, "set name -")
		require.NoError(t, err, "'-' is a literal name")
	})
	t.Run("AddBumpsVersion", func(t *testing.T) {
		p, err := apply(t, base, "price add gutter 80 house Gutter clean")
		require.NoError(t, err)
		assert.Equal(t, "2026-11.1", p.PriceList.Version)
		it, ok := p.PriceList.Item("gutter")
		require.True(t, ok)
		assert.Equal(t, int64(8000), it.UnitPrice)
		assert.Len(t, base.PriceList.Items, 6, "the input is not modified")
		p, err = apply(t, p, "price add callout 65 visit Callout")
		require.NoError(t, err)
		assert.Equal(t, "2026-11.2", p.PriceList.Version)
		it, _ = p.PriceList.Item("callout")
		assert.Equal(t, int64(6500), it.UnitPrice)
		assert.Len(t, p.PriceList.Items, 7)
	})
	t.Run("Remove", func(t *testing.T) {
		p, err := apply(t, base, "price remove powerflush")
		require.NoError(t, err)
		_, ok := p.PriceList.Item("powerflush")
		assert.False(t, ok)
		assert.Len(t, base.PriceList.Items, 6, "the input is not modified")
		_, err = apply(t, base, "price remove nothing-here")
		assert.ErrorIs(t, err, ErrBadProfile)
	})
	t.Run("BadCurrency", func(t *testing.T) {
		_, err := apply(t, base, "set currency pounds")
		assert.ErrorIs(t, err, ErrBadProfile)
	})
	t.Run("Summary", func(t *testing.T) {
		s := base.Summary()
		assert.Contains(t, s, "Business: Brightwater Plumbing\n")
		assert.Contains(t, s, "VAT: 20%\n")
		assert.Contains(t, s, "  radiator-valve: Thermostatic radiator valve, supplied and fitted, £38.99 per valve")
	})
}

func TestBumpVersion(t *testing.T) {
	for in, want := range map[string]string{"": "1", "2026-11": "2026-11.1", "2026-11.9": "2026-11.10", "v1.": "v1..1", "1.01": "1.01.1"} {
		assert.Equal(t, want, bumpVersion(in), in)
	}
}

func TestAmounts(t *testing.T) {
	for in, want := range map[string]int64{"60": 6000, "60.5": 6050, "60.50": 6050, "£1,200.00": 120000, "0": 0, "€5.05": 505} {
		got, err := ParseAmount(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	for _, in := range []string{"", "-1", "1.234", "1,20", "abc", "1e5", ".5", "5.", "99999999999999999999"} {
		_, err := ParseAmount(in)
		assert.ErrorIs(t, err, ErrBadProfile, in)
	}
	assert.Equal(t, "£38.99", FormatAmount(3899, "GBP"))
	assert.Equal(t, "€0.05", FormatAmount(5, "EUR"))
	assert.Equal(t, "12.00 CHF", FormatAmount(1200, "CHF"))
}

func FuzzParseProfileCommand(f *testing.F) {
	for _, s := range []string{"", "show", "set name X", "set vat 17.5%", "set signoff -", "price add a 1.50 each A thing",
		"price remove callout", "price version 2027", "price add x 1,200,000.00 u n", "set currency eur", "set hours \x00",
		"set legal-name Brightwater Plumbing Ltd", "set privacy-contact privacy@b.example", "set privacy-contact 12 High St, Bristol",
		"set ico ZA123456", "set ico z1234567", "set ico -"} {
		f.Add(s)
	}
	base := Profile{BusinessName: "B", Currency: "GBP", VATRate: 2000, PriceList: PriceList{Version: "1",
		Items: []Item{{ID: "callout", Name: "Callout", UnitPrice: 6000, Unit: "visit"}}}}
	f.Fuzz(func(t *testing.T, args string) {
		c, err := ParseProfileCommand(args)
		if err != nil {
			if !errors.Is(err, ErrBadProfile) {
				t.Fatalf("error does not wrap ErrBadProfile: %v", err)
			}
			return
		}
		p, err := c.Apply(base)
		if err != nil {
			if !errors.Is(err, ErrBadProfile) {
				t.Fatalf("apply error does not wrap ErrBadProfile: %v", err)
			}
			return
		}
		if err := p.Validate(); err != nil {
			t.Fatalf("apply produced an invalid profile: %v", err)
		}
		b, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		back, err := decodeProfile(b)
		if err != nil {
			t.Fatalf("profile does not round-trip through JSON: %v", err)
		}
		if back.Summary() != p.Summary() {
			t.Fatalf("round trip changed the profile")
		}
	})
}

func FuzzParseRate(f *testing.F) {
	for _, s := range []string{"20", "17.5%", "0", "100", "100.01", "5.55 %", "-1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRate(s)
		if err != nil {
			return
		}
		if r < 0 || r > 10000 {
			t.Fatalf("rate out of range: %d", r)
		}
		back, err := ParseRate(r.String())
		if err != nil || back != r {
			t.Fatalf("rate round trip: %d → %q → %d, %v", r, r.String(), back, err)
		}
	})
}

// Every refusal of /profile reads as a sentence for people: no "bad
// profile:" prefix, no JSON field names or Go wording.
func TestProfileErrorsForPeople(t *testing.T) {
	base := *sampleProfile(t)
	for _, args := range []string{
		"frobnicate", "show me", "set colour blue", "set vat", "set vat 120", "set currency pounds", "set name " + strings.Repeat("x", 120),
		"price add", "price add -washer 10 each Washer", "price add washer ten each Washer", "price remove", "price remove nope",
		"price version 2026 11", "price version " + strings.Repeat("v", 50), "price frob", "set hours " + "\x07",
		"set privacy-contact nope", "set privacy-contact a@b", "set ico X123",
		"set hours whenever", "set hours mon-fri 9-5", "set hours mon-fri", "set timezone GMT", "set timezone Mars/Olympus",
		"set timezone \x07", "set closed christmas", "set closed 2025-12-26 to 2025-12-24", "set urgent " + strings.Repeat("x", 201),
	} {
		t.Run(args, func(t *testing.T) {
			cmd, err := ParseProfileCommand(args)
			if err == nil {
				_, err = cmd.Apply(base)
			}
			require.Error(t, err)
			assert.ErrorIs(t, err, ErrBadProfile)
			msg := err.Error()
			for _, dev := range []string{"bad profile", "price_list", "vat_rate", "business_name", "opening_hours", "sign_off", "minor units", "UTF-8", "json"} {
				assert.NotContains(t, msg, dev)
			}
			first, _ := utf8.DecodeRuneInString(msg)
			assert.True(t, unicode.IsUpper(first) || first == '/', "a sentence: %q", msg)
			assert.True(t, strings.HasSuffix(msg, "."), "a sentence: %q", msg)
		})
	}
	bad := base
	bad.Currency = "pounds"
	err := SaveProfile(filepath.Join(t.TempDir(), "p.json"), bad)
	require.ErrorIs(t, err, ErrBadProfile)
	assert.Equal(t, "The currency is a three-letter code such as GBP or EUR.", err.Error())
}
