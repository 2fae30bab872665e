package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/hookd/hookd/pkg/delivery"
	"github.com/hookd/hookd/pkg/filter"
	"github.com/hookd/hookd/pkg/transform"
)

// The adapter from package transform, which runs customer code in
// JavaScript, to delivery.Transformer (pkg/delivery does not import goja).
// Payload filters need none: filter.Env implements delivery.Filters.

// gojaTransformer implements delivery.Transformer with a transform.Engine.
type gojaTransformer struct{ engine *transform.Engine }

var (
	_ delivery.Transformer = gojaTransformer{}
	_ delivery.Filters     = (*filter.Env)(nil)
)

// Transform implements delivery.Transformer. Every error reads
// "transformation failed: ...".
func (t gojaTransformer) Transform(ctx context.Context, code string, in delivery.TransformInput) (delivery.TransformOutput, error) {
	p, err := t.engine.Load(ctx, code)
	if err != nil {
		return delivery.TransformOutput{}, fmt.Errorf("transformation failed: %w", err)
	}
	out, err := t.engine.Run(ctx, p, transform.Input{
		Method: in.Method, URL: in.URL, Payload: in.Payload, Headers: in.Headers,
		EventType: in.EventType, MsgID: in.MsgID, Variables: in.Variables,
	})
	var te *transform.Error
	switch {
	case errors.As(err, &te):
		return delivery.TransformOutput{}, te
	case err != nil:
		return delivery.TransformOutput{}, fmt.Errorf("transformation failed: %w", err)
	}
	return delivery.TransformOutput{Method: out.Method, URL: out.URL, Payload: out.Payload, Headers: out.Headers, Cancel: out.Cancel}, nil
}
