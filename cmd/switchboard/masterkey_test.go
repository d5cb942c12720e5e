package main

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var testKey = []byte("0123456789abcdef0123456789abcdef")

func TestParseMasterKey(t *testing.T) {
	tests := []struct {
		name string
		in   string
		err  string
	}{
		{name: "OKHex", in: hex.EncodeToString(testKey)},
		{name: "OKHexUpper", in: strings.ToUpper(hex.EncodeToString(testKey))},
		{name: "OKBase64", in: base64.StdEncoding.EncodeToString(testKey)},
		{name: "OKBase64Raw", in: base64.RawStdEncoding.EncodeToString(testKey)},
		{name: "OKBase64URL", in: base64.URLEncoding.EncodeToString(testKey)},
		{name: "OKTrailingNewline", in: base64.StdEncoding.EncodeToString(testKey) + "\n"},
		{name: "ErrEmpty", in: "  \n", err: "empty"},
		{name: "ErrShortHex", in: hex.EncodeToString(testKey[:31]), err: "62 hex digits, want 64"},
		{name: "ErrShortBase64", in: base64.StdEncoding.EncodeToString(testKey[:16]), err: "decodes to 16 bytes"},
		{name: "ErrLongBase64", in: base64.StdEncoding.EncodeToString(append(testKey, 'x')), err: "decodes to 33 bytes"},
		{name: "ErrGarbage", in: "this is not a key at all!", err: "neither"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			k, err := ParseMasterKey(tc.in)
			if tc.err != "" {
				require.ErrorIs(t, err, ErrBadMasterKey)
				assert.Contains(t, err.Error(), tc.err)
				if in := strings.TrimSpace(tc.in); in != "" {
					assert.NotContains(t, err.Error(), in)
				}
				return
			}
			require.NoError(t, err)
			assert.Equal(t, testKey, k)
		})
	}
}

func FuzzParseMasterKey(f *testing.F) {
	f.Add(hex.EncodeToString(testKey))
	f.Add(base64.StdEncoding.EncodeToString(testKey))
	f.Add(base64.RawURLEncoding.EncodeToString(testKey))
	f.Add("")
	f.Add("====")
	f.Fuzz(func(t *testing.T, in string) {
		k, err := ParseMasterKey(in)
		if err != nil {
			assert.ErrorIs(t, err, ErrBadMasterKey)
			if s := strings.TrimSpace(in); len(s) >= 16 {
				assert.NotContains(t, err.Error(), s, "error echoes key material")
			}
			return
		}
		assert.Len(t, k, MasterKeySize)
	})
}

// logBuf captures log output.
func logBuf() (*bytes.Buffer, zerolog.Logger) {
	var b bytes.Buffer
	return &b, zerolog.New(&b)
}

func TestLoadMasterKeyGenerates(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	cfg := DefaultConfig()
	cfg.DataDir = dir
	out, log := logBuf()

	k, src, err := LoadMasterKey(cfg, log, bytes.NewReader(testKey))
	require.NoError(t, err)
	assert.Equal(t, KeyGenerated, src)
	assert.Equal(t, testKey, k)

	st, err := os.Stat(filepath.Join(dir, masterKeyName))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	dst, err := os.Stat(dir)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o700), dst.Mode().Perm())

	logged := out.String()
	assert.Contains(t, logged, `"level":"warn"`)
	assert.Contains(t, logged, "back this file up")
	assert.NotContains(t, logged, base64.StdEncoding.EncodeToString(testKey))
	assert.NotContains(t, logged, hex.EncodeToString(testKey))
	assert.NotContains(t, logged, string(testKey))

	// The second run reads the same key back, quietly.
	out.Reset()
	k2, src, err := LoadMasterKey(cfg, log, bytes.NewReader(make([]byte, 32)))
	require.NoError(t, err)
	assert.Equal(t, KeyFromDataDir, src)
	assert.Equal(t, testKey, k2)
	assert.Empty(t, out.String())
}

