package teams

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboard/switchboard/bot"
	"github.com/switchboard/switchboard/media/mediatest"
)

// fileServer plays the pre-authenticated downloadUrl of a file a person
// sent the bot (OneDrive, SharePoint): it records whether a token came.
type fileServer struct {
	srv  *httptest.Server
	mu   sync.Mutex
	auth []string
}

func newFileServer(t *testing.T, data []byte) *fileServer {
	f := &fileServer{}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.auth = append(f.auth, r.Header.Get("Authorization"))
		f.mu.Unlock()
		if !strings.HasPrefix(r.URL.Path, "/personal/alex/_layouts/15/download.aspx") {
			http.Error(w, "expired", http.StatusForbidden)
			return
		}
		_, _ = w.Write(data)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

// attachMessage is a personal-chat message with text and attachments.
func (e *env) attachMessage(t *testing.T, text string, attachments []any, personal bool) []byte {
	return e.activity(t, "message_personal.json", func(m map[string]any) {
		m["id"] = fmt.Sprintf("attach-%d", e.seq.Add(1))
		m["text"] = text
		m["attachments"] = attachments
		if !personal {
			m["conversation"].(map[string]any)["conversationType"] = "channel"
		}
	})
}

func TestAttachFile(t *testing.T) {
	e := newEnv(t, nil)
	pdf := mediatest.PDF()
	fs := newFileServer(t, pdf)
	file := map[string]any{"contentType": contentTypeFileDownload, "name": "Quote 2291.pdf",
		"content": map[string]any{"downloadUrl": fs.srv.URL + "/personal/alex/_layouts/15/download.aspx?UniqueId=abc&tempauth=xyz", "uniqueId": "abc", "fileType": "pdf"}}
	var files [][]byte
	e.sink.decideFn = func(d bot.Decision) (bot.DecisionResult, error) {
		files = append(files, bytes.Clone(d.File.Data)) // the channel zeroes its copy afterwards
		return bot.DecisionResult{Outcome: bot.Applied, Message: "Attached the document Quote 2291.pdf to the reply to Sam."}, nil
	}

	require.Equal(t, http.StatusOK, e.post(e.attachMessage(t, "/attach 27-00112233", []any{file}, true), e.token(t)).Code)
	_, decs := e.sink.got()
	require.Len(t, decs, 1)
	d := decs[0]
	assert.Equal(t, bot.Attach, d.Kind)
	assert.Equal(t, int64(27), d.DraftID)
	assert.Equal(t, "00112233", d.Token)
	require.NotNil(t, d.File)
	assert.Equal(t, "Quote 2291.pdf", d.File.Name)
	assert.Equal(t, "application/pdf", d.File.MIME)
	assert.Equal(t, pdf, files[0])
	assert.Equal(t, staffAAD, d.By.Value)
	assert.Equal(t, "Attached the document Quote 2291.pdf to the reply to Sam.", e.lastText(t))
	assert.Equal(t, []string{""}, fs.auth, "no token goes to a pre-authenticated download link")

	// A picture pasted into the chat is read with the bot's token, from
	// the activity's own service only.
	pasted := map[string]any{"contentType": "image/png", "contentUrl": e.conn.srv.URL + "/v3/attachments/0-weu-d1-abc/views/original"}
	require.Equal(t, http.StatusOK, e.post(e.attachMessage(t, "/attach 27-00112233 pasted", []any{pasted}, true), e.token(t)).Code)
	_, decs = e.sink.got()
	require.Len(t, decs, 2)
	assert.Equal(t, pastedPicture, files[1])
	elsewhere := map[string]any{"contentType": "image/png", "contentUrl": fs.srv.URL + "/v3/attachments/x"}
	require.Equal(t, http.StatusOK, e.post(e.attachMessage(t, "/attach 27-00112233 elsewhere", []any{elsewhere}, true), e.token(t)).Code)
	_, decs = e.sink.got()
	assert.Len(t, decs, 2, "the bot's token goes to no other host")
	assert.Equal(t, msgAttachFailed, e.lastText(t))

	for _, tc := range []struct {
		name, text string
		atts       []any
		personal   bool
		want       string
	}{
		{"NotPersonal", "/attach 27-00112233", []any{file}, false, msgAttachHere},
		{"NoFile", "/attach 27-00112233 nofile", nil, true, "No file came with that message. " + msgAttachUsage},
		{"BadCode", "/attach twenty-seven", []any{file}, true, msgAttachUsage},
		{"Expired", "/attach 27-00112233 expired", []any{map[string]any{"contentType": contentTypeFileDownload, "name": "old.pdf",
			"content": map[string]any{"downloadUrl": fs.srv.URL + "/expired"}}}, true, msgAttachFailed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, http.StatusOK, e.post(e.attachMessage(t, tc.text, tc.atts, tc.personal), e.token(t)).Code)
			assert.Equal(t, tc.want, e.lastText(t))
			_, decs := e.sink.got()
			assert.Len(t, decs, 2, "no decision")
		})
	}
}

func TestParseAttachCode(t *testing.T) {
	for in, want := range map[string][2]any{
		"27-00112233": {int64(27), "00112233"}, "#27-00112233": {int64(27), "00112233"}, "27": {int64(27), ""}, "27-ABCDEF12": {int64(27), "abcdef12"},
	} {
		id, tok, ok := bot.ParseAttachCode(in)
		require.True(t, ok, in)
		assert.Equal(t, want[0], id, in)
		assert.Equal(t, want[1], tok, in)
	}
	for _, bad := range []string{"", "-1", "0-00", "27-zz", "27-001122334", "x-00112233"} {
		_, _, ok := bot.ParseAttachCode(bad)
		assert.False(t, ok, bad)
	}
	assert.Equal(t, "27-00112233", bot.AttachCode(27, "00112233445566778899aabbccddeeff"))
}
