package evidence

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
)

// govulncheck -json writes a stream of JSON objects, each with one of the keys config,
// progress, SBOM, osv or finding. A finding's trace starts at the vulnerable symbol: when
// its first frame names a function, the code calls it (reachable); with only a package it
// is imported; with only a module it is required. govulncheck reports an OSV at each level
// it reaches, so the deepest level per OSV decides.

var govulnParams = map[string]paramSpec{
	"failUnreachable": {kind: kindBool, def: "false", stricter: Higher, doc: "also fail on vulnerabilities in imported packages that the code does not call; default false"},
}

// Vulnerability levels, from least to most severe.
const (
	VulnRequired  = "module"   // a required module is affected, no affected package imported
	VulnImported  = "package"  // an affected package is imported, no affected function called
	VulnReachable = "function" // an affected function is called
)

var vulnRank = map[string]int{VulnRequired: 1, VulnImported: 2, VulnReachable: 3}

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
	ScanLevel      string
	Vulns          []Vuln // sorted by ID
}

type govulnMessage struct {
	Config *struct {
		ProtocolVersion string `json:"protocol_version"`
		ScannerName     string `json:"scanner_name"`
		ScannerVersion  string `json:"scanner_version"`
		ScanLevel       string `json:"scan_level"`
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

// ParseGovulncheck parses a govulncheck -json stream.
func ParseGovulncheck(data []byte) (GovulnReport, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	var rep GovulnReport
	sawConfig := false
	byID := map[string]*Vuln{}
	for {
		start := dec.InputOffset()
		var msg govulnMessage
		err := dec.Decode(&msg)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return GovulnReport{}, jsonError(data, err, start)
		}
		l, c := lineCol(data, start+int64(len(data[start:])-len(bytes.TrimLeft(data[start:], " \t\r\n"))))
		switch {
		case msg.Config != nil:
			sawConfig = true
			rep.ScannerVersion, rep.ScanLevel = msg.Config.ScannerVersion, msg.Config.ScanLevel
		case msg.Finding != nil:
			if !sawConfig {
				return GovulnReport{}, posErrorf(l, c, "finding before the config message")
			}
			f := msg.Finding
			if f.OSV == "" {
				return GovulnReport{}, posErrorf(l, c, "finding has no osv id")
			}
			if len(f.Trace) == 0 || f.Trace[0].Module == "" {
				return GovulnReport{}, posErrorf(l, c, "finding %s has no trace with a module", f.OSV)
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
	return rep, nil
}

func evalGovulncheck(in Input, p params) Result {
	var reachable, imported, required []string
	for _, f := range in.Files {
		r, err := ParseGovulncheck(f.Data)
		if err != nil {
			return fileError(f, err)
		}
		for _, v := range r.Vulns {
			desc := fmt.Sprintf("%s (%s@%s", v.ID, v.Module, v.Version)
			if v.FixedVersion != "" {
				desc += ", fixed in " + v.FixedVersion
			}
			desc += ")"
			switch v.Level {
			case VulnReachable:
				reachable = append(reachable, desc+" via "+v.Symbol)
			case VulnImported:
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
	switch {
	case len(reachable) > 0:
		word := "vulnerabilities"
		if len(reachable) == 1 {
			word = "vulnerability"
		}
		return failf("%d reachable %s: %s%s", len(reachable), word, listNames(reachable, 3), tail)
	case len(imported) > 0 && p.bool("failUnreachable"):
		return failf("no reachable vulnerabilities, but failUnreachable is set%s", tail)
	}
	return passf("no reachable vulnerabilities%s", tail)
}
