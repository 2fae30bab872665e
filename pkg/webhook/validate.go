package webhook

import (
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
)

// Limits from the API contract.
const (
	MaxUIDLength         = 256
	MaxEventTypeLength   = 256
	MaxChannelLength     = 128
	MaxChannels          = 10
	MaxURLLength         = 65536
	MaxThrottleRate      = 65535
	MaxFeatureFlagLength = 256
)

var namePattern = regexp.MustCompile(`^[a-zA-Z0-9\-_.]+$`)

// ValidName reports whether s matches the contract's identifier pattern
// ^[a-zA-Z0-9\-_.]+$ used by uids, event type names, channels and flags.
func ValidName(s string) bool { return namePattern.MatchString(s) }

// checkName validates an identifier of at most max characters at loc.
func checkName(v *ValidationError, s string, max int, loc ...string) {
	switch {
	case s == "":
		v.Add("must not be empty", loc...)
	case len(s) > max:
		v.Add(fmt.Sprintf("must be at most %d characters", max), loc...)
	case !ValidName(s):
		v.Add("must match ^[a-zA-Z0-9\\-_.]+$", loc...)
	}
}

// checkText refuses free text that PostgreSQL cannot store: a NUL character
// (JSON's \u0000) or bytes that are not UTF-8.
func checkText(v *ValidationError, s string, loc ...string) {
	if !IsStorableText(s) {
		v.Add("must not contain NUL characters or invalid UTF-8", loc...)
	}
}

// checkMetadata applies checkText to every key and value of m.
func checkMetadata(v *ValidationError, m map[string]string, loc ...string) {
	for k, val := range m {
		if !IsStorableText(k) || !IsStorableText(val) {
			v.Add("keys and values must not contain NUL characters or invalid UTF-8", loc...)
			return
		}
	}
}

func checkUID(v *ValidationError, uid *string, loc ...string) {
	if uid != nil {
		checkName(v, *uid, MaxUIDLength, loc...)
	}
}

func checkThrottle(v *ValidationError, rate *int, min int, loc ...string) {
	if rate != nil && (*rate < min || *rate > MaxThrottleRate) {
		v.Add(fmt.Sprintf("must be between %d and %d", min, MaxThrottleRate), loc...)
	}
}

// checkList validates a list of identifiers: unique, each a valid name of at
// most max characters, between minItems and maxItems long (maxItems 0 = no cap).
func checkList(v *ValidationError, items []string, max, minItems, maxItems int, loc ...string) {
	if len(items) < minItems {
		v.Add(fmt.Sprintf("must have at least %d item(s)", minItems), loc...)
	}
	if maxItems > 0 && len(items) > maxItems {
		v.Add(fmt.Sprintf("must have at most %d items", maxItems), loc...)
	}
	seen := make(map[string]bool, len(items))
	for i, s := range items {
		itemLoc := append(append([]string(nil), loc...), fmt.Sprint(i))
		checkName(v, s, max, itemLoc...)
		if seen[s] {
			v.Add(fmt.Sprintf("duplicate item %q", s), itemLoc...)
		}
		seen[s] = true
	}
}

// validPort reports whether port (from url.URL.Port) is absent or a port
// number a connection can be made to.
func validPort(port string) bool {
	if port == "" {
		return true
	}
	n, err := strconv.Atoi(port)
	return err == nil && n >= 1 && n <= 65535
}

// CheckEndpointURL validates a delivery URL: absolute http(s) with a host,
// at most MaxURLLength characters, and https when httpsOnly. Credentials
// ("https://user:password@host/") are allowed: deliveries send them as
// Basic authorization, and the API shows them masked.
func CheckEndpointURL(raw string, httpsOnly bool) string {
	if raw == "" {
		return "must not be empty"
	}
	if len(raw) > MaxURLLength {
		return fmt.Sprintf("must be at most %d characters", MaxURLLength)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "is not a valid URL"
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return "scheme must be http or https"
	case httpsOnly && u.Scheme != "https":
		return "scheme must be https (HOOKD_ENDPOINT_HTTPS_ONLY is set)"
	case u.Host == "" || u.Hostname() == "":
		return "must have a host"
	case !validPort(u.Port()):
		return "port must be a number between 1 and 65535"
	case u.Fragment != "":
		return "must not contain a fragment"
	case strings.ContainsAny(raw, " \t\r\n"):
		return "must not contain whitespace"
	}
	return ""
}
