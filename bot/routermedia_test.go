package bot_test

import (
	"bytes"
	"context"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboard/switchboard/bot"
	"github.com/switchboard/switchboard/channels/channeltest"
	"github.com/switchboard/switchboard/media"
	"github.com/switchboard/switchboard/media/mediatest"
)

// gateTranscriber transcribes once released (or at once when gate is nil).
type gateTranscriber struct {
	fakeTranscriber
	gate chan struct{}
}

func (g *gateTranscriber) Transcribe(ctx context.Context, s bot.SubjectID, mime string, audio []byte) (string, error) {
	if g.gate != nil {
		select {
		case <-g.gate:
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
	return g.fakeTranscriber.Transcribe(ctx, s, mime, audio)
}

// imageDrafter is the fake drafter with the vision switch.
type imageDrafter struct {
	*channeltest.Drafter
	on bool
}

func (d imageDrafter) WantsImages() bool { return d.on }

// mediaHarness is the harness with a media worker over its store, fed by
// a fake WhatsApp download seam.
type mediaHarness struct {
	*harness
	fetch *fakeFetcher
	tr    *gateTranscriber
}

func newMediaHarness(t *testing.T, mod func(*bot.Options)) *mediaHarness {
	t.Helper()
	mh := &mediaHarness{fetch: &fakeFetcher{files: map[string][]byte{}}, tr: &gateTranscriber{fakeTranscriber: fakeTranscriber{text: "The boiler in the loft is leaking from the bottom valve."}}}
	mh.harness = newHarness(t, zerolog.Nop(), func(o *bot.Options) {
		w, err := bot.NewMediaWorker(bot.MediaWorkerOptions{Store: o.Store.(bot.MediaStore), Inspector: media.Inspector{},
			Fetchers: map[bot.Platform]bot.MediaFetcher{bot.WhatsApp: mh.fetch}, Transcriber: mh.tr, Poll: 20 * time.Millisecond})
		require.NoError(t, err)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); _ = w.Run(ctx) }()
		t.Cleanup(func() { cancel(); <-done })
		o.Media = w
		if mod != nil {
			mod(o)
		}
	})
	return mh
}

// sendMedia injects a customer's attachment message; the fetcher serves
// data for it.
func (mh *mediaHarness) sendMedia(c *customer, kind bot.MessageKind, mime, caption string, data []byte) bot.Inbound {
	mh.t.Helper()
	in := c.inbound(caption)
	in.Kind = kind
	in.Media = &bot.MediaRef{ID: "ref-" + string(in.ID), MIME: mime, Size: int64(len(data))}
	mh.fetch.mu.Lock()
	mh.fetch.files[in.Media.ID] = data
	mh.fetch.mu.Unlock()
	require.NoError(mh.t, mh.wa.Inject(context.Background(), in))
	return in
}

// cardOfKind waits for the drafted card whose message is placeholder.
func (mh *mediaHarness) cardOfKind(placeholder string, ok func(bot.Card) bool) bot.Card {
	mh.t.Helper()
	var card bot.Card
	require.Eventually(mh.t, func() bool {
		for _, c := range mh.notifier.Cards() {
			if c.Message == placeholder && c.Status != bot.DraftDrafting && ok(c) {
				card = c
				return true
			}
		}
		return false
	}, wait, tick, "a card for the %s", placeholder)
	return card
}

// TestVoiceNoteDraftedFromTranscript: a voice note is stored at once, its
// card says it is downloading, the first draft waits for the transcript,
// and the drafter gets the transcript as the message text; the card shows
// it.
func TestVoiceNoteDraftedFromTranscript(t *testing.T) {
	mh := newMediaHarness(t, nil)
	c := newCustomer(1)
	mh.sendMedia(c, bot.KindVoice, "audio/ogg; codecs=opus", "", mediatest.Opus(1))

	card := mh.cardOfKind("[voice note]", func(c bot.Card) bool { return len(c.Media) == 1 && c.Media[0].Transcript != "" })
	m := card.Media[0]
	assert.Equal(t, bot.KindVoice, m.Kind)
	assert.Equal(t, bot.MediaFetched, m.State)
	assert.Equal(t, "audio/ogg", m.MIME)
	assert.Equal(t, "The boiler in the loft is leaking from the bottom valve.", m.Transcript)
	assert.Empty(t, m.Note)
	assert.Equal(t, "Thanks for your message. We open at 9.", card.Draft)

	reqs := mh.drafter.Requests()
	require.Len(t, reqs, 1, "one draft: it waited for the transcript")
	assert.Equal(t, bot.KindVoice, reqs[0].Message.Kind)
	assert.Equal(t, "The boiler in the loft is leaking from the bottom valve.", reqs[0].Message.Text)
	require.Len(t, reqs[0].Media, 1)
	assert.Empty(t, reqs[0].Images, "no photos for a drafter that does not ask")
	assert.False(t, card.Result.AwaitingMedia)
}

