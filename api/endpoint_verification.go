package api

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/hookd/hookd/pkg/webhook"
)

// Endpoint ownership verification (docs/delivery.md#endpoint-ownership):
// under HOOKD_ENDPOINT_VERIFICATION=required (or optional, with the hookd
// extension "verify": true), a new endpoint or a changed URL is pending
// verification until the receiver answers its challenge.

// verificationOut is the hookd extension "verification" of an endpoint:
// null when the endpoint is not verified and need not be.
type verificationOut struct {
	Status     webhook.VerificationStatus `json:"status"`
	VerifiedAt *time.Time                 `json:"verifiedAt"`
}

func verificationOutOf(ep *webhook.Endpoint) *verificationOut {
	v := ep.Verification
	if v.Status == webhook.VerificationNone {
		return nil
	}
	return &verificationOut{Status: v.Status, VerifiedAt: v.VerifiedAt}
}

// verificationMode returns the installation's mode; the zero Config's is off.
func (s *Server) verificationMode() webhook.VerificationMode {
	if s.cfg.Verification == "" {
		return webhook.VerificationOff
	}
	return s.cfg.Verification
}

// applyVerification decides whether ep, as changed from before (nil for a
// new endpoint), must prove control of its URL, given the body's verify,
// and starts a verification (a new challenge) when it must:
//
//   - "verify": true asks for it (a 422 when the mode is off, and for
//     operational-webhook endpoints, which are never verified); "verify":
//     false drops it (a 422 when the mode is required);
//   - under required, a new endpoint and a changed URL start one;
//   - under optional, a changed URL starts one for an endpoint that was
//     verifying or verified;
//   - a pending endpoint that is enabled again gets a new challenge (none
//     is sent to a disabled endpoint).
func (s *Server) applyVerification(c *gin.Context, before, ep *webhook.Endpoint, verify Opt[bool]) error {
	mode := s.verificationMode()
	asked, wants := verify.Set && !verify.Null, verify.V
	switch {
	case asked && wants && isOperational(c):
		return webhook.Invalid("operational-webhook endpoints are not verified", "body", "verify")
	case asked && wants && mode == webhook.VerificationOff:
		return webhook.Invalid("endpoint verification is off (HOOKD_ENDPOINT_VERIFICATION=off)", "body", "verify")
	case asked && !wants && mode == webhook.VerificationRequired:
		return webhook.Invalid("must be true: every endpoint proves control of its URL (HOOKD_ENDPOINT_VERIFICATION=required)", "body", "verify")
	case asked && !wants:
		ep.Verification = webhook.Verification{}
		return nil
	case isOperational(c) || mode == webhook.VerificationOff:
		return nil
	}
	var start bool
	switch none := ep.Verification.Status == webhook.VerificationNone; {
	case before == nil:
		start = mode == webhook.VerificationRequired || asked
	case before.URL != ep.URL:
		start = mode == webhook.VerificationRequired || asked || !none
	case none:
		start = asked
	default:
		start = before.Disabled && !ep.Disabled && ep.PendingVerification()
	}
	if start {
		ep.StartVerification()
	}
	return nil
}

// sendChallenge publishes ep's challenge when a change (from before, nil
// for a new endpoint) started a verification and ep is enabled. A failure
// is logged: the endpoint stays pending, and POST .../verify sends a new
// challenge.
func (s *Server) sendChallenge(c *gin.Context, before, ep *webhook.Endpoint) {
	if !ep.PendingVerification() || ep.Disabled || (before != nil && before.Verification.Challenge == ep.Verification.Challenge) {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.Request.Context()), emitTimeout)
	defer cancel()
	if _, err := s.cfg.Publisher.Challenge(ctx, ep); err != nil {
		s.cfg.Logger.WarnContext(ctx, "sending an endpoint's verification challenge failed",
			slog.String("endpoint_id", ep.ID), slog.String("error", err.Error()))
	}
}

// verifyEndpoint (POST .../verify) sends the endpoint a new challenge:
// again for a pending endpoint, for the first time for one that was not
// verified (under optional or required). 202 with the verification state.
func (s *Server) verifyEndpoint(c *gin.Context) {
	if s.verificationMode() == webhook.VerificationOff {
		fail(c, webhook.Errorf(webhook.ECONFLICT, "endpoint verification is off (HOOKD_ENDPOINT_VERIFICATION=off)"))
		return
	}
	ep := pathEndpoint(c)
	var before webhook.Endpoint
	err := s.cfg.Store.UpdateEndpoint(c.Request.Context(), ep, func(ep *webhook.Endpoint) error {
		before = *ep
		switch {
		case ep.Verification.Status == webhook.VerificationVerified:
			return webhook.Errorf(webhook.ECONFLICT, "the endpoint is verified; it is verified again when its URL changes")
		case ep.Disabled:
			return webhook.Errorf(webhook.ECONFLICT, "the endpoint is disabled; enable it to verify it")
		}
		ep.StartVerification()
		return nil
	})
	if err != nil {
		fail(c, err)
		return
	}
	s.sendChallenge(c, &before, ep)
	c.PureJSON(http.StatusAccepted, verificationOutOf(ep))
}

// refusePending answers 409 for what cannot be sent to an endpoint pending
// verification (resend, recover, send-example) and reports whether it did.
func refusePending(c *gin.Context, ep *webhook.Endpoint) bool {
	if !ep.PendingVerification() {
		return false
	}
	fail(c, webhook.Errorf(webhook.ECONFLICT, "the endpoint is pending verification of its URL: nothing but its challenge is sent to it"))
	return true
}
