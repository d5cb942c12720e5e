package privacy

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"image"
	"image/jpeg"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboard/switchboard/bot"
	"github.com/switchboard/switchboard/store"
)

// seededMedia is one attachment seedMedia stored, with its plaintext.
type seededMedia struct {
	id   int64
	kind bot.MessageKind
	data []byte
}

// mediaNeedles are byte strings planted in the person's media, their
// names, thumbnails and transcripts.
func (p seeded) mediaNeedles() []string {
	return []string{"PHOTO-" + p.planted, "VOICE-" + p.planted, "DOC-" + p.planted, "THUMB-" + p.planted, "TRANSCRIPT-" + p.planted,
		p.name + " invoice"}
}

// photoWithComment is a 480×360 JPEG of noise with a COM segment holding
// text, so the plaintext of the photo holds a findable phrase.
func photoWithComment(t testing.TB, text string, seed uint64) []byte {
	t.Helper()
	m := image.NewRGBA(image.Rect(0, 0, 480, 360))
	r := rand.New(rand.NewPCG(seed, seed+1))
	for i := range m.Pix {
		m.Pix[i] = uint8(r.UintN(256))
	}
	var b bytes.Buffer
	require.NoError(t, jpeg.Encode(&b, m, &jpeg.Options{Quality: 90}))
	j := b.Bytes()
	com := []byte{0xFF, 0xFE, 0, 0}
	binary.BigEndian.PutUint16(com[2:], uint16(len(text)+2))
	out := append([]byte{}, j[:2]...)
	out = append(out, com...)
	out = append(out, text...)
	return append(out, j[2:]...)
}

// seedMedia stores, for person p, three inbound media messages with their
// attachments fetched: a photo (over one 64 KiB chunk), a voice note with
// its transcript, and a named PDF document.
func seedMedia(t testing.TB, h *harness, p seeded) []seededMedia {
	t.Helper()
	chat := bot.ChatID(p.phone[1:] + "@s.whatsapp.net")
	items := []struct {
		kind bot.MessageKind
		mime string
		name string
		data []byte
	}{
		{bot.KindImage, "image/jpeg", "", photoWithComment(t, "PHOTO-"+p.planted, uint64(len(p.planted)))},
		{bot.KindVoice, "audio/ogg", "", append([]byte("OggS\x00\x02"), bytes.Repeat([]byte("VOICE-"+p.planted+" "), 200)...)},
		{bot.KindDocument, "application/pdf", p.name + " invoice.pdf", []byte("%PDF-1.4\n(DOC-" + p.planted + ")\n%%EOF\n")},
	}
	var out []seededMedia
	for i, it := range items {
		h.clock.Add(time.Minute)
		mid, _, err := h.st.SaveInbound(h.ctx, bot.Message{Subject: p.sub.ID, Platform: bot.WhatsApp, Chat: chat,
			PlatformID: bot.MessageID("WAMID-MEDIA-" + p.phone[1:] + "-" + string(rune('a'+i))), Dir: bot.In, Kind: it.kind,
			SentAt: h.clock.Now(), Status: bot.StatusReceived})
		require.NoError(t, err)
		id, err := h.st.CreateMedia(h.ctx, bot.Media{MessageID: mid, Kind: it.kind, MIME: it.mime, FileName: it.name,
			Size: int64(len(it.data)), Ref: "meta-media-id-" + p.phone[1:]})
		require.NoError(t, err)
		var thumb []byte
		if it.kind == bot.KindImage {
			thumb = []byte("\xFF\xD8THUMB-" + p.planted + "\xFF\xD9")
		}
		require.NoError(t, h.st.SaveMediaBytes(h.ctx, id, bot.MediaContent{MIME: it.mime, Thumb: thumb}, bytes.NewReader(it.data), 16<<20))
		if it.kind == bot.KindVoice {
			require.NoError(t, h.st.SetMediaTranscript(h.ctx, id, "TRANSCRIPT-"+p.planted+": the boiler is leaking"))
		}
		out = append(out, seededMedia{id: id, kind: it.kind, data: it.data})
	}
	return out
}

func (h *harness) readMedia(id int64) []byte {
	h.t.Helper()
	src, ok := h.st.(MediaSource)
	require.True(h.t, ok)
	rc, err := src.OpenMedia(h.ctx, id)
	require.NoError(h.t, err)
	defer rc.Close()
	b, err := io.ReadAll(rc)
	require.NoError(h.t, err)
	return b
}

func seededMediaOf(t *testing.T, h *harness, s bot.SubjectID) []bot.Media {
	t.Helper()
	ms, err := h.st.MediaOf(h.ctx, s)
	require.NoError(t, err)
	return ms
}

// mediaFilesIn lists the files in the store's media directory.
func mediaFilesIn(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(dir, store.MediaDirName))
	if os.IsNotExist(err) {
		return nil
	}
	require.NoError(t, err)
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

