package whatsapp

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"fmt"
	"time"

	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
	"google.golang.org/protobuf/proto"
)

// whatsmeow's decrypted-event buffer (whatsmeow_event_buffer) keeps the
// plaintext of a message from its decryption until our handler accepted it;
// a message the sink refused stays there, unacknowledged, and WhatsApp
// redelivers its ciphertext, which only the buffer can still open (the
// Signal ratchet has moved on). The buffer has no sender column, so erasing
// one person cannot tell their rows from anyone else's. The channel keeps
// what tells them apart: for every message its handler did not accept,
// the fingerprint of the message (as the buffer's plaintext decodes) and
// its sender, in switchboard_wa_unacked. Forget deletes the buffer rows
// whose fingerprint only the person sent, and leaves every other row, so
// no other customer's unacknowledged message is lost.

// unackedSchema is the channel's table of unacknowledged messages' senders.
// jid is personal data: Forget deletes a person's rows, and PurgeStale and
// logout clear it with the buffer.
const unackedSchema = `
CREATE TABLE IF NOT EXISTS switchboard_wa_unacked (
	fingerprint BLOB NOT NULL,    -- SHA-256 of the message's deterministic protobuf encoding
	msg_id      TEXT NOT NULL,    -- WhatsApp's message id (one message, several sender JIDs)
	jid         TEXT NOT NULL,    -- a user JID the sender is known by, no device
	at          INTEGER NOT NULL, -- Unix seconds
	PRIMARY KEY (fingerprint, msg_id, jid)
) WITHOUT ROWID;`

// fingerprint identifies a decrypted message by its content: the SHA-256
// of its deterministic protobuf encoding. The handler's events.Message
// RawMessage and the buffer's plaintext, decoded, give the same one.
func fingerprint(m *waE2E.Message) ([]byte, error) {
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("fingerprint: %w", err)
	}
	sum := sha256.Sum256(b)
	return sum[:], nil
}

// bufferFingerprint decodes a buffered plaintext: whatsmeow stores a
// direct message's padded plaintext (v2: the last byte says how many
// padding bytes follow the protobuf). ok is false for what does not decode
// as a message (a v3 payload, a foreign row).
func bufferFingerprint(plaintext []byte) ([]byte, bool) {
	try := func(b []byte) ([]byte, bool) {
		var m waE2E.Message
		if err := proto.Unmarshal(b, &m); err != nil {
			return nil, false
		}
		fp, err := fingerprint(&m)
		return fp, err == nil
	}
	if n := len(plaintext); n > 0 {
		if pad := int(plaintext[n-1]); pad > 0 && pad <= 16 && pad <= n {
			valid := true
			for _, x := range plaintext[n-pad:] {
				valid = valid && int(x) == pad
			}
			if valid {
				if fp, ok := try(plaintext[:n-pad]); ok {
					return fp, true
				}
			}
		}
	}
	return try(plaintext)
}

// senderUsers are the user JIDs (no device) a message's sender is known by.
func senderUsers(info types.MessageInfo) []string {
	var out []string
	for _, j := range []types.JID{info.Sender, info.SenderAlt} {
		if j.IsEmpty() || !isDigits(j.User) {
			continue
		}
		u := j.ToNonAD().String()
		if len(out) == 0 || out[0] != u {
			out = append(out, u)
		}
	}
	return out
}

// noteUnacked records that the message m (WhatsApp id msgID) from the
// users was not acknowledged (its plaintext stays in whatsmeow's buffer),
// or, with acked, that it now was.
func noteUnacked(ctx context.Context, db *sql.DB, m *waE2E.Message, msgID string, users []string, acked bool, now time.Time) error {
	if m == nil || len(users) == 0 {
		return nil
	}
	fp, err := fingerprint(m)
	if err != nil {
		return err
	}
	if acked {
		if _, err := db.ExecContext(ctx, `DELETE FROM switchboard_wa_unacked WHERE fingerprint = ? AND msg_id = ?`, fp, msgID); err != nil {
			return fmt.Errorf("unacked messages: %w", err)
		}
		return nil
	}
	for _, u := range users {
		if _, err := db.ExecContext(ctx, `INSERT INTO switchboard_wa_unacked (fingerprint, msg_id, jid, at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`,
			fp, msgID, u, now.Unix()); err != nil {
			return fmt.Errorf("unacked messages: %w", err)
		}
	}
	return nil
}

// forgetBuffered deletes, inside tx, the buffered plaintexts that only the
// person known by users (user JIDs, no device) sent, and the notes of the
// person's messages. A buffered message of anyone else, the same text sent
// by someone else too (the rows cannot be told apart), or one of no noted
// sender (decrypted just before a crash: it is handled on redelivery)
// stays. It returns the rows deleted and the rows kept that hold plaintext.
func forgetBuffered(ctx context.Context, tx *sql.Tx, users map[string]bool) (deleted, kept int, err error) {
	// The person's messages: every note naming one of their JIDs.
	type msgKey struct{ fp, id string }
	mine := map[msgKey]bool{}
	notes, err := tx.QueryContext(ctx, `SELECT fingerprint, msg_id, jid FROM switchboard_wa_unacked`)
	if err != nil {
		return 0, 0, fmt.Errorf("read unacked messages: %w", err)
	}
	byFP := map[string][]msgKey{}
	for notes.Next() {
		var fp []byte
		var id, jid string
		if err := notes.Scan(&fp, &id, &jid); err != nil {
			notes.Close()
			return 0, 0, fmt.Errorf("read unacked messages: %w", err)
		}
		k := msgKey{string(fp), id}
		if _, seen := mine[k]; !seen {
			mine[k] = false
			byFP[k.fp] = append(byFP[k.fp], k)
		}
		if users[jid] {
			mine[k] = true
		}
	}
	notes.Close()
	if err := notes.Err(); err != nil {
		return 0, 0, fmt.Errorf("read unacked messages: %w", err)
	}

	rows, err := tx.QueryContext(ctx, `SELECT our_jid, ciphertext_hash, plaintext FROM whatsmeow_event_buffer WHERE plaintext IS NOT NULL`)
	if err != nil {
		return 0, 0, fmt.Errorf("read event buffer: %w", err)
	}
	type row struct {
		our  string
		hash []byte
		fp   []byte
	}
	var buffered []row
	for rows.Next() {
		var r row
		var pt []byte
		if err := rows.Scan(&r.our, &r.hash, &pt); err != nil {
			rows.Close()
			return 0, 0, fmt.Errorf("read event buffer: %w", err)
		}
		r.fp, _ = bufferFingerprint(pt)
		clear(pt)
		buffered = append(buffered, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, 0, fmt.Errorf("read event buffer: %w", err)
	}
	for _, r := range buffered {
		msgs := byFP[string(r.fp)]
		only := r.fp != nil && len(msgs) > 0
		for _, k := range msgs {
			only = only && mine[k]
		}
		if !only {
			kept++
			continue
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM whatsmeow_event_buffer WHERE our_jid = ? AND ciphertext_hash = ?`, r.our, r.hash); err != nil {
			return 0, 0, fmt.Errorf("delete buffered message: %w", err)
		}
		deleted++
	}
	for k, m := range mine {
		if !m {
			continue
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM switchboard_wa_unacked WHERE fingerprint = ? AND msg_id = ?`, []byte(k.fp), k.id)
		if err != nil {
			return 0, 0, fmt.Errorf("delete unacked messages: %w", err)
		}
		n, _ := res.RowsAffected()
		deleted += int(n)
	}
	return deleted, kept, nil
}
