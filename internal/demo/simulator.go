package demo

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// Limits of what the simulator keeps in memory.
const (
	maxChats         = 100
	maxChatMessages  = 500
	maxWireEntries   = 200
	maxQueued        = 256
	maxFileBytes     = 32 << 20 // one uploaded document
	maxMediaBytes    = 64 << 20 // all documents held at once
	maxTextBytes     = 4096     // a customer's message, as WhatsApp allows
	maxNameBytes     = 60
	deliveryAttempts = 5
	deliveryTimeout  = 10 * time.Second
)

// Message statuses, as the page shows them. A customer's message is sent
// (the simulator took it), delivered (the bot's webhook answered 200: it is
// stored), read (the bot marked it read), retrying or failed. A reply's
// status is the highest the bot acknowledged: sent, delivered, read (or
// failed, when the simulator could not deliver it).
const (
	StatusQueued    = "queued" // a reply whose first status is still on its way to the bot
	StatusSent      = "sent"
	StatusDelivered = "delivered"
	StatusRead      = "read"
	StatusRetrying  = "retrying"
	StatusFailed    = "failed"
)

// rank orders statuses so they only rise.
func rank(s string) int {
	switch s {
	case StatusSent:
		return 1
	case StatusDelivered:
		return 2
	case StatusRead:
		return 3
	}
	return 0
}

// Options configures a Simulator. PhoneNumberID, AccessToken, AppSecret and
// Webhook are required.
type Options struct {
	// Log receives the simulator's lines: kinds, codes and counts, never
	// a number, a name or a text. Zero value discards.
	Log zerolog.Logger
	// PhoneNumberID is the business number's id the bot is configured
	// with; the Graph API answers only for it, and webhooks carry it.
	PhoneNumberID string
	// DisplayPhoneNumber is the business's number as webhooks show it
	// (digits); if empty, 442079460000.
	DisplayPhoneNumber string
	// BusinessAccountID is the WhatsApp Business Account id webhooks name;
	// if empty, 100000000000002.
	BusinessAccountID string
	// BusinessName is shown in the page as the chat's other side, with
	// BusinessNumber (if empty, + and DisplayPhoneNumber).
	BusinessName   string
	BusinessNumber string
	// AccessToken is the bearer token the bot must present to the Graph
	// API; AppSecret signs the webhooks.
	AccessToken string
	AppSecret   string
	// Webhook is the bot's webhook URL (http://127.0.0.1:3978/webhooks/whatsapp).
	Webhook string
	// StaffHint is shown at the top of the page: how to open the staff
	// side, followed by StaffCommand as code.
	StaffHint    string
	StaffCommand string
	// HTTPClient posts the webhooks. If nil, a client with a 10 s timeout.
	HTTPClient *http.Client
	// Now is the clock. If nil, time.Now.
	Now func() time.Time
	// RetryBackoff is the first wait before a webhook the bot did not take
	// is posted again (Meta redelivers too); it doubles each time, for
	// five attempts in all. If zero, 1 s.
	RetryBackoff time.Duration
}

// Simulator plays WhatsApp customers and Meta for the demo. Build it with
// New, mount it with Mount, and Run it while the bot runs.
type Simulator struct {
	opts  Options
	log   zerolog.Logger
	http  *http.Client
	queue chan delivery

	mu         sync.Mutex
	chats      map[string]*chat // by wa_id
	order      []string         // wa_ids, oldest chat first
	msgs       map[string]*message
	media      map[string]*mediaFile
	mediaBytes int
	wire       []WireEntry
	wireSeq    int
	rev        int64 // bumped by every change of a message
	subs       map[*subscriber]struct{}
	stopped    bool
}

// chat is one customer's conversation with the business.
type chat struct {
	ChatView
	msgs []*message
}

// ChatView is a customer as the page shows them.
type ChatView struct {
	WaID   string `json:"wa_id"`  // the number's digits, as Meta names the person
	Name   string `json:"name"`   // their WhatsApp profile name
	Number string `json:"number"` // as first typed: "+44 7700 900123"
}

