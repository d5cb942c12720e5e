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
	"unicode/utf8"

	"github.com/switchboard/switchboard/bot"
)

// errWindowClosed refuses free-form text after the 24-hour window.
var errWindowClosed = errors.New("the 24-hour reply window is closed (the customer must write again, or a template be sent)")

// Send sends a text, a document or a JPEG or PNG photo (uploaded to Meta
// first, the text as its caption) or, with msg.Template, the business's template, and returns the
// wamid. msg.Key goes along as biz_opaque_callback_data and comes back in
// status receipts. Errors:
//   - bot.ErrUnsupported (never retried): a chat this channel cannot reach
//     (a LID), an empty or oversized message, the window closed (checked
//     here, and by Meta: 131047), no template configured, undeliverable
//     (131026), or any other request Meta refuses as it stands;
//   - bot.ErrUnavailable (the reply waits, no attempt used): the Graph API
//     unreachable, rate limits (130429, 131056), or a token or permission
//     problem (190, 10, 200–299), which also changes State so the admins
//     are told;
//   - other errors (retried with backoff): Meta failed (5xx) three times.
func (c *Channel) Send(ctx context.Context, msg bot.Outbound) (bot.MessageID, error) {
	to, err := parseChatID(msg.Chat)
	if err != nil {
		return "", fmt.Errorf("whatsappcloud send: %w: %w", err, bot.ErrUnsupported)
	}
	req := sendRequest{MessagingProduct: "whatsapp", RecipientType: "individual", To: to.to, Recipient: to.bsuid, BizOpaque: clipKey(msg.Key)}
	switch {
	case msg.Template:
		if c.opts.Template.Name == "" {
			return "", fmt.Errorf("whatsappcloud send: no template configured: %w", bot.ErrUnsupported)
		}
		req.Type = "template"
		req.Template = &sendTemplate{Name: c.opts.Template.Name}
		req.Template.Language.Code = c.opts.Template.Language
		return c.post(ctx, msg.Chat, req)
	case msg.Text == "" && (msg.File == nil || len(msg.File.Data) == 0):
		return "", fmt.Errorf("whatsappcloud send: empty message: %w", bot.ErrUnsupported)
	case len(msg.Text) > MaxText || (msg.File != nil && len(msg.File.Data) > maxFile):
		return "", fmt.Errorf("whatsappcloud send: %w: %w", bot.ErrTooLarge, bot.ErrUnsupported)
	case !utf8.ValidString(msg.Text):
		return "", fmt.Errorf("whatsappcloud send: text is not valid UTF-8: %w", bot.ErrUnsupported)
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

	if len(msg.Text) > maxCaption {
		// Too long for a caption: the text goes first, on its own.
		text := req
		text.Type, text.Text, text.BizOpaque = "text", &sendText{Body: msg.Text}, ""
		if _, err := c.post(ctx, msg.Chat, text); err != nil {
			return "", err
		}
		msg.Text = ""
	}
	id, err := c.upload(ctx, msg.File)
	if err != nil {
		return "", err
	}
	if err := c.media.add(id, msg.Chat, c.opts.Now(), true); err != nil {
		c.log.Error().Err(err).Msg("uploaded media id not recorded; it stays at Meta until it expires")
	}
	if photoMIME(msg.File) != "" {
		// A photo staff attached shows as a photo, not a file.
		req.Type = "image"
		req.Image = &sendImage{ID: id, Caption: msg.Text}
		return c.post(ctx, msg.Chat, req)
	}
	name := msg.File.Name
	if name == "" {
		name = "document"
	}
	req.Type = "document"
	req.Document = &sendDocument{ID: id, Filename: path.Base(name), Caption: msg.Text}
	return c.post(ctx, msg.Chat, req)
}

// photoMIME is the type a photo is uploaded as: the Cloud API shows JPEG
// and PNG images; "" for anything else (sent as a document, if at all).
func photoMIME(f *bot.File) string {
	switch m := strings.ToLower(strings.TrimSpace(strings.Split(f.MIME, ";")[0])); m {
	case "image/jpeg", "image/png":
		return m
	}
	return ""
}

// post sends one message and returns its wamid.
func (c *Channel) post(ctx context.Context, chat bot.ChatID, req sendRequest) (bot.MessageID, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return "", fmt.Errorf("whatsappcloud send: encode: %w", err)
	}
	var resp sendResponse
	err = c.retry(ctx, func() error {
		return c.call(ctx, http.MethodPost, url.PathEscape(c.opts.PhoneNumberID)+"/messages", nil, body, "application/json", &resp)
	})
	if err != nil {
		return "", c.sendError(chat, err)
	}
	c.observe(nil)
	if len(resp.Messages) == 0 || resp.Messages[0].ID == "" || len(resp.Messages[0].ID) > maxWamid {
		return "", fmt.Errorf("whatsappcloud send: the Graph API answered without a message id")
	}
	return bot.MessageID(resp.Messages[0].ID), nil
}

