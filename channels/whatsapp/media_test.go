package whatsapp

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
	"google.golang.org/protobuf/proto"

	"github.com/switchboard/switchboard/bot"
	"github.com/switchboard/switchboard/media/mediatest"
)

// uploaded is a file as a phone sends it: on the media servers at path,
// encrypted under key; the message carries what opens it.
type uploaded struct {
	path string
	key  []byte
	data []byte
}

func newUpload(path string, data []byte) uploaded {
	key := sha256.Sum256([]byte("media key of " + path))
	return uploaded{path: path, key: key[:], data: data}
}

func (u uploaded) sums() (enc, plain []byte) {
	p := sha256.Sum256(u.data)
	e := sha256.Sum256(append([]byte("ciphertext of "), u.data...))
	return e[:], p[:]
}

// The waE2E parts a phone sends, with every field whatsmeow reads and the
// ones a person wrote (caption, name, thumbnail).
func (u uploaded) image(caption string) *waE2E.Message {
	enc, plain := u.sums()
	return &waE2E.Message{ImageMessage: &waE2E.ImageMessage{
		URL: proto.String("https://mmg.whatsapp.net" + u.path + "&mms3=true"), DirectPath: proto.String(u.path),
		MediaKey: u.key, FileEncSHA256: enc, FileSHA256: plain, FileLength: proto.Uint64(uint64(len(u.data))),
		Mimetype: proto.String("image/jpeg"), Caption: proto.String(caption), Height: proto.Uint32(900), Width: proto.Uint32(1200),
		JPEGThumbnail: []byte("\xff\xd8 tiny thumbnail the phone made"), MediaKeyTimestamp: proto.Int64(sentAt.Unix()),
	}}
}

func (u uploaded) voice() *waE2E.Message {
	enc, plain := u.sums()
	return &waE2E.Message{AudioMessage: &waE2E.AudioMessage{
		URL: proto.String("https://mmg.whatsapp.net" + u.path + "&mms3=true"), DirectPath: proto.String(u.path),
		MediaKey: u.key, FileEncSHA256: enc, FileSHA256: plain, FileLength: proto.Uint64(uint64(len(u.data))),
		Mimetype: proto.String("audio/ogg; codecs=opus"), Seconds: proto.Uint32(7), PTT: proto.Bool(true),
		Waveform: bytes.Repeat([]byte{9}, 64),
	}}
}

func (u uploaded) document(name, caption string) *waE2E.Message {
	enc, plain := u.sums()
	return &waE2E.Message{DocumentMessage: &waE2E.DocumentMessage{
		DirectPath: proto.String(u.path), MediaKey: u.key, FileEncSHA256: enc, FileSHA256: plain,
		FileLength: proto.Uint64(uint64(len(u.data))), Mimetype: proto.String("application/pdf"),
		FileName: proto.String(name), Title: proto.String(name), Caption: proto.String(caption), PageCount: proto.Uint32(1),
	}}
}

func (u uploaded) sticker() *waE2E.Message {
	enc, plain := u.sums()
	return &waE2E.Message{StickerMessage: &waE2E.StickerMessage{
		URL: proto.String("https://mmg.whatsapp.net" + u.path), DirectPath: proto.String(u.path), MediaKey: u.key,
		FileEncSHA256: enc, FileSHA256: plain, FileLength: proto.Uint64(uint64(len(u.data))), Mimetype: proto.String("image/webp"),
	}}
}

