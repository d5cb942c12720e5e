package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboard/switchboard/bot"
)

// plantedBytes returns n bytes of noise with a planted phrase every 4 KiB,
// so a byte scan can look for the plaintext.
func plantedBytes(n int, phrase string, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed+1))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.UintN(256))
	}
	for i := 0; i+len(phrase) <= n; i += 4096 {
		copy(b[i:], phrase)
	}
	return b
}

// mediaFor records a pending photo of fixture f's message.
func mediaFor(t testing.TB, db *DB, f fixture, name string) int64 {
	t.Helper()
	id, err := db.CreateMedia(context.Background(), bot.Media{MessageID: f.msg.ID, Kind: bot.KindDocument, MIME: "application/pdf",
		FileName: name, Size: 1234, SHA256: bytes.Repeat([]byte{7}, 32), Ref: "cloud-media-id-" + name})
	require.NoError(t, err)
	return id
}

// mediaDirFiles lists the files under the media directory.
func mediaDirFiles(t testing.TB, db *DB) []string {
	t.Helper()
	ents, err := os.ReadDir(db.MediaDir())
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	require.NoError(t, err)
	var out []string
	for _, e := range ents {
		out = append(out, filepath.Join(db.MediaDir(), e.Name()))
	}
	return out
}

func TestMediaLifecycle(t *testing.T) {
	db, clk := openTest(t)
	ctx := context.Background()
	f := newFixture(t, db, "+447700900123", "Ada", "see the photo", "draft")
	id := mediaFor(t, db, f, "boiler-quote.pdf")

	m, err := db.FindMedia(ctx, id)
	require.NoError(t, err)
	assert.Equal(t, bot.Media{ID: id, Subject: f.customer.ID, MessageID: f.msg.ID, Platform: bot.WhatsApp, Kind: bot.KindDocument,
		MIME: "application/pdf", FileName: "boiler-quote.pdf", Size: 1234, SHA256: bytes.Repeat([]byte{7}, 32), State: bot.MediaPending,
		NextAttempt: clk.Now().UTC(), Ref: "cloud-media-id-boiler-quote.pdf", CreatedAt: clk.Now().UTC(), Dir: bot.In}, m)
	assert.Equal(t, bot.MediaRef{MIME: "application/pdf", Filename: "boiler-quote.pdf",
		SHA256: strings.Repeat("07", 32), ID: "cloud-media-id-boiler-quote.pdf", Size: 1234}, m.MediaRef())
	byMsg, err := db.MediaOfMessage(ctx, f.msg.ID)
	require.NoError(t, err)
	assert.Equal(t, []bot.Media{m}, byMsg)

	due, err := db.DueMediaFetches(ctx, clk.Now(), 10)
	require.NoError(t, err)
	require.Len(t, due, 1)
	assert.Equal(t, id, due[0].ID)

	// A failed fetch is retried later, with a note for staff.
	require.NoError(t, db.MarkMediaFailed(ctx, id, "The download failed; we will try again.", clk.Now().Add(time.Minute)))
	due, err = db.DueMediaFetches(ctx, clk.Now(), 10)
	require.NoError(t, err)
	assert.Empty(t, due, "not due before its retry time")
	clk.Add(time.Minute)
	due, err = db.DueMediaFetches(ctx, clk.Now(), 10)
	require.NoError(t, err)
	require.Len(t, due, 1)
	assert.Equal(t, 1, due[0].Attempts)
	assert.Equal(t, "The download failed; we will try again.", due[0].Note)

	_, err = db.OpenMedia(ctx, id)
	assert.ErrorIs(t, err, ErrMediaNotFetched)

	data := plantedBytes(3*mediaChunk+17, "PLANTED-MEDIA-0001", 1)
	thumb := []byte("\xFF\xD8fake-thumb\xFF\xD9")
	require.NoError(t, db.SaveMediaBytes(ctx, id, bot.MediaContent{MIME: "application/pdf", Thumb: thumb}, bytes.NewReader(data), 1<<20))
	m, err = db.FindMedia(ctx, id)
	require.NoError(t, err)
	sum := sha256.Sum256(data)
	assert.Equal(t, bot.MediaFetched, m.State)
	assert.Equal(t, int64(len(data)), m.Size, "the measured size replaces the declared one")
	assert.Equal(t, sum[:], m.SHA256)
	assert.Equal(t, thumb, m.Thumb)
	assert.Empty(t, m.Note, "the note of the failed attempt is cleared")
	assert.Equal(t, clk.Now().UTC(), m.FetchedAt)
	got, err := db.ReadMedia(ctx, id, 1<<20)
	require.NoError(t, err)
	assert.Equal(t, data, got)
	_, err = db.ReadMedia(ctx, id, int64(len(data))-1)
	assert.ErrorIs(t, err, bot.ErrTooLarge)
	due, err = db.DueMediaFetches(ctx, clk.Now(), 10)
	require.NoError(t, err)
	assert.Empty(t, due)

	// Saving again (a retried worker) keeps the first copy.
	files := mediaDirFiles(t, db)
	require.Len(t, files, 1)
	require.NoError(t, db.SaveMediaBytes(ctx, id, bot.MediaContent{MIME: "application/pdf"}, bytes.NewReader([]byte("other")), 1<<20))
	assert.Equal(t, files, mediaDirFiles(t, db))
	got, err = db.ReadMedia(ctx, id, 1<<20)
	require.NoError(t, err)
	assert.Equal(t, data, got)
	// A late failure report leaves a fetched item as it is.
	require.NoError(t, db.MarkMediaFailed(ctx, id, "late", time.Time{}))
	m, err = db.FindMedia(ctx, id)
	require.NoError(t, err)
	assert.Equal(t, bot.MediaFetched, m.State)

	require.NoError(t, db.SetMediaTranscript(ctx, id, "Hello, the boiler makes a noise"))
	m, err = db.FindMedia(ctx, id)
	require.NoError(t, err)
	assert.Equal(t, "Hello, the boiler makes a noise", m.Transcript)

	assert.ErrorIs(t, db.MarkMediaFailed(ctx, 9999, "x", time.Time{}), bot.ErrNotFound)
	_, err = db.FindMedia(ctx, 9999)
	assert.ErrorIs(t, err, bot.ErrNotFound)
	_, err = db.CreateMedia(ctx, bot.Media{MessageID: 9999, Kind: bot.KindImage})
	assert.ErrorIs(t, err, bot.ErrNotFound)
}

