package privacy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboard/switchboard/bot"
)

// validator checks a JSON value against the subset of JSON Schema
// (2020-12) that testdata/export.schema.json uses. A keyword outside the
// subset is an error, so the schema cannot silently say more than is
// checked.
type validator struct{ root map[string]any }

func loadSchema(t testing.TB) *validator {
	t.Helper()
	b, err := os.ReadFile("testdata/export.schema.json")
	require.NoError(t, err)
	var root map[string]any
	require.NoError(t, decodeJSON(b, &root))
	return &validator{root: root}
}

func decodeJSON(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return fmt.Errorf("trailing data")
	}
	return nil
}

var annotations = map[string]bool{"$schema": true, "$id": true, "title": true, "description": true, "$defs": true}

func (v *validator) validate(schema map[string]any, val any, path string) []string {
	var errs []string
	fail := func(format string, args ...any) { errs = append(errs, path+": "+fmt.Sprintf(format, args...)) }
	for k, kw := range schema {
		switch k {
		case "$ref":
			ref, _ := kw.(string)
			name, ok := strings.CutPrefix(ref, "#/$defs/")
			defs, _ := v.root["$defs"].(map[string]any)
			target, found := defs[name].(map[string]any)
			if !ok || !found {
				fail("unresolvable $ref %q", ref)
				continue
			}
			errs = append(errs, v.validate(target, val, path)...)
		case "type":
			if !hasType(val, kw.(string)) {
				fail("want %s, got %T", kw, val)
			}
		case "const":
			if !reflect.DeepEqual(val, kw) {
				fail("want const %v, got %v", kw, val)
			}
		case "enum":
			if !slices.ContainsFunc(kw.([]any), func(e any) bool { return reflect.DeepEqual(e, val) }) {
				fail("%v not in enum %v", val, kw)
			}
		case "minimum":
			n, ok := val.(json.Number)
			minimum, _ := kw.(json.Number).Float64()
			if f, err := n.Float64(); ok && err == nil && f < minimum {
				fail("%v below minimum %v", val, kw)
			}
		case "pattern":
			s, ok := val.(string)
			if re, err := regexp.Compile(kw.(string)); err != nil {
				fail("bad pattern %v", kw)
			} else if ok && !re.MatchString(s) {
				fail("%q does not match %v", s, kw)
			}
		case "format":
			s, ok := val.(string)
			if kw != "date-time" {
				fail("unsupported format %v", kw)
			} else if _, err := time.Parse(time.RFC3339Nano, s); ok && err != nil {
				fail("not a date-time: %q", s)
			}
		case "required":
			obj, ok := val.(map[string]any)
			for _, r := range kw.([]any) {
				if _, has := obj[r.(string)]; ok && !has {
					fail("missing required %q", r)
				}
			}
		case "properties", "additionalProperties":
			obj, ok := val.(map[string]any)
			if !ok {
				continue
			}
			props, _ := schema["properties"].(map[string]any)
			if k == "properties" {
				for name, sub := range props {
					if pv, has := obj[name]; has {
						errs = append(errs, v.validate(sub.(map[string]any), pv, path+"."+name)...)
					}
				}
				continue
			}
			for name, pv := range obj {
				if _, known := props[name]; known {
					continue
				}
				switch ap := kw.(type) {
				case bool:
					if !ap {
						fail("unexpected property %q", name)
					}
				case map[string]any:
					errs = append(errs, v.validate(ap, pv, path+"."+name)...)
				}
			}
		case "items":
			arr, ok := val.([]any)
			if !ok {
				continue
			}
			for i, item := range arr {
				errs = append(errs, v.validate(kw.(map[string]any), item, fmt.Sprintf("%s[%d]", path, i))...)
			}
		default:
			if !annotations[k] {
				fail("unsupported keyword %q", k)
			}
		}
	}
	return errs
}

func hasType(val any, typ string) bool {
	switch typ {
	case "object":
		_, ok := val.(map[string]any)
		return ok
	case "array":
		_, ok := val.([]any)
		return ok
	case "string":
		_, ok := val.(string)
		return ok
	case "boolean":
		_, ok := val.(bool)
		return ok
	case "null":
		return val == nil
	case "number":
		_, ok := val.(json.Number)
		return ok
	case "integer":
		n, ok := val.(json.Number)
		if !ok {
			return false
		}
		_, err := n.Int64()
		return err == nil
	}
	return false
}

// validateExport decodes doc and checks it against the schema.
func validateExport(t testing.TB, doc []byte) map[string]any {
	t.Helper()
	v := loadSchema(t)
	var val map[string]any
	require.NoError(t, decodeJSON(doc, &val), "export is not one JSON document")
	errs := v.validate(v.root, val, "$")
	require.Empty(t, errs, "export does not match its schema")
	return val
}

