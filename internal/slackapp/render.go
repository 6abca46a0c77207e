package slackapp

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/slack-go/slack"
)

// Action and block ids that the interaction handler recognises. They are
// part of the contract between rendered messages and the handler: renaming
// one makes buttons on already-posted messages unknown (400).
const (
	ActionApprove      = "shipgate_approve"
	ActionReject       = "shipgate_reject"
	BlockSignoff       = "shipgate_signoff"
	RejectCallbackID   = "shipgate_reject_modal"
	RejectReasonBlock  = "reason"
	RejectReasonAction = "reason_input"
)

// Slack's documented limits that rendering must respect.
const (
	maxSectionText  = 3000
	maxHeaderText   = 150
	maxEvidenceRows = 20
	maxReasonLen    = 2000
)

// Message is a rendered Slack message: Text is the notification and
// accessibility fallback, Blocks what clients display.
type Message struct {
	Text   string        `json:"text"`
	Blocks []slack.Block `json:"blocks"`
}

// WorkflowLink points at a release in the Temporal UI.
type WorkflowLink struct {
	UIBase     string // e.g. http://localhost:8233
	Namespace  string
	WorkflowID string // e.g. release/payments/1.4.0
}

// URL is <uiBase>/namespaces/<ns>/workflows/<escaped id>, or "" when the
// link is incomplete. The workflow id contains slashes, which must be
// escaped as one path segment.
func (l WorkflowLink) URL() string {
	if l.UIBase == "" || l.Namespace == "" || l.WorkflowID == "" {
		return ""
	}
	return strings.TrimRight(l.UIBase, "/") + "/namespaces/" + url.PathEscape(l.Namespace) +
		"/workflows/" + url.PathEscape(l.WorkflowID)
}

// EvidenceItem summarises one automated check of the gate.
type EvidenceItem struct {
	Name    string
	Outcome string // pass, fail, error, skip, ...
	Detail  string // e.g. "84.2 % >= 80 %"
}

// Approval is one recorded approval. SlackUserID is empty when the
// approver has none in the policy; Actor is then shown. Channel is how it
// came (slack, cli); anything but slack is shown.
type Approval struct {
	SlackUserID string
	Actor       string
	Channel     string
	At          time.Time
}

// Refusal is one rejection, or one attempt the workflow refused, with its reason.
type Refusal struct {
	SlackUserID string
	Actor       string
	Channel     string
	At          time.Time
	Reason      string
}

// SignoffResult is the final state of a signoff; empty while pending.
type SignoffResult string

const (
	SignoffPending   SignoffResult = ""
	SignoffApproved  SignoffResult = "approved"
	SignoffRejected  SignoffResult = "rejected"
	SignoffWithdrawn SignoffResult = "withdrawn" // release aborted or check no longer applies
)

// Signoff is everything a signoff message shows. The first post has no
// approvals, refusals or result; updates carry them. Once Result is set
// the buttons are removed.
type Signoff struct {
	ReleaseID string
	Service   string
	Version   string
	Gate      string
	Check     string
	Why       string // why the check applies, e.g. "contracts changed"
	Evidence  []EvidenceItem
	Approvers []string // Slack user ids (or names) of who may approve
	Required  int      // approvals required in total
	Link      WorkflowLink
	Approvals []Approval
	// Rejections were accepted (they block the gate); Refused are attempts
	// the workflow did not count (the author, a non-member, a stale button).
	Rejections []Refusal
	Refused    []Refusal
	Result     SignoffResult
	ResultNote string // e.g. "release aborted by alice"
	// Fingerprint is the workflow's fingerprint of what the message shows
	// (gate, check, evidence digests): the buttons carry it, and the
	// workflow refuses a click whose fingerprint is no longer its own.
	Fingerprint string
}

// Needed is how many approvals are still missing.
func (s Signoff) Needed() int {
	return max(s.Required-len(s.Approvals), 0)
}

