package crashtest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboard/switchboard/bot"
	"github.com/switchboard/switchboard/channels/whatsappcloud"
	"github.com/switchboard/switchboard/channels/whatsappcloud/cloudtest"
	"github.com/switchboard/switchboard/privacy"
	"github.com/switchboard/switchboard/store"
)

var (
	kills       = flag.Int("crash.kills", 24, "how often the child is killed with SIGKILL")
	receiptLoss = flag.Float64("crash.receipt-loss", 0.05, "share of Cloud status callbacks that never arrive")
	verbose     = flag.Bool("crash.v", false, "copy the children's logs to the test log")
)

// Environment of the child process.
const (
	envChild  = "SWITCHBOARD_CRASH_CHILD"  // its data directory
	envParent = "SWITCHBOARD_CRASH_PARENT" // the parent's fake platforms
	envKey    = "SWITCHBOARD_CRASH_KEY"    // the master key, hex
)

// linked is the platform of the test's idempotent channel (like the linked
// device: the message id comes from the key). WhatsApp customers of the
// other half are served by the real WhatsApp Business Platform channel
// (channels/whatsappcloud) against cloudtest's Graph API in the parent:
// not idempotent, status webhooks carrying the reply's key.
const linked bot.Platform = "linked"

// The Cloud API account of the test.
const (
	cloudPNID   = "106540352242922"
	cloudToken  = "EAAGcrash-system-user-token"
	cloudSecret = "crash-app-secret-0123456789abcdef"
	envGraph    = "SWITCHBOARD_CRASH_GRAPH" // the parent's Graph API URL
)

func TestMain(m *testing.M) {
	if dir := os.Getenv(envChild); dir != "" {
		os.Exit(runChild(dir))
	}
	os.Exit(m.Run())
}

// ---------------------------------------------------------------------------
// The child: the real store and router, with channels and a notifier that
// talk to the parent's fake platforms over HTTP.

