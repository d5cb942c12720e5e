package privacy

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/switchboard/switchboard/bot"
)

// link is a one-time export download.
type link struct {
	path     string
	name     string
	mime     string // "" is application/json
	subjects []bot.SubjectID
	expires  time.Time
}

// askExport answers /export: the requester's own data, or (admins) the
// subjects an identifier names; company-wide needs a second admin.
func (s *Service) askExport(ctx context.Context, req bot.CommandRequest, t Target) (bot.Reply, error) {
	if s.noFileHere(req) {
		return bot.Reply{Text: textNoFiles}, nil
	}
	if t.Scope == ScopeCompany {
		return s.companyStep(ctx, req, VerbExport)
	}
	people, err := s.resolve(ctx, req, t)
	if err != nil {
		return bot.Reply{}, s.userErr("export", err)
	}
	if len(people) == 0 {
		return s.noMatch(ctx, req, VerbExport, t)
	}
	return s.runExport(ctx, req, req.Subject.ID, t.Scope, s.received(req), subjectsOf(people))
}

// runExport registers an export, streams the document to a file and
// delivers it (see deliverExport). At most one export per requester per
// ExportEvery: an export that did not reach the person whole (a part not
// sent or not confirmed, or nothing at all) does not count.
func (s *Service) runExport(ctx context.Context, req bot.CommandRequest, by bot.SubjectID, scope Scope, received time.Time, subjects []bot.SubjectID) (bot.Reply, error) {
	if s.noFileHere(req) {
		return bot.Reply{Text: textNoFiles}, nil
	}
	now := s.now()
	s.mu.Lock()
	last, ok := s.lastExport[req.Subject.ID]
	if ok && now.Before(last.Add(s.every)) {
		s.mu.Unlock()
		return bot.Reply{Text: fmt.Sprintf("You can ask for one export per hour; please try again after %s.", last.Add(s.every).UTC().Format("15:04 MST"))}, nil
	}
	s.lastExport[req.Subject.ID] = now // reserved; released unless delivered whole
	s.mu.Unlock()

	reply, whole, err := s.exportNow(ctx, req, by, scope, received, subjects)
	if err != nil || !whole {
		s.mu.Lock()
		if s.lastExport[req.Subject.ID].Equal(now) {
			delete(s.lastExport, req.Subject.ID)
		}
		s.mu.Unlock()
	}
	return reply, err
}

// exportNow registers the request, writes the document (and the ZIP) and
// delivers it. whole reports whether the person got all of it.
func (s *Service) exportNow(ctx context.Context, req bot.CommandRequest, by bot.SubjectID, scope Scope, received time.Time, subjects []bot.SubjectID) (reply bot.Reply, whole bool, err error) {
	id, err := s.st.CreateRequest(ctx, bot.Request{Kind: bot.RequestExport, Scope: string(scope), Received: received, Due: bot.DueDate(received), RequestedBy: by, Status: "open"})
	if err != nil {
		return bot.Reply{}, false, s.userErr("create request", err)
	}
	fail := func(op string, err error) (bot.Reply, bool, error) {
		if cerr := s.st.CompleteRequest(ctx, id, "failed", nil, s.now().UTC()); cerr != nil {
			err = errors.Join(err, cerr)
		}
		s.log.Warn().Int64("request", id).Str("op", op).Msg("export failed")
		return bot.Reply{}, false, s.userErr(op, fmt.Errorf("request %d: %w", id, err))
	}
	if err := os.MkdirAll(s.dir, 0o700); err != nil {
		return fail("export dir", err)
	}
	f, err := os.CreateTemp(s.dir, "export-*.json")
	if err != nil {
		return fail("export file", err)
	}
	p := f.Name()
	s.track(p)
	policy := s.policyNow()
	counts, files, err := writeExportFiles(ctx, s.st, f, s.now(), id, scope, policy.Supplementary(), subjects)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		s.removeFile(p)
		return fail("export write", err)
	}
	if _, ok := s.st.(MediaSource); !ok && len(files) > 0 {
		s.removeFile(p)
		return fail("export media", errors.New("the store cannot open media"))
	}
	if len(files) > 0 {
		counts["media_files"] = len(files)
	}
	x := &exportRun{id: id, req: req, by: by, scope: scope, subjects: subjects, counts: counts, files: files, policy: policy,
		base: fmt.Sprintf("switchboard-export-%s-%d", s.now().UTC().Format("2006-01-02"), id), json: p}
	defer x.cleanup(s)
	ch := s.senders[req.Platform]
	if ch == nil {
		return s.exportReply(ctx, x)
	}
	return s.deliverExport(ctx, ch, x)
}

