//go:build cluster

package main

import (
	"encoding/hex"
	"fmt"
	"maps"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/redistest"
)

// TestManyProcesses runs two `hookd api` and three `hookd worker` processes
// on one database and Redis, publishes through both APIs at 200 messages/s,
// and kills -9 one worker, then one API, mid-load: every message a client
// got stored arrives, each delivery has one successful attempt and no
// attempt is recorded twice, and the receiver sees at most as many
// duplicates as the killed worker had attempts in flight.
func TestManyProcesses(t *testing.T) {
	key := "procs_test_admin_key_" + hex.EncodeToString([]byte("0123456789"))
	env := scaleEnv(t, key, redistest.DSN(), 1)
	rcv := newLoadReceiver(t, 100*time.Millisecond)

	var bases []string
	var apis []*process
	for i := range 2 {
		aenv := maps.Clone(env)
		if i > 0 {
			aenv["HOOKD_LISTEN_ADDRESS"] = freeAddr(t)
		}
		apis = append(apis, startHookd(t, "api", aenv))
		bases = append(bases, "http://"+aenv["HOOKD_LISTEN_ADDRESS"])
		waitAPI(t, bases[i])
	}
	const apps = 12
	createApps(t, bases[0], key, rcv.URL, apps)
	var workers []*process
	for range 3 {
		workers = append(workers, startHookd(t, "worker", env))
	}

	const seconds = 20
	plan := roundRobin(failoverRate*seconds, apps)
	pub := newLoadPublisher(key, bases...)
	done := make(chan struct{})
	go func() {
		defer close(done)
		pub.run(plan, failoverRate)
	}()
	kill := func(after int, p *process, what string) {
		waitUntil(t, 60*time.Second, fmt.Sprintf("%d messages published", after), func() bool { return pub.progress() >= after })
		distinct, _ := rcv.counts()
		if err := p.cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		_ = p.wait()
		t.Logf("killed %s after %d messages published, %d delivered", what, after, distinct)
	}
	kill(failoverRate*5, workers[0], "a worker")
	kill(failoverRate*10, apis[0], "an API")
	<-done

	// The killed worker's tasks come back when their lease expires (30 s)
	// and asynq's recoverer runs (every minute).
	waitRecorded(t, 3*time.Minute, env["HOOKD_DB_DSN"], pub)
	waitDelivered(t, 30*time.Second, pub, rcv)
	o := checkLoad(t, pub, rcv)
	t.Logf("publish: %s", pub.stats())
	t.Logf("delivery: %d messages, %s", len(plan), o)
	if o.duplicates > workerConcurrency {
		t.Errorf("%d duplicates, more than the %d attempts the killed worker had in flight", o.duplicates, workerConcurrency)
	}
	wantAttemptsOnce(t, env["HOOKD_DB_DSN"], len(plan))
}
