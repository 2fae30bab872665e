package delivery

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/hookd/hookd/pkg/egress"
	"github.com/hookd/hookd/pkg/webhook"
)

// Endpoint ownership verification (docs/delivery.md): an endpoint pending
// verification gets its challenge, a webhook.verification message
// published to it alone, and nothing else; the attempt that gets the
// challenge back verifies it.

// Challenge publishes the webhook.verification message of ep's current
// challenge to ep alone, and returns it. It is delivered like any message
// (signed, retried on the schedule, recorded), and is the one message an
// endpoint pending verification receives; publishing refuses it to other
// endpoints and other messages to a pending one.
func (p *Publisher) Challenge(ctx context.Context, ep *webhook.Endpoint) (*webhook.Message, error) {
	msg := &webhook.Message{
		OrgID: ep.OrgID, AppID: ep.AppID, EventType: webhook.EventTypeVerification,
		Payload: webhook.VerificationPayload(ep.Verification.Challenge), RetentionDays: webhook.DefaultRetentionDays,
	}
	_, err := p.Publish(ctx, msg, ep.ID)
	return msg, err
}

// Responses recorded for attempts that verification holds back.
const (
	notSentPending = "not attempted: the endpoint is pending verification of its URL; " +
		"recover the delivery once the endpoint is verified"
	notSentStaleChallenge = "not attempted: this verification challenge is no longer current " +
		"(a newer one was sent, or the endpoint no longer verifies)"
)

// challengeOf returns the challenge at's message carries, "" for any
// other message.
func (at *attempt) challengeOf() string {
	if at.msg.EventType != webhook.EventTypeVerification {
		return ""
	}
	return webhook.ChallengeOf(at.msg.Payload)
}

// holdForVerification sets at.held when the endpoint's verification keeps
// the attempt from being sent: any message but the current challenge while
// the endpoint is pending, and a challenge that is no longer current (the
// challenge that verified an endpoint stays current until its URL
// changes, so that an attempt run again after a crash is still sent). An
// endpoint from the fresh-attempt cache that would hold the attempt back
// is read again first: it may have changed within the cache's lifetime.
func (a *Attempter) holdForVerification(ctx context.Context, at *attempt) error {
	held := heldBy(at)
	if held != "" && at.delivery == nil {
		ep, err := a.Store.FindEndpointByID(ctx, at.ep.ID)
		if err != nil {
			return err
		}
		at.ep = *ep
		a.forgetEndpoint(ep.ID)
		held = heldBy(at)
	}
	at.held = held
	return nil
}

// heldBy returns why the endpoint's verification holds at back, "" when
// it does not.
func heldBy(at *attempt) string {
	challenge := at.challengeOf()
	switch {
	case challenge != "" && challenge != at.ep.Verification.Challenge:
		return notSentStaleChallenge
	case challenge == "" && at.ep.PendingVerification():
		return notSentPending
	}
	return ""
}

// checkChallengeAnswer turns a 2xx answer to a challenge into a failure
// unless its body gives the challenge back (webhook.ChallengeAnswer).
func checkChallengeAnswer(at *attempt, res *egress.Response, out Outcome) Outcome {
	challenge := at.challengeOf()
	if challenge == "" || !out.succeeded() || res == nil {
		return out
	}
	if err := webhook.ChallengeAnswer(challenge, at.msg.Payload, res.Body); err != nil {
		out.Err = &failure{reason: err.Error()} // hookd's own sentence
	}
	return out
}

// verified marks the endpoint verified when the attempt answered its
// current challenge (t is Succeeded). It runs before the attempt is
// recorded, so that a recorded success always means a verified endpoint.
// A failing store is retried (persist); past RecordTimeout
// the error goes back to the queue, which runs the attempt again: the
// endpoint keeps its challenge once verified, so asking the receiver again
// is harmless.
func (a *Attempter) verified(ctx context.Context, at *attempt, t webhook.Transition) error {
	challenge := at.challengeOf()
	if challenge == "" || t != webhook.Succeeded {
		return nil
	}
	var ok bool
	_, err := a.persist(ctx, "marking an endpoint verified", slog.String("endpoint_id", at.ep.ID), func(ctx context.Context) error {
		var err error
		ok, err = a.Store.VerifyEndpoint(ctx, at.ep.ID, challenge)
		return err
	})
	if err != nil {
		return fmt.Errorf("verifying endpoint %s: %w", at.ep.ID, err)
	}
	a.forgetEndpoint(at.ep.ID)
	if ok {
		a.log().InfoContext(ctx, "endpoint verified", slog.String("endpoint_id", at.ep.ID), slog.String("msg_id", at.msg.ID))
	}
	return nil
}

// forgetEndpoint drops an endpoint from the fresh-attempt cache, so that
// the next attempt in this process reads it.
func (a *Attempter) forgetEndpoint(id string) {
	a.endpointCache().Delete(id)
}
