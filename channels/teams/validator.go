package teams

import (
	"context"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/big"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v4"
	"github.com/rs/zerolog"
)

// Token issuers and metadata.
const (
	// BotFrameworkIssuer is the issuer of Bot Framework channel tokens.
	BotFrameworkIssuer = "https://api.botframework.com"
	// BotFrameworkMetadata is the OpenID metadata of Bot Framework channel tokens.
	BotFrameworkMetadata = "https://login.botframework.com/v1/.well-known/openidconfiguration"
)

// TenantMetadata returns the Entra OpenID metadata URL of a tenant; single
// tenant bots receive tokens signed with its keys.
func TenantMetadata(tenant string) string {
	return "https://login.microsoftonline.com/" + tenant + "/v2.0/.well-known/openid-configuration"
}

// Validation tunables.
const (
	clockSkew     = 5 * time.Minute
	keysMaxAge    = 24 * time.Hour
	minKeyRefresh = 30 * time.Second // at most one forced refresh per interval
	// maxLifetime caps how long a token may be valid: Bot Framework and
	// Entra tokens last about an hour, so a longer one is forged or broken.
	maxLifetime     = 24 * time.Hour
	fetchTimeout    = 30 * time.Second // one background key fetch, all sources
	maxMetadataBody = 1 << 20
)

// errUnauthorized wraps every token rejection.
var errUnauthorized = errors.New("unauthorized")

// signingKey is one RSA key of a JWKS, with the channels it is endorsed for.
type signingKey struct {
	pub          *rsa.PublicKey
	endorsements []string
}

// keySet is the keys one metadata source published, and the token issuers
// they may sign for: the Bot Framework's keys only Bot Framework tokens, the
// tenant's Entra keys only the tenant's tokens.
type keySet struct {
	issuers map[string]bool
	keys    map[string]signingKey
}

// validator checks inbound Bot Framework tokens: RS256 signatures with keys
// from OpenID metadata, each key set tied to the issuer its metadata names;
// issuer, audience, well-formed time claims, expiry with clock skew and a
// capped lifetime; the serviceurl claim and, when the key carries
// endorsements, the channel id. It never panics on bad tokens.
//
// Keys are cached. Stale keys (older than keysMaxAge) are refreshed in the
// background while the last good keys go on serving; an unknown key id
// forces a refresh (at most once per minKeyRefresh) that requests wait for.
// One fetch runs at a time and every request that needs it shares it, so a
// hanging metadata endpoint costs one fetch timeout, not one per request.
//
// It stands in for msbotbuilder-go's JwtTokenValidator (and ParseRequest),
// which has a hard-coded metadata URL, accepts only the Bot Framework issuer,
// never refreshes keys and panics on a token without a serviceurl claim.
type validator struct {
	appID    string
	tenant   string
	accepted map[string]bool // every issuer a token may name
	metadata []string
	client   *http.Client
	now      func() time.Time
	log      zerolog.Logger

	mu       sync.Mutex
	sets     map[string]keySet // by metadata URL; a failed source keeps its last good set
	fetched  time.Time         // last fetch that got keys
	tried    time.Time         // last fetch started
	inflight chan struct{}     // closed when the running fetch ends; nil if none runs
	lastErr  error             // the last fetch's failure, if any
}

// newValidator returns a validator for appID accepting the Bot Framework
// issuer and, if tenant is set, that tenant's Entra issuers.
func newValidator(appID, tenant string, metadata []string, client *http.Client, now func() time.Time, log zerolog.Logger) *validator {
	iss := map[string]bool{BotFrameworkIssuer: true}
	if tenant != "" {
		for _, i := range tenantIssuers(tenant) {
			iss[i] = true
		}
	}
	return &validator{appID: appID, tenant: tenant, accepted: iss, metadata: metadata, client: client, now: now, log: log}
}

// tenantIssuers are the issuers of a tenant's Entra tokens (v2 and v1).
func tenantIssuers(tenant string) []string {
	return []string{"https://login.microsoftonline.com/" + tenant + "/v2.0", "https://sts.windows.net/" + tenant + "/"}
}

