package whatsapp

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waCommon"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/store"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"
	"google.golang.org/protobuf/proto"

	"github.com/switchboard/switchboard/bot"
	"github.com/switchboard/switchboard/bot/bottest"
)

// fakeSink records what the channel delivers; fail makes every call fail.
type fakeSink struct {
	mu       sync.Mutex
	fail     error
	inbound  []bot.Inbound
	receipts []bot.Receipt
	revoked  []bot.MessageID
}

func (s *fakeSink) Deliver(_ context.Context, in bot.Inbound) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return s.fail
	}
	s.inbound = append(s.inbound, in)
	return nil
}

func (s *fakeSink) Receipt(_ context.Context, r bot.Receipt) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return s.fail
	}
	s.receipts = append(s.receipts, r)
	return nil
}

func (s *fakeSink) Decide(context.Context, bot.Decision) (bot.DecisionResult, error) {
	return bot.DecisionResult{}, bot.ErrUnsupported
}

func (s *fakeSink) Revoke(_ context.Context, _ bot.Platform, _ bot.ChatID, _ bot.Identity, id bot.MessageID) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return s.fail
	}
	s.revoked = append(s.revoked, id)
	return nil
}

// fakeClient stands in for *whatsmeow.Client at the send seam.
type fakeClient struct {
	mu       sync.Mutex
	sent     []sentMsg
	errs     []error // returned by successive SendMessage calls
	uploads  int
	inFlight atomic.Int32
	maxPar   atomic.Int32
	delay    time.Duration
	n        int
	// media are the files WhatsApp's media servers hold, by direct path;
	// Download serves one only to the media key it was sent with.
	media       map[string]fakeMedia
	downloads   []whatsmeow.DownloadableMessage
	uploadTypes []whatsmeow.MediaType
	dlErr       error
}

// fakeMedia is one file on the fake media servers.
type fakeMedia struct {
	key  []byte
	data []byte
}

// Download plays whatsmeow's Download: the file at the part's direct
// path, if the part carries its media key and plaintext hash.
func (f *fakeClient) Download(_ context.Context, part whatsmeow.DownloadableMessage) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.downloads = append(f.downloads, part)
	if f.dlErr != nil {
		return nil, f.dlErr
	}
	m, ok := f.media[part.GetDirectPath()]
	if !ok {
		return nil, whatsmeow.ErrMediaDownloadFailedWith404
	}
	if !bytes.Equal(m.key, part.GetMediaKey()) {
		return nil, whatsmeow.ErrInvalidMediaHMAC
	}
	if sum := sha256.Sum256(m.data); !bytes.Equal(sum[:], part.GetFileSHA256()) {
		return nil, whatsmeow.ErrInvalidMediaSHA256
	}
	return bytes.Clone(m.data), nil
}

type sentMsg struct {
	to  types.JID
	msg *waE2E.Message
	id  types.MessageID
}

func (f *fakeClient) SendMessage(_ context.Context, to types.JID, m *waE2E.Message, extra ...whatsmeow.SendRequestExtra) (whatsmeow.SendResponse, error) {
	if n := f.inFlight.Add(1); n > f.maxPar.Load() {
		f.maxPar.Store(n)
	}
	defer f.inFlight.Add(-1)
	if f.delay > 0 {
		time.Sleep(f.delay)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.errs) > 0 {
		err := f.errs[0]
		f.errs = f.errs[1:]
		if err != nil {
			return whatsmeow.SendResponse{}, err
		}
	}
	f.sent = append(f.sent, sentMsg{to: to, msg: m, id: extra[0].ID})
	return whatsmeow.SendResponse{ID: extra[0].ID, Timestamp: sentAt}, nil
}

func (f *fakeClient) Upload(_ context.Context, data []byte, mt whatsmeow.MediaType) (whatsmeow.UploadResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.uploads++
	f.uploadTypes = append(f.uploadTypes, mt)
	return whatsmeow.UploadResponse{URL: "https://mmg.whatsapp.net/x", DirectPath: "/v/x", MediaKey: []byte("k"), FileLength: uint64(len(data))}, nil
}

func (f *fakeClient) GenerateMessageID() types.MessageID {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n++
	return fmt.Sprintf("3EB0%012d", f.n)
}

