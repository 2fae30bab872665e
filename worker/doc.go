// Package worker is hookd's queue adapter on asynq: task types and payloads,
// the enqueuer, the delivery handler and the background loops (reconciler,
// retention, endpoint health). It never imports gin.
package worker
