package teams

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	bfactivity "github.com/infracloudio/msbotbuilder-go/core/activity"
	"github.com/infracloudio/msbotbuilder-go/schema"

	"github.com/switchboard/switchboard/bot"
)

// Files reach a Teams user the way Teams lets bots send them: only in a
// personal chat, and only with the user's consent. Send posts a
// FileConsentCard; the file's bytes wait in memory (never on disk). When
// the user chooses Allow, Teams sends a fileConsent/invoke with an upload
// session in the user's OneDrive; the channel PUTs the bytes there in
// Content-Range fragments and posts a FileInfoCard the user opens. When the
// user declines, when the offer ends (FileTTL) or the channel stops, the
// bytes are zeroed and dropped. Group chats and channels cannot receive
// files from bots: Send refuses them with bot.ErrUnsupported.
//
// Wire formats (Microsoft Teams docs, "Send and receive files using bot";
// OneDrive "Upload bytes to the upload session"):
//
//	consent card  {"contentType":"application/vnd.microsoft.teams.card.file.consent","name":…,
//	               "content":{"description":…,"sizeInBytes":N,"acceptContext":{…},"declineContext":{…}}}
//	invoke        name "fileConsent/invoke", value {"type":"fileUpload","action":"accept"|"decline",
//	               "context":{…},"uploadInfo":{"contentUrl","name","uploadUrl","uniqueId","fileType"}}
//	upload        PUT uploadUrl, Content-Range: bytes a-b/N, no Authorization; 202 until the last
//	               fragment, then 200 or 201; fragments are multiples of 320 KiB
//	info card     {"contentType":"application/vnd.microsoft.teams.card.file.info","contentUrl":…,
//	               "name":…,"content":{"uniqueId":…,"fileType":…}}

// Content types and the invoke name of the file consent flow.
const (
	contentTypeFileConsent = "application/vnd.microsoft.teams.card.file.consent"
	contentTypeFileInfo    = "application/vnd.microsoft.teams.card.file.info"
	invokeFileConsent      = "fileConsent/invoke"
)

// DefaultFileTTL is how long a file offer waits for the user's Allow.
const DefaultFileTTL = time.Hour

// Limits of the file consent flow.
const (
	// uploadFragment is the size of one PUT: a multiple of 320 KiB, as
	// OneDrive requires of every fragment but the last, and within its
	// recommended 5-10 MiB.
	uploadFragment = 16 * 320 << 10
	// maxPendingBytes bounds the bytes of all files waiting for consent.
	maxPendingBytes = 256 << 20
	// maxPersonalChats bounds the personal chats remembered for Send.
	maxPersonalChats = 10000
	// uploadTimeout bounds one whole upload.
	uploadTimeout = 5 * time.Minute
	// uploadAttempts is how often one fragment is tried on 5xx and
	// transport failures.
	uploadAttempts = 3
)

// Texts of the file consent flow. They hold no personal data.
const (
	msgFileDeclined = "You declined the file, so it was deleted and nothing was saved. Type /export to ask again (one export per hour)."
	msgFileEnded    = "That file offer has ended, so nothing was saved and the file is deleted. Type /export to ask again (one export per hour)."
	msgFileFailed   = "Sorry, the file could not be saved to your OneDrive, and it is deleted here. Please type /export again later."
	msgFileSaved    = "Saved to your OneDrive: open the file below. Switchboard kept no copy."
)

// fileState is where one offered file is.
type fileState int

const (
	fileOffered   fileState = iota // consent card posted, bytes held
	fileUploading                  // the user allowed; bytes being uploaded
	fileDone                       // uploaded, declined or failed; bytes gone
)

// pendingFile is one file offered in a personal chat.
type pendingFile struct {
	conv    Conversation
	aad     string // the one user of the personal chat
	name    string
	data    []byte
	state   fileState
	card    string // activity id of the consent card, once posted
	expires time.Time
	timer   *time.Timer
	cancel  context.CancelFunc // ends its upload, while uploading
}

// files is the channel's file consent state. Its methods are safe for
// concurrent use.
type files struct {
	mu       sync.Mutex
	pending  map[[32]byte]*pendingFile // by SHA-256 of the token
	bytes    int                       // held by offered files
	personal map[bot.ChatID]string     // personal chats seen, to their user's AAD object id
	bg       sync.WaitGroup            // uploads and card removals in flight
	ctx      context.Context           // Run's; nil outside Run
}