// exportReply hands the export to the router as the command's reply: as a
// file on WhatsApp (or when no ExportURL is set), else as a one-time link.
// It is for a platform with no channel among the Senders, whose delivery
// the service cannot see: the request is recorded done.
func (s *Service) exportReply(ctx context.Context, x *exportRun) (bot.Reply, bool, error) {
	w, err := s.wholeFile(ctx, x)
	if err != nil {
		return s.exportFailed(ctx, x, "export zip", err)
	}
	if err := s.st.CompleteRequest(ctx, x.id, "done", x.counts, s.now().UTC()); err != nil {
		return s.exportFailed(ctx, x, "complete request", err)
	}
	for _, sub := range x.subjects {
		if err := s.st.Audit(ctx, bot.AuditEntry{At: s.now().UTC(), Actor: x.by, Action: "export", Subject: sub, Detail: fmt.Sprintf("request %d", x.id)}); err != nil {
			return bot.Reply{}, false, s.userErr("audit", err)
		}
	}
	s.log.Info().Int64("request", x.id).Str("actor", string(x.by)).Int("subjects", len(x.subjects)).Int("messages", x.counts["messages"]).Msg("export ready")
	if x.req.Platform == bot.WhatsApp || s.url == "" {
		data, err := os.ReadFile(w.path)
		if err != nil {
			return bot.Reply{}, false, s.userErr("export read", err)
		}
		return bot.Reply{Text: s.wholeText(x, w), File: &bot.File{Name: w.name, MIME: w.mime, Data: data}}, true, nil
	}
	tok, err := s.link(x, w)
	if err != nil {
		return bot.Reply{}, false, s.userErr("export link", err)
	}
	return bot.Reply{Text: s.linkText(x, w, tok)}, true, nil
}

// textNoFiles answers /export where the export could only go as a file and
// the chat cannot receive one.
const textNoFiles = "Files cannot be sent in this chat, so no export was made and your one export per hour is not used up. Please ask in a chat that can receive files."

// noFileHere reports whether an export asked for in req's chat could only
// go as files (no ExportURL) through a channel that sends none. A platform
// without a known channel is assumed to take them.
func (s *Service) noFileHere(req bot.CommandRequest) bool {
	if s.url != "" {
		return false // a link can go
	}
	ch, ok := s.senders[req.Platform]
	return ok && ch != nil && !ch.Capabilities().Files
}

// addLink registers a one-time link and returns its token (32 random
// bytes, hex). Only the token's SHA-256 is kept. A timer deletes the link
// and its file when LinkTTL has passed, whether or not it was used.
func (s *Service) addLink(l link) (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("token: %w", err)
	}
	tok := hex.EncodeToString(b[:])
	k := sha256.Sum256([]byte(tok))
	s.mu.Lock()
	s.links[k] = l
	s.mu.Unlock()
	time.AfterFunc(s.ttl, func() { s.expireLink(k, l.path) })
	return tok, nil
}

// expireLink drops a link whose time is up and deletes its file.
func (s *Service) expireLink(k [32]byte, path string) {
	s.mu.Lock()
	if l, ok := s.links[k]; ok && l.path == path {
		delete(s.links, k)
	}
	s.mu.Unlock()
	s.removeFile(path)
	s.log.Info().Msg("export link expired; its file is deleted")
}

// claim removes and returns the link for tok if it exists and has not
// expired.
func (s *Service) claim(tok string, now time.Time) (link, bool) {
	if len(tok) != 64 {
		return link{}, false
	}
	if _, err := hex.DecodeString(tok); err != nil {
		return link{}, false
	}
	k := sha256.Sum256([]byte(strings.ToLower(tok)))
	s.mu.Lock()
	l, ok := s.links[k]
	if ok {
		delete(s.links, k)
	}
	s.mu.Unlock()
	if !ok {
		return link{}, false
	}
	if !now.Before(l.expires) {
		s.removeFile(l.path)
		return link{}, false
	}
	return l, true
}