func TestLoadMasterKeySources(t *testing.T) {
	b64 := base64.StdEncoding.EncodeToString(testKey)
	other := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))
	tests := []struct {
		name    string
		setup   func(t *testing.T, dir string, cfg *Config)
		src     KeySource
		err     string
		warning string
	}{
		{
			name:  "OKEnv",
			setup: func(t *testing.T, dir string, cfg *Config) { cfg.MasterKey = NewSecret(hex.EncodeToString(testKey)) },
			src:   KeyFromEnv,
		},
		{
			name: "OKEnvWarnsOnDifferentDataDirKey",
			setup: func(t *testing.T, dir string, cfg *Config) {
				cfg.MasterKey = NewSecret(b64)
				writeFile(t, filepath.Join(dir, masterKeyName), other, 0o600)
			},
			src:     KeyFromEnv,
			warning: "differs",
		},
		{
			name: "OKFile",
			setup: func(t *testing.T, dir string, cfg *Config) {
				cfg.MasterKeyFile = filepath.Join(t.TempDir(), "k")
				writeFile(t, cfg.MasterKeyFile, b64+"\n", 0o400)
			},
			src: KeyFromFile,
		},
		{
			name: "OKFileGroupReadable",
			setup: func(t *testing.T, dir string, cfg *Config) {
				cfg.MasterKeyFile = filepath.Join(t.TempDir(), "k")
				writeFile(t, cfg.MasterKeyFile, b64, 0o640)
			},
			src: KeyFromFile,
		},
		{
			name:  "ErrEnvMalformed",
			setup: func(t *testing.T, dir string, cfg *Config) { cfg.MasterKey = NewSecret("abc") },
			err:   "SWITCHBOARD_MASTER_KEY: bad master key",
		},
		{
			name: "ErrFileWorldReadable",
			setup: func(t *testing.T, dir string, cfg *Config) {
				cfg.MasterKeyFile = filepath.Join(t.TempDir(), "k")
				writeFile(t, cfg.MasterKeyFile, b64, 0o644)
			},
			err: "readable or writable by every user",
		},
		{
			name: "ErrDataDirKeyWorldReadable",
			setup: func(t *testing.T, dir string, cfg *Config) {
				writeFile(t, filepath.Join(dir, masterKeyName), b64, 0o604)
			},
			err: "chmod 600",
		},
		{
			name:  "ErrFileMissing",
			setup: func(t *testing.T, dir string, cfg *Config) { cfg.MasterKeyFile = filepath.Join(dir, "nope") },
			err:   "no such file",
		},
		{
			name: "ErrFileMalformed",
			setup: func(t *testing.T, dir string, cfg *Config) {
				cfg.MasterKeyFile = filepath.Join(dir, "k")
				writeFile(t, cfg.MasterKeyFile, "short", 0o600)
			},
			err: "bad master key",
		},
		{
			name:  "ErrDataWithoutKey",
			setup: func(t *testing.T, dir string, cfg *Config) { writeFile(t, filepath.Join(dir, "keys.db"), "", 0o600) },
			err:   "holds keys.db but no master.key",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			cfg := DefaultConfig()
			cfg.DataDir = dir
			tc.setup(t, dir, &cfg)
			out, log := logBuf()
			k, src, err := LoadMasterKey(cfg, log, bytes.NewReader(nil))
			if tc.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.err)
				assert.NotContains(t, err.Error(), b64)
				if tc.name == "ErrDataWithoutKey" {
					assert.NoFileExists(t, filepath.Join(dir, masterKeyName), "a new key was generated over existing data")
				}
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.src, src)
			assert.Equal(t, testKey, k)
			if tc.warning != "" {
				assert.Contains(t, out.String(), tc.warning)
			} else {
				assert.Empty(t, out.String())
			}
			assert.NotContains(t, out.String(), b64)
		})
	}
}

func writeFile(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	require.NoError(t, os.WriteFile(path, []byte(content), mode))
	require.NoError(t, os.Chmod(path, mode)) // WriteFile's mode is masked by umask
}
