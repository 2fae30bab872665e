package worker

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hibiken/asynq"

	"github.com/hookd/hookd/pkg/delivery"
)

// Handler is the asynq handler of TypeDeliveryAttempt: it decodes the job
// and runs it with an Attempter, then maps the result to asynq: an
// undecodable task is dropped (SkipRetry), an infrastructure error is
// retried with asynq's back-off, a throttled attempt is put back after its
// delay without counting as a failure.
//
// A task that runs again after a failure (an infrastructure error, or a
// lease that expired because its worker died or lost Redis) drops the
// message it carries: the Attempter then reads the delivery afresh and does
// nothing if the attempt was recorded before, rather than sending it again.
type Handler struct {
	Attempter *delivery.Attempter
}

// ProcessTask implements asynq.Handler.
func (h *Handler) ProcessTask(ctx context.Context, t *asynq.Task) error {
	job, err := DecodeAttemptTask(t)
	if err != nil {
		return fmt.Errorf("%w: %w", err, asynq.SkipRetry)
	}
	if n, _ := asynq.GetRetryCount(ctx); n > 0 {
		job.Fresh = nil
	}
	res, err := h.Attempter.Attempt(ctx, job)
	if err != nil {
		return err
	}
	if res.Throttled {
		return &throttledError{delay: res.RetryIn}
	}
	return nil
}

// throttledError puts a throttled attempt back on the queue for delay:
// asynq's IsFailure and RetryDelayFunc recognise it (see newServer).
type throttledError struct{ delay time.Duration }

func (e *throttledError) Error() string {
	return fmt.Sprintf("endpoint throttled, attempt put back for %v", e.delay)
}

// isThrottled reports whether err puts a throttled attempt back.
func isThrottled(err error) (*throttledError, bool) {
	var t *throttledError
	ok := errors.As(err, &t)
	return t, ok
}
