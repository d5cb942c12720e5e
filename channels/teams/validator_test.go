package teams

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v4"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestHandlerTokenMatrix(t *testing.T) {
	e := newEnv(t, nil)
	body := e.activity(t, "message_personal.json", nil)
	key := rsaKeys()[0]
	with := func(edit func(jwt.MapClaims)) string {
		c := e.claims()
		edit(c)
		return sign(t, c, "k1", key)
	}
	tenantSigned := func(edit func(jwt.MapClaims)) string {
		c := e.claims()
		edit(c)
		return sign(t, c, "t1", rsaKeys()[2])
	}
	now := time.Now()
	tests := []struct {
		name   string
		token  string
		header string // raw Authorization header, overrides token
		want   int
		reason string
	}{
		{name: "OK", token: e.token(t), want: http.StatusOK},
		{name: "NoHeader", want: http.StatusUnauthorized, reason: "no bearer token"},
		{name: "NotBearer", header: "Basic abc", want: http.StatusUnauthorized, reason: "no bearer token"},
		{name: "Garbage", token: "not.a.jwt", want: http.StatusUnauthorized, reason: "malformed token"},
		{name: "BadSignature", token: sign(t, e.claims(), "k1", rsaKeys()[1]), want: http.StatusUnauthorized, reason: "bad signature"},
		{name: "UnknownKid", token: sign(t, e.claims(), "k9", key), want: http.StatusUnauthorized, reason: "unknown key id"},
		{name: "HS256", token: func() string {
			tok := jwt.NewWithClaims(jwt.SigningMethodHS256, e.claims())
			tok.Header["kid"] = "k1"
			s, err := tok.SignedString([]byte("secret"))
			require.NoError(t, err)
			return s
		}(), want: http.StatusUnauthorized, reason: "bad signature"},
		{name: "WrongAudience", token: with(func(c jwt.MapClaims) { c["aud"] = "someone-else" }), want: http.StatusUnauthorized, reason: "wrong audience"},
		{name: "AudienceList", token: with(func(c jwt.MapClaims) { c["aud"] = []string{"x", testAppID} }), want: http.StatusOK},
		{name: "NumericAudience", token: with(func(c jwt.MapClaims) { c["aud"] = 42 }), want: http.StatusUnauthorized, reason: "wrong audience"},
		{name: "WrongIssuer", token: with(func(c jwt.MapClaims) { c["iss"] = "https://evil.example" }), want: http.StatusUnauthorized, reason: "wrong issuer"},
		{name: "TenantIssuerV2", token: tenantSigned(func(c jwt.MapClaims) { c["iss"] = tenantIssuerV2 }), want: http.StatusOK},
		{name: "TenantIssuerV1", token: tenantSigned(func(c jwt.MapClaims) { c["iss"] = "https://sts.windows.net/" + testTenant + "/" }), want: http.StatusOK},
		// Each key set signs only for its own issuer.
		{name: "TenantIssuerBotFrameworkKey", token: with(func(c jwt.MapClaims) { c["iss"] = tenantIssuerV2 }), want: http.StatusUnauthorized, reason: "unknown key id"},
		{name: "BotFrameworkIssuerTenantKey", token: tenantSigned(func(jwt.MapClaims) {}), want: http.StatusUnauthorized, reason: "unknown key id"},
		{name: "OtherTenantIssuer", token: with(func(c jwt.MapClaims) { c["iss"] = "https://sts.windows.net/" + otherTenant + "/" }), want: http.StatusUnauthorized, reason: "wrong issuer"},
		{name: "Expired", token: with(func(c jwt.MapClaims) { c["exp"] = now.Add(-6 * time.Minute).Unix() }), want: http.StatusUnauthorized, reason: "expired"},
		{name: "ExpiredWithinSkew", token: with(func(c jwt.MapClaims) { c["exp"] = now.Add(-4 * time.Minute).Unix() }), want: http.StatusOK},
		{name: "NoExpiry", token: with(func(c jwt.MapClaims) { delete(c, "exp") }), want: http.StatusUnauthorized, reason: "no expiry"},
		{name: "ExpiryYear5000", token: with(func(c jwt.MapClaims) { c["exp"] = time.Date(5000, 1, 1, 0, 0, 0, 0, time.UTC).Unix() }), want: http.StatusUnauthorized, reason: "lifetime too long"},
		{name: "ExpiryTwoDays", token: with(func(c jwt.MapClaims) { delete(c, "nbf"); c["exp"] = now.Add(48 * time.Hour).Unix() }), want: http.StatusUnauthorized, reason: "lifetime too long"},
		{name: "LifetimeFromNbf", token: with(func(c jwt.MapClaims) { c["nbf"] = now.Add(-30 * time.Hour).Unix() }), want: http.StatusUnauthorized, reason: "lifetime too long"},
		{name: "LifetimeFromIat", token: with(func(c jwt.MapClaims) { delete(c, "nbf"); c["iat"] = now.Add(-30 * time.Hour).Unix() }), want: http.StatusUnauthorized, reason: "lifetime too long"},
		{name: "IatOK", token: with(func(c jwt.MapClaims) { c["iat"] = now.Add(-time.Minute).Unix() }), want: http.StatusOK},
		{name: "IatInFuture", token: with(func(c jwt.MapClaims) { c["iat"] = now.Add(time.Hour).Unix() }), want: http.StatusUnauthorized, reason: "issued in the future"},
		{name: "NbfNotNumeric", token: with(func(c jwt.MapClaims) { c["nbf"] = "soon" }), want: http.StatusUnauthorized, reason: "malformed nbf claim"},
		{name: "NbfNull", token: with(func(c jwt.MapClaims) { c["nbf"] = nil }), want: http.StatusUnauthorized, reason: "malformed nbf claim"},
		{name: "IatNotNumeric", token: with(func(c jwt.MapClaims) { c["iat"] = true }), want: http.StatusUnauthorized, reason: "malformed iat claim"},
		{name: "ExpNotNumeric", token: with(func(c jwt.MapClaims) { c["exp"] = "2030-01-01" }), want: http.StatusUnauthorized, reason: "malformed exp claim"},
		{name: "ExpNegative", token: with(func(c jwt.MapClaims) { c["exp"] = -5 }), want: http.StatusUnauthorized, reason: "malformed exp claim"},
		{name: "NotYetValid", token: with(func(c jwt.MapClaims) { c["nbf"] = now.Add(6 * time.Minute).Unix() }), want: http.StatusUnauthorized, reason: "not yet valid"},
		{name: "NotYetValidWithinSkew", token: with(func(c jwt.MapClaims) { c["nbf"] = now.Add(4 * time.Minute).Unix() }), want: http.StatusOK},
		{name: "NoServiceURL", token: with(func(c jwt.MapClaims) { delete(c, "serviceurl") }), want: http.StatusUnauthorized, reason: "no serviceurl claim"},
		{name: "ServiceURLNotString", token: with(func(c jwt.MapClaims) { c["serviceurl"] = 7 }), want: http.StatusUnauthorized, reason: "no serviceurl claim"},
		{name: "OtherServiceURL", token: with(func(c jwt.MapClaims) { c["serviceurl"] = "https://smba.example/emea/" }), want: http.StatusUnauthorized, reason: "does not match"},
		{name: "ServiceURLTrailingSlash", token: with(func(c jwt.MapClaims) { c["serviceurl"] = e.conn.srv.URL + "/" }), want: http.StatusOK},
		{name: "ServiceURLHostCase", token: with(func(c jwt.MapClaims) { c["serviceurl"] = strings.ToUpper(e.conn.srv.URL) }), want: http.StatusOK},
		{name: "ServiceURLPathDiffers", token: with(func(c jwt.MapClaims) { c["serviceurl"] = e.conn.srv.URL + "/other" }), want: http.StatusUnauthorized, reason: "does not match"},
		{name: "ServiceURLQuery", token: with(func(c jwt.MapClaims) { c["serviceurl"] = e.conn.srv.URL + "/?x=1" }), want: http.StatusUnauthorized, reason: "does not match"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			logged := len(e.log.String())
			req := e.post(body, tc.token)
			if tc.header != "" {
				r := newRequest(body)
				r.Header.Set("Authorization", tc.header)
				req = serve(e, r)
			}
			assert.Equal(t, tc.want, req.Code)
			if tc.reason != "" {
				assert.Contains(t, e.log.String()[logged:], tc.reason)
			}
		})
	}
	// No token material reaches the log.
	assert.NotContains(t, e.log.String(), "eyJ")
	delivered, _ := e.sink.got()
	assert.Len(t, delivered, 9, "only the accepted requests reach the sink")
	assert.Equal(t, int32(1), e.iss.metaHits.Load(), "one fetch for k1; k9 is refreshed at most once per interval")
}

