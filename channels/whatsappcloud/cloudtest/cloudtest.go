// Package cloudtest plays Meta for tests of the WhatsApp Business Platform
// channel: a loopback Graph API server that speaks the Cloud API's wire
// format (send text, photos, audio, video, documents and templates; upload
// files of the types Meta supports, look up, download and delete media;
// error answers) and records every request, and webhook payloads signed as
// Meta signs them. The channel's own tests and the end-to-end tests in
// cmd/switchboard use it; production code does not.
package cloudtest

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Version is the Graph API version the fake serves under.
const Version = "v26.0"

// Request is one request the fake Graph API received.
type Request struct {
	Method string
	Path   string // without the version, "/106540352242922/messages"
	Body   []byte // as sent (for an upload, the multipart body)
	// For messages: the decoded JSON and its main fields.
	JSON      map[string]any
	To        string // "to" (a wa_id)
	Recipient string // "recipient" (a business-scoped user id)
	Type      string // text, document, image, audio, video, template
	Text      string // text.body, or the caption of a document, image or video
	Key       string // biz_opaque_callback_data
	Template  string // template.name
	Language  string // template.language.code
	MediaID   string // the id of the document, image, audio or video
	Filename  string // document.filename
	ID        string // the wamid the fake answered with; "" if it refused
	// For uploads: the form.
	Form     map[string]string
	File     []byte
	FileName string
	FileType string
}

// failure is a scripted error answer.
type failure struct {
	status, code int
}

// Fault is what the fake does after it accepted a message (the message
// counts as sent, with its wamid, whatever the sender hears): the cases
// where a sender cannot know whether Meta took it.
type Fault struct {
	// LoseAnswer drops the connection instead of answering.
	LoseAnswer bool
	// Delay holds the answer back this long (past the sender's timeout).
	Delay time.Duration
	// Status and Code, if Status is set, answer with a Graph error (a 500
	// after acceptance) instead of the wamid.
	Status, Code int
	// Refuse makes the fake not take the message at all and answer Status
	// and Code (a rate limit, or a 5xx before acceptance).
	Refuse bool
}

// Graph is a loopback Graph API for one business phone number.
type Graph struct {
	srv           *httptest.Server
	phoneNumberID string
	token         string

	mu          sync.Mutex
	reqs        []Request
	media       map[string]Request
	fails       []failure
	uploadFails map[string][]failure // by the upload's type
	faults      []Fault
	chaos       func() Fault
	seq         int
}

// NewGraph starts a fake Graph API that accepts the bearer token for the
// phone number id; it stops when the test ends.
func NewGraph(t testing.TB, phoneNumberID, token string) *Graph {
	t.Helper()
	g := &Graph{phoneNumberID: phoneNumberID, token: token, media: map[string]Request{}}
	g.srv = httptest.NewServer(http.HandlerFunc(g.serve))
	t.Cleanup(g.srv.Close)
	return g
}

// URL is the base to configure the channel with, version included.
func (g *Graph) URL() string { return g.srv.URL + "/" + Version }

// FailNext makes the next n requests (after the token check) answer with
// an HTTP status and a Graph error code (e.g. 400 and 131047).
func (g *Graph) FailNext(n, status, code int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for range n {
		g.fails = append(g.fails, failure{status, code})
	}
}

// FailUploads makes the next n uploads of files of type fileType (the
// form's type field, "image/jpeg") answer with an HTTP status and a Graph
// error code; other uploads and messages go on as usual.
func (g *Graph) FailUploads(fileType string, n, status, code int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.uploadFails == nil {
		g.uploadFails = map[string][]failure{}
	}
	for range n {
		g.uploadFails[fileType] = append(g.uploadFails[fileType], failure{status, code})
	}
}

// SetToken makes the fake accept only token from now on (the old one is
// revoked, as when a system user's token is rotated).
func (g *Graph) SetToken(token string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.token = token
}

// AcceptThen makes the fake accept the next n messages and then do f to
// each answer.
func (g *Graph) AcceptThen(n int, f Fault) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for range n {
		g.faults = append(g.faults, f)
	}
}

