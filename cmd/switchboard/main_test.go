package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"github.com/switchboard/switchboard/bot"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboard/switchboard/store"
)

// logTap collects JSON log lines written by run and hands out the bound
// HTTP address once it is logged.
type logTap struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	addrs chan string
}

func newLogTap() *logTap { return &logTap{addrs: make(chan string, 1)} }

func (l *logTap) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.Write(p)
	sc := bufio.NewScanner(bytes.NewReader(p))
	for sc.Scan() {
		var line struct{ Message, Addr string }
		if json.Unmarshal(sc.Bytes(), &line) == nil && line.Message == "http listening" {
			select {
			case l.addrs <- line.Addr:
			default:
			}
		}
	}
	return len(p), nil
}

func (l *logTap) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// startServe runs serve with cfg and build until the test ends and
// returns the base URL it listens on and a stop that cancels it and checks
// it returned cleanly (idempotent, also run by t.Cleanup).
func startServe(t *testing.T, cfg Config, tap *logTap, build func(*App) ([]bot.Channel, error)) (string, func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, cfg, tap, build) }()
	var base string
	select {
	case addr := <-tap.addrs:
		base = "http://" + addr
	case err := <-done:
		cancel()
		require.FailNow(t, "serve returned early", "err=%v log:\n%s", err, tap.String())
	}
	var stopped bool
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		require.NoError(t, <-done, "log:\n%s", tap.String())
	}
	t.Cleanup(stop)
	return base, stop
}

func TestRunServesAndShutsDown(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	tap := newLogTap()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"run", "--data", dir, "--listen", "127.0.0.1:0", "--log-format", "json", "--no-whatsapp"},
			envMap(nil), io.Discard, tap)
	}()

	var addr string
	select {
	case addr = <-tap.addrs:
	case err := <-done:
		require.FailNow(t, "run returned before listening", "err=%v log:\n%s", err, tap.String())
	}
	base := "http://" + addr

	code, _ := get(t, base+"/healthz")
	assert.Equal(t, http.StatusOK, code)
	require.Eventually(t, func() bool {
		code, _ := get(t, base+"/readyz")
		return code == http.StatusOK
	}, 20*time.Second, 20*time.Millisecond, "never ready; log:\n%s", tap.String())
	_, body := get(t, base+"/readyz")
	var ready readyBody
	require.NoError(t, json.Unmarshal([]byte(body), &ready))
	assert.True(t, ready.Components[compStore].Ready)
	assert.True(t, ready.Components[compRouter].Ready)

	code, metrics := get(t, base+"/metrics")
	assert.Equal(t, http.StatusOK, code)
	assert.Contains(t, metrics, `switchboard_inbound_total{platform="whatsapp"} 0`)
	assert.Contains(t, metrics, `switchboard_component_ready{component="store"} 1`)

	cancel()
	require.NoError(t, <-done, "log:\n%s", tap.String())

	// Shut down cleanly: HTTP closed, the store's files closed (no WAL
	// left), and the store opens again with the generated key.
	_, err := http.Get(base + "/healthz")
	assert.Error(t, err, "HTTP still serving after run returned")
	st, err := os.Stat(filepath.Join(dir, masterKeyName))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	for _, name := range dataFiles {
		assert.FileExists(t, filepath.Join(dir, name))
		assert.NoFileExists(t, filepath.Join(dir, name+"-wal"), "%s was not closed", name)
	}
	cfg := DefaultConfig()
	cfg.DataDir = dir
	key, src, err := LoadMasterKey(cfg, zerolog.Nop(), strings.NewReader(""))
	require.NoError(t, err)
	assert.Equal(t, KeyFromDataDir, src)
	db, err := store.New(store.Options{Dir: dir, MasterKey: key, Log: zerolog.Nop()})
	require.NoError(t, err)
	require.NoError(t, db.Open(t.Context()))
	require.NoError(t, db.Close())

	logs := tap.String()
	assert.Contains(t, logs, "GENERATED A NEW MASTER KEY")
	assert.Contains(t, logs, `"message":"stopped"`)
	assert.NotContains(t, logs, `"level":"error"`)
	keyText, err := os.ReadFile(filepath.Join(dir, masterKeyName))
	require.NoError(t, err)
	assert.NotContains(t, logs, strings.TrimSpace(string(keyText)))
}

func TestRunRestartsOnSameData(t *testing.T) {
	dir := t.TempDir()
	for i := range 2 {
		ctx, cancel := context.WithCancel(t.Context())
		tap := newLogTap()
		done := make(chan error, 1)
		go func() {
			done <- run(ctx, []string{"--data", dir, "--listen", "127.0.0.1:0", "--log-format", "json", "--no-whatsapp"}, envMap(nil), io.Discard, tap)
		}()
		select {
		case <-tap.addrs:
		case err := <-done:
			require.FailNow(t, "run returned before listening", "run %d: err=%v log:\n%s", i, err, tap.String())
		}
		require.Eventually(t, func() bool { return strings.Contains(tap.String(), `"message":"ready"`) },
			20*time.Second, 10*time.Millisecond)
		cancel()
		require.NoError(t, <-done, "run %d log:\n%s", i, tap.String())
		assert.Equal(t, i == 0, strings.Contains(tap.String(), "GENERATED A NEW MASTER KEY"), "run %d", i)
	}
}