// remember records that chat is a personal chat with the user aad.
func (f *files) remember(chat bot.ChatID, aad string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.personal == nil {
		f.personal = map[bot.ChatID]string{}
	}
	if _, ok := f.personal[chat]; !ok && len(f.personal) >= maxPersonalChats {
		for k := range f.personal { // drop one at random: a chat seen again is remembered again
			delete(f.personal, k)
			break
		}
	}
	f.personal[chat] = aad
}

// forget drops what is kept about the users with these AAD object ids:
// their personal chats and the files offered to them.
func (f *files) forget(aads []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, aad := range aads {
		for chat, a := range f.personal {
			if a == aad {
				delete(f.personal, chat)
			}
		}
		for k, p := range f.pending {
			switch {
			case p.aad != aad:
			case p.state == fileUploading:
				p.cancel() // deliverFile zeroes the bytes once the upload stops
			default:
				f.dropLocked(k, p)
			}
		}
	}
}

// finishLocked zeroes a file's bytes and marks it done; its entry stays
// until the offer would have ended, so a redelivered invoke is recognised.
// f.mu is held.
func (f *files) finishLocked(p *pendingFile) {
	if p.state == fileOffered {
		f.bytes -= len(p.data)
	}
	clear(p.data)
	p.data = nil
	p.state = fileDone
}

// dropLocked zeroes a file's bytes and removes it. f.mu is held.
func (f *files) dropLocked(k [32]byte, p *pendingFile) {
	f.finishLocked(p)
	if p.timer != nil {
		p.timer.Stop()
	}
	delete(f.pending, k)
}

// start gives the flow Run's context.
func (f *files) start(ctx context.Context) {
	f.mu.Lock()
	f.ctx = ctx
	f.mu.Unlock()
}

// stop drops every file and waits for uploads in flight, which Run's
// cancelled context ends.
func (f *files) stop() {
	f.mu.Lock()
	f.ctx = nil
	for k, p := range f.pending {
		if p.state != fileUploading {
			f.dropLocked(k, p)
		}
	}
	f.mu.Unlock()
	f.bg.Wait()
	f.mu.Lock()
	for k, p := range f.pending {
		f.dropLocked(k, p)
	}
	f.mu.Unlock()
}

// consentContext is what the consent card carries back in its invoke.
type consentContext struct {
	Switchboard string `json:"switchboard"` // "file"
	Token       string `json:"token"`
}

// fileConsentValue is the value of a fileConsent/invoke.
type fileConsentValue struct {
	Type       string          `json:"type"`
	Action     string          `json:"action"`
	Context    json.RawMessage `json:"context"`
	UploadInfo *uploadInfo     `json:"uploadInfo"`
}

// uploadInfo is where Teams lets the bot upload an accepted file.
type uploadInfo struct {
	ContentURL string `json:"contentUrl"`
	Name       string `json:"name"`
	UploadURL  string `json:"uploadUrl"`
	UniqueID   string `json:"uniqueId"`
	FileType   string `json:"fileType"`
}

// errBadConsent is returned for a fileConsent/invoke value that is not an
// answer to one of our consent cards.
var errBadConsent = errors.New("bad file consent")

// parseFileConsent reads a fileConsent/invoke value: an accept or decline
// carrying our context, whose token gives the offer's key.
func parseFileConsent(value json.RawMessage) (fileConsentValue, [32]byte, error) {
	var v fileConsentValue
	var cc consentContext
	if json.Unmarshal(value, &v) != nil || json.Unmarshal(v.Context, &cc) != nil {
		return v, [32]byte{}, fmt.Errorf("%w: malformed", errBadConsent)
	}
	if cc.Switchboard != "file" || len(cc.Token) != 64 || strings.Trim(strings.ToLower(cc.Token), "0123456789abcdef") != "" {
		return v, [32]byte{}, fmt.Errorf("%w: not our card", errBadConsent)
	}
	if v.Action != "accept" && v.Action != "decline" {
		return v, [32]byte{}, fmt.Errorf("%w: unknown action", errBadConsent)
	}
	return v, sha256.Sum256([]byte(strings.ToLower(cc.Token))), nil
}