// ExportHandler serves one-time export links: GET <ExportURL><token>, the
// token being the last path element, so mount it on ExportURL's path
// (mux.Handle("/exports/", svc.ExportHandler())). A link works once; it and
// its file are deleted after the download, or after LinkTTL. Unknown, used
// and expired tokens all get 404.
func (s *Service) ExportHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			w.Header().Set("Allow", http.MethodGet)
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		l, ok := s.claim(path.Base(r.URL.Path), s.now())
		if !ok {
			http.Error(w, "not found or expired", http.StatusNotFound)
			return
		}
		defer s.removeFile(l.path)
		f, err := os.Open(l.path)
		if err != nil {
			s.log.Warn().Err(err).Msg("export file missing")
			http.Error(w, "not found or expired", http.StatusNotFound)
			return
		}
		defer f.Close()
		h := w.Header()
		if l.mime == "" || l.mime == "application/json" {
			h.Set("Content-Type", "application/json; charset=utf-8")
		} else {
			h.Set("Content-Type", l.mime)
		}
		h.Set("Content-Disposition", `attachment; filename="`+l.name+`"`)
		h.Set("Cache-Control", "no-store")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		if st, err := f.Stat(); err == nil {
			h.Set("Content-Length", fmt.Sprint(st.Size()))
		}
		if _, err := io.Copy(w, f); err != nil {
			// The error names the client address: not logged.
			s.log.Warn().Msg("export download interrupted")
			return
		}
		s.log.Info().Int("subjects", len(l.subjects)).Msg("export downloaded")
	})
}

// sweep drops expired links, confirmations and rate-limit entries, and
// removes export files older than LinkTTL, including ones left by a crash.
func (s *Service) sweep(now time.Time) {
	s.mu.Lock()
	for k, l := range s.links {
		if !now.Before(l.expires) {
			delete(s.links, k)
			s.removeFile(l.path)
		}
	}
	for k, p := range s.pending {
		if !now.Before(p.expires) {
			delete(s.pending, k)
		}
	}
	for v, cp := range s.company {
		if !now.Before(cp.expires) {
			delete(s.company, v)
		}
	}
	for sub, at := range s.lastExport {
		if !now.Before(at.Add(s.every)) {
			delete(s.lastExport, sub)
		}
	}
	live := map[string]bool{}
	for _, l := range s.links {
		live[l.path] = true
	}
	s.mu.Unlock()
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		return // no directory yet: nothing to sweep
	}
	for _, e := range ents {
		if !isExportFile(e.Name()) {
			continue
		}
		p := filepath.Join(s.dir, e.Name())
		info, err := e.Info()
		if err == nil && !live[p] && now.Sub(info.ModTime()) > s.ttl {
			s.removeFile(p)
		}
	}
}

// track records an export file this process wrote.
func (s *Service) track(p string) {
	s.fmu.Lock()
	s.files[p] = true
	s.fmu.Unlock()
}

// removeFile deletes an export file; a file already gone is fine.
func (s *Service) removeFile(p string) {
	err := os.Remove(p)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		s.log.Warn().Err(err).Msg("export file not removed")
		return
	}
	s.fmu.Lock()
	delete(s.files, p)
	s.fmu.Unlock()
}

// Run deletes the export files an earlier process left (their links died
// with it) and runs every pending forget (an erasure whose channels had
// not all forgotten the person when a process stopped; see forgets.go),
// then drops expired confirmations, links and rate-limit entries and
// retries the forgets that are due every SweepEvery, until ctx is done.
// Start it once the channels exist: their forgetters run at once. Export
// links and their files expire on their own timers; Run is the safety net
// and the start-up clean-up.
func (s *Service) Run(ctx context.Context) {
	if n := s.removeLeftovers(); n > 0 {
		s.log.Info().Int("files", n).Msg("export files left by an earlier run deleted")
	}
	s.resumeForgets(ctx)
	t := time.NewTicker(s.sweepEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			now := s.now()
			s.sweep(now)
			s.retryForgets(ctx, now)
		}
	}
}

// removeLeftovers deletes every export file in the directory that this
// process did not write, and returns how many it deleted.
func (s *Service) removeLeftovers() int {
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		return 0 // no directory yet: nothing left over
	}
	n := 0
	for _, e := range ents {
		if !isExportFile(e.Name()) {
			continue
		}
		p := filepath.Join(s.dir, e.Name())
		s.fmu.Lock()
		mine := s.files[p]
		s.fmu.Unlock()
		if !mine {
			s.removeFile(p)
			n++
		}
	}
	return n
}

// isExportFile reports whether name is an export file's.
func isExportFile(name string) bool {
	return strings.HasPrefix(name, "export-") && (strings.HasSuffix(name, ".json") || strings.HasSuffix(name, ".zip"))
}
