package whatsapp

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"go.mau.fi/whatsmeow/types"

	"github.com/switchboard/switchboard/bot"
)

// Tables in whatsapp.db and what erasure does with them. TestSchemaTables
// fails when a whatsmeow upgrade adds a table, so a new place holding JIDs
// cannot go unnoticed.
var (
	// purgedTables hold rows about other people, deleted per person by Forget.
	purgedTables = []string{
		"whatsmeow_contacts",        // push, full, first and business names, redacted phone
		"whatsmeow_lid_map",         // LID <-> phone number pairs (global, no device FK)
		"whatsmeow_chat_settings",   // muted/pinned/archived per chat
		"whatsmeow_message_secrets", // per-message keys (polls, reactions), by chat and sender
		"whatsmeow_privacy_tokens",  // tokens per contact (no device FK)
		"whatsmeow_sessions",        // Signal sessions, by address "<user>:<dev>" / "<lid>_1:<dev>"
		"whatsmeow_identity_keys",   // contacts' identity keys, same addresses
		"whatsmeow_sender_keys",     // group sender keys by sender address (groups are ignored; cleared anyway)
		"whatsmeow_event_buffer",    // decrypted plaintext awaiting our ack; no sender column (see buffer.go)
		"switchboard_wa_writers",    // our own: chats that wrote to us
		"switchboard_wa_unacked",    // our own: senders of messages not acked, by fingerprint
	}
	// keptTables hold only this device's own keys and state.
	keptTables = []string{
		"whatsmeow_version",                 // schema version
		"whatsmeow_device",                  // our device: keys, our own JID and push name
		"whatsmeow_pre_keys",                // our one-time pre-keys
		"whatsmeow_app_state_sync_keys",     // our app-state keys
		"whatsmeow_app_state_version",       // app-state hashes
		"whatsmeow_app_state_mutation_macs", // HMACs keyed with our app-state keys; no JID in clear
	}
)

// Forget removes what whatsmeow and this channel keep about the person with
// ids (phone-number and LID identities; others are skipped) from
// whatsapp.db: both the phone-number and the LID form of each, plus any form
// the LID map pairs with them. Send any confirmation to the person before
// calling it: sending re-creates the Signal session and LID-map rows.
//
// whatsmeow_event_buffer rows have no sender column: a row still holding
// plaintext (a message the sink has not stored yet, which WhatsApp
// redelivers and only that row can decrypt) is deleted only if the channel
// noted the person as its only sender (see buffer.go); other customers'
// messages waiting there are kept. The running session's
// LID-map cache is dropped; whatsmeow's per-device caches of push names and
// of migrated phone-number sessions keep their entries in memory (never on
// disk) until the process restarts.
//
// It ends with a TRUNCATE checkpoint, retried until no reader blocks it, so
// the deleted bytes are gone from whatsapp.db-wal too. It works whether or
// not Run is running; without a session database it does nothing.
func (c *Channel) Forget(ctx context.Context, subject bot.SubjectID, ids []bot.Identity) error {
	_, err := c.ForgetCounted(ctx, subject, ids)
	return err
}

var _ bot.Forgetter = (*Channel)(nil)

// ForgetterName is "whatsapp-linked", the name an erasure's forget record
// keeps while it owes this channel a Forget (see privacy.ForgetterNamer):
// a record from before a restart is run by whichever process has a
// linked-device forgetter, also one that does not run the linked device
// but still has its whatsapp.db.
func (c *Channel) ForgetterName() string { return "whatsapp-linked" }

// ForgetCounted is Forget, and returns how many rows it deleted from
// whatsapp.db, for the erasure's confirmation.
func (c *Channel) ForgetCounted(ctx context.Context, subject bot.SubjectID, ids []bot.Identity) (int, error) {
	var jids []types.JID
	for _, id := range ids {
		if id.Kind != bot.IDPhone && id.Kind != bot.IDLID {
			continue
		}
		j, err := identityJID(id)
		if err != nil {
			return 0, fmt.Errorf("whatsapp forget: %w", err)
		}
		jids = append(jids, j)
	}
	if len(jids) == 0 {
		return 0, nil
	}
	if !c.hasDB() {
		return 0, nil
	}
	db, _, err := openStore(ctx, c.opts.Dir, c.opts.Log, c.opts.WhatsmeowLevel)
	if err != nil {
		return 0, fmt.Errorf("whatsapp forget: %w", err)
	}
	defer db.Close()
	if s := c.session(); s != nil && s.lids != nil {
		// The in-memory map may know pairs the table lost.
		for _, j := range jids {
			var alt types.JID
			if j.Server == types.HiddenUserServer {
				alt, _ = s.lids.GetPNForLID(ctx, j)
			} else {
				alt, _ = s.lids.GetLIDForPN(ctx, j)
			}
			if !alt.IsEmpty() {
				jids = append(jids, alt.ToNonAD())
			}
		}
	}
	n, err := forgetJIDs(ctx, db, jids)
	if err != nil {
		return 0, fmt.Errorf("whatsapp forget: %w", err)
	}
	if s := c.session(); s != nil && s.cache != nil {
		s.cache.reset()
	}
	if err := checkpoint(ctx, db); err != nil {
		return n, fmt.Errorf("whatsapp forget: %w", err)
	}
	c.log.Info().Str("subject", string(subject)).Int("rows", n).Msg("forgot whatsapp session data")
	return n, nil
}

