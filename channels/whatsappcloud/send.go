package whatsappcloud

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"path"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/switchboard/switchboard/bot"
)

// errWindowClosed refuses free-form text after the 24-hour window.
var errWindowClosed = errors.New("the 24-hour reply window is closed (the customer must write again, or a template be sent)")

// Send sends a text, a file (uploaded to Meta first, as the photo, audio,
// video or document message its type goes as, the text as its caption, or
// before it for audio, which takes none) or, with msg.Template, the
// business's template, and returns the wamid. msg.Key goes along as biz_opaque_callback_data and comes back in
// status receipts. Errors:
//   - bot.ErrUnsupported (never retried): a chat this channel cannot reach
//     (a LID), an empty or oversized message, a file of a type Meta does
//     not take (Capabilities.FileTypes; a ZIP) or over its type's limit,
//     refused before any call, the window closed (checked
//     here, and by Meta: 131047), no template configured, undeliverable
//     (131026), or any other request Meta refuses as it stands;
//   - bot.ErrUnavailable (the reply waits, no attempt used): the Graph API
//     unreachable before the request left, rate limits (130429, 131056),
//     or a token or permission problem (190, 10, 200–299), which also
//     changes State so the admins are told;
//   - bot.ErrInDoubt (never sent again blindly): the request left and no
//     usable answer came back (a timeout, a dropped connection, a 5xx
//     without a code that proves refusal), so Meta may have the message;
//     its status webhook, carrying msg.Key, settles it (see post).
func (c *Channel) Send(ctx context.Context, msg bot.Outbound) (bot.MessageID, error) {
	to, err := parseChatID(msg.Chat)
	if err != nil {
		return "", fmt.Errorf("whatsappcloud send: %w: %w", err, bot.ErrUnsupported)
	}
	req := sendRequest{MessagingProduct: "whatsapp", RecipientType: "individual", To: to.to, Recipient: to.bsuid, BizOpaque: clipKey(msg.Key)}
	switch {
	case msg.Template != nil:
		t := *msg.Template
		if t.Name == "" || c.opts.Template.Name == "" {
			return "", fmt.Errorf("whatsappcloud send: no template configured: %w", bot.ErrUnsupported)
		}
		if t.Language == "" {
			t.Language = c.opts.Template.Language
		}
		req.Type = "template"
		req.Template = &sendTemplate{Name: t.Name}
		req.Template.Language.Code = t.Language
		if len(msg.TemplateParams) > 0 {
			body := sendComponent{Type: "body"}
			for _, p := range msg.TemplateParams {
				p = templateParam(p)
				if p == "" {
					return "", fmt.Errorf("whatsappcloud send: an empty template parameter: %w", bot.ErrUnsupported)
				}
				body.Parameters = append(body.Parameters, sendParameter{Type: "text", Text: p})
			}
			req.Template.Components = []sendComponent{body}
		}
		return c.post(ctx, msg.Chat, req)
	case msg.Text == "" && (msg.File == nil || len(msg.File.Data) == 0):
		return "", fmt.Errorf("whatsappcloud send: empty message: %w", bot.ErrUnsupported)
	case len(msg.Text) > MaxText:
		return "", fmt.Errorf("whatsappcloud send: %w: %w", bot.ErrTooLarge, bot.ErrUnsupported)
	case !utf8.ValidString(msg.Text):
		return "", fmt.Errorf("whatsappcloud send: text is not valid UTF-8: %w", bot.ErrUnsupported)
	}
	var mt mediaType
	if msg.File != nil && len(msg.File.Data) > 0 {
		var ok bool
		if mt, ok = typeOf(msg.File.MIME); !ok {
			return "", fmt.Errorf("whatsappcloud send: files of this type cannot be sent: %w", bot.ErrUnsupported)
		}
		if int64(len(msg.File.Data)) > mt.max {
			return "", fmt.Errorf("whatsappcloud send: %s file: %w: %w", mt.send, bot.ErrTooLarge, bot.ErrUnsupported)
		}
	}
	open, err := c.windowOpen(ctx, msg.Chat)
	if err != nil {
		return "", fmt.Errorf("whatsappcloud send: %w", err)
	}
	if !open {
		return "", fmt.Errorf("whatsappcloud send: %w: %w", errWindowClosed, bot.ErrUnsupported)
	}
	if msg.File == nil || len(msg.File.Data) == 0 {
		req.Type = "text"
		req.Text = &sendText{Body: msg.Text}
		return c.post(ctx, msg.Chat, req)
	}

	// partial marks an error after the text went on its own: the message
	// is half sent, so the caller must not send it all again.
	partial := func(err error) error { return err }
	if len(msg.Text) > maxCaption || (msg.Text != "" && mt.send == "audio") {
		// Too long for a caption, or audio, which takes none: the text
		// goes first, on its own.
		text := req
		text.Type, text.Text, text.BizOpaque = "text", &sendText{Body: msg.Text}, ""
		if _, err := c.post(ctx, msg.Chat, text); err != nil {
			return "", err
		}
		msg.Text = ""
		partial = func(err error) error {
			if errors.Is(err, bot.ErrInDoubt) {
				return err
			}
			return fmt.Errorf("%w (its text went on its own): %w", err, bot.ErrInDoubt)
		}
	}
	id, err := c.upload(ctx, msg.File, mt.upload)
	if err != nil {
		return "", partial(err)
	}
	if err := c.media.add(id, msg.Chat, c.opts.Now(), true); err != nil {
		c.log.Error().Err(err).Msg("uploaded media id not recorded; it stays at Meta until it expires")
	}
	req.Type = mt.send
	switch mt.send {
	case "image":
		// A photo shows as a photo, not a file.
		req.Image = &sendImage{ID: id, Caption: msg.Text}
	case "video":
		req.Video = &sendImage{ID: id, Caption: msg.Text}
	case "audio":
		req.Audio = &sendAudio{ID: id}
	default:
		name := msg.File.Name
		if name == "" {
			name = "document"
		}
		req.Document = &sendDocument{ID: id, Filename: path.Base(name), Caption: msg.Text}
	}
	wamid, err := c.post(ctx, msg.Chat, req)
	if err != nil {
		return "", partial(err)
	}
	return wamid, nil
}

