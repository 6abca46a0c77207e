// Package chaos is shipgate's chaos suite (`go tool task chaos`): against the real Temporal dev
// server, the real worker binary, two geth --dev chains, the demo service and a real
// Prometheus, it SIGKILLs the worker at random moments of a release with contracts and
// analysis, kills and restarts the dev server in the middle of a soak, makes the traffic
// backend refuse each step and cancels a release at each stage, and checks from outside that
// every traffic step was applied once, every contract step sent one transaction, and every
// way out left production traffic and proxies on the previous version. The suite itself is
// TestChaos (suite_test.go), run only with -chaos; this file's package holds the checks and
// the summary table, which are unit-tested.
package chaos
