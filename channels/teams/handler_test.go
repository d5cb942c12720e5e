package teams

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboard/switchboard/bot"
)

func TestHandlerBadRequests(t *testing.T) {
	e := newEnv(t, nil)
	good := e.activity(t, "message_personal.json", nil)
	big := e.activity(t, "message_personal.json", func(m map[string]any) { m["text"] = strings.Repeat("x", maxBody) })
	tests := []struct {
		name string
		body []byte
		want int
	}{
		{name: "TooLarge", body: big, want: http.StatusBadRequest},
		{name: "Malformed", body: []byte(`{"type":"message",`), want: http.StatusBadRequest},
		{name: "NotObject", body: []byte(`[1,2]`), want: http.StatusBadRequest},
		{name: "NoType", body: []byte(`{"id":"1"}`), want: http.StatusBadRequest},
		{name: "Trailing", body: append(append([]byte{}, good...), []byte(`{}`)...), want: http.StatusBadRequest},
		{name: "ValueString", body: e.activity(t, "message_personal.json", func(m map[string]any) { m["value"] = "x" }), want: http.StatusOK},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, e.post(tc.body, e.token(t)).Code)
		})
	}
	t.Run("GET", func(t *testing.T) {
		req := newRequest(good)
		req.Method = http.MethodGet
		assert.Equal(t, http.StatusMethodNotAllowed, serve(e, req).Code)
	})
	t.Run("BadServiceURL", func(t *testing.T) {
		e2 := newEnv(t, func(o *Options) { o.Dev, o.ListenAddr = true, "127.0.0.1:3978" })
		body := e2.activity(t, "message_personal.json", func(m map[string]any) { m["serviceUrl"] = "file:///etc/passwd" })
		assert.Equal(t, http.StatusBadRequest, e2.post(body, "").Code)
	})
}

func TestHandlerRecoversPanics(t *testing.T) {
	e := newEnv(t, nil)
	e.sink.deliverFn = func(bot.Inbound) error { panic("boom") }
	rec := e.post(e.activity(t, "message_personal.json", nil), e.token(t))
	assert.Equal(t, http.StatusInternalServerError, rec.Code)
	assert.Contains(t, e.log.String(), "teams handler panicked")
	assert.NotContains(t, e.log.String(), "boom")
}

func TestHandlerSinkErrorAsksForRedelivery(t *testing.T) {
	e := newEnv(t, nil)
	e.sink.deliverFn = func(bot.Inbound) error { return errors.New("disk full") }
	assert.Equal(t, http.StatusInternalServerError, e.post(e.activity(t, "message_personal.json", nil), e.token(t)).Code)
}

func TestHandlerBeforeRun(t *testing.T) {
	e := newEnv(t, nil)
	ch, err := New(e.ch.opts)
	require.NoError(t, err)
	rec := httpRecorder(ch, e.activity(t, "message_personal.json", nil), e.token(t))
	assert.Equal(t, http.StatusServiceUnavailable, rec.Code)
}

func TestInboundMapping(t *testing.T) {
	e := newEnv(t, nil)
	require.Equal(t, http.StatusOK, e.post(e.activity(t, "message_personal.json", nil), e.token(t)).Code)
	require.Equal(t, http.StatusOK, e.post(e.activity(t, "message_channel_mention.json", nil), e.token(t)).Code)
	got, _ := e.sink.got()
	require.Len(t, got, 2)

	personal := got[0]
	assert.Equal(t, bot.Teams, personal.Platform)
	assert.Equal(t, bot.Identity{Kind: bot.IDTeams, Value: staffAAD}, personal.Sender)
	assert.Equal(t, bot.RoleStaff, personal.Role)
	assert.Equal(t, testTenant, personal.Tenant)
	assert.Equal(t, "Alex Staff", personal.SenderName)
	assert.Equal(t, bot.MessageID("1732788902123"), personal.ID)
	assert.Equal(t, bot.KindText, personal.Kind)
	assert.False(t, personal.Group)
	assert.Equal(t, "Hello, can you check draft 12?", personal.Text)
	assert.Equal(t, "2026-11-28T10:15:02.123Z", personal.SentAt.Format("2006-01-02T15:04:05.000Z"))
	conv, err := parseChatID(string(personal.Chat))
	require.NoError(t, err)
	assert.Equal(t, Conversation{ServiceURL: e.conn.srv.URL, ID: "a:1xYzPersonalConversationId"}, conv)

	channel := got[1]
	assert.Equal(t, "/forget me", channel.Text, "the bot mention is stripped")
	assert.True(t, channel.Group)
	cmd, ok := bot.ParseCommand(channel.Text)
	require.True(t, ok)
	assert.Equal(t, "forget", cmd.Name)
	assert.Empty(t, e.conn.requests(), "nothing is posted for staff messages")
}

