package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"
	"google.golang.org/protobuf/proto"

	"github.com/switchboard/switchboard/bot"
	"github.com/switchboard/switchboard/channels/whatsapp"
	"github.com/switchboard/switchboard/channels/whatsappcloud/cloudtest"
	"github.com/switchboard/switchboard/drafts"
	"github.com/switchboard/switchboard/media/mediatest"
)

// What the customer of the media tests sends and says; none of it may stay
// anywhere in the data directory once they are erased.
const (
	mediaCaption    = "PLANTED-CAPTION the boiler display"
	mediaSpoken     = "PLANTED-VOICE the radiator upstairs is cold again, can you come tomorrow"
	mediaVoiceReply = "Sorry the radiator upstairs is cold: we can bleed it tomorrow morning."
	mediaPhotoReply = "Thanks for the photo of the display, we will take a look."
	mediaPublicURL  = "http://127.0.0.1:1" // View links name it; the test opens them on the real address
)

// fakeOpenAI plays an OpenAI-compatible endpoint: chat completions (the
// reply answers the voice note when the prompt holds its transcript) and
// audio transcriptions (multipart), recording both.
type fakeOpenAI struct {
	srv *httptest.Server

	mu    sync.Mutex
	chats []string // request bodies
	trans []transcription
}

// transcription is one /audio/transcriptions request as it came.
type transcription struct {
	contentType string
	fields      map[string]string
	fileName    string
	file        []byte
	raw         []byte
}

func newFakeOpenAI(t *testing.T) *fakeOpenAI {
	f := &fakeOpenAI{}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/v1/audio/transcriptions":
			tr := transcription{contentType: r.Header.Get("Content-Type"), fields: map[string]string{}, raw: body}
			if mt, params, err := mime.ParseMediaType(tr.contentType); err == nil && mt == "multipart/form-data" {
				mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
				for {
					p, err := mr.NextPart()
					if err != nil {
						break
					}
					b, _ := io.ReadAll(p)
					if p.FormName() == "file" {
						tr.fileName, tr.file = p.FileName(), b
					} else {
						tr.fields[p.FormName()] = string(b)
					}
				}
			}
			f.mu.Lock()
			f.trans = append(f.trans, tr)
			f.mu.Unlock()
			_ = json.NewEncoder(w).Encode(map[string]any{"text": mediaSpoken})
		case "/v1/chat/completions":
			f.mu.Lock()
			f.chats = append(f.chats, string(body))
			f.mu.Unlock()
			reply := mediaPhotoReply
			if strings.Contains(string(body), "the radiator upstairs is cold again") {
				reply = mediaVoiceReply
			}
			content, _ := json.Marshal(map[string]any{"reply": reply, "intent": "booking", "quote_items": []any{}, "needs_human": "", "suspected_injection": false})
			_ = json.NewEncoder(w).Encode(map[string]any{"id": "chatcmpl-e2e", "object": "chat.completion", "model": "test-model",
				"choices": []any{map[string]any{"index": 0, "finish_reason": "stop", "message": map[string]any{"role": "assistant", "content": string(content)}}}})
		default:
			http.Error(w, "unknown", http.StatusNotFound)
		}
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeOpenAI) transcriptions() []transcription {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]transcription(nil), f.trans...)
}

func (f *fakeOpenAI) chatBodies() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.chats...)
}

// fakeWhatsmeow is the linked device's client seam: whatsmeow's event
// handler to feed messages through, WhatsApp's media servers (files by
// direct path, opened only with their media key), and the messages sent.
type fakeWhatsmeow struct {
	handlerCh chan func(any) bool

	mu      sync.Mutex
	media   map[string][2][]byte // direct path -> media key, plaintext
	sent    []*waE2E.Message
	uploads [][]byte
	n       int
}

func (f *fakeWhatsmeow) SendMessage(_ context.Context, _ types.JID, m *waE2E.Message, extra ...whatsmeow.SendRequestExtra) (whatsmeow.SendResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sent = append(f.sent, m)
	id := types.MessageID(fmt.Sprintf("3EB0E2E%012d", len(f.sent)))
	if len(extra) > 0 && extra[0].ID != "" {
		id = extra[0].ID
	}
	return whatsmeow.SendResponse{ID: id, Timestamp: time.Now()}, nil
}

func (f *fakeWhatsmeow) Upload(_ context.Context, data []byte, _ whatsmeow.MediaType) (whatsmeow.UploadResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.uploads = append(f.uploads, bytes.Clone(data))
	sum := sha256.Sum256(data)
	return whatsmeow.UploadResponse{URL: "https://mmg.whatsapp.net/up", DirectPath: "/v/up", MediaKey: []byte("k"), FileSHA256: sum[:], FileLength: uint64(len(data))}, nil
}