// TestVoiceNoteLateTranscriptRedrafts: the transcript takes longer than
// MediaWait; the draft is made without it (the card says so), then made
// again from the transcript once it is in.
func TestVoiceNoteLateTranscriptRedrafts(t *testing.T) {
	mh := newMediaHarness(t, func(o *bot.Options) { o.MediaWait = 50 * time.Millisecond })
	mh.tr.gate = make(chan struct{})
	c := newCustomer(2)
	mh.sendMedia(c, bot.KindVoice, "audio/ogg", "", mediatest.Opus(2))

	first := mh.cardOfKind("[voice note]", func(c bot.Card) bool { return c.Result != nil && c.Result.AwaitingMedia })
	assert.Contains(t, first.Note, bot.NoteAwaitingMedia)
	require.Len(t, first.Media, 1)
	assert.Equal(t, "The voice note is being downloaded…", first.Media[0].Note)
	reqs := mh.drafter.Requests()
	require.Len(t, reqs, 1)
	assert.Empty(t, reqs[0].Message.Text, "drafted from the placeholder")

	close(mh.tr.gate)
	card := mh.waitCard(first.DraftID, func(c bot.Card) bool {
		return c.Result != nil && !c.Result.AwaitingMedia && len(c.Media) == 1 && c.Media[0].Transcript != ""
	}, "the card is drafted again with the transcript")
	assert.NotContains(t, card.Note, bot.NoteAwaitingMedia)
	reqs = mh.drafter.Requests()
	require.Len(t, reqs, 2)
	assert.Equal(t, "The boiler in the loft is leaking from the bottom valve.", reqs[1].Message.Text)
	assert.Empty(t, reqs[1].Previous, "a fresh draft, not a regenerate")
}

// TestPhotoCardAndDrafter: a photo's card shows its preview; the drafter
// hears of the photo and its caption, and gets the bytes only when it
// asks (vision on); a customer who said /stop gets no AI at all.
func TestPhotoCardAndDrafter(t *testing.T) {
	for _, vision := range []bool{false, true} {
		t.Run(map[bool]string{false: "VisionOff", true: "VisionOn"}[vision], func(t *testing.T) {
			var d *imageDrafter
			mh := newMediaHarness(t, func(o *bot.Options) {
				d = &imageDrafter{Drafter: o.Drafter.(*channeltest.Drafter), on: vision}
				o.Drafter = d
			})
			photo := mediatest.JPEG(1200, 900, 4)
			c := newCustomer(3)
			mh.sendMedia(c, bot.KindImage, "image/jpeg", "the leak under the sink", photo)
			card := mh.cardOfKind("[image] the leak under the sink", func(c bot.Card) bool { return len(c.Media) == 1 && c.Media[0].Thumb != nil })
			assert.Equal(t, bot.MediaFetched, card.Media[0].State)
			assert.Equal(t, int64(len(photo)), card.Media[0].Size)
			assert.Less(t, len(card.Media[0].Thumb), 12<<10)

			reqs := mh.drafter.Requests()
			require.NotEmpty(t, reqs)
			last := reqs[len(reqs)-1]
			assert.Equal(t, bot.KindImage, last.Message.Kind)
			assert.Equal(t, "the leak under the sink", last.Message.Text)
			if vision {
				require.Len(t, last.Images, 1, "the drafter waited for the photo's bytes")
				assert.Equal(t, "image/jpeg", last.Images[0].MIME)
			} else {
				assert.Empty(t, last.Images)
			}

			// /stop: no draft, no transcript, no photo to anyone.
			ctx := context.Background()
			subj, err := mh.db.FindSubject(ctx, card.Subject)
			require.NoError(t, err)
			require.NoError(t, mh.db.SetAIRestricted(ctx, subj.ID, true))
			before := len(mh.drafter.Requests())
			mh.sendMedia(c, bot.KindImage, "image/jpeg", "another photo", mediatest.JPEG(640, 480, 5))
			mh.sendMedia(c, bot.KindVoice, "audio/ogg", "", mediatest.Opus(5))
			voice := mh.cardOfKind("[voice note]", func(c bot.Card) bool { return len(c.Media) == 1 && c.Media[0].State == bot.MediaFetched })
			assert.Equal(t, "Not transcribed: AI is off at the customer's request.", voice.Media[0].Note)
			mh.cardOfKind("[image] another photo", func(c bot.Card) bool { return len(c.Media) == 1 && c.Media[0].Thumb != nil })
			assert.Len(t, mh.drafter.Requests(), before, "a /stop subject's media never reach the drafter")
			mh.tr.mu.Lock()
			assert.Empty(t, mh.tr.calls, "a /stop subject's voice note is never transcribed")
			mh.tr.mu.Unlock()
		})
	}
}