// harness is a channel attached to a real session db, a fake client and a
// fake sink, as Run attaches them.
type harness struct {
	ch     *Channel
	sess   *session
	sink   *fakeSink
	cli    *fakeClient
	states []Health
	mu     sync.Mutex
	dir    string
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	h := &harness{sink: &fakeSink{}, cli: &fakeClient{}, dir: t.TempDir()}
	ch, err := New(Options{Dir: h.dir, Now: func() time.Time { return sentAt }, SendBackoff: time.Millisecond,
		OnState: func(s Health) { h.mu.Lock(); h.states = append(h.states, s); h.mu.Unlock() }})
	require.NoError(t, err)
	db, container, err := openStore(context.Background(), h.dir, zerolog.Nop(), zerolog.WarnLevel)
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	h.ch = ch
	h.sess = &session{ctx: context.Background(), db: db, cli: h.cli, lids: container.LIDMap, sink: h.sink, follow: make(chan connEvent, 16)}
	ch.setSession(h.sess)
	return h
}

func TestHandleDeliversAndAcks(t *testing.T) {
	h := newHarness(t)
	assert.True(t, h.ch.handle(h.sess, dm(lidJID, pnJID, text("Do you open on Sunday?"))))
	require.Len(t, h.sink.inbound, 1)
	in := h.sink.inbound[0]
	assert.Equal(t, "Do you open on Sunday?", in.Text)
	assert.Equal(t, lidID, in.Sender)
	assert.Equal(t, []bot.Identity{pnID}, in.AltSenders)

	// Ignored events are acked without reaching the sink.
	grp := dm(pnJID, types.EmptyJID, text("hi all"))
	grp.Info.Chat, grp.Info.IsGroup = types.JID{User: "120363000000000000", Server: types.GroupServer}, true
	assert.True(t, h.ch.handle(h.sess, grp))
	assert.True(t, h.ch.handle(h.sess, &events.HistorySync{}))
	assert.Len(t, h.sink.inbound, 1)
}

func TestHandleNoAckWhenSinkFails(t *testing.T) {
	h := newHarness(t)
	h.sink.fail = errors.New("disk full")
	assert.False(t, h.ch.handle(h.sess, dm(pnJID, types.EmptyJID, text("hello"))), "message must be redelivered")
	assert.False(t, h.ch.handle(h.sess, &events.Receipt{MessageSource: types.MessageSource{Chat: pnJID, Sender: pnJID},
		MessageIDs: []string{"3EB0A"}, Type: types.ReceiptTypeRead}), "receipt must be redelivered")
	rev := dm(pnJID, types.EmptyJID, &waE2E.Message{ProtocolMessage: &waE2E.ProtocolMessage{
		Type: waE2E.ProtocolMessage_REVOKE.Enum(), Key: &waCommon.MessageKey{ID: proto.String("3A1")}}})
	assert.False(t, h.ch.handle(h.sess, rev))

	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	h.sink.fail = nil
	s := *h.sess
	s.ctx = cancelled
	assert.False(t, h.ch.handle(&s, dm(pnJID, types.EmptyJID, text("late"))), "no ack while shutting down")
}

func TestHandleRevokeAndReceipt(t *testing.T) {
	h := newHarness(t)
	rev := dm(pnJID, types.EmptyJID, &waE2E.Message{ProtocolMessage: &waE2E.ProtocolMessage{
		Type: waE2E.ProtocolMessage_REVOKE.Enum(), Key: &waCommon.MessageKey{ID: proto.String("3A1")}}})
	assert.True(t, h.ch.handle(h.sess, rev))
	assert.Equal(t, []bot.MessageID{"3A1"}, h.sink.revoked)
	assert.Empty(t, h.sink.inbound)

	assert.True(t, h.ch.handle(h.sess, &events.Receipt{MessageSource: types.MessageSource{Chat: pnJID, Sender: pnJID},
		MessageIDs: []string{"3EB0A", "3EB0B"}, Type: types.ReceiptTypeRead, Timestamp: sentAt}))
	require.Len(t, h.sink.receipts, 1)
	assert.Equal(t, bot.Receipt{Platform: bot.WhatsApp, Chat: "447700900123@s.whatsapp.net", IDs: []bot.MessageID{"3EB0A", "3EB0B"},
		Status: bot.StatusRead, At: sentAt}, h.sink.receipts[0])
}

