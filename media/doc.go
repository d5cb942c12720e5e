// Package media checks and previews the files customers send: photos,
// voice notes, audio, video, documents and stickers.
//
// It sniffs the content type from the bytes (Sniff), never trusting the type
// the platform declared; checks a download before it is kept (Check: empty,
// over the size cap of its kind, cut off, damaged, or not what it claims to
// be, each a *Error with a plain-words Note for the staff card); reads an
// image's dimensions from its header so a decompression bomb is refused
// before any pixel is decoded (Dimensions); and makes a small JPEG
// thumbnail that fits inside a Teams Adaptive Card (Thumbnail).
//
// It imports bot, the standard library and golang.org/x/image only, holds
// no state and does no I/O, so the router, the channels' tests and the
// store's callers can all use it. Nothing here logs; errors carry types,
// sizes and dimensions, never file names or content.
package media
