package whatsapp

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.mau.fi/whatsmeow/proto/waAdv"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/store"
	"go.mau.fi/whatsmeow/store/sqlstore"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"
	"google.golang.org/protobuf/proto"

	"github.com/switchboard/switchboard/bot"
)

// ourJID is the business's own linked device.
var ourJID = types.JID{User: "441632960001", Device: 7, Server: types.DefaultUserServer}

// newDevice saves a paired-looking device through whatsmeow's own API.
func newDevice(t testing.TB, c *sqlstore.Container) *store.Device {
	t.Helper()
	dev := c.NewDevice()
	id := ourJID
	dev.ID = &id
	dev.Account = &waAdv.ADVSignedDeviceIdentity{
		Details:             []byte("details"),
		AccountSignature:    bytes.Repeat([]byte{1}, 64),
		AccountSignatureKey: bytes.Repeat([]byte{2}, 32),
		DeviceSignature:     bytes.Repeat([]byte{3}, 64),
	}
	require.NoError(t, dev.Save(context.Background()))
	return dev
}

// person is one customer's planted data.
type person struct {
	pn, lid  types.JID
	pushName string
	text     string // plaintext sitting in the decrypted-event buffer
}

// plant writes everything whatsmeow keeps about p, through whatsmeow's store
// API, as it would while talking to p.
func plant(t testing.TB, dev *store.Device, db *sql.DB, p person) {
	t.Helper()
	ctx := context.Background()
	pnDev := types.JID{User: p.pn.User, Device: 0, Server: p.pn.Server}
	lidDev := types.JID{User: p.lid.User, Device: 3, Server: p.lid.Server}
	require.NoError(t, dev.LIDs.PutLIDMapping(ctx, p.lid, p.pn))
	_, _, err := dev.Contacts.PutPushName(ctx, p.pn, p.pushName)
	require.NoError(t, err)
	_, _, err = dev.Contacts.PutPushName(ctx, p.lid, p.pushName)
	require.NoError(t, err)
	require.NoError(t, dev.Contacts.PutContactName(ctx, p.pn, p.pushName+" Full", p.pushName))
	_, _, err = dev.Contacts.PutBusinessName(ctx, p.lid, p.pushName+" Ltd")
	require.NoError(t, err)
	require.NoError(t, dev.ChatSettings.PutMutedUntil(ctx, p.lid, time.Now().Add(time.Hour)))
	require.NoError(t, dev.ChatSettings.PutArchived(ctx, p.pn, true))
	require.NoError(t, dev.MsgSecrets.PutMessageSecret(ctx, p.lid, p.lid, "3A"+p.lid.User, bytes.Repeat([]byte{9}, 32)))
	require.NoError(t, dev.MsgSecrets.PutMessageSecret(ctx, p.pn, ourJID, "3EB0"+p.pn.User, bytes.Repeat([]byte{8}, 32)))
	require.NoError(t, dev.PrivacyTokens.PutPrivacyTokens(ctx,
		store.PrivacyToken{User: p.lid, Token: []byte("tctoken"), Timestamp: time.Now()},
		store.PrivacyToken{User: p.pn, Token: []byte("tctoken"), Timestamp: time.Now()}))
	for _, j := range []types.JID{pnDev, lidDev} {
		addr := j.SignalAddress().String()
		require.NoError(t, dev.Sessions.PutSession(ctx, addr, []byte("session for "+addr)))
		require.NoError(t, dev.Identities.PutIdentity(ctx, addr, sha256.Sum256([]byte(addr))))
	}
	// A message of p's the sink refused: its padded plaintext waits in the
	// buffer, and the channel noted p as its sender.
	msg := &waE2E.Message{Conversation: proto.String(p.text)}
	require.NoError(t, dev.EventBuffer.PutBufferedEvent(ctx, sha256.Sum256([]byte("ciphertext of "+p.text)), padded(t, msg), time.Now()))
	require.NoError(t, noteUnacked(ctx, db, msg, "3A"+p.pn.User, []string{p.lid.String(), p.pn.String()}, false, time.Now()))
	require.NoError(t, markWriter(ctx, db, p.lid, time.Now()))
	require.NoError(t, markWriter(ctx, db, p.pn, time.Now()))
}

