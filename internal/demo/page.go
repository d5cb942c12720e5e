package demo

import (
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

//go:embed web
var web embed.FS

// csp keeps the page to its own origin: no CDN, no inline script.
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

// heartbeat keeps an idle event stream open through proxies and timeouts.
const heartbeat = 20 * time.Second

// event is one message of the page's event stream.
type event struct {
	name string
	data any
}

// messageEvent is a message created or changed, with its chat.
type messageEvent struct {
	Chat    ChatView    `json:"chat"`
	Message MessageView `json:"message"`
}

// subscriber is one open event stream.
type subscriber struct{ ch chan event }

// publishLocked sends ev to every stream; a stream too slow to keep up is
// closed (the page reconnects and gets the whole state). s.mu is held.
func (s *Simulator) publishLocked(ev event) {
	for sub := range s.subs {
		select {
		case sub.ch <- ev:
		default:
			delete(s.subs, sub)
			close(sub.ch)
		}
	}
}

// pageState is the page's first view, and its view after a reconnect.
type pageState struct {
	Business struct {
		Name   string `json:"name"`
		Number string `json:"number"`
	} `json:"business"`
	StaffHint    string        `json:"staff_hint"`
	StaffCommand string        `json:"staff_command"`
	Chats        []ChatView    `json:"chats"`
	Messages     []MessageView `json:"messages"`
	Wire         []WireEntry   `json:"wire"`
}

// stateLocked builds the page state. s.mu is held.
func (s *Simulator) stateLocked() pageState {
	var st pageState
	st.Business.Name, st.Business.Number = s.opts.BusinessName, s.opts.BusinessNumber
	st.StaffHint, st.StaffCommand = s.opts.StaffHint, s.opts.StaffCommand
	st.Chats, st.Messages, st.Wire = []ChatView{}, []MessageView{}, append([]WireEntry{}, s.wire...)
	for _, id := range s.order {
		c := s.chats[id]
		st.Chats = append(st.Chats, c.ChatView)
		for _, m := range c.msgs {
			st.Messages = append(st.Messages, m.view())
		}
	}
	return st
}

// pageRoutes mounts the page, its assets and its API on mux.
func (s *Simulator) pageRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		serveAsset(w, "web/index.html", "text/html; charset=utf-8")
	})
	mux.HandleFunc("GET /sim/app.js", func(w http.ResponseWriter, r *http.Request) {
		serveAsset(w, "web/app.js", "text/javascript; charset=utf-8")
	})
	mux.HandleFunc("GET /sim/style.css", func(w http.ResponseWriter, r *http.Request) {
		serveAsset(w, "web/style.css", "text/css; charset=utf-8")
	})
	mux.HandleFunc("GET /sim/api/state", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		st := s.stateLocked()
		s.mu.Unlock()
		writeJSON(w, http.StatusOK, st)
	})
	mux.HandleFunc("GET /sim/api/events", s.serveEvents)
	mux.HandleFunc("POST /sim/api/chats", sameOrigin(s.serveChat))
	mux.HandleFunc("POST /sim/api/messages", sameOrigin(s.serveSend))
	mux.HandleFunc("POST /sim/api/receipts", sameOrigin(s.serveReceipt))
	mux.HandleFunc("GET /sim/media/{id}", s.serveMedia)
}

// serveAsset writes an embedded file.
func serveAsset(w http.ResponseWriter, name, contentType string) {
	b, err := web.ReadFile(name)
	if err != nil {
		http.NotFound(w, nil)
		return
	}
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Content-Security-Policy", csp)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-cache")
	_, _ = w.Write(b)
}

// apiError answers the page with a sentence it shows as it is.
func apiError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

// sameOrigin admits only JSON posts from the page itself: another site's
// page in the same browser can neither send JSON without a preflight nor
// pass the Origin check.
func sameOrigin(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
			apiError(w, http.StatusUnsupportedMediaType, "Send JSON.")
			return
		}
		if o := r.Header.Get("Origin"); o != "" {
			u, err := url.Parse(o)
			if err != nil || u.Host != r.Host {
				apiError(w, http.StatusForbidden, "Only the simulator's own page may do that.")
				return
			}
		}
		if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" && site != "none" {
			apiError(w, http.StatusForbidden, "Only the simulator's own page may do that.")
			return
		}
		next(w, r)
	}
}

// readJSON decodes a small JSON body into v.
func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 64<<10))
	if err != nil {
		apiError(w, http.StatusRequestEntityTooLarge, "That is too long.")
		return false
	}
	if err := json.Unmarshal(b, v); err != nil {
		apiError(w, http.StatusBadRequest, "The request is not valid JSON.")
		return false
	}
	return true
}