func (f *fakeWhatsmeow) Download(_ context.Context, part whatsmeow.DownloadableMessage) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	m, ok := f.media[part.GetDirectPath()]
	if !ok {
		return nil, whatsmeow.ErrMediaDownloadFailedWith404
	}
	if !bytes.Equal(m[0], part.GetMediaKey()) {
		return nil, whatsmeow.ErrInvalidMediaHMAC
	}
	return bytes.Clone(m[1]), nil
}

func (f *fakeWhatsmeow) GenerateMessageID() types.MessageID {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n++
	return types.MessageID(fmt.Sprintf("3EB0GEN%012d", f.n))
}

func (f *fakeWhatsmeow) texts() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, m := range f.sent {
		switch {
		case m.Conversation != nil:
			out = append(out, m.GetConversation())
		case m.DocumentMessage != nil:
			out = append(out, m.GetDocumentMessage().GetCaption())
		}
	}
	return out
}

// mediaApp is the real process with an LLM on a loopback endpoint and
// WhatsApp on one of its two transports.
type mediaApp struct {
	*cloudApp
	llm       *fakeOpenAI
	transport string
	wa        *fakeWhatsmeow
	handler   func(any) bool
	seq       int
}

func startMediaApp(t *testing.T, transport string) *mediaApp {
	t.Helper()
	return startMediaAppWith(t, transport, nil)
}

// startMediaAppWith starts the media app with mod applied to its
// configuration.
func startMediaAppWith(t *testing.T, transport string, mod func(*Config)) *mediaApp {
	t.Helper()
	a := &mediaApp{cloudApp: &cloudApp{conn: newConnector(t), graph: cloudtest.NewGraph(t, e2ePNID, e2eToken), tap: newLogTap(), dir: t.TempDir()},
		llm: newFakeOpenAI(t), transport: transport}
	cfg := DefaultConfig()
	cfg.DataDir, cfg.Listen, cfg.LogFormat, cfg.LogLevel = a.dir, "127.0.0.1:0", LogJSON, "debug"
	cfg.TeamsDev, cfg.Admins, cfg.MicrosoftAppTenantID = true, []string{e2eAdmin}, e2eTenant
	cfg.PublicURL = mediaPublicURL
	cfg.LLM = &LLM{opts: drafts.Options{APIKey: "sk-e2e", BaseURL: a.llm.srv.URL + "/v1", Model: "test-model"}}
	if transport == transportCloud {
		cfg.CloudPhoneNumberID, cfg.CloudGraphURL = e2ePNID, a.graph.URL()
		cfg.CloudAccessToken, cfg.CloudAppSecret, cfg.CloudVerifyToken = NewSecret(e2eToken), NewSecret(e2eSecret), NewSecret(e2eVerify)
	}
	if mod != nil {
		mod(&cfg)
	}
	require.NoError(t, cfg.Validate())
	a.wa = &fakeWhatsmeow{handlerCh: make(chan func(any) bool, 1), media: map[string][2][]byte{}}
	build := func(app *App) ([]bot.Channel, error) {
		chs, err := buildChannels(app)
		for _, ch := range chs {
			if wa, ok := ch.(*whatsapp.Channel); ok {
				wa.SetTestClient(func(h func(any) bool) whatsapp.Client { a.wa.handlerCh <- h; return a.wa })
			}
		}
		return chs, err
	}
	a.base, a.stop = startServe(t, cfg, a.tap, build)
	if transport == transportLinked {
		select {
		case a.handler = <-a.wa.handlerCh:
		case <-time.After(20 * time.Second):
			require.FailNow(t, "the linked device never ran", "log:\n%s", a.tap.String())
		}
		a.handler(&events.Connected{})
	}
	require.Eventually(t, func() bool { code, _ := get(t, a.base+"/readyz"); return code == http.StatusOK },
		20*time.Second, 20*time.Millisecond, "never ready; log:\n%s", a.tap.String())
	require.Equal(t, http.StatusOK, postActivity(t, a.base, teamsMessage(a.conn.srv.URL, "here-1", e2eTenant, e2eAdmin, "/here")))
	a.conn.waitText(t, "Draft cards will be posted")
	return a
}

// customerJID is the customer on the linked device.
var customerJID = types.JID{User: e2eWaID, Server: types.DefaultUserServer}