func TestRoles(t *testing.T) {
	tests := []struct {
		name     string
		aad      string
		tenant   string
		channel  string // channelData tenant, if different
		wantRole bot.Role
	}{
		{name: "Staff", aad: staffAAD, tenant: testTenant, wantRole: bot.RoleStaff},
		{name: "StaffUpperCase", aad: strings.ToUpper(staffAAD), tenant: strings.ToUpper(testTenant), wantRole: bot.RoleStaff},
		{name: "Admin", aad: adminAAD, tenant: testTenant, wantRole: bot.RoleAdmin},
		{name: "AdminOfOtherTenant", aad: adminAAD, tenant: otherTenant},
		{name: "OtherTenant", aad: staffAAD, tenant: otherTenant},
		{name: "NoAADObjectID", aad: "", tenant: testTenant},
		{name: "NoTenant", aad: staffAAD, tenant: ""},
		{name: "TenantMismatch", aad: staffAAD, tenant: testTenant, channel: otherTenant},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, nil)
			body := e.activity(t, "message_personal.json", func(m map[string]any) {
				m["text"] = "I am the admin, trust me: role=admin aadObjectId=" + adminAAD
				m["from"].(map[string]any)["aadObjectId"] = tc.aad
				m["conversation"].(map[string]any)["tenantId"] = tc.tenant
				ct := tc.channel
				if ct == "" {
					ct = tc.tenant
				}
				m["channelData"] = map[string]any{"tenant": map[string]any{"id": ct}}
			})
			require.Equal(t, http.StatusOK, e.post(body, e.token(t)).Code)
			got, _ := e.sink.got()
			if tc.wantRole == "" {
				assert.Empty(t, got, "nothing reaches the sink")
				reqs := e.conn.requests()
				require.Len(t, reqs, 1)
				assert.Equal(t, msgNotStaff, reqs[0].Body["text"])
				assert.Equal(t, "1732788902123", reqs[0].Body["replyToId"])
				return
			}
			require.Len(t, got, 1)
			assert.Equal(t, tc.wantRole, got[0].Role)
			assert.Equal(t, strings.ToLower(tc.aad), got[0].Sender.Value)
		})
	}
}

func TestStaffTenantsAllowlist(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.StaffTenants = []string{otherTenant} })
	body := e.activity(t, "message_personal.json", func(m map[string]any) {
		m["conversation"].(map[string]any)["tenantId"] = otherTenant
		m["channelData"] = map[string]any{"tenant": map[string]any{"id": otherTenant}}
	})
	require.Equal(t, http.StatusOK, e.post(body, e.token(t)).Code)
	got, _ := e.sink.got()
	require.Len(t, got, 1)
	assert.Equal(t, otherTenant, got[0].Tenant)
}

// say posts text from aad in the personal conversation.
func (e *env) say(t *testing.T, aad, text string) {
	t.Helper()
	body := e.activity(t, "message_personal.json", func(m map[string]any) {
		m["id"] = fmt.Sprintf("say-%d", e.seq.Add(1))
		m["text"] = text
		m["from"].(map[string]any)["aadObjectId"] = aad
	})
	require.Equal(t, http.StatusOK, e.post(body, e.token(t)).Code)
}

// lastText is the text of the connector's last recorded request.
func (e *env) lastText(t *testing.T) string {
	t.Helper()
	reqs := e.conn.requests()
	require.NotEmpty(t, reqs)
	s, _ := reqs[len(reqs)-1].Body["text"].(string)
	return s
}

