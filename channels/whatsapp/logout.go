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