// post sends one message and returns its wamid. POST /messages takes no
// idempotency key, so it is made once: a second try of a request that
// reached Meta could be a second message. Only a request that provably
// never left (no connection, a write cut off before the whole request went)
// is tried again here. The outcome is one of:
//   - accepted: the wamid;
//   - refused, provably not sent: a Graph error with a 4xx status, or a
//     code that names why (sendError maps it);
//   - not sent, the Graph API unreachable: bot.ErrUnavailable;
//   - in doubt (bot.ErrInDoubt): the request left and no usable answer came
//     back (a timeout, a dropped connection, an answer without a wamid, a
//     5xx that may follow acceptance). The status webhook, which carries
//     biz_opaque_callback_data, settles it later.
func (c *Channel) post(ctx context.Context, chat bot.ChatID, req sendRequest) (bot.MessageID, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return "", fmt.Errorf("whatsappcloud send: encode: %w", err)
	}
	var resp sendResponse
	send := func() error {
		return c.retryNotSent(ctx, func() error {
			return c.call(ctx, http.MethodPost, url.PathEscape(c.opts.PhoneNumberID)+"/messages", nil, body, "application/json", &resp)
		})
	}
	err = send()
	if tokenRefused(err) {
		// 190 proves Meta refused it: with a new token from the file, it
		// may go at once.
		if changed, _ := c.reloadToken(); changed {
			err = send()
		}
	}
	if err != nil {
		return "", c.sendError(chat, err)
	}
	c.observe(nil)
	if len(resp.Messages) == 0 || resp.Messages[0].ID == "" || len(resp.Messages[0].ID) > maxWamid {
		// Meta answered 2xx, so it took the message; only its id is unknown.
		return "", fmt.Errorf("whatsappcloud send: the Graph API accepted the message without a usable id: %w", bot.ErrInDoubt)
	}
	return bot.MessageID(resp.Messages[0].ID), nil
}

