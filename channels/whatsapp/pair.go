package whatsapp

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/mdp/qrterminal/v3"
	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/store"
	"go.mau.fi/whatsmeow/types/events"
)

// errPairTimeout: the QR codes (or the pairing code) ran out unused.
var errPairTimeout = errors.New("the codes ran out before the phone linked")

// deviceName is what the phone shows under "Linked devices".
const deviceName = "Switchboard"

// pair links a new session: it prints QR codes to Options.QR as whatsmeow
// rotates them (about every 20 s, 160 s in all), or, with Options.PairPhone,
// a pairing code to type on that phone. It returns nil once the phone
// accepted and the session is saved; an error when the codes ran out.
func (c *Channel) pair(ctx context.Context, dev *store.Device) error {
	store.SetOSInfo(deviceName, [3]uint32{0, 1, 0})
	cli := whatsmeow.NewClient(dev, newWALogger(c.opts.Log, c.opts.WhatsmeowLevel).Sub("Pair"))
	cli.DisableLoginAutoReconnect = true
	cli.ManualHistorySyncDownload = true
	reconnect := make(chan struct{}, 1)
	id := cli.AddEventHandler(func(evt any) {
		if _, ok := evt.(*events.ManualLoginReconnect); ok {
			select {
			case reconnect <- struct{}{}:
			default:
			}
		}
	})
	defer cli.RemoveEventHandler(id)
	defer cli.Disconnect()

	ctx = ctxLogger(ctx, c.opts.Log, c.opts.WhatsmeowLevel)
	cli.BackgroundEventCtx = ctx
	qrCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	qr, err := cli.GetQRChannel(qrCtx)
	if err != nil {
		return fmt.Errorf("pair: %w", err)
	}
	if err := cli.ConnectContext(ctx); err != nil {
		return fmt.Errorf("pair: %w: %w", errPairConnect, redact(err))
	}
	phoneAsked := false
	for item := range qr {
		switch item.Event {
		case whatsmeow.QRChannelEventCode:
			if c.opts.PairPhone == "" {
				fmt.Fprintln(c.opts.QR, "Scan this QR code with WhatsApp on the business phone: Settings → Linked devices → Link a device.")
				qrterminal.GenerateHalfBlock(item.Code, qrterminal.L, c.opts.QR)
				fmt.Fprintf(c.opts.QR, "(a new code follows in %s)\n", item.Timeout)
				continue
			}
			if phoneAsked {
				continue
			}
			phoneAsked = true
			code, err := cli.PairPhone(ctx, c.opts.PairPhone, true, whatsmeow.PairClientChrome, "Chrome (Linux)")
			if err != nil {
				return fmt.Errorf("pair: request pairing code: %w", redact(err))
			}
			fmt.Fprintf(c.opts.QR, "On the business phone, open WhatsApp → Settings → Linked devices → Link a device → Link with phone number instead, and enter: %s\n", code)
		case whatsmeow.QRChannelSuccess.Event:
			fmt.Fprintln(c.opts.QR, "WhatsApp linked.")
			c.log.Info().Msg("paired a new WhatsApp session")
			// whatsmeow asks to reconnect after pairing; the serving client
			// does that, once this one has let go.
			select {
			case <-reconnect:
			case <-time.After(10 * time.Second):
			case <-ctx.Done():
			}
			return nil
		case whatsmeow.QRChannelClientOutdated.Event:
			return fmt.Errorf("pair: %w", errOutdated)
		case whatsmeow.QRChannelEventError:
			return fmt.Errorf("pair: %w", redact(item.Error))
		case whatsmeow.QRChannelTimeout.Event:
			return fmt.Errorf("pair: %w", errPairTimeout)
		default:
			return fmt.Errorf("pair: %s", item.Event)
		}
	}
	return errors.New("pair: ended without result")
}