func TestEndorsements(t *testing.T) {
	e := newEnv(t, nil)
	e.iss.endorsements = []string{"msteams"}
	body := e.activity(t, "message_personal.json", nil)
	assert.Equal(t, http.StatusOK, e.post(body, e.token(t)).Code)
	other := e.activity(t, "message_personal.json", func(m map[string]any) { m["channelId"] = "webchat" })
	assert.Equal(t, http.StatusUnauthorized, e.post(other, e.token(t)).Code)
	assert.Contains(t, e.log.String(), "not endorsed")
}

func TestKeyRotation(t *testing.T) {
	e := newEnv(t, nil)
	body := e.activity(t, "message_personal.json", nil)
	require.Equal(t, http.StatusOK, e.post(body, e.token(t)).Code)
	require.Equal(t, http.StatusOK, e.post(body, e.token(t)).Code)
	assert.Equal(t, int32(1), e.iss.keyHits.Load(), "keys are cached")

	// The issuer rotates to a new key: the unknown kid forces a refresh.
	e.iss.publish("k2", rsaKeys()[1])
	e.ch.val.mu.Lock()
	e.ch.val.tried = time.Time{} // the last fetch is older than the refresh interval
	e.ch.val.mu.Unlock()
	assert.Equal(t, http.StatusOK, e.post(body, sign(t, e.claims(), "k2", rsaKeys()[1])).Code)
	assert.Equal(t, int32(2), e.iss.keyHits.Load())

	// Within the refresh interval an unknown kid does not hit the issuer again.
	assert.Equal(t, http.StatusUnauthorized, e.post(body, sign(t, e.claims(), "k3", rsaKeys()[2])).Code)
	assert.Equal(t, int32(2), e.iss.keyHits.Load())
}

