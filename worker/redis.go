package worker

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
)

// ParseRedisDSN turns HOOKD_REDIS_DSN into asynq connection options. It
// accepts asynq's forms (redis://, rediss://, redis-socket://,
// redis-sentinel://:password@host1,host2?master=name[&master_password=...])
// and
// redis-cluster://[:password@]host1:port,host2:port for Redis Cluster (a
// ClusterConnOpt).
func ParseRedisDSN(dsn string) (asynq.RedisConnOpt, error) {
	if rest, ok := strings.CutPrefix(dsn, "redis-cluster://"); ok {
		var password string
		if at := strings.LastIndex(rest, "@"); at >= 0 {
			userinfo := rest[:at]
			rest = rest[at+1:]
			if _, pw, found := strings.Cut(userinfo, ":"); found {
				password, _ = url.PathUnescape(pw)
			}
		}
		rest, _, _ = strings.Cut(rest, "/")
		rest, _, _ = strings.Cut(rest, "?")
		var addrs []string
		for _, a := range strings.Split(rest, ",") {
			if a = strings.TrimSpace(a); a != "" {
				addrs = append(addrs, a)
			}
		}
		if len(addrs) == 0 {
			return nil, fmt.Errorf("redis-cluster DSN names no host")
		}
		return ClusterConnOpt{Addrs: addrs, Password: password}, nil
	}
	opt, err := asynq.ParseRedisURI(dsn)
	if err != nil {
		// The parser's message may quote the DSN, password included.
		return nil, errors.New("cannot be parsed")
	}
	if fo, ok := opt.(asynq.RedisFailoverClientOpt); ok {
		// asynq gives the URL's password to the sentinels only; the master
		// takes the same one unless master_password says otherwise.
		fo.Password = fo.SentinelPassword
		if u, err := url.Parse(dsn); err == nil && u.Query().Has("master_password") {
			fo.Password = u.Query().Get("master_password")
		}
		return fo, nil
	}
	return opt, nil
}

// PingRedis checks that Redis answers, for health checks.
func PingRedis(ctx context.Context, client redis.UniversalClient) error {
	return client.Ping(ctx).Err()
}

// NewRedisClient opens a go-redis client for opt (health checks, counters).
func NewRedisClient(opt asynq.RedisConnOpt) redis.UniversalClient {
	return opt.MakeRedisClient().(redis.UniversalClient)
}
