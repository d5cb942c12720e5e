package main

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.mau.fi/whatsmeow/proto/waE2E"

	"github.com/switchboard/switchboard/channels/whatsappcloud/cloudtest"
	"github.com/switchboard/switchboard/media/mediatest"
)

// exportMedia sends the customer's photo and voice note and waits until
// both are kept (the photo's preview and the voice note's transcript are
// on their cards).
func (a *mediaApp) exportMedia(t *testing.T) (photo, voice []byte) {
	t.Helper()
	photo, voice = mediatest.JPEG(1200, 900, 21), mediatest.Opus(21)
	a.sendPhoto(t, photo)
	a.waitContent(t, "the boiler display", "data:image/jpeg;base64,")
	a.sendVoice(t, voice)
	a.waitContent(t, "[voice note]", mediaSpoken)
	return photo, voice
}

// waitMessages waits until the Graph API got n messages (accepted or not)
// and the last is a text holding want.
func (a *mediaApp) waitMessages(t *testing.T, n int, want string) []cloudtest.Request {
	t.Helper()
	require.Eventually(t, func() bool {
		m := a.graph.Messages()
		return len(m) >= n && m[len(m)-1].Type == "text" && strings.Contains(m[len(m)-1].Text, want)
	}, 20*time.Second, 10*time.Millisecond, "messages %v; log:\n%s", texts(a.graph.Messages()), a.tap.String())
	return a.graph.Messages()
}

func texts(ms []cloudtest.Request) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Type+": "+m.Text)
	}
	return out
}

func unzipBytes(t *testing.T, data []byte) map[string][]byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	require.NoError(t, err)
	out := map[string][]byte{}
	for _, f := range zr.File {
		rc, err := f.Open()
		require.NoError(t, err)
		b, err := io.ReadAll(rc)
		require.NoError(t, err)
		require.NoError(t, rc.Close())
		out[f.Name] = b
	}
	return out
}

// TestCloudExportInPartsEndToEnd: on the Cloud API, which takes no ZIP, and
// without --public-url, a customer with a photo and a voice note says
// /export: the Graph API gets the JSON document (as text/plain), the photo
// as an image message, the voice note as an audio message (its caption as
// a text before it: audio takes none) and a closing text that counts what
// was sent. A Graph failure on the photo's upload first: the person is
// told the photo did not go and may ask again at once. After /forget me,
// every copy uploaded to Meta is deleted there.
func TestCloudExportInPartsEndToEnd(t *testing.T) {
	a := startMediaAppWith(t, transportCloud, func(c *Config) { c.PublicURL = "" })
	photo, voice := a.exportMedia(t)

	// The photo's upload fails at Meta (a 500): the rest goes, and the
	// person is told.
	a.graph.FailUploads("image/jpeg", 1, http.StatusInternalServerError, 0)
	n0 := len(a.graph.Messages())
	a.say(t, "/export")
	ms := a.waitMessages(t, n0+4, "is not complete")[n0:]
	require.Len(t, ms, 4, "%v", texts(ms))
	assert.Equal(t, "document", ms[0].Type)
	assert.Equal(t, "text", ms[1].Type)
	assert.Regexp(t, `^Voice note you sent on .* UTC \(media/\d+\.ogg in the document\)$`, ms[1].Text)
	assert.Equal(t, "audio", ms[2].Type)
	closing := strings.Split(ms[3].Text, "\n")
	assert.Regexp(t, `^Your export \(request #\d+\) is not complete\. Sent above: the document listing the data we hold about you and 1 of the 2 files \(1 voice note\)\.$`, closing[0])
	assert.Regexp(t, `^Not sent: the photo you sent on .* UTC \(media/\d+\.jpg in the document\): it could not be sent just now\.$`, closing[1])
	assert.Equal(t, "Type /export again to get the whole export again: this one does not count towards your one export per hour.", closing[2])

	// Asked again at once: all of it.
	n0 = len(a.graph.Messages())
	a.say(t, "/export")
	ms = a.waitMessages(t, n0+5, "That is all of your export")[n0:]
	require.Len(t, ms, 5, "%v", texts(ms))
	for i, typ := range []string{"document", "image", "text", "audio", "text"} {
		assert.Equal(t, typ, ms[i].Type, "message %d", i)
		assert.NotEmpty(t, ms[i].ID, "Meta took message %d", i)
	}
	assert.Contains(t, ms[0].Text, "This chat cannot take it as one ZIP file")
	assert.Regexp(t, `^switchboard-export-\d{4}-\d\d-\d\d-\d+\.json$`, ms[0].Filename)
	assert.Regexp(t, `^Photo you sent on .* UTC \(media/\d+\.jpg in the document\)$`, ms[1].Text)
	assert.Regexp(t, `^Voice note you sent on .* UTC \(media/\d+\.ogg in the document\)$`, ms[2].Text)
	assert.Regexp(t, `^That is all of your export \(request #\d+\): the document listing the data we hold about you and 2 files \(1 photo and 1 voice note\), each in its own message above\.$`, strings.Split(ms[4].Text, "\n")[0])

	// What Meta got: the document as plain text, the photo and the voice
	// note as they were sent to us.
	byType := map[string]cloudtest.Request{}
	for _, u := range a.graph.Uploads() {
		if u.Form != nil && u.Form["type"] != "" {
			byType[u.Form["type"]] = u // the last of each type: this export's
		}
	}
	doc := byType["text/plain"]
	assert.True(t, strings.HasSuffix(doc.FileName, ".json"))
	var x struct {
		Schema   string `json:"schema"`
		Subjects []struct {
			Media []struct {
				State string `json:"state"`
				File  string `json:"file"`
			} `json:"media"`
		} `json:"subjects"`
	}
	require.NoError(t, json.Unmarshal(doc.File, &x))
	assert.Equal(t, "switchboard.export/v1", x.Schema)
	require.Len(t, x.Subjects, 1)
	require.Len(t, x.Subjects[0].Media, 2)
	for _, m := range x.Subjects[0].Media {
		assert.Equal(t, "fetched", m.State)
		assert.Contains(t, ms[1].Text+ms[2].Text, "("+m.File+" in the document)", "each caption names its entry")
	}
	assert.True(t, bytes.Equal(photo, byType["image/jpeg"].File), "the photo as sent")
	assert.True(t, bytes.Equal(voice, byType["audio/ogg"].File), "the voice note as sent")
	for _, m := range ms {
		if m.MediaID != "" {
			assert.True(t, a.graph.HasMedia(m.MediaID))
		}
	}

	// The hour is used now.
	n0 = len(a.graph.Messages())
	a.say(t, "/export")
	a.waitMessages(t, n0+1, "one export per hour")

	// Erasure deletes the export's copies at Meta with the rest.
	a.say(t, "/forget me")
	require.Eventually(t, func() bool { r := a.replies(); return strings.Contains(r[len(r)-1], "YES") }, 20*time.Second, 10*time.Millisecond)
	a.say(t, "YES")
	require.Eventually(t, func() bool {
		for _, m := range a.graph.Messages() {
			if m.MediaID != "" && a.graph.HasMedia(m.MediaID) {
				return false
			}
		}
		return true
	}, 20*time.Second, 10*time.Millisecond, "every file sent for the export is deleted at Meta; log:\n%s", a.tap.String())
	a.stop()
	logs := a.tap.String()
	for _, n := range []string{plantedName, e2eWaID, "PLANTED-CAPTION", "PLANTED-VOICE"} {
		assert.NotContains(t, logs, n, "logs hold no personal data")
	}
}