// sendPhoto sends the customer's photo with a caption through the transport.
func (a *mediaApp) sendPhoto(t *testing.T, photo []byte) {
	t.Helper()
	a.seq++
	sum := sha256.Sum256(photo)
	if a.transport == transportCloud {
		id := fmt.Sprintf("14795371396%05d", a.seq)
		a.graph.AddMediaFile(id, "image/jpeg", photo)
		require.Equal(t, http.StatusOK, a.webhook(t, cloudtest.Envelope(e2ePNID, map[string]any{
			"contacts": []any{map[string]any{"profile": map[string]any{"name": plantedName}, "wa_id": e2eWaID}},
			"messages": []any{map[string]any{"from": e2eWaID, "id": fmt.Sprintf("wamid.PHOTO%d", a.seq), "timestamp": fmt.Sprint(time.Now().Unix()), "type": "image",
				"image": map[string]any{"caption": mediaCaption, "mime_type": "image/jpeg", "sha256": base64.StdEncoding.EncodeToString(sum[:]), "id": id}}},
		})))
		return
	}
	path := fmt.Sprintf("/v/t62.7118-24/photo-%d?ccb=11-4", a.seq)
	key := sha256.Sum256([]byte(path))
	a.wa.mu.Lock()
	a.wa.media[path] = [2][]byte{key[:], photo}
	a.wa.mu.Unlock()
	a.linkedEvent(t, &waE2E.Message{ImageMessage: &waE2E.ImageMessage{
		URL: proto.String("https://mmg.whatsapp.net" + path), DirectPath: proto.String(path), MediaKey: key[:],
		FileEncSHA256: sum[:], FileSHA256: sum[:], FileLength: proto.Uint64(uint64(len(photo))), Mimetype: proto.String("image/jpeg"),
		Caption: proto.String(mediaCaption), JPEGThumbnail: []byte("phone-made thumbnail"),
	}})
}

// sendVoice sends the customer's voice note through the transport.
func (a *mediaApp) sendVoice(t *testing.T, voice []byte) {
	t.Helper()
	a.seq++
	sum := sha256.Sum256(voice)
	if a.transport == transportCloud {
		id := fmt.Sprintf("27395371396%05d", a.seq)
		a.graph.AddMediaFile(id, "audio/ogg", voice)
		require.Equal(t, http.StatusOK, a.webhook(t, cloudtest.Envelope(e2ePNID, map[string]any{
			"contacts": []any{map[string]any{"profile": map[string]any{"name": plantedName}, "wa_id": e2eWaID}},
			"messages": []any{map[string]any{"from": e2eWaID, "id": fmt.Sprintf("wamid.VOICE%d", a.seq), "timestamp": fmt.Sprint(time.Now().Unix()), "type": "audio",
				"audio": map[string]any{"mime_type": "audio/ogg; codecs=opus", "sha256": base64.StdEncoding.EncodeToString(sum[:]), "id": id, "voice": true}}},
		})))
		return
	}
	path := fmt.Sprintf("/v/t62.7117-24/voice-%d", a.seq)
	key := sha256.Sum256([]byte(path))
	a.wa.mu.Lock()
	a.wa.media[path] = [2][]byte{key[:], voice}
	a.wa.mu.Unlock()
	a.linkedEvent(t, &waE2E.Message{AudioMessage: &waE2E.AudioMessage{
		URL: proto.String("https://mmg.whatsapp.net" + path), DirectPath: proto.String(path), MediaKey: key[:],
		FileEncSHA256: sum[:], FileSHA256: sum[:], FileLength: proto.Uint64(uint64(len(voice))),
		Mimetype: proto.String("audio/ogg; codecs=opus"), PTT: proto.Bool(true), Seconds: proto.Uint32(6),
	}})
}

// say sends a text from the customer.
func (a *mediaApp) say(t *testing.T, text string) {
	t.Helper()
	a.seq++
	if a.transport == transportCloud {
		require.Equal(t, http.StatusOK, a.webhook(t, cloudtest.TextMessage(e2ePNID, e2eWaID, plantedName, fmt.Sprintf("wamid.TEXT%d", a.seq), text, time.Now().Unix())))
		return
	}
	a.linkedEvent(t, &waE2E.Message{Conversation: proto.String(text)})
}

// linkedEvent feeds a message from the customer through whatsmeow's
// handler, as whatsmeow would.
func (a *mediaApp) linkedEvent(t *testing.T, m *waE2E.Message) {
	t.Helper()
	evt := (&events.Message{Info: types.MessageInfo{
		MessageSource: types.MessageSource{Chat: customerJID, Sender: customerJID},
		ID:            types.MessageID(fmt.Sprintf("3A00E2E%013d", a.seq)), PushName: plantedName, Timestamp: time.Now(),
	}, RawMessage: m}).UnwrapRaw()
	require.True(t, a.handler(evt), "the message was stored and acknowledged; log:\n%s", a.tap.String())
}

// replies returns what the customer received, oldest first.
func (a *mediaApp) replies() []string {
	if a.transport == transportCloud {
		var out []string
		for _, m := range a.graph.Messages() {
			out = append(out, m.Text)
		}
		return out
	}
	return a.wa.texts()
}

// waitContent waits for a card posted or updated with all of want and
// returns its body and draft id.
func (a *mediaApp) waitContent(t *testing.T, want ...string) (string, int64) {
	t.Helper()
	var body string
	require.Eventually(t, func() bool {
		for _, p := range a.conn.all() {
			ok := strings.Contains(p.Body, "application/vnd.microsoft.card.adaptive")
			for _, w := range want {
				ok = ok && strings.Contains(p.Body, w)
			}
			if ok {
				body = p.Body
				return true
			}
		}
		return false
	}, 20*time.Second, 10*time.Millisecond, "no card shows %q; log:\n%s", want, a.tap.String())
	var id int64
	_, err := fmt.Sscanf(body[strings.Index(body, `"draft":`):], `"draft":%d`, &id)
	require.NoError(t, err)
	return body, id
}

// view clicks View on an attachment of a card and returns the invoke's
// answer (the clicker's own card).
func (a *mediaApp) view(t *testing.T, body string, draft int64) string {
	t.Helper()
	re := regexp.MustCompile(`"data":\{"draft":` + fmt.Sprint(draft) + `,"media":(\d+),"switchboard":"media","token":"([0-9a-f]+)","verb":"view"\}`)
	m := re.FindStringSubmatch(body)
	require.NotNil(t, m, "the card offers View")
	inv := map[string]any{
		"type": "invoke", "name": "adaptiveCard/action", "id": fmt.Sprintf("view-%d", draft), "channelId": "msteams", "serviceUrl": a.conn.srv.URL,
		"timestamp":    time.Now().UTC().Format(time.RFC3339Nano),
		"from":         map[string]any{"id": "29:" + e2eAdmin[:8], "name": "Test Person", "aadObjectId": e2eAdmin},
		"conversation": map[string]any{"conversationType": "channel", "tenantId": e2eTenant, "id": "19:staff@thread.tacv2"},
		"recipient":    map[string]any{"id": "28:bot", "name": "Switchboard"},
		"channelData":  map[string]any{"tenant": map[string]any{"id": e2eTenant}},
		"value": map[string]any{"action": map[string]any{"type": "Action.Execute", "verb": "view",
			"data": map[string]any{"switchboard": "media", "verb": "view", "draft": draft, "media": m[1], "token": m[2]}}},
	}
	b, err := json.Marshal(inv)
	require.NoError(t, err)
	resp, err := http.Post(a.base+"/api/messages", "application/json", bytes.NewReader(b))
	require.NoError(t, err)
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	return string(out)
}

// dataDirHits scans every file under dir for the needles.
func dataDirHits(t *testing.T, dir string, needles map[string][]byte) []string {
	t.Helper()
	var hits []string
	require.NoError(t, filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for name, n := range needles {
			if bytes.Contains(b, n) {
				hits = append(hits, strings.TrimPrefix(p, dir)+": "+name)
			}
		}
		return nil
	}))
	return hits
}

// TestMediaEndToEnd runs a customer's photo and voice note through the
// production wiring on each WhatsApp transport (the Cloud API against the
// loopback Graph API; the linked device with real waE2E protos through
// whatsmeow's handler and the download behind the client seam) to the
// staff card: the photo's preview, the voice note's transcript (made at
// the OpenAI-compatible loopback: multipart, the model, no names), a draft
// that answers what was said, the whole photo through a one-time View
// link; then /forget me, after which no byte of the person (number, name,
// caption, transcript, photo, voice) is left in the data directory.
func TestMediaEndToEnd(t *testing.T) {
	for _, transport := range []string{transportCloud, transportLinked} {
		t.Run(transport, func(t *testing.T) {
			a := startMediaApp(t, transport)
			photo := mediatest.JPEG(3000, 2250, 11)
			voice := mediatest.Opus(11)

			a.sendPhoto(t, photo)
			photoCard, photoDraft := a.waitContent(t, "the boiler display", "data:image/jpeg;base64,", mediaPhotoReply)
			assert.Contains(t, photoCard, "Photo: a JPEG image, ")
			assert.Contains(t, photoCard, "View the photo")

			a.sendVoice(t, voice)
			voiceCard, _ := a.waitContent(t, "[voice note]", mediaSpoken, "What they said (transcript)")
			if !strings.Contains(voiceCard, mediaVoiceReply) {
				voiceCard, _ = a.waitContent(t, "[voice note]", mediaSpoken, mediaVoiceReply)
			}
			assert.Contains(t, voiceCard, "Voice note: Ogg audio")

			// A decompression bomb through the same path: refused from its
			// header, with a note on the card; the message is kept and
			// drafted all the same.
			a.sendPhoto(t, mediatest.BombPNG(60000, 60000))
			bomb, _ := a.waitContent(t, "too large to process safely", "the boiler display", "AI draft")
			assert.NotContains(t, bomb, "data:image/jpeg;base64,", "no preview of a refused photo")

			// The transcription request: multipart, the model, the audio
			// under a generic name, and nothing that names anyone.
			trs := a.llm.transcriptions()
			require.Len(t, trs, 1, "one voice note, one transcription")
			tr := trs[0]
			assert.True(t, strings.HasPrefix(tr.contentType, "multipart/form-data; boundary="))
			assert.Equal(t, map[string]string{"model": "whisper-1", "response_format": "json"}, tr.fields)
			assert.Equal(t, "voice.ogg", tr.fileName)
			assert.Equal(t, voice, tr.file)
			for _, n := range []string{plantedName, "Zebedee", e2eWaID, "7700900123", "s_", mediaCaption} {
				assert.NotContains(t, string(tr.raw), n, "the transcription request names nobody")
			}
			// The draft answered what was said: the chat request that made
			// it holds the transcript, as a transcribed voice note.
			var voicePrompt string
			for _, b := range a.llm.chatBodies() {
				if strings.Contains(b, "the radiator upstairs is cold again") {
					voicePrompt = b
				}
			}
			require.NotEmpty(t, voicePrompt, "the drafter got the transcript")
			assert.Contains(t, voicePrompt, "[voice note, transcribed] PLANTED-VOICE the radiator upstairs is cold again")
			assert.NotContains(t, voicePrompt, plantedName)
			assert.NotContains(t, voicePrompt, "image_url", "vision is off by default")

			// View: the clicker alone gets a link that opens the photo once.
			answer := a.view(t, photoCard, photoDraft)
			m := regexp.MustCompile(`"url":"` + regexp.QuoteMeta(mediaPublicURL) + `(/media/[A-Za-z0-9_-]{43})"`).FindStringSubmatch(answer)
			require.NotNil(t, m, "the answer holds a one-time link: %s", answer)
			code, got := get(t, a.base+m[1])
			require.Equal(t, http.StatusOK, code)
			assert.True(t, bytes.Equal(photo, []byte(got)), "the whole photo, as sent")
			code, _ = get(t, a.base+m[1])
			assert.Equal(t, http.StatusNotFound, code, "once")

			// The person is erased: their files, transcripts and captions
			// with them.
			a.say(t, "/forget me")
			require.Eventually(t, func() bool {
				r := a.replies()
				return len(r) > 0 && strings.Contains(r[len(r)-1], "YES")
			}, 20*time.Second, 10*time.Millisecond, "log:\n%s", a.tap.String())
			a.say(t, "YES")
			require.Eventually(t, func() bool {
				r := a.replies()
				return len(r) > 1 && strings.Contains(r[len(r)-1], "3 photos, voice notes and documents")
			}, 20*time.Second, 10*time.Millisecond, "the confirmation counts the files; replies %q; log:\n%s", a.replies(), a.tap.String())
			if transport == transportCloud {
				require.Eventually(t, func() bool { return len(a.graph.Deletes()) >= 2 }, 10*time.Second, 10*time.Millisecond,
					"the customer's media are deleted at Meta too")
			}
			a.stop()

			ents, err := os.ReadDir(filepath.Join(a.dir, "media"))
			if err == nil {
				assert.Empty(t, ents, "no media file left")
			}
			hits := dataDirHits(t, a.dir, map[string][]byte{
				"name": []byte(plantedName), "phone": []byte(e2eWaID), "caption": []byte("PLANTED-CAPTION"), "transcript": []byte("PLANTED-VOICE"),
				"photo": photo[len(photo)/2 : len(photo)/2+64], "voice": voice[len(voice)-64:],
			})
			assert.Empty(t, hits, "the data directory keeps nothing of the erased person")
			logs := a.tap.String()
			for _, n := range []string{plantedName, e2eWaID, "PLANTED-CAPTION", "PLANTED-VOICE", mediaVoiceReply} {
				assert.NotContains(t, logs, n, "logs hold no personal data")
			}
		})
	}
}
