package signature

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"strconv"
	"time"
)

// hmacEntryLen is the length of one "v1,<base64 HMAC-SHA256>" entry: padded
// base64 of 32 bytes is 44 characters.
const hmacEntryLen = len(VersionHMAC) + 1 + (sha256.Size+2)/3*4

// Sign returns the signature entry "v1,<base64>" of body for message msgID
// sent at ts (truncated to Unix seconds), using key. It never fails; an
// empty key signs too, so keys should come from ParseSecret or
// GenerateSecret.
func Sign(key Secret, msgID string, ts time.Time, body []byte) string {
	return string(key.appendEntry(make([]byte, 0, hmacEntryLen), msgID, ts.Unix(), body))
}

// SignatureHeader returns the value of the signature header: one entry per
// key, in the order given, separated by single spaces. An HMAC Secret signs
// "v1,<base64>", an Ed25519 PrivateKey "v1a,<base64>", so during a rotation
// between the two types both kinds of entry travel in one header. It
// returns "" for no keys.
//
// K is Secret, PrivateKey or Key, so that a []Secret or a mixed []Key can
// be passed as it is.
func SignatureHeader[K Key](keys []K, msgID string, ts time.Time, body []byte) string {
	if len(keys) == 0 {
		return ""
	}
	unix := ts.Unix()
	n := len(keys) - 1
	for _, key := range keys {
		n += key.entryLen()
	}
	buf := make([]byte, 0, n)
	for i, key := range keys {
		if i > 0 {
			buf = append(buf, ' ')
		}
		buf = key.appendEntry(buf, msgID, unix, body)
	}
	return string(buf)
}

// Type returns TypeHMAC.
func (k Secret) Type() Type { return TypeHMAC }

func (k Secret) entryLen() int { return hmacEntryLen }

// appendEntry appends "v1,<base64 mac>" to dst. The signed content is fed
// to the MAC piece by piece so the body is never copied.
func (k Secret) appendEntry(dst []byte, msgID string, unix int64, body []byte) []byte {
	mac := macOf(k, msgID, unix, body)
	dst = append(dst, VersionHMAC...)
	dst = append(dst, ',')
	return base64.StdEncoding.AppendEncode(dst, mac[:])
}

// macOf returns HMAC-SHA256(key, msgID + "." + unix + "." + body).
func macOf(key Secret, msgID string, unix int64, body []byte) [sha256.Size]byte {
	// One scratch buffer holds the signed prefix and then the sum.
	scratch := make([]byte, 0, len(msgID)+2+20+sha256.Size)
	scratch = append(scratch, msgID...)
	scratch = append(scratch, '.')
	scratch = strconv.AppendInt(scratch, unix, 10)
	scratch = append(scratch, '.')

	h := hmac.New(sha256.New, key)
	h.Write(scratch)
	h.Write(body)
	var out [sha256.Size]byte
	copy(out[:], h.Sum(scratch[len(scratch):]))
	return out
}
