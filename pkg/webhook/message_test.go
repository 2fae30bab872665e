package webhook

import (
	"fmt"
	"testing"
)

func TestEndpointMatches(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		ep   Endpoint
		msg  Message
		want bool
	}{
		// No filter and no channels: every message.
		{"open endpoint", Endpoint{}, Message{EventType: "user.signup"}, true},
		{"open endpoint, message with channels", Endpoint{}, Message{EventType: "a", Channels: []string{"eu"}}, true},
		{"empty lists are no restriction", Endpoint{FilterTypes: []string{}, Channels: []string{}}, Message{EventType: "a"}, true},

		// Disabled endpoints receive nothing, whatever else matches.
		{"disabled", Endpoint{Disabled: true}, Message{EventType: "a"}, false},
		{"disabled, filter matches", Endpoint{Disabled: true, FilterTypes: []string{"a"}}, Message{EventType: "a"}, false},

		// Event type filter: the message's type must be listed, exactly.
		{"filter names the type", Endpoint{FilterTypes: []string{"x", "user.signup"}}, Message{EventType: "user.signup"}, true},
		{"filter misses the type", Endpoint{FilterTypes: []string{"user.deleted"}}, Message{EventType: "user.signup"}, false},
		{"filter is not a prefix match", Endpoint{FilterTypes: []string{"user"}}, Message{EventType: "user.signup"}, false},
		{"filter is case sensitive", Endpoint{FilterTypes: []string{"User.Signup"}}, Message{EventType: "user.signup"}, false},

		// Channels: the endpoint and the message must share one.
		{"shares a channel", Endpoint{Channels: []string{"eu", "us"}}, Message{EventType: "a", Channels: []string{"apac", "us"}}, true},
		{"shares no channel", Endpoint{Channels: []string{"eu"}}, Message{EventType: "a", Channels: []string{"us"}}, false},
		{"message without channels", Endpoint{Channels: []string{"eu"}}, Message{EventType: "a"}, false},

		// Filter and channels together: both must hold.
		{"both hold", Endpoint{FilterTypes: []string{"a"}, Channels: []string{"eu"}}, Message{EventType: "a", Channels: []string{"eu"}}, true},
		{"type only", Endpoint{FilterTypes: []string{"a"}, Channels: []string{"eu"}}, Message{EventType: "a", Channels: []string{"us"}}, false},
		{"channel only", Endpoint{FilterTypes: []string{"a"}, Channels: []string{"eu"}}, Message{EventType: "b", Channels: []string{"eu"}}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := tt.ep.Matches(&tt.msg); got != tt.want {
				t.Errorf("Matches(%+v) = %v, want %v", tt.msg, got, tt.want)
			}
		})
	}
}

// fanOutEndpoints returns n endpoints of one application as a busy
// application might have them: a third take everything, a third filter by
// event type (among ten types), a third subscribe to channels, and every
// tenth is disabled.
func fanOutEndpoints(n int) []Endpoint {
	eps := make([]Endpoint, n)
	for i := range eps {
		ep := &eps[i]
		ep.ID = fmt.Sprintf("ep_%d", i)
		switch i % 3 {
		case 1:
			ep.FilterTypes = []string{fmt.Sprintf("order.event%d", i%10), "invoice.paid", "user.signup"}
		case 2:
			ep.Channels = []string{fmt.Sprintf("tenant-%d", i%7), "all"}
		}
		ep.Disabled = i%10 == 9
	}
	return eps
}

// BenchmarkEndpointMatches measures choosing the endpoints of one message
// out of an application's endpoints, the fan-out done for every publish.
func BenchmarkEndpointMatches(b *testing.B) {
	msg := &Message{EventType: "order.event3", Channels: []string{"tenant-3", "eu"}}
	for _, n := range []int{10, 100} {
		eps := fanOutEndpoints(n)
		b.Run(fmt.Sprint(n, "endpoints"), func(b *testing.B) {
			b.ReportAllocs()
			matched := 0
			for b.Loop() {
				matched = 0
				for i := range eps {
					if eps[i].Matches(msg) {
						matched++
					}
				}
			}
			if matched == 0 || matched == n {
				b.Fatalf("%d of %d endpoints matched: the fixture does not exercise the filters", matched, n)
			}
		})
	}
}