// customer is who the page writes as.
type customer struct {
	Name   string `json:"name"`
	Number string `json:"number"`
}

// check normalizes the name and number, or says what is wrong; shown is
// the number as the page shows it.
func (c customer) check() (name, waID, shown string, err error) {
	name = strings.TrimSpace(c.Name)
	switch {
	case name == "":
		return "", "", "", errors.New("Type a name: WhatsApp shows it to the business as your profile name.")
	case len(name) > maxNameBytes || !utf8.ValidString(name) || strings.IndexFunc(name, unicode.IsControl) >= 0:
		return "", "", "", fmt.Errorf("Use a shorter name (at most %d letters), on one line.", maxNameBytes)
	}
	if waID, err = ParseNumber(c.Number); err != nil {
		return "", "", "", err
	}
	shown = "+" + waID
	if n := strings.Join(strings.Fields(c.Number), " "); strings.HasPrefix(n, "+") {
		shown = n
	}
	return name, waID, shown, nil
}

// ParseNumber turns a phone number as people type it ("+44 7700 900123",
// "0044 7700-900123") into the digits Meta names a WhatsApp user by
// ("447700900123"). A number without its country code is refused.
func ParseNumber(s string) (string, error) {
	s = strings.TrimSpace(s)
	var b strings.Builder
	for i, r := range s {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == '+' && i == 0:
		case r == ' ' || r == '-' || r == '.' || r == '(' || r == ')':
		default:
			return "", errors.New("A phone number has only digits, spaces and a leading +, such as +44 7700 900123.")
		}
	}
	d := b.String()
	switch {
	case strings.HasPrefix(s, "+"):
	case strings.HasPrefix(d, "00"):
		d = d[2:]
	case strings.HasPrefix(d, "0"):
		return "", errors.New("Type the number with its country code, such as +44 7700 900123.")
	}
	if len(d) < 8 || len(d) > 15 || d[0] == '0' {
		return "", errors.New("That does not look like a phone number: type 8 to 15 digits with the country code, such as +44 7700 900123.")
	}
	return d, nil
}

// serveChat starts (or renames) a customer's chat without a message.
func (s *Simulator) serveChat(w http.ResponseWriter, r *http.Request) {
	var c customer
	if !readJSON(w, r, &c) {
		return
	}
	name, waID, shown, err := c.check()
	if err != nil {
		apiError(w, http.StatusBadRequest, err.Error())
		return
	}
	s.mu.Lock()
	ch := s.chatLocked(waID, name, shown)
	var view ChatView
	if ch != nil {
		view = ch.ChatView
		s.publishLocked(event{name: "chat", data: view})
	}
	s.mu.Unlock()
	if ch == nil {
		apiError(w, http.StatusServiceUnavailable, fmt.Sprintf("The simulator holds %d chats already: restart the demo for more.", maxChats))
		return
	}
	writeJSON(w, http.StatusOK, view)
}

