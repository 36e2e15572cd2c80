package main

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"k8s.io/client-go/rest"

	"github.com/gitopskit/gitopskit/cluster"
	"github.com/gitopskit/gitopskit/reconcile"
	"github.com/gitopskit/gitopskit/source"
)

// This file is the only place that uses gitopskit's reconcile API, so that
// a change of that API is a change here and nowhere else.

// engine reconciles the benchmark's configuration: one Git source and
// spec.Units units, each {Path: units/unit-<i>, Prune, Wait, Timeout,
// ServiceAccountName} in the configuration's namespace, which is also the
// target namespace of their objects (flux-benchmark's targetNamespace).
type engine struct {
	r *reconcile.Reconciler
}

func newEngine(cfg *rest.Config, s spec) (*engine, error) {
	conf := reconcile.Configuration{
		Name:      "units",
		Namespace: s.Namespace,
		Sources: []reconcile.Source{{
			Name: "units",
			URL:  s.URL,
			Ref:  source.Ref{Branch: "main"},
		}},
	}
	for i := range s.Units {
		u := reconcile.Unit{
			Name:               "unit-" + strconv.Itoa(i),
			Path:               "units/unit-" + strconv.Itoa(i),
			Prune:              true,
			Wait:               true,
			Timeout:            s.Timeout,
			ServiceAccountName: s.ServiceAccount,
		}
		u.Build.TargetNamespace = s.Namespace
		conf.Units = append(conf.Units, u)
	}
	c, err := cluster.New(cfg, cluster.Options{})
	if err != nil {
		return nil, err
	}
	r, err := reconcile.New(c, conf, reconcile.Options{Workers: s.Workers})
	if err != nil {
		return nil, err
	}
	return &engine{r: r}, nil
}

// run reconciles every unit once and says how many are Ready, with the
// phases and reasons of the others (most frequent first, at most 5; one
// example message each).
func (e *engine) run(ctx context.Context) (outcome, error) {
	st, err := e.r.Run(ctx)
	var out outcome
	reasons := map[string]int{}
	example := map[string]string{}
	for _, u := range st.Units {
		if u.Compliant() {
			out.Ready++
			continue
		}
		k := fmt.Sprintf("%s %s", u.Phase, u.Reason)
		reasons[k]++
		if _, ok := example[k]; !ok {
			example[k] = u.Name + ": " + u.Message
		}
	}
	out.Units = len(st.Units)
	for _, r := range topReasons(reasons, 5) {
		out.Failures = append(out.Failures, r+" (e.g. "+example[r[strings.Index(r, " ")+1:]]+")")
	}
	return out, err
}

func (e *engine) close() error { return e.r.Close() }

func topReasons(m map[string]int, n int) []string {
	type kv struct {
		k string
		v int
	}
	var l []kv
	for k, v := range m {
		l = append(l, kv{k, v})
	}
	sort.Slice(l, func(i, j int) bool { return l[i].v > l[j].v || l[i].v == l[j].v && l[i].k < l[j].k })
	var out []string
	for i := 0; i < len(l) && i < n; i++ {
		out = append(out, fmt.Sprintf("%dx %s", l[i].v, l[i].k))
	}
	return out
}
