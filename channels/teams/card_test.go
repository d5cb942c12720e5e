package teams

import (
	"context"
	"encoding/json"
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboard/switchboard/bot"
	"github.com/switchboard/switchboard/media/mediatest"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata")

var quote = &bot.Quote{
	Lines: []bot.QuoteLine{
		{ItemID: "boiler-service", Name: "Boiler service", Quantity: 1, UnitPrice: 8500, Total: 8500},
		{ItemID: "valve", Name: "Radiator valve", Quantity: 3, UnitPrice: 1250, Total: 3750},
	},
	Net: 12250, VAT: 2450, Total: 14700, Currency: "GBP", PriceListVersion: "2026-11-01",
}

var decidedAt = time.Date(2026, 11, 28, 10, 21, 0, 0, time.UTC)

// goldenNow is when golden cards are rendered.
var goldenNow = decidedAt.Add(-3 * time.Minute)

// goldenSnippets are offered under Edit on the pending_snippets card.
var goldenSnippets = []Snippet{
	{Name: "hours", Text: "We are open Monday to Friday, 8am to 6pm, and Saturday mornings."},
	{Name: "thanks", Text: "Thank you for choosing Brightwater Plumbing!"},
}

var goldenCards = []struct {
	name     string
	card     bot.Card
	snippets bool
	media    mediaView
}{
	{name: "pending_quote", card: bot.Card{
		DraftID: 12, Subject: "s_0123456789abcdef01234567", Customer: "+44 7••• ••0123",
		Message: "How much for a boiler service and 3 valves?", WroteAt: goldenNow.Add(-12 * time.Minute),
		Recent: []bot.CardLine{
			{Dir: bot.In, Text: "Hi, do you service Worcester boilers?", At: goldenNow.Add(-40 * time.Minute)},
			{Dir: bot.Out, Text: "Yes, we do. What do you need?", At: goldenNow.Add(-30 * time.Minute)},
		},
		Draft: "That would be £147.00 including VAT.", Author: "AI draft",
		Status: bot.DraftPending,
		Result: &bot.DraftResult{Text: "That would be £147.00 including VAT.", Intent: "quote", Quote: quote},
	}},
	{name: "pending_flagged", card: bot.Card{
		DraftID: 13, Customer: "Sam", Message: "Do you fit heat pumps?", WroteAt: goldenNow.Add(-26 * time.Hour),
		Draft: "Yes, from £3,000.", Author: "AI draft",
		Status: bot.DraftPending,
		Result: &bot.DraftResult{Text: "Yes, from £3,000.", Intent: "question", HumanReason: "price not on the list",
			Flags: []string{"The draft names a price that is not on the price list."}},
	}},
	{name: "pending_snippets", snippets: true, card: bot.Card{
		DraftID: 17, Customer: "Sam", Message: "When are you open?", WroteAt: goldenNow.Add(-30 * time.Second),
		Draft: "We are open on weekdays.", Author: "AI draft", Status: bot.DraftPending,
		Result: &bot.DraftResult{Text: "We are open on weekdays.", Intent: "other"},
	}},
	{name: "manual", card: bot.Card{
		DraftID: 14, Customer: "+44 7••• ••0456", Message: "[voice note]", Status: bot.DraftPending,
		Result: &bot.DraftResult{Manual: true, Note: "No AI model is configured: please write the reply by hand."},
		Note:   "No AI model is configured: please write the reply by hand.",
	}},
	{name: "failed", card: bot.Card{
		DraftID: 15, Customer: "Sam", Message: "Are you open on Sunday?", Status: bot.DraftFailed,
		Result: &bot.DraftResult{Failure: bot.FailTimeout, Note: bot.FailTimeout.Note()}, Note: bot.FailTimeout.Note(),
	}},
	{name: "failed_refused", card: bot.Card{
		DraftID: 18, Customer: "Sam", Message: "Are you open on Sunday?", Status: bot.DraftFailed,
		Result: &bot.DraftResult{Failure: bot.FailRefused, Note: bot.FailRefused.Note()}, Note: bot.FailRefused.Note(),
	}},
	{name: "edited_delivered", card: bot.Card{
		DraftID: 12, Customer: "+44 7••• ••0123", Message: "How much for a boiler service and 3 valves?",
		Draft: "£147.00 including VAT; we can come on Tuesday.", Author: "AI draft, edited by Alex Staff", Status: bot.DraftSent,
		Result:    &bot.DraftResult{Intent: "quote", Quote: quote},
		DecidedBy: "Alex Staff", DecidedAt: decidedAt, SendStatus: bot.StatusDelivered,
	}},
	{name: "written_sent", card: bot.Card{
		DraftID: 19, Customer: "+44 7••• ••0456", Message: "[voice note]",
		Draft: "Thanks for your message, we will call you back today.", Author: "Written by Alex Staff", Status: bot.DraftSent,
		Result: &bot.DraftResult{Manual: true}, DecidedBy: "Alex Staff", DecidedAt: decidedAt, SendStatus: bot.StatusRead,
	}},
	{name: "rejected", card: bot.Card{
		DraftID: 16, Customer: "Sam", Message: "Hi", Draft: "Hello!", Author: "AI draft", Status: bot.DraftRejected,
		DecidedBy: "Alex Staff", DecidedAt: decidedAt,
	}},
	{name: "window_open", card: bot.Card{
		DraftID: 17, Customer: "+44 7••• ••0123", Message: "Is the shop open on Sunday?", Draft: "Yes, 10:00 to 16:00.",
		Status: bot.DraftPending, Result: &bot.DraftResult{Text: "Yes, 10:00 to 16:00.", Intent: "question"},
		WindowEnds: decidedAt.Add(23 * time.Hour), WindowLeft: 22*time.Hour + 40*time.Minute, Template: true,
	}},
	{name: "window_closed_template", card: bot.Card{
		DraftID: 18, Customer: "Sam", Message: "Do you fix boilers?", Draft: "Yes, we do.",
		Status: bot.DraftPending, Result: &bot.DraftResult{Text: "Yes, we do.", Intent: "question"},
		WindowEnds: decidedAt.Add(-time.Hour), Template: true,
	}},
	{name: "closed_reply_sent", card: bot.Card{
		DraftID: 22, Token: "00112233445566778899aabbccddeeff", Customer: "Sam", Message: "Is anyone there? The boiler is leaking.",
		WroteAt: goldenNow.Add(-14 * time.Minute), Draft: "Sorry to hear that. We can come at 8:00 tomorrow.", Author: "AI draft",
		Status: bot.DraftPending, Result: &bot.DraftResult{Text: "Sorry to hear that. We can come at 8:00 tomorrow.", Intent: "booking"},
		ClosedReply: &bot.ClosedReply{Status: bot.StatusRead, SentAt: goldenNow.Add(-14 * time.Minute)},
	}},
	{name: "closed_reply_failed", card: bot.Card{
		DraftID: 23, Token: "00112233445566778899aabbccddeeff", Customer: "Sam", Message: "Hello?", Status: bot.DraftPending,
		Result: &bot.DraftResult{Manual: true}, ClosedReply: &bot.ClosedReply{Status: bot.StatusFailed, Reason: bot.ReasonClosedAckLate},
	}},
	{name: "removed", card: bot.Card{DraftID: 12, Subject: "s_0123456789abcdef01234567", Customer: "Sam", Message: "secret", Removed: true}},
	{name: "preparing", card: bot.Card{DraftID: 17, Token: "00112233445566778899aabbccddeeff", Subject: "s_0123456789abcdef01234567",
		Customer: "Sam", Message: "secret", Preparing: true}},
	{name: "drafting", card: bot.Card{DraftID: 18, Token: "00112233445566778899aabbccddeeff", Customer: "Sam",
		Message: "Are you open on Sunday?", Status: bot.DraftDrafting}},
	{name: "approved_waiting", card: bot.Card{DraftID: 19, Token: "00112233445566778899aabbccddeeff", Customer: "Sam", Message: "Hi",
		Draft: "Hello!", Status: bot.DraftApproved, DecidedBy: "Alex Staff", DecidedAt: decidedAt, SendStatus: bot.StatusPending,
		Waiting: bot.WhatsApp}},
	{name: "send_failed", card: bot.Card{DraftID: 20, Token: "00112233445566778899aabbccddeeff", Customer: "Sam", Message: "Hi",
		Draft: "Hello!", Status: bot.DraftApproved, DecidedBy: "Alex Staff", DecidedAt: decidedAt, SendStatus: bot.StatusFailed,
		SendReason: "The platform could not deliver it: 131026 Message undeliverable."}},
	{name: "send_unconfirmed", card: bot.Card{DraftID: 21, Token: "00112233445566778899aabbccddeeff", Customer: "Sam", Message: "Hi",
		Draft: "Hello!", Status: bot.DraftApproved, DecidedBy: "Alex Staff", DecidedAt: decidedAt, SendStatus: bot.StatusUnconfirmed,
		SendReason: "WhatsApp did not confirm whether this reply was sent. Check the chat, and resend it if the customer did not get it."}},
	{name: "media_photo", media: viewOn, card: bot.Card{DraftID: 22, Token: "00112233445566778899aabbccddeeff", Customer: "+44 7••• ••0123",
		Message: "[image] the boiler display", WroteAt: goldenNow.Add(-4 * time.Minute),
		Draft: "Thanks for the photo: that code means low pressure. We can come today.", Author: "AI draft", Status: bot.DraftPending,
		Result: &bot.DraftResult{Text: "Thanks for the photo: that code means low pressure. We can come today.", Intent: "booking"},
		Media:  []bot.CardMedia{{ID: 31, Kind: bot.KindImage, State: bot.MediaFetched, MIME: "image/jpeg", Size: 2_411_520, Thumb: goldenThumb}}}},
	{name: "media_voice", media: viewOn, card: bot.Card{DraftID: 23, Token: "00112233445566778899aabbccddeeff", Customer: "Sam",
		Message: "[voice note]", WroteAt: goldenNow.Add(-2 * time.Minute),
		Draft: "Sorry the radiator upstairs is cold; we can bleed it tomorrow morning.", Author: "AI draft", Status: bot.DraftPending,
		Result: &bot.DraftResult{Text: "Sorry the radiator upstairs is cold; we can bleed it tomorrow morning.", Intent: "booking"},
		Media: []bot.CardMedia{{ID: 32, Kind: bot.KindVoice, State: bot.MediaFetched, MIME: "audio/ogg", Size: 23_552,
			Transcript: "Hi, it's about the radiator upstairs, it's gone cold again. Can someone come tomorrow?"}}}},
	{name: "media_document_no_public_url", card: bot.Card{DraftID: 24, Token: "00112233445566778899aabbccddeeff", Customer: "Sam",
		Message: "[document] the other quote", Status: bot.DraftPending,
		Draft: "Thanks, we will look at it.", Author: "AI draft", Result: &bot.DraftResult{Text: "Thanks, we will look at it.", Intent: "question"},
		Media: []bot.CardMedia{{ID: 33, Kind: bot.KindDocument, State: bot.MediaFetched, MIME: "application/pdf", Size: 120_320,
			FileName: "Quote **bold** [link](https://evil.example).pdf"}}}},
	{name: "media_refused", media: viewOn, card: bot.Card{DraftID: 25, Token: "00112233445566778899aabbccddeeff", Customer: "Sam",
		Message: "[image]", Status: bot.DraftPending, Draft: "Could you send the photo again?", Author: "AI draft",
		Result: &bot.DraftResult{Text: "Could you send the photo again?", Intent: "question"},
		Media: []bot.CardMedia{{ID: 34, Kind: bot.KindImage, State: bot.MediaFailed, MIME: "image/png",
			Note: "The image is 60000 × 60000 pixels, too large to process safely, so it was not kept."}}}},
	{name: "media_downloading", media: viewOn, card: bot.Card{DraftID: 26, Token: "00112233445566778899aabbccddeeff", Customer: "Sam",
		Message: "[voice note]", Status: bot.DraftDrafting,
		Media: []bot.CardMedia{{ID: 35, Kind: bot.KindVoice, State: bot.MediaPending, MIME: "audio/ogg; codecs=opus",
			Note: "The voice note is being downloaded…"}}}},
	{name: "media_link", media: mediaView{enabled: true, ttl: 5 * time.Minute, links: map[int64]string{31: "https://bot.example.com/media/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}},
		card: bot.Card{DraftID: 22, Token: "00112233445566778899aabbccddeeff", Customer: "+44 7••• ••0123",
			Message: "[image] the boiler display", Draft: "Thanks for the photo.", Author: "AI draft", Status: bot.DraftPending,
			Result: &bot.DraftResult{Text: "Thanks for the photo.", Intent: "booking"},
			Media:  []bot.CardMedia{{ID: 31, Kind: bot.KindImage, State: bot.MediaFetched, MIME: "image/jpeg", Size: 2_411_520, Thumb: goldenThumb}}}},
	{name: "attached_document", media: viewOn, card: bot.Card{DraftID: 27, Token: "00112233445566778899aabbccddeeff", Customer: "Sam",
		Message: "Can you send me the quote?", Status: bot.DraftPending, Draft: "Here is the quote for the new boiler.", Author: "AI draft",
		Result:     &bot.DraftResult{Text: "Here is the quote for the new boiler.", Intent: "quote"},
		Attachment: &bot.CardMedia{ID: 36, Kind: bot.KindDocument, State: bot.MediaFetched, MIME: "application/pdf", Size: 88_064, FileName: "Quote 2291.pdf"},
		AttachCode: "27-00112233"}},
	{name: "attach_hint", card: bot.Card{DraftID: 28, Token: "8899aabbccddeeff0011223344556677", Customer: "Sam",
		Message: "Do you have a photo of the part?", Status: bot.DraftPending, Draft: "Yes, here it is.", Author: "AI draft",
		Result: &bot.DraftResult{Text: "Yes, here it is.", Intent: "question"}, AttachCode: "28-8899aabb"}},
}

// viewOn is a card rendered by a channel that can issue View links.
var viewOn = mediaView{enabled: true, ttl: 5 * time.Minute}

// goldenThumb is a photo's preview, as the media worker makes them.
var goldenThumb = mediatest.JPEG(160, 120, 9)

// goldenView is what a golden card is rendered with.
func goldenView(snippets bool, media mediaView) view {
	v := view{now: goldenNow, media: media}
	if snippets {
		v.snippets = goldenSnippets
	}
	return v
}

func TestCardGolden(t *testing.T) {
	for _, tc := range goldenCards {
		t.Run(tc.name, func(t *testing.T) {
			got, err := json.MarshalIndent(renderCard(tc.card, goldenView(tc.snippets, tc.media)), "", "  ")
			require.NoError(t, err)
			got = append(got, '\n')
			path := filepath.Join("testdata", "cards", tc.name+".json")
			if *update {
				require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
				require.NoError(t, os.WriteFile(path, got, 0o644))
			}
			want, err := os.ReadFile(path)
			require.NoError(t, err, "run go test -update to create golden files")
			assert.Equal(t, string(want), string(got))
		})
	}
}

// actionVerbs lists the verbs a card offers, ShowCards included.
func actionVerbs(card obj) []string {
	var verbs []string
	acts, _ := card["actions"].([]any)
	for _, a := range acts {
		a := a.(obj)
		if v, ok := a["verb"].(string); ok {
			verbs = append(verbs, v)
		}
		if sub, ok := a["card"].(obj); ok {
			verbs = append(verbs, actionVerbs(sub)...)
		}
	}
	return verbs
}

func TestCardActions(t *testing.T) {
	want := map[string][]string{
		"pending_quote":                {"approve", "edit", "regenerate", "reject"},
		"pending_flagged":              {"edit", "regenerate", "reject"},
		"pending_snippets":             {"approve", "edit", "regenerate", "reject"},
		"manual":                       {"edit", "reject"},
		"failed":                       {"retry", "edit", "reject"},
		"failed_refused":               {"edit", "reject"},
		"edited_delivered":             nil,
		"written_sent":                 nil,
		"rejected":                     nil,
		"window_open":                  {"approve", "edit", "regenerate", "reject"},
		"window_closed_template":       {"regenerate", "template", "reject"},
		"removed":                      nil,
		"preparing":                    nil,
		"drafting":                     {"edit", "reject"},
		"approved_waiting":             nil,
		"send_failed":                  {"resend"},
		"send_unconfirmed":             {"resend"},
		"closed_reply_sent":            {"approve", "edit", "regenerate", "reject"},
		"closed_reply_failed":          {"edit", "reject"},
		"media_photo":                  {"approve", "edit", "regenerate", "reject"},
		"media_voice":                  {"approve", "edit", "regenerate", "reject"},
		"media_document_no_public_url": {"approve", "edit", "regenerate", "reject"},
		"media_refused":                {"approve", "edit", "regenerate", "reject"},
		"media_downloading":            {"edit", "reject"},
		"media_link":                   {"approve", "edit", "regenerate", "reject"},
		"attached_document":            {"approve", "edit", "regenerate", "reject"},
		"attach_hint":                  {"approve", "edit", "regenerate", "reject"},
	}
	for _, tc := range goldenCards {
		t.Run(tc.name, func(t *testing.T) {
			card := renderCard(tc.card, goldenView(tc.snippets, tc.media))
			assert.Equal(t, "1.5", card["version"])
			assert.Equal(t, want[tc.name], actionVerbs(card))
		})
	}
	for _, c := range []bot.Card{golden(t, "removed"), golden(t, "preparing")} {
		blank, err := json.Marshal(renderCard(c, view{}))
		require.NoError(t, err)
		assert.NotContains(t, string(blank), "secret", "a removed or preparing card quotes nothing")
		assert.NotContains(t, string(blank), "Sam", "and names nobody")
		assert.Nil(t, renderCard(c, view{})["actions"], "and offers no action")
		assert.NotContains(t, string(blank), "00112233", "nor the token")
	}
}

// golden returns the golden card named name.
func golden(t *testing.T, name string) bot.Card {
	t.Helper()
	for _, tc := range goldenCards {
		if tc.name == name {
			return tc.card
		}
	}
	require.FailNow(t, "no golden card "+name)
	return bot.Card{}
}

// TestCardActionsCarryToken: every action of a card carries its draft's
// token, and a click hands it back in the decision.
func TestCardActionsCarryToken(t *testing.T) {
	for _, c := range []bot.Card{golden(t, "drafting"), golden(t, "send_failed")} {
		card := renderCard(c, view{})
		var check func(acts []any)
		check = func(acts []any) {
			for _, a := range acts {
				a := a.(obj)
				if data, ok := a["data"].(obj); ok {
					assert.Equal(t, c.Token, data["token"], a["verb"])
				}
				if sub, ok := a["card"].(obj); ok {
					check(sub["actions"].([]any))
				}
			}
		}
		check(card["actions"].([]any))
	}
	value := []byte(`{"action":{"type":"Action.Execute","verb":"resend","data":{"switchboard":"decide","verb":"resend","draft":20,"token":"00112233445566778899aabbccddeeff"}},"trigger":"manual"}`)
	a, ok, err := parseCardAction(value, true)
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, cardAction{Kind: bot.Resend, DraftID: 20, Token: "00112233445566778899aabbccddeeff"}, a)
	_, _, err = parseCardAction([]byte(`{"switchboard":"decide","verb":"approve","draft":1,"token":"`+strings.Repeat("a", 65)+`"}`), false)
	assert.ErrorIs(t, err, errBadActivity, "an oversized token is refused")
}

func TestRemoveCard(t *testing.T) {
	e := newEnv(t, nil)
	e.setStaff(t)
	ref, err := e.ch.PostCard(t.Context(), goldenCards[0].card)
	require.NoError(t, err)
	t.Run("Deleted", func(t *testing.T) {
		n := len(e.conn.requests())
		require.NoError(t, e.ch.RemoveCard(t.Context(), ref))
		reqs := e.conn.requests()[n:]
		require.Len(t, reqs, 1)
		assert.Equal(t, http.MethodDelete, reqs[0].Method)
	})
	t.Run("GoneAlready", func(t *testing.T) {
		e.conn.goneDelete.Store(true)
		defer e.conn.goneDelete.Store(false)
		assert.NoError(t, e.ch.RemoveCard(t.Context(), ref), "a card deleted already is not an error")
	})
	t.Run("BlankedWhenRefused", func(t *testing.T) {
		e.conn.failDelete.Store(true)
		defer e.conn.failDelete.Store(false)
		n := len(e.conn.requests())
		require.NoError(t, e.ch.RemoveCard(t.Context(), ref))
		reqs := e.conn.requests()[n:]
		require.Len(t, reqs, 2)
		assert.Equal(t, http.MethodPut, reqs[1].Method)
	})
	t.Run("Unavailable", func(t *testing.T) {
		e.conn.failAll.Store(true)
		defer e.conn.failAll.Store(false)
		assert.Error(t, e.ch.RemoveCard(t.Context(), ref))
	})
}

func TestMoney(t *testing.T) {
	assert.Equal(t, "£0.05", money(5, "GBP"))
	assert.Equal(t, "-£12.50", money(-1250, "GBP"))
	assert.Equal(t, "€1.00", money(100, "eur"))
	assert.Equal(t, "10.00 CHF", money(1000, "CHF"))
}

// postStaffConversation stores a staff channel at the connector.
func (e *env) setStaff(t *testing.T) Conversation {
	t.Helper()
	conv := Conversation{ServiceURL: e.conn.srv.URL, ID: "19:teamroot0001@thread.tacv2;messageid=99", TenantID: testTenant, Type: "channel"}
	require.NoError(t, e.state.SetStaffConversation(t.Context(), conv))
	return conv
}

func TestPostAndUpdateCard(t *testing.T) {
	e := newEnv(t, nil)
	_, err := e.ch.PostCard(t.Context(), goldenCards[0].card)
	require.ErrorIs(t, err, bot.ErrNotFound, "no staff conversation yet")

	e.setStaff(t)
	ref, err := e.ch.PostCard(t.Context(), goldenCards[0].card)
	require.NoError(t, err)
	assert.Equal(t, "act-1", ref.ActivityID)
	conv, err := parseChatID(ref.Conversation)
	require.NoError(t, err)
	assert.Equal(t, "19:teamroot0001@thread.tacv2", conv.ID, "cards start a new thread in a channel")

	card := goldenCard(t, "edited_delivered")
	require.NoError(t, e.ch.UpdateCard(t.Context(), ref, card))
	reqs := e.conn.requests()
	require.Len(t, reqs, 2)
	assert.Equal(t, http.MethodPost, reqs[0].Method)
	assert.Equal(t, "/v3/conversations/19:teamroot0001@thread.tacv2/activities", reqs[0].Path)
	atts := reqs[0].Body["attachments"].([]any)
	require.Len(t, atts, 1)
	assert.Equal(t, contentTypeCard, atts[0].(map[string]any)["contentType"])
	assert.Equal(t, http.MethodPut, reqs[1].Method)
	assert.Equal(t, "/v3/conversations/19:teamroot0001@thread.tacv2/activities/act-1", reqs[1].Path)
	assert.Equal(t, "act-1", reqs[1].Body["id"])

	require.NoError(t, e.ch.Alert(t.Context(), "WhatsApp connection lost"))
	assert.Equal(t, "⚠ WhatsApp connection lost", e.lastText(t))

	_, err = e.ch.PostCard(t.Context(), bot.Card{})
	require.NoError(t, err)
	assert.Error(t, e.ch.UpdateCard(t.Context(), bot.CardRef{Conversation: "nonsense", ActivityID: "1"}, card))
	assert.Error(t, e.ch.UpdateCard(t.Context(), bot.CardRef{Conversation: ref.Conversation}, card))
}

func TestSubmitDecision(t *testing.T) {
	e := newEnv(t, nil)
	rec := e.post(e.activity(t, "submit_edit.json", nil), e.token(t))
	require.Equal(t, http.StatusOK, rec.Code)
	_, decs := e.sink.got()
	require.Len(t, decs, 1)
	d := decs[0]
	assert.Equal(t, int64(12), d.DraftID)
	assert.Equal(t, bot.Edit, d.Kind)
	assert.Equal(t, "Yes, we are open until 6pm today.", d.Text)
	assert.Empty(t, d.Instruction)
	assert.Equal(t, bot.Identity{Kind: bot.IDTeams, Value: staffAAD}, d.By)
	assert.Equal(t, testTenant, d.Tenant)
	assert.Equal(t, "Alex Staff", d.ByName)
	assert.Equal(t, "1732789200000", d.ActionID)

	reqs := e.conn.requests()
	require.Len(t, reqs, 1, "the card is replaced")
	assert.Equal(t, http.MethodPut, reqs[0].Method)
	assert.Equal(t, "/v3/conversations/19:teamroot0001@thread.tacv2%3Bmessageid=1732788000000/activities/1732788000000", reqs[0].Path, "the id is escaped as the official SDKs do")

	t.Run("AlreadyDecided", func(t *testing.T) {
		e.sink.decideFn = func(d bot.Decision) (bot.DecisionResult, error) {
			return bot.DecisionResult{Outcome: bot.AlreadyDecided, Message: "Already approved by Jo.",
				Card: bot.Card{DraftID: 12, Status: bot.DraftApproved, DecidedBy: "Jo"}}, nil
		}
		require.Equal(t, http.StatusOK, e.post(e.activity(t, "submit_edit.json", nil), e.token(t)).Code)
		assert.Equal(t, "Already approved by Jo.", e.lastText(t))
	})
	t.Run("NotStaff", func(t *testing.T) {
		e.sink.decideFn = nil
		body := e.activity(t, "submit_edit.json", func(m map[string]any) {
			m["from"].(map[string]any)["aadObjectId"] = ""
		})
		_, before := e.sink.got()
		require.Equal(t, http.StatusOK, e.post(body, e.token(t)).Code)
		_, after := e.sink.got()
		assert.Len(t, after, len(before), "no decision")
		assert.Equal(t, msgNotStaff, e.lastText(t))
	})
	t.Run("BadDraftID", func(t *testing.T) {
		body := e.activity(t, "submit_edit.json", func(m map[string]any) {
			m["value"].(map[string]any)["draft"] = "twelve"
		})
		require.Equal(t, http.StatusOK, e.post(body, e.token(t)).Code)
		assert.Equal(t, msgBadAction, e.lastText(t))
	})
	t.Run("OtherCardIgnored", func(t *testing.T) {
		n := len(e.conn.requests())
		body := e.activity(t, "submit_edit.json", func(m map[string]any) { m["value"] = map[string]any{"foo": "bar"} })
		require.Equal(t, http.StatusOK, e.post(body, e.token(t)).Code)
		assert.Len(t, e.conn.requests(), n)
	})
	t.Run("SinkError", func(t *testing.T) {
		e.sink.decideFn = func(bot.Decision) (bot.DecisionResult, error) { return bot.DecisionResult{}, assert.AnError }
		assert.Equal(t, http.StatusInternalServerError, e.post(e.activity(t, "submit_edit.json", nil), e.token(t)).Code)
	})
}

func TestExecuteDecision(t *testing.T) {
	e := newEnv(t, nil)
	rec := e.post(e.activity(t, "invoke_approve.json", nil), e.token(t))
	require.Equal(t, http.StatusOK, rec.Code)
	res := decodeInvoke(t, rec.Body.String())
	assert.Equal(t, float64(200), res["statusCode"])
	assert.Equal(t, contentTypeCard, res["type"])
	card := res["value"].(map[string]any)
	assert.Equal(t, "AdaptiveCard", card["type"])
	assert.Nil(t, card["actions"], "a decided card offers no actions")

	_, decs := e.sink.got()
	require.Len(t, decs, 1)
	assert.Equal(t, bot.Approve, decs[0].Kind)
	assert.Equal(t, int64(12), decs[0].DraftID)
	assert.Equal(t, "f:2b9c8d7e-6f5a-4b3c-2d1e-0f9a8b7c6d5e", decs[0].ActionID)
	reqs := e.conn.requests()
	require.Len(t, reqs, 1)
	assert.Equal(t, http.MethodPut, reqs[0].Method, "the card is replaced for everyone too")

	t.Run("Regenerate", func(t *testing.T) {
		body := e.activity(t, "invoke_approve.json", func(m map[string]any) {
			m["value"] = map[string]any{"action": map[string]any{"type": "Action.Execute", "verb": "regenerate",
				"data": map[string]any{"switchboard": "decide", "verb": "regenerate", "draft": 12, "instruction": " shorter ", "text": "ignored"}}}
		})
		require.Equal(t, http.StatusOK, e.post(body, e.token(t)).Code)
		_, decs := e.sink.got()
		last := decs[len(decs)-1]
		assert.Equal(t, bot.Regenerate, last.Kind)
		assert.Equal(t, "shorter", last.Instruction)
		assert.Empty(t, last.Text)
	})
	t.Run("Refused", func(t *testing.T) {
		e.sink.decideFn = func(bot.Decision) (bot.DecisionResult, error) {
			return bot.DecisionResult{Outcome: bot.Refused, Message: "Edit the draft first."}, nil
		}
		defer func() { e.sink.decideFn = nil }()
		res := decodeInvoke(t, e.post(e.activity(t, "invoke_approve.json", nil), e.token(t)).Body.String())
		assert.Equal(t, contentTypeMessage, res["type"])
		assert.Equal(t, "Edit the draft first.", res["value"])
	})
	t.Run("NotStaff", func(t *testing.T) {
		body := e.activity(t, "invoke_approve.json", func(m map[string]any) {
			m["conversation"].(map[string]any)["tenantId"] = otherTenant
			m["channelData"] = map[string]any{"tenant": map[string]any{"id": otherTenant}}
		})
		_, before := e.sink.got()
		res := decodeInvoke(t, e.post(body, e.token(t)).Body.String())
		assert.Equal(t, msgNotStaff, res["value"])
		_, after := e.sink.got()
		assert.Len(t, after, len(before))
	})
	t.Run("UnknownVerb", func(t *testing.T) {
		body := e.activity(t, "invoke_approve.json", func(m map[string]any) {
			m["value"].(map[string]any)["action"].(map[string]any)["verb"] = "launch"
		})
		res := decodeInvoke(t, e.post(body, e.token(t)).Body.String())
		assert.Equal(t, float64(400), res["statusCode"])
		assert.Equal(t, contentTypeError, res["type"])
	})
	t.Run("OtherInvoke", func(t *testing.T) {
		body := e.activity(t, "invoke_approve.json", func(m map[string]any) { m["name"] = "composeExtension/query" })
		assert.Equal(t, http.StatusNotImplemented, e.post(body, e.token(t)).Code)
	})
}

// cardsStub is a Cards index for tests.
type cardsStub map[bot.SubjectID][]bot.CardRef

func (c cardsStub) CardsOf(_ context.Context, s bot.SubjectID) ([]bot.CardRef, error) {
	return c[s], nil
}

func TestForget(t *testing.T) {
	subject := bot.SubjectID("s_0123456789abcdef01234567")
	cards := cardsStub{}
	e := newEnv(t, func(o *Options) { o.Cards = cards })
	e.setStaff(t)
	for range 2 {
		ref, err := e.ch.PostCard(t.Context(), goldenCards[0].card)
		require.NoError(t, err)
		cards[subject] = append(cards[subject], ref)
	}
	base := len(e.conn.requests())

	t.Run("Deleted", func(t *testing.T) {
		require.NoError(t, e.ch.Forget(t.Context(), subject, nil))
		reqs := e.conn.requests()[base:]
		require.Len(t, reqs, 2)
		convs := []string{"19:teamroot0001@thread.tacv2", "19:teamroot0001@thread.tacv2%3Bmessageid=act-1"}
		for i, r := range reqs {
			assert.Equal(t, http.MethodDelete, r.Method)
			assert.Equal(t, "/v3/conversations/"+convs[i]+"/activities/"+cards[subject][i].ActivityID, r.Path,
				"the second card was a reply in the customer's thread")
		}
		assert.Contains(t, e.log.String(), string(subject))
		root, err := e.state.Thread(t.Context(), "19:teamroot0001@thread.tacv2", subject)
		require.NoError(t, err)
		assert.Empty(t, root, "the thread root is erased with the person")
	})
	t.Run("ReplacedWhenDeleteFails", func(t *testing.T) {
		e.conn.failDelete.Store(true)
		defer e.conn.failDelete.Store(false)
		n := len(e.conn.requests())
		require.NoError(t, e.ch.Forget(t.Context(), subject, nil))
		reqs := e.conn.requests()[n:]
		require.Len(t, reqs, 4)
		assert.Equal(t, http.MethodDelete, reqs[0].Method)
		assert.Equal(t, http.MethodPut, reqs[1].Method)
		b, err := json.Marshal(reqs[1].Body)
		require.NoError(t, err)
		assert.Contains(t, string(b), removedText)
		assert.NotContains(t, string(b), "boiler")
	})
	t.Run("BothFail", func(t *testing.T) {
		e.conn.failAll.Store(true)
		defer e.conn.failAll.Store(false)
		err := e.ch.Forget(t.Context(), subject, nil)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "status 403")
	})
	t.Run("NothingPosted", func(t *testing.T) {
		assert.NoError(t, e.ch.Forget(t.Context(), "s_ffffffffffffffffffffffff", nil))
	})
	t.Run("NoIndex", func(t *testing.T) {
		e2 := newEnv(t, nil)
		assert.ErrorIs(t, e2.ch.Forget(t.Context(), subject, nil), bot.ErrUnsupported)
	})
}

func TestForgetRemovesAddedAdmin(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.Cards = cardsStub{} })
	require.NoError(t, e.state.AddAdmin(t.Context(), staffAAD))
	require.NoError(t, e.ch.Forget(t.Context(), "s_0123456789abcdef01234567", []bot.Identity{
		{Kind: bot.IDPhone, Value: "+447700900123"},
		{Kind: bot.IDTeams, Value: strings.ToUpper(staffAAD)},
	}))
	admins, err := e.state.Admins(t.Context())
	require.NoError(t, err)
	assert.Empty(t, admins)
}