// TestRealClientDispatch runs events through a real whatsmeow client's
// dispatcher, which is what decides the ack with SynchronousAck.
func TestRealClientDispatch(t *testing.T) {
	h := newHarness(t)
	c, _, _ := openTestDB(t)
	cli := whatsmeow.NewClient(c.NewDevice(), nil)
	cli.AddEventHandlerWithSuccessStatus(func(evt any) bool { return h.ch.handle(h.sess, evt) })
	failed := cli.DangerousInternals().DispatchEvent(dm(pnJID, types.EmptyJID, text("via whatsmeow")))
	assert.False(t, failed)
	require.Len(t, h.sink.inbound, 1)
	h.sink.fail = errors.New("store down")
	assert.True(t, cli.DangerousInternals().DispatchEvent(dm(pnJID, types.EmptyJID, text("again"))))
}

func TestConnectionStates(t *testing.T) {
	tests := []struct {
		name  string
		evt   any
		state State
		next  followUp
	}{
		{"Connected", &events.Connected{}, StateConnected, followNone},
		{"Disconnected", &events.Disconnected{}, StateDisconnected, followNone},
		{"KeepAliveTimeout", &events.KeepAliveTimeout{ErrorCount: 3}, StateKeepAliveTimeout, followNone},
		{"KeepAliveRestored", &events.KeepAliveRestored{}, StateConnected, followNone},
		{"LoggedOut", &events.LoggedOut{Reason: events.ConnectFailureLoggedOut}, StateLoggedOut, followStop},
		{"StreamReplaced", &events.StreamReplaced{}, StateStreamReplaced, followStop},
		{"ClientOutdated", &events.ClientOutdated{}, StateClientOutdated, followStop},
		{"TemporaryBan", &events.TemporaryBan{Code: events.TempBanSentToTooManyPeople, Expire: 2 * time.Hour}, StateTempBanned, followReconnect},
		{"ConnectFailure", &events.ConnectFailure{Reason: events.ConnectFailureReason(500)}, StateDisconnected, followReconnect},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			assert.True(t, h.ch.handle(h.sess, tc.evt), "connection events are always acked")
			got := h.ch.State()
			assert.Equal(t, tc.state, got.State)
			assert.Equal(t, sentAt, got.Since)
			assert.NotContains(t, got.Detail, "447700900123")
			select {
			case e := <-h.sess.follow:
				assert.Equal(t, tc.next, e.next)
			default:
				t.Fatal("no follow-up sent to Run")
			}
			h.mu.Lock()
			defer h.mu.Unlock()
			require.NotEmpty(t, h.states)
			assert.Equal(t, tc.state, h.states[len(h.states)-1].State)
		})
	}
}

func TestTemporaryBanDetail(t *testing.T) {
	h := newHarness(t)
	h.ch.handle(h.sess, &events.TemporaryBan{Code: events.TempBanBlockedByUsers, Expire: time.Hour})
	got := h.ch.State()
	assert.Equal(t, 102, got.BanCode)
	assert.Equal(t, sentAt.Add(time.Hour), got.BanExpires)
	assert.Contains(t, got.Detail, "102")
	assert.False(t, got.Ready())
	assert.False(t, got.Permanent())
	e := <-h.sess.follow
	assert.Equal(t, time.Hour, e.wait)

	h.ch.handle(h.sess, &events.Connected{})
	got = h.ch.State()
	assert.True(t, got.Ready())
	assert.Zero(t, got.BanCode)
}

func TestUndecryptableCounted(t *testing.T) {
	h := newHarness(t)
	info := dm(pnJID, types.EmptyJID, text("x")).Info
	assert.True(t, h.ch.handle(h.sess, &events.UndecryptableMessage{Info: info}))
	assert.True(t, h.ch.handle(h.sess, &events.UndecryptableMessage{Info: info, DecryptFailMode: events.DecryptFailHide}))
	assert.Equal(t, 1, h.ch.State().Undecryptable)
	assert.Equal(t, sentAt, h.ch.State().LastUndecryptable)
}

func TestSendRefusesChatThatNeverWrote(t *testing.T) {
	h := newHarness(t)
	_, err := h.ch.Send(context.Background(), bot.Outbound{Chat: "447700900123@s.whatsapp.net", Text: "hello"})
	assert.ErrorIs(t, err, bot.ErrForbidden)
	assert.ErrorIs(t, err, bot.ErrUnsupported)
	assert.NotContains(t, err.Error(), "447700900123")
	assert.Empty(t, h.cli.sent)
}