// RenderSignoff renders a signoff request, or its update after decisions.
func RenderSignoff(s Signoff) Message {
	title := fmt.Sprintf("Signoff needed: %s %s", s.Service, s.Version)
	if s.Result != SignoffPending {
		title = fmt.Sprintf("Signoff %s: %s %s", s.Result, s.Service, s.Version)
	}
	blocks := []slack.Block{
		slack.NewHeaderBlock(plain(truncate(title, maxHeaderText))),
		section(fmt.Sprintf("*Release* `%s`\n*Gate* %s  ·  *Check* %s\n*Why* %s",
			escape(s.ReleaseID), escape(s.Gate), escape(s.Check), escapeOr(s.Why, "always required"))),
		section(evidenceText(s.Evidence)),
		section(fmt.Sprintf("*Who may approve* %s\n*Approvals still needed* %d of %d",
			mentions(s.Approvers), s.Needed(), s.Required)),
	}
	if len(s.Approvals) > 0 {
		var b strings.Builder
		b.WriteString("*Approved by*")
		for _, a := range s.Approvals {
			fmt.Fprintf(&b, "\n• %s %s", who(a.SlackUserID, a.Actor, a.Channel), when(a.At))
		}
		blocks = append(blocks, section(b.String()))
	}
	if len(s.Rejections) > 0 {
		blocks = append(blocks, section(refusalText("*Rejected by*", s.Rejections)))
	}
	if len(s.Refused) > 0 {
		blocks = append(blocks, section(refusalText("*Not counted*", s.Refused)))
	}
	fp := s.Fingerprint
	if s.Result == SignoffPending {
		value := ActionValue{ReleaseID: s.ReleaseID, Check: s.Check, Fingerprint: fp}.Encode()
		approve := slack.NewButtonBlockElement(ActionApprove, value, plain("Approve")).
			WithStyle(slack.StylePrimary).
			WithConfirm(slack.NewConfirmationBlockObject(
				plain("Approve this check?"),
				mrkdwn(fmt.Sprintf("You approve *%s* (%s) for `%s`, having reviewed the evidence above.",
					escape(s.Check), escape(s.Gate), escape(s.ReleaseID))),
				plain("Approve"), plain("Cancel")))
		reject := slack.NewButtonBlockElement(ActionReject, value, plain("Reject")).
			WithStyle(slack.StyleDanger)
		blocks = append(blocks, slack.NewActionBlock(BlockSignoff, approve, reject))
	} else {
		blocks = append(blocks, section(resultText(s.Result, s.ResultNote)))
	}
	blocks = append(blocks, footer(s.Link, "fingerprint "+fp))
	text := fmt.Sprintf("%s — %s / %s for %s", title, s.Gate, s.Check, s.ReleaseID)
	return Message{Text: text, Blocks: blocks}
}

func refusalText(title string, rs []Refusal) string {
	var b strings.Builder
	b.WriteString(title)
	for _, r := range rs {
		fmt.Fprintf(&b, "\n• %s %s: %s", who(r.SlackUserID, r.Actor, r.Channel), when(r.At), escape(truncate(r.Reason, 500)))
	}
	return b.String()
}

func resultText(r SignoffResult, note string) string {
	icon := map[SignoffResult]string{
		SignoffApproved:  ":white_check_mark:",
		SignoffRejected:  ":no_entry:",
		SignoffWithdrawn: ":heavy_minus_sign:",
	}[r]
	text := fmt.Sprintf("*Outcome* %s %s", icon, capitalize(string(r)))
	if note != "" {
		text += " — " + escape(note)
	}
	return text
}

func evidenceText(items []EvidenceItem) string {
	if len(items) == 0 {
		return "*Automated checks*\n_none for this gate_"
	}
	var b strings.Builder
	b.WriteString("*Automated checks*")
	for i, e := range items {
		row := fmt.Sprintf("\n%s *%s* %s", outcomeIcon(e.Outcome), escape(truncate(e.Name, 80)), escape(truncate(e.Outcome, 20)))
		if e.Detail != "" {
			row += " — " + escape(truncate(e.Detail, 120))
		}
		// Stop by count and by size (leaving room for the tail line), so
		// the section stays within Slack's limit and says what it left out.
		if i == maxEvidenceRows || b.Len()+len(row) > maxSectionText-64 {
			fmt.Fprintf(&b, "\n…and %d more in the Temporal UI", len(items)-i)
			break
		}
		b.WriteString(row)
	}
	return b.String()
}

func outcomeIcon(outcome string) string {
	switch strings.ToLower(outcome) {
	case "pass", "passed", "ok", "success":
		return ":white_check_mark:"
	case "fail", "failed", "failure", "error":
		return ":x:"
	default:
		return ":grey_question:"
	}
}

