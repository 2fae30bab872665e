package worker

import (
	"fmt"
	"hash/fnv"
	"regexp"
	"slices"
	"strings"

	"github.com/hookd/hookd/pkg/delivery"
)

// Queues names the asynq queues of one installation: its deliveries are
// spread over shards, each a queue of first attempts and a queue of
// retries, by endpoint: all of one endpoint's attempts go to one shard.
//
// asynq keeps each queue's keys in one Redis Cluster hash slot (its name is
// the keys' hash tag), so one queue lives on one master. The shards' names
// are chosen so that their slots spread evenly over the 16384 slots: with
// the slots split evenly over the masters, as `redis-cli --cluster create`
// and `--cluster rebalance` do, and a number of shards that is a multiple of
// the number of masters, each master holds as many shards as the others.
//
// Shard 0 is the base queue and its retry queue (HOOKD_QUEUE and
// HOOKD_QUEUE-retries), so one shard is exactly the queues of a hookd
// without shards. Shard i > 0 is the first of "<base>-<i>",
// "<base>-<i>-1", "<base>-<i>-2", ... whose slot falls in the middle
// quarter of its share of the slots, and its retry queue likewise the first
// of "<base>-<i>-retries", "<base>-<i>-retries-1", ... in the same share.
// The shares are the 16384 slots cut into as many equal ranges as there
// are shards; shard 0 keeps whichever holds its slot, and shards 1, 2, ...
// take the others in order. The names depend on the base and the number of
// shards only, so every process of an installation computes the same.
type Queues struct {
	shards []shard
}

// shard is one shard's pair of queues.
type shard struct{ fresh, retries string }

// MaxShards bounds the number of shards: each is two queues that every
// worker polls.
const MaxShards = 256

// clusterSlots is the number of Redis Cluster hash slots.
const clusterSlots = 16384

// NewQueues returns the queues of base ("" means DefaultQueue) in n shards
// (n < 1 means 1, at most MaxShards).
func NewQueues(base string, n int) Queues {
	if base == "" {
		base = DefaultQueue
	}
	n = max(1, min(n, MaxShards))
	q := Queues{shards: []shard{{fresh: base, retries: RetryQueue(base)}}}
	if n == 1 {
		return q
	}
	own := Slot(base) * n / clusterSlots
	for r := range n {
		if r == own {
			continue
		}
		i := len(q.shards)
		q.shards = append(q.shards, shard{
			fresh:   nameInShare(fmt.Sprintf("%s-%d", base, i), r, n),
			retries: nameInShare(fmt.Sprintf("%s-%d-retries", base, i), r, n),
		})
	}
	return q
}

// nameInShare returns the first of prefix, prefix-1, prefix-2, ... whose
// slot is in the middle quarter of share r of n.
func nameInShare(prefix string, r, n int) string {
	mid := (2*r + 1) * clusterSlots / (2 * n)
	half := clusterSlots / (8 * n)
	for i := 0; ; i++ {
		name := prefix
		if i > 0 {
			name = fmt.Sprintf("%s-%d", prefix, i)
		}
		if s := Slot(name); mid-half <= s && s <= mid+half {
			return name
		}
	}
}

// list returns the shards; the zero Queues is DefaultQueue in one shard.
func (q Queues) list() []shard {
	if len(q.shards) == 0 {
		return []shard{{fresh: DefaultQueue, retries: RetryQueue(DefaultQueue)}}
	}
	return q.shards
}

// Len returns the number of shards.
func (q Queues) Len() int { return len(q.list()) }

// Shard returns shard i's queue of first attempts and its queue of retries.
func (q Queues) Shard(i int) (fresh, retries string) {
	s := q.list()[i]
	return s.fresh, s.retries
}

// All returns every queue: each shard's queue of first attempts, then its
// queue of retries.
func (q Queues) All() []string {
	var all []string
	for _, s := range q.list() {
		all = append(all, s.fresh, s.retries)
	}
	return all
}

// leftovers returns the queues among existing that are named as shards of
// this base but are none of these shards: the shards of another number of
// shards.
func (q Queues) leftovers(existing []string) []string {
	base := q.list()[0].fresh
	pattern := regexp.MustCompile(`^` + regexp.QuoteMeta(base) + `-[0-9]+(-retries)?(-[0-9]+)?$`)
	mine := q.All()
	var left []string
	for _, name := range existing {
		if pattern.MatchString(name) && !slices.Contains(mine, name) {
			left = append(left, name)
		}
	}
	slices.Sort(left)
	return left
}

// ShardOf returns the shard of the attempts to endpointID.
func (q Queues) ShardOf(endpointID string) int {
	n := q.Len()
	if n == 1 {
		return 0
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(endpointID))
	return int(h.Sum32() % uint32(n))
}

// shardOf returns the shard of job: its endpoint's, or by its delivery
// when the endpoint is not known.
func (q Queues) shardOf(job delivery.Job) int {
	if job.EndpointID == "" {
		return q.ShardOf(job.Ref.DeliveryID)
	}
	return q.ShardOf(job.EndpointID)
}

// queueOf returns the queue of job's attempt in shard i: a scheduled
// attempt after the first goes to the shard's retry queue.
func (q Queues) queueOf(i int, job delivery.Job) string {
	s := q.list()[i]
	if !job.Ref.IsManual() && job.Ref.Number > 1 {
		return s.retries
	}
	return s.fresh
}

// Slot returns the Redis Cluster hash slot of asynq queue's keys: asynq
// names them asynq:{<queue>}:..., so the slot is that of the hash tag, as
// `CLUSTER KEYSLOT asynq:{<queue>}:pending` answers.
func Slot(queue string) int { return keySlot("asynq:{" + queue + "}:pending") }

// keySlot is Redis Cluster's slot of key: CRC16 of its hash tag (what is
// between the first { and the next }, if not empty) or of the whole key.
func keySlot(key string) int {
	if open := strings.IndexByte(key, '{'); open >= 0 {
		if end := strings.IndexByte(key[open+1:], '}'); end > 0 {
			key = key[open+1 : open+1+end]
		}
	}
	return int(crc16(key) % clusterSlots)
}

// crc16 is CRC-16/XMODEM (polynomial 0x1021, initial 0), the checksum
// Redis Cluster hashes keys with.
func crc16(s string) uint16 {
	var crc uint16
	for i := 0; i < len(s); i++ {
		crc ^= uint16(s[i]) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}