func runChild(dir string) int {
	key, err := hex.DecodeString(os.Getenv(envKey))
	if err != nil {
		fmt.Fprintln(os.Stderr, "crash child: bad key")
		return 2
	}
	parent := os.Getenv(envParent)
	log := zerolog.New(os.Stderr).Level(zerolog.InfoLevel).With().Timestamp().Logger()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	db, err := store.New(store.Options{Dir: dir, MasterKey: key, Log: log})
	if err == nil {
		err = db.Open(ctx)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "crash child: open store:", err)
		return 1
	}
	client := &http.Client{Timeout: 5 * time.Second}
	cloudCh, err := whatsappcloud.New(whatsappcloud.Options{
		Log:           log,
		PhoneNumberID: cloudPNID, AccessToken: cloudToken, AppSecret: cloudSecret, VerifyToken: "crash-verify",
		GraphURL:   os.Getenv(envGraph),
		HTTPClient: graphClient(log),
		LastInbound: func(ctx context.Context, chat bot.ChatID) (time.Time, error) {
			return db.LastInbound(ctx, bot.WhatsApp, chat)
		},
		StateDir:    dir,
		SendBackoff: 20 * time.Millisecond,
		CheckEvery:  100 * time.Millisecond,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "crash child: cloud channel:", err)
		return 1
	}
	r, err := bot.NewRouter(bot.Options{
		Log:      log,
		Store:    db,
		Drafter:  drafter{},
		Notifier: &remoteNotifier{url: parent + "/teams", client: client},
		Channels: []bot.Channel{
			&remoteChannel{platform: linked, url: parent + "/send/linked", idempotent: true, client: client},
			cloudCh,
		},
		Workers:         2,
		StartWorkers:    2,
		InDoubtWait:     2 * time.Second,
		UnavailableWait: 200 * time.Millisecond,
		Backoff:         func(int) time.Duration { return 50 * time.Millisecond },
		DrainTimeout:    3 * time.Second,
		DraftDeadline:   5 * time.Second,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "crash child: router:", err)
		return 1
	}
	// Erasures go through the privacy engine, with a forgetter that tells
	// the parent (the channels' own data about the person); Run resumes
	// the forgets an earlier child left and retries failed ones.
	svc, err := privacy.New(privacy.Options{
		Log:        log,
		Store:      db,
		Forgetters: []bot.Forgetter{&remoteForgetter{url: parent + "/forgot", client: client}},
		ExportDir:  filepath.Join(dir, "exports"),
		SweepEvery: 50 * time.Millisecond, ForgetRetry: 50 * time.Millisecond, ForgetRetryMax: time.Second,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "crash child: privacy:", err)
		return 1
	}
	admin, err := db.ResolveSubject(ctx, bot.SubjectInput{Identities: []bot.Identity{{Kind: bot.IDTeams, Value: "00000000-0000-0000-0000-00000000ad01"}}, Role: bot.RoleAdmin})
	if err != nil {
		fmt.Fprintln(os.Stderr, "crash child: admin:", err)
		return 1
	}
	mux := http.NewServeMux()
	mux.Handle("/webhooks/whatsapp", cloudCh.Handler())
	handle := func(path string, fn func(ctx context.Context, body []byte) (any, error)) {
		mux.HandleFunc(path, func(w http.ResponseWriter, req *http.Request) {
			body, _ := io.ReadAll(req.Body)
			v, err := fn(req.Context(), body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			_ = json.NewEncoder(w).Encode(v)
		})
	}
	handle("POST /inbound", func(ctx context.Context, body []byte) (any, error) {
		var in bot.Inbound
		if err := json.Unmarshal(body, &in); err != nil {
			return nil, err
		}
		return "ok", r.Deliver(ctx, in)
	})
	handle("POST /decide", func(ctx context.Context, body []byte) (any, error) {
		var d bot.Decision
		if err := json.Unmarshal(body, &d); err != nil {
			return nil, err
		}
		return r.Decide(ctx, d)
	})
	handle("POST /receipt", func(ctx context.Context, body []byte) (any, error) {
		var rc bot.Receipt
		if err := json.Unmarshal(body, &rc); err != nil {
			return nil, err
		}
		return "ok", r.Receipt(ctx, rc)
	})
	handle("POST /erase", func(ctx context.Context, body []byte) (any, error) {
		var req struct{ Phone string }
		if err := json.Unmarshal(body, &req); err != nil {
			return nil, err
		}
		// An admin's /forget <number>, then YES.
		cr := bot.CommandRequest{Subject: admin, Platform: bot.Teams, Chat: "crash-admin", Text: "/forget " + req.Phone}
		cr.Command, _ = bot.ParseCommand(cr.Text)
		if _, err := svc.Handle(ctx, cr); err != nil {
			return nil, err
		}
		cr.Command, cr.Text = bot.Command{}, "YES"
		_, handled, err := svc.Intercept(ctx, cr)
		if err != nil {
			return nil, err
		}
		if !handled {
			return 0, nil // nobody known by the number (erased already)
		}
		return 1, nil
	})
	handle("GET /status", func(ctx context.Context, _ []byte) (any, error) {
		var st childStatus
		var errs []error
		ids, err := db.Uncarded(ctx, 10000)
		st.Uncarded, errs = len(ids), append(errs, err)
		ids, err = db.Drafting(ctx, 10000)
		st.Drafting, errs = len(ids), append(errs, err)
		ids, err = db.Unrendered(ctx, 10000)
		st.Unrendered, errs = len(ids), append(errs, err)
		items, err := db.DueOutbox(ctx, time.Now().Add(time.Hour), 10000)
		st.Pending, errs = len(items), append(errs, err)
		items, err = db.InDoubt(ctx, 10000)
		st.InDoubt, errs = len(items), append(errs, err)
		rms, err := db.PendingCardRemovals(ctx, 10000)
		st.Removals, errs = len(rms), append(errs, err)
		fs, err := db.PendingForgets(ctx)
		st.Forgets, errs = len(fs), append(errs, err)
		return st, errors.Join(errs...)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, "crash child: listen:", err)
		return 1
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	cloudDone := make(chan error, 1)
	go func() { cloudDone <- cloudCh.Run(ctx, r) }()
	privacyDone := make(chan struct{})
	go func() { svc.Run(ctx); close(privacyDone) }()
	<-r.Ready()
	for st := cloudCh.State().State; st == whatsappcloud.StateStopped || st == whatsappcloud.StateStarting; st = cloudCh.State().State {
		time.Sleep(5 * time.Millisecond) // the webhook answers 503 until Run serves it
	}
	go func() { _ = srv.Serve(ln) }()
	fmt.Printf("READY http://%s\n", ln.Addr())
	runErr := errors.Join(<-done, <-cloudDone)
	<-privacyDone
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(sctx)
	if err := errors.Join(runErr, db.Close()); err != nil {
		fmt.Fprintln(os.Stderr, "crash child: stop:", err)
		return 1
	}
	return 0
}

// graphClient is the Cloud channel's HTTP client: a short timeout (an
// answer held back past it is lost), a new connection per request, and one
// dial in 25 refused, as when the network is down: those requests never
// leave, so the channel may try them again.
func graphClient(log zerolog.Logger) *http.Client {
	dialer := &net.Dialer{Timeout: time.Second}
	return &http.Client{Timeout: time.Second, Transport: &http.Transport{
		DisableKeepAlives: true,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			if mrand.IntN(25) == 0 {
				log.Info().Msg("crash: graph connection refused")
				return nil, &net.OpError{Op: "dial", Net: network, Err: syscall.ECONNREFUSED}
			}
			return dialer.DialContext(ctx, network, addr)
		},
	}}
}

// childStatus is the work the child still has.
type childStatus struct {
	Uncarded, Drafting, Unrendered, Pending, InDoubt, Removals, Forgets int
}

func (s childStatus) idle() bool {
	return s.Uncarded+s.Drafting+s.Unrendered+s.Pending+s.InDoubt+s.Removals+s.Forgets == 0
}

// remoteForgetter stands for a channel's own data about people: it tells
// the parent which identities it was asked to forget.
type remoteForgetter struct {
	url    string
	client *http.Client
}

// forgotten is what remoteForgetter posts.
type forgotten struct {
	Subject bot.SubjectID
	IDs     []bot.Identity
}

func (f *remoteForgetter) ForgetterName() string { return "crash-channel" }

func (f *remoteForgetter) Forget(ctx context.Context, s bot.SubjectID, ids []bot.Identity) error {
	return post(ctx, f.client, f.url, forgotten{Subject: s, IDs: ids}, nil)
}

// drafter answers every message at once with a text naming it.
type drafter struct{}

func (drafter) Draft(ctx context.Context, req bot.DraftRequest) (bot.DraftResult, error) {
	select {
	case <-time.After(time.Duration(mrand.IntN(20)) * time.Millisecond):
	case <-ctx.Done():
		return bot.DraftResult{}, ctx.Err()
	}
	return bot.DraftResult{Text: "Re: " + req.Message.Text}, nil
}

