package oauth

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
	"golang.org/x/sync/singleflight"

	"github.com/hookd/hookd/pkg/egress"
)

// Defaults for the zero fields of Options.
const (
	DefaultExpiryMargin = 30 * time.Second
	DefaultMaxAge       = time.Hour
	DefaultFetchTimeout = 30 * time.Second
)

// Options tune a Source. The zero Options are usable.
type Options struct {
	// ExpiryMargin is how long before its expiry a token is replaced, so
	// that it does not expire on the way to the receiver. It is capped at
	// half the token's lifetime. Zero or less means DefaultExpiryMargin.
	ExpiryMargin time.Duration

	// MaxAge is how long a token whose answer had no expires_in is used
	// (a 401 replaces it sooner). Zero or less means DefaultMaxAge.
	MaxAge time.Duration

	// FetchTimeout bounds one token request, whoever waits for it; the
	// Doer's own time limit applies as well. Zero or less means
	// DefaultFetchTimeout.
	FetchTimeout time.Duration

	// Now is the clock. Nil means time.Now.
	Now func() time.Time

	// OnRefreshToken, when set, is called with the refresh token a fetch
	// used and the new one when the authorization server rotates it
	// (refreshToken grant), so that the new one can be stored in place of
	// Config.RefreshToken: the old one may no longer work. It runs on the
	// fetching goroutine, after the new token is in use, and must not
	// block for long.
	OnRefreshToken func(old, new string)
}

