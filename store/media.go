package store

import (
	"bufio"
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/switchboard/switchboard/bot"
)

// Media files.
//
// The bytes of an attachment live in a file of their own, Dir/media/<file>,
// not in a blob: a 100 MB document in SQLite would pass through the WAL
// (written twice, and the WAL kept at journal_size_limit afterwards), be
// zeroed page by page by secure_delete on erasure, be copied by every
// VACUUM INTO backup, and be read whole into memory. A file is written
// once, streamed in and out, and erased by one unlink.
//
// Each file is sealed with its own random 256-bit key (AES-256-GCM in
// 64 KiB chunks); that key is sealed with the subject's key in the row's
// file_key column, like any personal field. So: erasure destroys the
// subject's key and the row (the file is unreadable even if its blocks
// survive on disk) and unlinks the file; a merge of two subjects re-seals
// 32 bytes instead of rewriting the file. Every chunk's additional data
// names the media row id, the file name, the chunk's index and whether it
// is the last one, so chunks cannot be reordered, dropped, cut off or moved
// to another file. The file is encrypted before its first byte is written
// (to a temporary file in the same directory, fsynced, then renamed), so
// no crash leaves plaintext on disk.
//
// File format: "SBMEDIA1", the chunk size (uint32, big endian), then the
// chunks, each its ciphertext and 16-byte tag, the nonce being the chunk
// index. The key is never reused: a new fetch makes a new file and key.

// MediaDirName is the directory under Options.Dir holding media files.
const MediaDirName = "media"

const (
	mediaMagic   = "SBMEDIA1"
	mediaChunk   = 64 << 10
	mediaHdrLen  = len(mediaMagic) + 4
	mediaTmpPfx  = ".tmp-"
	maxMediaNote = 500
)

// ErrMediaNotFetched is returned by OpenMedia for an item whose bytes are
// not kept (pending or failed).
var ErrMediaNotFetched = errors.New("media not fetched")

var _ bot.MediaStore = (*DB)(nil)

// MediaDir is the directory holding the sealed media files.
func (db *DB) MediaDir() string { return filepath.Join(db.dir, MediaDirName) }

// mediaCols are the columns scanMedia reads.
const mediaCols = "id, subject_id, message_id, platform, kind, mime, size, sha256, name, ref, state, attempts, next_attempt, note, thumb, transcript, created_at, fetched_at, dir, " +
	"COALESCE((SELECT ai_restricted FROM messages WHERE messages.id = media.message_id), 0) OR " +
	"COALESCE((SELECT ai_restricted FROM subjects WHERE subjects.id = media.subject_id), 0)"

func (db *DB) scanMedia(ctx context.Context, rows interface{ Scan(...any) error }) (bot.Media, error) {
	var m bot.Media
	var subject, platform, kind, state, dir string
	var sum, name, ref, thumb, transcript []byte
	var next, created, fetched int64
	if err := rows.Scan(&m.ID, &subject, &m.MessageID, &platform, &kind, &m.MIME, &m.Size, &sum, &name, &ref, &state,
		&m.Attempts, &next, &m.Note, &thumb, &transcript, &created, &fetched, &dir, &m.AIRestricted); err != nil {
		return bot.Media{}, err
	}
	m.Subject, m.Platform, m.Kind, m.State, m.Dir = bot.SubjectID(subject), bot.Platform(platform), bot.MessageKind(kind), bot.MediaState(state), bot.Direction(dir)
	m.NextAttempt, m.CreatedAt, m.FetchedAt = fromTS(next), fromTS(created), fromTS(fetched)
	sk, err := db.subjectKey(ctx, m.Subject)
	if err != nil {
		return bot.Media{}, err
	}
	row := rowID(m.ID)
	if m.SHA256, err = sk.open("media", "sha256", row, sum); err != nil {
		return bot.Media{}, err
	}
	if m.FileName, err = sk.openString("media", "name", row, name); err != nil {
		return bot.Media{}, err
	}
	r, err := sk.open("media", "ref", row, ref)
	if err != nil {
		return bot.Media{}, err
	}
	m.Ref = string(r)
	if m.Thumb, err = sk.open("media", "thumb", row, thumb); err != nil {
		return bot.Media{}, err
	}
	if m.Transcript, err = sk.openString("media", "transcript", row, transcript); err != nil {
		return bot.Media{}, err
	}
	return m, nil
}

