package bot_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/switchboard/switchboard/bot"
	"github.com/switchboard/switchboard/channels/channeltest"
	"github.com/switchboard/switchboard/store"
)

const (
	wait = 15 * time.Second
	tick = 5 * time.Millisecond
)

// harness is one Switchboard process in a test: a real store under
// t.TempDir(), a router, fake WhatsApp and Teams channels, a fake staff
// notifier and a fake drafter. restart stops it and starts a new process on
// the same data directory.
type harness struct {
	t        testing.TB
	dir      string
	key      []byte
	log      zerolog.Logger
	opts     func(*bot.Options)
	db       *store.DB
	wa       *channeltest.Fake
	teams    *channeltest.Fake
	notifier *channeltest.Notifier
	drafter  *channeltest.Drafter
	router   *bot.Router
	stopFn   func() error
}

// newHarness starts a process. opts, if not nil, edits the router options
// of every start (a nil Notifier in opts stays nil).
func newHarness(t testing.TB, log zerolog.Logger, opts func(*bot.Options)) *harness {
	t.Helper()
	key := make([]byte, 32)
	_, err := rand.Read(key)
	require.NoError(t, err)
	h := &harness{
		t:        t,
		dir:      t.TempDir(),
		key:      key,
		log:      log,
		opts:     opts,
		wa:       channeltest.NewFake(bot.WhatsApp),
		teams:    channeltest.NewFake(bot.Teams),
		notifier: channeltest.NewNotifier(),
		drafter:  &channeltest.Drafter{Text: "Thanks for your message. We open at 9."},
	}
	h.start()
	t.Cleanup(func() {
		if h.stopFn != nil {
			require.NoError(t, h.stop())
		}
	})
	return h
}

func (h *harness) openStore() *store.DB {
	h.t.Helper()
	db, err := store.New(store.Options{Dir: h.dir, MasterKey: h.key, Log: h.log})
	require.NoError(h.t, err)
	require.NoError(h.t, db.Open(context.Background()))
	return db
}

func (h *harness) newRouter(db *store.DB) *bot.Router {
	h.t.Helper()
	o := bot.Options{
		Log:      h.log,
		Store:    db,
		Drafter:  h.drafter,
		Notifier: h.notifier,
		Channels: []bot.Channel{h.wa, h.teams},
		Backoff:  func(int) time.Duration { return 0 },
	}
	if h.opts != nil {
		h.opts(&o)
	}
	r, err := bot.NewRouter(o)
	require.NoError(h.t, err)
	return r
}

// start opens the store, runs a new router and the fake channels.
func (h *harness) start() {
	h.t.Helper()
	h.db = h.openStore()
	h.router = h.newRouter(h.db)
	ctx, cancel := context.WithCancel(context.Background())
	routerDone := make(chan error, 1)
	go func() { routerDone <- h.router.Run(ctx) }()
	<-h.router.Ready()
	chCtx, chCancel := context.WithCancel(context.Background())
	var chans sync.WaitGroup
	for _, f := range []*channeltest.Fake{h.wa, h.teams} {
		chans.Go(func() { _ = f.Run(chCtx, h.router) })
		<-f.Running()
	}
	db := h.db
	h.stopFn = func() error {
		chCancel() // channels stop taking input first
		chans.Wait()
		cancel()
		err := <-routerDone
		if cerr := db.Close(); err == nil {
			err = cerr
		}
		return err
	}
}

// stop stops the process: channels, router (drained), store.
func (h *harness) stop() error {
	stop := h.stopFn
	h.stopFn = nil
	return stop()
}

// restart stops the process and starts a new one on the same data.
func (h *harness) restart() {
	h.t.Helper()
	require.NoError(h.t, h.stop())
	h.start()
}

// customer is a WhatsApp customer in a 1:1 chat.
type customer struct {
	phone string
	name  string
	chat  bot.ChatID
	seq   int
}

func newCustomer(n int) *customer {
	phone := fmt.Sprintf("+4477009%05d", n)
	return &customer{phone: phone, name: fmt.Sprintf("Customer %d", n), chat: bot.ChatID(phone[1:] + "@s.whatsapp.net")}
}

func (c *customer) inbound(text string) bot.Inbound {
	c.seq++
	return bot.Inbound{
		Platform:   bot.WhatsApp,
		Chat:       c.chat,
		ID:         bot.MessageID(fmt.Sprintf("3EB0%s%04d", c.phone[1:], c.seq)),
		Sender:     bot.Identity{Kind: bot.IDPhone, Value: c.phone},
		SenderName: c.name,
		Role:       bot.RoleCustomer,
		Kind:       bot.KindText,
		Text:       text,
		SentAt:     time.Now(),
	}
}

// send injects a customer message through the fake WhatsApp channel.
func (h *harness) send(c *customer, text string) bot.Inbound {
	h.t.Helper()
	in := c.inbound(text)
	require.NoError(h.t, h.wa.Inject(context.Background(), in))
	return in
}

// cardFor waits for the card of the draft answering text and returns it.
func (h *harness) cardFor(text string) bot.Card {
	h.t.Helper()
	var card bot.Card
	require.Eventually(h.t, func() bool {
		for _, c := range h.notifier.Cards() {
			if c.Message == text {
				card = c
				return c.Status != bot.DraftDrafting
			}
		}
		return false
	}, wait, tick, "a card for the message is posted and drafted")
	return card
}

// waitCard waits until the draft's latest card satisfies ok.
func (h *harness) waitCard(draftID int64, ok func(bot.Card) bool, msg string) bot.Card {
	h.t.Helper()
	var card bot.Card
	require.Eventually(h.t, func() bool {
		c, found := h.notifier.Card(draftID)
		card = c
		return found && ok(c)
	}, wait, tick, msg)
	return card
}

// waitSends waits until chat received n messages on WhatsApp.
func (h *harness) waitSends(chat bot.ChatID, n int) []string {
	h.t.Helper()
	require.Eventually(h.t, func() bool { return len(h.wa.SendsTo(chat)) >= n }, wait, tick, "replies are sent")
	return h.wa.SendsTo(chat)
}

func (h *harness) decide(d bot.Decision) bot.DecisionResult {
	h.t.Helper()
	if d.By.IsZero() {
		d.By = bot.Identity{Kind: bot.IDTeams, Value: "00000000-0000-0000-0000-0000000000a1"}
	}
	if d.ByName == "" {
		d.ByName = "Ann Staff"
	}
	if d.Token == "" {
		// As a click does: the token the draft's card carries.
		if c, ok := h.notifier.Card(d.DraftID); ok {
			d.Token = c.Token
		}
	}
	res, err := h.router.Decide(context.Background(), d)
	require.NoError(h.t, err)
	return res
}
