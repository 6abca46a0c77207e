package evidence

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
)

// JUnit XML as written by gotestsum, Maven Surefire, pytest, mocha-junit-reporter,
// Playwright, xUnit.net and CTest: a <testsuites> root holding <testsuite> elements, or a bare
// <testsuite>. Suites may nest.
//
// Counts come from the <testcase> elements, as Jenkins counts them. A suite's count
// attributes are summaries that tools get wrong (a wrapper claiming 186 tests around 3,
// Surefire counting rerun attempts), so they may only add what cannot pass: skipped tests
// beyond the suite's test cases, and, for a suite that holds no test case at all (a package
// that did not build, a crashed fork), the failures and errors it claims. The tests
// attribute never adds a test.
//
// A test case is failed with a <failure> or <error> child, skipped with a <skipped> child or
// a status or result attribute that says it did not run (status="disabled", gtest's
// status="notrun", result="suppressed"…), else passed. Surefire's <flakyFailure> and
// <flakyError> record failed attempts of a test that then passed: it is flaky, a pass unless
// the param flaky is "fail" (Jenkins counts it passed). <rerunFailure> and <rerunError>
// record the reruns of a test that failed every time, which counts once, as failed.

var junitParams = map[string]paramSpec{
	"minPassRate": {kind: kindPercent, def: "100", stricter: Higher, doc: "least percentage of tests that pass, of those executed and those skipped beyond maxSkipped; default 100"},
	"maxSkipped":  {kind: kindCount, def: "0", stricter: Lower, doc: "skipped tests allowed; each skipped test beyond it counts as not passed; default 0"},
	"minTests":    {kind: kindPositiveInt, def: "1", stricter: Higher, doc: "least number of executed tests; default 1"},
	"reports":     {kind: kindList, stricter: Superset, doc: "browsers (Playwright projects, e.g. chromium,firefox,webkit) that must each have run and be green, read from the reports' own data (<testsuite hostname>, where Playwright's JUnit reporter names the project), never from file names"},
	// the seed counts flaky passes (the default, and the less strict value): any value is as strict
	"flaky": {kind: kindEnum, values: []string{flakyPass, flakyFail}, def: flakyPass, stricter: AnyValue, doc: "whether a test that passed on a rerun (Surefire's flakyFailure) counts as passed or failed; default pass, as Jenkins counts it"},
}

// Values of the param flaky.
const (
	flakyPass = "pass"
	flakyFail = "fail"
)

// notRun are the values of a test case's status or result attribute, lower-cased, that say
// it did not run: JUnit 5 and CTest's disabled, gtest's notrun and suppressed, and the
// words other reporters use for the same.
var notRun = map[string]bool{
	"disabled": true, "notrun": true, "not run": true, "not_run": true, "skipped": true, "skip": true,
	"ignored": true, "suppressed": true, "pending": true,
}

// JUnitSuite is one <testsuite> with counts that include its nested suites.
type JUnitSuite struct {
	Name     string
	Hostname string // Playwright writes the project (browser) here
	Line     int    // where the element starts, for messages
	Tests    int
	Failures int
	Errors   int
	Skipped  int
	Flaky    int      // passed after failed attempts; included in Tests, not in Failures
	Failed   []string // names of test cases with a <failure> or <error>, in file order
	FlakyOK  []string // names of the flaky test cases, in file order
	Suites   []JUnitSuite
	// Revisions are the commits the suite's <properties> name (commit, git.commit, revision…).
	Revisions []string

	cases int // <testcase> elements in the suite and its nested suites
}

// JUnitReport is one JUnit XML file.
type JUnitReport struct {
	Tests    int
	Failures int
	Errors   int
	Skipped  int
	Flaky    int
	Failed   []string
	FlakyOK  []string
	Suites   []JUnitSuite // the top-level suites
}

// Executed is the number of tests that ran (not skipped).
func (r JUnitReport) Executed() int { return max(r.Tests-r.Skipped, 0) }

// Passed is the number of executed tests without failure or error.
func (r JUnitReport) Passed() int { return max(r.Executed()-r.Failures-r.Errors, 0) }

// PassRate is Passed as a percentage of Executed; 0 when nothing ran.
func (r JUnitReport) PassRate() float64 {
	if r.Executed() == 0 {
		return 0
	}
	return float64(r.Passed()) * 100 / float64(r.Executed())
}

func (r *JUnitReport) add(o JUnitReport) {
	r.Tests += o.Tests
	r.Failures += o.Failures
	r.Errors += o.Errors
	r.Skipped += o.Skipped
	r.Flaky += o.Flaky
	r.Failed = append(r.Failed, o.Failed...)
	r.FlakyOK = append(r.FlakyOK, o.FlakyOK...)
	r.Suites = append(r.Suites, o.Suites...)
}