func TestSendAfterInbound(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	require.True(t, h.ch.handle(h.sess, dm(pnJID, types.EmptyJID, text("hi"))))
	chat := h.sink.inbound[0].Chat

	id, err := h.ch.Send(ctx, bot.Outbound{Chat: chat, Text: "We open at 9."})
	require.NoError(t, err)
	assert.Equal(t, bot.MessageID("3EB0000000000001"), id)
	require.Len(t, h.cli.sent, 1)
	assert.Equal(t, pnJID, h.cli.sent[0].to)
	assert.Equal(t, "We open at 9.", h.cli.sent[0].msg.GetConversation())

	// The same person's LID form is allowed once whatsmeow knows the pair.
	_, err = h.ch.Send(ctx, bot.Outbound{Chat: makeChatID(lidJID), Text: "x"})
	assert.ErrorIs(t, err, bot.ErrForbidden)
	require.NoError(t, h.sess.lids.(interface {
		PutLIDMapping(context.Context, types.JID, types.JID) error
	}).PutLIDMapping(ctx, lidJID, pnJID))
	_, err = h.ch.Send(ctx, bot.Outbound{Chat: makeChatID(lidJID), Text: "x"})
	assert.NoError(t, err)
}

// TestSendKeyNamesTheMessage: every send of one outbox reply (its Key) goes
// out under one WhatsApp message id, in the shape whatsmeow makes, whatever
// process sends it; different keys give different ids.
func TestSendKeyNamesTheMessage(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	require.True(t, h.ch.handle(h.sess, dm(pnJID, types.EmptyJID, text("hi"))))
	chat := h.sink.inbound[0].Chat
	key := "ob_0123456789abcdef0123456789abcdef"
	h.cli.errs = []error{whatsmeow.ErrNotConnected}
	h.ch.opts.SendBackoff = time.Millisecond
	first, err := h.ch.Send(ctx, bot.Outbound{Chat: chat, Text: "We open at 9.", Key: key})
	require.NoError(t, err)
	again, err := h.ch.Send(ctx, bot.Outbound{Chat: chat, Text: "We open at 9.", Key: key})
	require.NoError(t, err)
	other, err := h.ch.Send(ctx, bot.Outbound{Chat: chat, Text: "We open at 9.", Key: "ob_ffffffffffffffffffffffffffffffff"})
	require.NoError(t, err)
	assert.Regexp(t, `^3EB0[0-9A-F]{18}$`, string(first))
	assert.Equal(t, first, again, "a resend is the same message")
	assert.NotEqual(t, first, other)
	require.Len(t, h.cli.sent, 3)
	assert.Equal(t, string(first), h.cli.sent[0].id, "the id goes to whatsmeow")
	assert.True(t, h.ch.Capabilities().Idempotent)
}