// personalChat reports whether an activity comes from a personal chat.
func (a *activity) personalChat() bool {
	t := a.Conversation.ConversationType
	return t == "personal" || (t == "" && !a.Conversation.IsGroup)
}

// sendFile offers msg.File in a personal chat: it posts msg.Text with a
// consent card and keeps the bytes until the user answers or the offer
// ends. It takes msg.File.Data: the bytes are zeroed once uploaded, declined
// or expired.
func (c *Channel) sendFile(ctx context.Context, msg bot.Outbound) (bot.MessageID, error) {
	f := msg.File
	if len(f.Data) == 0 {
		return "", fmt.Errorf("teams send file: %w: empty file", bot.ErrUnsupported)
	}
	conv, err := parseChatID(string(msg.Chat))
	if err != nil {
		return "", fmt.Errorf("teams send file: %w: %w", bot.ErrUnsupported, err)
	}
	c.files.mu.Lock()
	aad, personal := c.files.personal[msg.Chat]
	c.files.mu.Unlock()
	if !personal {
		return "", fmt.Errorf("teams send file: %w: Teams bots send files only in a personal chat", bot.ErrUnsupported)
	}
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", fmt.Errorf("teams send file: token: %w", err)
	}
	tok := hex.EncodeToString(raw[:])
	key := sha256.Sum256([]byte(tok))
	expires := c.now().Add(c.fileTTL)
	p := &pendingFile{conv: conv, aad: aad, name: f.Name, data: f.Data, expires: expires}

	c.files.mu.Lock()
	if c.files.bytes+len(f.Data) > maxPendingBytes {
		c.files.mu.Unlock()
		return "", fmt.Errorf("teams send file: %w: too many files wait for consent", bot.ErrUnavailable)
	}
	if c.files.pending == nil {
		c.files.pending = map[[32]byte]*pendingFile{}
	}
	c.files.pending[key] = p
	c.files.bytes += len(f.Data)
	p.timer = time.AfterFunc(c.fileTTL, func() { c.expireFile(key) })
	c.files.mu.Unlock()

	cc := consentContext{Switchboard: "file", Token: tok}
	card := schema.Attachment{
		ContentType: contentTypeFileConsent,
		Name:        f.Name,
		Content: map[string]any{
			"description": "Choose Allow to save this file to your OneDrive. The offer ends at " +
				expires.UTC().Format("15:04 MST") + "; until then the file is held in memory only.",
			"sizeInBytes":    len(f.Data),
			"acceptContext":  cc,
			"declineContext": cc,
		},
	}
	opts := []bfactivity.MsgOption{bfactivity.MsgOptionAttachments([]schema.Attachment{card}), plainText}
	if msg.Text != "" {
		opts = append([]bfactivity.MsgOption{bfactivity.MsgOptionText(msg.Text)}, opts...)
	}
	id, err := c.conn.send(ctx, conv, string(msg.ReplyTo), opts...)
	c.files.mu.Lock()
	if err != nil {
		c.files.dropLocked(key, p)
		c.files.mu.Unlock()
		return "", fmt.Errorf("teams send file: %w", err)
	}
	p.card = id
	c.files.mu.Unlock()
	c.log.Info().Int("bytes", len(f.Data)).Msg("teams file offered")
	return bot.MessageID(id), nil
}

// expireFile ends an offer nobody answered: the bytes are dropped and the
// consent card removed, best effort.
func (c *Channel) expireFile(key [32]byte) {
	c.files.mu.Lock()
	p, ok := c.files.pending[key]
	if !ok {
		c.files.mu.Unlock()
		return
	}
	if p.state == fileUploading {
		// deliverFile zeroes it; look again later to remove the entry.
		p.timer = time.AfterFunc(time.Minute, func() { c.expireFile(key) })
		c.files.mu.Unlock()
		return
	}
	offered := p.state == fileOffered
	conv, card := p.conv, p.card // a done entry's card is gone already
	c.files.dropLocked(key, p)
	ctx := c.files.ctx
	if ctx != nil && card != "" && offered {
		c.files.bg.Add(1)
	}
	c.files.mu.Unlock()
	if !offered {
		return
	}
	c.log.Info().Msg("teams file offer ended unanswered; file dropped")
	if ctx != nil && card != "" {
		go func() {
			defer c.files.bg.Done()
			c.removeConsentCard(ctx, conv, card)
		}()
	}
}

