package demo

import (
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"path"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"unicode/utf8"
)

// Limits of the Graph API, as Meta documents them.
const (
	maxGraphBody = 1 << 20 // a message request
	maxCaption   = 1024
)

// graphVersion matches a Graph API version path segment ("v26.0").
var graphVersion = regexp.MustCompile(`^v[0-9]{1,3}\.[0-9]{1,2}$`)

// mediaSeq numbers uploaded media ids.
var mediaSeq atomic.Int64

// uploadTypes are the document and image types the Cloud API takes.
var uploadTypes = map[string]bool{
	"text/plain": true, "application/pdf": true,
	"application/msword": true, "application/vnd.openxmlformats-officedocument.wordprocessingml.document": true,
	"application/vnd.ms-excel": true, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": true,
	"application/vnd.ms-powerpoint": true, "application/vnd.openxmlformats-officedocument.presentationml.presentation": true,
	"image/jpeg": true, "image/png": true,
}

// graphError answers as the Graph API does when it refuses a call.
func graphError(w http.ResponseWriter, status, code int, msg string) {
	writeJSON(w, status, map[string]any{"error": map[string]any{
		"message": fmt.Sprintf("(#%d) %s", code, msg), "type": "OAuthException", "code": code,
		"error_data": map[string]any{"messaging_product": "whatsapp", "details": msg}, "fbtrace_id": "ADemoSimulator",
	}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// serveGraph plays the Graph API for the business number: GET
// /{phone-number-id} (the bot's token check), POST /{phone-number-id}/messages,
// POST /{phone-number-id}/media and DELETE /{media-id}, each with the
// bearer token.
func (s *Simulator) serveGraph(w http.ResponseWriter, r *http.Request) {
	rest := strings.TrimPrefix(r.URL.Path, "/graph/")
	version, rest, _ := strings.Cut(rest, "/")
	rec := &statusRecorder{ResponseWriter: w}
	summary, body := "", ""
	defer func() {
		s.mu.Lock()
		s.wireLocked(WireEntry{Dir: "from-bot", Request: r.Method + " /" + version + "/" + rest, Status: rec.code(), Summary: summary, Body: body})
		s.mu.Unlock()
	}()
	w = rec
	if !graphVersion.MatchString(version) {
		graphError(w, http.StatusBadRequest, 2635, "Unknown or deprecated API version")
		return
	}
	auth := r.Header.Get("Authorization")
	token, ok := strings.CutPrefix(auth, "Bearer ")
	if !ok || subtle.ConstantTimeCompare([]byte(token), []byte(s.opts.AccessToken)) != 1 {
		summary = "refused: wrong access token"
		graphError(w, http.StatusUnauthorized, 190, "Invalid OAuth access token - Cannot parse access token")
		return
	}
	parts := strings.Split(strings.Trim(rest, "/"), "/")
	switch {
	case r.Method == http.MethodGet && len(parts) == 1 && parts[0] == s.opts.PhoneNumberID:
		summary = "token check"
		writeJSON(w, http.StatusOK, map[string]any{
			"id": s.opts.PhoneNumberID, "display_phone_number": s.opts.DisplayPhoneNumber,
			"verified_name": s.opts.BusinessName, "quality_rating": "GREEN",
		})
	case r.Method == http.MethodPost && len(parts) == 2 && parts[0] == s.opts.PhoneNumberID && parts[1] == "messages":
		summary, body = s.graphMessage(w, r)
	case r.Method == http.MethodPost && len(parts) == 2 && parts[0] == s.opts.PhoneNumberID && parts[1] == "media":
		summary = s.graphUpload(w, r)
	case r.Method == http.MethodDelete && len(parts) == 1 && parts[0] != "":
		summary = s.graphDelete(w, parts[0])
	case len(parts) >= 1 && parts[0] != s.opts.PhoneNumberID && (len(parts) == 2 || r.Method == http.MethodGet):
		graphError(w, http.StatusBadRequest, 100, "Unsupported request: object with this id does not exist or lacks permission")
	default:
		graphError(w, http.StatusBadRequest, 100, "Unsupported request")
	}
}

// sendBody is what the bot posts to /{phone-number-id}/messages.
type sendBody struct {
	MessagingProduct string `json:"messaging_product"`
	RecipientType    string `json:"recipient_type"`
	To               string `json:"to"`
	Recipient        string `json:"recipient"`
	Type             string `json:"type"`
	Status           string `json:"status"`     // "read": mark a message read
	MessageID        string `json:"message_id"` // with status
	BizOpaque        string `json:"biz_opaque_callback_data"`
	Text             *struct {
		Body string `json:"body"`
	} `json:"text"`
	Document *struct {
		ID       string `json:"id"`
		Link     string `json:"link"`
		Filename string `json:"filename"`
		Caption  string `json:"caption"`
	} `json:"document"`
	Template *struct {
		Name     string `json:"name"`
		Language struct {
			Code string `json:"code"`
		} `json:"language"`
	} `json:"template"`
}

// graphMessage sends a message to a customer of the page (or marks theirs
// read). It answers with the wamid, queues the "sent" status and returns
// the wire summary and the request as it came.
func (s *Simulator) graphMessage(w http.ResponseWriter, r *http.Request) (string, string) {
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxGraphBody))
	if err != nil {
		graphError(w, http.StatusRequestEntityTooLarge, 100, "Request too large")
		return "refused: too large", ""
	}
	summary := s.sendMessage(w, raw)
	return summary, indent(raw)
}

// sendMessage handles one message request body.
func (s *Simulator) sendMessage(w http.ResponseWriter, raw []byte) string {
	var b sendBody
	if err := json.Unmarshal(raw, &b); err != nil {
		graphError(w, http.StatusBadRequest, 100, "Invalid parameter: the body is not JSON")
		return "refused: not JSON"
	}
	if b.MessagingProduct != "whatsapp" {
		graphError(w, http.StatusBadRequest, 100, "The parameter messaging_product is required.")
		return "refused: no messaging_product"
	}
	if b.Status == "read" {
		return s.markRead(w, b.MessageID)
	}
	if b.To == "" && b.Recipient == "" {
		graphError(w, http.StatusBadRequest, 100, "The parameter to is required.")
		return "refused: no recipient"
	}
	m := &message{MessageView: MessageView{ID: newWamid(), WaID: b.To, From: "business", Type: b.Type, At: s.nowMillis(), Status: StatusQueued}, key: b.BizOpaque}
	var summary string
	switch b.Type {
	case "text":
		if b.Text == nil || b.Text.Body == "" {
			graphError(w, http.StatusBadRequest, 100, "The parameter text['body'] is required.")
			return "refused: empty text"
		}
		if utf8.RuneCountInString(b.Text.Body) > maxTextBytes {
			graphError(w, http.StatusBadRequest, 100, "Param text['body'] must be at most 4096 characters long.")
			return "refused: text too long"
		}
		m.Text, summary = b.Text.Body, "text"
	case "document":
		if b.Document == nil || b.Document.ID == "" {
			graphError(w, http.StatusBadRequest, 100, "The parameter document['id'] is required (this simulator takes no links).")
			return "refused: document without an id"
		}
		if utf8.RuneCountInString(b.Document.Caption) > maxCaption {
			graphError(w, http.StatusBadRequest, 100, "Param document['caption'] must be at most 1024 characters long.")
			return "refused: caption too long"
		}
		s.mu.Lock()
		f, held := s.media[b.Document.ID]
		if held {
			name := path.Base(b.Document.Filename)
			if name == "." || name == "/" || name == "" {
				name = f.filename
			}
			m.Text = b.Document.Caption
			m.Document = &DocumentView{MediaID: b.Document.ID, Filename: name, MIME: f.mime, Size: len(f.data)}
			f.msgs = append(f.msgs, m.ID)
		}
		s.mu.Unlock()
		if !held {
			graphError(w, http.StatusBadRequest, 131053, "Media upload error: the media id is not held")
			return "refused: unknown media id"
		}
		summary = "document"
	case "template":
		if b.Template == nil || b.Template.Name == "" || b.Template.Language.Code == "" {
			graphError(w, http.StatusBadRequest, 132001, "Template name does not exist in the translation")
			return "refused: template without a name or language"
		}
		m.Template, summary = b.Template.Name, "template"
	default:
		graphError(w, http.StatusBadRequest, 131051, "Unsupported message type")
		return "refused: unsupported type"
	}

	s.mu.Lock()
	c, known := s.chats[b.To]
	if known {
		s.addLocked(c, m)
		s.changedLocked(m)
	}
	s.mu.Unlock()
	input := b.To
	if input == "" {
		input = b.Recipient
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"messaging_product": "whatsapp",
		"contacts":          []any{map[string]any{"input": input, "wa_id": b.To}},
		"messages":          []any{map[string]any{"id": m.ID}},
	})
	if !known {
		// Meta takes the request, then says it could not deliver it.
		s.queueStatus(m, StatusFailed, 131026, "Message undeliverable")
		return summary + " to a number no customer of the page has: undeliverable"
	}
	s.queueStatus(m, StatusSent, 0, "")
	return summary + " to +" + b.To
}

