package evidence

import (
	"bufio"
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Coverage formats: Go cover profiles (statements), LCOV and Cobertura XML (lines).
const (
	FormatGoCover   = "gocover"
	FormatLCOV      = "lcov"
	FormatCobertura = "cobertura"
)

var coverageParams = map[string]paramSpec{
	"format": {kind: kindEnum, def: "auto", stricter: AnyValue, values: []string{"auto", FormatGoCover, FormatLCOV, FormatCobertura}, doc: "evidence format; default auto-detect"},
	"min":    {kind: kindPercent, def: "80", stricter: Higher, doc: "least coverage in percent; default 80"},
}

// Coverage is the coverage one or more files report. Go profiles count statements, LCOV and
// Cobertura count lines. A Cobertura file that gives only line-rate has RateOnly set and
// Percent but no counts, so it cannot be merged with other files.
type Coverage struct {
	Format   string
	Covered  int64
	Total    int64
	RateOnly bool
	Percent  float64 // Covered/Total in percent, or the line-rate for RateOnly

	// What is needed to merge several files exactly: the same Go block or LCOV line in two
	// profiles (e.g. two packages' tests run with -coverpkg) counts once, covered if either
	// run covered it.
	goBlocks  map[string]goBlock
	lcovLines map[string]map[int64]bool
	lcovFixed [2]int64 // covered, total from LCOV records that have LF/LH but no DA lines
}

type goBlock struct {
	stmts   int64
	covered bool
}

// ParseCoverage parses one coverage file. format is "auto" (or "") or one of the Format names.
func ParseCoverage(data []byte, format string) (Coverage, error) {
	data, err := evidenceText(data)
	if err != nil {
		return Coverage{}, err
	}
	if format == "" || format == "auto" {
		format = detectCoverageFormat(data)
		if format == "" {
			return Coverage{}, posErrorf(1, 0, "cannot tell the coverage format: want a Go cover profile (mode: ...), LCOV (SF:/DA: lines) or Cobertura XML")
		}
	}
	var c Coverage
	switch format {
	case FormatGoCover:
		c, err = parseGoCover(data)
	case FormatLCOV:
		c, err = parseLCOV(data)
	case FormatCobertura:
		c, err = parseCobertura(data)
	default:
		return Coverage{}, fmt.Errorf("unknown coverage format %q", format)
	}
	if err != nil {
		return Coverage{}, err
	}
	c.Format = format
	c.total()
	return c, nil
}

func detectCoverageFormat(data []byte) string {
	trimmed := bytes.TrimSpace(data)
	switch {
	case bytes.HasPrefix(trimmed, []byte("mode:")):
		return FormatGoCover
	case bytes.HasPrefix(trimmed, []byte("<")):
		return FormatCobertura
	}
	for _, line := range bytes.SplitN(trimmed, []byte("\n"), 50) {
		line = bytes.TrimSpace(line)
		for _, key := range []string{"TN:", "SF:", "VER:"} {
			if bytes.HasPrefix(line, []byte(key)) {
				return FormatLCOV
			}
		}
	}
	return ""
}

// total recomputes Covered, Total and Percent from the mergeable detail.
func (c *Coverage) total() {
	if c.RateOnly {
		return
	}
	switch c.Format {
	case FormatGoCover:
		c.Covered, c.Total = 0, 0
		for _, b := range c.goBlocks {
			c.Total += b.stmts
			if b.covered {
				c.Covered += b.stmts
			}
		}
	case FormatLCOV:
		c.Covered, c.Total = c.lcovFixed[0], c.lcovFixed[1]
		for _, lines := range c.lcovLines {
			for _, hit := range lines {
				c.Total++
				if hit {
					c.Covered++
				}
			}
		}
	}
	c.Percent = 0
	if c.Total > 0 {
		c.Percent = float64(c.Covered) * 100 / float64(c.Total)
	}
}

// mergeCoverage combines files; all must share a format and carry counts.
func mergeCoverage(files []File, covs []Coverage) (Coverage, error) {
	if len(covs) == 1 {
		return covs[0], nil
	}
	m := Coverage{Format: covs[0].Format, goBlocks: map[string]goBlock{}, lcovLines: map[string]map[int64]bool{}}
	for i, c := range covs {
		if c.Format != m.Format {
			return Coverage{}, fmt.Errorf("%s is %s but %s is %s: cannot merge coverage of different formats", files[i].Name, c.Format, files[0].Name, m.Format)
		}
		if c.RateOnly {
			return Coverage{}, fmt.Errorf("%s gives only line-rate, without lines-valid/lines-covered: cannot merge it with other files", files[i].Name)
		}
		for k, b := range c.goBlocks {
			old := m.goBlocks[k]
			m.goBlocks[k] = goBlock{stmts: max(old.stmts, b.stmts), covered: old.covered || b.covered}
		}
		for file, lines := range c.lcovLines {
			if m.lcovLines[file] == nil {
				m.lcovLines[file] = map[int64]bool{}
			}
			for l, hit := range lines {
				m.lcovLines[file][l] = m.lcovLines[file][l] || hit
			}
		}
		m.lcovFixed[0] += c.lcovFixed[0]
		m.lcovFixed[1] += c.lcovFixed[1]
		if m.Format == FormatCobertura {
			m.Covered += c.Covered
			m.Total += c.Total
		}
	}
	if m.Format == FormatCobertura && m.Total > 0 {
		m.Percent = float64(m.Covered) * 100 / float64(m.Total)
	}
	m.total()
	return m, nil
}

// parseGoCover reads a profile from go test -coverprofile: a "mode:" line, then lines
// "file.go:startLine.startCol,endLine.endCol numStatements count". Profiles concatenated
// from several runs repeat the mode line; that is accepted when the mode agrees.
func parseGoCover(data []byte) (Coverage, error) {
	c := Coverage{goBlocks: map[string]goBlock{}}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64*1024), len(data)+1)
	mode := ""
	lineNo := 0
	for sc.Scan() {
		lineNo++
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		if m, ok := strings.CutPrefix(line, "mode:"); ok {
			m = strings.TrimSpace(m)
			switch {
			case m != "set" && m != "count" && m != "atomic":
				return Coverage{}, posErrorf(lineNo, 0, "mode is not set, count or atomic")
			case mode != "" && m != mode:
				return Coverage{}, posErrorf(lineNo, 0, "mode %s differs from the earlier mode %s", m, mode)
			}
			mode = m
			continue
		}
		if mode == "" {
			return Coverage{}, posErrorf(lineNo, 0, "Go cover profile must start with a \"mode:\" line")
		}
		key, stmts, count, err := parseGoCoverBlock(line)
		if err != nil {
			return Coverage{}, posErrorf(lineNo, 0, "%v", err)
		}
		old := c.goBlocks[key]
		c.goBlocks[key] = goBlock{stmts: max(old.stmts, stmts), covered: old.covered || count > 0}
	}
	if err := sc.Err(); err != nil {
		return Coverage{}, posErrorf(lineNo+1, 0, "%v", err)
	}
	if mode == "" {
		return Coverage{}, posErrorf(1, 0, "Go cover profile must start with a \"mode:\" line")
	}
	return c, nil
}