// StageChange announces that the release moved to another stage.
type StageChange struct {
	ReleaseID string
	From, To  string
	At        time.Time
	Link      WorkflowLink
}

// RenderStageChange renders a thread notification for a stage change.
func RenderStageChange(n StageChange) Message {
	text := fmt.Sprintf(":arrow_forward: `%s` moved from *%s* to *%s* %s",
		escape(n.ReleaseID), escape(n.From), escape(n.To), when(n.At))
	return notice(text, n.Link)
}

// WindowPhase tells whether a window opened or closed.
type WindowPhase string

const (
	WindowStarted WindowPhase = "started"
	WindowEnded   WindowPhase = "ended"
)

// Window announces a waiting window (testnet soak, canary watch, bake).
type Window struct {
	ReleaseID string
	Name      string // e.g. "testnet soak"
	Phase     WindowPhase
	Deadline  time.Time // when the window ends (Started) or ended (Ended)
	Note      string    // e.g. "no blocking issues"
	Link      WorkflowLink
}

// RenderWindow renders a thread notification for a window starting or ending.
func RenderWindow(n Window) Message {
	var text string
	if n.Phase == WindowEnded {
		text = fmt.Sprintf(":checkered_flag: *%s* window ended for `%s` %s", escape(n.Name), escape(n.ReleaseID), when(n.Deadline))
	} else {
		text = fmt.Sprintf(":hourglass_flowing_sand: *%s* window started for `%s`; it ends %s", escape(n.Name), escape(n.ReleaseID), when(n.Deadline))
	}
	if n.Note != "" {
		text += "\n" + escape(n.Note)
	}
	return notice(text, n.Link)
}

// GateBlocked announces that an automated check failed and the gate waits
// for new evidence (recheck) or an abort.
type GateBlocked struct {
	ReleaseID string
	Gate      string
	Check     string
	Reason    string
	Link      WorkflowLink
}

// RenderGateBlocked renders a thread notification for a blocked gate.
func RenderGateBlocked(n GateBlocked) Message {
	text := fmt.Sprintf(":octagonal_sign: Gate *%s* is blocked on *%s* for `%s`\n>%s\nProvide new evidence and `recheck`, or `abort`.",
		escape(n.Gate), escape(n.Check), escape(n.ReleaseID), escape(truncate(n.Reason, 1000)))
	return notice(text, n.Link)
}

// IssueReported announces a bug report against the release.
type IssueReported struct {
	ReleaseID string
	Reporter  string
	Severity  string
	Summary   string
	URL       string
	Blocking  bool
	Link      WorkflowLink
}

// RenderIssueReported renders a thread notification for a reported issue.
func RenderIssueReported(n IssueReported) Message {
	icon, blocking := ":beetle:", ""
	if n.Blocking {
		icon, blocking = ":rotating_light:", " — *blocks promotion*"
	}
	text := fmt.Sprintf("%s %s issue reported on `%s` by %s%s\n>%s",
		icon, escapeOr(n.Severity, "unclassified"), escape(n.ReleaseID), escape(n.Reporter), blocking, escape(truncate(n.Summary, 1000)))
	if n.URL != "" {
		text += fmt.Sprintf("\n<%s|Issue>", escapeURL(n.URL))
	}
	return notice(text, n.Link)
}

// Rollback announces a rollback, automatic or by a person.
type Rollback struct {
	ReleaseID   string
	FromVersion string
	ToVersion   string
	Reason      string
	Actor       string // empty for an automatic rollback
	Link        WorkflowLink
}

// RenderRollback renders a thread notification for a rollback.
func RenderRollback(n Rollback) Message {
	by := "automatically"
	if n.Actor != "" {
		by = "by " + escape(n.Actor)
	}
	text := fmt.Sprintf(":rewind: `%s` rolled back %s from *%s* to *%s*\n>%s",
		escape(n.ReleaseID), by, escape(n.FromVersion), escape(n.ToVersion), escape(truncate(n.Reason, 1000)))
	return notice(text, n.Link)
}

// Abort announces that the release was aborted.
type Abort struct {
	ReleaseID string
	Actor     string
	Reason    string
	Link      WorkflowLink
}

