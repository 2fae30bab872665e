package worker

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"slices"
	"testing"

	"github.com/hookd/hookd/pkg/delivery"
)

func TestKeySlot(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		key  string
		want int
	}{
		// CRC-16/XMODEM's check value is 0x31C3.
		{"123456789", 0x31C3},
		// Values from the Redis Cluster specification and CLUSTER KEYSLOT.
		{"foo", 12182},
		{"somekey", 11058},
		{"foo{hash_tag}", 2515},
		{"user{hash_tag}.info", 2515},
		// An empty tag, or none closed, hashes the whole key.
		{"foo{}{bar}", int(crc16("foo{}{bar}") % clusterSlots)},
		{"foo{bar", int(crc16("foo{bar") % clusterSlots)},
	} {
		if got := keySlot(tt.key); got != tt.want {
			t.Errorf("keySlot(%q) = %d, want %d", tt.key, got, tt.want)
		}
	}
	if Slot("deliveries") != keySlot("{deliveries}") {
		t.Errorf("Slot is not the slot of the queue name as hash tag")
	}
}

func TestNewQueues(t *testing.T) {
	t.Parallel()
	// One shard is the queues of a hookd without shards.
	if got := NewQueues("", 1).All(); !slices.Equal(got, []string{"deliveries", "deliveries-retries"}) {
		t.Fatalf("one shard = %v", got)
	}
	if got := (Queues{}).All(); !slices.Equal(got, []string{"deliveries", "deliveries-retries"}) {
		t.Fatalf("zero Queues = %v", got)
	}
	for _, base := range []string{"deliveries", "test-0a1b2c", "prod"} {
		for _, n := range []int{2, 3, 4, 6, 8, 12, 64, MaxShards} {
			t.Run(fmt.Sprintf("%s/%d", base, n), func(t *testing.T) {
				t.Parallel()
				q := NewQueues(base, n)
				if q.Len() != n {
					t.Fatalf("%d shards, want %d", q.Len(), n)
				}
				if fresh, retries := q.Shard(0); fresh != base || retries != base+"-retries" {
					t.Fatalf("shard 0 = %s, %s; want the base queues", fresh, retries)
				}
				if again := NewQueues(base, n); !slices.Equal(again.All(), q.All()) {
					t.Fatalf("names are not deterministic")
				}
				all := q.All()
				if len(slices.Compact(slices.Sorted(slices.Values(all)))) != len(all) {
					t.Fatalf("names repeat: %v", all)
				}
				// Each shard of first attempts in its own share of the slots,
				// and shards after 0 with their retries in the same share.
				shares := map[int]string{}
				for i := range n {
					fresh, retries := q.Shard(i)
					share := Slot(fresh) * n / clusterSlots
					if other, taken := shares[share]; taken {
						t.Fatalf("%s and %s in share %d", other, fresh, share)
					}
					shares[share] = fresh
					if i > 0 && Slot(retries)*n/clusterSlots != share {
						t.Errorf("%s (slot %d) not in the share of %s (slot %d)", retries, Slot(retries), fresh, Slot(fresh))
					}
				}
			})
		}
	}
	// More shards than allowed are capped.
	if NewQueues("q", 10_000).Len() != MaxShards {
		t.Fatal("shards not capped at MaxShards")
	}
}

// Three masters with the slots split evenly each get their share of 3, 6
// or 9 shards.
func TestShardsEvenOverMasters(t *testing.T) {
	t.Parallel()
	masterOf := func(slot int) int {
		// redis-cli --cluster create: 0-5460, 5461-10922, 10923-16383.
		switch {
		case slot <= 5460:
			return 0
		case slot <= 10922:
			return 1
		}
		return 2
	}
	for _, n := range []int{3, 6, 9} {
		per := make([]int, 3)
		for i := range n {
			fresh, _ := NewQueues("deliveries", n).Shard(i)
			per[masterOf(Slot(fresh))]++
		}
		if per[0] != n/3 || per[1] != n/3 || per[2] != n/3 {
			t.Errorf("%d shards over 3 masters: %v", n, per)
		}
	}
}

// An endpoint's jobs stay on one shard; endpoints spread evenly.
func TestShardOf(t *testing.T) {
	t.Parallel()
	q := NewQueues("d", 4)
	counts := make([]int, 4)
	for range 4000 {
		var b [8]byte
		_, _ = rand.Read(b[:])
		ep := "ep_" + hex.EncodeToString(b[:])
		s := q.shardOf(delivery.Job{EndpointID: ep, Ref: delivery.Ref{DeliveryID: "a", Number: 1}})
		if q.shardOf(delivery.Job{EndpointID: ep, Ref: delivery.Ref{DeliveryID: "b", Number: 3}}) != s {
			t.Fatal("one endpoint's jobs on two shards")
		}
		counts[s]++
	}
	for i, c := range counts {
		if c < 800 || c > 1200 {
			t.Errorf("shard %d got %d of 4000 endpoints", i, c)
		}
	}
	// Retries go to the shard's retry queue; manual attempts are first attempts.
	fresh, retries := q.Shard(2)
	if q.queueOf(2, delivery.Job{Ref: delivery.Ref{Number: 2}}) != retries ||
		q.queueOf(2, delivery.Job{Ref: delivery.Ref{Number: 1}}) != fresh ||
		q.queueOf(2, delivery.Job{Ref: delivery.Ref{Manual: "m"}}) != fresh {
		t.Error("queueOf picks the wrong queue of the shard")
	}
}

// The shards of another number of shards are leftovers; other queues are
// not.
func TestLeftovers(t *testing.T) {
	t.Parallel()
	three, six := NewQueues("d", 3), NewQueues("d", 6)
	existing := append(six.All(), "d", "d-retries", "other", "d-x", "dd-1", "d-1-retries-2-3", "e-1")
	got := three.leftovers(existing)
	var want []string
	for _, name := range six.All() {
		if !slices.Contains(three.All(), name) {
			want = append(want, name)
		}
	}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("leftovers = %v, want %v", got, want)
	}
	if left := NewQueues("d", 1).leftovers(three.All()); len(left) != 4 {
		t.Fatalf("one shard's leftovers of three = %v, want shards 1 and 2", left)
	}
}
