package media

import (
	"github.com/switchboard/switchboard/bot"
)

// Inspector checks downloads and makes previews for the router's media
// worker: it is the bot.MediaInspector that cmd/switchboard wires in.
// The zero value uses the default caps and thumbnail size.
type Inspector struct {
	Limits Limits
	Thumb  ThumbOptions
}

var _ bot.MediaInspector = Inspector{}

// Limit returns the size cap of kind (Limits.For).
func (i Inspector) Limit(kind bot.MessageKind) int64 { return i.Limits.For(kind) }

// Inspect runs Check on data fetched for m (its kind and declared type,
// size and hash) and, for images and stickers, makes a thumbnail. A refusal is the
// *Error from Check, whose Note the card shows; a preview that cannot be
// made (a HEIC photo) is no refusal: the file is kept without one.
func (i Inspector) Inspect(m bot.Media, data []byte) (bot.MediaContent, error) {
	info, err := Check(m.Kind, m.MIME, data, Expect{Size: m.Size, SHA256: m.SHA256}, i.Limits)
	if err != nil {
		return bot.MediaContent{}, err
	}
	c := bot.MediaContent{MIME: info.MIME}
	if m.Kind == bot.KindImage || m.Kind == bot.KindSticker {
		opts := i.Thumb
		opts.Limits = i.Limits
		if th, err := Thumbnail(data, opts); err == nil {
			c.Thumb = th.JPEG
		}
	}
	return c, nil
}
