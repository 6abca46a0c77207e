package slackapp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/slack-go/slack"
	"go.uber.org/zap"
)

// Decision is a verified approve or reject from Slack, ready to become a
// workflow signal. Actor is the identity the workflow knows the clicker by.
type Decision struct {
	ReleaseID   string
	Check       string
	Fingerprint string
	SlackUserID string
	Actor       string
	Action      string // ActionNameApprove or ActionNameReject
	Reason      string // required for reject
	ResponseURL string
	TriggerID   string
}

// Decision actions, as the workflow's signal names.
const (
	ActionNameApprove = "approve"
	ActionNameReject  = "reject"
)

// Outcome is the workflow's verdict on a decision, shown to the clicker.
type Outcome struct {
	Accepted bool
	Message  string // e.g. "approval recorded, 1 more needed" or why it was refused
}

// Decider delivers decisions to the release workflow.
type Decider interface {
	// Decide delivers a verified decision; it returns the workflow's verdict for the clicker.
	Decide(ctx context.Context, d Decision) (Outcome, error)
	// CurrentFingerprint is what the release shows now for that check ("" if unknown).
	CurrentFingerprint(ctx context.Context, releaseID, check string) (string, error)
}

// ViewOpener opens modals; *slack.Client implements it.
type ViewOpener interface {
	OpenViewContext(ctx context.Context, triggerID string, view slack.ModalViewRequest) (*slack.ViewResponse, error)
}

// HandlerConfig configures a Handler. SigningSecret, Decider and Views are
// required; the rest have defaults.
type HandlerConfig struct {
	SigningSecret string
	Decider       Decider
	Identities    Identities
	Views         ViewOpener
	// HTTPClient posts ephemeral replies to response URLs. Default: a
	// client with a 10 s timeout.
	HTTPClient *http.Client
	// AsyncTimeout bounds the work done after the ack (fingerprint query,
	// signal, reply). Default 15 s.
	AsyncTimeout time.Duration
	// MaxBodyBytes caps the request body. Default 64 KiB; Slack's
	// interaction payloads for our messages are a few KiB.
	MaxBodyBytes int64
	// ReplayWindow and ReplayCapacity bound the memory of seen deliveries.
	// The window only needs to exceed the 5 minute timestamp tolerance:
	// older deliveries fail verification anyway. Defaults 10 min, 10000.
	ReplayWindow   time.Duration
	ReplayCapacity int
	Logger         *zap.Logger
	// Now is the clock for replay expiry. Default time.Now.
	Now func() time.Time
}

// Handler serves /slack/interactions and is the shared logic behind the
// Socket Mode adapter. It acks within Slack's 3 s budget and does the
// slow part (workflow query and signal, reply to the clicker) afterwards.
type Handler struct {
	cfg  HandlerConfig
	log  *zap.Logger
	seen *seenSet
	wg   sync.WaitGroup
}

