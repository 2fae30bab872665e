package redistest

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hookd/hookd/internal/enginetest"
)

// SentinelOptions tunes StartSentinel.
type SentinelOptions struct {
	// DownAfter is down-after-milliseconds: how long the primary may not
	// answer before the sentinels fail it over; 0 means 1s (Redis's
	// default is 30s).
	DownAfter time.Duration
}

// MasterName is the name the sentinels of StartSentinel monitor.
const MasterName = "hookd"

// Sentinel is a real Sentinel setup of a test: a primary, its replica and
// three sentinels (quorum 2), each a redis-server process on a loopback
// port (the sentinels run `redis-server --sentinel`).
type Sentinel struct {
	// Servers are the primary and the replica, as started: Servers[0] is
	// the first primary.
	Servers []*Server
	// Sentinels are the three sentinel processes.
	Sentinels []*Server
	t         testing.TB
}

// StartSentinel starts a Sentinel setup for t and returns once the replica
// is in sync and every sentinel sees the primary, the replica and the two
// other sentinels. The processes are killed when t ends. It skips t when
// redis-server is missing.
func StartSentinel(t testing.TB, opt SentinelOptions) *Sentinel {
	t.Helper()
	RequireBinaries(t, "redis-server")
	if opt.DownAfter == 0 {
		opt.DownAfter = time.Second
	}
	s := &Sentinel{t: t}
	common := []string{"bind 127.0.0.1", "protected-mode no", "appendonly no", `save ""`,
		"repl-diskless-sync yes", "repl-diskless-sync-delay 0"}
	primaryPort := enginetest.FreePort(t)
	primary := startServer(t, fmt.Sprintf("127.0.0.1:%d", primaryPort),
		append([]string{"port " + strconv.Itoa(primaryPort)}, common...), false)
	replicaPort := enginetest.FreePort(t)
	replica := startServer(t, fmt.Sprintf("127.0.0.1:%d", replicaPort),
		append([]string{"port " + strconv.Itoa(replicaPort), fmt.Sprintf("replicaof 127.0.0.1 %d", primaryPort)}, common...), false)
	s.Servers = []*Server{primary, replica}
	enginetest.Await(t, 30*time.Second, "redistest: replica in sync", func(ctx context.Context) error {
		if link, err := replica.info(ctx, "replication", "master_link_status"); err != nil || link != "up" {
			return fmt.Errorf("master link %q (%v)", link, err)
		}
		return nil
	})
	for range 3 {
		port := enginetest.FreePort(t)
		s.Sentinels = append(s.Sentinels, startServer(t, fmt.Sprintf("127.0.0.1:%d", port), []string{
			"port " + strconv.Itoa(port),
			"bind 127.0.0.1",
			"protected-mode no",
			fmt.Sprintf("sentinel monitor %s 127.0.0.1 %d 2", MasterName, primaryPort),
			fmt.Sprintf("sentinel down-after-milliseconds %s %d", MasterName, opt.DownAfter.Milliseconds()),
			fmt.Sprintf("sentinel failover-timeout %s 10000", MasterName),
			fmt.Sprintf("sentinel parallel-syncs %s 1", MasterName),
		}, true))
	}
	enginetest.Await(t, 60*time.Second, "redistest: sentinels see the primary, the replica and each other", func(ctx context.Context) error {
		for _, sn := range s.Sentinels {
			c := redis.NewSentinelClient(&redis.Options{Addr: sn.Addr, MaxRetries: -1})
			m, err := c.Master(ctx, MasterName).Result()
			c.Close()
			if err != nil {
				return err
			}
			if m["num-slaves"] != "1" || m["num-other-sentinels"] != "2" || m["flags"] != "master" {
				return fmt.Errorf("sentinel %s: flags %s, %s replicas, %s other sentinels",
					sn.Addr, m["flags"], m["num-slaves"], m["num-other-sentinels"])
			}
		}
		return nil
	})
	s.WaitHealthy(10 * time.Second)
	return s
}

// DSN returns the setup as HOOKD_REDIS_DSN: redis-sentinel:// with the
// sentinels' addresses and the master's name.
func (s *Sentinel) DSN() string {
	addrs := make([]string, len(s.Sentinels))
	for i, sn := range s.Sentinels {
		addrs[i] = sn.Addr
	}
	return "redis-sentinel://" + strings.Join(addrs, ",") + "?master=" + MasterName
}

// Primary returns the server a live sentinel names as the primary now.
func (s *Sentinel) Primary(ctx context.Context) (*Server, error) {
	for _, sn := range s.Sentinels {
		if !sn.Alive() {
			continue
		}
		addr, err := s.primaryAddr(ctx, sn)
		if err != nil {
			return nil, err
		}
		for _, srv := range s.Servers {
			if srv.Addr == addr {
				return srv, nil
			}
		}
		return nil, fmt.Errorf("sentinel %s names %s, none of the setup's servers", sn.Addr, addr)
	}
	return nil, fmt.Errorf("no sentinel runs")
}

// WaitHealthy waits until every live sentinel names the same primary, and
// that server runs and is a master: after the primary was killed, that is
// when the replica has been promoted. It fails the test after timeout.
func (s *Sentinel) WaitHealthy(timeout time.Duration) {
	s.t.Helper()
	enginetest.Await(s.t, timeout, "redistest: sentinel primary up", func(ctx context.Context) error {
		var primary string
		for _, sn := range s.Sentinels {
			if !sn.Alive() {
				continue
			}
			addr, err := s.primaryAddr(ctx, sn)
			if err != nil {
				return err
			}
			if primary != "" && addr != primary {
				return fmt.Errorf("sentinels disagree: %s and %s", primary, addr)
			}
			primary = addr
		}
		for _, srv := range s.Servers {
			if srv.Addr != primary {
				continue
			}
			if !srv.Alive() {
				return fmt.Errorf("the primary %s is down", primary)
			}
			if role, err := srv.info(ctx, "replication", "role"); err != nil || role != "master" {
				return fmt.Errorf("the primary %s has role %q (%v)", primary, role, err)
			}
			return nil
		}
		return fmt.Errorf("sentinels name %q, none of the setup's servers", primary)
	})
}

// primaryAddr asks one sentinel for the primary's address.
func (s *Sentinel) primaryAddr(ctx context.Context, sn *Server) (string, error) {
	c := redis.NewSentinelClient(&redis.Options{Addr: sn.Addr, MaxRetries: -1})
	defer c.Close()
	hp, err := c.GetMasterAddrByName(ctx, MasterName).Result()
	if err != nil {
		return "", fmt.Errorf("sentinel %s: %w", sn.Addr, err)
	}
	if len(hp) != 2 {
		return "", fmt.Errorf("sentinel %s: master address %v", sn.Addr, hp)
	}
	return net.JoinHostPort(hp[0], hp[1]), nil
}
