package privacy

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboard/switchboard/bot"
)

// pairs is a channel's map of a person's identities, as whatsmeow's LID
// map: each identity to its partner.
type pairs map[bot.Identity]bot.Identity

func (p pairs) OtherIdentities(_ context.Context, ids []bot.Identity) ([]bot.Identity, error) {
	var out []bot.Identity
	for _, id := range ids {
		if o, ok := p[id]; ok {
			out = append(out, o)
		}
	}
	return out, nil
}

// splitPerson is one person the store holds as two subjects: first seen by
// their LID, later by their phone number, no message carrying both; only
// the channel's map pairs them. Another customer stands next to them.
type splitPerson struct {
	h                   *harness
	lid, phone          bot.Identity
	byLID, byPhone, bob bot.Subject
}

func newSplitPerson(t *testing.T, opts ...harnessOpt) *splitPerson {
	lid := bot.Identity{Kind: bot.IDLID, Value: "123456789011001@lid"}
	phone := bot.Identity{Kind: bot.IDPhone, Value: "+447700900001"}
	opts = append(opts, func(o *Options) { o.Resolvers = []bot.IdentityResolver{pairs{lid: phone, phone: lid}} })
	h := newHarness(t, opts...)
	sp := &splitPerson{h: h, lid: lid, phone: phone}
	var err error
	sp.byLID, err = h.st.ResolveSubject(h.ctx, bot.SubjectInput{Identities: []bot.Identity{lid}, Name: "Alice", Role: bot.RoleCustomer})
	require.NoError(t, err)
	h.conversation(sp.byLID, bot.Subject{}, "written from the LID")
	sp.byPhone, err = h.st.ResolveSubject(h.ctx, bot.SubjectInput{Identities: []bot.Identity{phone}, Name: "Alice", Role: bot.RoleCustomer})
	require.NoError(t, err)
	require.NotEqual(t, sp.byLID.ID, sp.byPhone.ID, "two subjects for one person")
	h.conversation(sp.byPhone, bot.Subject{}, "written from the phone")
	sp.bob = h.customer("+447700900002", "1002@lid", "Bob")
	h.conversation(sp.bob, bot.Subject{}, "Bob's own message")
	return sp
}

func (sp *splitPerson) assertErased(t *testing.T) {
	t.Helper()
	for _, s := range []bot.Subject{sp.byLID, sp.byPhone} {
		_, err := sp.h.st.FindSubject(sp.h.ctx, s.ID)
		assert.ErrorIs(t, err, bot.ErrNotFound, "both records of the person are erased")
	}
	_, err := sp.h.st.FindSubject(sp.h.ctx, sp.bob.ID)
	assert.NoError(t, err, "another customer stays")
	forgot := map[bot.SubjectID][]bot.Identity{}
	for _, c := range sp.h.forget.calls {
		forgot[c.Subject] = c.IDs
	}
	require.Len(t, forgot, 2, "the channels forget both records")
	for _, ids := range forgot {
		assert.ElementsMatch(t, []bot.Identity{sp.lid, sp.phone}, ids, "with every identity of the person")
	}
}

// TestForgetMeErasesEveryRecordOfThePerson: /forget me from the phone
// number erases the LID's record too, and the prompt and confirmation count
// both.
func TestForgetMeErasesEveryRecordOfThePerson(t *testing.T) {
	sp := newSplitPerson(t)
	prompt := sp.h.must(sp.byPhone, "/forget me").Text
	assert.Contains(t, prompt, "2 messages (yours and our replies), 2 reply drafts")
	assert.Contains(t, prompt, "2 records")
	r := sp.h.must(sp.byPhone, "YES")
	assert.Contains(t, r.Text, "From our database: 2 messages, 2 reply drafts,")
	assert.Contains(t, r.Text, "2 profiles")
	assert.Contains(t, r.Text, "From our key store: 2 encryption keys")
	sp.assertErased(t)
}