// NewHandler checks the configuration and applies defaults.
func NewHandler(cfg HandlerConfig) (*Handler, error) {
	var errs []error
	if cfg.Decider == nil {
		errs = append(errs, errors.New("slackapp: HandlerConfig.Decider is nil"))
	}
	if cfg.Views == nil {
		errs = append(errs, errors.New("slackapp: HandlerConfig.Views is nil (pass the *slack.Client)"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if cfg.AsyncTimeout <= 0 {
		cfg.AsyncTimeout = 15 * time.Second
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = 64 << 10
	}
	if cfg.ReplayWindow <= 0 {
		cfg.ReplayWindow = 10 * time.Minute
	}
	if cfg.ReplayCapacity <= 0 {
		cfg.ReplayCapacity = 10000
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	log := cfg.Logger
	if log == nil {
		log = zap.NewNop()
	}
	return &Handler{
		cfg:  cfg,
		log:  log.Named("slack"),
		seen: newSeenSet(cfg.ReplayWindow, cfg.ReplayCapacity, cfg.Now),
	}, nil
}

// Wait blocks until all work started after acks has finished. Tests use
// it; the worker calls it on shutdown so no signal is cut off half-way.
func (h *Handler) Wait() { h.wg.Wait() }

// ServeHTTP verifies and answers one interaction delivery. The signing
// secret is required here (not for Socket Mode, whose connection is
// authenticated by the app token).
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "slack interactions: POST only", http.StatusMethodNotAllowed)
		return
	}
	if h.cfg.SigningSecret == "" {
		h.log.Error("interaction refused: no signing secret configured")
		http.Error(w, "slack interactions: not configured", http.StatusServiceUnavailable)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.cfg.MaxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			http.Error(w, fmt.Sprintf("slack interactions: body over %d bytes", tooBig.Limit), http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, "slack interactions: reading body: "+err.Error(), http.StatusBadRequest)
		return
	}
	if err := verify(r.Header, body, h.cfg.SigningSecret); err != nil {
		h.log.Warn("interaction refused: verification failed", zap.Error(err))
		http.Error(w, "slack interactions: "+err.Error(), http.StatusUnauthorized)
		return
	}
	cb, err := ParsePayload(body)
	if err != nil {
		http.Error(w, "slack interactions: "+err.Error(), http.StatusBadRequest)
		return
	}
	rep := h.interact(cb)
	if rep.err != nil {
		h.log.Warn("interaction refused", zap.Error(rep.err))
		http.Error(w, "slack interactions: "+rep.err.Error(), http.StatusBadRequest)
		return
	}
	if rep.body != nil {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(rep.body)
	} else {
		w.WriteHeader(http.StatusOK)
	}
	h.start(rep.async)
}

// verify checks Slack's v0 signature; slack.NewSecretsVerifier also
// refuses timestamps more than 5 minutes from now.
func verify(header http.Header, body []byte, secret string) error {
	sv, err := slack.NewSecretsVerifier(header, secret)
	switch {
	case errors.Is(err, slack.ErrExpiredTimestamp):
		return errors.New("request timestamp is more than 5 minutes old")
	case errors.Is(err, slack.ErrMissingHeaders):
		return errors.New("missing X-Slack-Signature or X-Slack-Request-Timestamp")
	case err != nil:
		return fmt.Errorf("bad signature headers: %w", err)
	}
	if _, err := sv.Write(body); err != nil {
		return err
	}
	if err := sv.Ensure(); err != nil {
		return errors.New("signature does not match")
	}
	return nil
}

// ParsePayload decodes an interaction delivery body: a form with one
// "payload" field holding the JSON callback.
func ParsePayload(body []byte) (slack.InteractionCallback, error) {
	form, err := parseForm(string(body))
	if err != nil {
		return slack.InteractionCallback{}, fmt.Errorf("body is not a form: %w", err)
	}
	payload := form.Get("payload")
	if payload == "" {
		return slack.InteractionCallback{}, errors.New(`form field "payload" is missing or empty`)
	}
	var cb slack.InteractionCallback
	if err := json.Unmarshal([]byte(payload), &cb); err != nil {
		return slack.InteractionCallback{}, fmt.Errorf(`form field "payload": %w`, err)
	}
	return cb, nil
}

// reply is the handler's answer to one interaction: an error (400), an
// optional JSON body for the ack, and work to run after the ack.
type reply struct {
	err   error
	body  any
	async func(ctx context.Context)
}

func (h *Handler) start(work func(ctx context.Context)) {
	if work == nil {
		return
	}
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		ctx, cancel := context.WithTimeout(context.Background(), h.cfg.AsyncTimeout)
		defer cancel()
		work(ctx)
	}()
}

// interact is transport-independent: HTTP and Socket Mode both call it
// with an already authenticated callback.
func (h *Handler) interact(cb slack.InteractionCallback) reply {
	switch cb.Type {
	case slack.InteractionTypeBlockActions:
		return h.blockAction(cb)
	case slack.InteractionTypeViewSubmission:
		return h.viewSubmission(cb)
	default:
		return reply{err: fmt.Errorf("unsupported interaction type %q", cb.Type)}
	}
}

func (h *Handler) blockAction(cb slack.InteractionCallback) reply {
	acts := cb.ActionCallback.BlockActions
	if len(acts) != 1 {
		return reply{err: fmt.Errorf("block_actions: want exactly 1 action, got %d", len(acts))}
	}
	act := acts[0]
	if act.ActionID != ActionApprove && act.ActionID != ActionReject {
		return reply{err: fmt.Errorf("block_actions: unknown action_id %q", act.ActionID)}
	}
	v, err := ParseActionValue("block_actions: button value", act.Value)
	if err != nil {
		return reply{err: err}
	}
	ts := act.ActionTs
	if ts == "" {
		ts = cb.ActionTs
	}
	if ts == "" || cb.User.ID == "" {
		return reply{err: errors.New("block_actions: action_ts or user.id missing")}
	}
	if !h.seen.firstTime("action|" + ts + "|" + cb.User.ID + "|" + act.ActionID) {
		h.log.Info("replayed delivery ignored", zap.String("action_ts", ts), zap.String("user", cb.User.ID))
		return reply{}
	}
	actor, err := h.cfg.Identities.Actor(cb.User.ID)
	if err != nil {
		h.log.Warn("click refused", zap.Error(err))
		return reply{async: func(ctx context.Context) {
			h.tell(ctx, cb.ResponseURL, "You are not in any approver group shipgate knows, so nothing was recorded. Ask a release manager to add your Slack user id to the policy.")
		}}
	}
	if act.ActionID == ActionReject {
		v.ResponseURL = cb.ResponseURL
		return reply{async: func(ctx context.Context) {
			if _, err := h.cfg.Views.OpenViewContext(ctx, cb.TriggerID, RejectModal(v)); err != nil {
				h.log.Error("opening reject modal", zap.Error(err))
				h.tell(ctx, cb.ResponseURL, "Could not open the reject dialog ("+err.Error()+"); nothing was recorded. Please click Reject again.")
			}
		}}
	}
	d := Decision{
		ReleaseID: v.ReleaseID, Check: v.Check, Fingerprint: v.Fingerprint,
		SlackUserID: cb.User.ID, Actor: actor, Action: ActionNameApprove,
		ResponseURL: cb.ResponseURL, TriggerID: cb.TriggerID,
	}
	return reply{async: func(ctx context.Context) { h.decide(ctx, d) }}
}