func TestSendDocument(t *testing.T) {
	h := newHarness(t)
	require.True(t, h.ch.handle(h.sess, dm(pnJID, types.EmptyJID, text("/export"))))
	_, err := h.ch.Send(context.Background(), bot.Outbound{Chat: makeChatID(pnJID), Text: "Your data",
		File: &bot.File{Name: "export.json", MIME: "application/json", Data: []byte(`{"messages":[]}`)}})
	require.NoError(t, err)
	assert.Equal(t, 1, h.cli.uploads)
	doc := h.cli.sent[0].msg.GetDocumentMessage()
	require.NotNil(t, doc)
	assert.Equal(t, "export.json", doc.GetFileName())
	assert.Equal(t, "application/json", doc.GetMimetype())
	assert.Equal(t, "Your data", doc.GetCaption())
	assert.Equal(t, uint64(15), doc.GetFileLength())

	// A photo staff attached goes as a photo, uploaded with the image keys.
	_, err = h.ch.Send(context.Background(), bot.Outbound{Chat: makeChatID(pnJID), Text: "The part we fit", Key: "ob_photo",
		File: &bot.File{Name: "valve.jpg", MIME: "image/jpeg", Data: []byte("\xff\xd8\xff a jpeg")}})
	require.NoError(t, err)
	assert.Equal(t, []whatsmeow.MediaType{whatsmeow.MediaDocument, whatsmeow.MediaImage}, h.cli.uploadTypes)
	img := h.cli.sent[1].msg.GetImageMessage()
	require.NotNil(t, img)
	assert.Equal(t, "image/jpeg", img.GetMimetype())
	assert.Equal(t, "The part we fit", img.GetCaption())
	assert.Equal(t, messageID("ob_photo"), h.cli.sent[1].id, "the id comes from the key, as for text")

	// An export with the person's files is a ZIP: the linked device takes
	// it whole, as a document.
	require.True(t, h.ch.Capabilities().TakesFile("application/zip", 40<<20))
	_, err = h.ch.Send(context.Background(), bot.Outbound{Chat: makeChatID(pnJID), Text: "Your data and files",
		File: &bot.File{Name: "switchboard-export.zip", MIME: "application/zip", Data: []byte("PK\x03\x04 a zip")}})
	require.NoError(t, err)
	zip := h.cli.sent[2].msg.GetDocumentMessage()
	require.NotNil(t, zip)
	assert.Equal(t, "application/zip", zip.GetMimetype())
	assert.Equal(t, "switchboard-export.zip", zip.GetFileName())
	assert.Equal(t, "Your data and files", zip.GetCaption())
	assert.False(t, h.ch.Capabilities().TakesFile("application/zip", maxFile+1), "over 100 MB is refused before any upload")
}

func TestSendErrors(t *testing.T) {
	h := newHarness(t)
	require.True(t, h.ch.handle(h.sess, dm(pnJID, types.EmptyJID, text("hi"))))
	chat := makeChatID(pnJID)
	ctx := context.Background()

	for _, tc := range []struct {
		name string
		msg  bot.Outbound
	}{
		{"BadChat", bot.Outbound{Chat: "19:abc@thread.tacv2", Text: "x"}},
		{"Group", bot.Outbound{Chat: "120363000000000000@g.us", Text: "x"}},
		{"Empty", bot.Outbound{Chat: chat}},
		{"TooLong", bot.Outbound{Chat: chat, Text: strings.Repeat("a", maxText+1)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := h.ch.Send(ctx, tc.msg)
			assert.ErrorIs(t, err, bot.ErrUnsupported)
		})
	}

	t.Run("TransientRetriedSameID", func(t *testing.T) {
		h.cli.errs = []error{whatsmeow.ErrNotConnected, whatsmeow.ErrMessageTimedOut, nil}
		before := len(h.cli.sent)
		id, err := h.ch.Send(ctx, bot.Outbound{Chat: chat, Text: "retry me"})
		require.NoError(t, err)
		require.Len(t, h.cli.sent, before+1)
		assert.Equal(t, string(id), h.cli.sent[before].id)
	})
	t.Run("TransientGivesUp", func(t *testing.T) {
		h.cli.errs = []error{whatsmeow.ErrNotConnected, whatsmeow.ErrNotConnected, whatsmeow.ErrNotConnected}
		_, err := h.ch.Send(ctx, bot.Outbound{Chat: chat, Text: "x"})
		assert.ErrorIs(t, err, whatsmeow.ErrNotConnected)
		assert.NotErrorIs(t, err, bot.ErrUnsupported)
	})
	t.Run("ServerErrorRedacted", func(t *testing.T) {
		h.cli.errs = []error{fmt.Errorf("%w 463 for 447700900123@s.whatsapp.net", whatsmeow.ErrServerReturnedError)}
		_, err := h.ch.Send(ctx, bot.Outbound{Chat: chat, Text: "x"})
		assert.ErrorIs(t, err, whatsmeow.ErrServerReturnedError)
		assert.NotContains(t, err.Error(), "447700900123")
		assert.Contains(t, err.Error(), "463")
	})
	t.Run("NotRunning", func(t *testing.T) {
		h.ch.setSession(nil)
		defer h.ch.setSession(h.sess)
		h.ch.opts.SessionWait = time.Millisecond
		_, err := h.ch.Send(ctx, bot.Outbound{Chat: chat, Text: "x"})
		assert.ErrorIs(t, err, ErrNotRunning)
	})
	t.Run("WaitsForSession", func(t *testing.T) {
		h.ch.setSession(nil)
		h.ch.opts.SessionWait = time.Minute
		go h.ch.setSession(h.sess)
		_, err := h.ch.Send(ctx, bot.Outbound{Chat: chat, Text: "x"})
		assert.NoError(t, err)
	})
}

