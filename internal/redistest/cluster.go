package redistest

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hookd/hookd/internal/enginetest"
)

// ClusterOptions tunes StartCluster.
type ClusterOptions struct {
	// Masters is how many masters share the 16384 slots, each with one
	// replica; 0 means 3 (six processes).
	Masters int
	// NodeTimeout is cluster-node-timeout: how long a master may not answer
	// before it is marked failed and its replica takes over; 0 means 2s
	// (Redis's default is 15s).
	NodeTimeout time.Duration
	// PartialCoverage sets cluster-require-full-coverage no: while a
	// master is down, the other masters keep answering for their slots.
	// By default, as in Redis, the whole cluster refuses commands
	// (CLUSTERDOWN) from when the master is marked failed until its
	// replica has taken over.
	PartialCoverage bool
}

// Cluster is a real Redis Cluster of a test: redis-server processes with
// cluster-enabled yes on loopback ports, created with
// `redis-cli --cluster create --cluster-replicas 1`.
type Cluster struct {
	// Nodes are every process, masters and replicas as created.
	Nodes []*Server
	t     testing.TB
}

// StartCluster starts a Redis Cluster for t and returns once every node
// reports cluster_state:ok and every replica is in sync with its master.
// The processes are killed when t ends. It skips t when redis-server or
// redis-cli is missing.
func StartCluster(t testing.TB, opt ClusterOptions) *Cluster {
	t.Helper()
	RequireBinaries(t, "redis-server", "redis-cli")
	if opt.Masters == 0 {
		opt.Masters = 3
	}
	if opt.NodeTimeout == 0 {
		opt.NodeTimeout = 2 * time.Second
	}
	coverage := "yes"
	if opt.PartialCoverage {
		coverage = "no"
	}
	c := &Cluster{t: t}
	addrs := make([]string, 0, 2*opt.Masters)
	for range 2 * opt.Masters {
		port, bus := enginetest.FreePort(t), enginetest.FreePort(t)
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		c.Nodes = append(c.Nodes, startServer(t, addr, []string{
			"cluster-require-full-coverage " + coverage,
			"port " + strconv.Itoa(port),
			"cluster-port " + strconv.Itoa(bus),
			"bind 127.0.0.1",
			"protected-mode no",
			"cluster-enabled yes",
			"cluster-config-file nodes.conf",
			"cluster-node-timeout " + strconv.FormatInt(opt.NodeTimeout.Milliseconds(), 10),
			// A replica may take over however long ago it last heard from
			// its master: a test kills masters under load.
			"cluster-replica-validity-factor 0",
			"appendonly no",
			`save ""`,
			"repl-diskless-sync yes",
			"repl-diskless-sync-delay 0",
		}, false))
		addrs = append(addrs, addr)
	}
	args := append([]string{"--cluster", "create"}, addrs...)
	args = append(args, "--cluster-replicas", "1", "--cluster-yes")
	if out, err := exec.Command("redis-cli", args...).CombinedOutput(); err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	c.WaitHealthy(60 * time.Second)
	enginetest.Await(t, 30*time.Second, "redistest: replicas in sync", func(ctx context.Context) error {
		for _, n := range c.Nodes {
			role, err := n.info(ctx, "replication", "role")
			if err != nil {
				return err
			}
			if role != "slave" {
				continue
			}
			if link, _ := n.info(ctx, "replication", "master_link_status"); link != "up" {
				return fmt.Errorf("replica %s: master link %q", n.Addr, link)
			}
		}
		return nil
	})
	return c
}

// DSN returns the cluster as HOOKD_REDIS_DSN: redis-cluster:// with every
// node's address.
func (c *Cluster) DSN() string {
	addrs := make([]string, len(c.Nodes))
	for i, n := range c.Nodes {
		addrs[i] = n.Addr
	}
	return "redis-cluster://" + strings.Join(addrs, ",")
}

// Node returns the node at addr, nil if it is none of the cluster's.
func (c *Cluster) Node(addr string) *Server {
	for _, n := range c.Nodes {
		if n.Addr == addr {
			return n
		}
	}
	return nil
}