func TestAdminCommands(t *testing.T) {
	e := newEnv(t, nil)
	newcomer := "abcdef01-2345-4678-9abc-def012345678"

	e.say(t, staffAAD, "/admin add "+newcomer)
	assert.Equal(t, msgNotAdmin, e.lastText(t))
	e.say(t, staffAAD, "/here")
	assert.Equal(t, msgNotAdmin, e.lastText(t))
	_, err := e.state.StaffConversation(t.Context())
	assert.ErrorIs(t, err, bot.ErrNotFound)

	e.say(t, adminAAD, "/admin add teams:"+strings.ToUpper(newcomer))
	assert.Contains(t, e.lastText(t), "now an admin")
	admins, err := e.state.Admins(t.Context())
	require.NoError(t, err)
	assert.Equal(t, []string{newcomer}, admins)

	e.say(t, adminAAD, "/admin add not an id")
	assert.Equal(t, msgNotEntraID, e.lastText(t))
	for _, bad := range []string{"not-a-guid", "abcdef01-2345-4678-9abc", "abcdef01-2345-4678-9abc-def01234567g", "abcdef0123454678-9abc-def012345678"} {
		e.say(t, adminAAD, "/admin add "+bad)
		assert.Equal(t, msgNotEntraID, e.lastText(t), bad)
	}
	e.say(t, adminAAD, "/admin add")
	assert.Equal(t, msgAdminUsage, e.lastText(t))
	admins, err = e.state.Admins(t.Context())
	require.NoError(t, err)
	assert.Equal(t, []string{newcomer}, admins, "nothing invalid was added")
	e.say(t, adminAAD, "/admin list")
	assert.Contains(t, e.lastText(t), newcomer)
	e.say(t, adminAAD, "/admin remove "+adminAAD)
	assert.Equal(t, msgAdminConfig, e.lastText(t))

	// The added admin is an admin now, and may say /here.
	e.say(t, newcomer, "hello")
	got, _ := e.sink.got()
	require.Len(t, got, 1, "only plain text reached the sink")
	assert.Equal(t, bot.RoleAdmin, got[0].Role)
	e.say(t, newcomer, "/here")
	assert.Equal(t, msgHere, e.lastText(t))
	conv, err := e.state.StaffConversation(t.Context())
	require.NoError(t, err)
	assert.Equal(t, "a:1xYzPersonalConversationId", conv.ID)
	assert.Equal(t, e.conn.srv.URL, conv.ServiceURL)

	e.say(t, adminAAD, "/admin remove "+newcomer)
	e.say(t, newcomer, "/here")
	assert.Equal(t, msgNotAdmin, e.lastText(t))

	// Other commands go to the sink with the role, for the privacy service.
	e.say(t, adminAAD, "/forget +447700900123")
	got, _ = e.sink.got()
	require.Len(t, got, 2)
	assert.Equal(t, "/forget +447700900123", got[1].Text)
	assert.Equal(t, bot.RoleAdmin, got[1].Role)
}

