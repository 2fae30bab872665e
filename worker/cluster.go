package worker

import (
	"context"
	"errors"
	"io"
	"net"
	"time"

	"github.com/redis/go-redis/v9"
)

// ClusterConnOpt is asynq's connection to a Redis Cluster (an
// asynq.RedisConnOpt). Unlike asynq's RedisClusterClientOpt, it follows a
// failover as soon as the replica has taken over: go-redis reloads its map
// of slots to masters only on a MOVED or ASK answer, or every
// ClusterStateReloadInterval (one minute), and a master that died answers
// nothing, so commands would go on failing against it for up to a minute
// after its replica took over. This client reloads the map whenever a
// command fails on the network.
type ClusterConnOpt struct {
	// Addrs are some of the cluster's nodes; the others are discovered.
	Addrs []string
	// Password is the nodes' password; "" for none.
	Password string
}

// clusterStateReload bounds how stale the map of slots may get when no
// command fails (a resharding answers MOVED, which reloads it at once).
const clusterStateReload = 10 * time.Second

// MakeRedisClient implements asynq.RedisConnOpt.
func (o ClusterConnOpt) MakeRedisClient() any {
	c := redis.NewClusterClient(&redis.ClusterOptions{
		Addrs:                      o.Addrs,
		Password:                   o.Password,
		ClusterStateReloadInterval: clusterStateReload,
	})
	c.AddHook(reloadOnNetError{c: c})
	return c
}

// reloadOnNetError is a go-redis hook that has a cluster client reload its
// slots when a command or pipeline fails on the network (a node refused the
// connection, reset it, or timed out).
type reloadOnNetError struct{ c *redis.ClusterClient }

func (h reloadOnNetError) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h reloadOnNetError) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		h.check(err)
		return err
	}
}

func (h reloadOnNetError) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := next(ctx, cmds)
		h.check(err)
		return err
	}
}

// check reloads the slots (in the background, at most one reload at a
// time) when err is a network error.
func (h reloadOnNetError) check(err error) {
	var netErr net.Error
	if err != nil && (errors.As(err, &netErr) || errors.Is(err, io.EOF)) {
		h.c.ReloadState(context.Background())
	}
}
