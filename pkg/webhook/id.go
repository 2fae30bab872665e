package webhook

import (
	"crypto/rand"
	"encoding/binary"
	"strings"
	"sync"
	"time"
)

// ID prefixes, as in the Svix API.
const (
	PrefixApp      = "app_"
	PrefixEndpoint = "ep_"
	PrefixMessage  = "msg_"
	PrefixAttempt  = "atmpt_"
	PrefixDelivery = "dlv_"
	PrefixTask     = "qtask_"
	PrefixOrg      = "org_"
	PrefixKey      = "key_"
)

// ksuidEpoch is the KSUID epoch (2014-05-13T16:53:20Z) in Unix seconds.
const ksuidEpoch = 1400000000

const (
	ksuidBytes  = 20
	ksuidString = 27
	base62      = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
)

var idClock struct {
	sync.Mutex
	last time.Time
}

// NewID returns prefix followed by a 27-character KSUID. The KSUID's payload
// starts with the nanoseconds within the second, so IDs sort by creation time
// to the nanosecond across processes; within one process they strictly
// increase even when the clock does not move.
func NewID(prefix string) string {
	return prefix + newKSUID(monotonicNow())
}

func monotonicNow() time.Time {
	now := time.Now().UTC()
	idClock.Lock()
	defer idClock.Unlock()
	if !now.After(idClock.last) {
		now = idClock.last.Add(time.Nanosecond)
	}
	idClock.last = now
	return now
}

func newKSUID(t time.Time) string {
	var b [ksuidBytes]byte
	binary.BigEndian.PutUint32(b[0:4], uint32(t.Unix()-ksuidEpoch))
	binary.BigEndian.PutUint32(b[4:8], uint32(t.Nanosecond()))
	_, _ = rand.Read(b[8:]) // crypto/rand.Read never fails on supported platforms.
	return encodeBase62(b)
}

// encodeBase62 encodes 20 bytes as exactly 27 base62 digits, most significant first.
func encodeBase62(b [ksuidBytes]byte) string {
	// Treat b as a big-endian number in 5 uint32 words, divide by 62 repeatedly.
	var words [5]uint32
	for i := range words {
		words[i] = binary.BigEndian.Uint32(b[i*4:])
	}
	var out [ksuidString]byte
	for pos := ksuidString - 1; pos >= 0; pos-- {
		var rem uint64
		for i := range words {
			cur := rem<<32 | uint64(words[i])
			words[i] = uint32(cur / 62)
			rem = cur % 62
		}
		out[pos] = base62[rem]
	}
	return string(out[:])
}

// ValidID reports whether s is prefix followed by a well-formed KSUID.
func ValidID(prefix, s string) bool {
	rest, ok := strings.CutPrefix(s, prefix)
	if !ok || len(rest) != ksuidString {
		return false
	}
	for i := 0; i < len(rest); i++ {
		if strings.IndexByte(base62, rest[i]) < 0 {
			return false
		}
	}
	// The largest 20-byte value encodes as "aWgEPTl1tmebfsQzFP4bxwgy80V".
	return rest <= "aWgEPTl1tmebfsQzFP4bxwgy80V"
}

// IDTime returns the creation time encoded in an ID made by NewID.
func IDTime(prefix, id string) (time.Time, bool) {
	if !ValidID(prefix, id) {
		return time.Time{}, false
	}
	b := decodeBase62(id[len(prefix):])
	sec := int64(binary.BigEndian.Uint32(b[0:4])) + ksuidEpoch
	ns := int64(binary.BigEndian.Uint32(b[4:8]) % 1_000_000_000)
	return time.Unix(sec, ns).UTC(), true
}

func decodeBase62(s string) [ksuidBytes]byte {
	var words [5]uint32
	for i := 0; i < len(s); i++ {
		carry := uint64(strings.IndexByte(base62, s[i]))
		for w := len(words) - 1; w >= 0; w-- {
			cur := uint64(words[w])*62 + carry
			words[w] = uint32(cur)
			carry = cur >> 32
		}
	}
	var b [ksuidBytes]byte
	for i, w := range words {
		binary.BigEndian.PutUint32(b[i*4:], w)
	}
	return b
}

// TimeID returns the smallest ID with the given prefix for time t: every ID
// made by NewID at or after t sorts at or after it. Used to turn a time
// filter into an ID range.
func TimeID(prefix string, t time.Time) string {
	var b [ksuidBytes]byte
	t = t.UTC()
	binary.BigEndian.PutUint32(b[0:4], uint32(t.Unix()-ksuidEpoch))
	binary.BigEndian.PutUint32(b[4:8], uint32(t.Nanosecond()))
	return prefix + encodeBase62(b)
}