func TestMediaFailedForGood(t *testing.T) {
	db, clk := openTest(t)
	ctx := context.Background()
	f := newFixture(t, db, "+447700900123", "Ada", "photo", "draft")
	id := mediaFor(t, db, f, "a.pdf")
	require.NoError(t, db.MarkMediaFailed(ctx, id, "The document is 120 MB, over the 100 MB limit for a document, so it was not kept.", time.Time{}))
	m, err := db.FindMedia(ctx, id)
	require.NoError(t, err)
	assert.Equal(t, bot.MediaFailed, m.State)
	assert.Equal(t, 1, m.Attempts)
	due, err := db.DueMediaFetches(ctx, clk.Now().Add(24*time.Hour), 10)
	require.NoError(t, err)
	assert.Empty(t, due)
}

// Sizes around the chunk boundary round-trip; the plaintext is nowhere in
// the data directory, and neither are the file name, the channel's
// handle or the transcript.
func TestMediaSealedAtRest(t *testing.T) {
	db, _ := openTest(t)
	ctx := context.Background()
	f := newFixture(t, db, "+447700900123", "Ada", "photos", "draft")
	var ids []int64
	var datas [][]byte
	for i, n := range []int{1, 40, mediaChunk - 1, mediaChunk, mediaChunk + 1, 2 * mediaChunk, 5*mediaChunk + 3} {
		id := mediaFor(t, db, f, "SECRET-NAME-"+string(rune('a'+i))+".pdf")
		data := plantedBytes(n, "PLANTED-"+string(rune('a'+i)), uint64(i))
		if n < 40 {
			data = []byte("P")
		}
		require.NoError(t, db.SaveMediaBytes(ctx, id, bot.MediaContent{MIME: "image/jpeg", Thumb: []byte("THUMB-PLANTED-" + string(rune('a'+i)))},
			bytes.NewReader(data), 16<<20))
		require.NoError(t, db.SetMediaTranscript(ctx, id, "TRANSCRIPT-PLANTED-"+string(rune('a'+i))))
		got, err := db.ReadMedia(ctx, id, 16<<20)
		require.NoError(t, err)
		require.Equal(t, data, got, "size %d", n)
		ids, datas = append(ids, id), append(datas, data)
		st, err := os.Stat(mediaDirFiles(t, db)[len(mediaDirFiles(t, db))-1])
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	}
	st, err := os.Stat(db.MediaDir())
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o700), st.Mode().Perm())
	require.NoError(t, db.Checkpoint(ctx))
	needles := []string{"cloud-media-id-", "SECRET-NAME-", "THUMB-PLANTED-", "TRANSCRIPT-PLANTED-"}
	for i := range ids {
		if len(datas[i]) >= 40 {
			needles = append(needles, "PLANTED-"+string(rune('a'+i)))
		}
	}
	files := append(dbFiles(db), mediaDirFiles(t, db)...)
	assert.Empty(t, scanFiles(t, files, needles...))
	assert.NotEmpty(t, scanFiles(t, files, "SBMEDIA1"), "the scan reads the media files")
}

