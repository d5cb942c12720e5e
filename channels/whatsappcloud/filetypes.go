package whatsappcloud

import "github.com/switchboard/switchboard/bot"

// mediaType is one type of file the Cloud API sends: the message it goes
// as, the type its upload names and its size limit.
type mediaType struct {
	mime   string // as bot.CanonicalMIME spells it
	send   string // the message type: image, audio, video or document
	upload string // the upload's type field
	max    int64
}

// Size limits of Meta's supported media types.
const (
	maxImage = 5 << 20
	maxAV    = 16 << 20
)

// mediaTypes are the files the channel sends, from Meta's supported media
// types (developers.facebook.com/docs/whatsapp/cloud-api/reference/media,
// "Supported media types"): JPEG and PNG photos up to 5 MB; AAC, AMR, MP3,
// M4A and Ogg audio (Opus only, Meta says) and MP4 and 3GP video (H.264 and
// AAC) up to 16 MB; plain text, PDF and Office documents up to 100 MB. A
// JSON or CSV file goes as plain text under its own name. WebP goes only
// as a sticker (not sent here); a ZIP, an OpenDocument, a HEIC photo or a
// QuickTime video cannot go at all. Audio messages take no caption: its
// text goes first, on its own.
var mediaTypes = []mediaType{
	{"image/jpeg", "image", "image/jpeg", maxImage},
	{"image/png", "image", "image/png", maxImage},
	{"audio/aac", "audio", "audio/aac", maxAV},
	{"audio/amr", "audio", "audio/amr", maxAV},
	{"audio/mpeg", "audio", "audio/mpeg", maxAV},
	{"audio/mp4", "audio", "audio/mp4", maxAV},
	{"audio/ogg", "audio", "audio/ogg", maxAV},
	{"video/mp4", "video", "video/mp4", maxAV},
	{"video/3gpp", "video", "video/3gpp", maxAV},
	{"text/plain", "document", "text/plain", maxFile},
	{"application/json", "document", "text/plain", maxFile},
	{"text/csv", "document", "text/plain", maxFile},
	{"application/pdf", "document", "application/pdf", maxFile},
	{"application/msword", "document", "application/msword", maxFile},
	{"application/vnd.openxmlformats-officedocument.wordprocessingml.document", "document", "application/vnd.openxmlformats-officedocument.wordprocessingml.document", maxFile},
	{"application/vnd.ms-excel", "document", "application/vnd.ms-excel", maxFile},
	{"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "document", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", maxFile},
	{"application/vnd.ms-powerpoint", "document", "application/vnd.ms-powerpoint", maxFile},
	{"application/vnd.openxmlformats-officedocument.presentationml.presentation", "document", "application/vnd.openxmlformats-officedocument.presentationml.presentation", maxFile},
}

// fileTypes are mediaTypes as Capabilities.FileTypes.
var fileTypes = func() []bot.FileType {
	out := make([]bot.FileType, len(mediaTypes))
	for i, t := range mediaTypes {
		out[i] = bot.FileType{MIME: t.mime, Max: t.max}
	}
	return out
}()

// typeOf finds how a file of type mime goes; a file without a type is
// plain text, as a document.
func typeOf(mime string) (mediaType, bool) {
	m := bot.CanonicalMIME(mime)
	if m == "" {
		m = "text/plain"
	}
	for _, t := range mediaTypes {
		if t.mime == m {
			return t, true
		}
	}
	return mediaType{}, false
}
