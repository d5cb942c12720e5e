package drafts

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"image"
	"image/gif"
	"image/jpeg"
	"image/png"

	"golang.org/x/image/draw"
	"golang.org/x/image/webp"

	"github.com/switchboard/switchboard/bot"
)

// Bounds of a photo sent to a vision model.
const (
	visionSide      = 1024       // longest side after scaling, in pixels
	visionMaxPixels = 40_000_000 // a photo claiming more is not decoded
	maxVisionImages = 4
)

// WantsImages reports whether the business turned vision on (/profile set
// vision on): the router then hands the drafter the photos' bytes
// (bot.ImageDrafter). The router never does for a subject who objected.
func (d *Drafter) WantsImages() bool { return d.profile.Load().Vision }

var _ bot.ImageDrafter = (*Drafter)(nil)

// visionImage re-encodes a photo for the model as a data URI: its
// dimensions read from the header first (a decompression bomb is refused
// before any pixel is decoded), scaled to fit visionSide, written as a
// fresh JPEG. Nothing of the original file but its pixels goes: no EXIF
// (a phone's GPS position, its make, the time), no comment, no thumbnail.
func visionImage(im bot.DraftImage) (string, error) {
	decode := map[string]func([]byte) (image.Image, error){
		"image/jpeg": func(b []byte) (image.Image, error) { return jpeg.Decode(bytes.NewReader(b)) },
		"image/png":  func(b []byte) (image.Image, error) { return png.Decode(bytes.NewReader(b)) },
		"image/gif":  func(b []byte) (image.Image, error) { return gif.Decode(bytes.NewReader(b)) },
		"image/webp": func(b []byte) (image.Image, error) { return webp.Decode(bytes.NewReader(b)) },
	}
	config := map[string]func([]byte) (image.Config, error){
		"image/jpeg": func(b []byte) (image.Config, error) { return jpeg.DecodeConfig(bytes.NewReader(b)) },
		"image/png":  func(b []byte) (image.Config, error) { return png.DecodeConfig(bytes.NewReader(b)) },
		"image/gif":  func(b []byte) (image.Config, error) { return gif.DecodeConfig(bytes.NewReader(b)) },
		"image/webp": func(b []byte) (image.Config, error) { return webp.DecodeConfig(bytes.NewReader(b)) },
	}
	mt := bot.CanonicalMIME(im.MIME)
	dec, ok := decode[mt]
	if !ok {
		return "", fmt.Errorf("vision: %s is not sent to the model", mt)
	}
	cfg, err := config[mt](im.Data)
	if err != nil {
		return "", fmt.Errorf("vision: header: %w", err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 || int64(cfg.Width)*int64(cfg.Height) > visionMaxPixels {
		return "", errors.New("vision: image dimensions out of range")
	}
	src, err := dec(im.Data)
	if err != nil {
		return "", fmt.Errorf("vision: decode: %w", err)
	}
	b := src.Bounds()
	w, h := b.Dx(), b.Dy()
	if w > visionSide || h > visionSide {
		if w >= h {
			w, h = visionSide, max(1, h*visionSide/w)
		} else {
			w, h = max(1, w*visionSide/h), visionSide
		}
	}
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.ApproxBiLinear.Scale(dst, dst.Bounds(), src, b, draw.Src, nil)
	var out bytes.Buffer
	if err := jpeg.Encode(&out, dst, &jpeg.Options{Quality: 80}); err != nil {
		return "", fmt.Errorf("vision: encode: %w", err)
	}
	return "data:image/jpeg;base64," + base64.StdEncoding.EncodeToString(out.Bytes()), nil
}
