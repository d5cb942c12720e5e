package privacy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
	"time"

	"github.com/switchboard/switchboard/bot"
)

// How an export reaches the person, through the channel of the chat it was
// asked in (Options.Senders), so the service knows what arrived:
//
//   - whole, as one file, where the channel takes it (Capabilities.TakesFile):
//     the JSON document, or the ZIP with the person's files;
//   - else, with ExportURL set, as a one-time link to that file (on Teams a
//     link always, when ExportURL is set);
//   - else in parts: the JSON document (the Cloud API takes it as plain
//     text), then each kept file as its own message, a photo as a photo, a
//     voice note as audio, captioned with what it is; the command's reply
//     then says exactly what was sent, what was not, why, and how to get it.
//
// The register records what was delivered (counts delivered, unconfirmed,
// not_delivered; status done, partial or failed) and only an export that
// arrived whole uses up the hourly export. One that could not be sent at
// all is answered with one plain sentence.

// maxPartFiles bounds the files an export sends one by one: WhatsApp lets a
// business send one person a burst of about 45 messages, then about one
// every 6 seconds (the Cloud API's pair rate limit, error 131056).
const maxPartFiles = 20

// deliverTimeout bounds a delivery. It runs on past the command's own
// context (a webhook's request, which Meta may drop): an export cut off
// half way is worse than one that finishes.
const deliverTimeout = 5 * time.Minute

// zipMIME is the ZIP export's type.
const zipMIME = "application/zip"

// exportRun is one export on its way to the person.
type exportRun struct {
	id       int64
	req      bot.CommandRequest
	by       bot.SubjectID
	scope    Scope
	subjects []bot.SubjectID
	counts   map[string]int
	files    []zipFile
	policy   Policy
	base     string // file name without extension: switchboard-export-<date>-<id>
	json     string // the document's path
	zip      string // the ZIP's path, once made
	linked   string // the path a link now owns: not removed
}

// cleanup removes the export's files, except the one a link serves.
func (x *exportRun) cleanup(s *Service) {
	for _, p := range []string{x.json, x.zip} {
		if p != "" && p != x.linked {
			s.removeFile(p)
		}
	}
}

// exportFile is the export as one file.
type exportFile struct {
	path, name, mime string
	size             int64
}

// wholeFile is the export as one file: the document, or with files the
// ZIP, made here.
func (s *Service) wholeFile(ctx context.Context, x *exportRun) (exportFile, error) {
	w := exportFile{path: x.json, name: x.base + ".json", mime: "application/json"}
	if len(x.files) > 0 {
		if x.zip == "" {
			zp, _, err := s.zipExport(ctx, x.json, x.files)
			if err != nil {
				return exportFile{}, err
			}
			x.zip = zp
		}
		w = exportFile{path: x.zip, name: x.base + ".zip", mime: zipMIME}
	}
	st, err := os.Stat(w.path)
	if err != nil {
		return exportFile{}, fmt.Errorf("export file: %w", err)
	}
	w.size = st.Size()
	return w, nil
}

// exportFailed closes the request as failed when the export could not be
// made (nothing was sent).
func (s *Service) exportFailed(ctx context.Context, x *exportRun, op string, err error) (bot.Reply, bool, error) {
	if cerr := s.st.CompleteRequest(ctx, x.id, "failed", nil, s.now().UTC()); cerr != nil {
		err = errors.Join(err, cerr)
	}
	s.log.Warn().Int64("request", x.id).Str("op", op).Msg("export failed")
	return bot.Reply{}, false, s.userErr(op, fmt.Errorf("request %d: %w", x.id, err))
}

// link registers a one-time link to w, which the link then owns.
func (s *Service) link(x *exportRun, w exportFile) (string, error) {
	tok, err := s.addLink(link{path: w.path, name: w.name, mime: w.mime, subjects: x.subjects, expires: s.now().Add(s.ttl)})
	if err != nil {
		return "", err
	}
	x.linked = w.path
	return tok, nil
}

// dropLink removes a link whose message did not go, and its file.
func (s *Service) dropLink(x *exportRun, tok string) {
	if l, ok := s.claim(tok, s.now()); ok {
		s.removeFile(l.path)
	}
	x.linked = ""
}