// SetChaos makes the fake ask fn what to do with each message for which
// no AcceptThen fault is queued (a zero Fault: answer normally). fn must
// be safe for concurrent use.
func (g *Graph) SetChaos(fn func() Fault) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.chaos = fn
}

// Accepted returns the messages the fake accepted (gave a wamid), oldest
// first: what the customer sees, whatever the sender heard.
func (g *Graph) Accepted() []Request {
	var out []Request
	for _, r := range g.Messages() {
		if r.ID != "" {
			out = append(out, r)
		}
	}
	return out
}

// Requests returns every request so far, oldest first.
func (g *Graph) Requests() []Request {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]Request(nil), g.reqs...)
}

// Messages returns the messages sent (accepted or not), oldest first.
func (g *Graph) Messages() []Request {
	var out []Request
	for _, r := range g.Requests() {
		if r.Method == http.MethodPost && strings.HasSuffix(r.Path, "/messages") {
			out = append(out, r)
		}
	}
	return out
}

// Uploads returns the media uploads, oldest first.
func (g *Graph) Uploads() []Request {
	var out []Request
	for _, r := range g.Requests() {
		if r.Method == http.MethodPost && strings.HasSuffix(r.Path, "/media") {
			out = append(out, r)
		}
	}
	return out
}

// Deletes returns the media ids the channel asked to delete.
func (g *Graph) Deletes() []string {
	var out []string
	for _, r := range g.Requests() {
		if r.Method == http.MethodDelete {
			out = append(out, strings.TrimPrefix(r.Path, "/"))
		}
	}
	return out
}

// HasMedia reports whether a media id is held (uploaded, not deleted).
func (g *Graph) HasMedia(id string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	_, ok := g.media[id]
	return ok
}

// AddMedia makes id a media id the fake holds (a file a customer sent).
func (g *Graph) AddMedia(id string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.media[id] = Request{}
}

// AddMediaFile makes id a file a customer sent, of type mime, served by
// GET /{media-id} (its url, mime_type, sha256 and file_size, the size as a
// string as Meta writes it) and by the download URL, which needs the
// bearer token as Meta's does.
func (g *Graph) AddMediaFile(id, mime string, data []byte) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.media[id] = Request{File: append([]byte(nil), data...), FileType: mime}
}

// Downloads returns the media downloads (GETs of a media URL), oldest
// first; their Path is "/download/<media-id>".
func (g *Graph) Downloads() []Request {
	var out []Request
	for _, r := range g.Requests() {
		if r.Method == http.MethodGet && strings.HasPrefix(r.Path, "/download/") {
			out = append(out, r)
		}
	}
	return out
}