// markRead marks a customer's message read, as the business's own "read"
// request does.
func (s *Simulator) markRead(w http.ResponseWriter, id string) string {
	s.mu.Lock()
	m, ok := s.msgs[id]
	if ok && m.From == "customer" {
		if rank(StatusRead) > rank(m.Status) {
			m.Status = StatusRead
			s.changedLocked(m)
		}
	}
	s.mu.Unlock()
	if !ok || m.From != "customer" {
		graphError(w, http.StatusBadRequest, 100, "Invalid parameter: message_id")
		return "refused: mark read of an unknown message"
	}
	writeJSON(w, http.StatusOK, map[string]any{"success": true})
	return "marked a customer's message read"
}

// queueStatus queues a status webhook of reply m; once the bot took it,
// the page shows it.
func (s *Simulator) queueStatus(m *message, status string, code int, title string) {
	s.mu.Lock()
	if status != StatusFailed && rank(status) <= rank(m.pending) {
		s.mu.Unlock()
		return
	}
	if status != StatusFailed {
		m.pending = status
	}
	body := s.statusWebhook(m, status, s.opts.Now(), code, title)
	s.mu.Unlock()
	err := s.enqueue(delivery{body: body, summary: "status " + status + " of a reply to +" + m.WaID,
		progress: func(code int, ok, last bool) {
			s.mu.Lock()
			defer s.mu.Unlock()
			switch {
			case ok && status == StatusFailed:
			case ok && rank(status) > rank(m.Status):
				m.Status, m.Detail = status, ""
			case !ok && last && rank(m.Status) == 0:
				m.Status, m.Detail = StatusFailed, fmt.Sprintf("Switchboard did not take the %s status (HTTP %d)", status, code)
			default:
				return
			}
			s.changedLocked(m)
		}})
	if err != nil {
		s.log.Warn().Str("status", status).Msg("demo status webhook dropped: queue full")
	}
}