// message is one message of a chat.
type message struct {
	MessageView
	pending string // the highest status queued for the bot (replies)
	key     string // biz_opaque_callback_data the bot sent with it
}

// MessageView is a message as the page shows it.
type MessageView struct {
	ID       string        `json:"id"` // wamid
	WaID     string        `json:"wa_id"`
	From     string        `json:"from"` // "customer" or "business"
	Type     string        `json:"type"` // text, document, template
	Text     string        `json:"text,omitempty"`
	Document *DocumentView `json:"document,omitempty"`
	Template string        `json:"template,omitempty"`
	At       int64         `json:"at"` // Unix milliseconds
	Status   string        `json:"status"`
	// Rev grows with every change of any message: the page keeps the
	// newest of two views of one message.
	Rev int64 `json:"rev"`
	// Detail says in words why a message is retrying or failed.
	Detail string `json:"detail,omitempty"`
}

// DocumentView is a document sent to a customer.
type DocumentView struct {
	MediaID  string `json:"media_id"`
	Filename string `json:"filename"`
	MIME     string `json:"mime"`
	Size     int    `json:"size"`
	// Deleted is true once the bot deleted the file at "Meta".
	Deleted bool `json:"deleted"`
}

// mediaFile is a document the bot uploaded.
type mediaFile struct {
	data     []byte
	mime     string
	filename string
	at       time.Time
	msgs     []string // messages that show it
}

// WireEntry is one exchange between the simulator and the bot, for the
// page's "on the wire" panel.
type WireEntry struct {
	Seq     int    `json:"seq"`
	At      int64  `json:"at"`  // Unix milliseconds
	Dir     string `json:"dir"` // "to-bot" (a webhook) or "from-bot" (a Graph call)
	Request string `json:"request"`
	Status  int    `json:"status"`
	Summary string `json:"summary"`
	Body    string `json:"body,omitempty"` // the JSON as sent, indented
}

// New validates opts and fills defaults. It does no I/O.
func New(opts Options) (*Simulator, error) {
	var missing []string
	for _, f := range []struct{ v, name string }{
		{opts.PhoneNumberID, "PhoneNumberID"}, {opts.AccessToken, "AccessToken"},
		{opts.AppSecret, "AppSecret"}, {opts.Webhook, "Webhook"},
	} {
		if strings.TrimSpace(f.v) == "" {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		return nil, errors.New("demo simulator: Options." + strings.Join(missing, ", Options.") + " required")
	}
	if u, err := url.Parse(opts.Webhook); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errors.New("demo simulator: Options.Webhook must be an http URL such as http://127.0.0.1:3978/webhooks/whatsapp")
	}
	if opts.DisplayPhoneNumber == "" {
		opts.DisplayPhoneNumber = "442079460000"
	}
	if opts.BusinessAccountID == "" {
		opts.BusinessAccountID = "100000000000002"
	}
	if opts.BusinessName == "" {
		opts.BusinessName = "the business"
	}
	if opts.BusinessNumber == "" {
		opts.BusinessNumber = "+" + opts.DisplayPhoneNumber
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Timeout: deliveryTimeout}
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.RetryBackoff <= 0 {
		opts.RetryBackoff = time.Second
	}
	return &Simulator{
		opts:  opts,
		log:   opts.Log.With().Str("component", "demo-simulator").Logger(),
		http:  opts.HTTPClient,
		queue: make(chan delivery, maxQueued),
		chats: map[string]*chat{},
		msgs:  map[string]*message{},
		media: map[string]*mediaFile{},
		subs:  map[*subscriber]struct{}{},
	}, nil
}

// Mount serves the page at "/", its API and assets under "/sim/", and the
// Graph API under "/graph/{version}/".
func (s *Simulator) Mount(mux *http.ServeMux) {
	h := s.Handler()
	mux.Handle("GET /{$}", h)
	mux.Handle("/sim/", h)
	mux.Handle("/graph/", h)
}