func graphError(w http.ResponseWriter, status, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{
		"message": fmt.Sprintf("(#%d) %s", code, msg), "type": "OAuthException", "code": code,
		"error_data": map[string]any{"messaging_product": "whatsapp", "details": msg}, "fbtrace_id": "Agraphfake",
	}})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func (g *Graph) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 200<<20))
	path, ok := strings.CutPrefix(r.URL.Path, "/"+Version)
	if strings.HasPrefix(r.URL.Path, "/download/") {
		// The media host is not versioned.
		path, ok = r.URL.Path, true
	}
	rec := Request{Method: r.Method, Path: path, Body: body}
	g.mu.Lock()
	g.reqs = append(g.reqs, rec)
	idx := len(g.reqs) - 1
	g.mu.Unlock()
	update := func(f func(*Request)) {
		g.mu.Lock()
		f(&g.reqs[idx])
		g.mu.Unlock()
	}
	if !ok {
		graphError(w, http.StatusBadRequest, 2635, "Unknown or deprecated API version")
		return
	}
	g.mu.Lock()
	token := g.token
	g.mu.Unlock()
	if r.Header.Get("Authorization") != "Bearer "+token {
		if strings.HasPrefix(path, "/download/") {
			// Meta's media host answers a download without the token with
			// a bare 401 (or an HTML page), not a Graph error.
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		graphError(w, http.StatusUnauthorized, 190, "Invalid OAuth access token - Cannot parse access token")
		return
	}
	if g.scripted(w) {
		return
	}
	parts := strings.Split(strings.Trim(path, "/"), "/")
	switch {
	case r.Method == http.MethodGet && len(parts) == 1 && parts[0] == g.phoneNumberID:
		writeJSON(w, map[string]any{"id": g.phoneNumberID})
		return
	case r.Method == http.MethodPost && len(parts) == 2 && parts[0] == g.phoneNumberID && parts[1] == "messages":
		g.message(w, r, body, update)
		return
	case r.Method == http.MethodPost && len(parts) == 2 && parts[0] == g.phoneNumberID && parts[1] == "media":
		g.upload(w, r, body, update)
		return
	case r.Method == http.MethodGet && len(parts) == 2 && parts[0] == "download":
		g.mu.Lock()
		f, held := g.media[parts[1]]
		g.mu.Unlock()
		if !held || f.File == nil || r.URL.Query().Get("hash") == "" {
			http.Error(w, "not found", http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", f.FileType)
		w.Header().Set("Content-Length", strconv.Itoa(len(f.File)))
		_, _ = w.Write(f.File)
		return
	case r.Method == http.MethodGet && len(parts) == 1:
		g.mu.Lock()
		f, held := g.media[parts[0]]
		g.mu.Unlock()
		if !held || f.File == nil {
			graphError(w, http.StatusBadRequest, 100, "Unsupported get request. Object with ID '"+parts[0]+"' does not exist, cannot be loaded due to missing permissions, or does not support this operation.")
			return
		}
		if pn := r.URL.Query().Get("phone_number_id"); pn != "" && pn != g.phoneNumberID {
			graphError(w, http.StatusBadRequest, 100, "Param phone_number_id is not valid for this media")
			return
		}
		sum := sha256.Sum256(f.File)
		writeJSON(w, map[string]any{
			"messaging_product": "whatsapp",
			"url":               "http://" + r.Host + "/download/" + parts[0] + "?ext=" + strconv.Itoa(len(f.File)) + "&hash=" + hex.EncodeToString(sum[:8]),
			"mime_type":         f.FileType,
			"sha256":            hex.EncodeToString(sum[:]),
			"file_size":         strconv.Itoa(len(f.File)),
			"id":                parts[0],
		})
		return
	case r.Method == http.MethodDelete && len(parts) == 1:
		g.mu.Lock()
		_, held := g.media[parts[0]]
		delete(g.media, parts[0])
		g.mu.Unlock()
		if !held {
			graphError(w, http.StatusBadRequest, 100, "Unsupported delete request")
			return
		}
		writeJSON(w, map[string]any{"success": true})
		return
	}
	graphError(w, http.StatusBadRequest, 100, "Unsupported request")
}

// scripted answers with the next scripted failure, if any.
func (g *Graph) scripted(w http.ResponseWriter) bool {
	g.mu.Lock()
	if len(g.fails) == 0 {
		g.mu.Unlock()
		return false
	}
	f := g.fails[0]
	g.fails = g.fails[1:]
	g.mu.Unlock()
	graphError(w, f.status, f.code, "scripted failure")
	return true
}

// hasKey reports whether v is an object with key k.
func hasKey(v any, k string) bool {
	m, _ := v.(map[string]any)
	_, ok := m[k]
	return ok
}

func str(m map[string]any, keys ...string) string {
	var v any = m
	for _, k := range keys {
		mm, ok := v.(map[string]any)
		if !ok {
			return ""
		}
		v = mm[k]
	}
	s, _ := v.(string)
	return s
}

// message checks a send as the Cloud API does and answers with a wamid.
func (g *Graph) message(w http.ResponseWriter, r *http.Request, body []byte, update func(func(*Request))) {
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		graphError(w, http.StatusBadRequest, 100, "Invalid parameter")
		return
	}
	typ := str(m, "type")
	req := Request{JSON: m, To: str(m, "to"), Recipient: str(m, "recipient"), Type: typ, Key: str(m, "biz_opaque_callback_data")}
	switch typ {
	case "text":
		req.Text = str(m, "text", "body")
	case "document":
		req.Text, req.MediaID, req.Filename = str(m, "document", "caption"), str(m, "document", "id"), str(m, "document", "filename")
	case "image", "video":
		req.Text, req.MediaID = str(m, typ, "caption"), str(m, typ, "id")
	case "audio":
		req.MediaID = str(m, "audio", "id")
	case "template":
		req.Template, req.Language = str(m, "template", "name"), str(m, "template", "language", "code")
	}
	update(func(r *Request) {
		r.JSON, r.To, r.Recipient, r.Type, r.Text, r.Key = req.JSON, req.To, req.Recipient, req.Type, req.Text, req.Key
		r.Template, r.Language, r.MediaID, r.Filename = req.Template, req.Language, req.MediaID, req.Filename
	})
	switch {
	case str(m, "messaging_product") != "whatsapp":
		graphError(w, http.StatusBadRequest, 100, "The parameter messaging_product is required.")
		return
	case req.To == "" && req.Recipient == "":
		graphError(w, http.StatusBadRequest, 100, "The parameter to is required.")
		return
	case typ == "text" && req.Text == "":
		graphError(w, http.StatusBadRequest, 100, "The parameter text['body'] is required.")
		return
	case typ == "template" && (req.Template == "" || req.Language == ""):
		graphError(w, http.StatusBadRequest, 132001, "Template name does not exist in the translation")
		return
	case typ == "audio" && hasKey(m["audio"], "caption"):
		graphError(w, http.StatusBadRequest, 100, "Param audio['caption'] is not a valid parameter")
		return
	case typ == "document" || typ == "image" || typ == "audio" || typ == "video":
		g.mu.Lock()
		held, ok := g.media[req.MediaID]
		g.mu.Unlock()
		if !ok {
			graphError(w, http.StatusBadRequest, 131053, "Media upload error")
			return
		}
		if held.Form != nil && mediaKinds[held.Form["type"]] != typ {
			// An uploaded file goes only as the message its type is for.
			graphError(w, http.StatusBadRequest, 131053, "Media upload error: the media does not match the message type")
			return
		}
	case typ != "text" && typ != "template":
		graphError(w, http.StatusBadRequest, 131051, "Unsupported message type")
		return
	}
	g.mu.Lock()
	var f Fault
	switch {
	case len(g.faults) > 0:
		f, g.faults = g.faults[0], g.faults[1:]
	case g.chaos != nil:
		f = g.chaos()
	}
	if f.Refuse {
		g.mu.Unlock()
		graphError(w, f.Status, f.Code, "scripted refusal")
		return
	}
	g.seq++
	id := fmt.Sprintf("wamid.HBgMNDQ3NzAwOTAwMTIzFQIAERgSFAKE%06d", g.seq)
	g.mu.Unlock()
	update(func(r *Request) { r.ID = id })
	if f.Delay > 0 {
		select {
		case <-time.After(f.Delay):
		case <-r.Context().Done():
			return
		}
	}
	switch {
	case f.LoseAnswer:
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				_ = conn.Close()
				return
			}
		}
		panic(http.ErrAbortHandler) // closes the connection without an answer
	case f.Status != 0:
		graphError(w, f.Status, f.Code, "An unexpected error has occurred. Please retry your request later.")
		return
	}
	input := req.To
	if input == "" {
		input = req.Recipient
	}
	writeJSON(w, map[string]any{
		"messaging_product": "whatsapp",
		"contacts":          []any{map[string]any{"input": input, "wa_id": req.To}},
		"messages":          []any{map[string]any{"id": id}},
	})
}

