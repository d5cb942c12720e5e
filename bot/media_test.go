package bot

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestMediaRefDigest(t *testing.T) {
	sum := sha256.Sum256([]byte("photo"))
	for name, s := range map[string]string{
		"Hex":       hex.EncodeToString(sum[:]),
		"HexUpper":  "  " + hex.EncodeToString(sum[:]) + " ",
		"Base64":    base64.StdEncoding.EncodeToString(sum[:]),
		"Base64URL": base64.URLEncoding.EncodeToString(sum[:]),
		"Base64Raw": base64.RawStdEncoding.EncodeToString(sum[:]),
	} {
		assert.Equal(t, sum[:], MediaRef{SHA256: s}.Digest(), name)
	}
	for _, s := range []string{"", "abc", hex.EncodeToString(sum[:16]), base64.StdEncoding.EncodeToString(sum[:20]), "zz" + hex.EncodeToString(sum[:31])} {
		assert.Nil(t, MediaRef{SHA256: s}.Digest(), s)
	}
}

func TestNewMediaAndBack(t *testing.T) {
	sum := sha256.Sum256([]byte("voice"))
	ref := MediaRef{ID: "1234567890", MIME: "audio/ogg; codecs=opus", Filename: "n.ogg", SHA256: base64.StdEncoding.EncodeToString(sum[:])}
	m := NewMedia(7, KindVoice, ref)
	assert.Equal(t, Media{MessageID: 7, Kind: KindVoice, MIME: "audio/ogg; codecs=opus", FileName: "n.ogg", SHA256: sum[:], Ref: "1234567890", State: MediaPending}, m)
	back := m.MediaRef()
	assert.Equal(t, MediaRef{ID: ref.ID, MIME: ref.MIME, Filename: ref.Filename, SHA256: hex.EncodeToString(sum[:])}, back)
	assert.Equal(t, sum[:], back.Digest(), "the hash survives in hex")
	assert.Equal(t, "voice note", KindVoice.Words())
	assert.Equal(t, "image", KindImage.Words())
}

func FuzzMediaRefDigest(f *testing.F) {
	sum := sha256.Sum256([]byte("x"))
	f.Add(hex.EncodeToString(sum[:]))
	f.Add(base64.StdEncoding.EncodeToString(sum[:]))
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		d := MediaRef{SHA256: s}.Digest()
		if d != nil {
			assert.Len(t, d, sha256.Size)
		}
	})
}