// issuersOf maps the issuer a metadata document names to the token issuers
// its keys may sign for; nil if it is none we accept.
func (v *validator) issuersOf(metaIssuer string) map[string]bool {
	switch {
	case metaIssuer == BotFrameworkIssuer:
		return map[string]bool{BotFrameworkIssuer: true}
	case v.tenant != "" && metaIssuer == tenantIssuers(v.tenant)[0]:
		out := map[string]bool{}
		for _, i := range tenantIssuers(v.tenant) {
			out[i] = true
		}
		return out
	}
	return nil
}

// validate checks the Authorization header of a request carrying an
// activity from serviceURL on channelID. Errors wrap errUnauthorized and hold
// no token material.
func (v *validator) validate(ctx context.Context, header, serviceURL, channelID string) error {
	scheme, raw, ok := strings.Cut(strings.TrimSpace(header), " ")
	raw = strings.TrimSpace(raw)
	if !ok || !strings.EqualFold(scheme, "Bearer") || raw == "" {
		return fmt.Errorf("%w: no bearer token", errUnauthorized)
	}
	var key signingKey
	claims := jwt.MapClaims{}
	p := jwt.Parser{ValidMethods: []string{"RS256"}, SkipClaimsValidation: true}
	_, err := p.ParseWithClaims(raw, claims, func(t *jwt.Token) (any, error) {
		// The issuer picks the key set; the signature then proves it.
		iss, _ := claims["iss"].(string)
		if !v.accepted[iss] {
			return nil, errWrongIssuer
		}
		kid, _ := t.Header["kid"].(string)
		if kid == "" {
			return nil, errors.New("no key id")
		}
		k, err := v.key(ctx, iss, kid)
		if err != nil {
			return nil, err
		}
		key = k
		return k.pub, nil
	})
	if errors.Is(err, errWrongIssuer) {
		return fmt.Errorf("%w: wrong issuer", errUnauthorized)
	}
	if err != nil {
		return fmt.Errorf("%w: %s", errUnauthorized, jwtReason(err))
	}
	if !audienceIs(claims["aud"], v.appID) {
		return fmt.Errorf("%w: wrong audience", errUnauthorized)
	}
	if err := checkTimes(claims, v.now()); err != nil {
		return fmt.Errorf("%w: %w", errUnauthorized, err)
	}
	su, _ := claims["serviceurl"].(string)
	if su == "" {
		return fmt.Errorf("%w: no serviceurl claim", errUnauthorized)
	}
	if !sameServiceURL(su, serviceURL) {
		return fmt.Errorf("%w: serviceurl claim does not match the activity", errUnauthorized)
	}
	if len(key.endorsements) > 0 && !contains(key.endorsements, channelID) {
		return fmt.Errorf("%w: key not endorsed for the channel", errUnauthorized)
	}
	return nil
}

// errWrongIssuer stops key lookup for an issuer we do not accept.
var errWrongIssuer = errors.New("wrong issuer")

// checkTimes checks exp (required), nbf and iat (optional): each present one
// must be a NumericDate; the token must be valid now within clockSkew; and it
// may not live longer than maxLifetime from its start (nbf, else iat) or
// from now.
func checkTimes(claims jwt.MapClaims, now time.Time) error {
	var at [3]time.Time
	for i, name := range []string{"exp", "nbf", "iat"} {
		raw, present := claims[name]
		if !present {
			continue
		}
		t, ok := numericDate(raw)
		if !ok {
			return fmt.Errorf("malformed %s claim", name)
		}
		at[i] = t
	}
	exp, nbf, iat := at[0], at[1], at[2]
	switch {
	case exp.IsZero():
		return errors.New("no expiry")
	case now.After(exp.Add(clockSkew)):
		return errors.New("expired")
	case !nbf.IsZero() && now.Add(clockSkew).Before(nbf):
		return errors.New("not yet valid")
	case !iat.IsZero() && now.Add(clockSkew).Before(iat):
		return errors.New("issued in the future")
	case !nbf.IsZero() && exp.Sub(nbf) > maxLifetime,
		nbf.IsZero() && !iat.IsZero() && exp.Sub(iat) > maxLifetime,
		exp.Sub(now) > maxLifetime+clockSkew:
		return errors.New("lifetime too long")
	}
	return nil
}