// post sends v as JSON and decodes the answer into out; 503 is
// bot.ErrUnavailable, 404 bot.ErrNotFound.
func post(ctx context.Context, client *http.Client, url string, v, out any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(b))
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("post: %w", err)
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusServiceUnavailable:
		return fmt.Errorf("post: %w", bot.ErrUnavailable)
	case http.StatusNotFound:
		return fmt.Errorf("post: %w", bot.ErrNotFound)
	default:
		return fmt.Errorf("post: status %d", resp.StatusCode)
	}
	if out == nil {
		return nil
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

type remoteChannel struct {
	platform   bot.Platform
	url        string
	idempotent bool
	client     *http.Client
}

func (c *remoteChannel) Platform() bot.Platform { return c.platform }
func (c *remoteChannel) Capabilities() bot.Capabilities {
	return bot.Capabilities{Idempotent: c.idempotent}
}
func (c *remoteChannel) Run(ctx context.Context, _ bot.Sink) error { <-ctx.Done(); return nil }
func (c *remoteChannel) Send(ctx context.Context, out bot.Outbound) (bot.MessageID, error) {
	var res struct{ ID string }
	if err := post(ctx, c.client, c.url, out, &res); err != nil {
		return "", err
	}
	return bot.MessageID(res.ID), nil
}

type remoteNotifier struct {
	url    string
	client *http.Client
}

type cardUpdate struct {
	Ref  bot.CardRef
	Card bot.Card
}

func (n *remoteNotifier) PostCard(ctx context.Context, c bot.Card) (bot.CardRef, error) {
	var ref bot.CardRef
	err := post(ctx, n.client, n.url+"/post", c, &ref)
	return ref, err
}
func (n *remoteNotifier) UpdateCard(ctx context.Context, ref bot.CardRef, c bot.Card) error {
	return post(ctx, n.client, n.url+"/update", cardUpdate{Ref: ref, Card: c}, nil)
}
func (n *remoteNotifier) RemoveCard(ctx context.Context, ref bot.CardRef) error {
	return post(ctx, n.client, n.url+"/remove", ref, nil)
}
func (n *remoteNotifier) Alert(ctx context.Context, text string) error {
	return post(ctx, n.client, n.url+"/alert", text, nil)
}

// ---------------------------------------------------------------------------
// The parent's fake platforms: they outlive every child.

// platforms plays a linked device (the message id comes from the key and
// the recipient shows one message per id), the Cloud API (cloudtest's Graph
// API: a new wamid per accepted send, every accepted send shown, answers
// lost, late or 5xx after acceptance, status webhooks with the key, some
// lost) and Teams (activities posted, updated and deleted).
type platforms struct {
	mu    sync.Mutex
	rng   *mrand.Rand
	child string // the running child's URL, "" while none runs

	waShown    map[string]string // message id → text, as the recipient shows it
	waSends    int
	waRepeats  int // sends of an id the recipient had: dropped as the same message
	graph      *cloudtest.Graph
	statusSeen map[string]bool    // wamids whose status webhook was queued or lost
	webhooks   [][]byte           // status webhooks still to deliver
	lost       int                // status webhooks never delivered
	acts       map[string]*posted // Teams activities
	actSeq     int
	alerts     int
	chaos      int             // linked answers lost after the send was taken
	forgot     map[string]bool // phone numbers a forgetter was handed
	forgetErrs int             // forgets refused, as a channel that is down

	faultMu  sync.Mutex
	faultRng *mrand.Rand
	faults   map[string]int // Cloud faults injected, by kind
}

type posted struct {
	draft   int64
	content bool // ever showed a card's content (not the placeholder)
	deleted bool
	latest  bot.Card
}

func newPlatforms(t *testing.T) *platforms {
	p := &platforms{
		rng:        mrand.New(mrand.NewPCG(1, 2)),
		waShown:    map[string]string{},
		statusSeen: map[string]bool{},
		acts:       map[string]*posted{},
		forgot:     map[string]bool{},
		faultRng:   mrand.New(mrand.NewPCG(3, 4)),
		faults:     map[string]int{},
	}
	p.graph = cloudtest.NewGraph(t, cloudPNID, cloudToken)
	p.graph.SetChaos(p.cloudFault)
	return p
}

// cloudFault decides what the Graph API does with one message: about one
// in eight is taken and its answer lost (dropped, late, or a 5xx), one in
// fifty refused with a 5xx before it is taken (the channel cannot tell
// that from the 5xx after), one in fifty refused by the pair-rate limit.
func (p *platforms) cloudFault() cloudtest.Fault {
	p.faultMu.Lock()
	defer p.faultMu.Unlock()
	n := p.faultRng.IntN(100)
	var kind string
	var f cloudtest.Fault
	switch {
	case n < 4:
		kind, f = "taken, connection dropped", cloudtest.Fault{LoseAnswer: true}
	case n < 6:
		kind, f = "taken, answer after the timeout", cloudtest.Fault{Delay: 1500 * time.Millisecond}
	case n < 10:
		kind, f = "taken, then 500", cloudtest.Fault{Status: 500, Code: 131000}
	case n < 12:
		kind, f = "not taken, 500", cloudtest.Fault{Refuse: true, Status: 500, Code: 131000}
	case n < 14:
		kind, f = "not taken, pair rate 131056", cloudtest.Fault{Refuse: true, Status: 400, Code: 131056}
	default:
		return f
	}
	p.faults[kind]++
	return f
}

// waID is the id whatsmeow gets for a key (the channel's messageID).
func waID(key string) string {
	sum := sha256.Sum256([]byte("switchboard/outbox/v1|" + key))
	return "3EB0" + strings.ToUpper(hex.EncodeToString(sum[:9]))
}

func (p *platforms) handler() http.Handler {
	mux := http.NewServeMux()
	decode := func(w http.ResponseWriter, r *http.Request, v any) bool {
		if err := json.NewDecoder(r.Body).Decode(v); err != nil {
			http.Error(w, "bad json", http.StatusBadRequest)
			return false
		}
		return true
	}
	reply := func(w http.ResponseWriter, v any) { _ = json.NewEncoder(w).Encode(v) }
	mux.HandleFunc("POST /send/linked", func(w http.ResponseWriter, r *http.Request) {
		var out bot.Outbound
		if !decode(w, r, &out) {
			return
		}
		id := waID(out.Key)
		p.mu.Lock()
		p.waSends++
		if _, ok := p.waShown[id]; ok {
			p.waRepeats++
		} else {
			p.waShown[id] = out.Text
		}
		lose := p.rng.IntN(20) == 0
		if lose {
			p.chaos++
		}
		p.mu.Unlock()
		if lose { // taken, but the answer is lost: the sender cannot know
			http.Error(w, "connection lost", http.StatusBadGateway)
			return
		}
		reply(w, map[string]string{"ID": id})
	})
	mux.HandleFunc("POST /teams/post", func(w http.ResponseWriter, r *http.Request) {
		var c bot.Card
		if !decode(w, r, &c) {
			return
		}
		p.mu.Lock()
		p.actSeq++
		id := fmt.Sprintf("act-%d", p.actSeq)
		p.acts[id] = &posted{draft: c.DraftID, content: !c.Preparing && !c.Removed, latest: c}
		p.mu.Unlock()
		reply(w, bot.CardRef{Conversation: "staff", ActivityID: id})
	})
	mux.HandleFunc("POST /teams/update", func(w http.ResponseWriter, r *http.Request) {
		var u cardUpdate
		if !decode(w, r, &u) {
			return
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		a := p.acts[u.Ref.ActivityID]
		if a == nil || a.deleted {
			http.Error(w, "no such activity", http.StatusNotFound)
			return
		}
		a.latest = u.Card
		if !u.Card.Preparing && !u.Card.Removed {
			a.content = true
		}
		reply(w, "ok")
	})
	mux.HandleFunc("POST /teams/remove", func(w http.ResponseWriter, r *http.Request) {
		var ref bot.CardRef
		if !decode(w, r, &ref) {
			return
		}
		p.mu.Lock()
		if a := p.acts[ref.ActivityID]; a != nil {
			a.deleted = true
		}
		p.mu.Unlock()
		reply(w, "ok")
	})
	mux.HandleFunc("POST /forgot", func(w http.ResponseWriter, r *http.Request) {
		var f forgotten
		if !decode(w, r, &f) {
			return
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.rng.IntN(5) == 0 { // the channel is down: the erasure must try again
			p.forgetErrs++
			http.Error(w, "channel down", http.StatusServiceUnavailable)
			return
		}
		for _, id := range f.IDs {
			if id.Kind == bot.IDPhone {
				p.forgot[id.Value] = true
			}
		}
		reply(w, "ok")
	})
	mux.HandleFunc("POST /teams/alert", func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.alerts++
		p.mu.Unlock()
		reply(w, "ok")
	})
	return mux
}

func (p *platforms) setChild(url string) {
	p.mu.Lock()
	p.child = url
	p.mu.Unlock()
}

// deliverReceipts posts a signed "sent" status webhook, carrying the key,
// for every message the Graph API took (some are lost, as Meta's can be),
// to whichever child runs, again and again until one answers 200 (Meta
// retries its webhooks).
func (p *platforms) deliverReceipts(ctx context.Context) {
	client := &http.Client{Timeout: 2 * time.Second}
	for ctx.Err() == nil {
		acc := p.graph.Accepted()
		p.mu.Lock()
		for _, m := range acc {
			if p.statusSeen[m.ID] {
				continue
			}
			p.statusSeen[m.ID] = true
			if p.rng.Float64() < *receiptLoss {
				p.lost++
				continue
			}
			p.webhooks = append(p.webhooks, cloudtest.Status(cloudPNID, m.To, m.ID, "sent", m.Key, time.Now().Unix(), 0))
		}
		child := p.child
		var body []byte
		if len(p.webhooks) > 0 && child != "" {
			body = p.webhooks[0]
		}
		p.mu.Unlock()
		if body == nil {
			sleep(ctx, 20*time.Millisecond)
			continue
		}
		if err := postWebhook(ctx, client, child, body); err != nil {
			sleep(ctx, 20*time.Millisecond)
			continue
		}
		p.mu.Lock()
		if len(p.webhooks) > 0 && bytes.Equal(p.webhooks[0], body) {
			p.webhooks = p.webhooks[1:]
		}
		p.mu.Unlock()
	}
}

// postWebhook posts a webhook body to the child signed as Meta signs it;
// only 200 is an acknowledgement.
func postWebhook(ctx context.Context, client *http.Client, child string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, child+"/webhooks/whatsapp", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Hub-Signature-256", cloudtest.Sign(cloudSecret, body))
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("webhook: status %d", resp.StatusCode)
	}
	return nil
}

// deliverInbound hands a customer's message to the child: through the
// Cloud channel's signed webhook for WhatsApp customers, as the linked
// channel would for the others. nil means acknowledged (stored).
func deliverInbound(ctx context.Context, client *http.Client, child string, in bot.Inbound) error {
	if in.Platform == bot.WhatsApp {
		body := cloudtest.TextMessage(cloudPNID, in.Sender.Value[1:], in.SenderName, string(in.ID), in.Text, in.SentAt.Unix())
		return postWebhook(ctx, client, child, body)
	}
	return post(ctx, client, child+"/inbound", in, nil)
}

func (p *platforms) pendingReceipts() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.webhooks)
}

