package api

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/hookd/hookd/pkg/ttlcache"
	"github.com/hookd/hookd/pkg/webhook"
)

const principalKey = "hookd.principal"

// authCacheTTL bounds how long a key stays valid in memory after a lookup,
// and how long a token that matched nothing is refused without one.
const authCacheTTL = 30 * time.Second

// authCacheSize caps each cache; when full it is emptied.
const authCacheSize = 10000

// Failed authentications one client address may cause: a burst of
// authFailureBurst, then authFailureRate per second. Beyond that, its
// requests with a token hookd does not know already answer 429.
const (
	authFailureRate  = 1
	authFailureBurst = 20
)

// authenticator resolves bearer tokens to principals. It caches lookups
// both ways, so that a recently seen key, or a recently refused token,
// costs no database round trip, and it slows down client addresses that
// keep sending tokens that match nothing.
type authenticator struct {
	keys    webhook.KeyStore
	seen    *ttlcache.Cache[string, webhook.Principal] // by token hash; API keys only
	refused *ttlcache.Cache[string, struct{}]          // by token hash
	// failures has a bucket per client address, taken from by each
	// refused token.
	failures *rateLimiter
}

func newAuthenticator(keys webhook.KeyStore, now func() time.Time) *authenticator {
	return &authenticator{
		keys:     keys,
		seen:     ttlcache.New[string, webhook.Principal](authCacheTTL, authCacheSize),
		refused:  ttlcache.New[string, struct{}](authCacheTTL, authCacheSize),
		failures: newRateLimiter(authFailureRate, authFailureBurst, now),
	}
}

// principal returns who token belongs to, or EUNAUTHORIZED.
func (a *authenticator) principal(ctx context.Context, token string) (webhook.Principal, error) {
	hash := string(webhook.HashToken(token))
	if p, ok := a.seen.Get(hash); ok {
		return p, nil
	}
	if _, ok := a.refused.Get(hash); ok {
		return webhook.Principal{}, errUnknownToken
	}
	found, err := a.keys.FindKeyByHash(ctx, []byte(hash))
	if webhook.ErrorCode(err) == webhook.EUNAUTHORIZED {
		a.refused.Put(hash, struct{}{})
	}
	if err != nil {
		return webhook.Principal{}, err
	}
	p := *found
	if p.AppID != "" {
		// Portal tokens are looked up every time: a logout or the app's
		// deletion must take effect at once, in every API process.
		return p, nil
	}
	a.seen.Put(hash, p)
	return p, nil
}

// errUnknownToken is what a token that matches no key or live portal
// token gets.
var errUnknownToken = webhook.Errorf(webhook.EUNAUTHORIZED, "invalid or expired token")

// middleware requires "Authorization: Bearer <token>" and stores the
// principal. A client address that sent too many unknown tokens gets 429
// with Retry-After for any token not already in the cache, without a
// lookup.
func (a *authenticator) middleware(c *gin.Context) {
	header := c.GetHeader("Authorization")
	scheme, token, ok := strings.Cut(header, " ")
	token = strings.TrimSpace(token)
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		fail(c, webhook.Errorf(webhook.EUNAUTHORIZED, "missing bearer token: send Authorization: Bearer <API key>"))
		return
	}
	if p, ok := a.seen.Get(string(webhook.HashToken(token))); ok {
		c.Set(principalKey, p)
		c.Next()
		return
	}
	addr := c.ClientIP()
	if wait := a.failures.wait(addr); wait > 0 {
		secs := max(1, int(math.Ceil(wait.Seconds())))
		c.Header("Retry-After", strconv.Itoa(secs))
		c.AbortWithStatusJSON(http.StatusTooManyRequests, httpError{
			Code:   "rate_limited",
			Detail: fmt.Sprintf("too many requests with an invalid token from this address; retry in %d s", secs),
		})
		return
	}
	p, err := a.principal(c.Request.Context(), token)
	if err != nil {
		if webhook.ErrorCode(err) == webhook.EUNAUTHORIZED {
			a.failures.reserve(addr)
		}
		fail(c, err)
		return
	}
	c.Set(principalKey, p)
	c.Next()
}

func principal(c *gin.Context) webhook.Principal {
	p, _ := c.Get(principalKey)
	return p.(webhook.Principal)
}

// orgOnly refuses app-portal tokens (403): the route acts on the
// organisation, not inside one application.
func orgOnly(c *gin.Context) {
	if principal(c).AppID != "" {
		fail(c, webhook.Errorf(webhook.EFORBIDDEN, "an app-portal token cannot do this"))
		return
	}
	c.Next()
}

// token returns the request's bearer token.
func token(c *gin.Context) string {
	_, t, _ := strings.Cut(c.GetHeader("Authorization"), " ")
	return strings.TrimSpace(t)
}