// jwtReason names why golang-jwt refused a token without echoing it.
func jwtReason(err error) string {
	var ve *jwt.ValidationError
	if errors.As(err, &ve) {
		switch {
		case ve.Errors&jwt.ValidationErrorMalformed != 0:
			return "malformed token"
		case ve.Errors&jwt.ValidationErrorUnverifiable != 0:
			if ve.Inner != nil {
				return "unverifiable token: " + ve.Inner.Error()
			}
			return "unverifiable token"
		case ve.Errors&jwt.ValidationErrorSignatureInvalid != 0:
			return "bad signature"
		}
	}
	return "invalid token"
}

// sameServiceURL compares service URLs: scheme and host without regard to
// case, the path exactly (one trailing slash aside). Neither may carry user
// info, a query or a fragment.
func sameServiceURL(a, b string) bool {
	ua, err1 := url.Parse(a)
	ub, err2 := url.Parse(b)
	if a == "" || err1 != nil || err2 != nil {
		return false
	}
	for _, u := range []*url.URL{ua, ub} {
		if u.User != nil || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || u.Opaque != "" || u.Host == "" {
			return false
		}
	}
	path := func(u *url.URL) string { return strings.TrimSuffix(u.EscapedPath(), "/") }
	return strings.EqualFold(ua.Scheme, ub.Scheme) && strings.EqualFold(ua.Host, ub.Host) && path(ua) == path(ub)
}

func audienceIs(aud any, appID string) bool {
	if appID == "" {
		return false
	}
	switch v := aud.(type) {
	case string:
		return v == appID
	case []any:
		for _, x := range v {
			if s, _ := x.(string); s == appID {
				return true
			}
		}
	}
	return false
}

