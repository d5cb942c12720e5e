package whatsappcloud

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/switchboard/switchboard/bot"
	"github.com/switchboard/switchboard/channels/whatsappcloud/cloudtest"
	"github.com/switchboard/switchboard/store"
)

// BenchmarkWebhookAck measures how long Meta waits for our 200: a signed
// one-message payload posted over loopback TCP to the real handler, the
// router and the real SQLite store (the message stored, sealed, before the
// answer; drafting stays async). It reports p50 and p99 in milliseconds
// beside the mean. Baseline is the same request answered after the
// signature check and decoding only, in the same run.
func BenchmarkWebhookAck(b *testing.B) {
	text := "Hi, could you tell me how much it would cost to service two bikes next Tuesday? And do you have the blue helmet in M?"
	run := func(b *testing.B, sink bot.Sink, sender func(i int) string) {
		ch, err := New(Options{Log: zerolog.Nop(), PhoneNumberID: testPNID, AccessToken: testToken, AppSecret: testSecret,
			VerifyToken: testVerify, GraphURL: cloudtest.NewGraph(b, testPNID, testToken).URL()})
		require.NoError(b, err)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- ch.Run(ctx, sink) }()
		defer func() { cancel(); <-done }()
		srv := httptest.NewServer(ch.Handler())
		defer srv.Close()
		client := srv.Client()
		var tag [4]byte
		_, _ = rand.Read(tag[:])
		bodies := make([][]byte, b.N)
		for i := range bodies {
			bodies[i] = cloudtest.TextMessage(testPNID, sender(i), "Bench Customer", fmt.Sprintf("wamid.bench%x%09d", tag, i), text, time.Now().Unix())
		}
		post := func(body []byte) int {
			req, _ := http.NewRequest(http.MethodPost, srv.URL, bytes.NewReader(body))
			req.Header.Set("X-Hub-Signature-256", cloudtest.Sign(testSecret, body))
			resp, err := client.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			return resp.StatusCode
		}
		for post(cloudtest.TextMessage(testPNID, "447700900001", "Warm", fmt.Sprintf("wamid.warm%x", tag), "warm up", time.Now().Unix())) == http.StatusServiceUnavailable {
			time.Sleep(time.Millisecond)
		}
		lat := make([]time.Duration, b.N)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			t0 := time.Now()
			if code := post(bodies[i]); code != http.StatusOK {
				b.Fatalf("webhook answered %d", code)
			}
			lat[i] = time.Since(t0)
		}
		b.StopTimer()
		slices.Sort(lat)
		ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
		b.ReportMetric(ms(lat[len(lat)/2]), "p50-ms")
		b.ReportMetric(ms(lat[min(len(lat)-1, len(lat)*99/100)]), "p99-ms")
	}
	newRouter := func(b *testing.B) bot.Sink {
		key := make([]byte, 32)
		_, _ = rand.Read(key)
		db, err := store.New(store.Options{Dir: filepath.Join(b.TempDir(), "data"), MasterKey: key, Log: zerolog.Nop()})
		require.NoError(b, err)
		require.NoError(b, db.Open(context.Background()))
		b.Cleanup(func() { _ = db.Close() })
		r, err := bot.NewRouter(bot.Options{Store: db, QueueSize: 1 << 20})
		require.NoError(b, err)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- r.Run(ctx) }()
		<-r.Ready()
		b.Cleanup(func() { cancel(); <-done })
		return r
	}
	b.Run("Baseline/NoStore", func(b *testing.B) {
		run(b, &recSink{}, func(int) string { return testWaID })
	})
	b.Run("Stored/ReturningCustomer", func(b *testing.B) {
		run(b, newRouter(b), func(int) string { return testWaID })
	})
	b.Run("Stored/NewCustomer", func(b *testing.B) {
		run(b, newRouter(b), func(i int) string { return fmt.Sprintf("44770%07d", i) })
	})
}