// Tampering with a sealed file is caught: a flipped byte, a chunk cut off,
// a file moved under another row, bytes appended.
func TestMediaTamper(t *testing.T) {
	db, _ := openTest(t)
	ctx := context.Background()
	f := newFixture(t, db, "+447700900123", "Ada", "photos", "draft")
	a, b := mediaFor(t, db, f, "a"), mediaFor(t, db, f, "b")
	data := plantedBytes(3*mediaChunk, "X", 9)
	require.NoError(t, db.SaveMediaBytes(ctx, a, bot.MediaContent{}, bytes.NewReader(data), 1<<20))
	require.NoError(t, db.SaveMediaBytes(ctx, b, bot.MediaContent{}, bytes.NewReader(data), 1<<20))
	path := func(id int64) string {
		var file string
		require.NoError(t, db.read.QueryRow("SELECT file FROM media WHERE id = ?", id).Scan(&file))
		return filepath.Join(db.MediaDir(), file)
	}
	orig, err := os.ReadFile(path(a))
	require.NoError(t, err)
	sealedChunk := mediaChunk + 16
	readErr := func(content []byte) error {
		require.NoError(t, os.WriteFile(path(a), content, 0o600))
		_, err := db.ReadMedia(ctx, a, 1<<20)
		return err
	}
	flipped := bytes.Clone(orig)
	flipped[mediaHdrLen+sealedChunk+100] ^= 1
	assert.Error(t, readErr(flipped), "flipped byte")
	assert.Error(t, readErr(orig[:mediaHdrLen+2*sealedChunk]), "last chunk cut off at a chunk boundary")
	assert.Error(t, readErr(orig[:len(orig)-1]), "cut inside the last chunk")
	assert.Error(t, readErr(append(bytes.Clone(orig), 0)), "a byte appended")
	swapped := append(bytes.Clone(orig[:mediaHdrLen]), orig[mediaHdrLen+sealedChunk:mediaHdrLen+2*sealedChunk]...)
	swapped = append(swapped, orig[mediaHdrLen:mediaHdrLen+sealedChunk]...)
	swapped = append(swapped, orig[mediaHdrLen+2*sealedChunk:]...)
	assert.Error(t, readErr(swapped), "chunks reordered")
	other, err := os.ReadFile(path(b))
	require.NoError(t, err)
	assert.Error(t, readErr(other), "another row's file (same plaintext, same subject)")
	require.NoError(t, readErr(orig), "the original still reads")
}

func TestMediaSaveRefusals(t *testing.T) {
	db, _ := openTest(t)
	ctx := context.Background()
	f := newFixture(t, db, "+447700900123", "Ada", "photo", "draft")
	id := mediaFor(t, db, f, "a")
	err := db.SaveMediaBytes(ctx, id, bot.MediaContent{}, bytes.NewReader(make([]byte, 1001)), 1000)
	assert.ErrorIs(t, err, bot.ErrTooLarge)
	assert.Error(t, db.SaveMediaBytes(ctx, id, bot.MediaContent{}, bytes.NewReader(nil), 1000), "no bytes")
	assert.Error(t, db.SaveMediaBytes(ctx, id, bot.MediaContent{}, iotestErrReader(plantedBytes(100_000, "CUT", 1), 70_000), 1<<20),
		"a download that breaks off")
	assert.Empty(t, mediaDirFiles(t, db), "no file, no temporary file is left")
	m, err := db.FindMedia(ctx, id)
	require.NoError(t, err)
	assert.Equal(t, bot.MediaPending, m.State, "still pending, to be retried")
	assert.ErrorIs(t, db.SaveMediaBytes(ctx, 9999, bot.MediaContent{}, bytes.NewReader([]byte("x")), 10), bot.ErrNotFound)
}

