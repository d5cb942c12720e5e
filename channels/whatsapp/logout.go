package whatsapp

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/rs/zerolog"
	"go.mau.fi/whatsmeow"
)

// Logout ends the WhatsApp session kept in dir (switchboard whatsapp
// logout): it tells WhatsApp to unlink this device, deletes the device's
// keys, and clears what whatsmeow's Device.Delete leaves behind (privacy
// tokens, the LID map, contacts, sessions, our writers table), then
// checkpoints the WAL. The local keys are deleted even when WhatsApp cannot
// be reached; the error then says so, and the device should also be removed
// on the phone (Settings → Linked devices). Run must not be running on dir.
// Without a session database it does nothing.
func Logout(ctx context.Context, dir string) error {
	if _, err := os.Stat(filepath.Join(dir, dbFile)); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	db, container, err := openStore(ctx, dir, zerolog.Nop(), zerolog.Disabled)
	if err != nil {
		return fmt.Errorf("whatsapp logout: %w", err)
	}
	defer db.Close()
	dev, err := container.GetFirstDevice(ctx)
	if err != nil {
		return fmt.Errorf("whatsapp logout: load device: %w", err)
	}
	var remote error
	if dev.ID != nil {
		ctx := zerolog.Nop().WithContext(ctx) // whatsmeow logs JIDs through zerolog.Ctx
		vctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		if v, err := whatsmeow.GetLatestVersion(vctx, &http.Client{Timeout: 20 * time.Second}); err == nil && !v.IsZero() {
			setWAVersion(*v)
		}
		cancel()
		cli := whatsmeow.NewClient(dev, nil)
		cli.EnableAutoReconnect = false
		if err := cli.ConnectContext(ctx); err != nil {
			remote = fmt.Errorf("connect: %w", redact(err))
		} else if !cli.WaitForConnection(30 * time.Second) {
			remote = errors.New("not logged in within 30 s")
		} else if err := cli.Logout(ctx); err != nil {
			remote = fmt.Errorf("unlink: %w", redact(err))
		}
		cli.Disconnect()
		if dev.ID != nil { // cli.Logout deletes the device only on success
			if err := dev.Delete(ctx); err != nil {
				return fmt.Errorf("whatsapp logout: delete device keys: %w", err)
			}
		}
	}
	if err := purgeAfterLogout(ctx, db); err != nil {
		return fmt.Errorf("whatsapp logout: %w", err)
	}
	if remote != nil {
		return fmt.Errorf("whatsapp logout: local session deleted, but WhatsApp was not told (remove the device on the phone: Settings → Linked devices): %w", remote)
	}
	return nil
}

// Unlink is the admin's "/disconnect whatsapp": it logs the running
// session out (WhatsApp unlinks the device, whatsmeow deletes its keys),
// clears what that leaves behind, and makes Run return ErrLoggedOut. If Run
// is not running it does what Logout does on Options.Dir. If WhatsApp cannot
// be told, the local keys are deleted anyway and the error says so.
func (c *Channel) Unlink(ctx context.Context) error {
	s := c.session()
	if s == nil {
		return Logout(ctx, c.opts.Dir)
	}
	var remote error
	if s.wm != nil {
		if err := s.wm.Logout(ctx); err != nil {
			remote = fmt.Errorf("unlink: %w", redact(err))
			s.wm.Disconnect()
			if s.wm.Store.ID != nil {
				if err := s.wm.Store.Delete(ctx); err != nil {
					return fmt.Errorf("whatsapp unlink: delete device keys: %w", err)
				}
			}
		}
	}
	if err := purgeAfterLogout(ctx, s.db); err != nil {
		return fmt.Errorf("whatsapp unlink: %w", err)
	}
	c.health.set(StateLoggedOut, "unlinked by an admin: pair again to reconnect")
	select {
	case s.follow <- connEvent{next: followStop, err: ErrLoggedOut}:
	case <-ctx.Done():
	}
	c.log.Info().Msg("whatsapp session unlinked by an admin")
	if remote != nil {
		return fmt.Errorf("whatsapp unlink: local session deleted, but WhatsApp was not told (remove the device on the phone: Settings → Linked devices): %w", remote)
	}
	return nil
}

// PurgeStale deletes decrypted messages that whatsmeow's event buffer still
// holds in plaintext after maxAge (the sink never stored them, so WhatsApp's
// redelivery is the only other copy), for the retention job. whatsmeow itself
// drops buffer rows after 14 days. It returns the number of rows deleted.
func (c *Channel) PurgeStale(ctx context.Context, maxAge time.Duration) (int, error) {
	if _, err := os.Stat(filepath.Join(c.opts.Dir, dbFile)); errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	db, _, err := openStore(ctx, c.opts.Dir, c.opts.Log, c.opts.WhatsmeowLevel)
	if err != nil {
		return 0, fmt.Errorf("whatsapp purge: %w", err)
	}
	defer db.Close()
	cutoff := c.opts.Now().Add(-maxAge)
	res, err := db.ExecContext(ctx, `DELETE FROM whatsmeow_event_buffer WHERE plaintext IS NOT NULL AND insert_timestamp < ?`, cutoff.UnixMilli())
	if err != nil {
		return 0, fmt.Errorf("whatsapp purge: %w", err)
	}
	if _, err := db.ExecContext(ctx, `DELETE FROM switchboard_wa_unacked WHERE at < ?`, cutoff.Unix()); err != nil {
		return 0, fmt.Errorf("whatsapp purge: %w", err)
	}
	n, _ := res.RowsAffected()
	if n > 0 {
		if err := checkpoint(ctx, db); err != nil {
			return 0, fmt.Errorf("whatsapp purge: %w", err)
		}
	}
	return int(n), nil
}
