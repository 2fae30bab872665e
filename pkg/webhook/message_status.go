package webhook

// StatusCounts counts a message's deliveries by status: how many of its
// endpoints it reached (success), waits to be sent to (pending, held
// included), is failing to reach and retries (sending), gave up on (fail,
// the dead letters) and was cancelled for (canceled).
type StatusCounts struct {
	Success, Pending, Fail, Sending, Canceled int
}

// Add counts n deliveries of status s.
func (c *StatusCounts) Add(s MessageStatus, n int) {
	switch s {
	case StatusSuccess:
		c.Success += n
	case StatusPending:
		c.Pending += n
	case StatusFail:
		c.Fail += n
	case StatusSending:
		c.Sending += n
	case StatusCanceled:
		c.Canceled += n
	}
}

// Of returns the count of status s.
func (c StatusCounts) Of(s MessageStatus) int {
	switch s {
	case StatusSuccess:
		return c.Success
	case StatusPending:
		return c.Pending
	case StatusFail:
		return c.Fail
	case StatusSending:
		return c.Sending
	case StatusCanceled:
		return c.Canceled
	}
	return 0
}

// WorstFirst ranks the statuses from the one that needs attention first
// to the one that needs none: a dead letter (fail), then a delivery
// failing and retrying (sending), one not attempted yet (pending), one
// cancelled (canceled), and success.
var WorstFirst = []MessageStatus{StatusFail, StatusSending, StatusPending, StatusCanceled, StatusSuccess}

// Worst returns a message's status: the worst status among its deliveries
// in the order of WorstFirst, so that success means every endpoint got it.
// ok is false for a message without deliveries (no endpoint matched).
func (c StatusCounts) Worst() (s MessageStatus, ok bool) {
	for _, s := range WorstFirst {
		if c.Of(s) > 0 {
			return s, true
		}
	}
	return 0, false
}

// WorseThan returns the statuses ranked worse than s in WorstFirst: a
// message's status is s when it has a delivery of status s and none of
// these.
func WorseThan(s MessageStatus) []MessageStatus {
	for i, w := range WorstFirst {
		if w == s {
			return WorstFirst[:i]
		}
	}
	return nil
}