// iotestErrReader returns the first n bytes of b, then an error.
func iotestErrReader(b []byte, n int) io.Reader {
	return io.MultiReader(bytes.NewReader(b[:n]), errReader{})
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("connection reset") }

// A person erased while their photo downloads: the save finds the row
// gone, answers ErrNotFound and leaves no file.
func TestMediaSaveAfterErasure(t *testing.T) {
	db, _ := openTest(t)
	ctx := context.Background()
	f := newFixture(t, db, "+447700900123", "Ada", "photo", "draft")
	id := mediaFor(t, db, f, "a")
	erase := &eraseMidway{r: bytes.NewReader(plantedBytes(4*mediaChunk, "MIDWAY", 2)), after: 2 * mediaChunk, fn: func() {
		_, err := db.DeleteSubject(ctx, f.customer.ID)
		require.NoError(t, err)
	}}
	err := db.SaveMediaBytes(ctx, id, bot.MediaContent{}, erase, 1<<20)
	assert.ErrorIs(t, err, bot.ErrNotFound)
	assert.True(t, erase.done)
	assert.Empty(t, mediaDirFiles(t, db))
}

// eraseMidway calls fn once after reading `after` bytes.
type eraseMidway struct {
	r     io.Reader
	after int
	read  int
	fn    func()
	done  bool
}

func (e *eraseMidway) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	e.read += n
	if !e.done && e.read >= e.after {
		e.done = true
		e.fn()
	}
	return n, err
}

func TestMediaErasedWithSubject(t *testing.T) {
	db, _ := openTest(t)
	ctx := context.Background()
	a := newFixture(t, db, "+447700900123", "Ada", "photo", "draft")
	b := newFixture(t, db, "+447700900456", "Bob", "photo", "draft")
	for i, f := range []fixture{a, a, b} {
		id := mediaFor(t, db, f, "n")
		require.NoError(t, db.SaveMediaBytes(ctx, id, bot.MediaContent{}, bytes.NewReader(plantedBytes(80_000, "ERASE-"+string(f.customer.ID), uint64(i))), 1<<20))
	}
	mediaFor(t, db, a, "pending one") // no file yet
	require.Len(t, mediaDirFiles(t, db), 3)
	counts, err := db.DeleteSubject(ctx, a.customer.ID)
	require.NoError(t, err)
	assert.Equal(t, 3, counts["media"])
	files := mediaDirFiles(t, db)
	require.Len(t, files, 1, "only B's file is left")
	ms, err := db.MediaOf(ctx, a.customer.ID)
	require.NoError(t, err)
	assert.Empty(t, ms)
	ms, err = db.MediaOf(ctx, b.customer.ID)
	require.NoError(t, err)
	require.Len(t, ms, 1)
	got, err := db.ReadMedia(ctx, ms[0].ID, 1<<20)
	require.NoError(t, err)
	assert.Len(t, got, 80_000)
	assert.Empty(t, scanFiles(t, append(dbFiles(db), files...), "ERASE-"+string(a.customer.ID), "ERASE-"+string(b.customer.ID)))
}

func TestMediaRevokedWithMessage(t *testing.T) {
	db, _ := openTest(t)
	ctx := context.Background()
	f := newFixture(t, db, "+447700900123", "Ada", "photo", "draft")
	id := mediaFor(t, db, f, "n")
	require.NoError(t, db.SaveMediaBytes(ctx, id, bot.MediaContent{}, bytes.NewReader([]byte("revoked photo")), 1<<20))
	require.Len(t, mediaDirFiles(t, db), 1)
	_, err := db.RevokeMessage(ctx, f.msg.Platform, f.msg.Chat, f.msg.PlatformID)
	require.NoError(t, err)
	assert.Empty(t, mediaDirFiles(t, db))
	_, err = db.FindMedia(ctx, id)
	assert.ErrorIs(t, err, bot.ErrNotFound)
}