// approvable returns the cards staff can approve now.
func (p *platforms) approvable() []bot.Card {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []bot.Card
	for _, a := range p.acts {
		c := a.latest
		if !a.deleted && a.content && c.Status == bot.DraftPending && c.Draft != "" {
			out = append(out, c)
		}
	}
	return out
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// ---------------------------------------------------------------------------
// The parent: customers, staff and the killer.

type customer struct {
	platform bot.Platform
	phone    string
	name     string
	chat     bot.ChatID
}

// world is what the parent knows happened: acknowledged messages, erasures.
type world struct {
	mu        sync.Mutex
	customers []customer
	seq       int
	acked     map[string]customer // platform message id → sender
	unacked   map[string]bot.Inbound
	inflight  map[string]int  // phone → inbound calls under way
	leaving   map[string]bool // phone → erasure asked (no more messages)
	erased    map[string]bool // phone → erasure acknowledged
	approved  map[int64]bool
	eraseFail int // erase calls cut off
}

func newWorld(n int) *world {
	w := &world{acked: map[string]customer{}, unacked: map[string]bot.Inbound{}, inflight: map[string]int{},
		leaving: map[string]bool{}, erased: map[string]bool{}, approved: map[int64]bool{}}
	for i := range n {
		c := customer{platform: linked, phone: fmt.Sprintf("+447700%06d", 900000+i), name: fmt.Sprintf("Customer %02d", i)}
		if i%2 == 1 {
			c.platform = bot.WhatsApp
		}
		c.chat = bot.ChatID(c.phone[1:] + "@s.whatsapp.net")
		w.customers = append(w.customers, c)
	}
	return w
}

func (w *world) inbound(c customer, id string) bot.Inbound {
	return bot.Inbound{Platform: c.platform, Chat: c.chat, ID: bot.MessageID(id),
		Sender: bot.Identity{Kind: bot.IDPhone, Value: c.phone}, SenderName: c.name, Role: bot.RoleCustomer,
		Kind: bot.KindText, Text: "msg " + id, SentAt: time.Now()}
}

// nextInbound picks a message to deliver: one not yet acknowledged (a
// redelivery) or a new one from a customer who is not leaving.
func (w *world) nextInbound(rng *mrand.Rand) (bot.Inbound, customer, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for id, in := range w.unacked {
		if rng.IntN(3) == 0 {
			c := w.byPhone(in.Sender.Value)
			if w.leaving[c.phone] {
				delete(w.unacked, id) // never redelivered after the erasure
				continue
			}
			w.inflight[c.phone]++
			return in, c, true
		}
	}
	for range 10 {
		c := w.customers[rng.IntN(len(w.customers))]
		if w.leaving[c.phone] {
			continue
		}
		w.seq++
		in := w.inbound(c, fmt.Sprintf("M%05d", w.seq))
		w.unacked[string(in.ID)] = in
		w.inflight[c.phone]++
		return in, c, true
	}
	return bot.Inbound{}, customer{}, false
}

func (w *world) byPhone(phone string) customer {
	for _, c := range w.customers {
		if c.phone == phone {
			return c
		}
	}
	panic("unknown phone")
}

func (w *world) doneInbound(in bot.Inbound, c customer, ok bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.inflight[c.phone]--
	if ok {
		delete(w.unacked, string(in.ID))
		w.acked[string(in.ID)] = c
	}
}

// leaver picks a customer who wrote and is not leaving, and marks them
// leaving once none of their messages is under way.
func (w *world) leaver(ctx context.Context, rng *mrand.Rand) (customer, bool) {
	w.mu.Lock()
	var candidates []customer
	for _, c := range w.customers {
		if w.leaving[c.phone] {
			continue
		}
		for _, s := range w.acked {
			if s.phone == c.phone {
				candidates = append(candidates, c)
				break
			}
		}
	}
	if len(candidates) < 4 {
		w.mu.Unlock()
		return customer{}, false
	}
	c := candidates[rng.IntN(len(candidates))]
	w.leaving[c.phone] = true
	w.mu.Unlock()
	for ctx.Err() == nil {
		w.mu.Lock()
		n := w.inflight[c.phone]
		w.mu.Unlock()
		if n == 0 {
			break
		}
		sleep(ctx, 2*time.Millisecond)
	}
	return c, true
}

// toErase lists customers leaving whose erasure was not acknowledged.
func (w *world) toErase() []customer {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []customer
	for _, c := range w.customers {
		if w.leaving[c.phone] && !w.erased[c.phone] {
			out = append(out, c)
		}
	}
	return out
}

// child is one run of the child process.
type child struct {
	cmd  *exec.Cmd
	url  string
	logs *bytes.Buffer
	mu   *sync.Mutex
	done chan error
}

func startChild(t *testing.T, dir, key, parent, graph string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envChild+"="+dir, envParent+"="+parent, envKey+"="+key, envGraph+"="+graph)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	c := &child{cmd: cmd, logs: &bytes.Buffer{}, mu: &sync.Mutex{}, done: make(chan error, 1)}
	cmd.Stderr = lockedWriter{c.mu, c.logs}
	require.NoError(t, cmd.Start())
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if url, ok := strings.CutPrefix(sc.Text(), "READY "); ok {
				ready <- url
			}
		}
	}()
	go func() { c.done <- cmd.Wait() }()
	select {
	case c.url = <-ready:
	case err := <-c.done:
		require.FailNow(t, "child exited before it was ready", "err=%v log:\n%s", err, c.log())
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		require.FailNow(t, "child not ready", c.log())
	}
	return c
}

