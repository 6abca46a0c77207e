// Package crashpoint lets the crash tests kill the worker at a named point of an activity
// (applied, not yet recorded in history) to prove that a retry on another worker does the
// work once. It is test-only code: the points exist only in a binary built with
// `-tags crashpoints` (the crash tests build their worker so); in every other build Reach
// does nothing and the binary holds no way to kill itself.
//
// A test names the point in the worker's environment, SHIPGATE_TEST_CRASH_AT. The points:
// "sign" (a transaction signed and stored), "broadcast" (sent), "confirm" (while waiting for
// confirmations), "propose" (a governed proposal built), "watch" (watching a proposal on
// chain; "watch/approved", "watch/ready" for one wait); "sign/<op>", "broadcast/<op>" and
// "confirm/<op>" stop only at that operation (e.g. "broadcast/exec-safe"); "traffic:<step>"
// (the traffic backend applied the step, e.g. "traffic:production-25").
package crashpoint

// Env names the crash point a test set for the worker process (read only by a crashpoints build).
const Env = "SHIPGATE_TEST_CRASH_AT"
