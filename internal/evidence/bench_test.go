package evidence

import "testing"

// BenchmarkEvaluateG1 evaluates the evidence checks of gate G1 (unit coverage, integration
// tests, lint) on the real-tool fixtures, as one gate evaluation does.
func BenchmarkEvaluateG1(b *testing.B) {
	inputs := []Input{
		{Type: "junit", Files: []File{readFixture(b, "junit/gotestsum-pass.xml"), readFixture(b, "junit/mocha-pass.xml"), readFixture(b, "junit/pytest-pass.xml")}},
		{Type: "coverage", Files: []File{readFixture(b, "coverage/gocover-coverpkg.out")}, Params: map[string]string{"min": "60"}},
		{Type: "coverage", Files: []File{readFixture(b, "coverage/c8.lcov")}},
		{Type: "coverage", Files: []File{readFixture(b, "coverage/c8-cobertura.xml")}},
		{Type: "sarif", Files: []File{readFixture(b, "sarif/staticcheck-findings.sarif")}, Params: map[string]string{"maxWarnings": "unlimited"}},
	}
	var size int64
	for _, in := range inputs {
		for _, f := range in.Files {
			size += int64(len(f.Data))
		}
		if res := Evaluate(in); res.Outcome != Pass {
			b.Fatalf("%s: %s %s", in.Type, res.Outcome, res.Detail)
		}
	}
	b.SetBytes(size)
	b.ReportAllocs()
	for b.Loop() {
		for _, in := range inputs {
			Evaluate(in)
		}
	}
}
