package bot

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"path"
	"strconv"
	"strings"
)

// Staff attach a file to a reply.
//
// Teams gives a bot the files a person sends only in a personal chat with
// it, and never through a card's button: cards live in the staff channel,
// where bots get no files at all. So the card of an undecided reply says
// "attach a file: send it to Switchboard in your chat with it, with
// /attach 42-7f3a9c01"; the Teams channel downloads the file and hands it to
// the router as a Decision of kind Attach. The code names the draft and
// the first 8 hex digits of its card's token, so a file only goes to the
// reply whose card the person read. The file is checked like a customer's
// (type from the bytes, size caps), kept sealed under the customer (it
// goes to them, and is erased with them), shown on the card, and sent with
// the reply through the channel's media upload once it is approved.

// attachTokenLen is how much of the draft's token an attach code carries.
const attachTokenLen = 8

// AttachCode is what staff type after /attach to attach a file to the
// reply of draft draftID whose card token is token.
func AttachCode(draftID int64, token string) string {
	if len(token) > attachTokenLen {
		token = token[:attachTokenLen]
	}
	if token == "" {
		return strconv.FormatInt(draftID, 10)
	}
	return strconv.FormatInt(draftID, 10) + "-" + token
}

// ParseAttachCode reads an attach code ("42-7f3a9c01", also with a leading
// "#"): the draft id and the token part ("" for a draft without a token).
func ParseAttachCode(s string) (draftID int64, token string, ok bool) {
	s = strings.TrimPrefix(strings.TrimSpace(s), "#")
	idPart, tok, _ := strings.Cut(s, "-")
	id, err := strconv.ParseInt(idPart, 10, 64)
	if err != nil || id <= 0 || len(tok) > attachTokenLen || strings.Trim(strings.ToLower(tok), "0123456789abcdef") != "" {
		return 0, "", false
	}
	return id, strings.ToLower(tok), true
}

// attachTokenOK checks an Attach decision's token part against the
// draft's token.
func attachTokenOK(got, token string) bool {
	if token == "" {
		return true // a draft from before tokens
	}
	want := token[:min(len(token), attachTokenLen)]
	return len(got) == len(want) && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// Refusals of Attach.
const (
	msgAttachDecided = "This reply was already decided, so the file was not attached."
	msgAttachNoFiles = "Files cannot be sent in this customer's chat, so the file was not attached."
	msgAttachNoFile  = "No file came with the message: attach the file to the message with /attach and the code from the card."
)

// decideAttach checks and keeps a file staff attach to a reply.
func (r *Router) decideAttach(ctx context.Context, d Decision, view DraftView) (DecisionResult, error) {
	switch {
	case d.File == nil || len(d.File.Data) == 0:
		return refused(msgAttachNoFile), nil
	case view.Draft.Status.Decided():
		return refused(msgAttachDecided), nil
	case view.Message.ID == 0:
		return refused("The customer deleted their message, so the file was not attached."), nil
	}
	ch := r.channels[view.Draft.Platform]
	if ch == nil || !ch.Capabilities().Files || r.media == nil {
		return refused(msgAttachNoFiles), nil
	}
	name := path.Base(strings.ReplaceAll(strings.ToValidUTF8(d.File.Name, ""), "\\", "/"))
	if name == "." || name == "/" {
		name = ""
	}
	name = cutUTF8(name, maxRefName)
	kind := KindDocument
	if strings.HasPrefix(CanonicalMIME(d.File.MIME), "image/") {
		kind = KindImage
	}
	m := Media{Kind: kind, MIME: d.File.MIME, FileName: name, Size: int64(len(d.File.Data)), Dir: Out}
	if limit := r.media.o.Inspector.Limit(kind); m.Size > limit {
		return refused(fmt.Sprintf("The file is %s, over the %s limit, so it was not attached.", SizeWords(m.Size), SizeWords(limit))), nil
	}
	content, err := r.media.o.Inspector.Inspect(m, d.File.Data)
	if err != nil {
		note := "The file could not be checked, so it was not attached."
		var n noter
		if errors.As(err, &n) {
			note = n.Note()
		}
		return refused(note), nil
	}
	if kind == KindImage && content.MIME != "image/jpeg" && content.MIME != "image/png" {
		// WhatsApp shows JPEG and PNG photos; others go as a document.
		m.Kind, content.Thumb = KindDocument, nil
	}
	m.MIME = content.MIME
	if !ch.Capabilities().TakesFile(m.MIME, m.Size) {
		return refused(fmt.Sprintf("Files like this one (%s, %s) cannot be sent in this customer's chat, so it was not attached.", TypeWords(m.MIME), SizeWords(m.Size))), nil
	}
	id, err := r.mediaStore.AttachToDraft(ctx, d.DraftID, m, content, d.File.Data)
	switch {
	case errors.Is(err, ErrDecided):
		return refused(msgAttachDecided), nil
	case errors.Is(err, ErrNotFound):
		return refused(msgDraftGone), nil
	case err != nil:
		return DecisionResult{}, fmt.Errorf("attach to draft %d: %w", d.DraftID, err)
	}
	r.log.Info().Int64("draft", d.DraftID).Int64("media", id).Str("kind", string(m.Kind)).Int64("bytes", m.Size).Msg("file attached to a reply")
	r.refreshCard(ctx, d.DraftID)
	res := DecisionResult{Outcome: Applied}
	if v, err := r.store.LoadDraft(ctx, d.DraftID); err == nil {
		res.Card = r.cardFor(v)
	}
	what := m.Kind.Words()
	if m.Kind == KindImage {
		what = "photo"
	}
	if name != "" {
		what += " " + name
	}
	customer := res.Card.Customer
	if customer == "" {
		customer = "the customer"
	}
	res.Message = fmt.Sprintf("Attached the %s (%s) to the reply to %s: it goes with the reply once the reply is approved. Send another file with the same code to replace it.",
		what, TypeWords(m.MIME)+", "+SizeWords(m.Size), customer)
	return res, nil
}

// draftFile returns the file attached to a draft's reply, nil if none.
func (r *Router) draftFile(ctx context.Context, draftID int64) (*File, error) {
	if r.mediaStore == nil || draftID == 0 {
		return nil, nil
	}
	view, err := r.store.LoadDraft(ctx, draftID)
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	a := view.Attachment
	if a == nil {
		return nil, nil
	}
	data, err := r.readMedia(ctx, a.ID, max(a.Size, 1))
	if err != nil {
		return nil, fmt.Errorf("read attachment %d: %w", a.ID, err)
	}
	name := a.FileName
	if name == "" {
		name = strings.ReplaceAll(a.Kind.Words(), " ", "-") + extOf(a.MIME)
	}
	return &File{Name: name, MIME: a.MIME, Data: data}, nil
}

// extOf is the usual extension of a type, "" if none is known.
func extOf(mime string) string {
	switch CanonicalMIME(mime) {
	case "image/jpeg":
		return ".jpg"
	case "image/png":
		return ".png"
	case "application/pdf":
		return ".pdf"
	}
	return ""
}

// attachmentCard is what the card shows of the attached file.
func attachmentCard(m *Media) *CardMedia {
	if m == nil {
		return nil
	}
	return &CardMedia{ID: m.ID, Kind: m.Kind, State: m.State, MIME: m.MIME, Size: m.Size, FileName: m.FileName, Thumb: m.Thumb}
}
