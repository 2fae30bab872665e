package api

import (
	"context"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/hookd/hookd/pkg/ttlcache"
	"github.com/hookd/hookd/pkg/webhook"
)

const principalKey = "hookd.principal"

// authCacheTTL bounds how long a key stays valid in memory after a lookup.
const authCacheTTL = 30 * time.Second

// authCacheSize caps the cache; when full it is emptied.
const authCacheSize = 10000

// authenticator resolves bearer tokens to principals, caching lookups so a
// request costs no database round trip for a recently seen key.
type authenticator struct {
	keys webhook.KeyStore
	seen *ttlcache.Cache[string, webhook.Principal] // by token hash; API keys only
}

func newAuthenticator(keys webhook.KeyStore) *authenticator {
	return &authenticator{keys: keys, seen: ttlcache.New[string, webhook.Principal](authCacheTTL, authCacheSize)}
}

// principal returns who token belongs to, or EUNAUTHORIZED.
func (a *authenticator) principal(ctx context.Context, token string) (webhook.Principal, error) {
	hash := webhook.HashToken(token)
	if p, ok := a.seen.Get(string(hash)); ok {
		return p, nil
	}
	found, err := a.keys.FindKeyByHash(ctx, hash)
	if err != nil {
		return webhook.Principal{}, err
	}
	p := *found
	if p.AppID != "" {
		// Portal tokens are looked up every time: a logout or the app's
		// deletion must take effect at once, in every API process.
		return p, nil
	}
	a.seen.Put(string(hash), p)
	return p, nil
}

// middleware requires "Authorization: Bearer <token>" and stores the principal.
func (a *authenticator) middleware(c *gin.Context) {
	header := c.GetHeader("Authorization")
	scheme, token, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		fail(c, webhook.Errorf(webhook.EUNAUTHORIZED, "missing bearer token: send Authorization: Bearer <API key>"))
		return
	}
	p, err := a.principal(c.Request.Context(), strings.TrimSpace(token))
	if err != nil {
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