func (c *child) log() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.logs.String()
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// counts are what the children logged, by event.
type counts map[string]int

// tally adds the events of a child's log lines.
func (n counts) tally(log string) {
	for _, line := range strings.Split(log, "\n") {
		var e struct {
			Message    string `json:"message"`
			Resolution string `json:"resolution"`
			Keys       int    `json:"keys"`
			Run        string `json:"run"`
		}
		if json.Unmarshal([]byte(line), &e) != nil {
			continue // a line cut by SIGKILL, or not ours
		}
		switch e.Message {
		case "in-doubt send resolved", "in-doubt send settled":
			n["in-doubt send: "+e.Resolution]++
		case "card post in doubt: posting a new placeholder; an earlier one, if it arrived, names nobody":
			n["in-doubt card: "+e.Resolution]++
		case "interrupted erasure completed":
			n["erasures finished at start-up"]++
		case "subject keys without a subject destroyed":
			n["orphan keys destroyed at start-up"] += e.Keys
		case "draft erased while its card was posted; card removed", "draft erased while its card was updated; card removed":
			n["cards removed after racing an erasure"]++
		case "cards of erased subjects removed":
			n["erasure card removals"]++
		case "channels forgot an erased subject":
			n["forgets finished later ("+e.Run+")"]++
		case "crash: graph connection refused":
			n["Cloud: connections refused before the request left"]++
		case "send outcome unknown; waiting for a receipt":
			n["Cloud: sends in doubt (answer lost or 5xx)"]++
		}
	}
}

