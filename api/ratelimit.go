package api

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	xrate "golang.org/x/time/rate"
)

// rateLimiterKeys caps how many keys' buckets one process keeps.
const rateLimiterKeys = 10000

// rateLimiter gives every API key (and every app-portal token) a token
// bucket of its own, so that one key over its rate gets 429 while the
// others are served as before. The buckets live in the process: with
// several API processes behind a load balancer, a key gets up to the limit
// from each.
type rateLimiter struct {
	limit xrate.Limit
	burst int
	now   func() time.Time

	mu      sync.Mutex
	buckets map[string]*xrate.Limiter // by principal KeyID
}

// newRateLimiter returns a limiter of perSecond requests per key with
// bursts of burst (0: twice perSecond), or nil for perSecond <= 0: no limit.
func newRateLimiter(perSecond float64, burst int, now func() time.Time) *rateLimiter {
	if perSecond <= 0 {
		return nil
	}
	if burst <= 0 {
		burst = int(math.Min(math.Ceil(2*perSecond), math.MaxInt32))
	}
	return &rateLimiter{limit: xrate.Limit(perSecond), burst: burst, now: now, buckets: map[string]*xrate.Limiter{}}
}

// middleware answers 429 with Retry-After when the caller's key is over
// its rate. It runs after authentication: the key is the principal's.
func (l *rateLimiter) middleware(c *gin.Context) {
	wait := l.reserve(principal(c).KeyID)
	if wait <= 0 {
		c.Next()
		return
	}
	secs := max(1, int(math.Ceil(wait.Seconds())))
	c.Header("Retry-After", strconv.Itoa(secs))
	c.AbortWithStatusJSON(http.StatusTooManyRequests, httpError{
		Code:   "rate_limited",
		Detail: fmt.Sprintf("this API key sent more than %g requests per second; retry in %d s", float64(l.limit), secs),
	})
}

// wait returns how long until key's bucket has a token, without taking it.
func (l *rateLimiter) wait(key string) time.Duration {
	now := l.now()
	l.mu.Lock()
	b, ok := l.buckets[key]
	l.mu.Unlock()
	if !ok {
		return 0
	}
	missing := 1 - b.TokensAt(now)
	if missing <= 0 {
		return 0
	}
	return time.Duration(missing / float64(l.limit) * float64(time.Second))
}

// reserve takes a token of key's bucket and returns 0, or leaves the bucket
// alone and returns how long until a token is available.
func (l *rateLimiter) reserve(key string) time.Duration {
	now := l.now()
	b := l.bucket(key, now)
	r := b.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return d
	}
	return 0
}

// bucket returns key's bucket, making room for it if the map is full.
func (l *rateLimiter) bucket(key string, now time.Time) *xrate.Limiter {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[key]
	if !ok {
		if len(l.buckets) >= rateLimiterKeys {
			l.evict(now)
		}
		b = xrate.NewLimiter(l.limit, l.burst)
		l.buckets[key] = b
	}
	return b
}

// evict drops the buckets that are full again: their key has been idle
// long enough that a new bucket is the same. If that frees less than a
// tenth of the map (more keys busy at once than rateLimiterKeys), it also
// drops arbitrary buckets down to nine tenths, so eviction stays rare;
// those keys get a fresh bucket on their next request.
func (l *rateLimiter) evict(now time.Time) {
	for k, b := range l.buckets {
		if b.TokensAt(now) >= float64(l.burst) {
			delete(l.buckets, k)
		}
	}
	for k := range l.buckets {
		if len(l.buckets) <= rateLimiterKeys*9/10 {
			break
		}
		delete(l.buckets, k)
	}
}