// retryNotSent runs fn up to three times while its request never left
// (errNotSent), waiting SendBackoff, then twice that. Any other outcome,
// a Graph error included, is returned at once.
func (c *Channel) retryNotSent(ctx context.Context, fn func() error) error {
	wait := c.opts.SendBackoff
	for attempt := 1; ; attempt++ {
		err := fn()
		if err == nil || attempt == 3 || !errors.Is(err, errNotSent) || ctx.Err() != nil {
			return err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
		wait *= 2
	}
}

// sendError maps a failed POST onto the bot's sentinels and the health
// state. The text carries codes only.
func (c *Channel) sendError(chat bot.ChatID, err error) error {
	var ge *graphError
	switch {
	case errors.Is(err, errNoAnswer):
		// Cancelled or timed out after the request left, or the answer was
		// lost: Meta may have the message.
		if ctx := contextErr(err); ctx == nil {
			c.observe(err)
		}
		return fmt.Errorf("whatsappcloud send: %w: %w", err, bot.ErrInDoubt)
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		// Cut off before the request left: not sent.
		return fmt.Errorf("whatsappcloud send: %w: %w", err, bot.ErrUnavailable)
	case errors.Is(err, errUnreachable):
		c.observe(err)
		return fmt.Errorf("whatsappcloud send: %w: %w", err, bot.ErrUnavailable)
	case !errors.As(err, &ge):
		return fmt.Errorf("whatsappcloud send: %w", err)
	}
	c.observe(err)
	if !provesRefusal(ge) {
		return fmt.Errorf("whatsappcloud send: %w: %w", ge, bot.ErrInDoubt)
	}
	switch classify(ge) {
	case kindToken, kindPermission, kindBlocked, kindRate:
		return fmt.Errorf("whatsappcloud send: %w: %w", ge, bot.ErrUnavailable)
	case kindWindow:
		c.markClosed(chat)
		return fmt.Errorf("whatsappcloud send: %w: %w", ge, bot.ErrUnsupported)
	case kindTransient:
		// A 4xx with a transient code: refused this time, not sent.
		return fmt.Errorf("whatsappcloud send: %w: %w", ge, bot.ErrUnavailable)
	default:
		return fmt.Errorf("whatsappcloud send: %w: %w", ge, bot.ErrUnsupported)
	}
}

// provesRefusal reports whether a Graph error proves that Meta did not take
// the message: every 4xx does, and a 5xx only with a code that says why
// (a token, permission, rate, window or recipient problem, an invalid
// parameter, a template or media error). A 5xx without such a code (a bare
// 500 or 502, codes 1, 2, 131000, 131016) can come after Meta accepted the
// message.
func provesRefusal(ge *graphError) bool {
	if ge.Status < 500 {
		return true
	}
	switch classify(ge) {
	case kindToken, kindPermission, kindBlocked, kindRate, kindWindow, kindUndeliverable:
		return true
	case kindRefused:
		return ge.Code == 100 || (ge.Code != 0 && describe(ge.Code) != "")
	}
	return false
}

// contextErr returns the context error in err's chain, if any.
func contextErr(err error) error {
	switch {
	case errors.Is(err, context.Canceled):
		return context.Canceled
	case errors.Is(err, context.DeadlineExceeded):
		return context.DeadlineExceeded
	}
	return nil
}

// upload sends a file to /{phone-number-id}/media as type mime (see
// mediaTypes) and returns its id.
func (c *Channel) upload(ctx context.Context, f *bot.File, mime string) (string, error) {
	name := path.Base(f.Name)
	if name == "" || name == "." || name == "/" {
		name = "document"
	}
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	_ = mw.WriteField("messaging_product", "whatsapp")
	_ = mw.WriteField("type", mime)
	h := make(textproto.MIMEHeader)
	h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="file"; filename=%q`, name))
	h.Set("Content-Type", mime)
	part, err := mw.CreatePart(h)
	if err != nil {
		return "", fmt.Errorf("whatsappcloud upload: %w", err)
	}
	if _, err := part.Write(f.Data); err != nil {
		return "", fmt.Errorf("whatsappcloud upload: %w", err)
	}
	if err := mw.Close(); err != nil {
		return "", fmt.Errorf("whatsappcloud upload: %w", err)
	}
	// An upload is not idempotent either: a second try after a lost answer
	// could leave a copy at Meta that no list names (so erasure could not
	// delete it). Only a request that never left is tried again.
	var resp uploadResponse
	up := func() error {
		return c.retryNotSent(ctx, func() error {
			return c.call(ctx, http.MethodPost, url.PathEscape(c.opts.PhoneNumberID)+"/media", nil, buf.Bytes(), mw.FormDataContentType(), &resp)
		})
	}
	err = up()
	if tokenRefused(err) {
		if changed, _ := c.reloadToken(); changed {
			err = up()
		}
	}
	if err == nil && resp.ID == "" {
		err = fmt.Errorf("%w: a media answer without an id", errNoAnswer)
	}
	if err != nil {
		err = c.sendError("", err)
		if errors.Is(err, bot.ErrInDoubt) {
			// The document may be at Meta under an id we never learnt; it
			// expires there after 30 days. The message itself was not sent.
			c.log.Warn().Msg("a document upload got no usable answer; if Meta stored it, it cannot be listed for erasure and expires there after 30 days")
			return "", fmt.Errorf("whatsappcloud upload: no usable answer; the document was not sent: %w", bot.ErrUnavailable)
		}
		return "", err
	}
	return resp.ID, nil
}

// maxTemplateParam bounds one template parameter (Meta allows more; a
// first name needs far less).
const maxTemplateParam = 60

// templateParam makes s fit a template's text parameter: Meta refuses new
// lines, tabs and more than four spaces in a row, so whitespace runs become
// one space; it is cut at maxTemplateParam bytes on a character boundary.
func templateParam(s string) string {
	s = strings.Join(strings.Fields(strings.ToValidUTF8(s, "")), " ")
	if len(s) > maxTemplateParam {
		s = strings.ToValidUTF8(s[:maxTemplateParam], "")
	}
	return strings.TrimSpace(s)
}

// clipKey bounds biz_opaque_callback_data (Meta takes 512 characters).
func clipKey(k string) string {
	if len(k) > 512 {
		return ""
	}
	return k
}
