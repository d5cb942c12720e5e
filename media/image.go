package media

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"

	"golang.org/x/image/draw"
	"golang.org/x/image/webp"
)

// Dimensions reads an image's width and height from its header, without
// decoding pixels. It knows JPEG, PNG, GIF and WebP; other types give
// ErrNoPreview, a header it cannot read ErrDamaged. For a JPEG the size is
// as stored, before any EXIF rotation.
func Dimensions(sniffed string, data []byte) (w, h int, err error) {
	var cfg image.Config
	r := bytes.NewReader(data)
	switch sniffed {
	case TypeJPEG:
		cfg, err = jpeg.DecodeConfig(r)
	case TypePNG:
		cfg, err = png.DecodeConfig(r)
	case TypeGIF:
		cfg, err = gif.DecodeConfig(r)
	case TypeWebP:
		cfg, err = webp.DecodeConfig(r)
	default:
		return 0, 0, ErrNoPreview
	}
	if err != nil || cfg.Width <= 0 || cfg.Height <= 0 {
		return 0, 0, ErrDamaged
	}
	return cfg.Width, cfg.Height, nil
}

// Thumbnail defaults: a 320-pixel long side and at most 12 KiB of JPEG,
// which is 16 KiB as a base64 data URI: a Teams Adaptive Card's payload
// limit is about 28 KB, and the rest of the card needs the remainder.
const (
	DefaultThumbSide  = 320
	DefaultThumbBytes = 12 << 10
)

// ThumbOptions tune Thumbnail. The zero value means the defaults.
type ThumbOptions struct {
	// MaxSide is the thumbnail's longer side in pixels. If 0,
	// DefaultThumbSide.
	MaxSide int
	// MaxBytes caps the JPEG. If 0, DefaultThumbBytes.
	MaxBytes int
	// Limits give the decompression-bomb caps (MaxPixels, MaxSide).
	Limits Limits
}

// Thumb is a small JPEG preview.
type Thumb struct {
	JPEG          []byte
	Width, Height int // as displayed, after EXIF orientation
}

// DataURI returns the thumbnail as a data: URI for an Adaptive Card Image.
func (t Thumb) DataURI() string {
	return "data:image/jpeg;base64," + base64.StdEncoding.EncodeToString(t.JPEG)
}

// qualities are tried in turn until the JPEG fits MaxBytes.
var qualities = []int{75, 62, 50, 40, 30}

// Thumbnail makes a JPEG preview of a JPEG, PNG, GIF (first frame) or WebP
// image: dimensions are read from the header first and an image over the
// caps is refused (ErrTooManyPixels) before any pixel is decoded; the image
// is decoded, scaled down in Go (bilinear, area-aware) onto white (so
// transparency reads well in light and dark themes), turned upright by its
// EXIF orientation, and encoded at the best quality that fits MaxBytes
// (shrinking further if even the lowest does not). Other types give
// ErrNoPreview. Errors are *Error.
func Thumbnail(data []byte, opts ThumbOptions) (Thumb, error) {
	if opts.MaxSide <= 0 {
		opts.MaxSide = DefaultThumbSide
	}
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = DefaultThumbBytes
	}
	lim := opts.Limits.withDefaults()
	sniffed := Sniff(data)
	fail := func(reason error, w, h int) (Thumb, error) {
		return Thumb{}, &Error{Err: reason, Kind: "image", Sniffed: sniffed, Size: int64(len(data)), Width: w, Height: h}
	}
	w, h, err := Dimensions(sniffed, data)
	if err != nil {
		return fail(err, 0, 0)
	}
	if w > lim.MaxSide || h > lim.MaxSide || int64(w)*int64(h) > lim.MaxPixels {
		return fail(ErrTooManyPixels, w, h)
	}
	orient := 1
	if sniffed == TypeJPEG {
		orient = exifOrientation(data)
	}
	src, err := decode(sniffed, data)
	if err != nil {
		return fail(ErrDamaged, w, h)
	}
	side := opts.MaxSide
	for range 4 {
		tw, th := fit(src.Bounds().Dx(), src.Bounds().Dy(), side)
		small := scale(src, tw, th)
		small = orientImage(small, orient)
		var buf bytes.Buffer
		for _, q := range qualities {
			buf.Reset()
			if err := jpeg.Encode(&buf, small, &jpeg.Options{Quality: q}); err != nil {
				return fail(ErrDamaged, w, h)
			}
			if buf.Len() <= opts.MaxBytes {
				b := small.Bounds()
				return Thumb{JPEG: bytes.Clone(buf.Bytes()), Width: b.Dx(), Height: b.Dy()}, nil
			}
		}
		side = side * 3 / 4
	}
	return fail(ErrTooLarge, w, h)
}

