package devstack

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/slack-go/slack"

	"github.com/shipgate/shipgate/internal/devstack/slackws"
	"github.com/shipgate/shipgate/internal/release"
	"github.com/shipgate/shipgate/internal/slackapp"
)

// SlackApprovers are the demo's approvers in Slack. Each round they read the channel through
// the Web API (the stack's stand-in), print every signoff message of the release as it is
// posted and updated, and press Approve on the open ones, past its confirm dialog, as policy
// members who are not the author: a signed block_actions delivery to the worker's
// /slack/interactions, exactly what Slack sends. The worker's ephemeral answers come back to
// a response URL served here and are printed too.
type SlackApprovers struct {
	api      *slack.Client
	channel  string
	delivery slackws.Delivery
	in       release.Input
	pol      *release.Policy
	out      *LockedWriter
	replyURL string
	shown    map[string]string // message ts → what was last printed
	clicked  map[string]bool   // check/member/fingerprint
	names    map[string]string // Slack id → member id
}

// LockedWriter serialises writes from the progress loop and the reply listener.
type LockedWriter struct {
	mu sync.Mutex
	W  io.Writer
}

func (l *LockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.W.Write(p)
}

// NewSlackApprovers connects the demo approvers to the stand-in and to the worker's
// interaction endpoint; stop ends their reply listener.
func NewSlackApprovers(cfg SlackConfig, interactionsURL string, r Release, out *LockedWriter) (a *SlackApprovers, stop func(), err error) {
	in := r.In
	a = &SlackApprovers{
		api: slack.New(slackBotToken, slack.OptionAPIURL(cfg.APIURL)), channel: cfg.Channel,
		delivery: slackws.Delivery{Endpoint: interactionsURL, SigningSecret: cfg.SigningSecret, HTTP: &http.Client{Timeout: 5 * time.Second}},
		in:       in, pol: r.Policy, out: out, shown: map[string]string{}, clicked: map[string]bool{}, names: map[string]string{},
	}
	for _, g := range r.Policy.Groups {
		for _, m := range g.Members {
			if m.Slack != "" {
				a.names[m.Slack] = m.ID
			}
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, err
	}
	a.replyURL = "http://" + ln.Addr().String() + "/"
	srv := &http.Server{Handler: http.HandlerFunc(a.reply), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return a, func() { _ = srv.Close() }, nil
}

// reply prints what the worker told a clicker, as Slack would show it to them alone.
func (a *SlackApprovers) reply(w http.ResponseWriter, r *http.Request) {
	var m slack.WebhookMessage
	if err := json.NewDecoder(r.Body).Decode(&m); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	fmt.Fprintf(a.out, "%s     slack → %s (only to them): %s\n", time.Now().Format("15:04:05"), strings.Trim(r.URL.Path, "/"), m.Text)
}

// Round prints the release's signoff messages that changed and clicks Approve where people are
// still needed. It returns the clicks, for the progress log.
func (a *SlackApprovers) Round(ctx context.Context, st release.Status) ([]string, error) {
	h, err := a.api.GetConversationHistoryContext(ctx, &slack.GetConversationHistoryParameters{
		ChannelID: a.channel, Limit: 200, IncludeAllMetadata: true})
	if err != nil {
		return nil, fmt.Errorf("slack history: %w", err)
	}
	msgs := slices.Clone(h.Messages)
	slices.Reverse(msgs) // oldest first
	var did []string
	for _, m := range msgs {
		key, _ := m.Metadata.EventPayload[slackapp.MetadataKeyField].(string)
		prefix, check, ok := strings.Cut(key, "/signoff/")
		if !ok || !strings.HasPrefix(prefix, st.ID+"/") {
			continue
		}
		if line := a.summary(m, check); a.shown[m.Timestamp] != line {
			verb := "✎ updated"
			if a.shown[m.Timestamp] == "" {
				verb = "✉ posted "
			}
			a.shown[m.Timestamp] = line
			fmt.Fprintf(a.out, "%s   slack %s %s\n", time.Now().Format("15:04:05"), verb, line)
		}
		clicks, err := a.approve(ctx, st, m, check)
		did = append(did, clicks...)
		if err != nil {
			return did, err
		}
	}
	return did, nil
}

// approve clicks Approve on an open message for as many eligible members as are still needed.
func (a *SlackApprovers) approve(ctx context.Context, st release.Status, m slack.Message, check string) ([]string, error) {
	btn, _, ok := slackws.Button(m, slackapp.ActionApprove)
	if !ok {
		return nil, nil
	}
	v, err := slackapp.ParseActionValue("button", btn.Value)
	if err != nil {
		return nil, err
	}
	var cs release.CheckStatus
	for _, g := range st.Gates {
		for _, c := range g.Checks {
			if c.Name == check {
				cs = c
			}
		}
	}
	_, pc := a.pol.FindCheck(check)
	if pc == nil || cs.State != release.CheckPending {
		return nil, nil
	}
	var did []string
	need := cs.Needed - len(cs.Approvals)
	for _, mem := range a.pol.Groups[pc.Group].Members {
		key := check + "/" + mem.ID + "/" + v.Fingerprint
		if need <= 0 {
			break
		}
		if a.pol.SamePerson(mem.ID, a.in.Manifest.Author) || mem.Slack == "" || a.clicked[key] || slices.ContainsFunc(cs.Approvals, func(x release.Approval) bool { return x.Actor == mem.ID }) {
			continue
		}
		a.clicked[key] = true
		need--
		code, err := a.delivery.Click(ctx, mem.Slack, a.channel, m, slackapp.ActionApprove, a.replyURL+mem.ID)
		if err != nil {
			return did, fmt.Errorf("%s's click: %w", mem.ID, err)
		}
		if code != http.StatusOK {
			return did, fmt.Errorf("%s's click on %s: the worker answered %d", mem.ID, check, code)
		}
		did = append(did, fmt.Sprintf("%s (<@%s>) confirms \"Approve this check?\" on %s in Slack: ack %d", mem.ID, mem.Slack, check, code))
	}
	return did, nil
}

var (
	reNeeded  = regexp.MustCompile(`\*Approvals still needed\* (\d+ of \d+)`)
	reMention = regexp.MustCompile(`<@([A-Z0-9]+)>`)
	reIcon    = regexp.MustCompile(`:[a-z_]+: `)
)

// summary is one line saying what a signoff message shows now.
func (a *SlackApprovers) summary(m slack.Message, check string) string {
	parts := []string{check}
	for _, b := range m.Blocks.BlockSet {
		switch b := b.(type) {
		case *slack.HeaderBlock:
			parts[0] = b.Text.Text + " — " + check
		case *slack.SectionBlock:
			if b.Text == nil {
				continue
			}
			t := b.Text.Text
			switch {
			case reNeeded.MatchString(t):
				parts = append(parts, reNeeded.FindStringSubmatch(t)[1]+" still needed")
			case strings.HasPrefix(t, "*Approved by*"):
				parts = append(parts, "approved by "+a.people(t))
			case strings.HasPrefix(t, "*Rejected by*"):
				parts = append(parts, "rejected by "+a.people(t))
			case strings.HasPrefix(t, "*Not counted*"):
				parts = append(parts, "not counted: "+a.people(t))
			case strings.HasPrefix(t, "*Outcome*"):
				parts = append(parts, "outcome: "+reIcon.ReplaceAllString(strings.TrimPrefix(t, "*Outcome* "), ""))
			}
		}
	}
	if _, _, ok := slackws.Button(m, slackapp.ActionApprove); ok {
		parts = append(parts, "[Approve] [Reject]")
	} else {
		parts = append(parts, "buttons removed")
	}
	return strings.Join(parts, " · ")
}

func (a *SlackApprovers) people(text string) string {
	var out []string
	for _, m := range reMention.FindAllStringSubmatch(text, -1) {
		if id, ok := a.names[m[1]]; ok {
			out = append(out, id)
		} else {
			out = append(out, m[1])
		}
	}
	return strings.Join(out, ", ")
}