func parseGoCoverBlock(line string) (key string, stmts, count int64, err error) {
	fields := strings.Fields(line)
	if len(fields) < 3 {
		return "", 0, 0, errors.New("want \"file:start,end statements count\"")
	}
	n := len(fields)
	key = strings.Join(fields[:n-2], " ")
	colon := strings.LastIndexByte(key, ':')
	if colon <= 0 {
		return "", 0, 0, errors.New("block has no file name")
	}
	if err := checkGoCoverRange(key[colon+1:]); err != nil {
		return "", 0, 0, fmt.Errorf("block range %v", err)
	}
	stmts, err = strconv.ParseInt(fields[n-2], 10, 64)
	if err != nil || stmts < 0 {
		return "", 0, 0, errors.New("statement count is not a whole number")
	}
	count, err = strconv.ParseInt(fields[n-1], 10, 64)
	if err != nil || count < 0 {
		return "", 0, 0, errors.New("execution count is not a whole number")
	}
	return key, stmts, count, nil
}

// checkGoCoverRange checks "startLine.startCol,endLine.endCol".
func checkGoCoverRange(r string) error {
	start, end, ok := strings.Cut(r, ",")
	if !ok {
		return errors.New("has no comma")
	}
	for _, pos := range []string{start, end} {
		l, col, ok := strings.Cut(pos, ".")
		if !ok {
			return errors.New("has a position that is not line.column")
		}
		if _, err := strconv.ParseUint(l, 10, 32); err != nil {
			return errors.New("has a position that is not line.column")
		}
		if _, err := strconv.ParseUint(col, 10, 32); err != nil {
			return errors.New("has a position that is not line.column")
		}
	}
	return nil
}

