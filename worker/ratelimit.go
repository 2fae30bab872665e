package worker

import (
	"context"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
)

// RedisRateLimiter implements delivery.RateLimiter in Redis with GCRA
// (go-redis/redis_rate), so a rate holds across every worker process.
type RedisRateLimiter struct {
	limiter *redis_rate.Limiter
}

// NewRedisRateLimiter returns a rate limiter on rdb.
func NewRedisRateLimiter(rdb redis.UniversalClient) *RedisRateLimiter {
	return &RedisRateLimiter{limiter: redis_rate.NewLimiter(rdb)}
}

// Allow implements delivery.RateLimiter with burst 1: requests are spread
// evenly over each second.
func (l *RedisRateLimiter) Allow(ctx context.Context, key string, perSecond int) (time.Duration, error) {
	res, err := l.limiter.Allow(ctx, key, redis_rate.Limit{Rate: perSecond, Period: time.Second, Burst: 1})
	if err != nil {
		return 0, err
	}
	if res.Allowed > 0 {
		return 0, nil
	}
	return res.RetryAfter, nil
}