func (h *Handler) viewSubmission(cb slack.InteractionCallback) reply {
	if cb.View.CallbackID != RejectCallbackID {
		return reply{err: fmt.Errorf("view_submission: unknown callback_id %q", cb.View.CallbackID)}
	}
	v, err := ParseActionValue("view_submission: private_metadata", cb.View.PrivateMetadata)
	if err != nil {
		return reply{err: err}
	}
	if cb.View.ID == "" || cb.User.ID == "" {
		return reply{err: errors.New("view_submission: view.id or user.id missing")}
	}
	reason := ""
	if cb.View.State != nil {
		reason = strings.TrimSpace(cb.View.State.Values[RejectReasonBlock][RejectReasonAction].Value)
	}
	// Validation errors are shown inside the still-open modal; the view is
	// not marked seen, so the approver can correct and submit it again.
	switch {
	case reason == "":
		return reply{body: slack.NewErrorsViewSubmissionResponse(map[string]string{RejectReasonBlock: "A reason is required to reject."})}
	case len(reason) > maxReasonLen:
		return reply{body: slack.NewErrorsViewSubmissionResponse(map[string]string{RejectReasonBlock: fmt.Sprintf("Keep the reason under %d characters.", maxReasonLen)})}
	}
	actor, err := h.cfg.Identities.Actor(cb.User.ID)
	if err != nil {
		h.log.Warn("reject refused", zap.Error(err))
		return reply{body: slack.NewErrorsViewSubmissionResponse(map[string]string{RejectReasonBlock: "You are not in any approver group shipgate knows; nothing was recorded."})}
	}
	if !h.seen.firstTime("view|" + cb.View.ID + "|" + cb.User.ID) {
		h.log.Info("replayed view submission ignored", zap.String("view", cb.View.ID))
		return reply{}
	}
	d := Decision{
		ReleaseID: v.ReleaseID, Check: v.Check, Fingerprint: v.Fingerprint,
		SlackUserID: cb.User.ID, Actor: actor, Action: ActionNameReject, Reason: reason,
		ResponseURL: v.ResponseURL, TriggerID: cb.TriggerID,
	}
	return reply{async: func(ctx context.Context) { h.decide(ctx, d) }}
}

// decide delivers a decision and tells the clicker the workflow's verdict.
// A click on a release that no longer takes decisions on the check is
// answered here and sends nothing. A click whose fingerprint is not the
// release's current one (the evidence changed after the message was
// shown) is still delivered: the workflow refuses it itself, records the
// attempt in its audit log, and updates the message in place with the
// current evidence and fingerprint, which is the refresh the clicker needs.
func (h *Handler) decide(ctx context.Context, d Decision) {
	log := h.log.With(zap.String("release", d.ReleaseID), zap.String("check", d.Check),
		zap.String("action", d.Action), zap.String("actor", d.Actor))
	// The workflow judges the click (and records it, refused or not); only a refusal makes
	// the handler ask what the message should have shown, to tell a stale message or a
	// closed check apart in words. Asking before every click queued a full status query per
	// click behind the release's workflow tasks.
	out, err := h.cfg.Decider.Decide(ctx, d)
	if err != nil {
		log.Error("delivering decision", zap.Error(err))
		h.tell(ctx, d.ResponseURL, "Your decision could not be delivered ("+err.Error()+"); please try again.")
		return
	}
	msg := out.Message
	stale := false
	if !out.Accepted {
		cur, err := h.cfg.Decider.CurrentFingerprint(ctx, d.ReleaseID, d.Check)
		switch {
		case err != nil:
			log.Warn("querying current fingerprint", zap.Error(err))
		case cur == "":
			msg = "The release no longer waits for this check, so nothing was recorded."
		case cur != d.Fingerprint:
			stale = true
			msg = "This message was out of date: the evidence for this check changed after it was posted, so nothing was recorded. The message has been refreshed with the current evidence; please review it and decide again."
		}
	}
	log.Info("decision delivered", zap.Bool("accepted", out.Accepted), zap.Bool("stale", stale))
	if msg == "" {
		msg = map[bool]string{true: "Your decision was recorded.", false: "Your decision was not accepted."}[out.Accepted]
	}
	h.tell(ctx, d.ResponseURL, msg)
}

// tell sends an ephemeral reply to the clicker only.
func (h *Handler) tell(ctx context.Context, responseURL, text string) {
	if responseURL == "" {
		h.log.Info("no response_url to reply to", zap.String("text", text))
		return
	}
	err := slack.PostWebhookCustomHTTPContext(ctx, responseURL, h.cfg.HTTPClient, &slack.WebhookMessage{
		ResponseType: slack.ResponseTypeEphemeral,
		Text:         text,
	})
	if err != nil {
		h.log.Warn("ephemeral reply failed", zap.Error(err))
	}
}

// parseForm is url.ParseQuery, kept separate so ParsePayload reads as the
// two steps Slack's format has.
func parseForm(s string) (url.Values, error) { return url.ParseQuery(s) }
