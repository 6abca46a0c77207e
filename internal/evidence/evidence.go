// Package evidence turns report files produced by real tools (JUnit XML, coverage profiles,
// SARIF, govulncheck, audit findings, k6 summaries, build matrices, documents) into a pass,
// fail or error verdict with a one-line reason. It is pure: the caller fetches the bytes.
//
// Each check type has a parser (ParseJUnit, ParseCoverage, ParseSARIF, ParseGovulncheck,
// ParseAudit, ParseK6Summary, ParseBuildMatrix) that returns a typed result or an error that
// says where in the file it went wrong, and an evaluator that compares the parsed result with
// the policy's thresholds. Evaluate is the one entry point the activities call.
//
// Check types and params (defaults in brackets; every type also takes maxBytes [50 MiB]):
//
//	junit        minPassRate [100], reports [none], flaky [pass]: pass | fail
//	coverage     min [80], format [auto]: gocover | lcov | cobertura
//	sarif        maxErrors [0], maxWarnings [0], maxNotes [unlimited], maxCritical [0], maxHigh [0]
//	govulncheck  failUnreachable [false]
//	audit        minReports [2]; Input.CheckURL checks report URLs when set
//	k6           maxP95Ms [none], maxP99Ms [none], maxFailRate [0.01]
//	buildmatrix  platforms (required)
//	document     versionInHeading [true], differFromPrevious [true]; needs Input.Version, compares with Input.Previous
package evidence

import (
	"fmt"
	"path"
	"sort"
	"strconv"
	"strings"
)

// Outcome is the verdict of one check on its evidence.
type Outcome string

const (
	Pass  Outcome = "pass"
	Fail  Outcome = "fail"
	Error Outcome = "error" // the evidence could not be read or understood: never a pass
)

// File is one piece of evidence: its location as the manifest wrote it (for messages) and its bytes.
type File struct {
	Name string
	Data []byte
}

// Input is everything one evaluation needs.
type Input struct {
	Type    string            // check type from the policy, e.g. "junit", "coverage"
	Params  map[string]string // thresholds and options from the policy, validated by ValidateParams
	Files   []File            // the evidence named by the manifest for this check
	Version string            // the release version, for checks that must find it in a document
	// Commit is the full SHA the release is built from (the manifest's commit): a report that
	// names the revision it was made from must name this one.
	Commit string

	// CheckURL, when set, is asked whether a URL named by the evidence (an audit report's
	// reportURL) is reachable. It is I/O, so the activity supplies it; nil means not checked.
	CheckURL func(url string) error
	// Previous is what the release production serves passed the same check with; nil when no
	// earlier release of the service is in production. Read by document checks.
	Previous *Previous
}

// Previous is the evidence an earlier release passed a check with: the release production
// serves, found by the activity from the service's production lane, never from the manifest.
type Previous struct {
	Release string   // its workflow id, e.g. release/payments/2.0.0
	Version string   // its version, which its documents name where this release's name ours
	SHA256  []string // digests of the files it passed with
	// Files are those files as the evidence store holds them; one the store no longer has is
	// compared by digest only.
	Files []File
}

// Result is the verdict with a human detail line, e.g. "coverage 78.4 % < 80 %".
type Result struct {
	Outcome Outcome
	Detail  string
}

// DefaultMaxBytes is the largest evidence file Evaluate reads unless the param maxBytes
// lowers it: reports larger than this are not what a CI produces and would only cost memory.
const DefaultMaxBytes = 50 << 20

// checkType describes one check type: its params and how it evaluates parsed evidence.
type checkType struct {
	params map[string]paramSpec
	eval   func(in Input, p params) Result
}

// commonParams apply to every check type.
var commonParams = map[string]paramSpec{
	"maxBytes": {kind: kindPositiveInt, def: strconv.Itoa(DefaultMaxBytes), stricter: AnyValue, doc: "largest evidence file accepted, in bytes (at most 50 MiB)"},
}

// TypeDocument is the document check type: the one that compares with the previous release.
const TypeDocument = "document"