// TestMediaRefusedNoteLosesNothing: an empty file and a decompression bomb
// get a plain-words note on their card; the messages are kept and drafted.
func TestMediaRefusedNoteLosesNothing(t *testing.T) {
	mh := newMediaHarness(t, nil)
	c := newCustomer(4)
	mh.sendMedia(c, bot.KindImage, "image/png", "empty", []byte{})
	mh.sendMedia(c, bot.KindImage, "image/png", "bomb", mediatest.BombPNG(60000, 60000))
	mh.sendMedia(c, bot.KindDocument, "application/pdf", "not a pdf", []byte("MZ\x90\x00 this is a program"))
	for caption, note := range map[string]string{
		"empty":     "The image arrived empty (0 bytes), so there is nothing to show. Ask the customer to send it again.",
		"bomb":      "The image is 60000 × 60000 pixels, too large to process safely, so it was not kept.",
		"not a pdf": "The document was sent as a PDF document but its content is a Windows program, so it was not kept.",
	} {
		placeholder := "[image] " + caption
		if caption == "not a pdf" {
			placeholder = "[document] " + caption
		}
		card := mh.cardOfKind(placeholder, func(c bot.Card) bool { return len(c.Media) == 1 && c.Media[0].State == bot.MediaFailed })
		assert.Equal(t, note, card.Media[0].Note, caption)
		assert.NotEmpty(t, card.Draft, "the message is drafted all the same")
	}
}

// TestMediaMessageStoredBeforeDownload: Deliver returns once the message
// is stored, while the download hangs.
func TestMediaMessageStoredBeforeDownload(t *testing.T) {
	mh := newMediaHarness(t, nil)
	release := make(chan struct{})
	var once sync.Once
	mh.fetch.during = func() { <-release }
	t.Cleanup(func() { once.Do(func() { close(release) }) })
	c := newCustomer(5)
	start := time.Now()
	in := mh.sendMedia(c, bot.KindDocument, "application/pdf", "the quote", mediatest.PDF())
	assert.Less(t, time.Since(start), 2*time.Second)
	stored, err := mh.db.FindSubjects(context.Background(), in.Sender)
	require.NoError(t, err)
	require.Len(t, stored, 1)
	card := mh.cardOfKind("[document] the quote", func(c bot.Card) bool { return len(c.Media) == 1 })
	assert.Equal(t, bot.MediaPending, card.Media[0].State)
	once.Do(func() { close(release) })
	card = mh.waitCard(card.DraftID, func(c bot.Card) bool { return len(c.Media) == 1 && c.Media[0].State == bot.MediaFetched },
		"the card shows the document once kept")
	assert.Equal(t, int64(len(mediatest.PDF())), card.Media[0].Size)
	assert.True(t, bytes.HasPrefix(mediatest.PDF(), []byte("%PDF")))
}

// TestMediaView: a View click names an attachment of its card's draft,
// with the card's token, once the file is kept; anything else is not found.
func TestMediaView(t *testing.T) {
	mh := newMediaHarness(t, nil)
	ctx := context.Background()
	c := newCustomer(6)
	mh.sendMedia(c, bot.KindImage, "image/jpeg", "the fuse box", mediatest.JPEG(640, 480, 6))
	card := mh.cardOfKind("[image] the fuse box", func(c bot.Card) bool { return len(c.Media) == 1 && c.Media[0].State == bot.MediaFetched })
	m, got, err := mh.router.MediaView(ctx, card.DraftID, card.Token, card.Media[0].ID)
	require.NoError(t, err)
	assert.Equal(t, card.Media[0].ID, m.ID)
	assert.Equal(t, "image/jpeg", m.MIME)
	assert.Equal(t, card.DraftID, got.DraftID)
	require.Len(t, got.Media, 1)

	other := newCustomer(7)
	mh.sendMedia(other, bot.KindImage, "image/jpeg", "someone else's", mediatest.JPEG(64, 48, 7))
	oc := mh.cardOfKind("[image] someone else's", func(c bot.Card) bool { return len(c.Media) == 1 && c.Media[0].State == bot.MediaFetched })
	for name, try := range map[string][3]any{
		"WrongToken":      {card.DraftID, "ffffffffffffffffffffffffffffffff", card.Media[0].ID},
		"OtherDraftsItem": {card.DraftID, card.Token, oc.Media[0].ID},
		"NoSuchDraft":     {int64(999999), card.Token, card.Media[0].ID},
	} {
		_, _, err := mh.router.MediaView(ctx, try[0].(int64), try[1].(string), try[2].(int64))
		assert.ErrorIs(t, err, bot.ErrNotFound, name)
	}
}

