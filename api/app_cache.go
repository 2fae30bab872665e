package api

import (
	"context"
	"sync"
	"time"

	"github.com/hookd/hookd/pkg/webhook"
)

// appCacheTTL is how long publishing reuses an application it looked up.
const appCacheTTL = time.Second

// appCacheSize caps the cache; when full it is emptied.
const appCacheSize = 10000

// appCache remembers applications by (organisation, id or uid) for
// publishing only, which needs no more than the app's id: a deleted app
// still fails the insert (404), and every other route reads afresh.
type appCache struct {
	mu   sync.Mutex
	byID map[[2]string]cachedApp
}

type cachedApp struct {
	app     webhook.Application
	expires time.Time
}

// find returns the app from the cache or from load, caching what load found.
func (c *appCache) find(ctx context.Context, orgID, idOrUID string, load func(context.Context, string, string) (*webhook.Application, error)) (*webhook.Application, error) {
	key, now := [2]string{orgID, idOrUID}, time.Now()
	c.mu.Lock()
	hit, ok := c.byID[key]
	c.mu.Unlock()
	if ok && now.Before(hit.expires) {
		app := hit.app
		return &app, nil
	}
	app, err := load(ctx, orgID, idOrUID)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.byID == nil || len(c.byID) >= appCacheSize {
		c.byID = map[[2]string]cachedApp{}
	}
	c.byID[key] = cachedApp{app: *app, expires: now.Add(appCacheTTL)}
	c.mu.Unlock()
	return app, nil
}
