package keyadmin

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/keygate/keygate/internal/apikey"
)

// NoPlan is the plan name that takes a client out of usage plans.
const NoPlan = "none"

// PlanSet is the outcome of SetPlan.
type PlanSet struct {
	Written
	// Entries names the entries whose usage changed: NAME and its old
	// keys. Empty when the client was already where it was asked to be:
	// then nothing was written.
	Entries []string
	// Before and After are the client's plans ("" for none).
	Before, After string
}

// ErrChangedMeanwhile: someone else changed the client's usage plan while
// this change was under way.
var ErrChangedMeanwhile = errors.New("the entry changed meanwhile")

// SetPlan puts a client in the usage plan named plan of plans (NoPlan: in
// none), for NAME and its old keys alike, which share its API Gateway API
// key. API Gateway is changed first, then the secret: a client joining a
// plan gets a new API key, a client moving is in its new plan before it
// leaves the old one, and a client leaving keeps its API key until the
// secret no longer names it (then it is deleted). If the secret cannot be
// written, API Gateway is put back as it was.
func (a *Admin) SetPlan(ctx context.Context, name, plan string, plans Plans, convert bool) (PlanSet, error) {
	if err := checkName(name); err != nil {
		return PlanSet{}, err
	}
	if base := baseName(name); base != name {
		return PlanSet{}, fmt.Errorf("%w: %q is an old key of %q, kept for a rotation's grace period, and shares its client's usage plan: use `keygate keys set %s --plan …`", ErrOldKey, name, base, base)
	}
	cur, err := a.readCurrent(ctx)
	if err != nil {
		return PlanSet{}, err
	}
	e, ok := cur.doc.Entry(name)
	if !ok {
		return PlanSet{}, a.noEntry(cur.doc, name)
	}
	r := PlanSet{Before: planOf(e.Usage), After: plan}
	if plan == NoPlan {
		r.After = ""
	}
	if r.Before == r.After {
		return r, nil
	}
	if _, err := a.keySet(cur.doc, convert, "put "+name+" in a usage plan"); err != nil {
		return r, err
	}
	var next *apikey.Usage
	var undo func() error
	switch {
	case e.Usage == nil:
		u, err := plans.NewKey(ctx, name, plan)
		if err != nil {
			return r, err
		}
		next, undo = &u, func() error { return plans.Delete(ctx, u.KeyID) }
	case r.After != "":
		u, err := plans.Move(ctx, *e.Usage, plan)
		if err != nil {
			return r, err
		}
		next = &u
		undo = func() error { _, err := plans.Move(ctx, u, e.Usage.Plan); return err }
	}
	was := e.Usage
	w, err := a.change(ctx, func(doc apikey.Document, now time.Time) (apikey.Document, error) {
		r.Entries = nil
		e, ok := doc.Entry(name)
		if !ok {
			return doc, a.noEntry(doc, name)
		}
		if keyID(e.Usage) != keyID(was) {
			return doc, fmt.Errorf("%w: the usage plan of %q was changed by someone else during this one: run `keygate keys list` and try again", ErrChangedMeanwhile, name)
		}
		doc, err := a.keySet(doc, convert, "put "+name+" in a usage plan")
		if err != nil {
			return doc, err
		}
		for _, n := range append([]string{name}, previousNames(doc, name)...) {
			e := doc.Keys[n]
			e.Usage = nil
			if next != nil {
				u := *next
				e.Usage = &u
			}
			doc.Keys[n] = e
			r.Entries = append(r.Entries, n)
		}
		return doc, nil
	})
	r.Written = w
	switch {
	case w.VersionID == "" && undo != nil:
		if uerr := undo(); uerr != nil {
			err = errors.Join(err, fmt.Errorf("and API Gateway could not be put back: %w", uerr))
		}
	case w.VersionID != "" && next == nil:
		// Out of every plan: the API key stands for nobody now.
		if derr := plans.Delete(ctx, was.KeyID); derr != nil {
			err = errors.Join(err, fmt.Errorf("%q is in no usage plan now, but its old API key is left: %w", name, derr))
		}
	}
	return r, err
}

func planOf(u *apikey.Usage) string {
	if u == nil {
		return ""
	}
	return u.Plan
}

func keyID(u *apikey.Usage) string {
	if u == nil {
		return ""
	}
	return u.KeyID
}