func TestSendSerializedPerChat(t *testing.T) {
	h := newHarness(t)
	h.cli.delay = 5 * time.Millisecond
	require.True(t, h.ch.handle(h.sess, dm(pnJID, types.EmptyJID, text("hi"))))
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := h.ch.Send(context.Background(), bot.Outbound{Chat: makeChatID(pnJID), Text: "x"})
			assert.NoError(t, err)
		}()
	}
	wg.Wait()
	assert.Equal(t, int32(1), h.cli.maxPar.Load())
	assert.Len(t, h.cli.sent, 8)
	assert.Empty(t, h.ch.chats.m, "locks are released")
}

// fakeRetry is an outbox that knows one sent text.
type fakeRetry map[bot.MessageID]string

func (f fakeRetry) RetryText(_ context.Context, id bot.MessageID) (string, error) {
	if t, ok := f[id]; ok {
		return t, nil
	}
	return "", bot.ErrNotFound
}

func TestRetryMessage(t *testing.T) {
	ch, err := New(Options{Dir: t.TempDir(), Retry: fakeRetry{"3EB0AA": "We open at 9."}})
	require.NoError(t, err)
	assert.Equal(t, "We open at 9.", ch.retryMessage(pnJID, pnJID, "3EB0AA").GetConversation())
	assert.Nil(t, ch.retryMessage(pnJID, pnJID, "3EB0BB"))
	ch, err = New(Options{Dir: t.TempDir()})
	require.NoError(t, err)
	assert.Nil(t, ch.retryMessage(pnJID, pnJID, "3EB0AA"))
}

func TestNew(t *testing.T) {
	_, err := New(Options{})
	assert.Error(t, err)
	_, err = New(Options{Dir: t.TempDir(), PairPhone: "07700 900123"})
	assert.Error(t, err, "pairing phone needs a country code")
	ch, err := New(Options{Dir: t.TempDir(), PairPhone: "+44 7700 900123"})
	require.NoError(t, err)
	assert.Equal(t, "+447700900123", ch.opts.PairPhone)
	assert.Equal(t, StateStopped, ch.State().State)
	assert.Equal(t, bot.WhatsApp, ch.Platform())
	assert.True(t, ch.Capabilities().Files)
	_, err = os.Stat(filepath.Join(ch.opts.Dir, dbFile))
	assert.True(t, os.IsNotExist(err), "New does no I/O")
}

func TestSetWAVersion(t *testing.T) {
	old := store.GetWAVersion()
	t.Cleanup(func() { setWAVersion(old) })
	v := store.WAVersionContainer{2, 3000, 1045649367}
	setWAVersion(v)
	assert.Equal(t, v, store.GetWAVersion())
	av := store.BaseClientPayload.GetUserAgent().GetAppVersion()
	assert.Equal(t, uint32(1045649367), av.GetTertiary(), "client payload announces the new version")
	assert.Equal(t, uint32(3000), av.GetSecondary())
}

// roundTripper serves web.whatsapp.com from a string.
type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestApplyLatestVersion(t *testing.T) {
	old := store.GetWAVersion()
	t.Cleanup(func() { setWAVersion(old) })
	ch, err := New(Options{Dir: t.TempDir(), HTTPClient: &http.Client{Transport: roundTripper(func(r *http.Request) (*http.Response, error) {
		assert.Equal(t, "web.whatsapp.com", r.URL.Host)
		return &http.Response{StatusCode: 200, Body: ioNopCloser(`<script>{"client_revision":1099999999,"x":1}</script>`), Request: r}, nil
	})}})
	require.NoError(t, err)
	ch.applyLatestVersion(context.Background())
	assert.Equal(t, store.WAVersionContainer{2, 3000, 1099999999}, store.GetWAVersion())
	assert.Equal(t, uint32(1099999999), store.BaseClientPayload.GetUserAgent().GetAppVersion().GetTertiary())

	// A failing fetch keeps what there is.
	ch.opts.HTTPClient = &http.Client{Transport: roundTripper(func(*http.Request) (*http.Response, error) { return nil, errors.New("offline") })}
	ch.applyLatestVersion(context.Background())
	assert.Equal(t, store.WAVersionContainer{2, 3000, 1099999999}, store.GetWAVersion())
}

