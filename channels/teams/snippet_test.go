package teams

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboard/switchboard/bot"
)

func TestSnippetCommands(t *testing.T) {
	e := newEnv(t, nil)
	e.say(t, staffAAD, "/snippet list")
	assert.Equal(t, msgSnippetNone, e.lastText(t))
	e.say(t, staffAAD, "/snippet add hours We open at 8.")
	assert.Equal(t, msgNotAdmin, e.lastText(t), "only admins change snippets")

	e.say(t, adminAAD, "/snippet add Hours We are open 8am to 6pm, Monday to Friday.")
	assert.Contains(t, e.lastText(t), "Saved the snippet hours")
	e.say(t, adminAAD, "/snippet add thanks Thank you!")
	e.say(t, adminAAD, "/snippet add hours We are open 8am to 5pm.")
	assert.Contains(t, e.lastText(t), "Replaced the snippet hours")
	e.say(t, staffAAD, "/snippet list")
	assert.Equal(t, "Snippets:\n- hours: We are open 8am to 5pm.\n- thanks: Thank you!", e.lastText(t))

	for _, bad := range []string{"/snippet add", "/snippet add hours", "/snippet add bad/name text", "/snippet add " + strings.Repeat("n", 33) + " x", "/snippet", "/snippet rename a b"} {
		e.say(t, adminAAD, bad)
		assert.Equal(t, msgSnippetUsage, e.lastText(t), bad)
	}
	e.say(t, adminAAD, "/snippet add long "+strings.Repeat("x", maxSnippetText+1))
	assert.Contains(t, e.lastText(t), "too long")

	e.say(t, staffAAD, "/snippet remove thanks")
	assert.Equal(t, msgNotAdmin, e.lastText(t))
	e.say(t, adminAAD, "/snippet remove THANKS")
	assert.Equal(t, "Removed the snippet thanks.", e.lastText(t))
	e.say(t, adminAAD, "/snippet remove thanks")
	assert.Contains(t, e.lastText(t), "There is no snippet called thanks")
	sn, err := e.state.Snippets(t.Context())
	require.NoError(t, err)
	assert.Equal(t, []Snippet{{Name: "hours", Text: "We are open 8am to 5pm."}}, sn)
	delivered, _ := e.sink.got()
	assert.Empty(t, delivered, "snippet commands stay in the channel")
}

func TestEditWithSnippet(t *testing.T) {
	e := newEnv(t, nil)
	require.NoError(t, e.state.SetSnippet(t.Context(), Snippet{Name: "thanks", Text: "Thank you for choosing us!"}))

	// The card offers the snippets under Edit.
	card := renderCard(bot.Card{DraftID: 12, Draft: "Yes.", Status: bot.DraftPending, Result: &bot.DraftResult{}}, e.ch.view(t.Context()))
	b := mustJSON(t, card)
	assert.Contains(t, b, `"id":"snippet"`)
	assert.Contains(t, b, `"title":"thanks: Thank you for choosing us!"`)

	submit := func(text, snippet string) *http.Request {
		body := e.activity(t, "submit_edit.json", func(m map[string]any) {
			m["id"] = "edit-" + text + snippet
			v := m["value"].(map[string]any)
			v["text"], v["snippet"] = text, snippet
		})
		r := newRequest(body)
		r.Header.Set("Authorization", "Bearer "+e.token(t))
		return r
	}
	require.Equal(t, http.StatusOK, serve(e, submit("Yes, we are open until 6pm.", "thanks")).Code)
	require.Equal(t, http.StatusOK, serve(e, submit("  ", "thanks")).Code)
	require.Equal(t, http.StatusOK, serve(e, submit("Only text", "")).Code)
	_, decs := e.sink.got()
	require.Len(t, decs, 3)
	assert.Equal(t, "Yes, we are open until 6pm.\n\nThank you for choosing us!", decs[0].Text, "the snippet follows the reply")
	assert.Equal(t, "Thank you for choosing us!", decs[1].Text, "the snippet is the reply when none was written")
	assert.Equal(t, "Only text", decs[2].Text)

	// A snippet removed meanwhile: nothing is decided, the person is told.
	_, err := e.state.RemoveSnippet(t.Context(), "thanks")
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, serve(e, submit("Yes.", "thanks")).Code)
	_, decs = e.sink.got()
	assert.Len(t, decs, 3)
	assert.Equal(t, msgSnippetGone, e.lastText(t))
	// A malformed snippet name is a bad action.
	require.Equal(t, http.StatusOK, serve(e, submit("Yes.", "../x")).Code)
	assert.Equal(t, msgBadAction, e.lastText(t))
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}