// padded is a message's plaintext as whatsmeow buffers it: the protobuf
// and 1 to 15 bytes of padding, each holding the padding's length.
func padded(t testing.TB, m *waE2E.Message) []byte {
	t.Helper()
	b, err := proto.Marshal(m)
	require.NoError(t, err)
	n := 1 + len(b)%15
	return append(b, bytes.Repeat([]byte{byte(n)}, n)...)
}

// buffered returns the plaintexts still in whatsmeow's event buffer.
func buffered(t *testing.T, db *sql.DB) []string {
	t.Helper()
	rows, err := db.Query(`SELECT plaintext FROM whatsmeow_event_buffer WHERE plaintext IS NOT NULL`)
	require.NoError(t, err)
	defer rows.Close()
	var out []string
	for rows.Next() {
		var pt []byte
		require.NoError(t, rows.Scan(&pt))
		n := int(pt[len(pt)-1])
		var m waE2E.Message
		require.NoError(t, proto.Unmarshal(pt[:len(pt)-n], &m))
		out = append(out, m.GetConversation())
	}
	require.NoError(t, rows.Err())
	return out
}

// count returns the rows in table mentioning user anywhere in its text columns.
func rowsAbout(t *testing.T, db *sql.DB, user string) map[string]int {
	t.Helper()
	out := map[string]int{}
	cols := map[string][]string{
		"whatsmeow_contacts":        {"their_jid"},
		"whatsmeow_lid_map":         {"lid", "pn"},
		"whatsmeow_chat_settings":   {"chat_jid"},
		"whatsmeow_message_secrets": {"chat_jid", "sender_jid", "message_id"},
		"whatsmeow_privacy_tokens":  {"their_jid"},
		"whatsmeow_sessions":        {"their_id"},
		"whatsmeow_identity_keys":   {"their_id"},
		"switchboard_wa_writers":    {"jid"},
		"switchboard_wa_unacked":    {"jid"},
	}
	for table, cs := range cols {
		for _, c := range cs {
			var n int
			require.NoError(t, db.QueryRow(`SELECT count(*) FROM `+table+` WHERE instr(`+c+`, ?) > 0`, user).Scan(&n))
			out[table] += n
		}
	}
	return out
}

// variants are the forms a phone number or LID may take in bytes.
func variants(digits string) [][]byte {
	var out [][]byte
	for _, s := range []string{digits, "+" + digits, digits + "@s.whatsapp.net", digits + "@lid", digits[len(digits)-7:]} {
		out = append(out, []byte(s))
		u := make([]byte, 0, 2*len(s)) // UTF-16LE
		for i := 0; i < len(s); i++ {
			u = append(u, s[i], 0)
		}
		out = append(out, u)
	}
	return out
}

// scanFiles returns the needles found in the database files at base.
func scanFiles(t *testing.T, base string, needles ...[]byte) []string {
	t.Helper()
	var found []string
	for _, sfx := range []string{"", "-wal", "-shm", "-journal"} {
		b, err := os.ReadFile(base + sfx)
		if err != nil {
			continue
		}
		for _, n := range needles {
			if bytes.Contains(b, n) {
				found = append(found, filepath.Base(base)+sfx+": "+string(bytes.ReplaceAll(n, []byte{0}, nil)))
			}
		}
	}
	return found
}

