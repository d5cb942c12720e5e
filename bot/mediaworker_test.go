package bot_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"image"
	"image/jpeg"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboard/switchboard/bot"
	"github.com/switchboard/switchboard/bot/bottest"
	"github.com/switchboard/switchboard/media"
	"github.com/switchboard/switchboard/store"
)

// fakeFetcher is a channel's download seam: it serves bytes by Ref, or
// errors, and records what it was asked.
type fakeFetcher struct {
	mu     sync.Mutex
	files  map[string][]byte
	errs   []error // returned in turn before the file
	asked  []bot.MediaRef
	limits []int64
	during func() // called inside FetchMedia (an erasure racing the download)
}

func (f *fakeFetcher) FetchMedia(_ context.Context, ref bot.MediaRef, limit int64) ([]byte, error) {
	f.mu.Lock()
	f.asked, f.limits = append(f.asked, ref), append(f.limits, limit)
	var err error
	if len(f.errs) > 0 {
		err, f.errs = f.errs[0], f.errs[1:]
	}
	b, ok := f.files[ref.ID]
	during := f.during
	f.mu.Unlock()
	if during != nil {
		during()
	}
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, bot.ErrNotFound
	}
	return bytes.Clone(b), nil
}

type fakeTranscriber struct {
	mu    sync.Mutex
	calls []bot.SubjectID
	text  string
	err   error
}

func (f *fakeTranscriber) Transcribe(_ context.Context, s bot.SubjectID, mime string, audio []byte) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, s)
	return f.text, f.err
}

// workerEnv is a real store, a customer's stored media message, a fake
// fetcher and a worker over them.
type workerEnv struct {
	t       testing.TB
	ctx     context.Context
	db      *store.DB
	clock   *bottest.Clock
	fetch   *fakeFetcher
	tr      *fakeTranscriber
	w       *bot.MediaWorker
	sub     bot.Subject
	settled []bot.Media
	mu      sync.Mutex
	n       int
}

func newWorkerEnv(t testing.TB, mod func(*bot.MediaWorkerOptions)) *workerEnv {
	t.Helper()
	e := &workerEnv{t: t, ctx: context.Background(), clock: bottest.NewClock(time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)),
		fetch: &fakeFetcher{files: map[string][]byte{}}, tr: &fakeTranscriber{text: "The boiler is leaking under the sink."}}
	key := bytes.Repeat([]byte{0x33}, 32)
	db, err := store.New(store.Options{Dir: filepath.Join(t.TempDir(), "data"), MasterKey: key, Now: e.clock.Now})
	require.NoError(t, err)
	require.NoError(t, db.Open(e.ctx))
	t.Cleanup(func() { _ = db.Close() })
	e.db = db
	e.sub, err = db.ResolveSubject(e.ctx, bot.SubjectInput{Identities: []bot.Identity{{Kind: bot.IDPhone, Value: "+447700900123"}}, Name: "Ada", Role: bot.RoleCustomer})
	require.NoError(t, err)
	o := bot.MediaWorkerOptions{Log: zerolog.Nop(), Store: db, Fetchers: map[bot.Platform]bot.MediaFetcher{bot.WhatsApp: e.fetch},
		Inspector: media.Inspector{}, Transcriber: e.tr, Now: e.clock.Now,
		OnSettled: func(_ context.Context, m bot.Media) { e.mu.Lock(); e.settled = append(e.settled, m); e.mu.Unlock() }}
	if mod != nil {
		mod(&o)
	}
	e.w, err = bot.NewMediaWorker(o)
	require.NoError(t, err)
	return e
}

// add stores an inbound media message (the message first, as the router
// does) and its pending item, served by the fetcher as data.
func (e *workerEnv) add(kind bot.MessageKind, mime string, data []byte) int64 {
	e.t.Helper()
	e.n++
	ref := string(rune('A' + e.n))
	mid, _, err := e.db.SaveInbound(e.ctx, bot.Message{Subject: e.sub.ID, Platform: bot.WhatsApp, Chat: "447700900123@s.whatsapp.net",
		PlatformID: bot.MessageID("W" + ref), Kind: kind, Text: "caption", SentAt: e.clock.Now()})
	require.NoError(e.t, err)
	m := bot.NewMedia(mid, kind, bot.MediaRef{ID: ref, MIME: mime})
	m.Size = int64(len(data)) // as whatsmeow declares it (FileLength)
	id, err := e.db.CreateMedia(e.ctx, m)
	require.NoError(e.t, err)
	if data != nil {
		e.fetch.mu.Lock()
		e.fetch.files[ref] = data
		e.fetch.mu.Unlock()
	}
	return id
}