// deliverExport sends the export through ch (see the top of this file).
func (s *Service) deliverExport(ctx context.Context, ch bot.Channel, x *exportRun) (bot.Reply, bool, error) {
	caps := ch.Capabilities()
	linkAlways := x.req.Platform != bot.WhatsApp && s.url != ""
	if linkAlways || s.url != "" || len(x.files) == 0 || caps.TakesFile(zipMIME, 0) {
		w, err := s.wholeFile(ctx, x)
		if err != nil {
			return s.exportFailed(ctx, x, "export zip", err)
		}
		switch {
		case !linkAlways && caps.TakesFile(w.mime, w.size):
			return s.deliverWhole(ctx, ch, x, w)
		case s.url != "":
			return s.deliverLink(ctx, ch, x, w)
		}
	}
	return s.deliverParts(ctx, ch, x, caps)
}

// outcome is what became of one message of an export.
type outcome int

const (
	sent        outcome = iota + 1
	unconfirmed         // the channel cannot tell whether it arrived (bot.ErrInDoubt)
	failedNow           // not sent this time (the channel unavailable, a failure on our side), or not tried after two such
	cannotGo            // this chat cannot take it: its type or size, or the platform refused it
)

// result is one message's outcome and, when it was not sent, why in words.
type result struct {
	outcome outcome
	why     string
	err     error // for the log (ids and codes only)
}

// sendPart sends one message of an export and says what became of it.
func (s *Service) sendPart(ctx context.Context, ch bot.Channel, out bot.Outbound) result {
	_, err := ch.Send(ctx, out)
	switch {
	case err == nil:
		return result{outcome: sent}
	case errors.Is(err, bot.ErrInDoubt):
		return result{outcome: unconfirmed, err: err}
	case errors.Is(err, bot.ErrUnsupported):
		return result{outcome: cannotGo, why: platformName(ch.Platform()) + " did not accept it", err: err}
	}
	return result{outcome: failedNow, why: "it could not be sent just now", err: err}
}

// deliverWhole sends the export as one file, its text as the caption.
func (s *Service) deliverWhole(ctx context.Context, ch bot.Channel, x *exportRun, w exportFile) (bot.Reply, bool, error) {
	data, err := os.ReadFile(w.path)
	if err != nil {
		return s.exportFailed(ctx, x, "export read", err)
	}
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), deliverTimeout)
	defer cancel()
	r := s.sendPart(dctx, ch, bot.Outbound{Chat: x.req.Chat, Text: s.wholeText(x, w), File: &bot.File{Name: w.name, MIME: w.mime, Data: data}})
	return s.settle(dctx, x, "as a file", []result{r}, func(rs []result) string {
		if rs[0].outcome == unconfirmed {
			return fmt.Sprintf("We could not confirm that your export (request #%d) reached you: if you do not see it above, type /export again (this one does not count towards your one export per hour).", x.id)
		}
		return ""
	})
}

// deliverLink sends a one-time link to the export file.
func (s *Service) deliverLink(ctx context.Context, ch bot.Channel, x *exportRun, w exportFile) (bot.Reply, bool, error) {
	tok, err := s.link(x, w)
	if err != nil {
		return s.exportFailed(ctx, x, "export link", err)
	}
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), deliverTimeout)
	defer cancel()
	r := s.sendPart(dctx, ch, bot.Outbound{Chat: x.req.Chat, Text: s.linkText(x, w, tok)})
	if r.outcome == failedNow || r.outcome == cannotGo {
		s.dropLink(x, tok)
	}
	return s.settle(dctx, x, "as a link", []result{r}, func(rs []result) string {
		if rs[0].outcome == unconfirmed {
			return fmt.Sprintf("We could not confirm that the link to your export (request #%d) reached you: if you do not see it above, type /export again (this one does not count towards your one export per hour).", x.id)
		}
		return ""
	})
}

// part is one message of an export sent in parts.
type part struct {
	doc  bool     // the JSON document
	file *zipFile // else the file
	result
}

// deliverParts sends the document and then each file on its own.
func (s *Service) deliverParts(ctx context.Context, ch bot.Channel, x *exportRun, caps bot.Capabilities) (bot.Reply, bool, error) {
	src, _ := s.st.(MediaSource)
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), deliverTimeout)
	defer cancel()
	parts := []part{{doc: true}}
	for i := range x.files {
		parts = append(parts, part{file: &x.files[i]})
	}
	down := 0 // parts in a row the channel could not send now
	for i := range parts {
		p := &parts[i]
		if down >= 2 {
			p.result = result{outcome: failedNow, why: "it could not be sent just now"}
			continue
		}
		out, r, ok := s.partMessage(dctx, x, src, caps, *p, i)
		if !ok {
			p.result = r
			continue
		}
		p.result = s.sendPart(dctx, ch, out)
		switch {
		case p.outcome == failedNow && errors.Is(p.err, bot.ErrUnavailable):
			down++
		default:
			down = 0
		}
		if p.err != nil {
			s.log.Warn().Err(p.err).Int64("request", x.id).Int("part", i).Msg("export part not sent")
		}
	}
	rs := make([]result, len(parts))
	for i, p := range parts {
		rs[i] = p.result
	}
	return s.settle(dctx, x, fmt.Sprintf("in %d parts", len(parts)), rs, func([]result) string { return s.partsText(x, parts) })
}