// mediaKinds are the upload types Meta supports, with the message type
// each goes as (Meta's "Supported media types").
var mediaKinds = map[string]string{
	"image/jpeg": "image", "image/png": "image", "image/webp": "sticker",
	"audio/aac": "audio", "audio/amr": "audio", "audio/mpeg": "audio", "audio/mp4": "audio", "audio/ogg": "audio",
	"video/mp4": "video", "video/3gpp": "video",
	"text/plain": "document", "application/pdf": "document", "application/msword": "document", "application/vnd.ms-excel": "document",
	"application/vnd.ms-powerpoint": "document", "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "document",
	"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet":         "document",
	"application/vnd.openxmlformats-officedocument.presentationml.presentation": "document",
}

// mediaLimits are Meta's size limits by message type.
var mediaLimits = map[string]int{"image": 5 << 20, "sticker": 500 << 10, "audio": 16 << 20, "video": 16 << 20, "document": 100 << 20}

// upload stores a multipart media upload and answers with its id.
func (g *Graph) upload(w http.ResponseWriter, r *http.Request, body []byte, update func(func(*Request))) {
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" {
		graphError(w, http.StatusBadRequest, 100, "Invalid parameter")
		return
	}
	mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
	form := map[string]string{}
	var file []byte
	var name, ftype string
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			graphError(w, http.StatusBadRequest, 100, "Invalid parameter")
			return
		}
		b, _ := io.ReadAll(p)
		if p.FormName() == "file" {
			file, name, ftype = b, p.FileName(), p.Header.Get("Content-Type")
			continue
		}
		form[p.FormName()] = string(b)
	}
	update(func(r *Request) { r.Form, r.File, r.FileName, r.FileType = form, file, name, ftype })
	if form["messaging_product"] != "whatsapp" || form["type"] == "" || file == nil {
		graphError(w, http.StatusBadRequest, 100, "The parameter messaging_product is required.")
		return
	}
	kind, ok := mediaKinds[form["type"]]
	if !ok {
		graphError(w, http.StatusBadRequest, 131053, "Media upload error: unsupported type")
		return
	}
	if len(file) > mediaLimits[kind] {
		graphError(w, http.StatusBadRequest, 131053, "Media upload error: the file is too large for its type")
		return
	}
	g.mu.Lock()
	if f := g.uploadFails[form["type"]]; len(f) > 0 {
		g.uploadFails[form["type"]] = f[1:]
		g.mu.Unlock()
		graphError(w, f[0].status, f[0].code, "scripted upload failure")
		return
	}
	g.seq++
	id := strconv.Itoa(1000000000000000 + g.seq)
	g.media[id] = Request{File: file, FileName: name, FileType: ftype, Form: form}
	g.mu.Unlock()
	writeJSON(w, map[string]any{"id": id})
}