// serveSend takes a customer's message and queues its webhook.
func (s *Simulator) serveSend(w http.ResponseWriter, r *http.Request) {
	var in struct {
		customer
		Text string `json:"text"`
	}
	if !readJSON(w, r, &in) {
		return
	}
	name, waID, shown, err := in.check()
	if err != nil {
		apiError(w, http.StatusBadRequest, err.Error())
		return
	}
	text := strings.TrimRight(in.Text, " \t\r\n")
	switch {
	case strings.TrimSpace(text) == "":
		apiError(w, http.StatusBadRequest, "Type a message first.")
		return
	case !utf8.ValidString(text) || utf8.RuneCountInString(text) > maxTextBytes:
		apiError(w, http.StatusBadRequest, fmt.Sprintf("WhatsApp takes at most %d characters in one message.", maxTextBytes))
		return
	}
	s.mu.Lock()
	c := s.chatLocked(waID, name, shown)
	if c == nil {
		s.mu.Unlock()
		apiError(w, http.StatusServiceUnavailable, fmt.Sprintf("The simulator holds %d chats already: restart the demo for more.", maxChats))
		return
	}
	m := &message{MessageView: MessageView{ID: newWamid(), WaID: waID, From: "customer", Type: "text", Text: text, At: s.nowMillis(), Status: StatusSent}}
	s.addLocked(c, m)
	cv, body := c.ChatView, s.textWebhook(c.ChatView, m.MessageView)
	s.changedLocked(m)
	first := m.view()
	s.mu.Unlock()

	err = s.enqueue(delivery{body: body, summary: "message from +" + waID, progress: func(code int, ok, last bool) {
		s.mu.Lock()
		defer s.mu.Unlock()
		switch {
		case ok:
			if rank(m.Status) >= rank(StatusDelivered) {
				return
			}
			m.Status, m.Detail = StatusDelivered, ""
		case last:
			m.Status, m.Detail = StatusFailed, failedDetail(code)
		default:
			m.Status, m.Detail = StatusRetrying, retryDetail(code)
		}
		s.changedLocked(m)
	}})
	if err != nil {
		s.mu.Lock()
		m.Status, m.Detail = StatusFailed, err.Error()
		s.changedLocked(m)
		s.mu.Unlock()
		apiError(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	s.log.Debug().Msg("demo customer message queued")
	writeJSON(w, http.StatusAccepted, messageEvent{Chat: cv, Message: first})
}

// retryDetail says why a webhook is being posted again.
func retryDetail(code int) string {
	if code == 0 {
		return "Switchboard did not answer; trying again, as Meta would."
	}
	return fmt.Sprintf("Switchboard answered %d %s; trying again, as Meta would.", code, http.StatusText(code))
}

// failedDetail says why the simulator gave up on a webhook.
func failedDetail(code int) string {
	if code == 0 {
		return "Switchboard did not answer. Is the demo still running?"
	}
	return fmt.Sprintf("Switchboard answered %d %s every time; the simulator gave up.", code, http.StatusText(code))
}

// serveReceipt reports a reply delivered (the page received it) or read
// (it was on screen) to the bot.
func (s *Simulator) serveReceipt(w http.ResponseWriter, r *http.Request) {
	var in struct {
		ID     string `json:"id"`
		Status string `json:"status"`
	}
	if !readJSON(w, r, &in) {
		return
	}
	if in.Status != StatusDelivered && in.Status != StatusRead {
		apiError(w, http.StatusBadRequest, "A receipt is delivered or read.")
		return
	}
	s.mu.Lock()
	m, ok := s.msgs[in.ID]
	s.mu.Unlock()
	if !ok || m.From != "business" {
		apiError(w, http.StatusNotFound, "No such reply.")
		return
	}
	if in.Status == StatusRead {
		s.queueStatus(m, StatusDelivered, 0, "") // read implies delivered; a no-op if queued already
	}
	s.queueStatus(m, in.Status, 0, "")
	writeJSON(w, http.StatusAccepted, map[string]string{})
}

// serveMedia lets the page download a document the bot sent, until the bot
// deletes it.
func (s *Simulator) serveMedia(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	f, ok := s.media[r.PathValue("id")]
	var data []byte
	var name, typ string
	if ok {
		data, name, typ = f.data, f.filename, f.mime
		for _, id := range f.msgs {
			if m, ok := s.msgs[id]; ok && m.Document != nil && m.Document.Filename != "" {
				name = m.Document.Filename
			}
		}
	}
	s.mu.Unlock()
	if !ok {
		http.Error(w, "This file is no longer held: Switchboard deleted it at Meta, or it never existed.", http.StatusGone)
		return
	}
	h := w.Header()
	h.Set("Content-Type", typ)
	h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": name}))
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	h.Set("Cache-Control", "no-store")
	_, _ = w.Write(data)
}

// serveEvents streams the page's events (Server-Sent Events): the whole
// state first, then each change, until the page leaves or the simulator
// stops.
func (s *Simulator) serveEvents(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	// A stream outlives the server's request timeouts.
	_ = rc.SetReadDeadline(time.Time{})
	_ = rc.SetWriteDeadline(time.Time{})
	sub := &subscriber{ch: make(chan event, 256)}
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		http.Error(w, "the demo is stopping", http.StatusServiceUnavailable)
		return
	}
	st := s.stateLocked()
	s.subs[sub] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		if _, ok := s.subs[sub]; ok {
			delete(s.subs, sub)
			close(sub.ch)
		}
		s.mu.Unlock()
	}()
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	if _, err := io.WriteString(w, "retry: 2000\n\n"); err != nil {
		return
	}
	if writeEvent(w, event{name: "state", data: st}) != nil || rc.Flush() != nil {
		return
	}
	t := time.NewTicker(heartbeat)
	defer t.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case ev, ok := <-sub.ch:
			if !ok {
				return
			}
			if writeEvent(w, ev) != nil {
				return
			}
		case <-t.C:
			if _, err := io.WriteString(w, ": ping\n\n"); err != nil {
				return
			}
		}
		if rc.Flush() != nil {
			return
		}
	}
}

// writeEvent writes one Server-Sent Event with JSON data (one line).
func writeEvent(w io.Writer, ev event) error {
	b, err := json.Marshal(ev.data)
	if err != nil {
		return fmt.Errorf("encode event: %w", err)
	}
	_, err = fmt.Fprintf(w, "event: %s\ndata: %s\n\n", ev.name, b)
	return err
}