func TestIssuerDown(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.OpenIDMetadata = []string{"http://127.0.0.1:1/openid"} })
	body := e.activity(t, "message_personal.json", nil)
	assert.Equal(t, http.StatusUnauthorized, e.post(body, e.token(t)).Code)
	assert.True(t, strings.Contains(e.log.String(), "openid metadata"))
}

func TestBearerSchemeCaseInsensitive(t *testing.T) {
	e := newEnv(t, nil)
	r := newRequest(e.activity(t, "message_personal.json", nil))
	r.Header.Set("Authorization", "bearer  "+e.token(t))
	assert.Equal(t, http.StatusOK, serve(e, r).Code)
}

func TestHandlerConcurrent(t *testing.T) {
	e := newEnv(t, nil)
	body := e.activity(t, "message_personal.json", nil)
	tok := e.token(t)
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			token := tok
			if i%4 == 0 {
				token = sign(t, e.claims(), "k1", rsaKeys()[1]) // bad signature
			}
			rec := e.post(body, token)
			if i%4 == 0 {
				assert.Equal(t, http.StatusUnauthorized, rec.Code)
			} else {
				assert.Equal(t, http.StatusOK, rec.Code)
			}
		}()
	}
	wg.Wait()
	delivered, _ := e.sink.got()
	assert.Len(t, delivered, 12)
	assert.Equal(t, int32(1), e.iss.keyHits.Load(), "concurrent first requests share one key fetch")
}