// TestAdminForgetErasesEveryRecordOfThePerson: the number an admin types
// finds the person's LID record too, and the prompt names what goes.
func TestAdminForgetErasesEveryRecordOfThePerson(t *testing.T) {
	sp := newSplitPerson(t)
	admin := sp.h.staffer("aad-admin", "Ada Admin", bot.RoleAdmin)
	prompt := sp.h.must(admin, "/forget 07700 900001").Text
	assert.Contains(t, prompt, "This permanently erases 1 person:")
	assert.Contains(t, prompt, "+44 7••• ••0001")
	assert.Contains(t, prompt, "WhatsApp id ••••1001")
	assert.Contains(t, prompt, "(customer, 2 records): 2 messages, 2 reply drafts")
	assert.NotContains(t, prompt, "7700900001", "the number is masked")
	r := sp.h.must(admin, "YES")
	assert.Contains(t, r.Text, "Done: erased 1 person.")
	assert.Contains(t, r.Text, "2 messages")
	sp.assertErased(t)

	// The LID alone, typed by an admin, finds the phone's record as well.
	sp2 := newSplitPerson(t)
	admin2 := sp2.h.staffer("aad-admin", "Ada Admin", bot.RoleAdmin)
	assert.Contains(t, sp2.h.must(admin2, "/forget whatsapp-lid:123456789011001@lid").Text, "2 records")
	sp2.h.must(admin2, "YES")
	sp2.assertErased(t)
}

// TestExportIncludesEveryRecordOfThePerson: /export gives the person both
// records, and nobody else's.
func TestExportIncludesEveryRecordOfThePerson(t *testing.T) {
	sp := newSplitPerson(t)
	r := sp.h.must(sp.byLID, "/export")
	require.NotNil(t, r.File)
	doc := validateExport(t, r.File.Data)
	var ids []string
	for _, s := range doc["subjects"].([]any) {
		ids = append(ids, s.(map[string]any)["subject"].(map[string]any)["subject_id"].(string))
	}
	assert.ElementsMatch(t, []string{string(sp.byLID.ID), string(sp.byPhone.ID)}, ids)
	b, err := json.Marshal(doc)
	require.NoError(t, err)
	assert.Contains(t, string(b), "written from the phone")
	assert.NotContains(t, string(b), "Bob")
}

// TestPurgeKeepsARecordOfAPersonStillWriting: retention looks at the whole
// person: their silent LID record stays while they write from their number.
func TestPurgeKeepsARecordOfAPersonStillWriting(t *testing.T) {
	sp := newSplitPerson(t)
	h := sp.h
	h.clock.Add(200 * 24 * time.Hour)
	_, dup, err := h.st.SaveInbound(h.ctx, bot.Message{Subject: sp.byPhone.ID, Platform: bot.WhatsApp, Chat: chatOf(sp.byPhone),
		PlatformID: "WAMID-later", Text: "still here", SentAt: h.clock.Now()})
	require.NoError(t, err)
	require.False(t, dup)
	require.NoError(t, h.svc.Purge(h.ctx, bot.AddMonths(h.clock.Now(), 6)))
	for _, s := range []bot.Subject{sp.byLID, sp.byPhone} {
		_, err := h.st.FindSubject(h.ctx, s.ID)
		assert.NoError(t, err, "the person still writes")
	}
	_, err = h.st.FindSubject(h.ctx, sp.bob.ID)
	assert.ErrorIs(t, err, bot.ErrNotFound, "a silent customer goes")
}

// TestPromptSaysAnAdminGoes: an admin erasing another admin is told so.
func TestPromptSaysAnAdminGoes(t *testing.T) {
	h := newHarness(t)
	admin := h.staffer("aad-admin-1", "Ada", bot.RoleAdmin)
	h.staffer("aad-admin-2", "Grace", bot.RoleAdmin)
	p := h.must(admin, "/forget teams:aad-admin-2").Text
	assert.Contains(t, p, "Teams user ••••in-2 (admin): no messages")
	assert.Contains(t, p, "This also removes an admin.")
	self := h.must(admin, "/forget me").Text
	assert.Contains(t, self, "This also removes you as an admin.")
}
