package webhook

import (
	"fmt"
	"time"
)

// Limits of a transformation (Svix's EndpointTransformationPatch: code of
// 10 to 51,200 characters; the variables have no limit there).
const (
	MinTransformationCode = 10
	MaxTransformationCode = 51_200
	MaxTransformVariables = 64
	MaxTransformVarName   = 256
	MaxTransformVarValue  = 4096
)

// EndpointTransformation is an endpoint's transformation: JavaScript code
// defining handler(webhook), run before each attempt to change the
// request's method, URL, payload and headers, or to cancel it
// (docs/delivery.md "Transformations").
type EndpointTransformation struct {
	// Code is the JavaScript; "" means none.
	Code string
	// Enabled says whether deliveries run it.
	Enabled bool
	// Variables are handed to the code as webhook.variables; they may hold
	// credentials, and are sealed at rest like the endpoint's secret.
	Variables map[string]string
	// UpdatedAt is when it was last changed; nil: never set.
	UpdatedAt *time.Time
}

// Active reports whether deliveries run the transformation.
func (t *EndpointTransformation) Active() bool { return t.Enabled && t.Code != "" }

// Validate checks the transformation's shape: code of MinTransformationCode
// to MaxTransformationCode characters when set, enabled only with code, and
// at most MaxTransformVariables variables of bounded, storable names and
// values. Whether the code compiles is for the caller (package transform).
func (t *EndpointTransformation) Validate() error {
	v := &ValidationError{}
	switch n := len(t.Code); {
	case t.Code == "":
		if t.Enabled {
			v.Add("cannot be true without code", "body", "enabled")
		}
	case n < MinTransformationCode || n > MaxTransformationCode:
		v.Add(fmt.Sprintf("must be %d to %d characters", MinTransformationCode, MaxTransformationCode), "body", "code")
	default:
		checkText(v, t.Code, "body", "code")
	}
	if len(t.Variables) > MaxTransformVariables {
		v.Add(fmt.Sprintf("must have at most %d entries", MaxTransformVariables), "body", "variables")
	}
	for name, value := range t.Variables {
		switch {
		case name == "" || len(name) > MaxTransformVarName:
			v.Add(fmt.Sprintf("names must be 1 to %d characters", MaxTransformVarName), "body", "variables", name)
		case len(value) > MaxTransformVarValue:
			v.Add(fmt.Sprintf("must be at most %d characters", MaxTransformVarValue), "body", "variables", name)
		case !IsStorableText(name) || !IsStorableText(value):
			v.Add("must not contain NUL characters or invalid UTF-8", "body", "variables", name)
		}
	}
	return v.Err()
}