// FuzzValidate feeds arbitrary Authorization headers to a validator whose
// keys are already loaded (no network).
func FuzzValidate(f *testing.F) {
	now := time.Now()
	v := newValidator(testAppID, testTenant, []string{"bf"}, nil, func() time.Time { return now }, zerolog.Nop())
	v.sets = map[string]keySet{"bf": {issuers: map[string]bool{BotFrameworkIssuer: true}, keys: map[string]signingKey{"k1": {pub: &rsaKeys()[0].PublicKey}}}}
	v.fetched, v.tried = now, now
	claims := jwt.MapClaims{"iss": BotFrameworkIssuer, "aud": testAppID, "serviceurl": "https://x/", "exp": now.Add(time.Hour).Unix()}
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
	tok.Header["kid"] = "k1"
	good, err := tok.SignedString(rsaKeys()[0])
	require.NoError(f, err)
	f.Add("Bearer "+good, "https://x/", "msteams")
	f.Add("Bearer "+good[:len(good)-4], "https://x/", "msteams")
	f.Add("Bearer e30.e30.", "", "")
	f.Add("", "", "")
	for _, c := range []jwt.MapClaims{
		{"iss": BotFrameworkIssuer, "aud": testAppID, "serviceurl": "https://x/", "exp": "soon"},
		{"iss": BotFrameworkIssuer, "aud": testAppID, "serviceurl": "https://x/", "exp": now.Add(time.Hour).Unix(), "nbf": []int{1}},
		{"iss": BotFrameworkIssuer, "aud": testAppID, "serviceurl": "https://X/", "exp": 95617584000},
	} {
		tok := jwt.NewWithClaims(jwt.SigningMethodRS256, c)
		tok.Header["kid"] = "k1"
		s, err := tok.SignedString(rsaKeys()[0])
		require.NoError(f, err)
		f.Add("Bearer "+s, "https://x", "msteams")
	}
	f.Fuzz(func(t *testing.T, header, serviceURL, channelID string) {
		err := v.validate(context.Background(), header, serviceURL, channelID)
		if err != nil {
			assert.ErrorIs(t, err, errUnauthorized)
		}
	})
}

func BenchmarkHandlerSignedMessage(b *testing.B) {
	e := newEnv(b, nil)
	body := e.activity(b, "message_personal.json", nil)
	tok := e.token(b)
	for b.Loop() {
		if rec := e.post(body, tok); rec.Code != http.StatusOK {
			b.Fatal(rec.Code)
		}
	}
}

func TestOneMetadataSourceDown(t *testing.T) {
	e := newEnv(t, func(o *Options) {
		o.OpenIDMetadata = append([]string{"http://127.0.0.1:1/openid"}, o.OpenIDMetadata...)
	})
	assert.Equal(t, http.StatusOK, e.post(e.activity(t, "message_personal.json", nil), e.token(t)).Code)
}

// TestStaleKeysServedWhileRefreshHangs: keys past their refresh age are
// refreshed in the background while the last good keys go on serving; a
// hanging metadata endpoint holds one fetch, not the requests. The client has
// no timeout, so a request that waited for the fetch would wait until the
// test releases it.
func TestStaleKeysServedWhileRefreshHangs(t *testing.T) {
	e := newEnv(t, func(o *Options) {
		o.HTTPClient = &http.Client{}
		o.OpenIDMetadata = o.OpenIDMetadata[:1]
	})
	body := e.activity(t, "message_personal.json", nil)
	require.Equal(t, http.StatusOK, e.post(body, e.token(t)).Code)
	require.Equal(t, int32(1), e.iss.metaHits.Load())

	release := make(chan struct{})
	e.iss.hang.Store(&release)
	t.Cleanup(func() {
		select {
		case <-release:
		default:
			close(release)
		}
	})
	e.ch.val.mu.Lock()
	e.ch.val.fetched = time.Now().Add(-keysMaxAge - time.Hour) // stale
	e.ch.val.tried = time.Time{}
	e.ch.val.mu.Unlock()

	const n = 8
	codes := make(chan int, n)
	tok := e.token(t)
	for range n {
		go func() { codes <- e.post(body, tok).Code }()
	}
	deadline := time.After(30 * time.Second) // a liveness bound: the requests must not wait for the fetch at all
	for range n {
		select {
		case code := <-codes:
			assert.Equal(t, http.StatusOK, code)
		case <-deadline:
			require.FailNow(t, "requests waited for the hanging key fetch")
		}
	}
	require.Eventually(t, func() bool { return e.iss.metaHits.Load() == 2 }, 10*time.Second, time.Millisecond, "a background fetch started")
	e.ch.val.mu.Lock()
	assert.NotNil(t, e.ch.val.inflight, "the fetch is still hanging")
	e.ch.val.mu.Unlock()
	assert.Equal(t, int32(2), e.iss.metaHits.Load(), "one background fetch for all the requests")
	select {
	case <-release:
		require.FailNow(t, "the fetch was released early")
	default:
	}
	close(release)
	e.iss.hang.Store(nil)
	require.Eventually(t, func() bool {
		e.ch.val.mu.Lock()
		defer e.ch.val.mu.Unlock()
		return e.ch.val.inflight == nil && time.Since(e.ch.val.fetched) < time.Minute
	}, 10*time.Second, time.Millisecond, "the background fetch stores the new keys")
	assert.Equal(t, int32(2), e.iss.keyHits.Load())
}

