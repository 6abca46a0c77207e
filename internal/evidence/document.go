package evidence

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// A document (runbook, rollback procedure, incident plan) passes when it has content and
// names the release version. The version must stand as a word: for 1.2.3, "v1.2.3" and
// "1.2.3." count, "1.2.30", "11.2.3" and "1.2.3-rc1" do not. Each file is checked.
//
// A document must also be this release's: not the file the release production serves passed
// the same check with, nor that file with only its version changed (Input.Previous). A
// runbook copied forward unread is how an on-call engineer ends up following last quarter's
// rollback steps.

var documentParams = map[string]paramSpec{
	"versionInHeading":   {kind: kindBool, def: "true", stricter: Higher, doc: "the version must be named in a heading (Markdown #/setext, AsciiDoc =, HTML <h1>–<h6>), not just anywhere; default true"},
	"differFromPrevious": {kind: kindBool, def: "true", stricter: Higher, doc: "each document must differ, beyond its version, from the ones the release production serves passed this check with; default true"},
}

// sameAsPrevious says why f is not this release's document but the previous one's, or "".
func sameAsPrevious(f File, text []byte, version string, prev *Previous) string {
	sum := sha256.Sum256(f.Data)
	digest := hex.EncodeToString(sum[:])
	for _, d := range prev.SHA256 {
		if d == digest {
			return fmt.Sprintf("%s is the document %s passed with, unchanged (sha256 %s)", f.Name, prev.Release, digest[:12])
		}
	}
	mine := withoutVersion(text, version)
	for _, pf := range prev.Files {
		old, err := evidenceText(pf.Data)
		if err != nil {
			continue
		}
		if bytes.Equal(mine, withoutVersion(old, prev.Version)) {
			return fmt.Sprintf("%s differs from %s, which %s passed with, only in its version", f.Name, baseName(pf.Name), prev.Release)
		}
	}
	return ""
}

// withoutVersion is text with every mention of version taken out and its spacing evened, so
// that two documents equal but for the version compare equal.
func withoutVersion(text []byte, version string) []byte {
	if version != "" {
		text = bytes.ReplaceAll(text, []byte(version), nil)
	}
	return bytes.Join(bytes.Fields(text), []byte(" "))
}

// headings are the heading lines of a Markdown, AsciiDoc or HTML document.
func headings(text []byte) [][]byte {
	var out [][]byte
	lines := bytes.Split(text, []byte("\n"))
	for i, raw := range lines {
		line := bytes.TrimSpace(raw)
		switch {
		case bytes.HasPrefix(line, []byte("#")) || bytes.HasPrefix(line, []byte("=")):
			mark := line[0]
			n := len(line) - len(bytes.TrimLeft(line, string(mark)))
			if n <= 6 && n < len(line) && (line[n] == ' ' || line[n] == '\t') {
				out = append(out, line[n:])
			}
		case len(line) > 0 && i+1 < len(lines):
			under := bytes.TrimSpace(lines[i+1])
			if len(under) >= 2 && (len(bytes.Trim(under, "=")) == 0 || len(bytes.Trim(under, "-")) == 0) {
				out = append(out, line) // setext
			}
		}
	}
	// ASCII-only lower case: bytes.ToLower may change the length (invalid UTF-8, special
	// cases), and the offsets below index text too.
	lower := make([]byte, len(text))
	for i, c := range text {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		lower[i] = c
	}
	for from := 0; ; {
		i := bytes.Index(lower[from:], []byte("<h"))
		if i < 0 {
			break
		}
		start := from + i
		from = start + 2
		if from >= len(lower) || lower[from] < '1' || lower[from] > '6' {
			continue
		}
		end := bytes.Index(lower[from:], []byte("</h"))
		if end < 0 {
			break
		}
		out = append(out, text[start:from+end])
		from += end
	}
	return out
}

// namesVersionInHeading reports whether a heading of text names version.
func namesVersionInHeading(text []byte, version string) bool {
	for _, h := range headings(text) {
		if NamesVersion(h, version) {
			return true
		}
	}
	return false
}

// NamesVersion reports whether text names version as a whole word, with or without a
// leading "v".
func NamesVersion(text []byte, version string) bool {
	core := strings.TrimPrefix(strings.TrimPrefix(strings.TrimSpace(version), "v"), "V")
	if core == "" {
		return false
	}
	needle := []byte(core)
	for from := 0; ; {
		i := bytes.Index(text[from:], needle)
		if i < 0 {
			return false
		}
		start, end := from+i, from+i+len(needle)
		if versionBoundaryBefore(text, start) && versionBoundaryAfter(text, end) {
			return true
		}
		from = start + 1
	}
}

func versionBoundaryBefore(text []byte, start int) bool {
	if start == 0 {
		return true
	}
	r, size := utf8.DecodeLastRune(text[:start])
	if r == 'v' || r == 'V' {
		// "v1.2.3", but not "dev1.2.3"
		start -= size
		if start == 0 {
			return true
		}
		r, _ = utf8.DecodeLastRune(text[:start])
	}
	return !isWordRune(r) && r != '.'
}

func versionBoundaryAfter(text []byte, end int) bool {
	if end == len(text) {
		return true
	}
	r, size := utf8.DecodeRune(text[end:])
	if isWordRune(r) {
		return false
	}
	if r == '.' || r == '-' || r == '+' {
		// "1.2.3." ends a sentence; "1.2.3.4", "1.2.3-rc1" and "1.2.3+build" are other versions.
		next, _ := utf8.DecodeRune(text[end+size:])
		return end+size == len(text) || !isWordRune(next)
	}
	return true
}

func isWordRune(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_' }

func evalDocument(in Input, p params) Result {
	if strings.TrimSpace(in.Version) == "" {
		return errorf("document check needs the release version, and none was given")
	}
	var names []string
	for _, f := range in.Files {
		text, err := evidenceText(f.Data)
		if err != nil {
			return fileError(f, err)
		}
		if len(bytes.TrimSpace(text)) == 0 {
			return failf("%s is empty", f.Name)
		}
		if !NamesVersion(text, in.Version) {
			return failf("%s does not name version %s", f.Name, in.Version)
		}
		if p.bool("versionInHeading") && !namesVersionInHeading(text, in.Version) {
			return failf("%s names version %s, but in no heading (a document for this release says so in a heading)", f.Name, in.Version)
		}
		if p.bool("differFromPrevious") && in.Previous != nil {
			if why := sameAsPrevious(f, text, in.Version, in.Previous); why != "" {
				return failf("%s; this release needs its own", why)
			}
		}
		names = append(names, baseName(f.Name))
	}
	detail := fmt.Sprintf("%s %s version %s", strings.Join(names, ", "), verb(len(names)), in.Version)
	if p.bool("differFromPrevious") && in.Previous != nil {
		detail += "; new since " + in.Previous.Release
	}
	return passf("%s", detail)
}

func verb(n int) string {
	if n == 1 {
		return "names"
	}
	return "name"
}
