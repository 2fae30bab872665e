//go:build cluster

package redistest_test

import (
	"context"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/redistest"
)

// A cluster comes up with three masters and survives the loss of one: its
// replica takes over its slots.
func TestClusterFailover(t *testing.T) {
	c := redistest.StartCluster(t, redistest.ClusterOptions{})
	ctx := context.Background()
	masters, err := c.Masters(ctx)
	if err != nil || len(masters) != 3 {
		t.Fatalf("masters = %v, %v; want 3", masters, err)
	}
	victim, err := c.MasterOf(ctx, "asynq:{deliveries}:pending")
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := victim.Kill(); err != nil {
		t.Fatal(err)
	}
	c.WaitHealthy(30 * time.Second)
	t.Logf("failover of %s took %v", victim.Addr, time.Since(start).Round(time.Millisecond))
	now, err := c.MasterOf(ctx, "asynq:{deliveries}:pending")
	if err != nil || now == victim || !now.Alive() {
		t.Fatalf("after failover the slot is on %v (%v)", now, err)
	}
	if masters, _ := c.Masters(ctx); len(masters) != 3 {
		t.Fatalf("%d masters after failover, want 3", len(masters))
	}
}

// A Sentinel setup promotes the replica when the primary is killed.
func TestSentinelFailover(t *testing.T) {
	s := redistest.StartSentinel(t, redistest.SentinelOptions{})
	ctx := context.Background()
	if p, err := s.Primary(ctx); err != nil || p != s.Servers[0] {
		t.Fatalf("primary = %v, %v; want the first server", p, err)
	}
	start := time.Now()
	if err := s.Servers[0].Kill(); err != nil {
		t.Fatal(err)
	}
	s.WaitHealthy(60 * time.Second)
	t.Logf("failover took %v", time.Since(start).Round(time.Millisecond))
	if p, err := s.Primary(ctx); err != nil || p != s.Servers[1] {
		t.Fatalf("primary after failover = %v, %v; want the replica", p, err)
	}
}
