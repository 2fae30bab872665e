// Package worker is hookd's queue adapter on asynq, and nothing more: the
// task type and its payload (a delivery.Job), the queue shards (Queues:
// deliveries spread by endpoint over pairs of queues whose Redis Cluster
// slots spread over the masters), the Enqueuer (delivery.Queue on asynq),
// the asynq servers (Worker) and the Handler that decodes a task, runs it
// with a delivery.Attempter and maps the result to asynq, the Redis
// connection options (ParseRedisDSN, and ClusterConnOpt, which follows a
// cluster failover at once), the rate limiter in Redis, and the queue
// inspector for metrics. What happens to a delivery is decided in package
// delivery. It never imports gin.
package worker