// RenderAbort renders a thread notification for an aborted release.
func RenderAbort(n Abort) Message {
	text := fmt.Sprintf(":stop_sign: `%s` was aborted by %s\n>%s",
		escape(n.ReleaseID), escapeOr(n.Actor, "shipgate"), escape(truncate(n.Reason, 1000)))
	return notice(text, n.Link)
}

// RejectModal is the modal a Reject click opens: it asks for a required
// reason and keeps the release, check, fingerprint and the click's
// response URL in private_metadata for the submission.
func RejectModal(v ActionValue) slack.ModalViewRequest {
	input := slack.NewPlainTextInputBlockElement(plain("What must change before this can be approved?"), RejectReasonAction).
		WithMultiline(true).
		WithMaxLength(maxReasonLen)
	reason := slack.NewInputBlock(RejectReasonBlock, plain("Reason"), plain("Recorded in the release's audit log."), input)
	return slack.ModalViewRequest{
		Type:            slack.VTModal,
		CallbackID:      RejectCallbackID,
		Title:           plain("Reject signoff"),
		Submit:          plain("Reject"),
		Close:           plain("Cancel"),
		PrivateMetadata: v.Encode(),
		Blocks: slack.Blocks{BlockSet: []slack.Block{
			section(fmt.Sprintf("You are rejecting *%s* for `%s`.", escape(v.Check), escape(v.ReleaseID))),
			reason,
		}},
	}
}

func notice(text string, link WorkflowLink) Message {
	text = truncate(text, maxSectionText)
	blocks := []slack.Block{section(text)}
	if u := link.URL(); u != "" {
		blocks = append(blocks, footer(link, ""))
	}
	return Message{Text: plainFallback(text), Blocks: blocks}
}

func footer(link WorkflowLink, extra string) slack.Block {
	var parts []string
	if u := link.URL(); u != "" {
		parts = append(parts, fmt.Sprintf("<%s|Open in Temporal UI>", escapeURL(u)))
	}
	if extra != "" {
		parts = append(parts, extra)
	}
	if len(parts) == 0 {
		parts = append(parts, "shipgate")
	}
	return slack.NewContextBlock("", mrkdwn(strings.Join(parts, "  ·  ")))
}

func plain(s string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.PlainTextType, s, false, false)
}

func mrkdwn(s string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.MarkdownType, s, false, false)
}

func section(s string) *slack.SectionBlock {
	return slack.NewSectionBlock(mrkdwn(truncate(s, maxSectionText)), nil, nil)
}

var slackUserID = regexp.MustCompile(`^[UW][A-Z0-9]{2,20}$`)

// who is a Slack mention when the id looks like one, else the actor name,
// with the channel when it was not Slack.
func who(slackID, actor, channel string) string {
	name := "<@" + slackID + ">"
	if !slackUserID.MatchString(slackID) {
		if actor == "" {
			actor = slackID
		}
		name = escapeOr(actor, "someone")
	}
	if channel != "" && channel != "slack" {
		name += " (" + escape(channel) + ")"
	}
	return name
}

func mentions(ids []string) string {
	if len(ids) == 0 {
		return "_nobody configured_"
	}
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if slackUserID.MatchString(id) {
			out = append(out, "<@"+id+">")
		} else {
			out = append(out, escape(id))
		}
	}
	return strings.Join(out, ", ")
}

// when renders a time that each reader sees in their own time zone, with
// a UTC fallback for clients that cannot format it.
func when(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return fmt.Sprintf("<!date^%d^{date_short_pretty} {time}|%s>", t.Unix(), t.UTC().Format("2006-01-02 15:04 UTC"))
}

// escape makes user-supplied text inert in mrkdwn: Slack gives &, < and >
// control meaning (links, mentions), so they must be entity-escaped.
func escape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

func escapeOr(s, fallback string) string {
	if strings.TrimSpace(s) == "" {
		return fallback
	}
	return escape(s)
}

// escapeURL keeps a URL from breaking out of the <url|label> syntax.
func escapeURL(u string) string {
	return strings.NewReplacer("|", "%7C", ">", "%3E", "<", "%3C", " ", "%20").Replace(u)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// plainFallback strips the mrkdwn link syntax enough for a notification line.
func plainFallback(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}
