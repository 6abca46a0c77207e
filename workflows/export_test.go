package workflows

// SetIntervalsPerRun shortens every run of AnalysisWorkflow in this test process to n
// intervals, so a test sees several continues-as-new quickly; the returned func restores it.
// Test-only: a release carries no such knob in its input.
func SetIntervalsPerRun(n int) (restore func()) {
	old := intervalsPerRun
	intervalsPerRun = n
	return func() { intervalsPerRun = old }
}
