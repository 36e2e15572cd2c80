package source

import (
	"strings"
)

// formatRevision returns "<label>@sha1:<commit>", or "sha1:<commit>" when
// label is empty.
func formatRevision(label, commit string) string {
	if label == "" {
		return "sha1:" + commit
	}
	return label + "@sha1:" + commit
}

// ParseRevision splits a revision string as found in [Artifact.Revision]
// into its reference part and its commit: "main@sha1:<hex>" gives "main"
// and "<hex>", "sha1:<hex>" gives "" and "<hex>". The error wraps
// [ErrInvalid].
func ParseRevision(rev string) (ref, commit string, err error) {
	i := strings.LastIndex(rev, "sha1:")
	switch {
	case i < 0:
		return "", "", invalidf("revision %q has no sha1:<commit> part", rev)
	case i > 0 && (i < 2 || rev[i-1] != '@'):
		return "", "", invalidf("revision %q: want <ref>@sha1:<commit> or sha1:<commit>", rev)
	}
	commit = rev[i+len("sha1:"):]
	if !isSHA1(commit) {
		return "", "", invalidf("revision %q: commit %q is not a full SHA-1", rev, commit)
	}
	if i > 0 {
		ref = rev[:i-1]
	}
	return ref, strings.ToLower(commit), nil
}
