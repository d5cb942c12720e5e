package privacy

import (
	"encoding/json"
	"github.com/switchboard/switchboard/bot"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// liveController is a Controller source that changes, as the business
// profile does when an admin uses /profile.
type liveController struct {
	mu sync.Mutex
	c  Controller
}

func (l *liveController) get() Controller {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.c
}

func (l *liveController) set(c Controller) {
	l.mu.Lock()
	l.c = c
	l.mu.Unlock()
}

// The notice, the export and the confirmations name the controller from the
// business profile as it is now; without it the notice says plainly that
// the business has not set it, and never "the business you are messaging".
func TestNoticeNamesController(t *testing.T) {
	live := &liveController{c: Controller{TradingName: "Acme Plumbing"}}
	h := newHarness(t, func(o *Options) {
		o.Policy.Controller, o.Policy.Contact = "", ""
		o.Controller = live.get
	})
	c := h.customer("+447700900501", "1501@lid", "Alice")

	unset := h.must(c, "/privacy").Text
	assert.NotContains(t, unset, "the business you are messaging")
	assert.Contains(t, unset, "Acme Plumbing has not yet set its legal name")
	assert.Contains(t, unset, "has not yet set a privacy contact")
	assert.Contains(t, unset, "ico.org.uk", "the route to the regulator is always there")
	r := h.must(c, "/export")
	require.NotNil(t, r.File)
	var doc struct {
		Sup Supplementary `json:"supplementary_information"`
	}
	require.NoError(t, json.Unmarshal(r.File.Data, &doc))
	assert.Equal(t, "not yet set by the business (trading as Acme Plumbing)", doc.Sup.Controller)
	assert.Equal(t, "not yet set by the business", doc.Sup.Contact)
	stop := h.must(c, "/stop").Text
	assert.NotContains(t, stop, "controller", "a confirmation names no controller it does not know")

	live.set(Controller{LegalName: "Acme Plumbing Ltd", TradingName: "Acme Plumbing", Contact: "privacy@acme.example", ICORegistration: "ZA123456"})
	set := h.must(c, "/privacy").Text
	first := strings.SplitN(set, "\n", 3)
	require.Len(t, first, 3)
	assert.Equal(t, "Privacy notice: Acme Plumbing Ltd (trading as Acme Plumbing) is the controller of your data; ICO registration ZA123456.", first[0])
	assert.Equal(t, "Contact about your data: privacy@acme.example.", first[1])
	assert.NotContains(t, set, "not yet set")

	h.clock.Add(2 * h.svc.every)
	r = h.must(c, "/export")
	require.NotNil(t, r.File)
	require.NoError(t, json.Unmarshal(r.File.Data, &doc))
	assert.Equal(t, "Acme Plumbing Ltd (trading as Acme Plumbing)", doc.Sup.Controller)
	assert.Equal(t, "privacy@acme.example", doc.Sup.Contact)
	assert.Equal(t, "ZA123456", doc.Sup.ICORegistration)
	assert.Contains(t, doc.Sup.Complaints, "privacy@acme.example")
	validateExport(t, r.File.Data)

	sig := "Acme Plumbing Ltd, the controller of your data; privacy contact: privacy@acme.example."
	assert.Contains(t, r.Text, sig)
	assert.Contains(t, h.must(c, "/start").Text, sig)
	assert.Contains(t, h.must(c, "/name Alice Smith").Text, sig)
	h.must(c, "/forget me")
	assert.Contains(t, h.must(c, "YES").Text, sig, "the erasure confirmation names who erased")
}

// A Policy without a controller says so instead of inventing one.
func TestPolicyWithoutController(t *testing.T) {
	p := Policy{}.withDefaults()
	n := p.Notice()
	assert.Contains(t, n, "The business has not yet set its legal name")
	assert.NotContains(t, n, "the business you are messaging")
	assert.Equal(t, "not yet set by the business", p.Supplementary().Controller)
	assert.Empty(t, p.signature())
}

// In a chat that cannot receive files, /export says so before doing
// anything: no request is registered and the hourly export is not used.
func TestExportRefusedWhereNoFileCanGo(t *testing.T) {
	h := newHarness(t)
	admin := h.staffer("aad-admin", "Ada Admin", bot.RoleAdmin)
	h.teams.noFiles.Store(true)
	for _, cmd := range []string{"/export", "/export teams:aad-admin", "/export company"} {
		r := h.must(admin, cmd)
		assert.Equal(t, textNoFiles, r.Text, cmd)
		assert.Nil(t, r.File)
	}
	reqs, err := h.st.OpenRequests(h.ctx)
	require.NoError(t, err)
	assert.Empty(t, reqs)
	assert.NotContains(t, auditOf(t, h, admin.ID), `"action":"export"`)

	h.teams.noFiles.Store(false)
	r := h.delivered(h.must(admin, "/export"))
	require.NotNil(t, r.File, "the hourly export was not used up")
}