// TestFirstFetchShared: with no keys yet, requests share one fetch; one
// whose context ends stops waiting while the fetch goes on.
func TestFirstFetchShared(t *testing.T) {
	e := newEnv(t, func(o *Options) {
		o.HTTPClient = &http.Client{}
		o.OpenIDMetadata = o.OpenIDMetadata[:1]
	})
	release := make(chan struct{})
	e.iss.hang.Store(&release)
	t.Cleanup(func() {
		select {
		case <-release:
		default:
			close(release)
		}
	})
	body := e.activity(t, "message_personal.json", nil)
	tok := e.token(t)

	// A request that gives up gets an error at once; the fetch stays.
	ctx, cancel := context.WithCancel(t.Context())
	r := newRequest(body).WithContext(ctx)
	r.Header.Set("Authorization", "Bearer "+tok)
	gaveUp := make(chan int, 1)
	go func() { gaveUp <- serve(e, r).Code }()
	require.Eventually(t, func() bool { return e.iss.metaHits.Load() == 1 }, 10*time.Second, time.Millisecond)
	cancel()
	assert.Equal(t, http.StatusUnauthorized, <-gaveUp)

	const n = 8
	codes := make(chan int, n)
	for range n {
		go func() { codes <- e.post(body, tok).Code }()
	}
	close(release)
	for range n {
		assert.Equal(t, http.StatusOK, <-codes)
	}
	assert.Equal(t, int32(1), e.iss.metaHits.Load(), "every request shared the one fetch")
	assert.Equal(t, int32(1), e.iss.keyHits.Load())
}

func TestSameServiceURL(t *testing.T) {
	tests := []struct {
		a, b string
		want bool
	}{
		{"https://smba.trafficmanager.net/emea/", "https://smba.trafficmanager.net/emea/", true},
		{"https://smba.trafficmanager.net/emea", "https://smba.trafficmanager.net/emea/", true},
		{"https://SMBA.trafficmanager.net/emea/", "HTTPS://smba.trafficmanager.net/emea/", true},
		{"https://smba.trafficmanager.net/EMEA/", "https://smba.trafficmanager.net/emea/", false},
		{"https://smba.trafficmanager.net/emea/x", "https://smba.trafficmanager.net/emea/", false},
		{"https://smba.trafficmanager.net:8443/emea/", "https://smba.trafficmanager.net/emea/", false},
		{"http://smba.trafficmanager.net/emea/", "https://smba.trafficmanager.net/emea/", false},
		{"https://u@smba.trafficmanager.net/emea/", "https://smba.trafficmanager.net/emea/", false},
		{"", "", false},
	}
	for _, tc := range tests {
		assert.Equal(t, tc.want, sameServiceURL(tc.a, tc.b), "%q vs %q", tc.a, tc.b)
	}
}