// TestCrash kills the child with SIGKILL at random moments of a busy
// workload, restarts it on the same data after every kill, and checks what
// the issue promises.
func TestCrash(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	keyBytes := make([]byte, 32)
	_, err := rand.Read(keyBytes)
	require.NoError(t, err)
	key := hex.EncodeToString(keyBytes)
	p := newPlatforms(t)
	srv := httptest.NewServer(p.handler())
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go p.deliverReceipts(ctx)

	w := newWorld(24)
	ev := counts{}
	rng := mrand.New(mrand.NewPCG(uint64(time.Now().UnixNano()), 7))
	client := &http.Client{Timeout: 3 * time.Second}
	started := time.Now()
	for round := 0; round <= *kills; round++ {
		c := startChild(t, dir, key, srv.URL, p.graph.URL())
		p.setChild(c.url)
		if round < *kills {
			wctx, stop := context.WithCancel(ctx)
			var wg sync.WaitGroup
			for range 3 {
				r := mrand.New(mrand.NewPCG(rng.Uint64(), rng.Uint64()))
				wg.Go(func() { sendMessages(wctx, w, c.url, client, r) })
			}
			wg.Go(func() { approve(wctx, w, p, c.url, client) })
			if round%3 == 1 {
				r := mrand.New(mrand.NewPCG(rng.Uint64(), rng.Uint64()))
				wg.Go(func() { erase(wctx, w, c.url, client, r) })
			}
			sleep(ctx, time.Duration(150+rng.IntN(450))*time.Millisecond)
			require.NoError(t, c.cmd.Process.Signal(syscall.SIGKILL))
			<-c.done
			stop()
			wg.Wait()
		} else {
			settle(t, w, p, c, client)
			require.NoError(t, c.cmd.Process.Signal(syscall.SIGTERM))
			select {
			case err := <-c.done:
				require.NoError(t, err, "the last child stops cleanly:\n%s", c.log())
			case <-time.After(30 * time.Second):
				require.FailNow(t, "the last child did not stop")
			}
		}
		p.setChild("")
		ev.tally(c.log())
		if *verbose {
			t.Logf("child %d log:\n%s", round, c.log())
		}
	}
	elapsed := time.Since(started)

	// ---- checks on the files the children left
	main := openRaw(t, filepath.Join(dir, store.MainFile))
	keys := openRaw(t, filepath.Join(dir, store.KeysFile))
	for name, h := range map[string]*sql.DB{"switchboard.db": main, "keys.db": keys} {
		var res string
		require.NoError(t, h.QueryRow("PRAGMA integrity_check").Scan(&res))
		assert.Equal(t, "ok", res, name)
		rows, err := h.Query("PRAGMA foreign_key_check")
		require.NoError(t, err)
		assert.False(t, rows.Next(), "%s: foreign keys hold", name)
		require.NoError(t, rows.Close())
	}

	// No acknowledged message lost (those of people who left went with them).
	losses := 0
	for id, c := range w.acked {
		if w.leaving[c.phone] {
			continue
		}
		var n int
		require.NoError(t, main.QueryRow("SELECT count(*) FROM messages WHERE platform = ? AND platform_id = ? AND dir = 'in'",
			string(c.platform), id).Scan(&n))
		if n != 1 {
			losses++
		}
	}

	// No subject key left: every key has its subject, and every person who
	// left is gone.
	live := map[string]bool{}
	for _, s := range column(t, main, "SELECT id FROM subjects") {
		live[s] = true
	}
	leftoverKeys := 0
	for _, s := range column(t, keys, "SELECT subject_id FROM subject_keys") {
		if !live[s] {
			leftoverKeys++
		}
	}
	_ = main.Close()
	_ = keys.Close()
	db, err := store.New(store.Options{Dir: dir, MasterKey: keyBytes})
	require.NoError(t, err)
	require.NoError(t, db.Open(ctx))
	leftoverPeople := 0
	for phone := range w.erased {
		subs, err := db.FindSubjects(ctx, bot.Identity{Kind: bot.IDPhone, Value: phone})
		require.NoError(t, err)
		leftoverPeople += len(subs)
	}
	pendingForgets, err := db.PendingForgets(ctx)
	require.NoError(t, err)
	require.NoError(t, db.Close())
	main = openRaw(t, filepath.Join(dir, store.MainFile))
	defer main.Close()

	// No reply shown twice: WhatsApp shows one message per id, the Cloud
	// API every accepted send.
	accepted := p.graph.Accepted()
	cloudPosts := len(p.graph.Messages())
	p.mu.Lock()
	shown := map[string]int{}
	for _, text := range p.waShown {
		shown[text]++
	}
	cloudKeys := map[string]int{}
	for _, m := range accepted {
		shown[m.Text]++
		cloudKeys[m.Key]++
	}
	duplicates := 0
	for _, n := range shown {
		duplicates += n - 1
	}
	cloudResent := 0
	for _, n := range cloudKeys {
		cloudResent += n - 1
	}

	// Every card recorded: a card that ever showed content is in the store
	// or was deleted; one content card per draft; no live card names a
	// person who left.
	recorded := map[string]int64{}
	rows, err := main.Query("SELECT draft_id, activity_id FROM cards WHERE state = 'posted'")
	require.NoError(t, err)
	for rows.Next() {
		var d int64
		var a string
		require.NoError(t, rows.Scan(&d, &a))
		recorded[a] = d
	}
	require.NoError(t, rows.Close())
	leftNames := map[string]bool{}
	for _, c := range w.customers {
		if w.leaving[c.phone] {
			leftNames[c.name] = true
		}
	}
	unrecorded, orphanPlaceholders, twice, leaked := 0, 0, 0, 0
	perDraft := map[int64]int{}
	for id, a := range p.acts {
		if a.deleted {
			continue
		}
		_, rec := recorded[id]
		switch {
		case a.content && !rec:
			unrecorded++
		case !a.content && !rec:
			orphanPlaceholders++
		}
		if a.content {
			perDraft[a.draft]++
			if leftNames[a.latest.Customer] && !a.latest.Removed {
				leaked++
			}
		}
	}
	for _, n := range perDraft {
		if n > 1 {
			twice += n - 1
		}
	}
	waSends, waRepeats, lost, chaos, alerts, posts := p.waSends, p.waRepeats, p.lost, p.chaos, p.alerts, len(p.acts)
	// Every erased person's channel data was forgotten, with their number.
	unforgotten := 0
	for phone := range w.erased {
		if !p.forgot[phone] {
			unforgotten++
		}
	}
	forgetErrs := p.forgetErrs
	p.mu.Unlock()
	p.faultMu.Lock()
	var faults []string
	for k, n := range p.faults {
		faults = append(faults, fmt.Sprintf("%s %d", k, n))
	}
	p.faultMu.Unlock()
	sort.Strings(faults)
	// Unconfirmed replies: Meta has the message (its status webhook was
	// lost) or never took it (a 5xx before acceptance, a kill before the
	// request left); staff must check either way.
	unconfirmedTaken, unconfirmedNot := 0, 0
	for _, k := range column(t, main, "SELECT key FROM outbox WHERE status = 'unconfirmed'") {
		if cloudKeys[k] > 0 {
			unconfirmedTaken++
		} else {
			unconfirmedNot++
		}
	}
	drafts := column(t, main, "SELECT id FROM drafts")
	uncarded := 0
	for _, d := range drafts {
		var n int
		require.NoError(t, main.QueryRow("SELECT count(*) FROM cards WHERE draft_id = ? AND state = 'posted'", d).Scan(&n))
		if n != 1 {
			uncarded++
		}
	}
	outbox := map[string]int{}
	rows, err = main.Query("SELECT status, count(*) FROM outbox GROUP BY status")
	require.NoError(t, err)
	for rows.Next() {
		var s string
		var n int
		require.NoError(t, rows.Scan(&s, &n))
		outbox[s] = n
	}
	require.NoError(t, rows.Close())
	stranded := outbox["pending"] + outbox["sending"] + outbox["failed"]

	report := []string{
		fmt.Sprintf("kills %d in %s", *kills, elapsed.Round(time.Second)),
		fmt.Sprintf("messages acknowledged %d (customers who left: %d, erasures cut off and asked again: %d)", len(w.acked), len(w.erased), w.eraseFail),
		fmt.Sprintf("replies approved %d, shown to customers %d; WhatsApp sends %d (same-key repeats dropped by the recipient %d), Cloud resends of a key %d",
			len(w.approved), len(shown), waSends, waRepeats, cloudResent),
		fmt.Sprintf("outbox at the end %v; linked answers lost after the send %d, admin alerts %d", outbox, chaos, alerts),
		fmt.Sprintf("Cloud API (real channel): POST /messages %d, taken by Meta %d; faults: %s; status webhooks lost %d",
			cloudPosts, len(accepted), strings.Join(faults, ", "), lost),
		fmt.Sprintf("UNCONFIRMED %d (taken by Meta, status lost: %d; never taken: %d)", outbox["unconfirmed"], unconfirmedTaken, unconfirmedNot),
		fmt.Sprintf("cards posted %d (placeholders included); placeholders orphaned by a crash %d", posts, orphanPlaceholders),
		fmt.Sprintf("forgets refused by the channel (down) %d", forgetErrs),
		fmt.Sprintf("DUPLICATES %d  LOSSES %d  UNRECORDED CARDS %d  CARDS TWICE %d  LEFTOVER KEYS %d  LEFTOVER PEOPLE %d  LEAKED CARDS %d  UNCARDED %d  STRANDED %d  UNFORGOTTEN %d  PENDING FORGETS %d",
			duplicates, losses, unrecorded, twice, leftoverKeys, leftoverPeople, leaked, uncarded, stranded, unforgotten, len(pendingForgets)),
	}
	var names []string
	for k := range ev {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		report = append(report, fmt.Sprintf("%s: %d", k, ev[k]))
	}
	for _, line := range report {
		t.Log(line)
	}
	fmt.Println("crash test: " + strings.Join(report, "\ncrash test: "))

	assert.Zero(t, duplicates, "no reply shown twice")
	assert.Zero(t, losses, "no acknowledged message lost")
	assert.Zero(t, unrecorded, "every card with content is recorded or deleted")
	assert.Zero(t, twice, "no draft has two content cards")
	assert.Zero(t, leftoverKeys, "no key without its subject")
	assert.Zero(t, leftoverPeople, "every erased person is gone")
	assert.Zero(t, unforgotten, "every erased person's forgetter ran with their number")
	assert.Empty(t, pendingForgets, "every forget finished")
	assert.Zero(t, leaked, "no live card names an erased person")
	assert.Zero(t, uncarded, "every draft has its card")
	assert.Zero(t, stranded, "nothing approved is stranded")
	assert.NotEmpty(t, w.acked)
	assert.NotEmpty(t, w.approved)
}

