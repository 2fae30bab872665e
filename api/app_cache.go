package api

import "time"

// Publishing finds applications through a short-lived cache: it needs only
// the app's id, and a deleted app still fails the insert (404).
const (
	appCacheTTL  = time.Second
	appCacheSize = 10000
)