// parseLCOV reads an LCOV tracefile. Per source file (SF: ... end_of_record) it uses the DA
// lines when present, so records for one file from several test runs merge line by line;
// a record with only LF/LH adds those totals.
func parseLCOV(data []byte) (Coverage, error) {
	c := Coverage{lcovLines: map[string]map[int64]bool{}}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64*1024), len(data)+1)
	var (
		lineNo       int
		sf           string
		inRecord     bool
		sawDA        bool
		lf, lh       int64 = -1, -1
		lhLine       int
		records      int
		recordLines  map[int64]bool
		recordsStart int
	)
	closeRecord := func() error {
		if !inRecord {
			return nil
		}
		if lh > lf && lf >= 0 {
			return posErrorf(lhLine, 0, "LH (lines hit) is more than LF (lines found) in the record that starts at line %d", recordsStart)
		}
		if !sawDA && lf >= 0 {
			c.lcovFixed[1] += lf
			c.lcovFixed[0] += max(lh, 0)
		}
		inRecord, sawDA, lf, lh = false, false, -1, -1
		records++
		return nil
	}
	for sc.Scan() {
		lineNo++
		line := strings.TrimSpace(sc.Text())
		// lcov 2.x writes "#" comment lines (lcov --comment) and reads them back.
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if line == "end_of_record" {
			if !inRecord {
				return Coverage{}, posErrorf(lineNo, 0, "end_of_record without SF:")
			}
			if err := closeRecord(); err != nil {
				return Coverage{}, err
			}
			continue
		}
		key, val, ok := strings.Cut(line, ":")
		if !ok {
			return Coverage{}, posErrorf(lineNo, 0, "want KEY:VALUE")
		}
		switch key {
		case "SF":
			if err := closeRecord(); err != nil {
				return Coverage{}, err
			}
			if val == "" {
				return Coverage{}, posErrorf(lineNo, 0, "SF: has no file name")
			}
			sf, inRecord, recordsStart = val, true, lineNo
			if c.lcovLines[sf] == nil {
				c.lcovLines[sf] = map[int64]bool{}
			}
			recordLines = c.lcovLines[sf]
		case "DA", "LF", "LH":
			if !inRecord {
				return Coverage{}, posErrorf(lineNo, 0, "%s: before any SF: line", key)
			}
			switch key {
			case "DA":
				parts := strings.Split(val, ",")
				if len(parts) < 2 {
					return Coverage{}, posErrorf(lineNo, 0, "DA: want line,hits")
				}
				ln, err1 := strconv.ParseInt(parts[0], 10, 64)
				hits, err2 := strconv.ParseInt(parts[1], 10, 64)
				if err1 != nil || err2 != nil || ln < 0 || hits < 0 {
					return Coverage{}, posErrorf(lineNo, 0, "DA: line and hits must be whole numbers")
				}
				sawDA = true
				recordLines[ln] = recordLines[ln] || hits > 0
			case "LF", "LH":
				n, err := strconv.ParseInt(val, 10, 64)
				if err != nil || n < 0 {
					return Coverage{}, posErrorf(lineNo, 0, "%s is not a whole number", key)
				}
				if key == "LF" {
					lf = n
				} else {
					lh, lhLine = n, lineNo
				}
			}
		}
	}
	if err := sc.Err(); err != nil {
		return Coverage{}, posErrorf(lineNo+1, 0, "%v", err)
	}
	if inRecord {
		return Coverage{}, posErrorf(recordsStart, 0, "the record that starts here has no end_of_record")
	}
	if records == 0 {
		return Coverage{}, posErrorf(1, 0, "no SF: records: not an LCOV tracefile")
	}
	return c, nil
}