// sendMessages delivers customers' messages until ctx is done.
func sendMessages(ctx context.Context, w *world, url string, client *http.Client, rng *mrand.Rand) {
	for ctx.Err() == nil {
		in, c, ok := w.nextInbound(rng)
		if !ok {
			sleep(ctx, 10*time.Millisecond)
			continue
		}
		err := deliverInbound(ctx, client, url, in)
		w.doneInbound(in, c, err == nil)
		sleep(ctx, time.Duration(5+rng.IntN(25))*time.Millisecond)
	}
}

// approve approves every card that can be, as staff would.
func approve(ctx context.Context, w *world, p *platforms, url string, client *http.Client) {
	for ctx.Err() == nil {
		for _, c := range p.approvable() {
			w.mu.Lock()
			done := w.approved[c.DraftID]
			w.mu.Unlock()
			if done {
				continue
			}
			var res bot.DecisionResult
			d := bot.Decision{DraftID: c.DraftID, Token: c.Token, Kind: bot.Approve, ActionID: fmt.Sprintf("click-%d-%d", c.DraftID, time.Now().UnixNano()),
				By: bot.Identity{Kind: bot.IDTeams, Value: "00000000-0000-0000-0000-0000000000a1"}, ByName: "Crash Staff"}
			if err := post(ctx, client, url+"/decide", d, &res); err != nil {
				continue
			}
			if res.Outcome == bot.Applied || res.Outcome == bot.AlreadyDecided {
				w.mu.Lock()
				w.approved[c.DraftID] = true
				w.mu.Unlock()
			}
		}
		sleep(ctx, 30*time.Millisecond)
	}
}