func (e *workerEnv) find(id int64) bot.Media {
	e.t.Helper()
	m, err := e.db.FindMedia(e.ctx, id)
	require.NoError(e.t, err)
	return m
}

func (e *workerEnv) round() int {
	e.t.Helper()
	n, err := e.w.RunOnce(e.ctx)
	require.NoError(e.t, err)
	return n
}

func photoJPEG(t *testing.T, w, h int) []byte {
	t.Helper()
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := range m.Pix {
		m.Pix[i] = uint8(i * 7)
	}
	var b bytes.Buffer
	require.NoError(t, jpeg.Encode(&b, m, &jpeg.Options{Quality: 85}))
	return b.Bytes()
}

// oggOpus is a small Ogg Opus stream (OpusHead, OpusTags, one audio page
// flagged end of stream); the worker never decodes it.
func oggOpus() []byte {
	page := func(flags byte, seq uint32, packet []byte) []byte {
		p := make([]byte, 27, 28+len(packet))
		copy(p, "OggS")
		p[5] = flags
		binary.LittleEndian.PutUint32(p[18:], seq)
		p[26] = 1
		p = append(p, byte(len(packet)))
		return append(p, packet...)
	}
	out := page(2, 0, []byte("OpusHead\x01\x01\x38\x01\x80\xBB\x00\x00\x00\x00\x00"))
	out = append(out, page(0, 1, []byte("OpusTags\x00\x00\x00\x00\x00\x00\x00\x00"))...)
	return append(out, page(4, 2, bytes.Repeat([]byte{0x42}, 200))...)
}

func TestMediaWorkerPhotoAndVoiceNote(t *testing.T) {
	e := newWorkerEnv(t, nil)
	photo := photoJPEG(t, 1600, 1200)
	pid := e.add(bot.KindImage, "image/jpeg", photo)
	voice := oggOpus()
	vid := e.add(bot.KindVoice, "audio/ogg; codecs=opus", voice)

	assert.Equal(t, 2, e.round())
	p := e.find(pid)
	assert.Equal(t, bot.MediaFetched, p.State)
	assert.Equal(t, "image/jpeg", p.MIME)
	require.NotEmpty(t, p.Thumb, "an image gets a thumbnail")
	cfg, err := jpeg.DecodeConfig(bytes.NewReader(p.Thumb))
	require.NoError(t, err)
	assert.Equal(t, [2]int{320, 240}, [2]int{cfg.Width, cfg.Height})
	got, err := e.db.ReadMedia(e.ctx, pid, 1<<24)
	require.NoError(t, err)
	assert.Equal(t, photo, got)

	v := e.find(vid)
	assert.Equal(t, bot.MediaFetched, v.State)
	assert.Equal(t, "audio/ogg", v.MIME)
	assert.Empty(t, v.Thumb)
	assert.Equal(t, "The boiler is leaking under the sink.", v.Transcript)
	assert.Equal(t, []bot.SubjectID{e.sub.ID}, e.tr.calls, "only the voice note is transcribed")

	assert.Equal(t, []int64{media.DefaultMediaLimit, media.DefaultMediaLimit}, e.fetch.limits, "the fetch is capped by kind")
	require.Len(t, e.settled, 2)
	assert.Equal(t, v.Transcript, e.settled[1].Transcript, "the card hears of the item once it is complete")
	assert.Zero(t, e.round(), "nothing left")
}

func TestMediaWorkerObjectedSubjectNotTranscribed(t *testing.T) {
	e := newWorkerEnv(t, nil)
	e.tr.err = bot.ErrAIObjected
	id := e.add(bot.KindVoice, "audio/ogg", oggOpus())
	e.round()
	m := e.find(id)
	assert.Equal(t, bot.MediaFetched, m.State, "kept for staff to play")
	assert.Empty(t, m.Transcript)

	e2 := newWorkerEnv(t, func(o *bot.MediaWorkerOptions) { o.Transcriber = nil })
	id = e2.add(bot.KindVoice, "audio/ogg", oggOpus())
	e2.round()
	assert.Equal(t, bot.MediaFetched, e2.find(id).State)
	assert.Empty(t, e2.tr.calls, "no transcriber configured, none called")
}

