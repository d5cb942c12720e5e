package teams

import (
	"context"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v4"
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
	clockSkew       = 5 * time.Minute
	keysMaxAge      = 24 * time.Hour
	minKeyRefresh   = 30 * time.Second // at most one forced refresh per interval
	maxMetadataBody = 1 << 20
)

// errUnauthorized wraps every token rejection.
var errUnauthorized = errors.New("unauthorized")

// signingKey is one RSA key of a JWKS, with the channels it is endorsed for.
type signingKey struct {
	pub          *rsa.PublicKey
	endorsements []string
}

// validator checks inbound Bot Framework tokens: RS256 signatures with keys
// from OpenID metadata (cached, refreshed on an unknown key id), issuer,
// audience, expiry with clock skew, the serviceurl claim and, when the key
// carries endorsements, the channel id. It never panics on bad tokens.
// It stands in for msbotbuilder-go's JwtTokenValidator (and ParseRequest),
// which has a hard-coded metadata URL, accepts only the Bot Framework issuer,
// never refreshes keys and panics on a token without a serviceurl claim.
type validator struct {
	appID    string
	issuers  map[string]bool
	metadata []string
	client   *http.Client
	now      func() time.Time

	refresh sync.Mutex // serialises fetches
	mu      sync.RWMutex
	keys    map[string]signingKey
	fetched time.Time
	tried   time.Time
}

// newValidator returns a validator for appID accepting the Bot Framework
// issuer and, if tenant is set, that tenant's Entra issuers.
func newValidator(appID, tenant string, metadata []string, client *http.Client, now func() time.Time) *validator {
	iss := map[string]bool{BotFrameworkIssuer: true}
	if tenant != "" {
		iss["https://login.microsoftonline.com/"+tenant+"/v2.0"] = true
		iss["https://sts.windows.net/"+tenant+"/"] = true
	}
	return &validator{appID: appID, issuers: iss, metadata: metadata, client: client, now: now}
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
		kid, _ := t.Header["kid"].(string)
		if kid == "" {
			return nil, errors.New("no key id")
		}
		k, err := v.key(ctx, kid)
		if err != nil {
			return nil, err
		}
		key = k
		return k.pub, nil
	})
	if err != nil {
		return fmt.Errorf("%w: %s", errUnauthorized, jwtReason(err))
	}
	now := v.now()
	if iss, _ := claims["iss"].(string); !v.issuers[iss] {
		return fmt.Errorf("%w: wrong issuer", errUnauthorized)
	}
	if !audienceIs(claims["aud"], v.appID) {
		return fmt.Errorf("%w: wrong audience", errUnauthorized)
	}
	exp, ok := numericDate(claims["exp"])
	if !ok {
		return fmt.Errorf("%w: no expiry", errUnauthorized)
	}
	if now.After(exp.Add(clockSkew)) {
		return fmt.Errorf("%w: expired", errUnauthorized)
	}
	if nbf, ok := numericDate(claims["nbf"]); ok && now.Add(clockSkew).Before(nbf) {
		return fmt.Errorf("%w: not yet valid", errUnauthorized)
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

// sameServiceURL compares service URLs ignoring one trailing slash and the
// case of scheme and host.
func sameServiceURL(a, b string) bool {
	norm := func(s string) string { return strings.ToLower(strings.TrimSuffix(s, "/")) }
	return a != "" && norm(a) == norm(b)
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

func numericDate(v any) (time.Time, bool) {
	f, ok := v.(float64)
	if !ok || f <= 0 || f > 1e11 {
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

// key returns the signing key with id kid, fetching the key sets when they
// are stale or do not hold kid (at most once per minKeyRefresh).
func (v *validator) key(ctx context.Context, kid string) (signingKey, error) {
	v.mu.RLock()
	k, ok := v.keys[kid]
	fresh := v.now().Sub(v.fetched) < keysMaxAge
	v.mu.RUnlock()
	if ok && fresh {
		return k, nil
	}
	v.refresh.Lock()
	defer v.refresh.Unlock()
	v.mu.RLock()
	k, ok = v.keys[kid]
	fresh = v.now().Sub(v.fetched) < keysMaxAge
	recent := v.now().Sub(v.tried) < minKeyRefresh
	v.mu.RUnlock()
	if ok && fresh {
		return k, nil
	}
	if !recent || !fresh {
		keys, err := v.fetchKeys(ctx)
		v.mu.Lock()
		v.tried = v.now()
		if err == nil {
			v.keys, v.fetched = keys, v.now()
		}
		v.mu.Unlock()
		if err != nil && !ok {
			return signingKey{}, err
		}
		if err == nil {
			k, ok = keys[kid]
		}
	}
	if !ok {
		return signingKey{}, errors.New("unknown key id")
	}
	return k, nil
}

// fetchKeys reads every metadata document and its JWKS. It succeeds when at
// least one source answered.
func (v *validator) fetchKeys(ctx context.Context) (map[string]signingKey, error) {
	keys := map[string]signingKey{}
	var errs []error
	for _, m := range v.metadata {
		var meta struct {
			JWKSURI string `json:"jwks_uri"`
		}
		if err := v.getJSON(ctx, m, &meta); err != nil {
			errs = append(errs, fmt.Errorf("openid metadata: %w", err))
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
		for _, k := range set.Keys {
			pub, err := k.rsa()
			if err != nil || k.Kid == "" {
				continue
			}
			keys[k.Kid] = signingKey{pub: pub, endorsements: k.Endorsements}
		}
	}
	if len(keys) == 0 {
		if len(errs) == 0 {
			errs = append(errs, errors.New("no signing keys"))
		}
		return nil, errors.Join(errs...)
	}
	return keys, nil
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
