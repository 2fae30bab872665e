package retry

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Schedule is the list of delays between delivery attempts: Schedule[i] is
// the wait after attempt i+1 fails. A delivery gets len(Schedule)+1 attempts.
type Schedule []time.Duration

// ParseSchedule parses a comma-separated list of Go durations such as
// "5s,5m,30m,2h,5h,10h,10h". Spaces around items are ignored. It returns an
// error naming the offending item (counted from 1) when an item is empty,
// is not a duration, or is not positive, and an error for an empty list.
func ParseSchedule(s string) (Schedule, error) {
	if strings.TrimSpace(s) == "" {
		return nil, errors.New("retry schedule is empty: want comma-separated durations such as 5s,5m,30m")
	}
	items := strings.Split(s, ",")
	sched := make(Schedule, 0, len(items))
	for i, item := range items {
		item = strings.TrimSpace(item)
		if item == "" {
			return nil, fmt.Errorf("retry schedule item %d is empty", i+1)
		}
		d, err := time.ParseDuration(item)
		if err != nil {
			return nil, fmt.Errorf("retry schedule item %d (%q) is not a duration such as 90s or 2h: %w", i+1, item, err)
		}
		if d <= 0 {
			return nil, fmt.Errorf("retry schedule item %d (%q) must be positive", i+1, item)
		}
		sched = append(sched, d)
	}
	return sched, nil
}

// Attempts returns the number of attempts a delivery gets: len(s)+1.
func (s Schedule) Attempts() int {
	return len(s) + 1
}

// String returns the schedule in the form ParseSchedule reads, e.g.
// "5s,5m0s,30m0s".
func (s Schedule) String() string {
	var b strings.Builder
	for i, d := range s {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(d.String())
	}
	return b.String()
}