func TestForget(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	ch, err := New(Options{Dir: dir})
	require.NoError(t, err)
	db, container, err := openStore(ctx, dir, ch.log, ch.opts.WhatsmeowLevel)
	require.NoError(t, err)
	defer db.Close()
	dev := newDevice(t, container)

	ada := person{pn: pnJID, lid: lidJID, pushName: "Ada Lovelace", text: "planted secret about the boiler at 12 Acacia Avenue"}
	bob := person{pn: otherPN, lid: otherLID, pushName: "Bob Other", text: "bob's pending message"}
	plant(t, dev, db, ada)
	plant(t, dev, db, bob)
	before := rowsAbout(t, db, bob.pn.User)
	beforeLID := rowsAbout(t, db, bob.lid.User)
	for table, n := range rowsAbout(t, db, ada.pn.User) {
		if table != "whatsmeow_sessions" && table != "whatsmeow_identity_keys" { // those are keyed by LID after migration
			require.NotZero(t, n, table)
		}
	}

	// The admin typed only the phone number: the LID comes from the map.
	require.NoError(t, ch.Forget(ctx, "s_test", []bot.Identity{pnID, {Kind: bot.IDTeams, Value: "ignored"}}))

	for _, u := range []string{ada.pn.User, ada.lid.User} {
		for table, n := range rowsAbout(t, db, u) {
			assert.Zero(t, n, "%s still has rows about %s", table, u)
		}
	}
	assert.Equal(t, before, rowsAbout(t, db, bob.pn.User), "another contact's rows survive")
	assert.Equal(t, []string{bob.text}, buffered(t, db), "another customer's unacknowledged message stays in the buffer")
	assert.Equal(t, beforeLID, rowsAbout(t, db, bob.lid.User))
	var ours int
	require.NoError(t, db.QueryRow(`SELECT count(*) FROM whatsmeow_device`).Scan(&ours))
	assert.Equal(t, 1, ours, "our own device stays")

	// Scan the files while the database is open, and after closing it.
	needles := append(variants(ada.pn.User), variants(ada.lid.User)...)
	needles = append(needles, []byte(ada.pushName), []byte(ada.text), []byte("Acacia"))
	base := filepath.Join(dir, dbFile)
	assert.Empty(t, scanFiles(t, base, needles...), "live")
	require.NoError(t, db.Close())
	assert.Empty(t, scanFiles(t, base, needles...), "closed")
	assert.NotEmpty(t, scanFiles(t, base, []byte(bob.pushName)), "the scan does find what is there")
}

func TestForgetLIDOnlyAndNoDB(t *testing.T) {
	ctx := context.Background()
	ch, err := New(Options{Dir: t.TempDir()})
	require.NoError(t, err)
	require.NoError(t, ch.Forget(ctx, "s_x", []bot.Identity{lidID}), "no session db: nothing to do")
	_, err = os.Stat(filepath.Join(ch.opts.Dir, dbFile))
	assert.True(t, os.IsNotExist(err), "Forget does not create the db")

	db, container, err := openStore(ctx, ch.opts.Dir, ch.log, ch.opts.WhatsmeowLevel)
	require.NoError(t, err)
	defer db.Close()
	dev := newDevice(t, container)
	plant(t, dev, db, person{pn: pnJID, lid: lidJID, pushName: "Ada Lovelace", text: "x"})
	require.NoError(t, ch.Forget(ctx, "s_x", []bot.Identity{lidID}))
	for _, u := range []string{pnJID.User, lidJID.User} {
		for table, n := range rowsAbout(t, db, u) {
			assert.Zero(t, n, "%s still has rows about %s", table, u)
		}
	}
	assert.ErrorIs(t, ch.Forget(ctx, "s_x", []bot.Identity{{Kind: bot.IDPhone, Value: "not a number"}}), bot.ErrBadIdentity)
}