// erase asks again for the erasures not yet acknowledged, then has one more
// customer leave.
func erase(ctx context.Context, w *world, url string, client *http.Client, rng *mrand.Rand) {
	eraseAll(ctx, w, url, client)
	sleep(ctx, time.Duration(rng.IntN(100))*time.Millisecond)
	if _, ok := w.leaver(ctx, rng); ok {
		eraseAll(ctx, w, url, client)
	}
}

func eraseAll(ctx context.Context, w *world, url string, client *http.Client) {
	for _, c := range w.toErase() {
		if err := post(ctx, client, url+"/erase", map[string]string{"Phone": c.phone}, nil); err != nil {
			w.mu.Lock()
			w.eraseFail++
			w.mu.Unlock()
			return
		}
		w.mu.Lock()
		w.erased[c.phone] = true
		w.mu.Unlock()
	}
}

// settle lets the last child finish everything: messages not acknowledged
// are delivered again, erasures asked again, cards approved, callbacks
// delivered, until the child has no work left.
func settle(t *testing.T, w *world, p *platforms, c *child, client *http.Client) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	idle := 0
	for idle < 3 {
		require.NoError(t, ctx.Err(), "the last child did not settle; log:\n%s", c.log())
		w.mu.Lock()
		var redeliver []bot.Inbound
		for _, in := range w.unacked {
			if !w.leaving[in.Sender.Value] {
				redeliver = append(redeliver, in)
			}
		}
		w.mu.Unlock()
		for _, in := range redeliver {
			cu := w.byPhone(in.Sender.Value)
			w.mu.Lock()
			w.inflight[cu.phone]++
			w.mu.Unlock()
			w.doneInbound(in, cu, deliverInbound(ctx, client, c.url, in) == nil)
		}
		eraseAll(ctx, w, c.url, client)
		approveCtx, stop := context.WithTimeout(ctx, 100*time.Millisecond)
		approve(approveCtx, w, p, c.url, client)
		stop()
		var st childStatus
		resp, err := client.Get(c.url + "/status")
		if err == nil {
			err = json.NewDecoder(resp.Body).Decode(&st)
			resp.Body.Close()
		}
		w.mu.Lock()
		quiet := len(redeliver) == 0 && len(w.toEraseLocked()) == 0
		w.mu.Unlock()
		if err == nil && st.idle() && quiet && p.pendingReceipts() == 0 && len(p.approvable()) == 0 {
			idle++
		} else {
			idle = 0
		}
		sleep(ctx, 200*time.Millisecond)
	}
}

func (w *world) toEraseLocked() []string {
	var out []string
	for _, c := range w.customers {
		if w.leaving[c.phone] && !w.erased[c.phone] {
			out = append(out, c.phone)
		}
	}
	return out
}

func openRaw(t *testing.T, path string) *sql.DB {
	t.Helper()
	h, err := sql.Open("sqlite3", "file:"+path+"?mode=ro&_busy_timeout=5000")
	require.NoError(t, err)
	return h
}

func column(t *testing.T, h *sql.DB, q string) []string {
	t.Helper()
	rows, err := h.Query(q)
	require.NoError(t, err)
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		require.NoError(t, rows.Scan(&s))
		out = append(out, s)
	}
	require.NoError(t, rows.Err())
	return out
}
