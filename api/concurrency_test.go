package api_test

import (
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"
)

// Concurrent read-modify-write requests on one endpoint must not lose each
// other's changes: each runs under the endpoint's row lock.
func TestConcurrentEndpointChangesAreNotLost(t *testing.T) {
	t.Parallel()
	b := setup(t)
	app := b.createApp(map[string]any{})
	ep := b.createEndpoint(app.ID, map[string]any{})
	base := "/api/v1/app/" + app.ID + "/endpoint/" + ep.ID

	const n = 8
	var wg sync.WaitGroup
	errs := make(chan error, 2*n)
	for i := 0; i < n; i++ {
		wg.Add(2)
		go func(i int) {
			defer wg.Done()
			body := map[string]any{"headers": map[string]any{fmt.Sprintf("X-Team-%d", i): "v"}}
			if r, err := b.send(b.key, http.MethodPatch, base+"/headers", body, nil); err != nil || r.status != http.StatusNoContent {
				errs <- fmt.Errorf("patch headers %d: %v %d %s", i, err, r.status, r.body)
			}
		}(i)
		go func(i int) {
			defer wg.Done()
			body := map[string]any{"gracePeriodSeconds": 3600}
			if r, err := b.send(b.key, http.MethodPost, base+"/secret/rotate", body, nil); err != nil || r.status != http.StatusNoContent {
				errs <- fmt.Errorf("rotate %d: %v %d %s", i, err, r.status, r.body)
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	stored, err := b.storedEndpoint(app.ID, ep.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(stored.Headers) != n {
		t.Errorf("%d headers stored, want %d: %v", len(stored.Headers), n, stored.Headers)
	}
	// The creation secret and n-1 rotated ones are still valid, plus the current one.
	if keys := stored.SigningSecrets(time.Now()); len(keys) != n+1 {
		t.Errorf("%d signing secrets, want %d", len(keys), n+1)
	}
}