func decode(sniffed string, data []byte) (image.Image, error) {
	r := bytes.NewReader(data)
	switch sniffed {
	case TypeJPEG:
		return jpeg.Decode(r)
	case TypePNG:
		return png.Decode(r)
	case TypeGIF:
		return gif.Decode(r)
	case TypeWebP:
		return webp.Decode(r)
	}
	return nil, ErrNoPreview
}

// fit scales w×h to fit side×side, keeping the aspect ratio; never up.
func fit(w, h, side int) (int, int) {
	if w <= side && h <= side {
		return w, h
	}
	if w >= h {
		return side, max(1, (h*side+w/2)/w)
	}
	return max(1, (w*side+h/2)/h), side
}

// scale draws src onto a white w×h canvas. A large reduction is done in
// two steps: a box filter to about twice the target (cheap, and it keeps
// x/image/draw's intermediate buffer small), then bilinear.
func scale(src image.Image, w, h int) *image.RGBA {
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.Draw(dst, dst.Bounds(), image.NewUniform(color.White), image.Point{}, draw.Src)
	sb := src.Bounds()
	if k := min(sb.Dx()/(2*w), sb.Dy()/(2*h)); k >= 2 {
		src = boxShrink(src, k)
		sb = src.Bounds()
	}
	draw.BiLinear.Scale(dst, dst.Bounds(), src, sb, draw.Over, nil)
	return dst
}

// boxShrink averages k×k blocks of src into one pixel. JPEG's YCbCr and
// Gray and PNG's RGBA and NRGBA are read from their pixel slices; other
// models (paletted GIFs, 16-bit PNGs) through At.
func boxShrink(src image.Image, k int) image.Image {
	switch m := src.(type) {
	case *image.YCbCr:
		return boxShrinkYCbCr(m, k)
	case *image.Gray:
		return boxShrinkGray(m, k)
	case *image.RGBA:
		return boxShrinkPix(m.Pix, m.Stride, m.Rect, k, false)
	case *image.NRGBA:
		return boxShrinkPix(m.Pix, m.Stride, m.Rect, k, true)
	}
	sb := src.Bounds()
	w, h := sb.Dx()/k, sb.Dy()/k
	out := image.NewRGBA64(image.Rect(0, 0, w, h))
	n := uint32(k * k)
	for oy := range h {
		for ox := range w {
			var r, g, b, a uint32
			for dy := range k {
				for dx := range k {
					cr, cg, cb, ca := src.At(sb.Min.X+ox*k+dx, sb.Min.Y+oy*k+dy).RGBA()
					r, g, b, a = r+cr, g+cg, b+cb, a+ca
				}
			}
			out.SetRGBA64(ox, oy, color.RGBA64{uint16(r / n), uint16(g / n), uint16(b / n), uint16(a / n)})
		}
	}
	return out
}