func TestMediaWorkerRetriesThenGivesUp(t *testing.T) {
	e := newWorkerEnv(t, func(o *bot.MediaWorkerOptions) { o.MaxAttempts = 3 })
	id := e.add(bot.KindImage, "image/jpeg", photoJPEG(t, 64, 48))
	e.fetch.errs = []error{errors.New("connection reset"), errors.New("502")}
	e.round()
	m := e.find(id)
	assert.Equal(t, bot.MediaPending, m.State)
	assert.Equal(t, 1, m.Attempts)
	assert.Equal(t, "The image has not downloaded yet; we will try again.", m.Note)
	assert.Equal(t, e.clock.Now().Add(time.Minute).UTC(), m.NextAttempt)
	assert.Zero(t, e.round(), "not due before the backoff")
	e.clock.Add(time.Minute)
	e.round()
	m = e.find(id)
	assert.Equal(t, 2, m.Attempts)
	assert.Equal(t, e.clock.Now().Add(5*time.Minute).UTC(), m.NextAttempt)
	e.clock.Add(5 * time.Minute)
	e.round()
	m = e.find(id)
	assert.Equal(t, bot.MediaFetched, m.State, "the third try succeeds")
	assert.Empty(t, m.Note)

	id = e.add(bot.KindDocument, "application/pdf", nil)
	e.fetch.errs = []error{errors.New("x"), errors.New("x"), errors.New("x")}
	for range 3 {
		e.round()
		e.clock.Add(time.Hour)
	}
	m = e.find(id)
	assert.Equal(t, bot.MediaFailed, m.State)
	assert.Equal(t, "The document could not be downloaded after 3 tries, so it was not kept. Ask the customer to send it again.", m.Note)
}

func TestMediaWorkerNotes(t *testing.T) {
	pdf := []byte("%PDF-1.4\n1 0 obj <<>> endobj\n%%EOF\n")
	cases := []struct {
		name     string
		kind     bot.MessageKind
		mime     string
		data     []byte
		fetchErr error
		note     string
	}{
		{"Gone", bot.KindImage, "image/jpeg", nil, nil,
			"The image is no longer available to download, so it was not kept. Ask the customer to send it again."},
		{"TooLargeAtTheChannel", bot.KindVideo, "video/mp4", nil, bot.ErrTooLarge,
			"The video is over the size limit for a video, so it was not kept."},
		{"WrongType", bot.KindImage, "image/jpeg", pdf, nil,
			"The image was sent as a JPEG image but its content is a PDF document, so it was not kept."},
		{"Empty", bot.KindVoice, "audio/ogg", []byte{}, nil,
			"The voice note arrived empty (0 bytes), so there is nothing to show. Ask the customer to send it again."},
		{"Truncated", bot.KindImage, "image/jpeg", []byte("\xFF\xD8\xFF\xE0\x00\x10JFIF"), nil,
			"The image arrived incomplete (cut off part-way), so it was not kept. Ask the customer to send it again."},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newWorkerEnv(t, nil)
			id := e.add(tc.kind, tc.mime, tc.data)
			if tc.fetchErr != nil {
				e.fetch.errs = []error{tc.fetchErr}
			}
			// Empty data: the platform declared 0 bytes.
			e.round()
			m := e.find(id)
			assert.Equal(t, bot.MediaFailed, m.State)
			assert.Equal(t, tc.note, m.Note)
			require.Len(t, e.settled, 1, "the card hears of the failure")
			assert.Equal(t, tc.note, e.settled[0].Note)
			assert.Empty(t, e.tr.calls)
		})
	}
}

// A decompression bomb is refused from its header; nothing is kept.
func TestMediaWorkerRefusesBomb(t *testing.T) {
	e := newWorkerEnv(t, nil)
	small := photoJPEG(t, 16, 16)
	i := bytes.Index(small, []byte{0xFF, 0xC0})
	require.Positive(t, i)
	bomb := bytes.Clone(small)
	binary.BigEndian.PutUint16(bomb[i+5:], 30000)
	binary.BigEndian.PutUint16(bomb[i+7:], 30000)
	id := e.add(bot.KindImage, "image/jpeg", bomb)
	e.round()
	m := e.find(id)
	assert.Equal(t, bot.MediaFailed, m.State)
	assert.Equal(t, "The image is 30000 × 30000 pixels, too large to process safely, so it was not kept.", m.Note)
}