// TestSchemaTables pins the tables of whatsapp.db: a whatsmeow upgrade that
// adds one fails here until someone decides whether Forget must purge it.
func TestSchemaTables(t *testing.T) {
	ctx := context.Background()
	db, _, err := openStore(ctx, t.TempDir(), ch0(t).log, 0)
	require.NoError(t, err)
	defer db.Close()
	rows, err := db.Query(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`)
	require.NoError(t, err)
	defer rows.Close()
	var got []string
	for rows.Next() {
		var n string
		require.NoError(t, rows.Scan(&n))
		got = append(got, n)
	}
	require.NoError(t, rows.Err())
	want := append(append([]string{}, purgedTables...), keptTables...)
	sort.Strings(got)
	sort.Strings(want)
	assert.Equal(t, want, got)
}

func ch0(t *testing.T) *Channel {
	ch, err := New(Options{Dir: t.TempDir()})
	require.NoError(t, err)
	return ch
}

func TestPurgeAfterLogout(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db, container, err := openStore(ctx, dir, ch0(t).log, 0)
	require.NoError(t, err)
	defer db.Close()
	dev := newDevice(t, container)
	plant(t, dev, db, person{pn: pnJID, lid: lidJID, pushName: "Ada Lovelace", text: "x"})

	// What whatsmeow's own logout does locally:
	require.NoError(t, dev.Delete(ctx))
	var left int
	require.NoError(t, db.QueryRow(`SELECT (SELECT count(*) FROM whatsmeow_privacy_tokens) + (SELECT count(*) FROM whatsmeow_lid_map)`).Scan(&left))
	require.NotZero(t, left, "Device.Delete leaves privacy tokens and the LID map")

	require.NoError(t, purgeAfterLogout(ctx, db))
	for _, u := range []string{pnJID.User, lidJID.User} {
		for table, n := range rowsAbout(t, db, u) {
			assert.Zero(t, n, "%s still has rows about %s", table, u)
		}
	}
	needles := append(variants(pnJID.User), variants(lidJID.User)...)
	assert.Empty(t, scanFiles(t, filepath.Join(dir, dbFile), append(needles, []byte("Ada Lovelace"))...))
}

func TestLogoutWithoutSession(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, Logout(context.Background(), dir), "nothing to log out")
	_, err := os.Stat(filepath.Join(dir, dbFile))
	assert.True(t, os.IsNotExist(err))

	// A database without a paired device: leftovers are cleared.
	db, container, err := openStore(context.Background(), dir, ch0(t).log, 0)
	require.NoError(t, err)
	require.NoError(t, container.LIDMap.PutLIDMapping(context.Background(), lidJID, pnJID))
	require.NoError(t, db.Close())
	require.NoError(t, Logout(context.Background(), dir))
	assert.Empty(t, scanFiles(t, filepath.Join(dir, dbFile), variants(pnJID.User)...))
}

// runFake starts Run with the test seam and returns the handler whatsmeow
// would call, and Run's result.
func runFake(t *testing.T, ch *Channel) (func(any) bool, <-chan error, context.CancelFunc) {
	t.Helper()
	handler := make(chan func(any) bool, 1)
	ch.fakeConnect = func(h func(any) bool) Client { handler <- h; return &fakeClient{} }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ch.Run(ctx, &fakeSink{}) }()
	t.Cleanup(cancel)
	select {
	case h := <-handler:
		return h, done, cancel
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not start")
		return nil, nil, nil
	}
}

// plantIn opens dir's session db and plants a person in it.
func plantIn(t *testing.T, dir string, p person) {
	t.Helper()
	db, container, err := openStore(context.Background(), dir, ch0(t).log, 0)
	require.NoError(t, err)
	defer db.Close()
	plant(t, newDevice(t, container), db, p)
}

func TestRemoteLogoutEndsRunAndPurges(t *testing.T) {
	dir := t.TempDir()
	plantIn(t, dir, person{pn: pnJID, lid: lidJID, pushName: "Ada Lovelace", text: "x"})
	ch, err := New(Options{Dir: dir})
	require.NoError(t, err)
	h, done, _ := runFake(t, ch)
	assert.True(t, h(&events.LoggedOut{Reason: events.ConnectFailureLoggedOut}))
	select {
	case err := <-done:
		assert.ErrorIs(t, err, ErrLoggedOut)
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after LoggedOut")
	}
	assert.Equal(t, StateLoggedOut, ch.State().State, "the state stays for /readyz")
	assert.True(t, ch.State().Permanent())
	assert.Empty(t, scanFiles(t, filepath.Join(dir, dbFile), variants(pnJID.User)...))
}

func TestUnlinkWhileRunning(t *testing.T) {
	dir := t.TempDir()
	plantIn(t, dir, person{pn: pnJID, lid: lidJID, pushName: "Ada Lovelace", text: "x"})
	ch, err := New(Options{Dir: dir})
	require.NoError(t, err)
	_, done, _ := runFake(t, ch)
	require.NoError(t, ch.Unlink(context.Background()))
	select {
	case err := <-done:
		assert.ErrorIs(t, err, ErrLoggedOut)
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after Unlink")
	}
	assert.Equal(t, StateLoggedOut, ch.State().State)
	needles := append(variants(pnJID.User), variants(lidJID.User)...)
	assert.Empty(t, scanFiles(t, filepath.Join(dir, dbFile), append(needles, []byte("Ada Lovelace"))...))
}

func TestPurgeStale(t *testing.T) {
	dir := t.TempDir()
	plantIn(t, dir, person{pn: pnJID, lid: lidJID, pushName: "Ada Lovelace", text: "stale plaintext in the buffer"})
	now := time.Now().Add(time.Hour)
	ch, err := New(Options{Dir: dir, Now: func() time.Time { return now }})
	require.NoError(t, err)
	n, err := ch.PurgeStale(context.Background(), 2*time.Hour)
	require.NoError(t, err)
	assert.Zero(t, n, "younger than the limit")
	n, err = ch.PurgeStale(context.Background(), 30*time.Minute)
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	assert.Empty(t, scanFiles(t, filepath.Join(dir, dbFile), []byte("stale plaintext")))

	empty, err := New(Options{Dir: t.TempDir()})
	require.NoError(t, err)
	n, err = empty.PurgeStale(context.Background(), time.Minute)
	assert.NoError(t, err)
	assert.Zero(t, n)
}

func TestForgetDropsLIDCache(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t)
	cache, err := newLIDCache(h.sess.db)
	require.NoError(t, err)
	h.sess.lids, h.sess.cache = cache, cache
	plain, err := newLIDCache(h.sess.db) // a cache nobody resets, as whatsmeow's own
	require.NoError(t, err)

	require.NoError(t, cache.PutLIDMapping(ctx, lidJID, pnJID))
	for _, l := range []*lidCache{cache, plain} {
		got, err := l.GetPNForLID(ctx, lidJID)
		require.NoError(t, err)
		require.Equal(t, pnJID.User, got.User)
	}
	require.NoError(t, h.ch.Forget(ctx, "s_1", []bot.Identity{lidID}))

	got, err := cache.GetPNForLID(ctx, lidJID)
	require.NoError(t, err)
	assert.True(t, got.IsEmpty(), "the running session's cache forgot the pair")
	got, err = plain.GetPNForLID(ctx, lidJID)
	require.NoError(t, err)
	assert.False(t, got.IsEmpty(), "whatsmeow's cache alone would still know it")

	// Re-learning the pair writes it again.
	require.NoError(t, cache.PutLIDMapping(ctx, lidJID, pnJID))
	var n int
	require.NoError(t, h.sess.db.QueryRow(`SELECT count(*) FROM whatsmeow_lid_map`).Scan(&n))
	assert.Equal(t, 1, n)
	m, err := cache.GetManyLIDsForPNs(ctx, []types.JID{pnJID})
	require.NoError(t, err)
	assert.Equal(t, lidJID.User, m[pnJID].User)
}

// TestOtherIdentities: the LID map pairs a LID with its phone number both
// ways, from the session database, so erasure finds a person first seen
// under one and later under the other as one.
func TestOtherIdentities(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	ch, err := New(Options{Dir: dir})
	require.NoError(t, err)
	got, err := ch.OtherIdentities(ctx, []bot.Identity{pnID})
	require.NoError(t, err)
	assert.Empty(t, got, "no session database: nothing known")
	_, err = os.Stat(filepath.Join(dir, dbFile))
	assert.True(t, os.IsNotExist(err), "looking does not create the db")

	plantIn(t, dir, person{pn: pnJID, lid: lidJID, pushName: "Ada Lovelace", text: "x"})
	plantIn(t, dir, person{pn: otherPN, lid: otherLID, pushName: "Bob Other", text: "y"})
	got, err = ch.OtherIdentities(ctx, []bot.Identity{pnID})
	require.NoError(t, err)
	assert.Equal(t, []bot.Identity{lidID}, got)
	got, err = ch.OtherIdentities(ctx, []bot.Identity{lidID, {Kind: bot.IDTeams, Value: "aad"}})
	require.NoError(t, err)
	assert.Equal(t, []bot.Identity{pnID}, got)
	got, err = ch.OtherIdentities(ctx, []bot.Identity{pnID, lidID})
	require.NoError(t, err)
	assert.Empty(t, got, "nothing beyond what was asked")

	n, err := ch.ForgetCounted(ctx, "s_ada", []bot.Identity{pnID})
	require.NoError(t, err)
	assert.Positive(t, n, "the rows deleted are counted")
	got, err = ch.OtherIdentities(ctx, []bot.Identity{pnID})
	require.NoError(t, err)
	assert.Empty(t, got, "forgotten")
}

// TestForgetKeepsOtherCustomersUnackedMessages runs the real handler: two
// customers' messages reach a sink that refuses them (their plaintext
// waits in whatsmeow's buffer for the redelivery). Erasing one customer
// deletes only their buffered message; the other's is delivered once the
// sink works again, and then no note of it is left.
func TestForgetKeepsOtherCustomersUnackedMessages(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t)
	container := sqlstore.NewWithDB(h.sess.db, "sqlite3", nil)
	dev := newDevice(t, container)
	h.sink.fail = errors.New("store down")

	ada := dm(types.JID{User: pnJID.User, Device: 3, Server: pnJID.Server}, lidJID, textMsg("Ada's boiler at 12 Acacia Avenue"))
	bob := dm(otherPN, types.JID{}, textMsg("Bob's order"))
	bob.Info.ID = "3A0000000000000B0B"
	for _, evt := range []*events.Message{ada, bob} {
		// whatsmeow buffers the plaintext before it calls the handler.
		require.NoError(t, dev.EventBuffer.PutBufferedEvent(ctx, sha256.Sum256([]byte("ct:"+evt.Message.GetConversation())), padded(t, evt.RawMessage), time.Now()))
		assert.False(t, h.ch.handle(h.sess, evt), "refused: not acknowledged")
	}

	require.NoError(t, h.ch.Forget(ctx, "s_ada", []bot.Identity{pnID}))
	assert.Equal(t, []string{"Bob's order"}, buffered(t, h.sess.db))
	assert.Empty(t, scanFiles(t, filepath.Join(h.dir, dbFile), []byte("Acacia")))

	h.sink.fail = nil
	assert.True(t, h.ch.handle(h.sess, bob), "the redelivery is stored")
	var notes int
	require.NoError(t, h.sess.db.QueryRow(`SELECT count(*) FROM switchboard_wa_unacked`).Scan(&notes))
	assert.Zero(t, notes, "an acknowledged message leaves no note")
}

// TestBufferFingerprint: a buffered plaintext, padded as whatsmeow keeps it,
// has the fingerprint of the message the handler saw.
func TestBufferFingerprint(t *testing.T) {
	m := &waE2E.Message{ExtendedTextMessage: &waE2E.ExtendedTextMessage{Text: proto.String("hello"), ContextInfo: &waE2E.ContextInfo{StanzaID: proto.String("x")}}}
	want, err := fingerprint(m)
	require.NoError(t, err)
	got, ok := bufferFingerprint(padded(t, m))
	require.True(t, ok)
	assert.Equal(t, want, got)
	other, ok := bufferFingerprint(padded(t, textMsg("hello")))
	require.True(t, ok)
	assert.NotEqual(t, want, other)
}

func FuzzBufferFingerprint(f *testing.F) {
	for _, m := range []*waE2E.Message{textMsg("hello"), {ExtendedTextMessage: &waE2E.ExtendedTextMessage{Text: proto.String("x")}}} {
		b, _ := proto.Marshal(m)
		f.Add(b)
		f.Add(append(b, 3, 3, 3))
	}
	f.Add([]byte{})
	f.Add([]byte{15})
	f.Fuzz(func(t *testing.T, b []byte) {
		fp, ok := bufferFingerprint(b) // never panics on a foreign row
		if ok {
			assert.Len(t, fp, sha256.Size)
			again, ok2 := bufferFingerprint(b)
			assert.True(t, ok2)
			assert.Equal(t, fp, again, "deterministic")
		}
	})
}

// TestOtherIdentitiesWhileRunning reads the running session's database and
// LID map.
func TestOtherIdentitiesWhileRunning(t *testing.T) {
	h := newHarness(t)
	_, err := h.sess.db.Exec(`INSERT INTO whatsmeow_lid_map (lid, pn) VALUES (?, ?)`, lidJID.User, pnJID.User)
	require.NoError(t, err)
	got, err := h.ch.OtherIdentities(context.Background(), []bot.Identity{lidID})
	require.NoError(t, err)
	assert.Equal(t, []bot.Identity{pnID}, got)
}