// hasDB reports whether the session database exists.
func (c *Channel) hasDB() bool {
	_, err := os.Stat(filepath.Join(c.opts.Dir, dbFile))
	return !errors.Is(err, fs.ErrNotExist)
}

var _ bot.IdentityResolver = (*Channel)(nil)

// OtherIdentities returns the identities whatsmeow's LID map pairs with
// the phone-number and LID identities among ids (a LID's phone number, a
// number's LID), from whatsapp.db and the running session's cache, leaving
// out ids themselves. Other kinds and malformed values are skipped. It
// reads local state only; without a session database it finds nothing.
func (c *Channel) OtherIdentities(ctx context.Context, ids []bot.Identity) ([]bot.Identity, error) {
	var jids []types.JID
	for _, id := range ids {
		if j, err := identityJID(id); err == nil {
			jids = append(jids, j)
		}
	}
	if len(jids) == 0 {
		return nil, nil
	}
	var out []bot.Identity
	add := func(j types.JID) {
		id, ok := jidIdentity(j.ToNonAD())
		if ok && !slices.Contains(ids, id) && !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	var db *sql.DB
	if s := c.session(); s != nil {
		db = s.db // the running session's handle: no open per lookup
		if s.lids != nil {
			for _, j := range jids {
				var alt types.JID
				var err error
				if j.Server == types.HiddenUserServer {
					alt, err = s.lids.GetPNForLID(ctx, j)
				} else {
					alt, err = s.lids.GetLIDForPN(ctx, j)
				}
				if err != nil {
					return nil, fmt.Errorf("whatsapp identities: %w", err)
				}
				if !alt.IsEmpty() {
					add(alt)
				}
			}
		}
	}
	if db == nil {
		if !c.hasDB() {
			return out, nil
		}
		opened, _, err := openStore(ctx, c.opts.Dir, c.opts.Log, c.opts.WhatsmeowLevel)
		if err != nil {
			return nil, fmt.Errorf("whatsapp identities: %w", err)
		}
		defer opened.Close()
		db = opened
	}
	for _, j := range jids {
		q := `SELECT pn FROM whatsmeow_lid_map WHERE lid = ?`
		server := types.DefaultUserServer
		if j.Server == types.DefaultUserServer {
			q, server = `SELECT lid FROM whatsmeow_lid_map WHERE pn = ?`, types.HiddenUserServer
		}
		rows, err := db.QueryContext(ctx, q, j.User)
		if err != nil {
			return nil, fmt.Errorf("whatsapp identities: %w", err)
		}
		found := map[string]bool{}
		if err := collect(rows, found); err != nil {
			return nil, fmt.Errorf("whatsapp identities: %w", err)
		}
		for u := range found {
			add(types.JID{User: u, Server: server})
		}
	}
	return out, nil
}

// forgetJIDs deletes every row about the users of jids (and their LID-map
// partners) in one transaction, and returns the number of rows deleted.
func forgetJIDs(ctx context.Context, db *sql.DB, jids []types.JID) (int, error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // after Commit it is a no-op

	pn, lid := map[string]bool{}, map[string]bool{}
	for _, j := range jids {
		if !isDigits(j.User) {
			continue
		}
		switch j.Server {
		case types.DefaultUserServer:
			pn[j.User] = true
		case types.HiddenUserServer:
			lid[j.User] = true
		}
	}
	// Close over the LID map in both directions.
	for _, u := range keys(pn) {
		rows, err := tx.QueryContext(ctx, `SELECT lid FROM whatsmeow_lid_map WHERE pn = ?`, u)
		if err != nil {
			return 0, fmt.Errorf("read lid map: %w", err)
		}
		if err := collect(rows, lid); err != nil {
			return 0, err
		}
	}
	for _, u := range keys(lid) {
		rows, err := tx.QueryContext(ctx, `SELECT pn FROM whatsmeow_lid_map WHERE lid = ?`, u)
		if err != nil {
			return 0, fmt.Errorf("read lid map: %w", err)
		}
		if err := collect(rows, pn); err != nil {
			return 0, err
		}
	}

	total := 0
	exec := func(q string, args ...any) error {
		res, err := tx.ExecContext(ctx, q, args...)
		if err != nil {
			return fmt.Errorf("delete: %w", err)
		}
		n, _ := res.RowsAffected()
		total += int(n)
		return nil
	}
	// jidMatch matches a JID column holding user@server, with or without
	// an agent or device part (user.0:3@server, user:3@server).
	jidMatch := func(col string) string {
		return "(" + col + " = ?1 || '@' || ?2 OR " + col + " LIKE ?1 || ':%@' || ?2 OR " + col + " LIKE ?1 || '.%@' || ?2)"
	}
	for _, u := range keys(pn) {
		if err := exec(`DELETE FROM whatsmeow_lid_map WHERE pn = ?`, u); err != nil {
			return 0, err
		}
	}
	for _, u := range keys(lid) {
		if err := exec(`DELETE FROM whatsmeow_lid_map WHERE lid = ?`, u); err != nil {
			return 0, err
		}
	}
	type user struct{ user, server, address string }
	var users []user
	for _, u := range keys(pn) {
		users = append(users, user{u, types.DefaultUserServer, u})
	}
	for _, u := range keys(lid) {
		users = append(users, user{u, types.HiddenUserServer, u + `\_1`}) // Signal address of a LID: "<lid>_1:<device>"
	}
	for _, u := range users {
		for _, q := range []string{
			`DELETE FROM whatsmeow_contacts WHERE ` + jidMatch("their_jid"),
			`DELETE FROM whatsmeow_chat_settings WHERE ` + jidMatch("chat_jid"),
			`DELETE FROM whatsmeow_message_secrets WHERE ` + jidMatch("chat_jid") + ` OR ` + jidMatch("sender_jid"),
			`DELETE FROM whatsmeow_privacy_tokens WHERE ` + jidMatch("their_jid"),
			`DELETE FROM switchboard_wa_writers WHERE ` + jidMatch("jid"),
		} {
			if err := exec(q, u.user, u.server); err != nil {
				return 0, err
			}
		}
		like := u.address + ":%"
		for _, q := range []string{
			`DELETE FROM whatsmeow_sessions WHERE their_id LIKE ? ESCAPE '\'`,
			`DELETE FROM whatsmeow_identity_keys WHERE their_id LIKE ? ESCAPE '\'`,
			`DELETE FROM whatsmeow_sender_keys WHERE sender_id LIKE ? ESCAPE '\'`,
		} {
			if err := exec(q, like); err != nil {
				return 0, err
			}
		}
	}
	senders := map[string]bool{}
	for _, u := range keys(pn) {
		senders[types.JID{User: u, Server: types.DefaultUserServer}.String()] = true
	}
	for _, u := range keys(lid) {
		senders[types.JID{User: u, Server: types.HiddenUserServer}.String()] = true
	}
	n, kept, err := forgetBuffered(ctx, tx, senders)
	if err != nil {
		return 0, err
	}
	total += n
	if kept > 0 {
		zerolog.Ctx(ctx).Debug().Int("kept", kept).Msg("buffered messages of other senders kept")
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("commit: %w", err)
	}
	return total, nil
}

func collect(rows *sql.Rows, into map[string]bool) error {
	defer rows.Close()
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return fmt.Errorf("read lid map: %w", err)
		}
		if isDigits(s) {
			into[s] = true
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read lid map: %w", err)
	}
	return nil
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// checkpoint copies the WAL into the database and truncates it, retrying
// while readers keep it busy, so deleted rows leave whatsapp.db-wal too.
func checkpoint(ctx context.Context, db *sql.DB) error {
	bo := backoff{min: 10 * time.Millisecond, max: time.Second}
	for try := 1; ; try++ {
		var busy, logFrames, done int
		err := db.QueryRowContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`).Scan(&busy, &logFrames, &done)
		if err != nil {
			return fmt.Errorf("wal checkpoint: %w", err)
		}
		if busy == 0 {
			return nil
		}
		if try == 50 || !sleep(ctx, bo.next()) {
			return fmt.Errorf("wal checkpoint: still busy after %d tries", try)
		}
	}
}

// purgeAfterLogout deletes what whatsmeow's Device.Delete leaves behind:
// privacy tokens and the LID map have no foreign key to the device, and the
// channel's own table. Then it checkpoints.
func purgeAfterLogout(ctx context.Context, db *sql.DB) error {
	for _, t := range []string{"whatsmeow_privacy_tokens", "whatsmeow_lid_map", "whatsmeow_event_buffer",
		"whatsmeow_contacts", "whatsmeow_chat_settings", "whatsmeow_message_secrets", "whatsmeow_sessions",
		"whatsmeow_identity_keys", "whatsmeow_sender_keys", "switchboard_wa_writers", "switchboard_wa_unacked"} {
		if _, err := db.ExecContext(ctx, `DELETE FROM `+t); err != nil {
			return fmt.Errorf("clear %s: %w", strings.TrimPrefix(t, "whatsmeow_"), err)
		}
	}
	return checkpoint(ctx, db)
}