// boxShrinkPix shrinks 8-bit RGBA pixels, premultiplied or not (NRGBA),
// into a premultiplied RGBA image.
func boxShrinkPix(pix []uint8, stride int, r image.Rectangle, k int, straight bool) *image.RGBA {
	w, h := r.Dx()/k, r.Dy()/k
	out := image.NewRGBA(image.Rect(0, 0, w, h))
	n := uint32(k * k)
	for oy := range h {
		for ox := range w {
			var sr, sg, sb, sa uint32
			for dy := range k {
				i := (oy*k+dy)*stride + ox*k*4
				for range k {
					a := uint32(pix[i+3])
					if straight {
						sr += uint32(pix[i]) * a
						sg += uint32(pix[i+1]) * a
						sb += uint32(pix[i+2]) * a
					} else {
						sr += uint32(pix[i])
						sg += uint32(pix[i+1])
						sb += uint32(pix[i+2])
					}
					sa += a
					i += 4
				}
			}
			if straight {
				sr, sg, sb = sr/0xFF, sg/0xFF, sb/0xFF
			}
			d := out.PixOffset(ox, oy)
			out.Pix[d], out.Pix[d+1], out.Pix[d+2], out.Pix[d+3] = uint8(sr/n), uint8(sg/n), uint8(sb/n), uint8(sa/n)
		}
	}
	return out
}

// boxShrinkGray shrinks a grayscale image.
func boxShrinkGray(src *image.Gray, k int) *image.Gray {
	sb := src.Bounds()
	w, h := sb.Dx()/k, sb.Dy()/k
	out := image.NewGray(image.Rect(0, 0, w, h))
	n := uint32(k * k)
	for oy := range h {
		for ox := range w {
			var s uint32
			for dy := range k {
				i := (oy*k+dy)*src.Stride + ox*k
				for _, v := range src.Pix[i : i+k] {
					s += uint32(v)
				}
			}
			out.Pix[oy*out.Stride+ox] = uint8(s / n)
		}
	}
	return out
}

// boxShrinkYCbCr shrinks each plane of a YCbCr image by k into a 4:4:4
// image, averaging chroma over the same area as luma, reading the planes
// row by row.
func boxShrinkYCbCr(src *image.YCbCr, k int) *image.YCbCr {
	sb := src.Bounds()
	w, h := sb.Dx()/k, sb.Dy()/k
	out := image.NewYCbCr(image.Rect(0, 0, w, h), image.YCbCrSubsampleRatio444)
	fx, fy := chromaFactors(src.SubsampleRatio)
	n := uint32(k * k)
	for oy := range h {
		y0 := sb.Min.Y + oy*k
		cy0, cy1 := floorDiv(y0, fy), floorDiv(y0+k-1, fy)+1
		for ox := range w {
			x0 := sb.Min.X + ox*k
			var sy uint32
			for dy := range k {
				i := src.YOffset(x0, y0+dy)
				for _, v := range src.Y[i : i+k] {
					sy += uint32(v)
				}
			}
			cx0, cx1 := floorDiv(x0, fx), floorDiv(x0+k-1, fx)+1
			var scb, scr, cn uint32
			for cy := cy0; cy < cy1; cy++ {
				i := (cy-floorDiv(sb.Min.Y, fy))*src.CStride + (cx0 - floorDiv(sb.Min.X, fx))
				for j := range cx1 - cx0 {
					scb += uint32(src.Cb[i+j])
					scr += uint32(src.Cr[i+j])
				}
				cn += uint32(cx1 - cx0)
			}
			d := oy*out.YStride + ox
			out.Y[d] = uint8(sy / n)
			out.Cb[d] = uint8(scb / cn)
			out.Cr[d] = uint8(scr / cn)
		}
	}
	return out
}

// chromaFactors are the horizontal and vertical chroma subsampling
// factors of a ratio.
func chromaFactors(r image.YCbCrSubsampleRatio) (int, int) {
	switch r {
	case image.YCbCrSubsampleRatio422:
		return 2, 1
	case image.YCbCrSubsampleRatio420:
		return 2, 2
	case image.YCbCrSubsampleRatio440:
		return 1, 2
	case image.YCbCrSubsampleRatio411:
		return 4, 1
	case image.YCbCrSubsampleRatio410:
		return 4, 2
	}
	return 1, 1
}