// flakyFailed is r with its flaky tests counted as failures, for the param flaky: fail.
func (r JUnitReport) flakyFailed() JUnitReport {
	r.Failures += r.Flaky
	r.Failed = append(append([]string(nil), r.Failed...), r.FlakyOK...)
	return r
}

func (s JUnitSuite) report() JUnitReport {
	return JUnitReport{Tests: s.Tests, Failures: s.Failures, Errors: s.Errors, Skipped: s.Skipped, Flaky: s.Flaky, Failed: s.Failed, FlakyOK: s.FlakyOK}
}

// maxSuiteDepth bounds nesting so a hostile file cannot exhaust the stack.
const maxSuiteDepth = 64

type junitParser struct {
	dec  *xml.Decoder
	data []byte
}

// ParseJUnit parses one JUnit XML document.
func ParseJUnit(data []byte) (JUnitReport, error) {
	data, err := evidenceText(data)
	if err != nil {
		return JUnitReport{}, err
	}
	p := &junitParser{dec: xmlDecoder(data), data: data}
	var rep JUnitReport
	seenRoot := false
	for {
		tok, err := p.dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return JUnitReport{}, xmlError(p.dec, data, err)
		}
		start, ok := tok.(xml.StartElement)
		if !ok {
			if cd, isText := tok.(xml.CharData); isText && len(bytes.TrimSpace(cd)) > 0 {
				l, c := p.pos()
				if !seenRoot {
					return JUnitReport{}, posErrorf(l, c, "text before the root element: not a JUnit XML report")
				}
				return JUnitReport{}, posErrorf(l, c, "text after the root element")
			}
			continue
		}
		line, col := p.pos()
		if seenRoot {
			return JUnitReport{}, posErrorf(line, col, "second root element")
		}
		seenRoot = true
		switch start.Name.Local {
		case "testsuite":
			s, err := p.suite(start, line, 1)
			if err != nil {
				return JUnitReport{}, err
			}
			rep = s.report()
			rep.Suites = []JUnitSuite{s}
		case "testsuites":
			s, err := p.suite(start, line, 1)
			if err != nil {
				return JUnitReport{}, err
			}
			rep = s.report()
			rep.Suites = s.Suites
		default:
			return JUnitReport{}, posErrorf(line, col, "root element is not <testsuites> or <testsuite>: not a JUnit XML report")
		}
	}
	if !seenRoot {
		return JUnitReport{}, posErrorf(0, 0, "no <testsuites> or <testsuite> element: not a JUnit XML report")
	}
	return rep, nil
}

// pos is the decoder's current line and column.
func (p *junitParser) pos() (int, int) { return p.dec.InputPos() }

// suite reads a <testsuite> or <testsuites> element up to its end tag.
func (p *junitParser) suite(start xml.StartElement, line, depth int) (JUnitSuite, error) {
	if depth > maxSuiteDepth {
		return JUnitSuite{}, posErrorf(line, 0, "test suites nested deeper than %d", maxSuiteDepth)
	}
	s := JUnitSuite{Line: line}
	var failuresAttr, errorsAttr, skippedAttr int // as the element claims them
	for _, a := range start.Attr {
		var n *int
		switch a.Name.Local {
		case "name":
			s.Name = a.Value
		case "hostname":
			s.Hostname = a.Value
		case "failures":
			n = &failuresAttr
		case "errors":
			n = &errorsAttr
		case "skipped", "skips", "disabled":
			n = &skippedAttr
		case "tests":
			// Read only to refuse a malformed file: it never adds a test.
			var ignored int
			n = &ignored
		}
		if n == nil || strings.TrimSpace(a.Value) == "" {
			continue
		}
		v, err := strconv.Atoi(strings.TrimSpace(a.Value))
		if err != nil || v < 0 {
			return JUnitSuite{}, posErrorf(line, 0, "attribute %s of a <%s> is not a whole number", a.Name.Local, start.Name.Local)
		}
		*n += v
	}
	for {
		tok, err := p.dec.Token()
		if err != nil {
			return JUnitSuite{}, xmlError(p.dec, p.data, unexpectedEOF(err))
		}
		switch t := tok.(type) {
		case xml.EndElement:
			p.claimed(&s, failuresAttr, errorsAttr, skippedAttr)
			return s, nil
		case xml.StartElement:
			l, _ := p.pos()
			switch t.Name.Local {
			case "testsuite":
				child, err := p.suite(t, l, depth+1)
				if err != nil {
					return JUnitSuite{}, err
				}
				s.Tests += child.Tests
				s.Failures += child.Failures
				s.Errors += child.Errors
				s.Skipped += child.Skipped
				s.Flaky += child.Flaky
				s.cases += child.cases
				s.Failed = append(s.Failed, child.Failed...)
				s.FlakyOK = append(s.FlakyOK, child.FlakyOK...)
				s.Suites = append(s.Suites, child)
			case "testcase":
				if err := p.testcase(t, &s); err != nil {
					return JUnitSuite{}, err
				}
			case "properties":
				if err := p.properties(&s); err != nil {
					return JUnitSuite{}, err
				}
			default:
				if err := p.dec.Skip(); err != nil {
					return JUnitSuite{}, xmlError(p.dec, p.data, unexpectedEOF(err))
				}
			}
		}
	}
}

