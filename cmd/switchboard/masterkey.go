package main

import (
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/rs/zerolog"
)

// MasterKeySize is the master key length in bytes (AES-256).
const MasterKeySize = 32

// masterKeyName is the generated key's file name in the data dir.
const masterKeyName = "master.key"

// dataFiles are files whose presence means encrypted data already exists, so
// a new master key must not be generated silently.
var dataFiles = []string{"keys.db", "switchboard.db"}

// ErrBadMasterKey is returned for a master key that does not decode to 32 bytes.
var ErrBadMasterKey = errors.New("bad master key")

// ParseMasterKey decodes a master key written as 64 hex digits or as base64
// (standard or URL alphabet, padded or not) of 32 bytes. Surrounding space is
// ignored. Errors never hold key material.
func ParseMasterKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, fmt.Errorf("%w: empty", ErrBadMasterKey)
	}
	if k, err := hex.DecodeString(s); err == nil {
		// An even run of hex digits is hex; base64 of 32 bytes has 43 or
		// 44 characters, so no valid base64 key is taken for hex.
		if len(k) != MasterKeySize {
			return nil, fmt.Errorf("%w: %d hex digits, want %d", ErrBadMasterKey, len(s), 2*MasterKeySize)
		}
		return k, nil
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		k, err := enc.DecodeString(s)
		if err != nil {
			continue
		}
		if len(k) != MasterKeySize {
			return nil, fmt.Errorf("%w: decodes to %d bytes, want %d", ErrBadMasterKey, len(k), MasterKeySize)
		}
		return k, nil
	}
	return nil, fmt.Errorf("%w: want %d bytes as %d hex digits or base64 (%d characters), got %d characters that are neither",
		ErrBadMasterKey, MasterKeySize, 2*MasterKeySize, base64.StdEncoding.EncodedLen(MasterKeySize), len(s))
}

// KeySource says where the master key came from; safe to log.
type KeySource string

// Key sources.
const (
	KeyFromEnv       KeySource = "env"
	KeyFromFile      KeySource = "file"
	KeyFromDataDir   KeySource = "data-dir"
	KeyGenerated     KeySource = "generated"
	keySourceUnknown KeySource = ""
)

// LoadMasterKey returns the master key: SWITCHBOARD_MASTER_KEY, else the file
// SWITCHBOARD_MASTER_KEY_FILE, else <data>/master.key, which it generates
// (0600, in a 0700 data dir) on first run with a loud warning to back it up
// apart from the data. It refuses a world-accessible key file, and refuses to
// generate a key when the data dir already holds encrypted data.
func LoadMasterKey(cfg Config, log zerolog.Logger, random io.Reader) ([]byte, KeySource, error) {
	if !cfg.MasterKey.IsZero() {
		k, err := ParseMasterKey(cfg.MasterKey.Value())
		if err != nil {
			return nil, keySourceUnknown, fmt.Errorf("%s: %w", envMasterKey, err)
		}
		warnIfDataDirKeyDiffers(cfg.DataDir, k, log)
		return k, KeyFromEnv, nil
	}
	if cfg.MasterKeyFile != "" {
		k, err := readKeyFile(cfg.MasterKeyFile)
		if err != nil {
			return nil, keySourceUnknown, fmt.Errorf("%s: %w", envMasterKeyFile, err)
		}
		warnIfDataDirKeyDiffers(cfg.DataDir, k, log)
		return k, KeyFromFile, nil
	}

	path := filepath.Join(cfg.DataDir, masterKeyName)
	k, err := readKeyFile(path)
	if err == nil {
		return k, KeyFromDataDir, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, keySourceUnknown, err
	}
	for _, name := range dataFiles {
		if _, err := os.Stat(filepath.Join(cfg.DataDir, name)); err == nil {
			return nil, keySourceUnknown, fmt.Errorf("master key: the data dir holds %s but no %s and %s is unset: restore the key (or set %s); a new key could not read the existing data",
				name, masterKeyName, envMasterKey, envMasterKeyFile)
		}
	}
	k, err = generateKeyFile(cfg.DataDir, path, random)
	if err != nil {
		return nil, keySourceUnknown, err
	}
	log.Warn().Str("path", path).Str("component", "masterkey").
		Msg("GENERATED A NEW MASTER KEY: back this file up now, and store the backup apart from the data dir and its backups. " +
			"Losing it loses all encrypted text; keeping it next to the data backups defeats erasure.")
	return k, KeyGenerated, nil
}

// readKeyFile reads and decodes a key file, refusing one that anyone may read.
func readKeyFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open master key file: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("stat master key file: %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("master key file %s is not a regular file", path)
	}
	if perm := st.Mode().Perm(); perm&0o007 != 0 {
		return nil, fmt.Errorf("master key file %s has mode %s, readable or writable by every user: chmod 600 it (and consider the key exposed)",
			path, strconv.FormatUint(uint64(perm), 8))
	}
	b, err := io.ReadAll(io.LimitReader(f, 4096))
	if err != nil {
		return nil, fmt.Errorf("read master key file: %w", err)
	}
	k, err := ParseMasterKey(string(b))
	if err != nil {
		return nil, fmt.Errorf("master key file %s: %w", path, err)
	}
	return k, nil
}

// generateKeyFile creates dir (0700) and a new key file (0600) that must not
// exist yet, written as base64 so it can be pasted into SWITCHBOARD_MASTER_KEY.
func generateKeyFile(dir, path string, random io.Reader) ([]byte, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	k := make([]byte, MasterKeySize)
	if _, err := io.ReadFull(random, k); err != nil {
		return nil, fmt.Errorf("generate master key: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create master key file: %w", err)
	}
	_, werr := f.WriteString(base64.StdEncoding.EncodeToString(k) + "\n")
	if werr == nil {
		werr = f.Sync()
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		os.Remove(path)
		return nil, fmt.Errorf("write master key file: %w", werr)
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return k, nil
}

// warnIfDataDirKeyDiffers warns when a configured key differs from a
// master.key left in the data dir, a sign of a mix-up.
func warnIfDataDirKeyDiffers(dir string, k []byte, log zerolog.Logger) {
	b, err := os.ReadFile(filepath.Join(dir, masterKeyName))
	if err != nil {
		return
	}
	if old, err := ParseMasterKey(string(b)); err == nil && subtle.ConstantTimeCompare(old, k) == 1 {
		return
	}
	log.Warn().Str("component", "masterkey").
		Msg("the configured master key differs from " + masterKeyName + " in the data dir; using the configured key")
}