// sendError maps a failed call onto the bot's sentinels and the health
// state. The text carries codes only.
func (c *Channel) sendError(chat bot.ChatID, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("whatsappcloud send: %w", err)
	}
	c.observe(err)
	var ge *graphError
	if !errors.As(err, &ge) {
		if errors.Is(err, errUnreachable) {
			return fmt.Errorf("whatsappcloud send: %w: %w", err, bot.ErrUnavailable)
		}
		return fmt.Errorf("whatsappcloud send: %w", err)
	}
	switch classify(ge) {
	case kindToken, kindPermission, kindBlocked, kindRate:
		return fmt.Errorf("whatsappcloud send: %w: %w", ge, bot.ErrUnavailable)
	case kindTransient:
		return fmt.Errorf("whatsappcloud send: %w", ge)
	case kindWindow:
		c.markClosed(chat)
		return fmt.Errorf("whatsappcloud send: %w: %w", ge, bot.ErrUnsupported)
	default:
		return fmt.Errorf("whatsappcloud send: %w: %w", ge, bot.ErrUnsupported)
	}
}

// documentMIME is the type a document is uploaded as. The Cloud API takes
// plain text, PDF and Office documents; a JSON export goes as text/plain
// (its .json name stays).
func documentMIME(f *bot.File) (string, bool) {
	m := strings.ToLower(strings.TrimSpace(strings.Split(f.MIME, ";")[0]))
	switch m {
	case "text/plain", "application/pdf",
		"application/msword", "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
		"application/vnd.ms-excel", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
		"application/vnd.ms-powerpoint", "application/vnd.openxmlformats-officedocument.presentationml.presentation":
		return m, true
	case "application/json", "text/csv", "":
		return "text/plain", true
	}
	return "", false
}

// upload sends a document to /{phone-number-id}/media and returns its id.
func (c *Channel) upload(ctx context.Context, f *bot.File) (string, error) {
	mime, ok := documentMIME(f)
	if p := photoMIME(f); p != "" {
		mime, ok = p, true
	}
	if !ok {
		return "", fmt.Errorf("whatsappcloud send: documents of this type cannot be sent: %w", bot.ErrUnsupported)
	}
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
	var resp uploadResponse
	err = c.retry(ctx, func() error {
		return c.call(ctx, http.MethodPost, url.PathEscape(c.opts.PhoneNumberID)+"/media", nil, buf.Bytes(), mw.FormDataContentType(), &resp)
	})
	if err != nil {
		return "", c.sendError("", err)
	}
	if resp.ID == "" {
		return "", errors.New("whatsappcloud upload: the Graph API answered without a media id")
	}
	return resp.ID, nil
}

// clipKey bounds biz_opaque_callback_data (Meta takes 512 characters).
func clipKey(k string) string {
	if len(k) > 512 {
		return ""
	}
	return k
}