// parseCobertura reads the root <coverage> element's lines-covered/lines-valid (preferred:
// exact counts) or line-rate, and checks the rest of the document is well-formed XML.
func parseCobertura(data []byte) (Coverage, error) {
	dec := xmlDecoder(data)
	var c Coverage
	seenRoot := false
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return Coverage{}, xmlError(dec, data, err)
		}
		start, ok := tok.(xml.StartElement)
		if !ok || seenRoot {
			continue
		}
		seenRoot = true
		line, col := dec.InputPos()
		if start.Name.Local != "coverage" {
			return Coverage{}, posErrorf(line, col, "root element is not Cobertura's <coverage>")
		}
		if c, err = coberturaRoot(start, line); err != nil {
			return Coverage{}, err
		}
	}
	if !seenRoot {
		return Coverage{}, posErrorf(0, 0, "no <coverage> element: not a Cobertura report")
	}
	return c, nil
}

func coberturaRoot(start xml.StartElement, line int) (Coverage, error) {
	attr := map[string]string{}
	for _, a := range start.Attr {
		attr[a.Name.Local] = strings.TrimSpace(a.Value)
	}
	valid, hasValid := attr["lines-valid"]
	covered, hasCovered := attr["lines-covered"]
	if hasValid && hasCovered {
		v, err1 := strconv.ParseInt(valid, 10, 64)
		cv, err2 := strconv.ParseInt(covered, 10, 64)
		if err1 != nil || err2 != nil || v < 0 || cv < 0 || cv > v {
			return Coverage{}, posErrorf(line, 0, "<coverage> lines-covered and lines-valid: want whole numbers with covered ≤ valid")
		}
		c := Coverage{Covered: cv, Total: v}
		if v > 0 {
			c.Percent = float64(cv) * 100 / float64(v)
		}
		return c, nil
	}
	rate, ok := attr["line-rate"]
	if !ok {
		return Coverage{}, posErrorf(line, 0, "<coverage> has neither lines-valid/lines-covered nor line-rate")
	}
	r, err := strconv.ParseFloat(rate, 64)
	if err != nil || !(r >= 0 && r <= 1) {
		return Coverage{}, posErrorf(line, 0, "<coverage> line-rate: want a number from 0 to 1")
	}
	return Coverage{RateOnly: true, Percent: r * 100}, nil
}

func evalCoverage(in Input, p params) Result {
	format := p.str("format")
	minPct := p.float("min")
	covs := make([]Coverage, len(in.Files))
	for i, f := range in.Files {
		c, err := ParseCoverage(f.Data, format)
		if err != nil {
			return fileError(f, err)
		}
		covs[i] = c
	}
	c, err := mergeCoverage(in.Files, covs)
	if err != nil {
		return errorf("%v", err)
	}
	if c.Total == 0 && !c.RateOnly {
		return errorf("%s: coverage report lists no statements or lines", in.Files[0].Name)
	}
	unit := "lines"
	if c.Format == FormatGoCover {
		unit = "statements"
	}
	counts := fmt.Sprintf(" (%d/%d %s)", c.Covered, c.Total, unit)
	if c.RateOnly {
		counts = " (line-rate)"
	}
	if c.Percent < minPct {
		return failf("coverage %s %% < %s %%%s", pct(c.Percent), trimFloat(minPct), counts)
	}
	return passf("coverage %s %% ≥ %s %%%s", pct(c.Percent), trimFloat(minPct), counts)
}