// graphUpload takes a multipart media upload and answers with its id.
func (s *Simulator) graphUpload(w http.ResponseWriter, r *http.Request) string {
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" || params["boundary"] == "" {
		graphError(w, http.StatusBadRequest, 100, "Invalid parameter: want multipart/form-data")
		return "refused: not multipart"
	}
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxFileBytes+64<<10))
	if err != nil {
		graphError(w, http.StatusRequestEntityTooLarge, 131053, "Media upload error: the file is too large for the demo")
		return "refused: file too large"
	}
	form := map[string]string{}
	var file []byte
	var name string
	mr := multipart.NewReader(bytes.NewReader(raw), params["boundary"])
	for {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			graphError(w, http.StatusBadRequest, 100, "Invalid parameter: malformed multipart body")
			return "refused: malformed multipart"
		}
		b, err := io.ReadAll(p)
		if err != nil {
			graphError(w, http.StatusBadRequest, 100, "Invalid parameter: malformed multipart body")
			return "refused: malformed multipart"
		}
		if p.FormName() == "file" {
			file, name = b, path.Base(p.FileName())
			continue
		}
		form[p.FormName()] = string(b)
	}
	switch {
	case form["messaging_product"] != "whatsapp":
		graphError(w, http.StatusBadRequest, 100, "The parameter messaging_product is required.")
		return "refused: no messaging_product"
	case file == nil:
		graphError(w, http.StatusBadRequest, 100, "The parameter file is required.")
		return "refused: no file"
	case !uploadTypes[form["type"]]:
		graphError(w, http.StatusBadRequest, 131053, "Media upload error: unsupported type")
		return "refused: unsupported type"
	}
	if name == "." || name == "/" || name == "" {
		name = "document"
	}
	s.mu.Lock()
	if s.mediaBytes+len(file) > maxMediaBytes {
		s.mu.Unlock()
		graphError(w, http.StatusBadRequest, 131053, "Media upload error: the demo holds too many files")
		return "refused: too many files held"
	}
	id := strconv.FormatInt(1000000000000000+mediaSeq.Add(1), 10)
	s.media[id] = &mediaFile{data: file, mime: form["type"], filename: name, at: s.opts.Now()}
	s.mediaBytes += len(file)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"id": id})
	return fmt.Sprintf("upload of a %s document (%d bytes)", form["type"], len(file))
}

// graphDelete deletes a media id: the page's link to it stops working.
func (s *Simulator) graphDelete(w http.ResponseWriter, id string) string {
	s.mu.Lock()
	f, held := s.media[id]
	if held {
		delete(s.media, id)
		s.mediaBytes -= len(f.data)
		for _, mid := range f.msgs {
			m, ok := s.msgs[mid]
			if !ok || m.Document == nil {
				continue
			}
			m.Document.Deleted = true
			s.changedLocked(m)
		}
	}
	s.mu.Unlock()
	if !held {
		graphError(w, http.StatusBadRequest, 100, "Unsupported delete request: the media id is not held")
		return "refused: delete of an unknown media id"
	}
	writeJSON(w, http.StatusOK, map[string]any{"success": true})
	return "media deleted"
}

// statusRecorder remembers the status a handler answered with.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

func (r *statusRecorder) code() int {
	if r.status == 0 {
		return http.StatusOK
	}
	return r.status
}