// TestAttachFileToReply: staff attach a PDF to a reply with the code its
// card shows; the card shows it, a wrong code or a decided draft is
// refused, a second file replaces the first, and the approved reply goes
// out once, with the file.
func TestAttachFileToReply(t *testing.T) {
	mh := newMediaHarness(t, nil)
	c := newCustomer(8)
	mh.send(c, "Can you send me the quote?")
	card := mh.cardFor("Can you send me the quote?")
	require.NotEmpty(t, card.AttachCode)
	id, tok, ok := bot.ParseAttachCode(card.AttachCode)
	require.True(t, ok)
	assert.Equal(t, card.DraftID, id)

	attach := func(token string, f *bot.File) bot.DecisionResult {
		t.Helper()
		return mh.decide(bot.Decision{DraftID: card.DraftID, Kind: bot.Attach, Token: token, File: f})
	}
	res := attach("ffffffff", &bot.File{Name: "quote.pdf", MIME: "application/pdf", Data: mediatest.PDF()})
	assert.Equal(t, bot.Refused, res.Outcome, "another card's code")
	res = attach(tok, &bot.File{Name: "virus.pdf", MIME: "application/pdf", Data: []byte("MZ\x90\x00 a program")})
	assert.Equal(t, bot.Refused, res.Outcome)
	assert.Contains(t, res.Message, "Windows program")

	res = attach(tok, &bot.File{Name: "old.pdf", MIME: "application/pdf", Data: mediatest.PDF()})
	require.Equal(t, bot.Applied, res.Outcome, res.Message)
	photo := mediatest.JPEG(800, 600, 8)
	res = attach(tok, &bot.File{Name: "C:\\Users\\alex\\valve.jpg", MIME: "image/jpeg", Data: photo})
	require.Equal(t, bot.Applied, res.Outcome, res.Message)
	assert.Contains(t, res.Message, "Attached the photo valve.jpg (a JPEG image, ")
	updated := mh.waitCard(card.DraftID, func(c bot.Card) bool { return c.Attachment != nil && c.Attachment.FileName == "valve.jpg" }, "the card shows the file")
	assert.Equal(t, bot.KindImage, updated.Attachment.Kind)
	assert.NotEmpty(t, updated.Attachment.Thumb)

	mh.decide(bot.Decision{DraftID: card.DraftID, Kind: bot.Approve})
	require.Eventually(t, func() bool { return len(mh.wa.Sends()) == 1 }, wait, tick)
	sent := mh.wa.Sends()[0]
	assert.Equal(t, "Thanks for your message. We open at 9.", sent.Text)
	require.NotNil(t, sent.File, "the reply goes with its file")
	assert.Equal(t, "valve.jpg", sent.File.Name)
	assert.Equal(t, "image/jpeg", sent.File.MIME)
	assert.Equal(t, photo, sent.File.Data)
	decided := mh.waitCard(card.DraftID, func(c bot.Card) bool { return c.Status.Decided() }, "decided")
	assert.Empty(t, decided.AttachCode, "no attaching to a decided reply")
	res = attach(tok, &bot.File{Name: "late.pdf", MIME: "application/pdf", Data: mediatest.PDF()})
	assert.Equal(t, bot.Refused, res.Outcome)
}

// TestAttachRefusesAFileTheChannelCannotSend: a file of a type the
// customer's channel does not send (a PDF where only photos go) is refused
// when staff attach it, not when the approved reply fails to go.
func TestAttachRefusesAFileTheChannelCannotSend(t *testing.T) {
	mh := newMediaHarness(t, nil)
	mh.wa.SetCapabilities(bot.Capabilities{Files: true, FileTypes: []bot.FileType{{MIME: "image/jpeg", Max: 5 << 20}}})
	c := newCustomer(8)
	mh.send(c, "Can you send me the quote?")
	card := mh.cardFor("Can you send me the quote?")
	_, tok, ok := bot.ParseAttachCode(card.AttachCode)
	require.True(t, ok)
	res := mh.decide(bot.Decision{DraftID: card.DraftID, Kind: bot.Attach, Token: tok, File: &bot.File{Name: "quote.pdf", MIME: "application/pdf", Data: mediatest.PDF()}})
	assert.Equal(t, bot.Refused, res.Outcome)
	assert.Contains(t, res.Message, "Files like this one (a PDF document, ")
	assert.Contains(t, res.Message, "cannot be sent in this customer's chat, so it was not attached.")
	res = mh.decide(bot.Decision{DraftID: card.DraftID, Kind: bot.Attach, Token: tok, File: &bot.File{Name: "valve.jpg", MIME: "image/jpeg", Data: mediatest.JPEG(800, 600, 8)}})
	assert.Equal(t, bot.Applied, res.Outcome, res.Message)
}