// A merge moves media to the surviving subject: the per-file key is
// re-sealed, the file itself is not rewritten and still reads.
func TestMediaSurvivesMerge(t *testing.T) {
	db, clk := openTest(t)
	ctx := context.Background()
	lid := bot.Identity{Kind: bot.IDLID, Value: "987654321@lid"}
	older, err := db.ResolveSubject(ctx, bot.SubjectInput{Identities: []bot.Identity{lid}})
	require.NoError(t, err)
	clk.Add(time.Minute) // the media's subject is the newer one, merged away
	f := newFixture(t, db, "+447700900321", "Bea", "photo", "draft")
	id := mediaFor(t, db, f, "bea.pdf")
	data := plantedBytes(100_000, "MERGE", 3)
	require.NoError(t, db.SaveMediaBytes(ctx, id, bot.MediaContent{Thumb: []byte("thumb")}, bytes.NewReader(data), 1<<20))
	require.NoError(t, db.SetMediaTranscript(ctx, id, "transcript"))
	before, err := os.ReadFile(mediaDirFiles(t, db)[0])
	require.NoError(t, err)

	merged, err := db.ResolveSubject(ctx, bot.SubjectInput{Identities: []bot.Identity{{Kind: bot.IDPhone, Value: "+447700900321"}, lid}})
	require.NoError(t, err)
	require.Equal(t, older.ID, merged.ID)
	_, err = db.subjectKey(ctx, f.customer.ID)
	require.ErrorIs(t, err, bot.ErrNotFound, "the key the file key was sealed with is gone")
	m, err := db.FindMedia(ctx, id)
	require.NoError(t, err)
	assert.Equal(t, merged.ID, m.Subject)
	assert.Equal(t, "bea.pdf", m.FileName)
	assert.Equal(t, []byte("thumb"), m.Thumb)
	assert.Equal(t, "transcript", m.Transcript)
	got, err := db.ReadMedia(ctx, id, 1<<20)
	require.NoError(t, err)
	assert.Equal(t, data, got)
	after, err := os.ReadFile(mediaDirFiles(t, db)[0])
	require.NoError(t, err)
	assert.Equal(t, before, after, "the file is not rewritten")
}

// After a crash, Open removes what no row points at: temporary files of
// interrupted writes and files whose rows are gone. Recorded files stay.
func TestMediaSweep(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	clk := newClock()
	db := openAt(t, dir, clk.Now)
	ctx := context.Background()
	f := newFixture(t, db, "+447700900123", "Ada", "photo", "draft")
	id := mediaFor(t, db, f, "keep")
	require.NoError(t, db.SaveMediaBytes(ctx, id, bot.MediaContent{}, bytes.NewReader([]byte("kept")), 1<<20))
	kept := mediaDirFiles(t, db)
	require.Len(t, kept, 1)
	require.NoError(t, os.WriteFile(filepath.Join(db.MediaDir(), ".tmp-0123456789abcdef0123456789abcdef"), []byte("SBMEDIA1 partial"), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(db.MediaDir(), "fedcba9876543210fedcba9876543210"), []byte("SBMEDIA1 orphan"), 0o600))
	require.NoError(t, db.Close())

	db = openAt(t, dir, clk.Now)
	assert.Equal(t, kept, mediaDirFiles(t, db))
	got, err := db.ReadMedia(ctx, id, 100)
	require.NoError(t, err)
	assert.Equal(t, []byte("kept"), got)
	n, err := db.SweepMedia(ctx)
	require.NoError(t, err)
	assert.Zero(t, n)
}

// Concurrent saves of one item keep one file; a sweep running alongside
// saves never removes a file that is being recorded.
func TestMediaConcurrentSaveAndSweep(t *testing.T) {
	db, _ := openTest(t)
	ctx := context.Background()
	f := newFixture(t, db, "+447700900123", "Ada", "photo", "draft")
	var ids []int64
	for range 8 {
		ids = append(ids, mediaFor(t, db, f, "n"))
	}
	stop := make(chan struct{})
	var sweeps sync.WaitGroup
	sweeps.Add(1)
	go func() {
		defer sweeps.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			_, err := db.SweepMedia(ctx)
			assert.NoError(t, err)
		}
	}()
	var wg sync.WaitGroup
	for _, id := range ids {
		for range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				assert.NoError(t, db.SaveMediaBytes(ctx, id, bot.MediaContent{}, bytes.NewReader(plantedBytes(70_000, "C", uint64(id))), 1<<20))
			}()
		}
	}
	wg.Wait()
	close(stop)
	sweeps.Wait()
	assert.Len(t, mediaDirFiles(t, db), len(ids), "one file per item")
	for _, id := range ids {
		got, err := db.ReadMedia(ctx, id, 1<<20)
		require.NoError(t, err)
		assert.Equal(t, plantedBytes(70_000, "C", uint64(id)), got)
	}
}