// TestCloudExportLinkEndToEnd: with --public-url, the Cloud API's customer
// with a photo and a voice note gets a one-time link to the ZIP instead:
// one text message; the link opens the ZIP (export.json and both files, as
// sent) once.
func TestCloudExportLinkEndToEnd(t *testing.T) {
	a := startMediaApp(t, transportCloud)
	photo, voice := a.exportMedia(t)
	n0 := len(a.graph.Messages())
	uploads := len(a.graph.Uploads())
	a.say(t, "/export")
	ms := a.waitMessages(t, n0+1, "The link works once")[n0:]
	require.Len(t, ms, 1)
	assert.Equal(t, uploads, len(a.graph.Uploads()), "no file goes to Meta")
	m := regexp.MustCompile(regexp.QuoteMeta(mediaPublicURL) + `(/exports/[0-9a-f]{64})`).FindStringSubmatch(ms[0].Text)
	require.NotNil(t, m, ms[0].Text)
	code, body := get(t, a.base+m[1])
	require.Equal(t, http.StatusOK, code)
	files := unzipBytes(t, []byte(body))
	require.Len(t, files, 3)
	require.Contains(t, files, "export.json")
	var got [][]byte
	for name, b := range files {
		if name != "export.json" {
			got = append(got, b)
		}
	}
	assert.ElementsMatch(t, [][]byte{photo, voice}, got, "both files, as sent")
	code, _ = get(t, a.base+m[1])
	assert.Equal(t, http.StatusNotFound, code, "once")
}

// TestLinkedExportZipEndToEnd: the linked device takes the ZIP whole: one
// document message, application/zip, holding export.json and both files.
func TestLinkedExportZipEndToEnd(t *testing.T) {
	a := startMediaApp(t, transportLinked)
	photo, voice := a.exportMedia(t)
	a.say(t, "/export")
	var doc *waE2E.DocumentMessage
	var data []byte
	require.Eventually(t, func() bool {
		a.wa.mu.Lock()
		defer a.wa.mu.Unlock()
		for _, m := range a.wa.sent {
			if d := m.GetDocumentMessage(); d != nil && len(a.wa.uploads) == 1 {
				doc, data = d, a.wa.uploads[0] // the one upload: nothing else was sent with a file
				return true
			}
		}
		return false
	}, 20*time.Second, 10*time.Millisecond, "log:\n%s", a.tap.String())
	assert.Equal(t, "application/zip", doc.GetMimetype())
	assert.Regexp(t, `^switchboard-export-\d{4}-\d\d-\d\d-\d+\.zip$`, doc.GetFileName())
	assert.Contains(t, doc.GetCaption(), "It is a ZIP file")
	files := unzipBytes(t, data)
	require.Len(t, files, 3)
	var got [][]byte
	for name, b := range files {
		if name != "export.json" {
			got = append(got, b)
		}
	}
	assert.ElementsMatch(t, [][]byte{photo, voice}, got)
}