var checkTypes = map[string]checkType{
	"junit":       {params: junitParams, eval: evalJUnit},
	"coverage":    {params: coverageParams, eval: evalCoverage},
	"sarif":       {params: sarifParams, eval: evalSARIF},
	"govulncheck": {params: govulnParams, eval: evalGovulncheck},
	"audit":       {params: auditParams, eval: evalAudit},
	"k6":          {params: k6Params, eval: evalK6},
	"buildmatrix": {params: buildMatrixParams, eval: evalBuildMatrix},
	TypeDocument:  {params: documentParams, eval: evalDocument},
}

// Types returns the known check types, sorted.
func Types() []string {
	out := make([]string, 0, len(checkTypes))
	for name := range checkTypes {
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

// ParamDocs describes the params a check type accepts (name → meaning and default), for
// policy documentation and error help; nil for an unknown type.
func ParamDocs(checkType string) map[string]string {
	ct, ok := checkTypes[checkType]
	if !ok {
		return nil
	}
	out := map[string]string{}
	for name, spec := range ct.params {
		out[name] = spec.doc
	}
	for name, spec := range commonParams {
		out[name] = spec.doc
	}
	return out
}

// ValidateParams reports the first problem with params for checkType: an unknown type, an
// unknown param, or a value of the wrong type or range. Params are checked in name order so
// the message is stable.
func ValidateParams(checkType string, params map[string]string) error {
	ct, ok := checkTypes[checkType]
	if !ok {
		return fmt.Errorf("unknown evidence check type %q (known: %s)", checkType, strings.Join(Types(), ", "))
	}
	_, err := parseParams(checkType, ct, params)
	return err
}

// Evaluate parses in.Files as evidence of type in.Type and compares it with in.Params.
// It never panics: a parser bug is reported as an Error outcome, never as a pass.
func Evaluate(in Input) (res Result) {
	defer func() {
		if r := recover(); r != nil {
			res = Result{Outcome: Error, Detail: fmt.Sprintf("internal error evaluating %s evidence: %v", in.Type, r)}
		}
	}()
	ct, ok := checkTypes[in.Type]
	if !ok {
		return Result{Outcome: Error, Detail: fmt.Sprintf("unknown evidence check type %s", in.Type)}
	}
	p, err := parseParams(in.Type, ct, in.Params)
	if err != nil {
		return errorf("%v", err)
	}
	if len(in.Files) == 0 {
		return errorf("no evidence files for %s check", in.Type)
	}
	limit := p.int("maxBytes")
	for _, f := range in.Files {
		if len(f.Data) > limit {
			return errorf("%s: %d bytes is over the %d-byte evidence limit", f.Name, len(f.Data), limit)
		}
	}
	return ct.eval(in, p)
}

// otherCommit says which report names another revision than the release's commit, or "".
// Revisions are compared whole and case-insensitively: an abbreviated SHA does not bind.
func otherCommit(f File, commit string, revisions []string) string {
	if commit == "" {
		return ""
	}
	for _, r := range revisions {
		if r = strings.TrimSpace(r); r != "" && !strings.EqualFold(r, commit) {
			return fmt.Sprintf("%s was made from commit %.12s, not the release's %.12s", baseName(f.Name), r, commit)
		}
	}
	return ""
}

func errorf(format string, args ...any) Result {
	return Result{Outcome: Error, Detail: fmt.Sprintf(format, args...)}
}

func failf(format string, args ...any) Result {
	return Result{Outcome: Fail, Detail: fmt.Sprintf(format, args...)}
}

func passf(format string, args ...any) Result {
	return Result{Outcome: Pass, Detail: fmt.Sprintf(format, args...)}
}

// fileError is the Error result for a file that could not be parsed; err carries the position.
func fileError(f File, err error) Result {
	return errorf("%s: %v", f.Name, err)
}

// baseName is the last element of a slash- or backslash-separated evidence name.
func baseName(name string) string {
	return path.Base(strings.ReplaceAll(name, "\\", "/"))
}

// listNames joins up to max names and says how many more there were.
func listNames(names []string, max int) string {
	if len(names) <= max {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:max], ", "), len(names)-max)
}

// plural returns "1 test" or "2 tests".
func plural(n int, word string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, word)
	}
	return fmt.Sprintf("%d %ss", n, word)
}