// revisionProperties are the <property> names CI tools give the commit under test.
var revisionProperties = []string{"commit", "git.commit", "git_commit", "git.sha", "sha", "revision", "vcs.revision", "build.vcs.number"}

// properties reads a suite's <properties> and keeps the revisions they name.
func (p *junitParser) properties(s *JUnitSuite) error {
	for {
		tok, err := p.dec.Token()
		if err != nil {
			return xmlError(p.dec, p.data, unexpectedEOF(err))
		}
		switch t := tok.(type) {
		case xml.EndElement:
			return nil
		case xml.StartElement:
			if t.Name.Local == "property" {
				var name, value string
				for _, a := range t.Attr {
					switch a.Name.Local {
					case "name":
						name = a.Value
					case "value":
						value = a.Value
					}
				}
				if slices.Contains(revisionProperties, strings.ToLower(strings.TrimSpace(name))) {
					s.Revisions = append(s.Revisions, value)
				}
			}
			if err := p.dec.Skip(); err != nil {
				return xmlError(p.dec, p.data, unexpectedEOF(err))
			}
		}
	}
}

// revisions are the revisions every suite of r names, nested ones included.
func (r JUnitReport) revisions() []string {
	var out []string
	var walk func([]JUnitSuite)
	walk = func(ss []JUnitSuite) {
		for _, s := range ss {
			out = append(out, s.Revisions...)
			walk(s.Suites)
		}
	}
	walk(r.Suites)
	return out
}

// claimed adds to s what its count attributes claim beyond its test cases and cannot pass
// (the rule is in the comment at the top of this file).
func (p *junitParser) claimed(s *JUnitSuite, failures, errs, skipped int) {
	if extra := skipped - s.Skipped; extra > 0 {
		s.Tests += extra
		s.Skipped += extra
	}
	if s.cases > 0 {
		return
	}
	extraF, extraE := max(failures-s.Failures, 0), max(errs-s.Errors, 0)
	if extraF+extraE == 0 {
		return
	}
	s.Tests += extraF + extraE
	s.Failures += extraF
	s.Errors += extraE
	name := s.Name
	if name == "" {
		name = "(unnamed suite)"
	}
	s.Failed = append(s.Failed, name+" (counted by the suite, no test case)")
}

// testcase reads one <testcase> and adds it to s.
func (p *junitParser) testcase(start xml.StartElement, s *JUnitSuite) error {
	name := ""
	var skipped bool
	for _, a := range start.Attr {
		switch a.Name.Local {
		case "name":
			name = a.Value
		case "status", "result":
			if notRun[strings.ToLower(strings.TrimSpace(a.Value))] {
				skipped = true
			}
		}
	}
	if name == "" {
		name = "(unnamed test)"
	}
	var failed, errored, flaky bool
	for {
		tok, err := p.dec.Token()
		if err != nil {
			return xmlError(p.dec, p.data, unexpectedEOF(err))
		}
		switch t := tok.(type) {
		case xml.EndElement:
			s.Tests++
			s.cases++
			switch {
			case failed:
				s.Failures++
				s.Failed = append(s.Failed, name)
			case errored:
				s.Errors++
				s.Failed = append(s.Failed, name)
			case skipped:
				s.Skipped++
			case flaky:
				s.Flaky++
				s.FlakyOK = append(s.FlakyOK, name)
			}
			return nil
		case xml.StartElement:
			switch t.Name.Local {
			case "failure":
				failed = true
			case "error":
				errored = true
			case "skipped":
				skipped = true
			case "flakyFailure", "flakyError":
				flaky = true
			}
			if err := p.dec.Skip(); err != nil {
				return xmlError(p.dec, p.data, unexpectedEOF(err))
			}
		}
	}
}

// unexpectedEOF turns a bare EOF inside an element into io.ErrUnexpectedEOF.
func unexpectedEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return fmt.Errorf("document ends inside an element: %w", io.ErrUnexpectedEOF)
	}
	return err
}