// Handler serves everything Mount mounts, from one handler.
func (s *Simulator) Handler() http.Handler {
	mux := http.NewServeMux()
	s.pageRoutes(mux)
	mux.HandleFunc("/graph/", s.serveGraph)
	return loopbackOnly(mux)
}

// Run posts queued webhooks to the bot, in order, until ctx is done; then
// it ends the page's event streams (so the HTTP server can shut down) and
// returns. Webhooks still queued are dropped with the demo.
func (s *Simulator) Run(ctx context.Context) {
	defer s.stop()
	for {
		select {
		case <-ctx.Done():
			return
		case d := <-s.queue:
			s.deliver(ctx, d)
		}
	}
}

// stop ends every event stream; later ones end at once.
func (s *Simulator) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopped = true
	for sub := range s.subs {
		delete(s.subs, sub)
		close(sub.ch)
	}
}

// loopbackOnly refuses requests whose Host is not a loopback name, so a
// web page elsewhere cannot reach the simulator by rebinding a DNS name to
// 127.0.0.1.
func loopbackOnly(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !loopbackHost(r.Host) {
			http.Error(w, "the demo answers only on a loopback address such as 127.0.0.1", http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// loopbackHost reports whether a Host header names the loopback interface.
func loopbackHost(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// newWamid returns a fresh WhatsApp message id.
func newWamid() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return "wamid.DEMO" + strings.ToUpper(hex.EncodeToString(b[:]))
}

// nowMillis is the clock in Unix milliseconds.
func (s *Simulator) nowMillis() int64 { return s.opts.Now().UnixMilli() }

// chatLocked returns the chat of waID, creating it with name and number
// (as the page shows it); nil when the simulator holds too many chats.
// s.mu is held.
func (s *Simulator) chatLocked(waID, name, number string) *chat {
	if c, ok := s.chats[waID]; ok {
		if name != "" {
			c.Name = name
		}
		return c
	}
	if len(s.chats) >= maxChats {
		return nil
	}
	if number == "" {
		number = "+" + waID
	}
	c := &chat{ChatView: ChatView{WaID: waID, Name: name, Number: number}}
	s.chats[waID] = c
	s.order = append(s.order, waID)
	return c
}

// addLocked appends m to its chat, dropping the chat's oldest message past
// the limit. s.mu is held.
func (s *Simulator) addLocked(c *chat, m *message) {
	c.msgs = append(c.msgs, m)
	s.msgs[m.ID] = m
	if len(c.msgs) > maxChatMessages {
		delete(s.msgs, c.msgs[0].ID)
		c.msgs = c.msgs[1:]
	}
}

// changedLocked marks m changed and tells the page (if the message is in
// a chat of the page). s.mu is held.
func (s *Simulator) changedLocked(m *message) {
	s.rev++
	m.Rev = s.rev
	if c, ok := s.chats[m.WaID]; ok {
		s.publishLocked(event{name: "message", data: messageEvent{Chat: c.ChatView, Message: m.view()}})
	}
}

// wireLocked records an exchange and tells the page. s.mu is held.
func (s *Simulator) wireLocked(e WireEntry) {
	s.wireSeq++
	e.Seq, e.At = s.wireSeq, s.nowMillis()
	s.wire = append(s.wire, e)
	if len(s.wire) > maxWireEntries {
		s.wire = s.wire[1:]
	}
	s.publishLocked(event{name: "wire", data: e})
}

// Messages returns every message the simulator holds, chat by chat,
// oldest first (for tests and the page's first view).
func (s *Simulator) Messages() []MessageView {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []MessageView
	for _, id := range s.order {
		for _, m := range s.chats[id].msgs {
			out = append(out, m.view())
		}
	}
	return out
}

// Wire returns the exchanges recorded so far, oldest first.
func (s *Simulator) Wire() []WireEntry {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]WireEntry(nil), s.wire...)
}

// view copies a message for the page.
func (m *message) view() MessageView {
	v := m.MessageView
	if v.Document != nil {
		d := *v.Document
		v.Document = &d
	}
	return v
}
