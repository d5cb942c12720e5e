package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboard/switchboard/bot"
	"github.com/switchboard/switchboard/store"
)

func TestBackup(t *testing.T) {
	data := t.TempDir()
	cfg := DefaultConfig()
	cfg.DataDir = data
	key, _, err := LoadMasterKey(cfg, zerolog.Nop(), strings.NewReader(string(testKey)))
	require.NoError(t, err)

	// Some data to back up, written while the "bot" keeps the store open.
	live, err := store.New(store.Options{Dir: data, MasterKey: key, Log: zerolog.Nop()})
	require.NoError(t, err)
	require.NoError(t, live.Open(t.Context()))
	defer live.Close()
	subj, err := live.ResolveSubject(t.Context(), bot.SubjectInput{Identities: []bot.Identity{{Kind: bot.IDPhone, Value: "+447700900123"}}, Role: bot.RoleCustomer})
	require.NoError(t, err)
	_, _, err = live.SaveInbound(t.Context(), bot.Message{
		Subject: subj.ID, Platform: bot.WhatsApp, Chat: "c1", PlatformID: "m1", Dir: bot.In, Kind: bot.KindText,
		Text: "backup me", SentAt: time.Now(), StoredAt: time.Now(), Status: bot.StatusReceived,
	})
	require.NoError(t, err)

	out := filepath.Join(t.TempDir(), "b1")
	var stdout, stderr bytes.Buffer
	require.NoError(t, run(t.Context(), []string{"backup", "--data", data, "--out", out, "--log-format", "json"}, envMap(nil), &stdout, &stderr), stderr.String())
	assert.Equal(t, filepath.Join(out, store.MainFile)+"\n"+filepath.Join(out, store.KeysFile)+"\n", stdout.String())
	for _, f := range []string{store.MainFile, store.KeysFile} {
		st, err := os.Stat(filepath.Join(out, f))
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	}
	assert.NotContains(t, stderr.String(), "+447700900123")
	err = run(t.Context(), []string{"backup", "--data", data, "--out", out, "--log-format", "json"}, envMap(nil), io.Discard, io.Discard)
	require.Error(t, err, "a second backup must not overwrite the first")
	assert.Contains(t, err.Error(), "already exists")

	// The backup opens with the same master key and holds the message.
	b, err := store.New(store.Options{Dir: out, MasterKey: key, Log: zerolog.Nop()})
	require.NoError(t, err)
	require.NoError(t, b.Open(t.Context()))
	defer b.Close()
	got, err := b.FindSubject(t.Context(), subj.ID)
	require.NoError(t, err)
	assert.Equal(t, subj.ID, got.ID)
	hist, err := b.History(t.Context(), subj.ID, "c1", 1<<62, 10)
	require.NoError(t, err)
	require.Len(t, hist, 1)
	assert.Equal(t, "backup me", hist[0].Text)
}

func TestBackupErrors(t *testing.T) {
	empty := t.TempDir()
	tests := []struct {
		name string
		args []string
		want string
	}{
		{name: "ErrNoOut", args: []string{"--data", empty}, want: "config --out"},
		{name: "ErrNothingToBackUp", args: []string{"--data", empty, "--out", filepath.Join(empty, "b")}, want: "nothing to back up"},
		{name: "ErrSecretFlag", args: []string{"--master-key", "x", "--out", "b"}, want: "secrets are read only from the environment"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := run(context.Background(), append([]string{"backup"}, tc.args...), envMap(nil), io.Discard, io.Discard)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
	assert.NoFileExists(t, filepath.Join(empty, masterKeyName), "a failed backup must not generate a key")
}