func (o Options) withDefaults() Options {
	if o.ExpiryMargin <= 0 {
		o.ExpiryMargin = DefaultExpiryMargin
	}
	if o.MaxAge <= 0 {
		o.MaxAge = DefaultMaxAge
	}
	if o.FetchTimeout <= 0 {
		o.FetchTimeout = DefaultFetchTimeout
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// Source gives out the access token of one endpoint configuration. It
// fetches a token on first use and keeps it until shortly before it
// expires; concurrent callers share one fetch; a token a receiver refused
// can be invalidated. A Source is safe for concurrent use, and one Source
// should serve every attempt to its endpoint in a process (Pool keeps them).
//
// A Source never logs. Its errors start with "oauth: " and never contain
// the client secret, the refresh token, the JWT key or a token.
type Source struct {
	cfg  Config
	prep prepared
	doer Doer
	opts Options

	fetches singleflight.Group

	mu           sync.Mutex
	token        *oauth2.Token // nil until fetched, and after Invalidate
	expires      time.Time     // when token stops being handed out
	refreshToken string        // the current one, rotated by the server
}

// NewSource returns a Source for cfg that sends its token requests with
// doer (an *egress.Client: the same guard and proxy as deliveries). It
// fails with Validate's *FieldError when cfg is invalid. cfg is copied:
// later changes to its maps or slices do not affect the Source.
func NewSource(cfg Config, doer Doer, opts Options) (*Source, error) {
	prep, err := cfg.prepare()
	if err != nil {
		return nil, err
	}
	cfg.Scopes = slices.Clone(cfg.Scopes)
	cfg.ExtraParams = maps.Clone(cfg.ExtraParams)
	cfg.ExtraHeaders = maps.Clone(cfg.ExtraHeaders)
	if cfg.JWT != nil {
		jwtCopy := *cfg.JWT
		cfg.JWT = &jwtCopy
	}
	return &Source{cfg: cfg, prep: prep, doer: doer, opts: opts.withDefaults(), refreshToken: cfg.RefreshToken}, nil
}

// Token returns a valid access token: the cached one, or a new one from
// the token endpoint. While a fetch is under way, other callers wait for
// it instead of starting their own; a caller whose ctx ends stops waiting,
// and the fetch goes on (bounded by Options.FetchTimeout) for the others.
// Failures are not cached: the next call tries again.
//
// The error is a *TokenError when the authorization server answered with
// an error, and otherwise says what failed ("oauth: requesting a token
// from <host>: ...", wrapping e.g. an *egress.BlockedAddressError).
func (s *Source) Token(ctx context.Context) (*oauth2.Token, error) {
	if tok := s.cached(); tok != nil {
		return tok, nil
	}
	ch := s.fetches.DoChan("", func() (any, error) {
		if tok := s.cached(); tok != nil {
			return tok, nil // fetched while this caller was arriving
		}
		fetchCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.opts.FetchTimeout)
		defer cancel()
		return s.fetch(fetchCtx)
	})
	select {
	case r := <-ch:
		if r.Err != nil {
			return nil, r.Err
		}
		return r.Val.(*oauth2.Token), nil
	case <-ctx.Done():
		return nil, fmt.Errorf("oauth: waiting for a token: %w", context.Cause(ctx))
	}
}

// Invalidate drops tok if it is still the cached token, so that the next
// Token call fetches a new one, and reports whether it did. Call it once
// when a receiver answers 401 to a request made with tok: many attempts
// refused with the same token cause one new fetch, and a refusal of an
// older token does not drop a newer one.
func (s *Source) Invalidate(tok *oauth2.Token) bool {
	if tok == nil {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.token == nil || s.token.AccessToken != tok.AccessToken {
		return false
	}
	s.token = nil
	return true
}

// Do sends req through the Source's Doer with the token in its
// Authorization header (replacing any), and, when the receiver answers
// 401, invalidates that token and sends req once more with a new one. The
// second answer is returned whatever it is. For the body to be sent twice,
// req must have GetBody (http.NewRequest sets it for a *bytes.Reader,
// *bytes.Buffer or *strings.Reader body); without it the 401 is returned.
// req itself is not modified.
//
// A failure to get a token is a *NoTokenError wrapping Token's error, and
// nothing is sent.
func (s *Source) Do(ctx context.Context, req *http.Request, opts ...egress.Option) (*egress.Response, error) {
	tok, err := s.Token(ctx)
	if err != nil {
		return nil, &NoTokenError{Err: err}
	}
	res, err := s.send(ctx, req, tok, opts)
	if err != nil || res.StatusCode != http.StatusUnauthorized || (req.Body != nil && req.GetBody == nil) {
		return res, err
	}
	s.Invalidate(tok)
	fresh, err := s.Token(ctx)
	if err != nil {
		return nil, &NoTokenError{Err: err}
	}
	if fresh.AccessToken == tok.AccessToken {
		return res, nil // the server gave the same token again: no point
	}
	return s.send(ctx, req, fresh, opts)
}

func (s *Source) send(ctx context.Context, req *http.Request, tok *oauth2.Token, opts []egress.Option) (*egress.Response, error) {
	r := req.Clone(ctx)
	if req.GetBody != nil {
		body, err := req.GetBody()
		if err != nil {
			return nil, fmt.Errorf("oauth: rewinding the request body: %w", err)
		}
		r.Body = body
	}
	tok.SetAuthHeader(r)
	return s.doer.DoWith(ctx, r, opts...)
}

// knowsRefreshToken reports whether rt is the refresh token the Source
// was made with or the one it rotated to: a configuration read back after
// a rotation was stored names the latter.
func (s *Source) knowsRefreshToken(rt string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return rt == s.cfg.RefreshToken || rt == s.refreshToken
}

// cached returns the token while it may be handed out.
func (s *Source) cached() *oauth2.Token {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.token != nil && s.opts.Now().Before(s.expires) {
		return s.token
	}
	return nil
}

// fetch asks the token endpoint for a token and caches it.
func (s *Source) fetch(ctx context.Context) (*oauth2.Token, error) {
	start := s.opts.Now()
	s.mu.Lock()
	refreshToken := s.refreshToken
	s.mu.Unlock()

	// clientcredentials builds and sends the request and parses the answer
	// for both grants: it lets grant_type be overridden, and EndpointParams
	// carry the refresh token, the client assertion and the extra fields.
	cc := clientcredentials.Config{
		ClientID:       s.cfg.ClientID,
		TokenURL:       s.cfg.TokenURL,
		Scopes:         s.cfg.Scopes,
		EndpointParams: url.Values{},
	}
	switch s.cfg.AuthMethod {
	case AuthClientSecretBasic:
		cc.ClientSecret, cc.AuthStyle = s.cfg.ClientSecret, oauth2.AuthStyleInHeader
	case AuthClientSecretPost:
		cc.ClientSecret, cc.AuthStyle = s.cfg.ClientSecret, oauth2.AuthStyleInParams
	case AuthClientSecretJWT:
		assertion, err := s.assertion(start)
		if err != nil {
			return nil, fmt.Errorf("oauth: signing the client assertion: %w", err)
		}
		cc.AuthStyle = oauth2.AuthStyleInParams
		cc.EndpointParams.Set("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
		cc.EndpointParams.Set("client_assertion", assertion)
	}
	for k, v := range s.cfg.ExtraParams {
		cc.EndpointParams.Set(k, v)
	}
	if s.cfg.GrantType == GrantRefreshToken {
		cc.EndpointParams.Set("grant_type", "refresh_token")
		cc.EndpointParams.Set("refresh_token", refreshToken)
	}

	transport := &doerTransport{doer: s.doer, headers: s.cfg.ExtraHeaders}
	tok, err := cc.Token(context.WithValue(ctx, oauth2.HTTPClient, transport.httpClient()))
	if err != nil {
		return nil, s.tokenError(err, refreshToken)
	}

	expires := s.expiry(start, tok)
	s.mu.Lock()
	s.token, s.expires = tok, expires
	rotated := s.cfg.GrantType == GrantRefreshToken && tok.RefreshToken != "" && tok.RefreshToken != s.refreshToken
	if rotated {
		s.refreshToken = tok.RefreshToken
	}
	s.mu.Unlock()
	if rotated && s.opts.OnRefreshToken != nil {
		s.opts.OnRefreshToken(refreshToken, tok.RefreshToken)
	}
	return tok, nil
}

// assertion returns the client assertion of RFC 7523 §3: issuer and
// subject the client id, audience the token endpoint, a unique id, and a
// lifetime of JWTParams.TokenExpiry from now.
func (s *Source) assertion(now time.Time) (string, error) {
	var id [16]byte
	if _, err := rand.Read(id[:]); err != nil {
		return "", err
	}
	claims := jwt.MapClaims{
		"iss": s.cfg.ClientID,
		"sub": s.cfg.ClientID,
		"aud": s.cfg.TokenURL,
		"iat": now.Unix(),
		"exp": now.Add(s.prep.jwtTTL).Unix(),
		"jti": hex.EncodeToString(id[:]),
	}
	method := jwt.SigningMethod(jwt.SigningMethodRS256)
	if s.cfg.JWT.SigningAlgorithm == AlgHS256 {
		method = jwt.SigningMethodHS256
	}
	t := jwt.NewWithClaims(method, claims)
	if s.cfg.JWT.SecretID != "" {
		t.Header["kid"] = s.cfg.JWT.SecretID
	}
	return t.SignedString(s.prep.jwtKey)
}

// expiry returns when a token fetched at start stops being handed out:
// ExpiryMargin (at most half its lifetime) before it expires, or MaxAge
// after start when the answer had no lifetime. Measuring from the start of
// the request errs on the safe side.
func (s *Source) expiry(start time.Time, tok *oauth2.Token) time.Time {
	lifetime := expiresIn(tok)
	if lifetime <= 0 {
		return start.Add(s.opts.MaxAge)
	}
	return start.Add(lifetime - min(s.opts.ExpiryMargin, lifetime/2))
}

// expiresIn reads the answer's expires_in, which servers send as a JSON
// number, a JSON string or a form value.
func expiresIn(tok *oauth2.Token) time.Duration {
	var secs float64
	switch v := tok.Extra("expires_in").(type) {
	case float64:
		secs = v
	case json.Number:
		secs, _ = v.Float64()
	case string:
		secs, _ = strconv.ParseFloat(v, 64)
	}
	if secs <= 0 || secs > 1e9 {
		return 0
	}
	return time.Duration(secs * float64(time.Second))
}

// tokenError turns an error of x/oauth2 into one of this package, without
// secrets and without the token URL's path or query.
func (s *Source) tokenError(err error, refreshToken string) error {
	secrets := []string{s.cfg.ClientSecret, refreshToken, s.cfg.RefreshToken}
	if s.cfg.JWT != nil {
		secrets = append(secrets, s.cfg.JWT.SecretBase64)
	}
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		te := &TokenError{Code: scrub(re.ErrorCode, secrets...), Description: scrub(re.ErrorDescription, secrets...)}
		if re.Response != nil {
			te.StatusCode = re.Response.StatusCode
		}
		return te
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err // its message repeats the full URL
	}
	host := s.prep.tokenURL.Host
	if msg, ok := strings.CutPrefix(err.Error(), "oauth2: "); ok {
		return fmt.Errorf("oauth: token endpoint %s: %s", host, scrub(msg, secrets...))
	}
	return fmt.Errorf("oauth: requesting a token from %s: %w", host, err)
}