// TestMediaThroughTheAdapter maps real message protos with media fields
// (a photo with a caption, a voice note, a PDF, a sticker), checks the
// reference carries the media keys and nothing a person wrote, and fetches
// each through the channel's client seam.
func TestMediaThroughTheAdapter(t *testing.T) {
	h := newHarness(t)
	photo := newUpload("/v/t62.7118-24/photo?ccb=11-4&oh=01&oe=6A", mediatest.JPEG(1200, 900, 1))
	voice := newUpload("/v/t62.7117-24/voice?ccb=11-4", mediatest.Opus(1))
	pdf := newUpload("/v/t62.7119-24/doc?ccb=11-4", mediatest.PDF())
	stk := newUpload("/v/t62.15575-24/sticker", []byte("RIFF\x10\x00\x00\x00WEBPVP8 sticker"))
	h.cli.media = map[string]fakeMedia{}
	for _, u := range []uploaded{photo, voice, pdf, stk} {
		h.cli.media[u.path] = fakeMedia{key: u.key, data: u.data}
	}
	cases := []struct {
		name    string
		msg     *waE2E.Message
		up      uploaded
		kind    bot.MessageKind
		text    string
		mime    string
		file    string
		private []string // what a person wrote, never in the reference
	}{
		{"Photo", photo.image("the boiler display PLANTED-CAPTION"), photo, bot.KindImage, "the boiler display PLANTED-CAPTION", "image/jpeg", "", []string{"PLANTED-CAPTION", "tiny thumbnail"}},
		{"VoiceNote", voice.voice(), voice, bot.KindVoice, "", "audio/ogg; codecs=opus", "", nil},
		{"Document", pdf.document("Quote-for-Ada-Lovelace.pdf", "my quote"), pdf, bot.KindDocument, "my quote", "application/pdf", "Quote-for-Ada-Lovelace.pdf", []string{"Ada-Lovelace", "my quote"}},
		{"Sticker", stk.sticker(), stk, bot.KindSticker, "", "image/webp", "", nil},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			evt := dm(pnJID, types.EmptyJID, tc.msg)
			evt.Info.ID = types.MessageID("3A0000000000000MEDIA" + string(rune('A'+i)))
			require.True(t, h.ch.handle(h.sess, evt))
			in := h.sink.inbound[len(h.sink.inbound)-1]
			assert.Equal(t, tc.kind, in.Kind)
			assert.Equal(t, tc.text, in.Text)
			require.NotNil(t, in.Media)
			ref := *in.Media
			assert.True(t, strings.HasPrefix(ref.ID, "wa1:"), ref.ID)
			assert.Equal(t, tc.mime, ref.MIME)
			assert.Equal(t, tc.file, ref.Filename)
			assert.Equal(t, int64(len(tc.up.data)), ref.Size)
			_, plain := tc.up.sums()
			assert.Equal(t, plain, bot.NewMedia(1, in.Kind, ref).SHA256, "the plaintext hash the inspector checks")

			part, err := parseRef(ref.ID)
			require.NoError(t, err)
			assert.Equal(t, tc.up.path, part.GetDirectPath())
			assert.Equal(t, tc.up.key, part.GetMediaKey())
			raw, err := proto.Marshal(part)
			require.NoError(t, err)
			for _, p := range tc.private {
				assert.NotContains(t, string(raw), p, "the reference keeps only what opens the file")
			}

			got, err := h.ch.FetchMedia(context.Background(), ref, 16<<20)
			require.NoError(t, err)
			assert.Equal(t, tc.up.data, got)
		})
	}
	assert.Len(t, h.cli.downloads, len(cases))
	_, isImage := h.cli.downloads[0].(*waE2E.ImageMessage)
	assert.True(t, isImage, "whatsmeow derives the media keys from the part's type")
	_, isAudio := h.cli.downloads[1].(*waE2E.AudioMessage)
	assert.True(t, isAudio)

	// A text message has no media; nor has a photo without its keys.
	require.True(t, h.ch.handle(h.sess, dm(pnJID, types.EmptyJID, text("hi"))))
	assert.Nil(t, h.sink.inbound[len(h.sink.inbound)-1].Media)
	bare := photo.image("no keys")
	bare.ImageMessage.MediaKey = nil
	evt := dm(pnJID, types.EmptyJID, bare)
	evt.Info.ID = "3A00000000000000BARE"
	require.True(t, h.ch.handle(h.sess, evt))
	got := h.sink.inbound[len(h.sink.inbound)-1]
	assert.Equal(t, bot.KindImage, got.Kind, "still delivered: staff see the placeholder")
	assert.Nil(t, got.Media)
}

func TestFetchMediaErrors(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t)
	photo := newUpload("/v/photo", mediatest.JPEG(64, 48, 2))
	h.cli.media = map[string]fakeMedia{photo.path: {key: photo.key, data: photo.data}}
	ref := attachment(photo.image(""))
	require.NotNil(t, ref)

	_, err := h.ch.FetchMedia(ctx, *ref, int64(len(photo.data)-1))
	assert.ErrorIs(t, err, bot.ErrTooLarge)
	assert.Empty(t, h.cli.downloads, "refused from the declared length, before the download")

	gone := attachment(newUpload("/v/expired", []byte("x")).image(""))
	_, err = h.ch.FetchMedia(ctx, *gone, 1<<20)
	assert.ErrorIs(t, err, bot.ErrNotFound, "404 from the media servers: no longer there")

	h.cli.dlErr = whatsmeow.ErrIQDisconnected
	_, err = h.ch.FetchMedia(ctx, *ref, 1<<20)
	assert.ErrorIs(t, err, bot.ErrUnavailable, "not connected: waits without using a try")
	h.cli.dlErr = whatsmeow.ErrInvalidMediaHMAC
	_, err = h.ch.FetchMedia(ctx, *ref, 1<<20)
	require.Error(t, err)
	assert.False(t, errors.Is(err, bot.ErrNotFound) || errors.Is(err, bot.ErrUnavailable), "a damaged download is retried")
	h.cli.dlErr = nil

	for _, bad := range []string{"", "1479537139650973", "wa1:image:!!!", "wa1:nope:AAAA", "wa1:image:"} {
		_, err = h.ch.FetchMedia(ctx, bot.MediaRef{ID: bad}, 1<<20)
		assert.ErrorIs(t, err, bot.ErrNotFound, bad)
	}

	h.ch.setSession(nil)
	_, err = h.ch.FetchMedia(ctx, *ref, 1<<20)
	assert.ErrorIs(t, err, bot.ErrUnavailable, "not running")
}

func FuzzParseRef(f *testing.F) {
	f.Add(attachment(newUpload("/v/p", []byte("x")).image("c")).ID)
	f.Add(attachment(newUpload("/v/d", []byte("x")).document("n", "c")).ID)
	f.Add("wa1:audio:")
	f.Add("wa1:")
	f.Fuzz(func(t *testing.T, id string) {
		part, err := parseRef(id)
		if err != nil {
			return
		}
		if len(part.GetMediaKey()) == 0 {
			t.Fatal("a reference without a media key parsed")
		}
	})
}
