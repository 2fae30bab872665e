package api

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/hookd/hookd/pkg/webhook"
)

// statusFor maps webhook error codes to HTTP status codes, in one place.
var statusFor = map[string]int{
	webhook.EBADREQUEST:   http.StatusBadRequest,
	webhook.ELIMITREACHED: http.StatusBadRequest,
	webhook.EUNAUTHORIZED: http.StatusUnauthorized,
	webhook.EFORBIDDEN:    http.StatusForbidden,
	webhook.ENOTFOUND:     http.StatusNotFound,
	webhook.ECONFLICT:     http.StatusConflict,
	webhook.ETOOLARGE:     http.StatusRequestEntityTooLarge,
	webhook.EINVALID:      http.StatusUnprocessableEntity,
	webhook.EUNAVAILABLE:  http.StatusServiceUnavailable,
	webhook.EINTERNAL:     http.StatusInternalServerError,
}

// httpError is the contract's body for every error but validation errors.
type httpError struct {
	Code   string `json:"code"`
	Detail string `json:"detail"`
}

type validationItem struct {
	Loc  []string `json:"loc"`
	Msg  string   `json:"msg"`
	Type string   `json:"type"`
}

// validationBody is the contract's 422 body.
type validationBody struct {
	Detail []validationItem `json:"detail"`
}

// retryAfterUnavailable is the Retry-After, in seconds, of a 503.
const retryAfterUnavailable = "5"

// Keys of the request's context that fail reads.
const (
	unavailableKey = "hookd.unavailable" // Config.IsUnavailable
	loggerKey      = "hookd.logger"      // Config.Logger
)

// classifyErrors lets fail tell a dependency that is down from a bug, and
// log with the server's logger.
func (s *Server) classifyErrors(c *gin.Context) {
	if s.cfg.IsUnavailable != nil {
		c.Set(unavailableKey, s.cfg.IsUnavailable)
	}
	c.Set(loggerKey, s.cfg.Logger)
	c.Next()
}

// requestLogger returns the server's logger for c (one that discards
// everything outside a server's request).
func requestLogger(c *gin.Context) *slog.Logger {
	if l, ok := c.Value(loggerKey).(*slog.Logger); ok {
		return l
	}
	return slog.New(slog.DiscardHandler)
}

// fail writes err as the contract's error body and aborts the request.
// Internal errors are logged here, once, and answered without details; an
// internal error that means a dependency is down (Config.IsUnavailable) is
// a 503 "unavailable" with Retry-After, so that clients retry later.
func fail(c *gin.Context, err error) {
	code := webhook.ErrorCode(err)
	if isUnavailable, ok := c.Value(unavailableKey).(func(error) bool); ok && code == webhook.EINTERNAL && isUnavailable(err) {
		requestLogger(c).WarnContext(c.Request.Context(), "request failed: a dependency is unavailable", slog.String("error", err.Error()),
			slog.String("method", c.Request.Method), slog.String("route", c.FullPath()))
		err = webhook.Errorf(webhook.EUNAVAILABLE, "hookd cannot reach its database right now; retry later")
		code = webhook.EUNAVAILABLE
	}
	status, ok := statusFor[code]
	if !ok {
		status = http.StatusInternalServerError
	}
	if status == http.StatusServiceUnavailable {
		c.Header("Retry-After", retryAfterUnavailable)
	}
	if v, ok := asValidation(err); ok {
		body := validationBody{Detail: make([]validationItem, 0, len(v.Fields))}
		for _, f := range v.Fields {
			body.Detail = append(body.Detail, validationItem{Loc: f.Loc, Msg: f.Msg, Type: f.Type})
		}
		c.AbortWithStatusJSON(status, body)
		return
	}
	if status == http.StatusInternalServerError {
		requestLogger(c).ErrorContext(c.Request.Context(), "request failed", slog.String("error", err.Error()),
			slog.String("method", c.Request.Method), slog.String("route", c.FullPath()))
	}
	c.AbortWithStatusJSON(status, httpError{Code: code, Detail: webhook.ErrorMessage(err)})
}

func asValidation(err error) (*webhook.ValidationError, bool) {
	var v *webhook.ValidationError
	ok := errors.As(err, &v)
	return v, ok
}