// Masters returns the nodes serving slots now, as a live node sees them,
// in slot order.
func (c *Cluster) Masters(ctx context.Context) ([]*Server, error) {
	slots, err := c.slots(ctx)
	if err != nil {
		return nil, err
	}
	slices.SortFunc(slots, func(a, b slotRange) int { return a.start - b.start })
	var masters []*Server
	seen := map[string]bool{}
	for _, s := range slots {
		if !seen[s.master] {
			seen[s.master] = true
			masters = append(masters, c.Node(s.master))
		}
	}
	return masters, nil
}

// MasterOf returns the node serving the slot of key now.
func (c *Cluster) MasterOf(ctx context.Context, key string) (*Server, error) {
	live := c.live()
	if live == nil {
		return nil, fmt.Errorf("no node of the cluster runs")
	}
	cl := live.Client()
	defer cl.Close()
	slot, err := cl.ClusterKeySlot(ctx, key).Result()
	if err != nil {
		return nil, err
	}
	slots, err := c.slots(ctx)
	if err != nil {
		return nil, err
	}
	for _, s := range slots {
		if int64(s.start) <= slot && slot <= int64(s.end) {
			return c.Node(s.master), nil
		}
	}
	return nil, fmt.Errorf("slot %d of %q is not served", slot, key)
}

// WaitHealthy waits until every live node reports cluster_state:ok and
// sees every slot served by a live master: after a master was killed, that
// is when its replica has taken over. It fails the test after timeout.
func (c *Cluster) WaitHealthy(timeout time.Duration) {
	c.t.Helper()
	enginetest.Await(c.t, timeout, "redistest: cluster healthy", func(ctx context.Context) error {
		for _, n := range c.Nodes {
			if !n.Alive() {
				continue
			}
			cl := n.Client()
			info, err := cl.ClusterInfo(ctx).Result()
			if err != nil {
				cl.Close()
				return err
			}
			if st := infoField(info, "cluster_state"); st != "ok" {
				cl.Close()
				return fmt.Errorf("node %s: cluster_state %s", n.Addr, st)
			}
			slots, err := slotsOf(ctx, cl)
			cl.Close()
			if err != nil {
				return err
			}
			covered := 0
			for _, s := range slots {
				if m := c.Node(s.master); m == nil || !m.Alive() {
					return fmt.Errorf("node %s: slots %d-%d on %s, which is down", n.Addr, s.start, s.end, s.master)
				}
				covered += s.end - s.start + 1
			}
			if covered != 16384 {
				return fmt.Errorf("node %s: %d slots served", n.Addr, covered)
			}
		}
		return nil
	})
}

// slotRange is a range of slots and the address of its master.
type slotRange struct {
	start, end int
	master     string
}

// slots returns the slots' masters as a live node sees them.
func (c *Cluster) slots(ctx context.Context) ([]slotRange, error) {
	live := c.live()
	if live == nil {
		return nil, fmt.Errorf("no node of the cluster runs")
	}
	cl := live.Client()
	defer cl.Close()
	return slotsOf(ctx, cl)
}

// slotsOf returns the slots' masters as cl's node sees them (CLUSTER
// SHARDS).
func slotsOf(ctx context.Context, cl *redis.Client) ([]slotRange, error) {
	shards, err := cl.ClusterShards(ctx).Result()
	if err != nil {
		return nil, err
	}
	var ranges []slotRange
	for _, sh := range shards {
		master := ""
		for _, n := range sh.Nodes {
			if n.Role == "master" {
				master = net.JoinHostPort(n.IP, strconv.FormatInt(n.Port, 10))
				break
			}
		}
		for _, r := range sh.Slots {
			ranges = append(ranges, slotRange{start: int(r.Start), end: int(r.End), master: master})
		}
	}
	return ranges, nil
}

// live returns a running node, nil if none is.
func (c *Cluster) live() *Server {
	for _, n := range c.Nodes {
		if n.Alive() {
			return n
		}
	}
	return nil
}