func floorDiv(a, b int) int {
	q := a / b
	if (a%b != 0) && (a < 0) {
		q--
	}
	return q
}

// orientImage applies an EXIF orientation (1-8) to a small image.
func orientImage(m *image.RGBA, o int) *image.RGBA {
	if o < 2 || o > 8 {
		return m
	}
	b := m.Bounds()
	w, h := b.Dx(), b.Dy()
	ow, oh := w, h
	if o >= 5 {
		ow, oh = h, w
	}
	out := image.NewRGBA(image.Rect(0, 0, ow, oh))
	for y := range h {
		for x := range w {
			var nx, ny int
			switch o {
			case 2: // mirrored
				nx, ny = w-1-x, y
			case 3: // upside down
				nx, ny = w-1-x, h-1-y
			case 4: // mirrored, upside down
				nx, ny = x, h-1-y
			case 5: // transposed
				nx, ny = y, x
			case 6: // rotate 90° clockwise
				nx, ny = h-1-y, x
			case 7: // transverse
				nx, ny = h-1-y, w-1-x
			case 8: // rotate 90° counter-clockwise
				nx, ny = y, w-1-x
			}
			si := m.PixOffset(b.Min.X+x, b.Min.Y+y)
			di := out.PixOffset(nx, ny)
			copy(out.Pix[di:di+4], m.Pix[si:si+4])
		}
	}
	return out
}

// exifOrientation returns the EXIF orientation of a JPEG (1-8), or 1 when
// it has none or the EXIF block cannot be read. It reads the APP1 segments
// before the first scan and the first IFD only.
func exifOrientation(b []byte) int {
	if len(b) < 4 || b[0] != 0xFF || b[1] != 0xD8 {
		return 1
	}
	i := 2
	for i+4 <= len(b) {
		if b[i] != 0xFF {
			return 1
		}
		m := b[i+1]
		if m == 0xFF {
			i++
			continue
		}
		if m == 0xDA || m == 0xD9 {
			return 1
		}
		if m == 0x01 || (m >= 0xD0 && m <= 0xD7) {
			i += 2
			continue
		}
		l := int(binary.BigEndian.Uint16(b[i+2:]))
		if l < 2 || i+2+l > len(b) {
			return 1
		}
		seg := b[i+4 : i+2+l]
		if m == 0xE1 && bytes.HasPrefix(seg, []byte("Exif\x00\x00")) {
			if o := tiffOrientation(seg[6:]); o != 0 {
				return o
			}
		}
		i += 2 + l
	}
	return 1
}

// tiffOrientation reads tag 0x0112 of IFD0 in a TIFF block; 0 if absent.
func tiffOrientation(t []byte) int {
	if len(t) < 8 {
		return 0
	}
	var bo binary.ByteOrder
	switch string(t[:2]) {
	case "II":
		bo = binary.LittleEndian
	case "MM":
		bo = binary.BigEndian
	default:
		return 0
	}
	if bo.Uint16(t[2:]) != 42 {
		return 0
	}
	off := int64(bo.Uint32(t[4:]))
	if off < 8 || off+2 > int64(len(t)) {
		return 0
	}
	n := int64(bo.Uint16(t[off:]))
	for e := range n {
		p := off + 2 + e*12
		if p+12 > int64(len(t)) {
			return 0
		}
		if bo.Uint16(t[p:]) != 0x0112 {
			continue
		}
		if bo.Uint16(t[p+2:]) != 3 { // SHORT
			return 0
		}
		if v := int(bo.Uint16(t[p+8:])); v >= 1 && v <= 8 {
			return v
		}
		return 0
	}
	return 0
}
