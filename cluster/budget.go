package cluster

import (
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
)

// budget bounds the requests in flight and counts them.
type budget struct {
	slots chan struct{} // nil: no bound

	mu    sync.Mutex
	count map[RequestKey]int
}

// RequestKey classifies a request.
type RequestKey struct {
	// Verb is Kubernetes' verb: get, list, watch, create, update, patch,
	// delete, deletecollection; or the HTTP method for other paths.
	Verb string
	// Code is the HTTP status code, 0 when no response came.
	Code int
}

// RequestStats counts requests.
type RequestStats map[RequestKey]int

// Total returns the number of requests.
func (s RequestStats) Total() int {
	n := 0
	for _, v := range s {
		n += v
	}
	return n
}

// Verb returns the number of requests of one verb.
func (s RequestStats) Verb(verb string) int {
	n := 0
	for k, v := range s {
		if k.Verb == verb {
			n += v
		}
	}
	return n
}

// Code returns the number of requests answered with code.
func (s RequestStats) Code(code int) int {
	n := 0
	for k, v := range s {
		if k.Code == code {
			n += v
		}
	}
	return n
}

// Sub returns the requests counted in s and not in before.
func (s RequestStats) Sub(before RequestStats) RequestStats {
	out := RequestStats{}
	for k, v := range s {
		if d := v - before[k]; d != 0 {
			out[k] = d
		}
	}
	return out
}

// String lists the counts, "list 200: 4, patch 201: 12", sorted.
func (s RequestStats) String() string {
	keys := slices.SortedFunc(maps.Keys(s), func(a, b RequestKey) int {
		if c := strings.Compare(a.Verb, b.Verb); c != 0 {
			return c
		}
		return a.Code - b.Code
	})
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %d: %d", k.Verb, k.Code, s[k]))
	}
	return strings.Join(parts, ", ")
}

func newBudget(maxInFlight int) *budget {
	b := &budget{count: map[RequestKey]int{}}
	if maxInFlight > 0 {
		b.slots = make(chan struct{}, maxInFlight)
	}
	return b
}

func (b *budget) wrap(rt http.RoundTripper) http.RoundTripper {
	return roundTripperFunc(func(req *http.Request) (*http.Response, error) {
		verb := verbOf(req)
		if b.slots != nil && verb != "watch" {
			select {
			case b.slots <- struct{}{}:
			case <-req.Context().Done():
				return nil, req.Context().Err()
			}
			defer func() { <-b.slots }()
		}
		resp, err := rt.RoundTrip(req)
		code := 0
		if resp != nil {
			code = resp.StatusCode
		}
		b.mu.Lock()
		b.count[RequestKey{Verb: verb, Code: code}]++
		b.mu.Unlock()
		return resp, err
	})
}

func (b *budget) stats() RequestStats {
	b.mu.Lock()
	defer b.mu.Unlock()
	return maps.Clone(b.count)
}

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }

// verbOf tells the Kubernetes verb of a request from its method and path:
// a GET of a collection is a list (or a watch), of an object a get.
func verbOf(req *http.Request) string {
	q := req.URL.Query()
	switch req.Method {
	case http.MethodGet:
		if q.Get("watch") == "true" || q.Get("watch") == "1" {
			return "watch"
		}
		if isCollection(req.URL.Path) {
			return "list"
		}
		return "get"
	case http.MethodPost:
		return "create"
	case http.MethodPut:
		return "update"
	case http.MethodPatch:
		return "patch"
	case http.MethodDelete:
		if isCollection(req.URL.Path) {
			return "deletecollection"
		}
		return "delete"
	}
	return strings.ToLower(req.Method)
}

// isCollection reports whether a resource path names a collection:
// /api/v1/pods, /api/v1/namespaces/x/pods, /apis/g/v/rs; not
// /api/v1/namespaces/x (an object) or discovery paths.
func isCollection(path string) bool {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	var rest []string
	switch {
	case len(parts) >= 2 && parts[0] == "api":
		rest = parts[2:]
	case len(parts) >= 3 && parts[0] == "apis":
		rest = parts[3:]
	default:
		return false
	}
	if len(rest) >= 2 && rest[0] == "namespaces" {
		if len(rest) == 2 {
			return false // a Namespace object
		}
		if len(rest) == 3 && parts[0] == "api" && (rest[2] == "status" || rest[2] == "finalize") {
			return false // a subresource of a Namespace
		}
		rest = rest[2:]
	}
	return len(rest) == 1
}