func (db *DB) queryMedia(ctx context.Context, q querier, where string, args ...any) ([]bot.Media, error) {
	rows, err := q.QueryContext(ctx, "SELECT "+mediaCols+" FROM media "+where, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []bot.Media
	for rows.Next() {
		m, err := db.scanMedia(ctx, rows)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// sealBytes seals b, or returns nil (SQL NULL) for none.
func (sk *subjectKey) sealBytes(table, column string, row rowKey, b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return sk.seal(table, column, row, b)
}

// CreateMedia records a pending attachment of stored message m.MessageID,
// whose subject it takes, and returns its id. Kind is required; MIME,
// FileName, Size, SHA256 and Ref are what the platform declared (the last
// three sealed). It is due for a fetch at once.
func (db *DB) CreateMedia(ctx context.Context, m bot.Media) (int64, error) {
	if err := checkNewMedia(m); err != nil {
		return 0, err
	}
	var id int64
	err := db.tx(ctx, func(tx *sql.Tx) error {
		var subject, platform string
		if err := tx.QueryRowContext(ctx, "SELECT subject_id, platform FROM messages WHERE id = ?", m.MessageID).Scan(&subject, &platform); err != nil {
			return notFound(err)
		}
		sk, err := db.subjectKey(ctx, bot.SubjectID(subject))
		if err != nil {
			return err
		}
		id, err = db.insertMedia(ctx, tx, sk, platform, m)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("create media: %w", err)
	}
	return id, nil
}

// checkNewMedia validates a pending item before it is recorded.
func checkNewMedia(m bot.Media) error {
	if m.MessageID == 0 || m.Kind == "" {
		return errors.New("create media: message and kind are required")
	}
	if len(m.FileName) > maxNameLen || len(m.Ref) > 64<<10 || len(m.MIME) > 255 {
		return fmt.Errorf("create media: %w", bot.ErrTooLarge)
	}
	return nil
}

// insertMedia records the pending item m of the message m.MessageID, whose
// subject's key is sk, inside tx (CreateMedia, or with the message itself
// in SaveInbound and Ingest).
func (db *DB) insertMedia(ctx context.Context, tx *sql.Tx, sk *subjectKey, platform string, m bot.Media) (int64, error) {
	if err := checkNewMedia(m); err != nil {
		return 0, err
	}
	now := ts(db.now())
	dir := bot.In
	if m.Dir == bot.Out {
		dir = bot.Out
	}
	id, err := db.nextID(ctx, tx, "media")
	if err != nil {
		return 0, err
	}
	row := rowID(id)
	if _, err := tx.ExecContext(ctx, `INSERT INTO media (id, subject_id, message_id, platform, kind, mime, size, sha256, name, ref, state, next_attempt, created_at, updated_at, dir)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?, ?)`,
		id, string(sk.id), m.MessageID, platform, string(m.Kind), m.MIME, max(m.Size, 0), sk.sealBytes("media", "sha256", row, m.SHA256),
		sk.sealString("media", "name", row, m.FileName), sk.sealString("media", "ref", row, m.Ref), now, now, now, string(dir)); err != nil {
		return 0, fmt.Errorf("insert media: %w", err)
	}
	return id, nil
}

// AttachToDraft keeps data as the file staff attached to draft draftID's
// reply: a media row under the draft's customer (Dir out, on the draft's
// message), its bytes sealed as SaveMediaBytes seals a customer's, then the
// draft pointing at it; an earlier attachment is deleted with its file.
// bot.ErrDecided if the draft was decided meanwhile (the new file is
// removed), bot.ErrNotFound if the draft or its message is gone.
func (db *DB) AttachToDraft(ctx context.Context, draftID int64, m bot.Media, c bot.MediaContent, data []byte) (int64, error) {
	if len(data) == 0 {
		return 0, errors.New("attach to draft: no bytes")
	}
	m.Dir, m.Ref, m.SHA256 = bot.Out, "", nil
	var id int64
	err := db.tx(ctx, func(tx *sql.Tx) error {
		var subject, platform, status string
		var msgID sql.NullInt64
		if err := tx.QueryRowContext(ctx, "SELECT subject_id, platform, status, message_id FROM drafts WHERE id = ?", draftID).
			Scan(&subject, &platform, &status, &msgID); err != nil {
			return notFound(err)
		}
		if bot.DraftStatus(status).Decided() {
			return bot.ErrDecided
		}
		if !msgID.Valid {
			return bot.ErrNotFound
		}
		sk, err := db.subjectKey(ctx, bot.SubjectID(subject))
		if err != nil {
			return err
		}
		m.MessageID = msgID.Int64
		id, err = db.insertMedia(ctx, tx, sk, platform, m)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("attach to draft %d: %w", draftID, err)
	}
	if err := db.SaveMediaBytes(ctx, id, c, bytes.NewReader(data), int64(len(data))); err != nil {
		db.dropMedia(ctx, id)
		return 0, fmt.Errorf("attach to draft %d: %w", draftID, err)
	}
	var old []string
	err = db.tx(ctx, func(tx *sql.Tx) error {
		var status string
		var prev sql.NullInt64
		if err := tx.QueryRowContext(ctx, "SELECT status, attachment_id FROM drafts WHERE id = ?", draftID).Scan(&status, &prev); err != nil {
			return notFound(err)
		}
		if bot.DraftStatus(status).Decided() {
			return bot.ErrDecided
		}
		if _, err := tx.ExecContext(ctx, "UPDATE drafts SET attachment_id = ?, updated_at = ? WHERE id = ?", id, ts(db.now()), draftID); err != nil {
			return err
		}
		if prev.Valid && prev.Int64 != id {
			var err error
			old, _, err = deleteMediaRows(ctx, tx, "id = ?", prev.Int64)
			return err
		}
		return nil
	})
	if err != nil {
		db.dropMedia(ctx, id)
		return 0, fmt.Errorf("attach to draft %d: %w", draftID, err)
	}
	_ = db.removeMediaFiles(old)
	return id, nil
}

// dropMedia deletes one media row and its file (an attachment that did not
// make it onto its draft).
func (db *DB) dropMedia(ctx context.Context, id int64) {
	var files []string
	err := db.tx(context.WithoutCancel(ctx), func(tx *sql.Tx) error {
		var err error
		files, _, err = deleteMediaRows(ctx, tx, "id = ?", id)
		return err
	})
	if err != nil {
		db.log.Warn().Err(err).Int64("media", id).Msg("attachment not dropped; the sweep removes it")
		return
	}
	_ = db.removeMediaFiles(files)
}

// DraftOfMessage returns the id of the draft answering message row
// messageID, or bot.ErrNotFound.
func (db *DB) DraftOfMessage(ctx context.Context, messageID int64) (int64, error) {
	_, read, _, err := db.handles()
	if err != nil {
		return 0, err
	}
	var id int64
	if err := read.QueryRowContext(ctx, "SELECT id FROM drafts WHERE message_id = ? ORDER BY id LIMIT 1", messageID).Scan(&id); err != nil {
		return 0, fmt.Errorf("draft of message %d: %w", messageID, notFound(err))
	}
	return id, nil
}

// FindMedia returns one item without its bytes; bot.ErrNotFound if none.
func (db *DB) FindMedia(ctx context.Context, id int64) (bot.Media, error) {
	_, read, _, err := db.handles()
	if err != nil {
		return bot.Media{}, err
	}
	ms, err := db.queryMedia(ctx, read, "WHERE id = ?", id)
	if err != nil {
		return bot.Media{}, fmt.Errorf("find media %d: %w", id, err)
	}
	if len(ms) == 0 {
		return bot.Media{}, fmt.Errorf("find media %d: %w", id, bot.ErrNotFound)
	}
	return ms[0], nil
}

// MediaOf returns every attachment of subject s, oldest first; none is an
// empty slice.
func (db *DB) MediaOf(ctx context.Context, s bot.SubjectID) ([]bot.Media, error) {
	_, read, _, err := db.handles()
	if err != nil {
		return nil, err
	}
	ms, err := db.queryMedia(ctx, read, "WHERE subject_id = ? ORDER BY id", string(s))
	if err != nil {
		return nil, fmt.Errorf("media of subject: %w", err)
	}
	return nonNilMedia(ms), nil
}

// MediaOfMessage returns the attachments of message row messageID (the
// files the customer sent with it, not those staff attached to replies).
func (db *DB) MediaOfMessage(ctx context.Context, messageID int64) ([]bot.Media, error) {
	_, read, _, err := db.handles()
	if err != nil {
		return nil, err
	}
	ms, err := db.queryMedia(ctx, read, "WHERE message_id = ? AND dir = 'in' ORDER BY id", messageID)
	if err != nil {
		return nil, fmt.Errorf("media of message %d: %w", messageID, err)
	}
	return nonNilMedia(ms), nil
}

func nonNilMedia(ms []bot.Media) []bot.Media {
	if ms == nil {
		return []bot.Media{}
	}
	return ms
}

// DueMediaFetches returns up to limit pending items due by now, earliest
// due first.
func (db *DB) DueMediaFetches(ctx context.Context, now time.Time, limit int) ([]bot.Media, error) {
	_, read, _, err := db.handles()
	if err != nil {
		return nil, err
	}
	if limit <= 0 {
		limit = 100
	}
	ms, err := db.queryMedia(ctx, read, "WHERE state = 'pending' AND dir = 'in' AND next_attempt <= ? ORDER BY next_attempt, id LIMIT ?", ts(now), limit)
	if err != nil {
		return nil, fmt.Errorf("due media fetches: %w", err)
	}
	return nonNilMedia(ms), nil
}

// MarkMediaFailed records a failed fetch of a pending item: the attempt is
// counted and note (plain words for staff, cut to 500 bytes) kept. With a
// non-zero retry the item stays pending and is due again then; with a zero
// retry it is failed for good. An item already fetched is left as it is;
// an unknown one gives bot.ErrNotFound.
func (db *DB) MarkMediaFailed(ctx context.Context, id int64, note string, retry time.Time) error {
	write, _, _, err := db.handles()
	if err != nil {
		return err
	}
	state := bot.MediaPending
	if retry.IsZero() {
		state = bot.MediaFailed
	}
	if len(note) > maxMediaNote {
		note = strings.ToValidUTF8(note[:maxMediaNote], "")
	}
	res, err := write.ExecContext(ctx, `UPDATE media SET attempts = attempts + 1, note = ?, state = ?, next_attempt = ?, updated_at = ?
		WHERE id = ? AND state <> 'fetched'`, note, string(state), ts(retry), ts(db.now()), id)
	if err != nil {
		return fmt.Errorf("mark media %d failed: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		if _, err := db.FindMedia(ctx, id); err != nil {
			return fmt.Errorf("mark media %d failed: %w", id, bot.ErrNotFound)
		}
	}
	return nil
}

// SetMediaTranscript stores a voice note's transcript, sealed under the
// item's subject.
func (db *DB) SetMediaTranscript(ctx context.Context, id int64, text string) error {
	if len(text) > MaxTextLen {
		return fmt.Errorf("set media transcript: %w", bot.ErrTooLarge)
	}
	err := db.tx(ctx, func(tx *sql.Tx) error {
		var subject string
		if err := tx.QueryRowContext(ctx, "SELECT subject_id FROM media WHERE id = ?", id).Scan(&subject); err != nil {
			return notFound(err)
		}
		sk, err := db.subjectKey(ctx, bot.SubjectID(subject))
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, "UPDATE media SET transcript = ?, updated_at = ? WHERE id = ?",
			sk.sealString("media", "transcript", rowID(id), text), ts(db.now()), id)
		return err
	})
	if err != nil {
		return fmt.Errorf("set media transcript %d: %w", id, err)
	}
	return nil
}

// mediaFiles tracks files written but not yet recorded, so a concurrent
// sweep leaves them alone.
type mediaFiles struct {
	mu       sync.Mutex
	inFlight map[string]bool
}

func (f *mediaFiles) add(name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.inFlight == nil {
		f.inFlight = map[string]bool{}
	}
	f.inFlight[name] = true
}

func (f *mediaFiles) done(name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.inFlight, name)
}

func (f *mediaFiles) busy(name string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.inFlight[name]
}

// SaveMediaBytes reads the bytes of item id from r, at most limit of them
// (more is bot.ErrTooLarge; none is an error), seals them into a new file
// under MediaDir and marks the item fetched with c's checked type and
// preview and transcript (if any), the measured size and SHA-256,
// clearing its note. The file is
// written encrypted to a temporary name, fsynced and renamed before the
// row points at it. An item already fetched is left as it is (nil); an
// item gone meanwhile (its person erased, its message revoked) gives
// bot.ErrNotFound and leaves no file.
func (db *DB) SaveMediaBytes(ctx context.Context, id int64, c bot.MediaContent, r io.Reader, limit int64) error {
	if limit <= 0 {
		return errors.New("save media: limit must be positive")
	}
	if len(c.Thumb) > 1<<20 || len(c.MIME) > 255 || len(c.Transcript) > MaxTextLen {
		return fmt.Errorf("save media %d: %w", id, bot.ErrTooLarge)
	}
	m, err := db.FindMedia(ctx, id)
	if err != nil {
		return fmt.Errorf("save media: %w", err)
	}
	if m.State == bot.MediaFetched {
		return nil
	}
	var name [16]byte
	key := make([]byte, 32)
	if _, err := rand.Read(name[:]); err != nil {
		return fmt.Errorf("save media: %w", err)
	}
	if _, err := rand.Read(key); err != nil {
		return fmt.Errorf("save media: %w", err)
	}
	defer clear(key)
	file := hex.EncodeToString(name[:])
	db.media.add(file)
	defer db.media.done(file)
	size, sum, err := db.writeMediaFile(ctx, id, file, key, r, limit)
	if err != nil {
		return fmt.Errorf("save media %d: %w", id, err)
	}
	recorded := false
	defer func() {
		if !recorded {
			db.removeMediaFiles([]string{file})
		}
	}()
	err = db.tx(ctx, func(tx *sql.Tx) error {
		// The subject is read in the transaction: a merge may have moved
		// the item since FindMedia.
		var subject, state string
		if err := tx.QueryRowContext(ctx, "SELECT subject_id, state FROM media WHERE id = ?", id).Scan(&subject, &state); err != nil {
			return notFound(err)
		}
		if state == string(bot.MediaFetched) {
			return nil
		}
		sk, err := db.subjectKey(ctx, bot.SubjectID(subject))
		if err != nil {
			return err
		}
		now := ts(db.now())
		row := rowID(id)
		var transcript []byte
		if c.Transcript != "" {
			transcript = sk.sealString("media", "transcript", row, c.Transcript)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE media SET state = 'fetched', file = ?, file_key = ?, mime = ?, size = ?, sha256 = ?, thumb = ?,
			transcript = COALESCE(?, transcript), note = '', fetched_at = ?, updated_at = ? WHERE id = ?`,
			file, sk.seal("media", "file_key", row, key), c.MIME, size, sk.seal("media", "sha256", row, sum[:]), sk.sealBytes("media", "thumb", row, c.Thumb),
			transcript, now, now, id); err != nil {
			return err
		}
		recorded = true
		return nil
	})
	if err != nil {
		recorded = false
		return fmt.Errorf("save media %d: %w", id, err)
	}
	return nil
}

// mediaAAD binds one chunk to its media row, file, position and finality.
func mediaAAD(id int64, file string, index uint64, last bool) []byte {
	return fmt.Appendf(nil, "switchboard/media|v1|%d|%s|%d|%t", id, file, index, last)
}

func mediaNonce(index uint64) []byte {
	n := make([]byte, 12)
	binary.BigEndian.PutUint64(n[4:], index)
	return n
}

func fileAEAD(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("aes: %w", err)
	}
	return cipher.NewGCM(block)
}

// writeMediaFile streams r, sealed, into MediaDir/file and returns the
// plaintext's size and SHA-256.
func (db *DB) writeMediaFile(ctx context.Context, id int64, file string, key []byte, r io.Reader, limit int64) (size int64, sum [32]byte, err error) {
	aead, err := fileAEAD(key)
	if err != nil {
		return 0, sum, err
	}
	dir := db.MediaDir()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return 0, sum, fmt.Errorf("media dir: %w", err)
	}
	tmp := filepath.Join(dir, mediaTmpPfx+file)
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return 0, sum, fmt.Errorf("create media file: %w", err)
	}
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(tmp)
		}
	}()
	w := bufio.NewWriterSize(f, mediaChunk+aead.Overhead())
	hdr := make([]byte, mediaHdrLen)
	copy(hdr, mediaMagic)
	binary.BigEndian.PutUint32(hdr[len(mediaMagic):], mediaChunk)
	if _, err := w.Write(hdr); err != nil {
		return 0, sum, fmt.Errorf("write media file: %w", err)
	}
	h := sha256.New()
	br := bufio.NewReaderSize(io.LimitReader(r, limit+1), mediaChunk)
	plain := make([]byte, mediaChunk)
	sealed := make([]byte, 0, mediaChunk+aead.Overhead())
	defer clear(plain)
	for index := uint64(0); ; index++ {
		if err := ctx.Err(); err != nil {
			return 0, sum, err
		}
		n, rerr := io.ReadFull(br, plain)
		last := false
		switch {
		case rerr == io.EOF || rerr == io.ErrUnexpectedEOF:
			last = true
		case rerr != nil:
			return 0, sum, fmt.Errorf("read media: %w", rerr)
		default:
			if _, perr := br.Peek(1); perr == io.EOF {
				last = true
			} else if perr != nil {
				return 0, sum, fmt.Errorf("read media: %w", perr)
			}
		}
		size += int64(n)
		if size > limit {
			return 0, sum, fmt.Errorf("media over %d bytes: %w", limit, bot.ErrTooLarge)
		}
		if last && size == 0 {
			return 0, sum, errors.New("media: no bytes")
		}
		h.Write(plain[:n])
		sealed = aead.Seal(sealed[:0], mediaNonce(index), plain[:n], mediaAAD(id, file, index, last))
		if _, err := w.Write(sealed); err != nil {
			return 0, sum, fmt.Errorf("write media file: %w", err)
		}
		if last {
			break
		}
	}
	if err := w.Flush(); err != nil {
		return 0, sum, fmt.Errorf("write media file: %w", err)
	}
	if err := f.Sync(); err != nil {
		return 0, sum, fmt.Errorf("sync media file: %w", err)
	}
	if err := f.Close(); err != nil {
		return 0, sum, fmt.Errorf("close media file: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, file)); err != nil {
		return 0, sum, fmt.Errorf("rename media file: %w", err)
	}
	if err := syncDir(dir); err != nil {
		return 0, sum, err
	}
	copy(sum[:], h.Sum(nil))
	return size, sum, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync media dir: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync media dir: %w", err)
	}
	return nil
}

// OpenMedia returns a reader of the decrypted bytes of a fetched item. Each
// chunk is authenticated before any of its bytes are returned; a chunk that
// does not authenticate, a missing chunk or a cut-off file is an error from
// Read. ErrMediaNotFetched for items without bytes, bot.ErrNotFound for
// unknown ones. The caller closes the reader.
func (db *DB) OpenMedia(ctx context.Context, id int64) (io.ReadCloser, error) {
	_, read, _, err := db.handles()
	if err != nil {
		return nil, err
	}
	var subject, state string
	var file sql.NullString
	var sealedKey []byte
	if err := read.QueryRowContext(ctx, "SELECT subject_id, state, file, file_key FROM media WHERE id = ?", id).
		Scan(&subject, &state, &file, &sealedKey); err != nil {
		return nil, fmt.Errorf("open media %d: %w", id, notFound(err))
	}
	if state != string(bot.MediaFetched) || !file.Valid {
		return nil, fmt.Errorf("open media %d: %w", id, ErrMediaNotFetched)
	}
	sk, err := db.subjectKey(ctx, bot.SubjectID(subject))
	if err != nil {
		return nil, fmt.Errorf("open media %d: %w", id, err)
	}
	key, err := sk.open("media", "file_key", rowID(id), sealedKey)
	if err != nil {
		return nil, fmt.Errorf("open media %d: %w", id, err)
	}
	defer clear(key)
	aead, err := fileAEAD(key)
	if err != nil {
		return nil, fmt.Errorf("open media %d: %w", id, err)
	}
	f, err := os.Open(filepath.Join(db.MediaDir(), file.String))
	if err != nil {
		return nil, fmt.Errorf("open media %d: %w", id, err)
	}
	br := bufio.NewReaderSize(f, mediaChunk+aead.Overhead())
	hdr := make([]byte, mediaHdrLen)
	if _, err := io.ReadFull(br, hdr); err != nil || string(hdr[:len(mediaMagic)]) != mediaMagic {
		_ = f.Close()
		return nil, fmt.Errorf("open media %d: not a media file", id)
	}
	chunk := int(binary.BigEndian.Uint32(hdr[len(mediaMagic):]))
	if chunk <= 0 || chunk > 16<<20 {
		_ = f.Close()
		return nil, fmt.Errorf("open media %d: bad chunk size", id)
	}
	return &mediaReader{f: f, r: br, aead: aead, id: id, file: file.String, buf: make([]byte, chunk+aead.Overhead())}, nil
}

// ReadMedia returns the decrypted bytes of a fetched item, at most limit
// of them (more is bot.ErrTooLarge).
func (db *DB) ReadMedia(ctx context.Context, id int64, limit int64) ([]byte, error) {
	rc, err := db.OpenMedia(ctx, id)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read media %d: %w", id, err)
	}
	if int64(len(b)) > limit {
		clear(b)
		return nil, fmt.Errorf("read media %d: %w", id, bot.ErrTooLarge)
	}
	return b, nil
}

// mediaReader decrypts a media file chunk by chunk.
type mediaReader struct {
	f     *os.File
	r     *bufio.Reader
	aead  cipher.AEAD
	id    int64
	file  string
	index uint64
	buf   []byte // one sealed chunk
	plain []byte // decrypted bytes not yet returned
	done  bool
	err   error
}

func (m *mediaReader) Read(p []byte) (int, error) {
	for len(m.plain) == 0 {
		if m.err != nil {
			return 0, m.err
		}
		if m.done {
			return 0, io.EOF
		}
		m.err = m.next()
	}
	n := copy(p, m.plain)
	m.plain = m.plain[n:]
	return n, nil
}

// next reads and opens one chunk.
func (m *mediaReader) next() error {
	n, err := io.ReadFull(m.r, m.buf)
	last := false
	switch {
	case err == io.EOF:
		return fmt.Errorf("media %d: file cut off before its last chunk", m.id)
	case err == io.ErrUnexpectedEOF:
		last = true
	case err != nil:
		return fmt.Errorf("media %d: %w", m.id, err)
	default:
		if _, perr := m.r.Peek(1); perr == io.EOF {
			last = true
		} else if perr != nil {
			return fmt.Errorf("media %d: %w", m.id, perr)
		}
	}
	pt, err := m.aead.Open(m.buf[:0], mediaNonce(m.index), m.buf[:n], mediaAAD(m.id, m.file, m.index, last))
	if err != nil {
		return fmt.Errorf("media %d chunk %d: %w", m.id, m.index, errOpen)
	}
	m.index++
	m.plain, m.done = pt, last
	return nil
}

func (m *mediaReader) Close() error {
	clear(m.buf)
	m.plain = nil
	return m.f.Close()
}

// deleteMediaRows deletes the media rows matching where inside tx and
// returns their files, for removeMediaFiles once the transaction commits.
func deleteMediaRows(ctx context.Context, tx *sql.Tx, where string, args ...any) ([]string, int, error) {
	rows, err := tx.QueryContext(ctx, "SELECT file FROM media WHERE file IS NOT NULL AND "+where, args...)
	if err != nil {
		return nil, 0, err
	}
	var files []string
	for rows.Next() {
		var f string
		if err := rows.Scan(&f); err != nil {
			rows.Close()
			return nil, 0, err
		}
		files = append(files, f)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, 0, err
	}
	res, err := tx.ExecContext(ctx, "DELETE FROM media WHERE "+where, args...)
	if err != nil {
		return nil, 0, err
	}
	n, _ := res.RowsAffected()
	return files, int(n), nil
}

// removeMediaFiles unlinks media files (already gone is fine) and syncs
// the directory, so the removal is durable. It returns the first error;
// SweepMedia removes what is left.
func (db *DB) removeMediaFiles(files []string) error {
	var errs []error
	for _, f := range files {
		if !validMediaName(f) {
			continue
		}
		if err := os.Remove(filepath.Join(db.MediaDir(), f)); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	if len(files) > 0 {
		if err := syncDir(db.MediaDir()); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		db.log.Warn().Int("files", len(files)).Msg("media files not removed; the sweep retries")
		return fmt.Errorf("remove media files: %w", err)
	}
	return nil
}

// validMediaName accepts the names SaveMediaBytes makes (32 hex digits).
func validMediaName(s string) bool {
	if len(s) != 32 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

// SweepMedia removes files in MediaDir that no media row points at:
// temporary files of writes a crash interrupted, and files of rows deleted
// by a path that could not remove them (a crash between an erasure's
// commit and its unlink). Files being written now are left alone. Open
// runs it; run it with the daily maintenance too. It returns how many
// files it removed.
func (db *DB) SweepMedia(ctx context.Context) (int, error) {
	_, read, _, err := db.handles()
	if err != nil {
		return 0, err
	}
	return db.sweepMedia(ctx, read)
}

func (db *DB) sweepMedia(ctx context.Context, read *sql.DB) (int, error) {
	// Order matters: list the directory, then note the files being
	// written, then read the rows. A file listed and not busy by then was
	// recorded (or removed) before the rows are read.
	ents, err := os.ReadDir(db.MediaDir())
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("sweep media: %w", err)
	}
	busy := map[string]bool{}
	for _, e := range ents {
		if base := strings.TrimPrefix(e.Name(), mediaTmpPfx); db.media.busy(base) {
			busy[base] = true
		}
	}
	known := map[string]bool{}
	rows, err := read.QueryContext(ctx, "SELECT file FROM media WHERE file IS NOT NULL")
	if err != nil {
		return 0, fmt.Errorf("sweep media: %w", err)
	}
	for rows.Next() {
		var f string
		if err := rows.Scan(&f); err != nil {
			rows.Close()
			return 0, fmt.Errorf("sweep media: %w", err)
		}
		known[f] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("sweep media: %w", err)
	}
	var gone []string
	for _, e := range ents {
		name := e.Name()
		base := strings.TrimPrefix(name, mediaTmpPfx)
		if e.IsDir() || busy[base] || (known[name] && name == base) {
			continue
		}
		if err := os.Remove(filepath.Join(db.MediaDir(), name)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return len(gone), fmt.Errorf("sweep media: %w", err)
		}
		gone = append(gone, name)
	}
	if len(gone) > 0 {
		if err := syncDir(db.MediaDir()); err != nil {
			return len(gone), fmt.Errorf("sweep media: %w", err)
		}
		db.log.Info().Int("files", len(gone)).Msg("media sweep removed files no row points at")
	}
	return len(gone), nil
}