func TestMediaInExport(t *testing.T) {
	db, _ := openTest(t)
	ctx := context.Background()
	f := newFixture(t, db, "+447700900123", "Ada", "photo", "draft")
	id := mediaFor(t, db, f, "quote.pdf")
	var kinds []string
	var got []bot.Media
	require.NoError(t, db.ExportSubject(ctx, f.customer.ID, func(kind string, v any) error {
		kinds = append(kinds, kind)
		if m, ok := v.(bot.Media); ok {
			got = append(got, m)
		}
		return nil
	}))
	assert.Equal(t, []string{ExportSubjectKind, ExportIdentity, ExportMessage, ExportMedia, ExportDraft}, kinds)
	require.Len(t, got, 1)
	assert.Equal(t, id, got[0].ID)
	assert.Equal(t, "quote.pdf", got[0].FileName)
}

// FuzzMediaFile feeds arbitrary bytes to the sealed-file reader as the
// file of a fetched item: it must refuse them (they never authenticate)
// without panicking, and never return bytes.
func FuzzMediaFile(f *testing.F) {
	db, _ := openTest(f)
	ctx := context.Background()
	fx := newFixture(f, db, "+447700900123", "Ada", "photo", "draft")
	id := mediaFor(f, db, fx, "n")
	if err := db.SaveMediaBytes(ctx, id, bot.MediaContent{}, bytes.NewReader(plantedBytes(2*mediaChunk+5, "F", 1)), 1<<20); err != nil {
		f.Fatal(err)
	}
	var file string
	if err := db.read.QueryRow("SELECT file FROM media WHERE id = ?", id).Scan(&file); err != nil {
		f.Fatal(err)
	}
	path := filepath.Join(db.MediaDir(), file)
	good, err := os.ReadFile(path)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(good[:mediaHdrLen])
	f.Add(good[:mediaHdrLen+mediaChunk+16])
	f.Add([]byte("SBMEDIA1\x00\x00\x00\x01x"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, content []byte) {
		if bytes.Equal(content, good) {
			return
		}
		require.NoError(t, os.WriteFile(path, content, 0o600))
		got, err := db.ReadMedia(ctx, id, 1<<20)
		assert.Error(t, err)
		assert.Nil(t, got)
	})
}

