package main

import (
	"sync"
)

// results collects the kept samples per (scenario, tool, size), remembering
// the order in which scenarios and tools first appeared.
type results struct {
	mu        sync.Mutex
	cells     map[cellKey][]sample
	scenarios []string
	tools     map[string][]string // per scenario group, in first-seen order
	notes     map[string]string   // tool -> configuration
}

type cellKey struct {
	scenario, tool string
	n              int
}

func newResults() *results {
	return &results{cells: map[cellKey][]sample{}, tools: map[string][]string{}, notes: map[string]string{}}
}

func (r *results) add(scenario, tool string, n int, s sample) {
	r.mu.Lock()
	defer r.mu.Unlock()
	k := cellKey{scenario, tool, n}
	if _, ok := r.cells[k]; !ok {
		seen := false
		for _, sc := range r.scenarios {
			if sc == scenario {
				seen = true
			}
		}
		if !seen {
			r.scenarios = append(r.scenarios, scenario)
		}
		g := groupOf(scenario)
		found := false
		for _, t := range r.tools[g] {
			if t == tool {
				found = true
			}
		}
		if !found {
			r.tools[g] = append(r.tools[g], tool)
		}
	}
	r.cells[k] = append(r.cells[k], s)
}

func (r *results) get(scenario, tool string, n int) (stats, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, ok := r.cells[cellKey{scenario, tool, n}]
	if !ok {
		return stats{}, false
	}
	return summarize(s), true
}

// order fixes the column order of a group (tools added later that are not
// listed go after these).
func (r *results) order(group string, tools ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.tools[group] = append([]string(nil), tools...)
}

// hasData says whether tool has any sample in group.
func (r *results) hasData(group, tool string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for k := range r.cells {
		if k.tool == tool && groupOf(k.scenario) == group {
			return true
		}
	}
	return false
}

// groupOf says which table a scenario belongs to.
func groupOf(scenario string) string {
	switch scenario[0] {
	case '6':
		return "kustomize"
	case '7':
		return "git"
	}
	return "apply"
}