// numericDate reads a JWT NumericDate: a positive JSON number of seconds,
// below the year 5138.
func numericDate(v any) (time.Time, bool) {
	f, ok := v.(float64)
	if !ok || f <= 0 || f > 1e11 || f != f {
		return time.Time{}, false
	}
	return time.Unix(int64(f), 0), true
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

// lookupLocked finds kid in a key set that may sign for iss. v.mu is held.
func (v *validator) lookupLocked(iss, kid string) (signingKey, bool) {
	for _, m := range v.metadata {
		set, ok := v.sets[m]
		if !ok || !set.issuers[iss] {
			continue
		}
		if k, ok := set.keys[kid]; ok {
			return k, true
		}
	}
	return signingKey{}, false
}

// key returns the signing key kid of a key set tied to issuer iss. Known keys
// are served at once, stale ones too (with a refresh started in the
// background); an unknown kid waits for a refresh, at most one per
// minKeyRefresh, shared by every request that needs it.
func (v *validator) key(ctx context.Context, iss, kid string) (signingKey, error) {
	v.mu.Lock()
	k, ok := v.lookupLocked(iss, kid)
	now := v.now()
	stale := now.Sub(v.fetched) >= keysMaxAge
	recent := now.Sub(v.tried) < minKeyRefresh
	if ok {
		if stale && !recent {
			v.startFetchLocked()
		}
		v.mu.Unlock()
		return k, nil
	}
	wait := v.inflight
	if wait == nil && (!recent || v.sets == nil) {
		wait = v.startFetchLocked()
	}
	v.mu.Unlock()
	if wait == nil {
		return signingKey{}, errors.New("unknown key id")
	}
	select {
	case <-wait:
	case <-ctx.Done():
		return signingKey{}, fmt.Errorf("signing keys: %w", ctx.Err())
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if k, ok := v.lookupLocked(iss, kid); ok {
		return k, nil
	}
	if v.sets == nil && v.lastErr != nil {
		return signingKey{}, v.lastErr
	}
	return signingKey{}, errors.New("unknown key id")
}

// startFetchLocked starts a fetch of every key set unless one runs, and
// returns the channel closed when it ends. v.mu is held. The fetch has its
// own deadline: it outlives the request that started it.
func (v *validator) startFetchLocked() chan struct{} {
	if v.inflight != nil {
		return v.inflight
	}
	done := make(chan struct{})
	v.inflight, v.tried = done, v.now()
	go func() {
		defer close(done)
		ctx, cancel := context.WithTimeout(context.Background(), fetchTimeout)
		defer cancel()
		sets, err := v.fetchKeys(ctx)
		v.mu.Lock()
		defer v.mu.Unlock()
		v.inflight, v.lastErr = nil, err
		if len(sets) > 0 {
			merged := maps.Clone(v.sets)
			if merged == nil {
				merged = map[string]keySet{}
			}
			maps.Copy(merged, sets)
			v.sets, v.fetched = merged, v.now()
		}
		if err != nil {
			v.log.Warn().Err(err).Bool("serving_old_keys", v.sets != nil).Msg("teams signing keys: fetch failed")
		}
	}()
	return done
}

// fetchKeys reads every metadata document and its JWKS, and returns the key
// set of each source that answered; err joins the failures of the others. A
// source whose metadata names an issuer we do not accept gives no keys.
func (v *validator) fetchKeys(ctx context.Context) (map[string]keySet, error) {
	sets := map[string]keySet{}
	var errs []error
	for _, m := range v.metadata {
		var meta struct {
			Issuer  string `json:"issuer"`
			JWKSURI string `json:"jwks_uri"`
		}
		if err := v.getJSON(ctx, m, &meta); err != nil {
			errs = append(errs, fmt.Errorf("openid metadata: %w", err))
			continue
		}
		issuers := v.issuersOf(meta.Issuer)
		if issuers == nil {
			errs = append(errs, errors.New("openid metadata: issuer not accepted"))
			continue
		}
		if meta.JWKSURI == "" {
			errs = append(errs, errors.New("openid metadata: no jwks_uri"))
			continue
		}
		var set jwks
		if err := v.getJSON(ctx, meta.JWKSURI, &set); err != nil {
			errs = append(errs, fmt.Errorf("jwks: %w", err))
			continue
		}
		ks := keySet{issuers: issuers, keys: map[string]signingKey{}}
		for _, k := range set.Keys {
			pub, err := k.rsa()
			if err != nil || k.Kid == "" {
				continue
			}
			ks.keys[k.Kid] = signingKey{pub: pub, endorsements: k.Endorsements}
		}
		if len(ks.keys) == 0 {
			errs = append(errs, errors.New("jwks: no signing keys"))
			continue
		}
		sets[m] = ks
	}
	if len(sets) == 0 && len(errs) == 0 {
		errs = append(errs, errors.New("no signing keys"))
	}
	return sets, errors.Join(errs...)
}

func (v *validator) getJSON(ctx context.Context, url string, into any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("request: %w", err)
	}
	resp, err := v.client.Do(req)
	if err != nil {
		return fmt.Errorf("get: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("get: status %d", resp.StatusCode)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxMetadataBody)).Decode(into); err != nil {
		return fmt.Errorf("decode: %w", err)
	}
	return nil
}

// jwks is a JSON Web Key Set.
type jwks struct {
	Keys []jwk `json:"keys"`
}

// jwk is one JSON Web Key; Bot Framework keys carry endorsements.
type jwk struct {
	Kty          string   `json:"kty"`
	Kid          string   `json:"kid"`
	Use          string   `json:"use"`
	N            string   `json:"n"`
	E            string   `json:"e"`
	Endorsements []string `json:"endorsements"`
}

func (k jwk) rsa() (*rsa.PublicKey, error) {
	if k.Kty != "RSA" || (k.Use != "" && k.Use != "sig") {
		return nil, errors.New("not an RSA signing key")
	}
	n, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(k.N, "="))
	if err != nil || len(n) < 256 {
		return nil, errors.New("bad modulus")
	}
	e, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(k.E, "="))
	if err != nil || len(e) == 0 || len(e) > 4 {
		return nil, errors.New("bad exponent")
	}
	var ei int
	for _, b := range e {
		ei = ei<<8 | int(b)
	}
	if ei < 3 {
		return nil, errors.New("bad exponent")
	}
	return &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: ei}, nil
}