func TestBackoff(t *testing.T) {
	b := backoff{min: time.Second, max: 5 * time.Second}
	var got []time.Duration
	for i := 0; i < 5; i++ {
		got = append(got, b.next())
	}
	assert.Equal(t, []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 5 * time.Second, 5 * time.Second}, got)
	b.reset()
	assert.Equal(t, time.Second, b.next())
}

func TestWALoggerRedacts(t *testing.T) {
	var buf strings.Builder
	l := newWALogger(zerolog.New(&buf), zerolog.WarnLevel)
	l.Debugf("Decrypting message from %s", pnJID)
	l.Sub("Client").Warnf("Unavailable message %s from %s", "3A01", lidJID)
	out := buf.String()
	assert.NotContains(t, out, "447700900123")
	assert.NotContains(t, out, "123456789012345")
	assert.NotContains(t, out, "Decrypting", "debug is below the level")
	assert.Contains(t, out, `"component":"whatsmeow"`)
	assert.Contains(t, out, "Unavailable message")
}

func ioNopCloser(s string) *nopCloser { return &nopCloser{strings.NewReader(s)} }

type nopCloser struct{ *strings.Reader }

func (nopCloser) Close() error { return nil }

// TestRunOffline runs the real Run with WhatsApp unreachable: it creates the
// session db, tries to pair, backs off, and stops cleanly on cancel.
func TestRunOffline(t *testing.T) {
	old := store.GetWAVersion()
	t.Cleanup(func() { setWAVersion(old) })
	var qr strings.Builder
	ch, err := New(Options{Dir: filepath.Join(t.TempDir(), "wa"), QR: &qr, ReconnectMax: 50 * time.Millisecond,
		HTTPClient: &http.Client{Transport: roundTripper(func(*http.Request) (*http.Response, error) { return nil, errors.New("offline") })}})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ch.Run(ctx, &fakeSink{}) }()
	require.Eventually(t, func() bool { s := ch.State().State; return s == StatePairing || s == StateUnreachable }, 30*time.Second, 10*time.Millisecond)
	assert.Error(t, ch.Run(ctx, &fakeSink{}), "only one Run at a time")
	cancel()
	select {
	case err := <-done:
		assert.NoError(t, err)
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not stop")
	}
	assert.Equal(t, StateStopped, ch.State().State)
	_, err = os.Stat(filepath.Join(ch.opts.Dir, dbFile))
	assert.NoError(t, err)
}

func TestSessionFilesOwnerOnly(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	db, _, err := openStore(context.Background(), dir, zerolog.Nop(), zerolog.WarnLevel)
	require.NoError(t, err)
	_, err = db.Exec(`INSERT INTO switchboard_wa_writers (jid, first_seen) VALUES ('x', 1)`)
	require.NoError(t, err)
	defer db.Close()
	for _, name := range []string{"", dbFile, dbFile + "-wal"} {
		fi, err := os.Stat(filepath.Join(dir, name))
		require.NoError(t, err, name)
		assert.Zero(t, fi.Mode().Perm()&0o077, "%s is %v", name, fi.Mode())
	}
}

func TestHealthString(t *testing.T) {
	h := newHarness(t)
	h.ch.handle(h.sess, &events.ClientOutdated{})
	s := h.ch.State().String()
	assert.Contains(t, s, "client-outdated")
	assert.Contains(t, s, "go get go.mau.fi/whatsmeow@latest && go mod tidy")
	h.ch.handle(h.sess, &events.UndecryptableMessage{Info: dm(pnJID, types.EmptyJID, text("x")).Info})
	assert.Contains(t, h.ch.State().String(), "1 message(s) could not be decrypted")
	assert.NotContains(t, h.ch.State().String(), "447700900123")
}

func TestCtxLoggerRedacts(t *testing.T) {
	var buf strings.Builder
	ctx := ctxLogger(context.Background(), zerolog.New(&buf), zerolog.WarnLevel)
	zerolog.Ctx(ctx).Err(errors.New("bad session 447700900123:0")).Str("address", "123456789012345_1:3").Msg("Failed to deserialize session")
	zerolog.Ctx(ctx).Debug().Str("pn_jid", "447700900123@s.whatsapp.net").Msg("debug line")
	out := buf.String()
	assert.Contains(t, out, "Failed to deserialize session")
	assert.Contains(t, out, `"level":"error"`)
	assert.Contains(t, out, `"component":"whatsmeow"`)
	assert.NotContains(t, out, "447700900123")
	assert.NotContains(t, out, "123456789012345")
	assert.NotContains(t, out, "debug line")
}

