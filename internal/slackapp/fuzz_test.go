package slackapp

import (
	"testing"

	"github.com/slack-go/slack"
)

func FuzzParsePayload(f *testing.F) {
	fx := newFixture(f)
	modal := RejectModal(ActionValue{ReleaseID: "release/payments/1.4.0", Check: "security-review", Fingerprint: fx.fp})
	for _, seed := range []string{
		fx.click("U01ALICE", ActionApprove, fx.value()),
		fx.click("U02BOB", ActionReject, fx.value()),
		fx.click("U09MALLORY", ActionApprove, fx.value()),
		fx.click("U01ALICE", "other", `{"r":"a","c":"b","f":"c"}`),
		submission("U02BOB", "V1", modal, "reason"),
		submission("U02BOB", "V2", modal, ""),
		form(map[string]any{"type": "block_actions", "actions": []any{}}),
		"payload=%7B%7D", "payload=null", "payload=", "", "%zz", "a=b&payload=[1]",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, body string) {
		cb, err := ParsePayload([]byte(body))
		if err != nil {
			return
		}
		rep := fx.h.interact(cb)
		if rep.err != nil || rep.async == nil {
			return
		}
		// Work after the ack is only ever scheduled for one of our
		// actions or our modal, carrying a valid action value.
		switch cb.Type {
		case slack.InteractionTypeBlockActions:
			a := cb.ActionCallback.BlockActions[0]
			if a.ActionID != ActionApprove && a.ActionID != ActionReject {
				t.Fatalf("scheduled work for action %q", a.ActionID)
			}
			if _, err := ParseActionValue("fuzz", a.Value); err != nil {
				t.Fatalf("scheduled work for invalid value: %v", err)
			}
		case slack.InteractionTypeViewSubmission:
			if cb.View.CallbackID != RejectCallbackID {
				t.Fatalf("scheduled work for view %q", cb.View.CallbackID)
			}
		default:
			t.Fatalf("scheduled work for interaction type %q", cb.Type)
		}
	})
}

func FuzzParseActionValue(f *testing.F) {
	for _, seed := range []string{
		ActionValue{ReleaseID: "release/payments/1.4.0", Check: "security-review", Fingerprint: "ba27e644c65520031aaf394d97ac826e"}.Encode(),
		ActionValue{ReleaseID: "r", Check: "c", Fingerprint: "f", ResponseURL: "https://hooks.slack.com/actions/T/1/x"}.Encode(),
		`{"r":"a","c":"b"}`, `{"r":"a","c":"b","f":"c","x":1}`, `{"r":"a","c":"b","f":"c"} {}`,
		`{"r":"a\n","c":"b","f":"c"}`, `[]`, `null`, ``,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseActionValue("fuzz", s)
		if err != nil {
			return
		}
		if v.ReleaseID == "" || v.Check == "" || v.Fingerprint == "" {
			t.Fatalf("accepted %q with an empty field: %+v", s, v)
		}
		back, err := ParseActionValue("fuzz", v.Encode())
		if err != nil || back != v {
			t.Fatalf("round trip of %+v: %+v, %v", v, back, err)
		}
	})
}
