// Package worker is hookd's queue adapter on asynq, and nothing more: the
// task type and its payload (a delivery.Job), the Enqueuer (delivery.Queue
// on asynq), the asynq servers (Worker) and the Handler that decodes a task,
// runs it with a delivery.Attempter and maps the result to asynq, the
// rate limiter in Redis, and the queue inspector for metrics. What happens
// to a delivery is decided in package delivery. It never imports gin.
package worker
