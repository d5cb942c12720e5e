package whatsappcloud

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboard/switchboard/bot"
	"github.com/switchboard/switchboard/channels/whatsappcloud/cloudtest"
)

// TestForget: erasure deletes at Meta every media id of the person (the
// export uploaded for them, the photo they sent), forgets their window,
// and leaves other people's alone.
func TestForget(t *testing.T) {
	dir := t.TempDir()
	e := newEnv(t, func(o *Options) { o.StateDir = dir }).run(t)
	ctx := context.Background()

	// Zebedee sends a photo and gets an export; Ann gets an export.
	e.graph.AddMedia("1479537139650973")
	require.Equal(t, http.StatusOK, e.postSigned(readPayload(t, "image")).Code)
	_, err := e.ch.Send(ctx, bot.Outbound{Chat: testChat, Text: "Your data", File: &bot.File{Name: "export.json", MIME: "application/json", Data: []byte("{}")}})
	require.NoError(t, err)
	ann := bot.ChatID("447700900456@s.whatsapp.net")
	require.Equal(t, http.StatusOK, e.postSigned(cloudtest.TextMessage(testPNID, "447700900456", "Ann", "wamid.ann1", "hi", e.clock.Now().Unix())).Code)
	_, err = e.ch.Send(ctx, bot.Outbound{Chat: ann, File: &bot.File{Name: "export.json", MIME: "application/json", Data: []byte("{}")}})
	require.NoError(t, err)
	ups := e.graph.Uploads()
	require.Len(t, ups, 2)
	zebExport, annExport := e.graph.Messages()[0].MediaID, e.graph.Messages()[1].MediaID
	require.True(t, e.graph.HasMedia(zebExport))

	n, err := e.ch.ForgetCounted(ctx, "s_zebedee", []bot.Identity{
		{Kind: bot.IDPhone, Value: "+447700900123"},
		{Kind: bot.IDBSUID, Value: "GB.13491208655302741918"},
		{Kind: bot.IDTeams, Value: "not-ours"},
	})
	require.NoError(t, err)
	assert.Equal(t, 3, n, "two files at Meta and one chat's window")
	assert.ElementsMatch(t, []string{"1479537139650973", zebExport}, e.graph.Deletes())
	assert.False(t, e.graph.HasMedia(zebExport))
	assert.False(t, e.graph.HasMedia("1479537139650973"))
	assert.True(t, e.graph.HasMedia(annExport), "another person's media stays")

	e.ch.mu.Lock()
	_, zebWindow := e.ch.windows[testChat]
	_, annWindow := e.ch.windows[ann]
	e.ch.mu.Unlock()
	assert.False(t, zebWindow, "the window state is forgotten")
	assert.True(t, annWindow)

	b, err := os.ReadFile(filepath.Join(dir, MediaFile))
	require.NoError(t, err)
	assert.NotContains(t, string(b), zebExport)
	assert.NotContains(t, string(b), "1479537139650973")
	assert.NotContains(t, string(b), e.ch.media.owner(testChat), "no trace of the person's hash either")
	assert.Contains(t, string(b), annExport)

	// A second erasure (privacy repeats it after the confirmation) is a no-op.
	require.NoError(t, e.ch.Forget(ctx, "s_zebedee", []bot.Identity{{Kind: bot.IDPhone, Value: "+447700900123"}}))
	assert.Len(t, e.graph.Deletes(), 2)
}

// TestForgetWhenMetaIsDown keeps the media listed and says so, so a later
// erasure or the sweep deletes it.
func TestForgetWhenMetaIsDown(t *testing.T) {
	e := newEnv(t, nil).run(t)
	ctx := context.Background()
	e.wrote(t)
	_, err := e.ch.Send(ctx, bot.Outbound{Chat: testChat, File: &bot.File{Name: "export.json", MIME: "application/json", Data: []byte("{}")}})
	require.NoError(t, err)
	e.graph.FailNext(3, 503, 131016)
	err = e.ch.Forget(ctx, "s_1", []bot.Identity{{Kind: bot.IDPhone, Value: "+447700900123"}})
	require.Error(t, err)
	assert.NotContains(t, err.Error(), testWaID)
	require.NoError(t, e.ch.Forget(ctx, "s_1", []bot.Identity{{Kind: bot.IDPhone, Value: "+447700900123"}}))
	es, err := e.ch.media.find(func(mediaEntry) bool { return true })
	require.NoError(t, err)
	assert.Empty(t, es)
}

// TestMediaSweep deletes uploaded documents at Meta once their time is up
// (24 hours by default, as the export promise says), and drops received
// ids Meta no longer keeps; the list survives a restart.
func TestMediaSweep(t *testing.T) {
	dir := t.TempDir()
	e := newEnv(t, func(o *Options) { o.StateDir = dir }).run(t)
	ctx := context.Background()
	e.wrote(t)
	_, err := e.ch.Send(ctx, bot.Outbound{Chat: testChat, File: &bot.File{Name: "export.json", MIME: "application/json", Data: []byte("{}")}})
	require.NoError(t, err)
	upload := e.graph.Messages()[0].MediaID
	require.NoError(t, e.ch.media.add("received-1", testChat, e.clock.Now(), false))

	// A new process on the same directory knows both.
	again, err := New(e.opts)
	require.NoError(t, err)
	e.clock.Add(23 * time.Hour)
	again.sweepMedia(ctx)
	assert.Empty(t, e.graph.Deletes(), "not yet")
	e.clock.Add(2 * time.Hour)
	again.sweepMedia(ctx)
	assert.Equal(t, []string{upload}, e.graph.Deletes())
	es, err := again.media.find(func(mediaEntry) bool { return true })
	require.NoError(t, err)
	require.Len(t, es, 1)
	assert.Equal(t, "received-1", es[0].ID)
	e.clock.Add(30 * 24 * time.Hour)
	again.sweepMedia(ctx)
	es, err = again.media.find(func(mediaEntry) bool { return true })
	require.NoError(t, err)
	assert.Empty(t, es)
	assert.Equal(t, []string{upload}, e.graph.Deletes(), "a received file is not deleted by the sweep")
}
