package slackapp

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"slices"
)

// fingerprintVersion is mixed into the hash so that a future change of what
// the fingerprint covers can never collide with today's values.
const fingerprintVersion = "shipgate-signoff-v1"

// Fingerprint is a short hash of what a signoff message shows an approver:
// the gate, the check and the digests of the evidence summarised. A click
// carries the fingerprint of the message the approver saw; if the release
// now shows something else (new evidence after a recheck), the click is
// refused rather than approving evidence nobody looked at.
//
// The digests are sorted first, so the order in which evidence is listed
// does not matter. Every field is length-prefixed so that ("ab","c") and
// ("a","bc") differ.
func Fingerprint(gate, check string, evidenceDigests []string) string {
	digests := slices.Clone(evidenceDigests)
	slices.Sort(digests)
	h := sha256.New()
	write := func(s string) {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(s)))
		h.Write(n[:])
		h.Write([]byte(s))
	}
	write(fingerprintVersion)
	write(gate)
	write(check)
	for _, d := range digests {
		write(d)
	}
	// 128 bits keep the button value compact and are far beyond what an
	// accidental match between two evidence sets would need.
	return hex.EncodeToString(h.Sum(nil)[:16])
}