// TestMessageMediaOneTransaction stores messages with an attachment
// through both paths (Ingest, SaveInbound): the pending item is there as
// soon as the message is, carrying what the platform declared; a
// redelivery records no second item; an attachment the store refuses
// refuses the message with it, leaving neither; the draft view and
// DraftOfMessage find them.
func TestMessageMediaOneTransaction(t *testing.T) {
	db, _ := openTest(t)
	ctx := context.Background()
	ref := &bot.MediaRef{ID: "wamid-media-1", MIME: "image/jpeg", SHA256: strings.Repeat("ab", 32), Size: 4096}
	in := bot.SubjectInput{Identities: []bot.Identity{{Kind: bot.IDPhone, Value: "+447700900555"}}, Role: bot.RoleCustomer}
	msg := bot.Message{Platform: bot.WhatsApp, Chat: "447700900555@s.whatsapp.net", PlatformID: "3EB0PHOTO1", Kind: bot.KindImage,
		Text: "the boiler", SentAt: time.Now(), Media: ref}

	sub, id, dup, err := db.Ingest(ctx, in, msg)
	require.NoError(t, err)
	require.False(t, dup)
	items, err := db.MediaOfMessage(ctx, id)
	require.NoError(t, err)
	require.Len(t, items, 1)
	assert.Equal(t, bot.KindImage, items[0].Kind)
	assert.Equal(t, bot.MediaPending, items[0].State)
	assert.Equal(t, sub.ID, items[0].Subject)
	assert.Equal(t, "wamid-media-1", items[0].Ref)
	assert.Equal(t, int64(4096), items[0].Size)
	assert.Equal(t, bytes.Repeat([]byte{0xab}, 32), items[0].SHA256)

	_, again, dup, err := db.Ingest(ctx, in, msg)
	require.NoError(t, err)
	assert.True(t, dup)
	assert.Equal(t, id, again)
	items, err = db.MediaOfMessage(ctx, id)
	require.NoError(t, err)
	assert.Len(t, items, 1, "a redelivery records no second item")

	// SaveInbound, and a batch of both at once.
	var wg sync.WaitGroup
	ids := make([]int64, 8)
	for i := range ids {
		wg.Go(func() {
			m := msg
			m.Subject, m.PlatformID = sub.ID, bot.MessageID(fmt.Sprintf("3EB0VOICE%d", i))
			m.Kind, m.Media = bot.KindVoice, &bot.MediaRef{ID: fmt.Sprintf("voice-%d", i), MIME: "audio/ogg; codecs=opus"}
			var err error
			if i%2 == 0 {
				ids[i], _, err = db.SaveInbound(ctx, m)
			} else {
				_, ids[i], _, err = db.Ingest(ctx, in, m)
			}
			assert.NoError(t, err)
		})
	}
	wg.Wait()
	for i, mid := range ids {
		items, err := db.MediaOfMessage(ctx, mid)
		require.NoError(t, err)
		require.Len(t, items, 1)
		assert.Equal(t, fmt.Sprintf("voice-%d", i), items[0].Ref)
		assert.Equal(t, bot.KindVoice, items[0].Kind)
	}

	// An attachment the store refuses (a type name no platform sends)
	// refuses the message too: nothing half-stored.
	bad := msg
	bad.PlatformID, bad.Media = "3EB0BAD", &bot.MediaRef{ID: "x", MIME: strings.Repeat("a", 300)}
	_, _, _, err = db.Ingest(ctx, in, bad)
	require.Error(t, err)
	bad.Subject = sub.ID
	_, _, err = db.SaveInbound(ctx, bad)
	require.Error(t, err)
	hist, err := db.History(ctx, sub.ID, msg.Chat, 0, 100)
	require.NoError(t, err)
	for _, h := range hist {
		assert.NotEqual(t, bot.MessageID("3EB0BAD"), h.PlatformID)
	}

	// An objection (/stop) marks the subject's items, also those stored
	// before it, and items stored during it stay marked after /start.
	require.NoError(t, db.SetAIRestricted(ctx, sub.ID, true))
	items, err = db.MediaOfMessage(ctx, id)
	require.NoError(t, err)
	assert.True(t, items[0].AIRestricted)
	during := msg
	during.Subject, during.PlatformID, during.Media = sub.ID, "3EB0DURING", &bot.MediaRef{ID: "during"}
	did, _, err := db.SaveInbound(ctx, during)
	require.NoError(t, err)
	require.NoError(t, db.SetAIRestricted(ctx, sub.ID, false))
	items, err = db.MediaOfMessage(ctx, id)
	require.NoError(t, err)
	assert.False(t, items[0].AIRestricted)
	items, err = db.MediaOfMessage(ctx, did)
	require.NoError(t, err)
	assert.True(t, items[0].AIRestricted, "stored during /stop: never to a model")

	_, err = db.DraftOfMessage(ctx, id)
	assert.ErrorIs(t, err, bot.ErrNotFound)
	stored, err := db.FindMessage(ctx, id)
	require.NoError(t, err)
	d, err := db.StartDraft(ctx, stored)
	require.NoError(t, err)
	got, err := db.DraftOfMessage(ctx, id)
	require.NoError(t, err)
	assert.Equal(t, d.ID, got)
	view, err := db.LoadDraft(ctx, d.ID)
	require.NoError(t, err)
	require.Len(t, view.Media, 1)
	assert.Equal(t, "wamid-media-1", view.Media[0].Ref)
}