// unzip reads a ZIP into name → content.
func unzip(t *testing.T, data []byte) map[string][]byte {
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

// Proof: /export of a person with media is a ZIP: export.json (valid
// against the schema) lists the media, and each kept file is in the ZIP,
// byte for byte, at the path the document gives. Nothing of B is there.
func TestProofExportZipWithMedia(t *testing.T) {
	h := newHarness(t)
	a := seedPerson(t, h, "+447700900111", "98765432101@lid", "Alice Aardvark", "PLANTED-ALPHA-7f3c")
	b := seedPerson(t, h, "+447700900222", "98765432202@lid", "Bob Bobolink", "PLANTED-BRAVO-91d2")
	aMedia := seedMedia(t, h, a)
	seedMedia(t, h, b)
	// One more attachment of A that never arrived: listed, not in the ZIP.
	mid, _, err := h.st.SaveInbound(h.ctx, bot.Message{Subject: a.sub.ID, Platform: bot.WhatsApp, Chat: "447700900111@s.whatsapp.net",
		PlatformID: "WAMID-PENDING", Dir: bot.In, Kind: bot.KindVideo, SentAt: h.clock.Now()})
	require.NoError(t, err)
	_, err = h.st.CreateMedia(h.ctx, bot.Media{MessageID: mid, Kind: bot.KindVideo, MIME: "video/mp4", Size: 9 << 20})
	require.NoError(t, err)

	r := h.must(a.sub, "/export")
	require.NotNil(t, r.File)
	assert.Equal(t, "application/zip", r.File.MIME)
	assert.True(t, strings.HasSuffix(r.File.Name, ".zip"), r.File.Name)
	assert.Contains(t, r.Text, "ZIP file")
	assert.Contains(t, r.Text, "media folder")
	files := unzip(t, r.File.Data)
	require.Contains(t, files, ExportZipJSON)
	doc := validateExport(t, files[ExportZipJSON])
	subjects := doc["subjects"].([]any)
	require.Len(t, subjects, 1)
	media := subjects[0].(map[string]any)["media"].([]any)
	require.Len(t, media, 4)
	paths := map[int64]string{}
	for _, m := range media {
		x := m.(map[string]any)
		id, _ := x["id"].(interface{ Int64() (int64, error) }).Int64()
		if x["state"] == "fetched" {
			paths[id] = x["file"].(string)
		} else {
			assert.Equal(t, "pending", x["state"])
			assert.NotContains(t, x, "file")
		}
	}
	require.Len(t, paths, 3)
	for _, m := range aMedia {
		p := paths[m.id]
		require.NotEmpty(t, p)
		assert.Equal(t, m.data, files[p], "%s is the file as sent", p)
	}
	assert.Len(t, files, 4, "export.json and three files")
	assert.Regexp(t, `^media/\d+-Alice_Aardvark_invoice\.pdf$`, paths[aMedia[2].id])
	assert.Regexp(t, `^media/\d+\.jpg$`, paths[aMedia[0].id])
	assert.Contains(t, string(files[ExportZipJSON]), "TRANSCRIPT-"+a.planted, "the transcript is in the document")
	assert.NotContains(t, string(files[ExportZipJSON]), "meta-media-id-", "the channel's handle is internal")
	for _, content := range files {
		for _, n := range append(b.needles(), b.mediaNeedles()...) {
			assert.NotContains(t, string(content), n, "B's data is not in A's export")
		}
	}
}

// The ZIP also goes out as a one-time link, served as application/zip,
// and is gone after the download.
func TestProofExportZipLink(t *testing.T) {
	h := newHarness(t, func(o *Options) { o.ExportURL = "https://bot.example/exports" })
	admin := h.staffer("aad-admin", "Ada Admin", bot.RoleAdmin)
	a := seedPerson(t, h, "+447700900111", "98765432101@lid", "Alice Aardvark", "PLANTED-ALPHA-7f3c")
	aMedia := seedMedia(t, h, a)
	srv := httptest.NewServer(h.svc.ExportHandler())
	defer srv.Close()
	r := h.delivered(h.must(admin, "/export +447700900111"))
	require.Nil(t, r.File)
	i := strings.Index(r.Text, "https://bot.example/exports/")
	require.GreaterOrEqual(t, i, 0, r.Text)
	tok := strings.Fields(r.Text[i+len("https://bot.example/exports/"):])[0]
	resp, err := http.Get(srv.URL + "/exports/" + tok)
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "application/zip", resp.Header.Get("Content-Type"))
	assert.Contains(t, resp.Header.Get("Content-Disposition"), ".zip")
	files := unzip(t, body)
	validateExport(t, files[ExportZipJSON])
	assert.Len(t, files, 1+len(aMedia))
	left, err := os.ReadDir(h.svc.dir)
	require.NoError(t, err)
	assert.Empty(t, left, "the export file is removed after the download, and no JSON is left behind")
}

// Proof: retention erases a silent customer's media with the rest: files
// gone, bytes nowhere.
func TestProofRetentionErasesMedia(t *testing.T) {
	h := newHarness(t)
	a := seedPerson(t, h, "+447700900111", "98765432101@lid", "Alice Aardvark", "PLANTED-ALPHA-7f3c")
	seedMedia(t, h, a)
	require.Len(t, mediaFilesIn(t, h.dir), 3)
	h.clock.Add(400 * 24 * time.Hour)
	require.NoError(t, h.svc.Purge(h.ctx, h.clock.Now()))
	assert.Empty(t, mediaFilesIn(t, h.dir))
	assert.Zero(t, rowsOf(t, h.dir, a.sub.ID)["media"])
	assert.Empty(t, scan(t, readFiles(t, storeFiles(h.dir)), append(a.needles(), a.mediaNeedles()...)))
}
