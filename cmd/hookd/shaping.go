package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/hookd/hookd/pkg/delivery"
	"github.com/hookd/hookd/pkg/filter"
	"github.com/hookd/hookd/pkg/transform"
	"github.com/hookd/hookd/pkg/webhook"
)

// Adapters from the packages that run customer code (filters in CEL,
// transformations in JavaScript) to the interfaces of pkg/delivery, which
// imports neither cel-go nor goja.

// celFilters implements delivery.Filters with a filter.Env.
type celFilters struct{ env *filter.Env }

var _ delivery.Filters = celFilters{}

// Matcher implements delivery.Filters: the payload is decoded once, and
// each expression's program comes from the Env's cache.
func (f celFilters) Matcher(msg *webhook.Message) (func(string) (bool, error), error) {
	in, err := filter.NewInput(filter.Message{EventType: msg.EventType, Channels: msg.Channels, Tags: msg.Tags, Payload: msg.Payload})
	if err != nil {
		return nil, err
	}
	return func(expr string) (bool, error) {
		p, err := f.env.Load(expr)
		if err != nil {
			return false, err
		}
		return p.Match(in)
	}, nil
}

// gojaTransformer implements delivery.Transformer with a transform.Engine.
type gojaTransformer struct{ engine *transform.Engine }

var _ delivery.Transformer = gojaTransformer{}

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