// partMessage builds one part's message, or says why it cannot go.
func (s *Service) partMessage(ctx context.Context, x *exportRun, src MediaSource, caps bot.Capabilities, p part, i int) (bot.Outbound, result, bool) {
	if p.doc {
		data, err := os.ReadFile(x.json)
		if err != nil {
			return bot.Outbound{}, result{outcome: failedNow, why: "it could not be sent just now", err: err}, false
		}
		if r, ok := fits(caps, "application/json", int64(len(data))); !ok {
			return bot.Outbound{}, r, false
		}
		return bot.Outbound{Chat: x.req.Chat, Text: s.docCaption(x), File: &bot.File{Name: x.base + ".json", MIME: "application/json", Data: data}}, result{}, true
	}
	f := p.file
	if i > maxPartFiles {
		return bot.Outbound{}, result{outcome: cannotGo, why: fmt.Sprintf("only %d files go one by one in one export", maxPartFiles)}, false
	}
	if r, ok := fits(caps, f.mime, f.size); !ok {
		return bot.Outbound{}, r, false
	}
	data, err := readMedia(ctx, src, f.id, f.size)
	if err != nil {
		return bot.Outbound{}, result{outcome: failedNow, why: "it could not be sent just now", err: err}, false
	}
	if r, ok := fits(caps, f.mime, int64(len(data))); !ok {
		return bot.Outbound{}, r, false
	}
	return bot.Outbound{Chat: x.req.Chat, Text: capitalize(strings.TrimPrefix(s.fileWords(x, *f), "the ")), File: &bot.File{Name: path.Base(f.path), MIME: f.mime, Data: data}}, result{}, true
}

// fits says why a file of this type and size cannot go through caps.
func fits(caps bot.Capabilities, mime string, size int64) (result, bool) {
	if caps.TakesFile(mime, size) {
		return result{}, true
	}
	if caps.TakesFile(mime, 0) {
		return result{outcome: cannotGo, why: "it is too large for this chat (" + bot.SizeWords(size) + ")"}, false
	}
	return result{outcome: cannotGo, why: "this chat cannot take " + typeOfWords(mime)}, false
}

// typeOfWords names a file's type after "cannot take": "files like it (a
// WebP image)".
func typeOfWords(mime string) string { return "files like it (" + bot.TypeWords(mime) + ")" }

// readMedia reads one kept file, at most size bytes (its measured size).
func readMedia(ctx context.Context, src MediaSource, id, size int64) ([]byte, error) {
	if src == nil {
		return nil, errors.New("the store cannot open media")
	}
	rc, err := src.OpenMedia(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("media %d: %w", id, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, size+1))
	if err != nil {
		return nil, fmt.Errorf("media %d: %w", id, err)
	}
	if int64(len(data)) != size {
		// Never a cut-off file: its recorded size is wrong.
		return nil, fmt.Errorf("media %d: %d bytes or more, %d recorded", id, len(data), size)
	}
	return data, nil
}

// settle records what the export's messages came to (the register's
// status and counts, the audit trail, the log) and returns the command's
// reply: text(rs) when some arrived, else one plain sentence. whole is true
// when every message was sent.
func (s *Service) settle(ctx context.Context, x *exportRun, how string, rs []result, text func([]result) string) (bot.Reply, bool, error) {
	var n [cannotGo + 1]int
	for _, r := range rs {
		n[r.outcome]++
	}
	counts := map[string]int{}
	for k, v := range x.counts {
		counts[k] = v
	}
	counts["delivered"], counts["unconfirmed"], counts["not_delivered"] = n[sent], n[unconfirmed], n[failedNow]+n[cannotGo]
	status, detail := "done", fmt.Sprintf("request %d: delivered %s", x.id, how)
	switch {
	case n[sent]+n[unconfirmed] == 0:
		status, detail = "failed", fmt.Sprintf("request %d: not delivered", x.id)
	case n[sent] < len(rs):
		status, detail = "partial", fmt.Sprintf("request %d: %d of %d messages delivered, %d unconfirmed", x.id, n[sent], len(rs), n[unconfirmed])
	}
	if err := s.st.CompleteRequest(ctx, x.id, status, counts, s.now().UTC()); err != nil {
		// What was sent is sent: say so; the register still shows the
		// request open, for an admin to see.
		s.log.Error().Err(err).Int64("request", x.id).Msg("export delivered but not recorded")
	}
	for _, sub := range x.subjects {
		if err := s.st.Audit(ctx, bot.AuditEntry{At: s.now().UTC(), Actor: x.by, Action: "export", Subject: sub, Detail: detail}); err != nil {
			s.log.Error().Err(err).Int64("request", x.id).Msg("export not audited")
		}
	}
	s.log.Info().Int64("request", x.id).Str("actor", string(x.by)).Int("subjects", len(x.subjects)).Int("messages", x.counts["messages"]).
		Str("status", status).Int("delivered", n[sent]).Int("unconfirmed", n[unconfirmed]).Int("not_delivered", n[failedNow]+n[cannotGo]).Msg("export delivered")
	if status == "failed" {
		return bot.Reply{Text: s.notSentText(x, n[failedNow] > 0)}, false, nil
	}
	return bot.Reply{Text: text(rs)}, status == "done", nil
}

