package teams

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/switchboard/switchboard/bot"
)

// Staff attach files to replies from their personal chat with the bot.
//
// Teams hands a bot the files a person sends only in a personal chat (the
// app's manifest says supportsFiles), as an attachment of the message:
// a file from the compose box is
//
//	{"contentType":"application/vnd.microsoft.teams.file.download.info","name":"quote.pdf",
//	 "content":{"downloadUrl":"https://…sharepoint.com/…","uniqueId":"…","fileType":"pdf"}}
//
// whose downloadUrl is pre-authenticated for a few minutes (no token goes
// with it), and a pasted picture is {"contentType":"image/png","contentUrl":
// "https://smba…/v3/attachments/…/views/original"}, read with the bot's
// token. A card's button cannot carry a file, and the staff channel where
// cards live gives bots no files at all. So the card of an undecided reply
// shows a code, and staff send the file to the bot with "/attach <code>";
// the channel downloads it (bounded), and the router checks it, keeps it
// and shows it on the card (bot.Attach). The limits: one file per reply (a
// second replaces the first), files only (no folders or links), personal
// chats only, and a file Teams hands over as a link the bot cannot read
// (a shared link, or a downloadUrl that expired) is refused with a note.

// Content types of files in a personal chat.
const contentTypeFileDownload = "application/vnd.microsoft.teams.file.download.info"

// Limits of an attached file.
const (
	maxAttachBytes  = 100 << 20 // WhatsApp's document limit; the router applies the configured caps
	attachTimeout   = time.Minute
	maxAttachments  = 10
	msgAttachUsage  = "To send a file with a reply: attach the file to a message here with /attach and the code the reply's card shows, for example /attach 42-7f3a9c01."
	msgAttachHere   = "Teams gives Switchboard files only in your own chat with it: send the file there, with /attach and the code from the card."
	msgAttachFailed = "The file could not be read from Teams (its link may have expired), so nothing was attached. Please send it again."
)

// attachedFile is the file a message carries, as Teams describes it.
type attachedFile struct {
	name, mime string
	url        string
	withToken  bool // the bot's token goes with the request (a pasted picture)
}

// fileOf returns the first file of a message's attachments.
func fileOf(a *activity) (attachedFile, bool) {
	for i, at := range a.Attachments {
		if i == maxAttachments {
			break
		}
		switch ct := strings.ToLower(at.ContentType); {
		case ct == contentTypeFileDownload:
			content, _ := at.Content.(map[string]any)
			u, _ := content["downloadUrl"].(string)
			ft, _ := content["fileType"].(string)
			if u == "" {
				continue
			}
			return attachedFile{name: at.Name, mime: mimeOfExt(ft, at.Name), url: u}, true
		case strings.HasPrefix(ct, "image/") && at.ContentURL != "":
			return attachedFile{name: at.Name, mime: ct, url: at.ContentURL, withToken: true}, true
		}
	}
	return attachedFile{}, false
}

// mimeOfExt guesses a declared type from Teams' fileType or the name; the
// router checks the bytes whatever it says.
func mimeOfExt(fileType, name string) string {
	ext := strings.ToLower(strings.TrimPrefix(fileType, "."))
	if ext == "" {
		ext = strings.ToLower(strings.TrimPrefix(path.Ext(name), "."))
	}
	switch ext {
	case "pdf":
		return "application/pdf"
	case "jpg", "jpeg":
		return "image/jpeg"
	case "png":
		return "image/png"
	case "docx":
		return "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
	case "xlsx":
		return "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
	case "pptx":
		return "application/vnd.openxmlformats-officedocument.presentationml.presentation"
	case "doc":
		return "application/msword"
	case "xls":
		return "application/vnd.ms-excel"
	case "txt":
		return "text/plain"
	}
	return "application/octet-stream"
}

// fileURLAllowed reports whether a file URL may be fetched: https, or
// http to this machine (tests, the Agents Playground). A token goes only to
// the activity's own service host.
func fileURLAllowed(u *url.URL, withToken bool, serviceURL string) bool {
	host := u.Hostname()
	ip := net.ParseIP(host)
	if u.Scheme != "https" && !(u.Scheme == "http" && (host == "localhost" || (ip != nil && ip.IsLoopback()))) {
		return false
	}
	if !withToken {
		return true
	}
	s, err := url.Parse(serviceURL)
	return err == nil && strings.EqualFold(s.Hostname(), u.Hostname())
}

// download reads an attached file, at most maxAttachBytes.
func (c *Channel) download(ctx context.Context, f attachedFile, serviceURL string) ([]byte, error) {
	u, err := url.Parse(f.url)
	if err != nil || !fileURLAllowed(u, f.withToken, serviceURL) {
		return nil, errors.New("attached file: its URL is not one the bot reads")
	}
	ctx, cancel := context.WithTimeout(ctx, attachTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("attached file: %w", err)
	}
	if f.withToken && c.conn.tokens != nil {
		tok, err := c.conn.tokens.get(ctx)
		if err != nil {
			return nil, fmt.Errorf("attached file: token: %w", err)
		}
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := c.conn.client.Do(req)
	if err != nil {
		return nil, errors.New("attached file: the download failed") // err quotes the pre-authenticated URL
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("attached file: the download answered %d", resp.StatusCode)
	}
	if resp.ContentLength > maxAttachBytes {
		return nil, fmt.Errorf("attached file: %w", bot.ErrTooLarge)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxAttachBytes+1))
	if err != nil {
		return nil, errors.New("attached file: the download broke off")
	}
	if len(b) > maxAttachBytes {
		return nil, fmt.Errorf("attached file: %w", bot.ErrTooLarge)
	}
	return b, nil
}

// onAttach runs "/attach <code>" with the file the message carries.
func (c *Channel) onAttach(ctx context.Context, a *activity, who caller, args string, sink bot.Sink) {
	if !a.personalChat() {
		c.reply(ctx, a, msgAttachHere)
		return
	}
	code, _, _ := strings.Cut(strings.TrimSpace(args), " ")
	draftID, tok, ok := bot.ParseAttachCode(code)
	if !ok {
		c.reply(ctx, a, msgAttachUsage)
		return
	}
	f, ok := fileOf(a)
	if !ok {
		c.reply(ctx, a, "No file came with that message. "+msgAttachUsage)
		return
	}
	data, err := c.download(ctx, f, a.ServiceURL)
	if errors.Is(err, bot.ErrTooLarge) {
		c.reply(ctx, a, "That file is over 100 MB, the most WhatsApp takes, so nothing was attached.")
		return
	}
	if err != nil {
		c.log.Warn().Err(err).Int64("draft_id", draftID).Msg("teams attached file not downloaded")
		c.reply(ctx, a, msgAttachFailed)
		return
	}
	res, err := sink.Decide(ctx, bot.Decision{
		DraftID: draftID, Token: tok, Kind: bot.Attach, By: who.id, Tenant: who.tenant, ByName: who.name,
		ActionID: a.ID, At: c.now().UTC(), File: &bot.File{Name: path.Base(f.name), MIME: f.mime, Data: data},
	})
	clear(data)
	if err != nil {
		c.log.Error().Err(err).Int64("draft_id", draftID).Msg("teams attach failed")
		c.reply(ctx, a, msgDecideFailed)
		return
	}
	c.log.Info().Int64("draft_id", draftID).Str("outcome", string(res.Outcome)).Msg("teams file attached to a reply")
	if res.Message != "" {
		c.reply(ctx, a, res.Message)
	}
}
