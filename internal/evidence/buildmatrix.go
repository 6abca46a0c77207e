package evidence

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// A build matrix result is either JUnit XML with one <testsuite> per platform, named by the
// platform (<testsuite name="linux/amd64">), or a JSON list:
//
//	[{"platform": "linux/amd64", "status": "success"}, {"platform": "darwin/arm64", "status": "failure"}]
//
// where status is the CI job's conclusion and only "success" is green; an entry may name the
// commit it built ("commit": full SHA), which must then be the release's. Every platform named
// in the param platforms (comma-separated) must appear and every entry for it be green.

var buildMatrixParams = map[string]paramSpec{
	"platforms": {kind: kindList, stricter: Superset, doc: "required: comma-separated platforms that must be green, e.g. linux/amd64,darwin/arm64"},
}

// PlatformResult is one platform's build outcome.
type PlatformResult struct {
	Platform string
	Green    bool
	Detail   string // e.g. "failure" or "2 failed: TestA, TestB"
	Commit   string // the commit built, when the entry names it
}

// ParseBuildMatrix parses a build matrix file in either form.
func ParseBuildMatrix(data []byte) ([]PlatformResult, error) {
	data, err := evidenceText(data)
	if err != nil {
		return nil, err
	}
	trimmed := bytes.TrimSpace(data)
	if bytes.HasPrefix(trimmed, []byte("<")) {
		rep, err := ParseJUnit(data)
		if err != nil {
			return nil, err
		}
		var out []PlatformResult
		var walk func([]JUnitSuite)
		walk = func(suites []JUnitSuite) {
			for _, s := range suites {
				r := s.report()
				out = append(out, PlatformResult{Platform: s.Name, Green: r.Failures+r.Errors == 0, Detail: junitSummary(r, junitLimits{minRate: 100, maxSkipped: unlimited})})
				walk(s.Suites)
			}
		}
		walk(rep.Suites)
		return out, nil
	}
	var entries []struct {
		Platform *string `json:"platform"`
		Status   *string `json:"status"`
		Commit   string  `json:"commit"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&entries); err != nil {
		return nil, jsonError(data, err, dec.InputOffset())
	}
	if err := jsonTrailing(dec, data); err != nil {
		return nil, err
	}
	if entries == nil {
		return nil, posErrorf(1, 1, "want a JSON list of {\"platform\", \"status\"} or JUnit XML")
	}
	out := make([]PlatformResult, 0, len(entries))
	for i, e := range entries {
		if e.Platform == nil || *e.Platform == "" || e.Status == nil || *e.Status == "" {
			return nil, fmt.Errorf("entry [%d]: platform and status are required", i)
		}
		out = append(out, PlatformResult{Platform: *e.Platform, Green: *e.Status == "success", Detail: *e.Status, Commit: e.Commit})
	}
	return out, nil
}

func evalBuildMatrix(in Input, p params) Result {
	want := p.list("platforms")
	if len(want) == 0 {
		return errorf("buildmatrix check needs the param platforms, e.g. linux/amd64,darwin/arm64")
	}
	var all []PlatformResult
	for _, f := range in.Files {
		r, err := ParseBuildMatrix(f.Data)
		if err != nil {
			return fileError(f, err)
		}
		var commits []string
		for _, p := range r {
			commits = append(commits, p.Commit)
		}
		if other := otherCommit(f, in.Commit, commits); other != "" {
			return failf("%s", other)
		}
		all = append(all, r...)
	}
	var missing, red []string
	for _, platform := range want {
		found := false
		for _, r := range all {
			if r.Platform != platform {
				continue
			}
			found = true
			if !r.Green {
				red = append(red, fmt.Sprintf("%s (%s)", platform, r.Detail))
			}
		}
		if !found {
			missing = append(missing, platform)
		}
	}
	var problems []string
	if len(red) > 0 {
		problems = append(problems, "not green: "+strings.Join(red, ", "))
	}
	if len(missing) > 0 {
		problems = append(problems, "missing: "+strings.Join(missing, ", "))
	}
	if len(problems) > 0 {
		return failf("%s", strings.Join(problems, "; "))
	}
	return passf("%s green: %s", plural(len(want), "platform"), strings.Join(want, ", "))
}