// notSentText is the one sentence for an export none of which could be
// sent.
func (s *Service) notSentText(x *exportRun, again bool) string {
	if again {
		return fmt.Sprintf("Sorry, your export (request #%d) could not be sent in this chat just now, so it does not count towards your one export per hour: please type /export again later.", x.id)
	}
	return fmt.Sprintf("Sorry, your export (request #%d) cannot be sent in this chat, so it does not count towards your one export per hour: to get it, %s.", x.id, s.askFor(x))
}

// askFor says how to get what a chat cannot take.
func (s *Service) askFor(x *exportRun) string {
	if x.policy.Contact == "" {
		return "reply here and ask us to send it another way"
	}
	return "write to " + x.policy.Contact
}

// wholeText is the caption of the export sent whole.
func (s *Service) wholeText(x *exportRun, w exportFile) string {
	if x.scope != ScopeSelf {
		return fmt.Sprintf("Here is the export of %s (request #%d, format %s).", plural(len(x.subjects), countWord{"", "record", "records"}), x.id, ExportSchema)
	}
	if w.mime == zipMIME {
		return x.policy.signed(fmt.Sprintf("Here is a copy of the data we hold about you (request #%d). It is a ZIP file: %s (format %s) lists everything, and the photos, voice notes and documents you sent are in its media folder. The supplementary_information part explains why we hold it, for how long, who processes it and your rights.", x.id, ExportZipJSON, ExportSchema))
	}
	return x.policy.signed(fmt.Sprintf("Here is a copy of the data we hold about you (request #%d). It is a JSON document (format %s); its supplementary_information part explains why we hold it, for how long, who processes it and your rights.", x.id, ExportSchema))
}

// linkText is the message with a one-time link to the export.
func (s *Service) linkText(x *exportRun, w exportFile, tok string) string {
	text := fmt.Sprintf("The export (request #%d) is ready: %s%s\nThe link works once and expires in %s.", x.id, s.url, tok, duration(s.ttl))
	if w.mime == zipMIME {
		text += fmt.Sprintf(" It is a ZIP file: %s lists everything, and the files are in its media folder.", ExportZipJSON)
	}
	return text
}

// docCaption is the caption of the document that opens an export in
// parts.
func (s *Service) docCaption(x *exportRun) string {
	files := plural(len(x.files), countWord{"", "file", "files"})
	if x.scope != ScopeSelf {
		return fmt.Sprintf("Here is the export of %s (request #%d, format %s). This chat cannot take it as one ZIP file, so this document lists everything and the %s in it follow, one message each.",
			plural(len(x.subjects), countWord{"", "record", "records"}), x.id, ExportSchema, files)
	}
	return fmt.Sprintf("Here is a copy of the data we hold about you (request #%d). This chat cannot take it as one ZIP file, so this document (format %s) lists everything, and the %s follow, one message each. Its supplementary_information part explains why we hold it, for how long, who processes it and your rights.",
		x.id, ExportSchema, plural(len(x.files), countWord{"", "file we hold", "files we hold"}))
}

// kindWords are a file's kind in words, one and many.
var kindWords = map[bot.MessageKind]countWord{
	bot.KindImage:    {"", "photo", "photos"},
	bot.KindVoice:    {"", "voice note", "voice notes"},
	bot.KindAudio:    {"", "audio file", "audio files"},
	bot.KindVideo:    {"", "video", "videos"},
	bot.KindDocument: {"", "document", "documents"},
	bot.KindSticker:  {"", "sticker", "stickers"},
}

