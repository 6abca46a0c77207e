// Package slackapp is shipgate's Slack side: Block Kit rendering of signoff
// requests and release notifications, the interaction handler that turns
// verified button clicks and modal submissions into approval decisions, a
// Web API poster that posts or updates release messages idempotently, and
// a Socket Mode adapter that feeds the same handler logic.
//
// The package knows nothing of Temporal or of other shipgate packages: the
// worker adapts its domain types to the plain input structs here and
// implements Decider on top of workflow signals and queries.
package slackapp
