package activities

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/slack-go/slack"
	"go.uber.org/zap"

	"github.com/shipgate/shipgate/internal/release"
	"github.com/shipgate/shipgate/internal/slackapp"
	"github.com/shipgate/shipgate/internal/telemetry"
)

// Notify tells the people following a release. Without Slack configured, notices go to the
// log, and nothing fails. With Slack, each release gets one top-level message in its channel
// and every notice is a reply in that message's thread.
type Notify struct {
	Log     *zap.Logger
	Metrics *telemetry.Metrics
	// Slack posts the notices; nil keeps them in the log only.
	Slack *slackapp.Poster
	// Channel is the worker's Slack channel id (SHIPGATE_SLACK_CHANNEL). A notice's own
	// channel (from the manifest or policy) is used instead when it is a channel id: names
	// such as "#releases" cannot be searched for the idempotency keys.
	Channel string
	// UIBase and Namespace link messages to the Temporal UI; empty UIBase: no link.
	UIBase, Namespace string
}

// Notify sends one notice. Slack errors are returned, so the activity is retried; the
// workflow bounds the retries and never fails a release on a notice. A retry never posts
// twice: the release's message and each notice carry idempotency keys in their metadata.
func (n *Notify) Notify(ctx context.Context, notice release.Notice) error {
	if n.Metrics != nil {
		n.Metrics.Notices.WithLabelValues(notice.Kind).Inc()
	}
	if n.Log != nil {
		n.Log.Info("release notice", zap.String("release", notice.ReleaseID), zap.String("kind", notice.Kind),
			zap.String("text", notice.Text), zap.String("key", notice.Key), zap.Time("at", notice.At))
	}
	if n.Slack == nil {
		return nil
	}
	defer n.observeSlack("notice", time.Now())
	return n.post(ctx, notice)
}

// observeSlack records how long one Slack delivery took (shipgate_slack_duration_seconds).
func (n *Notify) observeSlack(op string, start time.Time) {
	if n.Metrics != nil {
		n.Metrics.SlackSeconds.WithLabelValues(op).Observe(time.Since(start).Seconds())
	}
}

func (n *Notify) post(ctx context.Context, notice release.Notice) error {
	channel := n.channel(notice)
	if channel == "" {
		return fmt.Errorf("slack notice for %s: no channel id (set %s)", notice.ReleaseID, slackapp.EnvChannel)
	}
	if notice.ReleaseID == "" || notice.Key == "" {
		return fmt.Errorf("slack notice: release id and key are required (got %q, %q)", notice.ReleaseID, notice.Key)
	}
	link := slackapp.WorkflowLink{UIBase: n.UIBase, Namespace: n.Namespace, WorkflowID: notice.ReleaseID}
	// The release's message is looked up, not updated, on every notice: it says what the
	// thread is about and stays as first posted.
	thread, err := n.Slack.FindByKey(ctx, channel, "", notice.ReleaseID)
	if err != nil {
		return err
	}
	if thread == "" {
		if thread, err = n.Slack.PostOrUpdate(ctx, channel, notice.ReleaseID, releaseMessage(notice, link)); err != nil {
			return err
		}
	}
	_, err = n.Slack.PostThread(ctx, channel, thread, notice.Key, noticeMessage(notice, link))
	return err
}

// SignoffMessage posts the Slack message asking for one signoff, or updates it in place: at
// m.TS when the workflow knows it, else by its idempotency key, so a retry after a crash
// updates the message the first attempt posted instead of posting a second one. Without Slack
// it logs the message and succeeds with no ts.
func (n *Notify) SignoffMessage(ctx context.Context, m release.SignoffMessage) (release.SignoffPosted, error) {
	if n.Log != nil {
		n.Log.Info("signoff message", zap.String("release", m.ReleaseID), zap.String("check", m.Check),
			zap.String("result", m.Result), zap.Int("approvals", len(m.Approvals)), zap.Int("required", m.Required),
			zap.Int("refused", len(m.Refused)), zap.String("fingerprint", m.Fingerprint), zap.String("key", m.Key))
	}
	if n.Slack == nil {
		return release.SignoffPosted{}, nil
	}
	defer n.observeSlack("signoff", time.Now())
	channel := n.channel(release.Notice{Channel: m.Channel})
	if channel == "" {
		return release.SignoffPosted{}, fmt.Errorf("slack signoff message for %s: no channel id (set %s)", m.ReleaseID, slackapp.EnvChannel)
	}
	if m.Key == "" {
		return release.SignoffPosted{}, fmt.Errorf("slack signoff message for %s/%s: no idempotency key", m.ReleaseID, m.Check)
	}
	link := slackapp.WorkflowLink{UIBase: n.UIBase, Namespace: n.Namespace, WorkflowID: m.ReleaseID}
	msg := slackapp.RenderSignoff(slackapp.SignoffFrom(m, link))
	if m.TS != "" {
		return release.SignoffPosted{Channel: channel, TS: m.TS}, n.Slack.Update(ctx, channel, m.TS, m.Key, msg)
	}
	ts, err := n.Slack.PostOrUpdate(ctx, channel, m.Key, msg)
	return release.SignoffPosted{Channel: channel, TS: ts}, err
}

var channelID = regexp.MustCompile(`^[CGD][A-Z0-9]{6,20}$`)

func (n *Notify) channel(notice release.Notice) string {
	if channelID.MatchString(notice.Channel) {
		return notice.Channel
	}
	return n.Channel
}

// releaseMessage heads a release's thread.
func releaseMessage(notice release.Notice, link slackapp.WorkflowLink) slackapp.Message {
	text := fmt.Sprintf(":package: Release `%s`: shipgate posts its progress in this thread.", escape(notice.ReleaseID))
	return message(text, link)
}

var noticeIcons = map[string]string{
	release.NoticeStage:    ":arrow_forward:",
	release.NoticeWindow:   ":hourglass_flowing_sand:",
	release.NoticeGate:     ":octagonal_sign:",
	release.NoticeIssue:    ":beetle:",
	release.NoticeRollback: ":rewind:",
	release.NoticeAbort:    ":stop_sign:",
	release.NoticeDone:     ":checkered_flag:",
	release.NoticeAnalysis: ":bar_chart:",
}

// noticeMessage is one notice as a thread reply. Notices carry only text, so they are shown
// as the workflow wrote them, escaped, with an icon for their kind.
func noticeMessage(notice release.Notice, link slackapp.WorkflowLink) slackapp.Message {
	icon, ok := noticeIcons[notice.Kind]
	if !ok {
		icon = ":information_source:"
	}
	return message(icon+" "+escape(notice.Text), link)
}

// Slack caps a section's text at 3000 characters.
const maxSection = 3000

func message(text string, link slackapp.WorkflowLink) slackapp.Message {
	if len(text) > maxSection {
		text = strings.ToValidUTF8(text[:maxSection-len("…")], "") + "…"
	}
	blocks := []slack.Block{slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, text, false, false), nil, nil)}
	if u := link.URL(); u != "" {
		blocks = append(blocks, slack.NewContextBlock("", slack.NewTextBlockObject(slack.MarkdownType,
			"<"+strings.NewReplacer("|", "%7C", ">", "%3E", "<", "%3C", " ", "%20").Replace(u)+"|Open in Temporal UI>", false, false)))
	}
	fallback, _, _ := strings.Cut(text, "\n")
	return slackapp.Message{Text: fallback, Blocks: blocks}
}

// escape makes workflow text inert in mrkdwn, where &, < and > introduce links and mentions.
func escape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}
