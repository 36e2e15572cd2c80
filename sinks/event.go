package sinks

import (
	"regexp"
	"time"

	"github.com/gitopskit/gitopskit/reconcile"
	"github.com/gitopskit/gitopskit/source"
)

// Event is a reconcile event as sinks receive it and as [Webhook] sends it,
// in JSON:
//
//	{
//	  "time": "2025-01-02T15:04:05Z",
//	  "type": "Done",                      // Progress, Object, Failed, Done
//	  "configuration": "fleet",
//	  "cluster": "eu-1",                   // Options.Cluster, omitted when ""
//	  "unit": "apps-dev",                  // omitted for events of the configuration's records
//	  "stage": "done",                     // fetch, build, policy, apply, prune, health, helm, remove, done
//	  "revision": "main@sha1:7481fd9b...", // omitted when unknown
//	  "object": {"group": "apps", "kind": "Deployment", "namespace": "dev", "name": "web"},
//	  "action": "configured",              // on Object events
//	  "message": "...",
//	  "error": "...",                      // on Failed events and failed objects
//	  "status": {                          // on Done events
//	    "phase": "Ready", "reason": "ReconciliationSucceeded",
//	    "lastAppliedRevision": "main@sha1:...", "lastAttemptedRevision": "main@sha1:...",
//	    "fluxObject": "Kustomization flux-system/apps", "objects": 9, "durationSeconds": 1.5
//	  }
//	}
//
// Fields are only added to this shape, never renamed or removed.
type Event struct {
	Time          time.Time `json:"time"`
	Type          string    `json:"type"`
	Configuration string    `json:"configuration"`
	Cluster       string    `json:"cluster,omitempty"`
	Unit          string    `json:"unit,omitempty"`
	Stage         string    `json:"stage,omitempty"`
	Revision      string    `json:"revision,omitempty"`
	Object        *Object   `json:"object,omitempty"`
	Action        string    `json:"action,omitempty"`
	Message       string    `json:"message,omitempty"`
	Error         string    `json:"error,omitempty"`
	Status        *Status   `json:"status,omitempty"`
}

// Object identifies the object of an Object event.
type Object struct {
	Group     string `json:"group,omitempty"`
	Kind      string `json:"kind"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
}

// Status is a unit's status at the end of its reconcile.
type Status struct {
	Phase                 string  `json:"phase"`
	Reason                string  `json:"reason"`
	LastAppliedRevision   string  `json:"lastAppliedRevision,omitempty"`
	LastAttemptedRevision string  `json:"lastAttemptedRevision,omitempty"`
	FluxObject            string  `json:"fluxObject,omitempty"`
	Objects               int     `json:"objects"`
	DurationSeconds       float64 `json:"durationSeconds"`
}

// NewEvent returns the Event of e, a reconcile event of the named
// configuration (and cluster, "" for none), with the URLs in its message
// and error redacted.
func NewEvent(configuration, cluster string, e reconcile.Event) Event {
	out := Event{
		Time: e.Time.UTC(), Type: string(e.Type), Configuration: configuration, Cluster: cluster,
		Unit: e.Unit, Stage: string(e.Stage), Revision: e.Revision, Action: e.Action,
		Message: redactText(e.Message),
	}
	if e.Object.Kind != "" || e.Object.Name != "" {
		out.Object = &Object{Group: e.Object.Group, Kind: e.Object.Kind, Namespace: e.Object.Namespace, Name: e.Object.Name}
	}
	if e.Err != nil {
		out.Error = redactText(e.Err.Error())
	}
	if s := e.Status; s != nil {
		out.Status = &Status{Phase: string(s.Phase), Reason: s.Reason,
			LastAppliedRevision: s.LastAppliedRevision, LastAttemptedRevision: s.LastAttemptedRevision,
			FluxObject: s.FluxObject, Objects: s.Objects, DurationSeconds: s.Duration.Seconds()}
	}
	return out
}

// urlRE matches a URL with a scheme in text.
var urlRE = regexp.MustCompile(`[a-zA-Z][a-zA-Z0-9+.-]*://[^\s"'<>]+`)

// redactText passes every URL in s through [source.RedactURL].
func redactText(s string) string {
	return urlRE.ReplaceAllStringFunc(s, source.RedactURL)
}
