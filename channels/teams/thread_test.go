package teams

import (
	"net/http"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboard/switchboard/bot"
)

// TestOneThreadPerCustomer: in a team channel a customer's first card
// starts a thread and later cards are replies in it (the conversation id
// carries ";messageid=<root>", as the Bot Framework addresses a channel
// thread); another customer gets a thread of their own.
func TestOneThreadPerCustomer(t *testing.T) {
	e := newEnv(t, nil)
	e.setStaff(t)
	sam := bot.Card{DraftID: 1, Subject: "s_00000000000000000000000a", Customer: "Sam", Message: "Hi", Status: bot.DraftPending}
	kim := bot.Card{DraftID: 2, Subject: "s_00000000000000000000000b", Customer: "Kim", Message: "Hello", Status: bot.DraftPending}

	r1, err := e.ch.PostCard(t.Context(), sam)
	require.NoError(t, err)
	r2, err := e.ch.PostCard(t.Context(), kim)
	require.NoError(t, err)
	sam.DraftID = 3
	r3, err := e.ch.PostCard(t.Context(), sam)
	require.NoError(t, err)
	kim.DraftID = 4
	r4, err := e.ch.PostCard(t.Context(), kim)
	require.NoError(t, err)

	reqs := e.conn.requests()
	require.Len(t, reqs, 4)
	assert.Equal(t, "/v3/conversations/19:teamroot0001@thread.tacv2/activities", reqs[0].Path, "Sam's first card starts a thread")
	assert.Equal(t, "/v3/conversations/19:teamroot0001@thread.tacv2/activities", reqs[1].Path, "so does Kim's")
	assert.Equal(t, "/v3/conversations/19:teamroot0001@thread.tacv2%3Bmessageid="+r1.ActivityID+"/activities", reqs[2].Path, "Sam's next card replies in Sam's thread")
	assert.Equal(t, "/v3/conversations/19:teamroot0001@thread.tacv2%3Bmessageid="+r2.ActivityID+"/activities", reqs[3].Path)
	conv3, err := parseChatID(r3.Conversation)
	require.NoError(t, err)
	assert.Equal(t, "19:teamroot0001@thread.tacv2;messageid="+r1.ActivityID, conv3.ID, "the card is updated where it is")
	require.NoError(t, e.ch.UpdateCard(t.Context(), r4, kim))
	assert.Equal(t, http.MethodPut, e.conn.requests()[4].Method)
	assert.Equal(t, "/v3/conversations/19:teamroot0001@thread.tacv2%3Bmessageid="+r2.ActivityID+"/activities/"+r4.ActivityID, e.conn.requests()[4].Path)

	// A card with no subject (none known) is a thread of its own.
	_, err = e.ch.PostCard(t.Context(), bot.Card{DraftID: 5})
	require.NoError(t, err)
	assert.Equal(t, "/v3/conversations/19:teamroot0001@thread.tacv2/activities", e.conn.requests()[5].Path)

	// The root was deleted: the next card starts a new thread and is its root.
	gone := "19:teamroot0001@thread.tacv2%3Bmessageid=" + r1.ActivityID
	e.conn.goneConv.Store(&gone)
	sam.DraftID = 6
	r6, err := e.ch.PostCard(t.Context(), sam)
	require.NoError(t, err)
	reqs = e.conn.requests()
	assert.Equal(t, "/v3/conversations/"+gone+"/activities", reqs[6].Path)
	assert.Equal(t, "/v3/conversations/19:teamroot0001@thread.tacv2/activities", reqs[7].Path)
	root, err := e.state.Thread(t.Context(), "19:teamroot0001@thread.tacv2", sam.Subject)
	require.NoError(t, err)
	assert.Equal(t, r6.ActivityID, root)

	// The connector failing otherwise is an error; no second card is posted.
	e.conn.goneConv.Store(nil)
	e.conn.failAll.Store(true)
	n := len(e.conn.requests())
	_, err = e.ch.PostCard(t.Context(), sam)
	assert.Error(t, err)
	assert.Len(t, e.conn.requests(), n+1)
}

// TestThreadsOnlyInChannels: personal and group chats get each card as a
// message of its own, as before.
func TestThreadsOnlyInChannels(t *testing.T) {
	for _, typ := range []string{"personal", "groupChat"} {
		t.Run(typ, func(t *testing.T) {
			e := newEnv(t, nil)
			require.NoError(t, e.state.SetStaffConversation(t.Context(), Conversation{ServiceURL: e.conn.srv.URL, ID: "a:chat1", Type: typ}))
			card := bot.Card{DraftID: 1, Subject: "s_00000000000000000000000a", Customer: "Sam", Message: "Hi"}
			for range 2 {
				_, err := e.ch.PostCard(t.Context(), card)
				require.NoError(t, err)
			}
			for _, r := range e.conn.requests() {
				assert.Equal(t, "/v3/conversations/a:chat1/activities", r.Path)
			}
			e.state.mu.Lock()
			assert.Empty(t, e.state.threads)
			e.state.mu.Unlock()
		})
	}
}

// TestForgetNotes: an erasure prompt learns that an added admin loses their
// rights, and that a configured one keeps them.
func TestForgetNotes(t *testing.T) {
	e := newEnv(t, nil)
	require.NoError(t, e.state.AddAdmin(t.Context(), staffAAD))
	notes, err := e.ch.ForgetNotes(t.Context(), []bot.Identity{{Kind: bot.IDTeams, Value: staffAAD}})
	require.NoError(t, err)
	assert.Equal(t, []string{"This also removes Teams admin rights given with /admin add."}, notes)
	notes, err = e.ch.ForgetNotes(t.Context(), []bot.Identity{{Kind: bot.IDTeams, Value: adminAAD}, {Kind: bot.IDPhone, Value: "+447700900123"}})
	require.NoError(t, err)
	assert.Equal(t, []string{"A Teams admin set in SWITCHBOARD_ADMINS stays an admin until removed there."}, notes)
	notes, err = e.ch.ForgetNotes(t.Context(), []bot.Identity{{Kind: bot.IDPhone, Value: "+447700900123"}})
	require.NoError(t, err)
	assert.Empty(t, notes)
}

// TestConcurrentCardsShareOneThread: cards for one customer posted at the
// same moment (the router posts a card per message as soon as it is
// stored) still make one thread: one root, the rest replies in it.
func TestConcurrentCardsShareOneThread(t *testing.T) {
	e := newEnv(t, nil)
	e.setStaff(t)
	const n = 6
	refs := make([]bot.CardRef, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			refs[i], errs[i] = e.ch.PostCard(t.Context(), bot.Card{DraftID: int64(i + 1), Subject: "s_00000000000000000000000c", Preparing: true})
		})
	}
	wg.Wait()
	roots := 0
	for i := range n {
		require.NoError(t, errs[i])
		conv, err := parseChatID(refs[i].Conversation)
		require.NoError(t, err)
		if conv.ID == "19:teamroot0001@thread.tacv2" {
			roots++
		}
	}
	assert.Equal(t, 1, roots, "one card starts the thread, the others reply in it")
}
