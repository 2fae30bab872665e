package filter

import (
	"encoding/json"
	"fmt"

	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/interpreter"
)

// Message is what a filter sees of a message.
type Message struct {
	EventType string
	Channels  []string
	Tags      []string
	// Payload is the message's JSON as stored.
	Payload []byte
}

// Input is a message prepared for evaluation: its payload decoded once,
// its variables converted to CEL values. An Input is immutable and may be
// evaluated by any number of programs, concurrently.
type Input struct {
	act  activation
	size uint64 // of the payload's JSON, in bytes
}

// NewInput decodes m's payload. It fails only when the payload is not JSON.
// JSON numbers become doubles (CEL's JSON mapping), so integers beyond 2^53
// lose precision.
func NewInput(m Message) (*Input, error) {
	var payload any
	if err := json.Unmarshal(m.Payload, &payload); err != nil {
		return nil, fmt.Errorf("decoding payload: %w", err)
	}
	a := types.DefaultTypeAdapter
	return &Input{act: activation{
		payload:   a.NativeToValue(payload),
		eventType: types.String(m.EventType),
		channels:  types.NewStringList(a, m.Channels),
		tags:      types.NewStringList(a, m.Tags),
	}, size: uint64(len(m.Payload))}, nil
}

// activation resolves the four variables without the map lookup and the
// per-evaluation allocation of cel-go's map-based activation.
type activation struct {
	payload, eventType, channels, tags ref.Val
}

func (a *activation) ResolveName(name string) (any, bool) {
	switch name {
	case "payload":
		return a.payload, true
	case "eventType":
		return a.eventType, true
	case "channels":
		return a.channels, true
	case "tags":
		return a.tags, true
	}
	return nil, false
}

func (a *activation) Parent() interpreter.Activation { return nil }