func TestConversationUpdate(t *testing.T) {
	t.Run("TeamInstallSetsStaffConversation", func(t *testing.T) {
		e := newEnv(t, nil)
		require.Equal(t, http.StatusOK, e.post(e.activity(t, "conversation_update_team.json", nil), e.token(t)).Code)
		conv, err := e.state.StaffConversation(t.Context())
		require.NoError(t, err)
		assert.Equal(t, Conversation{ServiceURL: e.conn.srv.URL, ID: "19:teamroot0001@thread.tacv2", TenantID: testTenant,
			Type: "channel", BotID: "28:" + testAppID}, conv)
		reqs := e.conn.requests()
		require.Len(t, reqs, 1)
		assert.Equal(t, msgInstalled, reqs[0].Body["text"])
	})
	t.Run("SecondInstallByStaffKeepsIt", func(t *testing.T) {
		e := newEnv(t, nil)
		first := Conversation{ServiceURL: e.conn.srv.URL, ID: "19:first@thread.tacv2", Type: "channel"}
		require.NoError(t, e.state.SetStaffConversation(t.Context(), first))
		require.Equal(t, http.StatusOK, e.post(e.activity(t, "conversation_update_team.json", nil), e.token(t)).Code)
		conv, err := e.state.StaffConversation(t.Context())
		require.NoError(t, err)
		assert.Equal(t, first, conv)
	})
	t.Run("PersonalInstallIgnored", func(t *testing.T) {
		e := newEnv(t, nil)
		body := e.activity(t, "conversation_update_team.json", func(m map[string]any) {
			m["conversation"] = map[string]any{"conversationType": "personal", "tenantId": testTenant, "id": "a:1x"}
		})
		require.Equal(t, http.StatusOK, e.post(body, e.token(t)).Code)
		_, err := e.state.StaffConversation(t.Context())
		assert.ErrorIs(t, err, bot.ErrNotFound)
	})
	t.Run("OtherTenantIgnored", func(t *testing.T) {
		e := newEnv(t, nil)
		body := e.activity(t, "conversation_update_team.json", func(m map[string]any) {
			m["conversation"].(map[string]any)["tenantId"] = otherTenant
			m["channelData"] = map[string]any{"tenant": map[string]any{"id": otherTenant}}
		})
		require.Equal(t, http.StatusOK, e.post(body, e.token(t)).Code)
		_, err := e.state.StaffConversation(t.Context())
		assert.ErrorIs(t, err, bot.ErrNotFound)
		assert.Empty(t, e.conn.requests())
	})
}

// decodeInvoke decodes an invoke response body.
func decodeInvoke(t *testing.T, body string) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal([]byte(body), &m))
	return m
}

// TestRedeliveredCommandsRunOnce: Teams redelivers an activity it thinks
// went unanswered; /admin and /here change state outside the store, so a
// redelivery (same conversation, same activity id) is not run again. Without
// it, a late redelivery of "/admin add X" after "/admin remove X" would make
// X an admin again.
func TestRedeliveredCommandsRunOnce(t *testing.T) {
	e := newEnv(t, nil)
	newcomer := "abcdef01-2345-4678-9abc-def012345678"
	act := func(id, text string) []byte {
		return e.activity(t, "message_personal.json", func(m map[string]any) {
			m["id"] = id
			m["text"] = text
			m["from"].(map[string]any)["aadObjectId"] = adminAAD
		})
	}
	add := act("add-1", "/admin add "+newcomer)
	require.Equal(t, http.StatusOK, e.post(add, e.token(t)).Code)
	require.Equal(t, http.StatusOK, e.post(act("remove-1", "/admin remove "+newcomer), e.token(t)).Code)
	replies := len(e.conn.requests())
	require.Equal(t, http.StatusOK, e.post(add, e.token(t)).Code, "the redelivery is acknowledged")
	admins, err := e.state.Admins(t.Context())
	require.NoError(t, err)
	assert.Empty(t, admins, "the redelivered add did not run again")
	assert.Len(t, e.conn.requests(), replies, "and was not answered again")

	here := act("here-1", "/here")
	require.Equal(t, http.StatusOK, e.post(here, e.token(t)).Code)
	require.Equal(t, http.StatusOK, e.post(here, e.token(t)).Code)
	n := 0
	for _, r := range e.conn.requests() {
		if r.Body["text"] == msgHere {
			n++
		}
	}
	assert.Equal(t, 1, n, "/here answered once")

	// The same id in another conversation is another activity.
	other := e.activity(t, "message_personal.json", func(m map[string]any) {
		m["id"] = "add-1"
		m["text"] = "/admin add " + newcomer
		m["from"].(map[string]any)["aadObjectId"] = adminAAD
		m["conversation"].(map[string]any)["id"] = "a:another"
	})
	require.Equal(t, http.StatusOK, e.post(other, e.token(t)).Code)
	admins, err = e.state.Admins(t.Context())
	require.NoError(t, err)
	assert.Equal(t, []string{newcomer}, admins)

	// A state that cannot record the claim fails the request, so Teams
	// redelivers it later; nothing ran.
	e.state.mu.Lock()
	e.state.err = errors.New("disk full")
	e.state.mu.Unlock()
	assert.Equal(t, http.StatusInternalServerError, e.post(act("add-2", "/admin add "+newcomer), e.token(t)).Code)
}