// removeConsentCard deletes a consent card so its buttons cannot be used
// again; failures are logged.
func (c *Channel) removeConsentCard(ctx context.Context, conv Conversation, id string) {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := c.conn.remove(ctx, conv, id); err != nil {
		c.log.Warn().Err(err).Msg("teams consent card not removed")
	}
}

// onFileConsent answers a fileConsent/invoke: the user allowed or declined
// a file. The invoke is answered at once (Teams waits for it); the upload
// runs in the background and ends with a FileInfoCard or an apology.
func (c *Channel) onFileConsent(ctx context.Context, w http.ResponseWriter, a *activity) {
	who, err := c.identify(ctx, a)
	if err != nil {
		c.log.Error().Err(err).Msg("teams identify failed")
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	v, key, err := parseFileConsent(a.Value)
	if who.role == "" || err != nil {
		c.log.Warn().Bool("staff", who.role != "").Msg("teams file consent refused: not ours or malformed")
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	conv := conversationOf(a)

	c.files.mu.Lock()
	p, ok := c.files.pending[key]
	switch {
	case ok && (p.conv.ID != conv.ID || p.conv.ServiceURL != conv.ServiceURL || p.aad != who.id.Value || !a.personalChat()):
		// Someone else holds the token: leave the offer to its user.
		c.files.mu.Unlock()
		c.log.Warn().Msg("teams file consent from another chat or user refused")
		w.WriteHeader(http.StatusForbidden)
		return
	case ok && p.state != fileOffered:
		// A redelivered invoke: it was handled.
		c.files.mu.Unlock()
		w.WriteHeader(http.StatusOK)
		return
	case !ok || !c.now().Before(p.expires):
		if ok {
			c.files.dropLocked(key, p)
		}
		c.files.mu.Unlock()
		w.WriteHeader(http.StatusOK)
		if v.Action == "accept" {
			c.reply(ctx, a, msgFileEnded)
		}
		return
	}
	if v.Action == "decline" {
		card := p.card
		c.files.finishLocked(p)
		c.files.mu.Unlock()
		w.WriteHeader(http.StatusOK)
		c.log.Info().Msg("teams file declined; file dropped")
		c.reply(ctx, a, msgFileDeclined)
		if card != "" {
			c.removeConsentCard(ctx, conv, card)
		}
		return
	}
	if v.UploadInfo == nil || checkUploadURL(v.UploadInfo.UploadURL) != nil {
		c.files.dropLocked(key, p)
		c.files.mu.Unlock()
		c.log.Warn().Msg("teams file consent without a usable upload URL; file dropped")
		w.WriteHeader(http.StatusBadRequest)
		c.reply(ctx, a, msgFileFailed)
		return
	}
	bg := c.files.ctx
	if bg == nil {
		c.files.mu.Unlock()
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	c.files.bytes -= len(p.data)
	p.state = fileUploading // its bytes no longer count against maxPendingBytes
	upCtx, cancel := context.WithTimeout(bg, uploadTimeout)
	p.cancel = cancel
	c.files.bg.Add(1)
	c.files.mu.Unlock()
	w.WriteHeader(http.StatusOK)

	info, replyTo := *v.UploadInfo, a.ID
	go func() {
		defer c.files.bg.Done()
		defer cancel()
		c.deliverFile(upCtx, p, info, replyTo)
	}()
}

// deliverFile uploads an allowed file, zeroes its bytes whatever happens,
// and tells the user in the chat. ctx ends with the channel, the upload
// timeout, or the user's erasure.
func (c *Channel) deliverFile(ctx context.Context, p *pendingFile, info uploadInfo, replyTo string) {
	start := time.Now()
	err := c.upload(ctx, info.UploadURL, p.data)
	c.files.mu.Lock()
	size, card := len(p.data), p.card
	c.files.finishLocked(p)
	c.files.mu.Unlock()
	if err != nil {
		c.log.Warn().Err(err).Int("bytes", size).Msg("teams file upload failed; file dropped")
		c.cancelUpload(ctx, info.UploadURL)
		if errors.Is(ctx.Err(), context.Canceled) {
			return // the channel stopped or the user was erased: nobody to tell
		}
		tctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 20*time.Second)
		defer cancel()
		if _, serr := c.conn.send(tctx, p.conv, replyTo, textMessage(msgFileFailed)...); serr != nil {
			c.log.Warn().Err(serr).Msg("teams reply failed")
		}
		return
	}
	c.log.Info().Int("bytes", size).Dur("took", time.Since(start)).Msg("teams file uploaded; file dropped")
	fileCard := schema.Attachment{
		ContentType: contentTypeFileInfo,
		ContentURL:  info.ContentURL,
		Name:        info.Name,
		Content:     map[string]string{"uniqueId": info.UniqueID, "fileType": info.FileType},
	}
	if _, err := c.conn.send(ctx, p.conv, replyTo, bfactivity.MsgOptionText(msgFileSaved), plainText,
		bfactivity.MsgOptionAttachments([]schema.Attachment{fileCard})); err != nil {
		c.log.Warn().Err(err).Msg("teams file card not posted")
	}
	if card != "" {
		c.removeConsentCard(ctx, p.conv, card)
	}
}

// checkUploadURL accepts an https URL, or http to a loopback address (the
// test connector and the Agents Playground), with a host and no user info.
func checkUploadURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.User != nil || len(s) > 4096 {
		return errors.New("bad upload URL")
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		host := u.Hostname()
		if ip := net.ParseIP(host); host == "localhost" || ip != nil && ip.IsLoopback() {
			return nil
		}
	}
	return errors.New("upload URL is not https")
}

// upload PUTs data to an upload session in fragments of uploadFragment
// bytes: 202 Accepted until the last, which answers 200 or 201. A fragment
// is retried on 5xx and transport failures.
func (c *Channel) upload(ctx context.Context, uploadURL string, data []byte) error {
	total := len(data)
	for off := 0; off < total; off += uploadFragment {
		end := min(off+uploadFragment, total)
		last := end == total
		var status int
		var err error
		for attempt := 1; attempt <= uploadAttempts; attempt++ {
			status, err = c.putFragment(ctx, uploadURL, data[off:end], off, total)
			if err == nil && status < 500 {
				break
			}
			if attempt < uploadAttempts {
				t := time.NewTimer(c.uploadBackoff(attempt))
				select {
				case <-ctx.Done():
					t.Stop()
					return fmt.Errorf("upload: %w", ctx.Err())
				case <-t.C:
				}
			}
		}
		switch {
		case err != nil:
			return fmt.Errorf("upload bytes %d-%d: %w", off, end-1, err)
		case !last && status != http.StatusAccepted:
			return fmt.Errorf("upload bytes %d-%d: status %d", off, end-1, status)
		case last && status != http.StatusOK && status != http.StatusCreated:
			return fmt.Errorf("upload bytes %d-%d: status %d", off, end-1, status)
		}
	}
	return nil
}

// putFragment sends one fragment. The upload URL is pre-authorised: no
// Authorization header goes with it.
func (c *Channel) putFragment(ctx context.Context, uploadURL string, frag []byte, off, total int) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, uploadURL, bytes.NewReader(frag))
	if err != nil {
		return 0, errors.New("bad upload URL")
	}
	req.ContentLength = int64(len(frag))
	req.Header.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", off, off+len(frag)-1, total))
	resp, err := c.httpClient().Do(req)
	if err != nil {
		return 0, scrubURLError(err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	return resp.StatusCode, nil
}

// cancelUpload deletes an upload session that failed, so no partial file is
// left in the user's OneDrive; best effort.
func (c *Channel) cancelUpload(ctx context.Context, uploadURL string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 20*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodDelete, uploadURL, nil)
	if err != nil {
		return
	}
	resp, err := c.httpClient().Do(req)
	if err != nil {
		return
	}
	_ = resp.Body.Close()
}

// uploadBackoff is the wait before another attempt at a fragment.
func (c *Channel) uploadBackoff(attempt int) time.Duration {
	if c.opts.UploadBackoff != nil {
		return c.opts.UploadBackoff(attempt)
	}
	return time.Duration(attempt) * time.Second
}

// httpClient is the client of uploads: the connector's transport without
// its per-request timeout (a fragment of several MiB may take longer); the
// upload's context bounds it.
func (c *Channel) httpClient() *http.Client { return &http.Client{Transport: c.conn.client.Transport} }