// junitLimits are a junit check's thresholds.
type junitLimits struct {
	minRate    float64
	maxSkipped int // unlimited: no limit
	minTests   int
}

// excessSkipped is how many skipped tests count as not passed.
func (l junitLimits) excessSkipped(r JUnitReport) int {
	if l.maxSkipped == unlimited {
		return 0
	}
	return max(r.Skipped-l.maxSkipped, 0)
}

// rate is the pass rate with the excess skipped tests counted as not passed.
func (l junitLimits) rate(r JUnitReport) float64 {
	n := r.Executed() + l.excessSkipped(r)
	if n == 0 {
		return 0
	}
	return float64(r.Passed()) * 100 / float64(n)
}

func evalJUnit(in Input, p params) Result {
	minRate := junitLimits{minRate: p.float("minPassRate"), maxSkipped: p.int("maxSkipped"), minTests: p.int("minTests")}
	reports := make([]JUnitReport, len(in.Files))
	var total JUnitReport
	for i, f := range in.Files {
		r, err := ParseJUnit(f.Data)
		if err != nil {
			return fileError(f, err)
		}
		if other := otherCommit(f, in.Commit, r.revisions()); other != "" {
			return failf("%s", other)
		}
		if p.str("flaky") == flakyFail {
			r = r.flakyFailed()
		}
		reports[i] = r
		total.add(r)
	}
	var problems []string
	for _, want := range p.list("reports") {
		sub, found := browserReport(reports, want, p.str("flaky") == flakyFail)
		switch {
		case !found:
			problems = append(problems, fmt.Sprintf("browser %s missing: no suite of the reports ran it (Playwright's JUnit reporter names the project in <testsuite hostname>; a file's name does not count)", want))
		case !junitGreen(sub, minRate):
			problems = append(problems, fmt.Sprintf("browser %s: %s", want, junitSummary(sub, minRate)))
		}
	}
	summary := junitSummary(total, minRate)
	if !junitGreen(total, minRate) || len(problems) > 0 {
		if len(problems) > 0 {
			return failf("%s; %s", strings.Join(problems, "; "), summary)
		}
		return failf("%s", summary)
	}
	return passf("%s", summary)
}

// browserReport adds up the top-level suites of the reports that ran browser (their hostname,
// as Playwright writes the project there), with flaky tests failed when flakyFails.
func browserReport(reports []JUnitReport, browser string, flakyFails bool) (JUnitReport, bool) {
	var sub JUnitReport
	found := false
	for _, r := range reports {
		for _, s := range r.Suites {
			if !strings.EqualFold(strings.TrimSpace(s.Hostname), browser) {
				continue
			}
			found = true
			sr := s.report()
			if flakyFails {
				sr = sr.flakyFailed()
			}
			sub.add(sr)
		}
	}
	return sub, found
}

func junitGreen(r JUnitReport, l junitLimits) bool {
	return r.Executed() > 0 && r.Executed() >= l.minTests && l.rate(r) >= l.minRate
}

// junitSummary is e.g. "412 tests, 0 failed, 3 skipped (100.0 % pass)" or, when below the
// threshold, "... (99.5 % pass < 100 %): TestA, TestB"; flaky tests are counted after the
// skipped ones, "1 flaky", whether the policy let them pass or not.
func junitSummary(r JUnitReport, l junitLimits) string {
	failed := r.Failures + r.Errors
	s := fmt.Sprintf("%s, %d failed, %d skipped", plural(r.Tests, "test"), failed, r.Skipped)
	if r.Flaky > 0 {
		s += fmt.Sprintf(", %d flaky", r.Flaky)
	}
	if r.Executed() == 0 {
		return s + " (no tests executed)"
	}
	if l.rate(r) >= l.minRate {
		s += fmt.Sprintf(" (%s %% pass)", pct(l.rate(r)))
	} else {
		s += fmt.Sprintf(" (%s %% pass < %s %%)", pct(l.rate(r)), trimFloat(l.minRate))
	}
	if n := l.excessSkipped(r); n > 0 {
		s += fmt.Sprintf(" (%d skipped beyond maxSkipped %d count as not passed)", n, l.maxSkipped)
	}
	if r.Executed() < l.minTests {
		s += fmt.Sprintf(" (%d executed < minTests %d)", r.Executed(), l.minTests)
	}
	if len(r.Failed) > 0 {
		s += ": " + listNames(r.Failed, 5)
	}
	return s
}

// pct formats a percentage with one decimal, rounded down so that 99.96 never reads 100.0.
func pct(f float64) string {
	return strconv.FormatFloat(math.Floor(f*10+1e-9)/10, 'f', 1, 64)
}

// trimFloat formats a threshold without trailing zeros: 80, 99.5.
func trimFloat(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }
