package evidence

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
)

// govulncheck -json writes a stream of JSON objects, each with one of the keys config,
// progress, SBOM, osv or finding (or, after jq -s, a JSON array of them). A finding's trace
// starts at the vulnerable symbol: when its first frame names a function, the code calls it
// (reachable); with only a package it is imported; with only a module it is required.
// govulncheck reports an OSV at each level it reaches, so the deepest level per OSV decides.
//
// How deep a scan looks is in the config message, and a coarser scan must never read as a
// clean one (govulnScope has the rule):
//   - scan_level "symbol" (the default; older govulncheck wrote none): as above.
//   - scan_level "package" (-scan package): an imported vulnerable package may be called or
//     not, so a package-level finding fails the check.
//   - scan_level "module" (-scan module): a required vulnerable module may be called or not,
//     so a module-level finding fails the check.
//   - scan_mode "query" (-mode query module@version): the code is not scanned at all; the
//     OSV entries it prints are the queried modules' vulnerabilities. Any fails the check, and
//     a query without them is refused: it says nothing about the release's code.

var govulnParams = map[string]paramSpec{
	"failUnreachable": {kind: kindBool, def: "false", stricter: Higher, doc: "also fail on vulnerabilities in imported packages that the code does not call; default false"},
	"symbolScan":      {kind: kindBool, def: "true", stricter: Higher, doc: "require govulncheck's symbol-level scan (the default -scan symbol): a -scan package or -scan module run fails, since it cannot tell whether the code calls a vulnerability; default true"},
}

// Vulnerability levels, from least to most severe.
const (
	VulnRequired  = "module"   // a required module is affected, no affected package imported
	VulnImported  = "package"  // an affected package is imported, no affected function called
	VulnReachable = "function" // an affected function is called
)

var vulnRank = map[string]int{VulnRequired: 1, VulnImported: 2, VulnReachable: 3}

// Scan levels and modes as the config message names them.
const (
	ScanSymbol  = "symbol"
	ScanPackage = "package"
	ScanModule  = "module"
	ModeSource  = "source"
	ModeBinary  = "binary"
	ModeQuery   = "query"
)

// Vuln is one OSV entry the scan found, at the deepest level it reached.
type Vuln struct {
	ID           string
	Level        string // VulnRequired, VulnImported or VulnReachable
	Module       string
	Version      string
	FixedVersion string
	Symbol       string // package.Function (or Receiver.Method) for reachable ones
}

// GovulnReport is one govulncheck -json stream.
type GovulnReport struct {
	ScannerVersion string
	ScanLevel      string   // ScanSymbol, ScanPackage or ScanModule
	ScanMode       string   // ModeSource, ModeBinary or ModeQuery
	Vulns          []Vuln   // sorted by ID
	Queried        []string // -mode query: the OSV ids of the queried modules, sorted
}

type govulnMessage struct {
	Config *struct {
		ProtocolVersion string `json:"protocol_version"`
		ScannerName     string `json:"scanner_name"`
		ScannerVersion  string `json:"scanner_version"`
		ScanLevel       string `json:"scan_level"`
		ScanMode        string `json:"scan_mode"`
	} `json:"config"`
	OSV *struct {
		ID string `json:"id"`
	} `json:"osv"`
	Finding *struct {
		OSV          string `json:"osv"`
		FixedVersion string `json:"fixed_version"`
		Trace        []struct {
			Module   string `json:"module"`
			Version  string `json:"version"`
			Package  string `json:"package"`
			Function string `json:"function"`
			Receiver string `json:"receiver"`
		} `json:"trace"`
	} `json:"finding"`
}

// ParseGovulncheck parses a govulncheck -json stream, or the JSON array jq -s makes of one.
func ParseGovulncheck(data []byte) (GovulnReport, error) {
	data, err := evidenceText(data)
	if err != nil {
		return GovulnReport{}, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	inArray := bytes.HasPrefix(bytes.TrimLeft(data, " \t\r\n"), []byte("["))
	if inArray {
		if _, err := dec.Token(); err != nil {
			return GovulnReport{}, jsonError(data, err, 0)
		}
	}
	var rep GovulnReport
	sawConfig := false
	byID := map[string]*Vuln{}
	queried := map[string]bool{}
	for {
		start := dec.InputOffset()
		if inArray && !dec.More() {
			if _, err := dec.Token(); err != nil {
				if errors.Is(err, io.EOF) {
					err = io.ErrUnexpectedEOF
				}
				return GovulnReport{}, jsonError(data, err, start)
			}
			if err := jsonTrailing(dec, data); err != nil {
				return GovulnReport{}, err
			}
			break
		}
		var msg govulnMessage
		err := dec.Decode(&msg)
		if errors.Is(err, io.EOF) {
			if inArray {
				return GovulnReport{}, jsonError(data, io.ErrUnexpectedEOF, start)
			}
			break
		}
		l, c := lineCol(data, start+int64(len(data[start:])-len(bytes.TrimLeft(data[start:], " \t\r\n,"))))
		var typ *json.UnmarshalTypeError
		if errors.As(err, &typ) && typ.Field == "" {
			return GovulnReport{}, posErrorf(l, c, "a message is not a JSON object")
		}
		if err != nil {
			return GovulnReport{}, jsonError(data, err, start)
		}
		switch {
		case msg.Config != nil:
			if sawConfig {
				return GovulnReport{}, posErrorf(l, c, "second config message: one file holds one scan")
			}
			sawConfig = true
			rep.ScannerVersion, rep.ScanLevel, rep.ScanMode = msg.Config.ScannerVersion, msg.Config.ScanLevel, msg.Config.ScanMode
			if rep.ScanLevel == "" {
				rep.ScanLevel = ScanSymbol // govulncheck before -scan existed scanned symbols only
			}
			if rep.ScanMode == "" {
				rep.ScanMode = ModeSource
			}
			switch {
			case rep.ScanLevel != ScanSymbol && rep.ScanLevel != ScanPackage && rep.ScanLevel != ScanModule:
				return GovulnReport{}, posErrorf(l, c, "config scan_level is not symbol, package or module")
			case rep.ScanMode != ModeSource && rep.ScanMode != ModeBinary && rep.ScanMode != ModeQuery:
				return GovulnReport{}, posErrorf(l, c, "config scan_mode is not source, binary or query (for -mode extract, scan the extracted blob with -mode binary)")
			}
		case msg.OSV != nil:
			if !sawConfig {
				return GovulnReport{}, posErrorf(l, c, "osv entry before the config message")
			}
			if msg.OSV.ID == "" {
				return GovulnReport{}, posErrorf(l, c, "osv entry has no id")
			}
			queried[msg.OSV.ID] = true
		case msg.Finding != nil:
			if !sawConfig {
				return GovulnReport{}, posErrorf(l, c, "finding before the config message")
			}
			f := msg.Finding
			if f.OSV == "" {
				return GovulnReport{}, posErrorf(l, c, "finding has no osv id")
			}
			if len(f.Trace) == 0 || f.Trace[0].Module == "" {
				return GovulnReport{}, posErrorf(l, c, "finding has no trace with a module")
			}
			top := f.Trace[0]
			v := Vuln{ID: f.OSV, Level: VulnRequired, Module: top.Module, Version: top.Version, FixedVersion: f.FixedVersion}
			switch {
			case top.Function != "":
				v.Level = VulnReachable
				sym := top.Function
				if top.Receiver != "" {
					sym = strings.TrimPrefix(top.Receiver, "*") + "." + sym
				}
				v.Symbol = top.Package + "." + sym
			case top.Package != "":
				v.Level = VulnImported
			}
			if old, ok := byID[v.ID]; !ok || vulnRank[v.Level] > vulnRank[old.Level] {
				byID[v.ID] = &v
			}
		}
	}
	if !sawConfig {
		return GovulnReport{}, posErrorf(1, 0, "no config message: not govulncheck -json output")
	}
	for _, v := range byID {
		rep.Vulns = append(rep.Vulns, *v)
	}
	sort.Slice(rep.Vulns, func(i, j int) bool { return rep.Vulns[i].ID < rep.Vulns[j].ID })
	if rep.ScanMode == ModeQuery {
		for id := range queried {
			rep.Queried = append(rep.Queried, id)
		}
		sort.Strings(rep.Queried)
	}
	return rep, nil
}

// govulnScope is the rule for what a finding means at a scan's depth: whether it is
// reachable, imported only, required only (both pass unless the policy says otherwise), or
// undecided — a coarser scan cannot tell whether the code calls it, so it fails.
func govulnScope(scanLevel, vulnLevel string) string {
	switch {
	case vulnLevel == VulnReachable:
		return "reachable"
	case scanLevel == ScanModule, vulnLevel == VulnImported && scanLevel == ScanPackage:
		return "undecided"
	case vulnLevel == VulnImported:
		return "imported"
	}
	return "required"
}

func evalGovulncheck(in Input, p params) Result {
	var reachable, undecided, imported, required, queried, coarse []string
	for _, f := range in.Files {
		r, err := ParseGovulncheck(f.Data)
		if err != nil {
			return fileError(f, err)
		}
		if r.ScanMode == ModeQuery {
			if len(r.Queried) == 0 && len(r.Vulns) == 0 {
				return errorf("%s: a govulncheck -mode query run looks up named module versions, not the release's code: run govulncheck -json ./... in the module", f.Name)
			}
			queried = append(queried, r.Queried...)
			for _, v := range r.Vulns {
				if !slices.Contains(r.Queried, v.ID) {
					queried = append(queried, v.ID)
				}
			}
			continue
		}
		if r.ScanLevel != ScanSymbol {
			coarse = append(coarse, "-scan "+r.ScanLevel)
			if p.bool("symbolScan") {
				return failf("%s: a govulncheck -scan %s run cannot tell whether the code calls a vulnerability; this check needs the symbol-level scan (govulncheck -json ./..., the default -scan symbol)", f.Name, r.ScanLevel)
			}
		}
		for _, v := range r.Vulns {
			desc := fmt.Sprintf("%s (%s@%s", v.ID, v.Module, v.Version)
			if v.FixedVersion != "" {
				desc += ", fixed in " + v.FixedVersion
			}
			desc += ")"
			switch govulnScope(r.ScanLevel, v.Level) {
			case "reachable":
				reachable = append(reachable, desc+" via "+v.Symbol)
			case "undecided":
				undecided = append(undecided, desc)
			case "imported":
				imported = append(imported, desc)
			default:
				required = append(required, v.ID)
			}
		}
	}
	var notes []string
	if len(imported) > 0 {
		notes = append(notes, fmt.Sprintf("%d imported but not called: %s", len(imported), listNames(imported, 3)))
	}
	if len(required) > 0 {
		notes = append(notes, fmt.Sprintf("%d in required modules only: %s", len(required), listNames(required, 3)))
	}
	tail := ""
	if len(notes) > 0 {
		tail = "; " + strings.Join(notes, "; ")
	}
	var problems []string
	if len(reachable) > 0 {
		problems = append(problems, fmt.Sprintf("%d reachable %s: %s", len(reachable), vulnWord(len(reachable)), listNames(reachable, 3)))
	}
	if len(undecided) > 0 {
		problems = append(problems, fmt.Sprintf("%d %s that a %s scan cannot tell reachable or not: %s; run govulncheck at the default -scan symbol to tell",
			len(undecided), vulnWord(len(undecided)), strings.Join(uniq(coarse), "/"), listNames(undecided, 3)))
	}
	if len(queried) > 0 {
		queried = uniq(queried)
		problems = append(problems, fmt.Sprintf("%d known %s in the queried modules (-mode query does not scan the code): %s", len(queried), vulnWord(len(queried)), listNames(queried, 3)))
	}
	switch {
	case len(problems) > 0:
		return failf("%s%s", strings.Join(problems, "; "), tail)
	case len(imported) > 0 && p.bool("failUnreachable"):
		return failf("no reachable vulnerabilities, but failUnreachable is set%s", tail)
	case slices.Contains(coarse, "-scan "+ScanModule):
		return passf("no vulnerable module required (%s)%s", strings.Join(uniq(coarse), ", "), tail)
	case len(coarse) > 0:
		return passf("no vulnerable package imported (%s)%s", strings.Join(uniq(coarse), ", "), tail)
	}
	return passf("no reachable vulnerabilities%s", tail)
}

func vulnWord(n int) string {
	if n == 1 {
		return "vulnerability"
	}
	return "vulnerabilities"
}
