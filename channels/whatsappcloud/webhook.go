package whatsappcloud

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
)

// maxChallenge bounds the hub.challenge echoed back.
const maxChallenge = 256

// Handler serves the webhook: GET for Meta's verification of the callback
// URL, POST for messages and statuses. cmd mounts it at /webhooks/whatsapp.
//
// A POST is answered 200 only after every message and status in it was
// stored (the sink returned nil); otherwise 500, and Meta delivers it again
// (for up to 7 days). The signature is checked on the raw bytes before
// anything is parsed: missing or wrong gives 401; over MaxBody gives 413;
// malformed JSON gives 400; before Run (or after it returned) 503.
func (c *Channel) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet:
			c.verify(w, r)
		case http.MethodPost:
			c.receive(w, r)
		default:
			w.Header().Set("Allow", "GET, POST")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		}
	})
}

// verify answers Meta's subscription check: the challenge, only for the
// right verify token.
func (c *Channel) verify(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	token, challenge := q.Get("hub.verify_token"), q.Get("hub.challenge")
	ok := q.Get("hub.mode") == "subscribe" &&
		subtle.ConstantTimeCompare([]byte(token), []byte(c.opts.VerifyToken)) == 1 &&
		challenge != "" && len(challenge) <= maxChallenge
	if !ok {
		c.log.Warn().Msg("webhook verification refused: wrong mode, verify token or challenge")
		http.Error(w, "forbidden", http.StatusForbidden)
		return
	}
	c.log.Info().Msg("webhook verified by Meta")
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	_, _ = io.WriteString(w, challenge)
}

// receive handles one POST.
func (c *Channel) receive(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, c.opts.MaxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			c.log.Warn().Int64("limit", c.opts.MaxBody).Msg("webhook body too large; refused")
			http.Error(w, "too large", http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	if why := checkSig([]byte(c.opts.AppSecret), body, r.Header.Get("X-Hub-Signature-256")); why != "" {
		// No body and no header value: only why and how big.
		c.log.Warn().Str("reason", why).Int("bytes", len(body)).Msg("webhook signature refused; nothing stored")
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	holder := c.sink.Load()
	if holder == nil {
		w.Header().Set("Retry-After", "10")
		http.Error(w, "not running", http.StatusServiceUnavailable)
		return
	}
	p, err := decodeWebhook(body)
	if err != nil {
		c.log.Warn().Err(err).Int("bytes", len(body)).Msg("webhook body malformed; refused")
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	if err := c.deliverAll(r.Context(), holder.Sink, p); err != nil {
		c.log.Warn().Err(err).Msg("webhook not stored; Meta will deliver it again")
		http.Error(w, "retry later", http.StatusInternalServerError)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// checkSig checks X-Hub-Signature-256 ("sha256=" and the hex HMAC-SHA256 of
// body under secret) in constant time. It returns "" when it matches, else
// why not. No secret lets nobody in.
func checkSig(secret, body []byte, header string) string {
	if len(secret) == 0 {
		return "no app secret"
	}
	if header == "" {
		return "missing"
	}
	hexSig, ok := strings.CutPrefix(header, "sha256=")
	if !ok {
		return "not sha256"
	}
	sig, err := hex.DecodeString(hexSig)
	if err != nil || len(sig) != sha256.Size {
		return "malformed"
	}
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	if !hmac.Equal(sig, m.Sum(nil)) {
		return "mismatch"
	}
	return ""
}

// Sign returns the X-Hub-Signature-256 value Meta sends for body: for tests
// and tools that play Meta.
func Sign(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// errMalformed is a webhook body that is not a Cloud API payload.
var errMalformed = errors.New("webhook: malformed payload")

// decodeWebhook parses a webhook body. It fails on anything that is not a
// JSON object shaped like a payload; unknown fields are ignored.
func decodeWebhook(body []byte) (webhookPayload, error) {
	var p webhookPayload
	if err := json.Unmarshal(body, &p); err != nil {
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &se):
			return webhookPayload{}, errors.Join(errMalformed, errors.New("not json"))
		case errors.As(err, &te):
			return webhookPayload{}, errors.Join(errMalformed, errors.New("field "+te.Field+" has the wrong type"))
		}
		return webhookPayload{}, errMalformed
	}
	return p, nil
}