func kindOf(k bot.MessageKind) countWord {
	if w, ok := kindWords[k]; ok {
		return w
	}
	return countWord{"", "file", "files"}
}

// fileWords names one file of an export: `the document "quote.pdf" you
// sent on 31 Jan 2026 at 09:03 UTC (media/12-quote.pdf in the document)`.
func (s *Service) fileWords(x *exportRun, f zipFile) string {
	what := "the " + kindOf(f.kind).one
	if f.name != "" {
		what += fmt.Sprintf(" %q", path.Base(strings.ReplaceAll(f.name, "\\", "/")))
	}
	who := " sent"
	switch {
	case f.dir == bot.Out:
		who = " we sent with a reply"
	case x.scope == ScopeSelf:
		who = " you sent"
	}
	when := ""
	if !f.at.IsZero() {
		when = " on " + f.at.UTC().Format("2 Jan 2006 at 15:04 MST")
	}
	return what + who + when + " (" + f.path + " in the document)"
}

// capitalize upper-cases the first letter.
func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// maxNotSentLines bounds the lines naming what was not sent.
const maxNotSentLines = 10

// partsText is the reply that closes an export sent in parts: what was
// sent (counts), what was not and why, how to get it.
func (s *Service) partsText(x *exportRun, parts []part) string {
	var sentFiles []zipFile
	docSent := false
	var notSent, doubt []string
	again, ask := false, false
	for _, p := range parts {
		what := "the document listing the data we hold"
		if p.doc && x.scope == ScopeSelf {
			what += " about you"
		}
		if !p.doc {
			what = s.fileWords(x, *p.file)
		}
		switch p.outcome {
		case sent:
			if p.doc {
				docSent = true
			} else {
				sentFiles = append(sentFiles, *p.file)
			}
		case unconfirmed:
			doubt = append(doubt, what)
			again = true
		case failedNow:
			notSent = append(notSent, "Not sent: "+what+": "+p.why+".")
			again = true
		case cannotGo:
			notSent = append(notSent, "Not sent: "+what+": "+p.why+".")
			ask = true
		}
	}
	var sentWhat []string
	if docSent {
		what := "the document listing the data we hold"
		if x.scope == ScopeSelf {
			what += " about you"
		}
		sentWhat = append(sentWhat, what)
	}
	if len(sentFiles) > 0 {
		files := plural(len(sentFiles), countWord{"", "file", "files"})
		if len(sentFiles) < len(x.files) {
			files = fmt.Sprintf("%d of the %d files", len(sentFiles), len(x.files))
		}
		sentWhat = append(sentWhat, files+" ("+kindCounts(sentFiles)+")")
	}
	var lines []string
	if len(notSent) == 0 && len(doubt) == 0 {
		lines = append(lines, fmt.Sprintf("That is all of your export (request #%d): %s, each in its own message above.", x.id, strings.Join(sentWhat, " and ")))
		return x.policy.signed(strings.Join(lines, "\n"))
	}
	lines = append(lines, fmt.Sprintf("Your export (request #%d) is not complete. Sent above: %s.", x.id, orNothing(strings.Join(sentWhat, " and "))))
	for i, l := range notSent {
		if i == maxNotSentLines {
			lines = append(lines, fmt.Sprintf("…and %s more not sent.", plural(len(notSent)-i, countWord{"", "file", "files"})))
			break
		}
		lines = append(lines, l)
	}
	for _, d := range doubt {
		lines = append(lines, "We could not confirm that "+d+" arrived: if you do not see it above, it did not.")
	}
	if again {
		lines = append(lines, "Type /export again to get the whole export again: this one does not count towards your one export per hour.")
	}
	if ask {
		lines = append(lines, "For what this chat cannot take, "+s.askFor(x)+".")
	}
	return x.policy.signed(strings.Join(lines, "\n"))
}

// orNothing is s, or "nothing" when s is empty.
func orNothing(s string) string {
	if s == "" {
		return "nothing"
	}
	return s
}

// kindCounts renders files by kind: "1 photo and 2 voice notes".
func kindCounts(files []zipFile) string {
	var order []bot.MessageKind
	n := map[bot.MessageKind]int{}
	for _, f := range files {
		if n[f.kind] == 0 {
			order = append(order, f.kind)
		}
		n[f.kind]++
	}
	var out []string
	for _, k := range order {
		out = append(out, plural(n[k], kindOf(k)))
	}
	switch len(out) {
	case 1:
		return out[0]
	case 0:
		return ""
	}
	return strings.Join(out[:len(out)-1], ", ") + " and " + out[len(out)-1]
}
