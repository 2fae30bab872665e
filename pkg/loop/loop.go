// Package loop runs hookd's background loops.
package loop

import (
	"context"
	"time"
)

// Every calls run every interval (def when interval is 0) until ctx is
// done. The first call is one interval after the start; a run that is
// late delays the next, never doubles it up.
func Every(ctx context.Context, interval, def time.Duration, run func(context.Context)) {
	if interval == 0 {
		interval = def
	}
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
		run(ctx)
	}
}