// TestHandleOddEvents feeds nil and typed-nil events: nothing panics, and a
// message that could not be handled is not acknowledged.
func TestHandleOddEvents(t *testing.T) {
	h := newHarness(t)
	for _, evt := range []any{nil, (*events.Message)(nil), (*events.Receipt)(nil), (*events.KeepAliveTimeout)(nil),
		(*events.TemporaryBan)(nil), (*events.LoggedOut)(nil), (*events.ConnectFailure)(nil), (*events.UndecryptableMessage)(nil),
		&events.Message{}, &events.Receipt{}, &events.TemporaryBan{}, &events.Presence{}, 42} {
		assert.NotPanics(t, func() { h.ch.handle(h.sess, evt) }, "%T", evt)
	}
	assert.Empty(t, h.sink.inbound)
}

// panicSink panics on delivery.
type panicSink struct{ fakeSink }

func (*panicSink) Deliver(context.Context, bot.Inbound) error { panic("boom") }

func TestHandlePanicNotAcked(t *testing.T) {
	h := newHarness(t)
	h.sess.sink = &panicSink{}
	ack := true
	assert.NotPanics(t, func() { ack = h.ch.handle(h.sess, dm(pnJID, types.EmptyJID, text("hi"))) })
	assert.False(t, ack, "a message whose handling panicked must be redelivered")
}

// TestPairingHints: a pairing attempt that cannot reach WhatsApp, or whose
// codes ran out, tells the person at the terminal what is happening and
// what to do, once per kind of failure; /readyz's state word follows.
func TestPairingHints(t *testing.T) {
	var qr syncBuilder
	logs := &bottest.LogBuffer{}
	ch, err := New(Options{Dir: filepath.Join(t.TempDir(), "wa"), QR: &qr, ReconnectMax: time.Millisecond, Log: zerolog.New(logs),
		HTTPClient: &http.Client{Transport: roundTripper(func(*http.Request) (*http.Response, error) { return nil, errors.New("offline") })}})
	require.NoError(t, err)
	old := store.GetWAVersion()
	t.Cleanup(func() { setWAVersion(old) })
	attempts := make(chan int, 100)
	n := 0
	ch.pairFn = func(ctx context.Context, _ *store.Device) error {
		n++
		attempts <- n
		switch {
		case n <= 3:
			return fmt.Errorf("pair: %w: dial tcp: lookup web.whatsapp.com: no such host", errPairConnect)
		case n <= 5:
			return fmt.Errorf("pair: %w", errPairTimeout)
		}
		<-ctx.Done()
		return ctx.Err()
	}
	var states []State
	var mu sync.Mutex
	ch.health.on = func(h Health) { mu.Lock(); states = append(states, h.State); mu.Unlock() }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ch.Run(ctx, &fakeSink{}) }()
	for a := range attempts {
		if a == 6 {
			break
		}
	}
	cancel()
	require.NoError(t, <-done)

	out := qr.String()
	assert.Equal(t, 1, strings.Count(out, "cannot reach WhatsApp's servers"), "said once, not on every attempt:\n%s", out)
	assert.Contains(t, out, "web.whatsapp.com")
	assert.Contains(t, out, "--no-whatsapp")
	assert.Contains(t, out, "Cloud API")
	assert.Contains(t, out, "--whatsapp-pair-phone")
	assert.Equal(t, 1, strings.Count(out, "Nobody scanned the QR code in time"))
	mu.Lock()
	assert.Contains(t, states, StateUnreachable)
	i := slices.Index(states, StateUnreachable)
	assert.Contains(t, states[i:], StatePairing, "back to pairing once WhatsApp answers")
	mu.Unlock()
	l := logs.String()
	assert.Contains(t, l, `"hint":"check this machine's network`)
	assert.Contains(t, l, `"attempt":3`)
}

// syncBuilder is a strings.Builder safe for concurrent use.
type syncBuilder struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuilder) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuilder) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
