package evidence

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// JUnit XML as written by gotestsum, Maven Surefire, pytest, mocha-junit-reporter and
// Playwright: a <testsuites> root holding <testsuite> elements, or a bare <testsuite>.
// Suites may nest. Counts come from the <testcase> elements; when a suite's own attributes
// claim more tests, failures, errors or skips than its test cases show (a package that failed
// to build, a crashed fork), the larger number wins, so evidence can only look worse.

var junitParams = map[string]paramSpec{
	"minPassRate": {kind: kindPercent, def: "100", stricter: Higher, doc: "least percentage of executed (not skipped) tests that pass; default 100"},
	"reports":     {kind: kindList, stricter: Superset, doc: "names that must each match a file's base name (e.g. chromium,firefox) and be green"},
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
	Failed   []string // names of test cases with a <failure> or <error>, in file order
	Suites   []JUnitSuite
}

// JUnitReport is one JUnit XML file.
type JUnitReport struct {
	Tests    int
	Failures int
	Errors   int
	Skipped  int
	Failed   []string
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
	r.Failed = append(r.Failed, o.Failed...)
	r.Suites = append(r.Suites, o.Suites...)
}

// maxSuiteDepth bounds nesting so a hostile file cannot exhaust the stack.
const maxSuiteDepth = 64

type junitParser struct {
	dec  *xml.Decoder
	data []byte
}

// ParseJUnit parses one JUnit XML document.
func ParseJUnit(data []byte) (JUnitReport, error) {
	p := &junitParser{dec: xml.NewDecoder(bytes.NewReader(data)), data: data}
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
			return JUnitReport{}, posErrorf(line, col, "second root element <%s>", start.Name.Local)
		}
		seenRoot = true
		switch start.Name.Local {
		case "testsuite":
			s, err := p.suite(start, line, 1)
			if err != nil {
				return JUnitReport{}, err
			}
			rep = JUnitReport{Tests: s.Tests, Failures: s.Failures, Errors: s.Errors, Skipped: s.Skipped, Failed: s.Failed, Suites: []JUnitSuite{s}}
		case "testsuites":
			s, err := p.suite(start, line, 1)
			if err != nil {
				return JUnitReport{}, err
			}
			rep = JUnitReport{Tests: s.Tests, Failures: s.Failures, Errors: s.Errors, Skipped: s.Skipped, Failed: s.Failed, Suites: s.Suites}
		default:
			return JUnitReport{}, posErrorf(line, col, "root element is <%s>, want <testsuites> or <testsuite>", start.Name.Local)
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
	var attrs [4]int // tests, failures, errors, skipped as the element claims them
	for _, a := range start.Attr {
		idx := -1
		switch a.Name.Local {
		case "name":
			s.Name = a.Value
		case "hostname":
			s.Hostname = a.Value
		case "tests":
			idx = 0
		case "failures":
			idx = 1
		case "errors":
			idx = 2
		case "skipped", "skips":
			idx = 3
		}
		if idx < 0 || strings.TrimSpace(a.Value) == "" {
			continue
		}
		n, err := strconv.Atoi(strings.TrimSpace(a.Value))
		if err != nil || n < 0 {
			return JUnitSuite{}, posErrorf(line, 0, "<%s> attribute %s=%q is not a whole number", start.Name.Local, a.Name.Local, a.Value)
		}
		attrs[idx] = n
	}
	for {
		tok, err := p.dec.Token()
		if err != nil {
			return JUnitSuite{}, xmlError(p.dec, p.data, unexpectedEOF(err))
		}
		switch t := tok.(type) {
		case xml.EndElement:
			s.Tests = max(s.Tests, attrs[0])
			s.Failures = max(s.Failures, attrs[1])
			s.Errors = max(s.Errors, attrs[2])
			s.Skipped = max(s.Skipped, attrs[3])
			// A suite that claims failures without test cases (a package that did not
			// build) still counts them as tests, so they weigh in the pass rate.
			s.Tests = max(s.Tests, s.Failures+s.Errors+s.Skipped)
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
				s.Failed = append(s.Failed, child.Failed...)
				s.Suites = append(s.Suites, child)
			case "testcase":
				if err := p.testcase(t, &s); err != nil {
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

// testcase reads one <testcase> and adds it to s. A <failure> or <error> child fails it;
// Surefire's <flakyFailure>/<rerunFailure> record retries and do not count on their own.
func (p *junitParser) testcase(start xml.StartElement, s *JUnitSuite) error {
	name := ""
	for _, a := range start.Attr {
		if a.Name.Local == "name" {
			name = a.Value
		}
	}
	if name == "" {
		name = "(unnamed test)"
	}
	var failed, errored, skipped bool
	for {
		tok, err := p.dec.Token()
		if err != nil {
			return xmlError(p.dec, p.data, unexpectedEOF(err))
		}
		switch t := tok.(type) {
		case xml.EndElement:
			s.Tests++
			switch {
			case failed:
				s.Failures++
				s.Failed = append(s.Failed, name)
			case errored:
				s.Errors++
				s.Failed = append(s.Failed, name)
			case skipped:
				s.Skipped++
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

func evalJUnit(in Input, p params) Result {
	minRate := p.float("minPassRate")
	reports := make([]JUnitReport, len(in.Files))
	var total JUnitReport
	for i, f := range in.Files {
		r, err := ParseJUnit(f.Data)
		if err != nil {
			return fileError(f, err)
		}
		reports[i] = r
		total.add(r)
	}
	var problems []string
	for _, want := range p.list("reports") {
		var sub JUnitReport
		found := false
		for i, f := range in.Files {
			if strings.Contains(strings.ToLower(baseName(f.Name)), strings.ToLower(want)) {
				found = true
				sub.add(reports[i])
			}
		}
		switch {
		case !found:
			problems = append(problems, fmt.Sprintf("report %s missing", want))
		case !junitGreen(sub, minRate):
			problems = append(problems, fmt.Sprintf("report %s: %s", want, junitSummary(sub, minRate)))
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

func junitGreen(r JUnitReport, minRate float64) bool {
	return r.Executed() > 0 && r.PassRate() >= minRate
}

// junitSummary is e.g. "412 tests, 0 failed, 3 skipped (100.0 % pass)" or, when below the
// threshold, "... (99.5 % pass < 100 %): TestA, TestB".
func junitSummary(r JUnitReport, minRate float64) string {
	failed := r.Failures + r.Errors
	s := fmt.Sprintf("%s, %d failed, %d skipped", plural(r.Tests, "test"), failed, r.Skipped)
	if r.Executed() == 0 {
		return s + " (no tests executed)"
	}
	if r.PassRate() >= minRate {
		s += fmt.Sprintf(" (%s %% pass)", pct(r.PassRate()))
	} else {
		s += fmt.Sprintf(" (%s %% pass < %s %%)", pct(r.PassRate()), trimFloat(minRate))
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
