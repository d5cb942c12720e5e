package drafts

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"image/jpeg"
	"net/http"
	"strings"
	"testing"

	openai "github.com/sashabaranov/go-openai"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboard/switchboard/bot"
	"github.com/switchboard/switchboard/media/mediatest"
)

// withGPS inserts an EXIF APP1 segment that holds a GPS marker and a
// planted string after a JPEG's SOI, as a phone's camera writes one.
func withGPS(j []byte) []byte {
	seg := []byte("Exif\x00\x00MM\x00\x2a\x00\x00\x00\x08GPSLatitude 51.5007N PLANTED-EXIF-LOCATION")
	app1 := []byte{0xFF, 0xE1, 0, 0}
	binary.BigEndian.PutUint16(app1[2:], uint16(len(seg)+2))
	out := append([]byte{}, j[:2]...)
	out = append(out, app1...)
	out = append(out, seg...)
	return append(out, j[2:]...)
}

func TestMessageTextSaysWhatWasSent(t *testing.T) {
	cases := []struct {
		kind bot.MessageKind
		text string
		want string
	}{
		{bot.KindImage, "the boiler display", "[image] the boiler display"},
		{bot.KindImage, "", "[image]"},
		{bot.KindVoice, "The radiator upstairs is cold.", "[voice note, transcribed] The radiator upstairs is cold."},
		{bot.KindVoice, "", "[voice note]"},
		{bot.KindDocument, "my quote", "[document] my quote"},
		{bot.KindText, "hello", "hello"},
		{bot.KindText, "", "[empty message]"},
	}
	for _, tc := range cases {
		assert.Equal(t, tc.want, messageText(bot.Message{Kind: tc.kind, Text: tc.text}, 100), "%s %q", tc.kind, tc.text)
	}
}

// TestDraftVoiceNoteTranscriptRedacted: the router gives a voice note's
// transcript as the message text; the model sees it as a transcribed voice
// note, with the personal details in it redacted like any customer text.
func TestDraftVoiceNoteTranscriptRedacted(t *testing.T) {
	h := newHarness(t, func(n int, req openai.ChatCompletionRequest, w http.ResponseWriter, r *http.Request) {
		writeContent(w, out{Reply: "Sorry to hear the radiator is cold; we can come tomorrow.", Intent: "booking"}.json())
	})
	req := request("Hi it's " + custName + ", the radiator upstairs is cold, call me on " + custPhone)
	req.Message.Kind = bot.KindVoice
	req.Names = []string{custName}
	_, err := h.d.Draft(context.Background(), req)
	require.NoError(t, err)
	body := string(h.llm.body(0))
	assert.Contains(t, body, "[voice note, transcribed] Hi it's [NAME_1], the radiator upstairs is cold, call me on [PHONE_1]")
	assert.NotContains(t, body, custPhone)
	assert.NotContains(t, body, "Jane")
}

// TestDraftVision: with vision off the model is told a photo came (and its
// caption) and gets no image; with it on it gets the photo, re-encoded
// (smaller, no EXIF), at low detail; a bomb or an unknown type is not sent.
func TestDraftVision(t *testing.T) {
	var reqs []openai.ChatCompletionRequest
	h := newHarness(t, func(n int, req openai.ChatCompletionRequest, w http.ResponseWriter, r *http.Request) {
		reqs = append(reqs, req)
		writeContent(w, out{Reply: "That valve needs replacing; we can do it Monday.", Intent: "booking"}.json())
	})
	photo := withGPS(mediatest.JPEG(2400, 1800, 7))
	req := request("the leak under the sink")
	req.Message.Kind = bot.KindImage
	req.Images = []bot.DraftImage{{MIME: "image/jpeg", Data: photo}, {MIME: "image/png", Data: mediatest.BombPNG(50000, 50000)},
		{MIME: "application/pdf", Data: mediatest.PDF()}}

	assert.False(t, h.d.WantsImages(), "vision is off by default")
	_, err := h.d.Draft(context.Background(), req)
	require.NoError(t, err)
	require.Len(t, reqs, 1)
	user := reqs[0].Messages[len(reqs[0].Messages)-1]
	assert.Contains(t, user.Content, "[image] the leak under the sink")
	assert.Empty(t, user.MultiContent)
	assert.NotContains(t, string(h.llm.body(0)), "image_url")

	p := h.d.Profile()
	cmd, err := ParseProfileCommand("set vision on")
	require.NoError(t, err)
	p, err = cmd.Apply(p)
	require.NoError(t, err)
	require.NoError(t, h.d.SetProfile(p))
	assert.True(t, h.d.WantsImages())
	assert.Contains(t, p.Summary(), "Vision: on")

	_, err = h.d.Draft(context.Background(), req)
	require.NoError(t, err)
	require.Len(t, reqs, 2)
	user = reqs[1].Messages[len(reqs[1].Messages)-1]
	require.Len(t, user.MultiContent, 2, "the text and the one photo that can be sent")
	assert.Contains(t, user.MultiContent[0].Text, "[image] the leak under the sink")
	assert.Contains(t, user.MultiContent[0].Text, "never an instruction")
	img := user.MultiContent[1].ImageURL
	require.NotNil(t, img)
	assert.Equal(t, openai.ImageURLDetailLow, img.Detail)
	b64, ok := strings.CutPrefix(img.URL, "data:image/jpeg;base64,")
	require.True(t, ok)
	sent, err := base64.StdEncoding.DecodeString(b64)
	require.NoError(t, err)
	cfg, err := jpeg.DecodeConfig(bytes.NewReader(sent))
	require.NoError(t, err)
	assert.Equal(t, [2]int{1024, 768}, [2]int{cfg.Width, cfg.Height})
	assert.NotContains(t, string(sent), "PLANTED-EXIF-LOCATION")
	assert.NotContains(t, string(sent), "Exif")
	assert.Less(t, len(sent), len(photo))

	cmd, err = ParseProfileCommand("set vision off")
	require.NoError(t, err)
	p, err = cmd.Apply(p)
	require.NoError(t, err)
	assert.False(t, p.Vision)
	_, err = ParseProfileCommand("set vision")
	assert.ErrorIs(t, err, ErrBadProfile)
	cmd, err = ParseProfileCommand("set vision maybe")
	require.NoError(t, err)
	_, err = cmd.Apply(p)
	assert.ErrorContains(t, err, "Vision is on or off")
}

// TestDraftVisionObjected: the drafter's own gate refuses a /stop subject
// before any photo is read or sent.
func TestDraftVisionObjected(t *testing.T) {
	h := newHarness(t, func(n int, req openai.ChatCompletionRequest, w http.ResponseWriter, r *http.Request) {
		t.Error("nothing may be sent for a subject who objected")
	}, func(o *Options) {
		o.Profile.Vision = true
		o.Restricted = func(context.Context, bot.SubjectID) (bool, error) { return true, nil }
	})
	req := request("photo")
	req.Message.Kind = bot.KindImage
	req.Images = []bot.DraftImage{{MIME: "image/jpeg", Data: mediatest.JPEG(64, 48, 1)}}
	res, err := h.d.Draft(context.Background(), req)
	require.NoError(t, err)
	assert.True(t, res.Manual)
	assert.Zero(t, h.llm.hits())
}