// A channel that is reconnecting leaves the item due without counting an
// attempt; a platform without a fetcher fails with a note.
func TestMediaWorkerChannelStates(t *testing.T) {
	e := newWorkerEnv(t, nil)
	id := e.add(bot.KindImage, "image/jpeg", photoJPEG(t, 64, 48))
	e.fetch.errs = []error{bot.ErrUnavailable}
	assert.Zero(t, e.round())
	m := e.find(id)
	assert.Equal(t, bot.MediaPending, m.State)
	assert.Zero(t, m.Attempts)
	e.round()
	assert.Equal(t, bot.MediaFetched, e.find(id).State)

	e2 := newWorkerEnv(t, func(o *bot.MediaWorkerOptions) { o.Fetchers = nil })
	id = e2.add(bot.KindImage, "image/jpeg", photoJPEG(t, 64, 48))
	e2.round()
	m = e2.find(id)
	assert.Equal(t, bot.MediaFailed, m.State)
	assert.Equal(t, "The image cannot be downloaded from this chat, so it was not kept.", m.Note)
}

// A person erased while their photo downloads: nothing is kept, nothing
// is reported to a card, no file is left.
func TestMediaWorkerErasedDuringFetch(t *testing.T) {
	e := newWorkerEnv(t, nil)
	e.add(bot.KindImage, "image/jpeg", photoJPEG(t, 64, 48))
	e.fetch.during = func() {
		_, err := e.db.DeleteSubject(e.ctx, e.sub.ID)
		require.NoError(t, err)
	}
	e.round()
	assert.Empty(t, e.settled)
	ms, err := e.db.MediaOf(e.ctx, e.sub.ID)
	require.NoError(t, err)
	assert.Empty(t, ms)
	n, err := e.db.SweepMedia(e.ctx)
	require.NoError(t, err)
	assert.Zero(t, n, "no orphan file either")
}

func TestMediaWorkerRunWakes(t *testing.T) {
	e := newWorkerEnv(t, func(o *bot.MediaWorkerOptions) { o.Poll = time.Hour })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.w.Run(ctx) }()
	id := e.add(bot.KindImage, "image/jpeg", photoJPEG(t, 64, 48))
	e.w.Wake()
	require.Eventually(t, func() bool { return e.find(id).State == bot.MediaFetched }, 10*time.Second, 5*time.Millisecond)
	cancel()
	require.NoError(t, <-done)
	_, err := bot.NewMediaWorker(bot.MediaWorkerOptions{})
	assert.Error(t, err)
}

// The hash the platform declared (the Cloud API gives base64) is checked:
// a download that differs is refused with a note.
func TestMediaWorkerChecksHash(t *testing.T) {
	e := newWorkerEnv(t, nil)
	photo := photoJPEG(t, 64, 48)
	other := sha256.Sum256([]byte("another photo"))
	mid, _, err := e.db.SaveInbound(e.ctx, bot.Message{Subject: e.sub.ID, Platform: bot.WhatsApp, Chat: "447700900123@s.whatsapp.net",
		PlatformID: "WHASH", Kind: bot.KindImage, SentAt: e.clock.Now()})
	require.NoError(t, err)
	bad, err := e.db.CreateMedia(e.ctx, bot.NewMedia(mid, bot.KindImage, bot.MediaRef{ID: "bad", MIME: "image/jpeg",
		SHA256: base64.StdEncoding.EncodeToString(other[:])}))
	require.NoError(t, err)
	good := sha256.Sum256(photo)
	ok, err := e.db.CreateMedia(e.ctx, bot.NewMedia(mid, bot.KindImage, bot.MediaRef{ID: "good", MIME: "image/jpeg",
		SHA256: base64.StdEncoding.EncodeToString(good[:])}))
	require.NoError(t, err)
	e.fetch.files["bad"], e.fetch.files["good"] = photo, photo
	e.round()
	m := e.find(bad)
	assert.Equal(t, bot.MediaFailed, m.State)
	assert.Equal(t, "The image did not arrive intact (it differs from what WhatsApp announced), so it was not kept. Ask the customer to send it again.", m.Note)
	assert.Equal(t, bot.MediaFetched, e.find(ok).State)
}