// Sign returns the X-Hub-Signature-256 header Meta sends with body.
func Sign(appSecret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(appSecret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Envelope wraps a webhook value ("messages", "statuses", "contacts", …)
// for the phone number id as Meta posts it.
func Envelope(phoneNumberID string, value map[string]any) []byte {
	v := map[string]any{"messaging_product": "whatsapp", "metadata": map[string]any{"display_phone_number": "15550783881", "phone_number_id": phoneNumberID}}
	for k, x := range value {
		v[k] = x
	}
	b, _ := json.Marshal(map[string]any{"object": "whatsapp_business_account", "entry": []any{map[string]any{
		"id": "102290129340398", "changes": []any{map[string]any{"field": "messages", "value": v}},
	}}})
	return b
}

// TextMessage is a webhook payload with one text message from wa_id (the
// sender's phone digits) with profile name, message id wamid and Unix time.
func TextMessage(phoneNumberID, waID, name, wamid, text string, unix int64) []byte {
	return Envelope(phoneNumberID, map[string]any{
		"contacts": []any{map[string]any{"profile": map[string]any{"name": name}, "wa_id": waID}},
		"messages": []any{map[string]any{"from": waID, "id": wamid, "timestamp": strconv.FormatInt(unix, 10), "type": "text", "text": map[string]any{"body": text}}},
	})
}

// Status is a webhook payload with one status (sent, delivered, read,
// failed) of our message wamid to wa_id; key is the
// biz_opaque_callback_data sent with it; errorCode, if not 0, goes with a
// failed status.
func Status(phoneNumberID, waID, wamid, status, key string, unix int64, errorCode int) []byte {
	s := map[string]any{"id": wamid, "status": status, "timestamp": strconv.FormatInt(unix, 10), "recipient_id": waID}
	if key != "" {
		s["biz_opaque_callback_data"] = key
	}
	if errorCode != 0 {
		s["errors"] = []any{map[string]any{"code": errorCode, "title": "Message undeliverable", "message": "Message undeliverable"}}
	}
	return Envelope(phoneNumberID, map[string]any{"statuses": []any{s}})
}