// TestSaveMediaBytesKeepsTranscript stores a voice note's bytes and its
// transcript in one step, sealed.
func TestSaveMediaBytesKeepsTranscript(t *testing.T) {
	db, _ := openTest(t)
	ctx := context.Background()
	f := newFixture(t, db, "+447700900124", "Bea", "", "")
	id, err := db.CreateMedia(ctx, bot.Media{MessageID: f.msg.ID, Kind: bot.KindVoice, MIME: "audio/ogg", Ref: "voice-ref"})
	require.NoError(t, err)
	const said = "PLANTED-TRANSCRIPT the radiator upstairs is cold"
	require.NoError(t, db.SaveMediaBytes(ctx, id, bot.MediaContent{MIME: "audio/ogg", Transcript: said}, bytes.NewReader([]byte("OggS fake voice")), 1<<20))
	m, err := db.FindMedia(ctx, id)
	require.NoError(t, err)
	assert.Equal(t, bot.MediaFetched, m.State)
	assert.Equal(t, said, m.Transcript)
	require.NoError(t, db.Checkpoint(ctx))
	assert.Empty(t, scanFiles(t, dbFiles(db), "PLANTED-TRANSCRIPT"), "the transcript is sealed")
}

// TestAttachToDraft keeps a file staff attach to a reply under the
// customer: sealed, on the draft (a second one replaces the first, whose
// file goes), never among the customer's own attachments or due fetches,
// refused once the draft is decided, and erased with the customer.
func TestAttachToDraft(t *testing.T) {
	db, _ := openTest(t)
	ctx := context.Background()
	f := newFixture(t, db, "+447700900125", "Cai", "can you send the quote?", "Here is the quote.")
	first := plantedBytes(40<<10, "PLANTED-QUOTE-ONE", 1)
	id1, err := db.AttachToDraft(ctx, f.draftID, bot.Media{Kind: bot.KindDocument, MIME: "application/pdf", FileName: "quote.pdf", Size: int64(len(first))},
		bot.MediaContent{MIME: "application/pdf"}, first)
	require.NoError(t, err)
	view, err := db.LoadDraft(ctx, f.draftID)
	require.NoError(t, err)
	require.NotNil(t, view.Attachment)
	assert.Equal(t, id1, view.Attachment.ID)
	assert.Equal(t, bot.Out, view.Attachment.Dir)
	assert.Equal(t, f.customer.ID, view.Attachment.Subject, "kept under the customer it goes to")
	assert.Equal(t, "quote.pdf", view.Attachment.FileName)
	assert.Empty(t, view.Media, "not one of the customer's attachments")
	got, err := db.ReadMedia(ctx, id1, 1<<20)
	require.NoError(t, err)
	assert.Equal(t, first, got)
	require.Len(t, mediaDirFiles(t, db), 1)

	second := plantedBytes(30<<10, "PLANTED-QUOTE-TWO", 2)
	id2, err := db.AttachToDraft(ctx, f.draftID, bot.Media{Kind: bot.KindDocument, MIME: "application/pdf", FileName: "quote-v2.pdf", Size: int64(len(second))},
		bot.MediaContent{MIME: "application/pdf"}, second)
	require.NoError(t, err)
	view, err = db.LoadDraft(ctx, f.draftID)
	require.NoError(t, err)
	assert.Equal(t, id2, view.Attachment.ID)
	_, err = db.FindMedia(ctx, id1)
	assert.ErrorIs(t, err, bot.ErrNotFound, "the first attachment is replaced")
	require.Len(t, mediaDirFiles(t, db), 1, "and its file removed")
	due, err := db.DueMediaFetches(ctx, time.Now().Add(time.Hour), 10)
	require.NoError(t, err)
	assert.Empty(t, due)
	assert.Empty(t, scanFiles(t, append(dbFiles(db), mediaDirFiles(t, db)...), "PLANTED-QUOTE"), "sealed")

	require.NoError(t, db.Decide(ctx, bot.Decision{DraftID: f.draftID, Kind: bot.Approve, By: staff("a")}))
	_, err = db.AttachToDraft(ctx, f.draftID, bot.Media{Kind: bot.KindDocument, MIME: "application/pdf"}, bot.MediaContent{MIME: "application/pdf"}, first)
	assert.ErrorIs(t, err, bot.ErrDecided)
	require.Len(t, mediaDirFiles(t, db), 1, "a refused attachment leaves no file")

	_, err = db.DeleteSubject(ctx, f.customer.ID)
	require.NoError(t, err)
	_, err = db.FindMedia(ctx, id2)
	assert.ErrorIs(t, err, bot.ErrNotFound)
	assert.Empty(t, mediaDirFiles(t, db), "erased with the customer")
}