func TestValidatorCatchesViolations(t *testing.T) {
	v := loadSchema(t)
	good := `{"schema":"switchboard.export/v1","generated_at":"2026-11-28T10:00:00Z","request_id":1,"scope":"self",
	"supplementary_information":{"controller":"c","contact":"c","purposes":[],"recipients":[],"retention":[],"rights":[],"source":"s",
	"automated_decision_making":"a","international_transfers":"i","complaints":"c"},"subjects":[]}`
	var val map[string]any
	require.NoError(t, decodeJSON([]byte(good), &val))
	require.Empty(t, v.validate(v.root, val, "$"))
	tests := []struct{ name, from, to string }{
		{"WrongConst", `"switchboard.export/v1"`, `"switchboard.export/v2"`},
		{"BadTime", `"2026-11-28T10:00:00Z"`, `"yesterday"`},
		{"NotInteger", `"request_id":1`, `"request_id":1.5`},
		{"BelowMinimum", `"request_id":1`, `"request_id":0`},
		{"BadEnum", `"scope":"self"`, `"scope":"everyone"`},
		{"ExtraProperty", `"subjects":[]`, `"subjects":[],"extra":1`},
		{"MissingRequired", `"source":"s",`, ``},
		{"WrongItemType", `"rights":[]`, `"rights":[1]`},
		{"PatternMismatch", `"subjects":[]`, `"subjects":[{"subject":{"subject_id":"s","name":"","role":"customer","ai_restricted":false},"identities":[],"messages":[],"media":[{"id":1,"message_id":1,"kind":"image","mime":"image/jpeg","size":1,"state":"fetched","file":"../escape.jpg"}],"drafts":[],"decisions":[],"decisions_by_you":[],"outbox":[],"cards":[],"requests":[],"audit":[]}]`},
	}
	// The pattern case's document is valid with a path inside media/.
	okMedia := strings.Replace(good, `"subjects":[]`, strings.Replace(tests[len(tests)-1].to, "../escape.jpg", "media/1.jpg", 1), 1)
	require.NoError(t, decodeJSON([]byte(okMedia), &val))
	require.Empty(t, v.validate(v.root, val, "$"))
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			bad := strings.Replace(good, tc.from, tc.to, 1)
			require.NotEqual(t, good, bad)
			var val map[string]any
			require.NoError(t, decodeJSON([]byte(bad), &val))
			assert.NotEmpty(t, v.validate(v.root, val, "$"))
		})
	}
}

// TestSchemaNamesEveryStatus: every status a message, reply or draft can
// be in is one the export schema allows, so an export taken while a reply
// is being sent (or a draft is being made) is valid.
func TestSchemaNamesEveryStatus(t *testing.T) {
	b, err := os.ReadFile("testdata/export.schema.json")
	require.NoError(t, err)
	var enums [][]any
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, c := range v {
				if e, ok := c.([]any); ok && k == "enum" {
					enums = append(enums, e)
				}
				walk(c)
			}
		case []any:
			for _, c := range v {
				walk(c)
			}
		}
	}
	var schema any
	require.NoError(t, json.Unmarshal(b, &schema))
	walk(schema)
	has := func(e []any, s string) bool { return slices.Contains(e, any(s)) }
	sendStatuses := []bot.MessageStatus{bot.StatusReceived, bot.StatusPending, bot.StatusSending, bot.StatusUnconfirmed,
		bot.StatusSent, bot.StatusDelivered, bot.StatusRead, bot.StatusFailed}
	draftStatuses := []bot.DraftStatus{bot.DraftDrafting, bot.DraftPending, bot.DraftApproved, bot.DraftEdited,
		bot.DraftRejected, bot.DraftFailed, bot.DraftSent}
	var sends, drafts, requests int
	for _, e := range enums {
		switch {
		case has(e, "refused"):
			requests++
			for _, s := range []string{"open", "done", "partial", "refused", "failed"} {
				assert.True(t, has(e, s), "request status %q missing from %v", s, e)
			}
		case has(e, "received"):
			sends++
			for _, s := range sendStatuses {
				assert.True(t, has(e, string(s)), "message/outbox status %q missing from %v", s, e)
			}
		case has(e, "approved"):
			drafts++
			for _, s := range draftStatuses {
				assert.True(t, has(e, string(s)), "draft status %q missing from %v", s, e)
			}
		}
	}
	assert.Equal(t, 2, sends, "the messages and outbox status lists")
	assert.Equal(t, 1, drafts, "the drafts status list")
	assert.Equal(t, 1, requests, "the requests status list")
}
