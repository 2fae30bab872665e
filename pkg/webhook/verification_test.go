package webhook

import (
	"strings"
	"testing"
)

func TestChallengeAnswer(t *testing.T) {
	t.Parallel()
	const challenge = "c2hhbGxlbmdlLXZhbHVl"
	request := VerificationPayload(challenge)
	for _, tc := range []struct {
		name    string
		body    string
		wantErr string // "" for accepted
	}{
		// The answers receivers give.
		{"the challenge alone", challenge, ""},
		{"the challenge and a newline", challenge + "\n", ""},
		{"a JSON object with the challenge", `{"challenge":"` + challenge + `"}`, ""},
		{"a JSON object with more members", `{"ok":true,"challenge":"` + challenge + `"}`, ""},

		// What proves nothing.
		{"empty", "", "empty"},
		{"whitespace", " \n", "empty"},
		{"the request echoed", string(request), "repeats the request"},
		{"another challenge", "other", "not the challenge"},
		{"the challenge inside a larger text", "challenge=" + challenge, "not the challenge"},
		{"a JSON string", `"` + challenge + `"`, "not the challenge"},
		{"a JSON object with another challenge", `{"challenge":"other"}`, "not the challenge"},
		{"an echo service wrapping the request", `{"json":` + string(request) + `,"data":"..."}`, "not the challenge"},
		{"a huge body", challenge + strings.Repeat(" x", 4096), "bytes"},
	} {
		err := ChallengeAnswer(challenge, request, []byte(tc.body))
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("%s: %v, want accepted", tc.name, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("%s: error %v, want one saying %q", tc.name, err, tc.wantErr)
		}
	}
	if err := ChallengeAnswer("", request, []byte("")); err == nil {
		t.Error("an empty challenge was answered")
	}
}

func TestStartVerification(t *testing.T) {
	t.Parallel()
	ep := &Endpoint{}
	first := ep.StartVerification()
	if !ep.PendingVerification() || len(first) < 40 || ep.Verification.Challenge != first {
		t.Fatalf("after StartVerification: %+v", ep.Verification)
	}
	if second := ep.StartVerification(); second == first {
		t.Error("a new verification kept the challenge")
	}
	if got := ChallengeOf(VerificationPayload(first)); got != first {
		t.Errorf("ChallengeOf(VerificationPayload) = %q", got)
	}
	for _, other := range []string{`{"type":"user.created","challenge":"x"}`, `not json`, `{}`} {
		if got := ChallengeOf([]byte(other)); got != "" {
			t.Errorf("ChallengeOf(%s) = %q, want none", other, got)
		}
	}
}

func TestParseVerificationMode(t *testing.T) {
	t.Parallel()
	for _, ok := range []string{"off", "optional", "required"} {
		if m, err := ParseVerificationMode(ok); err != nil || string(m) != ok {
			t.Errorf("ParseVerificationMode(%q) = %q, %v", ok, m, err)
		}
	}
	for _, bad := range []string{"", "on", "Required"} {
		if _, err := ParseVerificationMode(bad); err == nil {
			t.Errorf("ParseVerificationMode(%q) accepted", bad)
		}
	}
}
