package release

import (
	"fmt"
	"slices"

	"github.com/shipgate/shipgate/internal/promotion"
)

// validatePromotion checks every promotion window: its calendar rule or range, its zone, its
// name (unique: an override and the status name it), and the stages it holds.
func (p *Policy) validatePromotion(v *validator) {
	names := map[string]string{}
	for _, list := range []struct {
		field string
		ws    []promotion.Window
	}{{"promotion.allow", p.Promotion.Allow}, {"promotion.deny", p.Promotion.Deny}} {
		for i, w := range list.ws {
			f := fmt.Sprintf("%s[%d]", list.field, i)
			_, problems := promotion.Compile(w)
			for _, pr := range problems {
				v.addf(f+"."+pr.Field, "%s", pr.Reason)
			}
			if prev, ok := names[w.Name]; ok && w.Name != "" {
				v.addf(f+".name", "window %q is already defined at %s: names are unique", w.Name, prev)
			}
			names[w.Name] = f
			for j, s := range w.Stages {
				if st := Stage(s); !st.Valid() || st == StageProduction || st == StageDone {
					v.addf(fmt.Sprintf("%s.stages[%d]", f, j), "a window holds leaving development, staging, testnet or canary (got %q; production's traffic increases: traffic: true)", s)
				}
			}
		}
	}
}

// MayFreeze reports whether the member may stop the line of this policy and restart it: a
// member of a freezers group, or, when the policy names none, a release manager or operator.
func (p *Policy) MayFreeze(id string) bool {
	groups := p.Roles.Freezers
	if len(groups) == 0 {
		groups = append([]string{p.Roles.ReleaseManagers}, p.Roles.Operators...)
	}
	return slices.ContainsFunc(groups, func(g string) bool { return p.InGroup(g, id) })
}
