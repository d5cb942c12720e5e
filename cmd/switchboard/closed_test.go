package main

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboard/switchboard/channels/whatsappcloud/cloudtest"
)

// TestClosedHoursEndToEnd runs the closed-hours reply through the
// production wiring, WhatsApp on the Cloud API: an admin sets opening
// hours, a time zone, today as a closure and an urgent line with /profile;
// a customer who writes gets one reply saying when the business opens (as
// a Graph send of its own, with its own outbox key), the card says it was
// sent, a second message and a command get none, /privacy says it is not
// AI; once open nothing is sent, and the next evening is a new period.
func TestClosedHoursEndToEnd(t *testing.T) {
	a := startCloudApp(t)
	london, err := time.LoadLocation("Europe/London")
	require.NoError(t, err)
	today := a.clock.Now().In(london)
	admin := func(id, text, want string) {
		t.Helper()
		require.Equal(t, http.StatusOK, postActivity(t, a.base, teamsMessage(a.conn.srv.URL, id, e2eTenant, e2eAdmin, text)))
		a.conn.waitText(t, want)
	}
	admin("p1", "/profile set hours daily 8-17:30", "Opening hours: Monday to Sunday 8:00–17:30")
	admin("p2", "/profile set timezone europe/london", "Closed-hours reply: on")
	admin("p3", "/profile set closed "+today.Format("2006-01-02"), "Closed on: "+today.Format("2 January 2006"))
	admin("p4", "/profile set urgent call 0117 496 0000", "Urgent contact: call 0117 496 0000")
	admin("p5", "/profile set hours mon-fri 8:00-17:30 sat 9-12", "Separate the entries with commas")

	customer := func(wamid, text string) {
		t.Helper()
		require.Equal(t, http.StatusOK, a.webhook(t, cloudtest.TextMessage(e2ePNID, e2eWaID, plantedName, wamid, text, a.clock.Now().Unix())))
	}
	reply := "Thanks for your message. We're closed now; we'll answer from 8:00 tomorrow. Urgent? Call 0117 496 0000."
	customer("wamid.night1", "Is anyone there? The boiler is leaking.")
	require.Eventually(t, func() bool { return len(a.graph.Messages()) == 1 }, 10*time.Second, 10*time.Millisecond, "log:\n%s", a.tap.String())
	ack := a.graph.Messages()[0]
	assert.Equal(t, e2eWaID, ack.To)
	assert.Equal(t, reply, ack.Text)
	assert.Regexp(t, `^ob_[0-9a-f]{32}$`, ack.Key, "an outbox row of its own")
	card, _ := a.waitCard(t, "boiler is leaking")
	a.waitUpdate(t, card, "Closed-hours reply sent at {{TIME(")
	// Meta's statuses for it are taken like any other.
	require.Equal(t, http.StatusOK, a.webhook(t, cloudtest.Status(e2ePNID, e2eWaID, ack.ID, "read", ack.Key, a.clock.Now().Unix()+5, 0)))

	customer("wamid.night2", "Hello??")
	second, _ := a.waitCard(t, "Hello??")
	assert.Contains(t, second.Body, "Closed-hours reply sent at", "the later card of the period shows it too")
	customer("wamid.privacy", "/privacy")
	require.Eventually(t, func() bool { return len(a.graph.Messages()) == 2 }, 10*time.Second, 10*time.Millisecond)
	notice := a.graph.Messages()[1].Text
	assert.Contains(t, notice, "Outside our opening hours, one automatic reply per closed period tells you when we open. It is a fixed text, not written by AI, so it comes after /stop too.")
	time.Sleep(1500 * time.Millisecond) // an outbox pass would have sent a second reply by now
	assert.Len(t, a.graph.Messages(), 2, "one reply per closed period; none for the command")

	// Tomorrow at 9:00 the business is open: nothing automatic.
	tomorrow := time.Date(today.Year(), today.Month(), today.Day()+1, 9, 0, 0, 0, london)
	a.clock.Add(tomorrow.Sub(a.clock.Now()))
	customer("wamid.open", "Can you come today?")
	a.waitCard(t, "come today")
	// At 18:00 it has closed again: a new period, a new reply.
	a.clock.Add(9 * time.Hour)
	customer("wamid.night3", "Thanks for coming")
	require.Eventually(t, func() bool { return len(a.graph.Messages()) == 3 }, 10*time.Second, 10*time.Millisecond, "log:\n%s", a.tap.String())
	assert.Equal(t, reply, a.graph.Messages()[2].Text)
	a.stop()
	assert.Len(t, a.graph.Messages(), 3)

	logs := a.tap.String()
	assert.NotContains(t, logs, `"level":"error"`)
	for _, planted := range []string{e2eWaID, plantedName, "boiler is leaking", "0117 496 0000", "We're closed now"} {
		assert.NotContains(t, logs, planted)
	}
	assert.Contains(t, logs, "closed-hours acknowledgement queued")
}