// TestRunRefusesAnotherMasterKey: data written with one master key and a
// start with another (a mixed-up SWITCHBOARD_MASTER_KEY) is refused with
// what to do, instead of a bot that knows nobody.
func TestRunRefusesAnotherMasterKey(t *testing.T) {
	dir := t.TempDir()
	start := func(env map[string]string) (string, error) {
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		tap := newLogTap()
		done := make(chan error, 1)
		go func() {
			done <- run(ctx, []string{"--data", dir, "--listen", "127.0.0.1:0", "--log-format", "json", "--no-whatsapp"}, envMap(env), io.Discard, tap)
		}()
		for {
			select {
			case err := <-done:
				return tap.String(), err
			case <-time.After(10 * time.Millisecond):
				if strings.Contains(tap.String(), `"message":"ready"`) {
					cancel()
					err := <-done
					return tap.String(), err
				}
			}
		}
	}
	logs, err := start(nil)
	require.NoError(t, err, logs)
	other := strings.Repeat("ab", 32)
	_, err = start(map[string]string{envMasterKey: other})
	require.ErrorIs(t, err, store.ErrWrongMasterKey)
	for _, want := range []string{"another master key", envMasterKey, envMasterKeyFile, masterKeyName} {
		assert.Contains(t, err.Error(), want)
	}
	assert.NotContains(t, err.Error(), other)
}

func TestRunErrors(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer busy.Close()
	tests := []struct {
		name  string
		args  []string
		env   map[string]string
		want  string
		usage bool
	}{
		{name: "ErrUnknownCommand", args: []string{"frobnicate"}, want: "unknown command", usage: true},
		{name: "ErrBadFlag", args: []string{"run", "--listen", "nope"}, want: "config --listen", usage: true},
		{name: "ErrBadMasterKey", env: map[string]string{envMasterKey: "short"}, want: envMasterKey, usage: true},
		{name: "ErrPortInUse", args: []string{"--listen", busy.Addr().String(), "--log-format", "json"}, want: "listen"},
		{name: "ErrDataIsAFile", args: []string{"--data", "/dev/null", "--log-format", "json"}, want: "data dir"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			args := tc.args
			if tc.name == "ErrPortInUse" {
				args = append(args, "--data", t.TempDir())
			}
			err := run(t.Context(), args, envMap(tc.env), &out, &out)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			var ue *usageError
			assert.Equal(t, tc.usage, errors.As(err, &ue))
		})
	}
}

func TestRunVersion(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, run(t.Context(), []string{"version"}, envMap(nil), &out, io.Discard))
	assert.True(t, strings.HasPrefix(out.String(), "switchboard "), out.String())
}

// get fetches url and returns the status code and body.
func get(t *testing.T, url string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

func TestRunCancelledWhileStarting(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	tap := newLogTap()
	err := run(ctx, []string{"--data", t.TempDir(), "--listen", "127.0.0.1:0", "--log-format", "json"}, envMap(nil), io.Discard, tap)
	require.NoError(t, err, "log:\n%s", tap.String())
	assert.Contains(t, tap.String(), `"message":"stopped"`)
}

// TestReadyLogFollowsReadyz: "ready" is logged only when /readyz answers
// 200, and a component that stops being ready is logged as such: a
// WhatsApp channel that cannot pair keeps the process "not ready" in the
// log as on the probe.
func TestReadyLogFollowsReadyz(t *testing.T) {
	cfg := DefaultConfig()
	cfg.DataDir, cfg.Listen, cfg.LogFormat, cfg.NoWhatsApp = t.TempDir(), "127.0.0.1:0", LogJSON, true
	tap := newLogTap()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	healthC := make(chan *Health, 1)
	done := make(chan error, 1)
	go func() {
		done <- serve(ctx, cfg, tap, func(app *App) ([]bot.Channel, error) {
			app.Health.Register(compWhatsApp)
			app.Health.SetState(compWhatsApp, false, "unreachable")
			healthC <- app.Health
			return nil, nil
		})
	}()
	addr := <-tap.addrs
	health := <-healthC
	require.Eventually(t, func() bool { return strings.Contains(tap.String(), `"message":"started"`) }, 20*time.Second, 10*time.Millisecond)
	require.Eventually(t, func() bool {
		_, comps := health.Snapshot()
		return comps[compRouter].Ready
	}, 20*time.Second, 10*time.Millisecond)
	code, _ := get(t, "http://"+addr+"/readyz")
	assert.Equal(t, http.StatusServiceUnavailable, code)
	require.Eventually(t, func() bool { return strings.Contains(tap.String(), `"whatsapp: unreachable"`) }, 20*time.Second, 10*time.Millisecond)
	assert.NotContains(t, tap.String(), `"message":"ready"`, "no ready line while /readyz is 503")

	health.SetState(compWhatsApp, true, "connected")
	require.Eventually(t, func() bool { return strings.Contains(tap.String(), `"message":"ready"`) }, 20*time.Second, 10*time.Millisecond)
	code, _ = get(t, "http://"+addr+"/readyz")
	assert.Equal(t, http.StatusOK, code)

	health.SetState(compWhatsApp, false, "disconnected")
	require.Eventually(t, func() bool { return strings.Contains(tap.String(), `"whatsapp: disconnected"`) }, 20*time.Second, 10*time.Millisecond)
	assert.Contains(t, tap.String(), `"level":"warn","not_ready":["whatsapp: disconnected"]`)
	cancel()
	require.NoError(t, <-done, "log:\n%s", tap.String())
}