// textTypes returns the type of every element whose text contains s.
func textTypes(v any, s string) []string {
	var out []string
	switch v := v.(type) {
	case obj:
		if txt, ok := v["text"].(string); ok && strings.Contains(txt, s) {
			out = append(out, v["type"].(string))
		}
		for _, x := range v {
			out = append(out, textTypes(x, s)...)
		}
	case []any:
		for _, x := range v {
			out = append(out, textTypes(x, s)...)
		}
	}
	return out
}

func TestCardUntrustedTextIsNotMarkdown(t *testing.T) {
	evil := "[pay here](https://evil.example)"
	card := renderCard(bot.Card{DraftID: 1, Customer: evil, Message: evil, Draft: evil, WroteAt: goldenNow,
		Recent: []bot.CardLine{{Dir: bot.In, Text: evil}, {Dir: bot.Out, Text: evil}},
		Result: &bot.DraftResult{Intent: evil, HumanReason: evil, Flags: []string{evil}}}, view{now: goldenNow})
	types := textTypes(card, "evil.example")
	assert.Len(t, types, 7, "customer, message, two earlier lines, draft, reason, flag; an unknown intent is not shown")
	for _, typ := range types {
		assert.Equal(t, "TextRun", typ)
	}
}

func TestParseTemplateAction(t *testing.T) {
	card := renderCard(goldenCard(t, "window_closed_template"), view{now: goldenNow})
	acts := card["actions"].([]any)
	var tpl obj
	for _, a := range acts {
		if a.(obj)["verb"] == "template" {
			tpl = a.(obj)
		}
	}
	require.NotNil(t, tpl, "a closed window with a template offers Send template")
	data, err := json.Marshal(obj{"action": obj{"type": "Action.Execute", "verb": tpl["verb"], "data": tpl["data"]}})
	require.NoError(t, err)
	ca, ok, err := parseCardAction(data, true)
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, cardAction{Kind: bot.SendTemplate, DraftID: 18}, ca)
}

// goldenCard returns the golden card named name.
func goldenCard(t *testing.T, name string) bot.Card {
	t.Helper()
	for _, g := range goldenCards {
		if g.name == name {
			return g.card
		}
	}
	require.FailNow(t, "no golden card "+name)
	return bot.Card{}
}
