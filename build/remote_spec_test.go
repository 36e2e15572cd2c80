package build

import "testing"

// TestParseGitSpec: Git bases in kustomize's remote syntax name the
// repository, directory and ref kustomize's own parser gives.
func TestParseGitSpec(t *testing.T) {
	for _, tc := range []struct {
		in              string
		clone, dir, ref string
	}{
		{"https://example.com/org/repo//deploy/base?ref=v1", "https://example.com/org/repo", "deploy/base", "v1"},
		{"https://example.com/org/repo.git/deploy?version=main", "https://example.com/org/repo.git", "deploy", "main"},
		{"git::https://example.com/org/repo//x?ref=v1&timeout=90s", "https://example.com/org/repo", "x", "v1"},
		{"github.com/org/repo/deploy?ref=v2", "https://github.com/org/repo", "deploy", "v2"},
		{"https://github.com/org/repo/deploy?ref=v2", "https://github.com/org/repo", "deploy", "v2"},
		{"git@github.com:org/repo/deploy?ref=v3", "git@github.com:org/repo", "deploy", "v3"},
		{"git@example.com:org/repo.git//deploy", "git@example.com:org/repo.git", "deploy", ""},
		{"ssh://git@example.com/org/repo//deploy?ref=v1", "ssh://git@example.com/org/repo", "deploy", "v1"},
		{"https://dev.azure.com/org/project/_git/repo/deploy?ref=v1", "https://dev.azure.com/org/project/_git/repo", "deploy", "v1"},
		{"https://example.com:8443/org/repo//?ref=v1", "https://example.com:8443/org/repo", "", "v1"},
	} {
		s, err := parseGitSpec(tc.in)
		if err != nil {
			t.Errorf("%s: %v", tc.in, err)
			continue
		}
		if s.CloneURL != tc.clone || s.Dir != tc.dir || s.Ref != tc.ref {
			t.Errorf("%s: %+v, want %s %q %q", tc.in, *s, tc.clone, tc.dir, tc.ref)
		}
	}
	for _, bad := range []string{
		"file:///etc//?ref=main",
		"/abs/path",
		"https://example.com/org/repo//../../x",
		"example.com/org/repo",
	} {
		if s, err := parseGitSpec(bad); err == nil {
			t.Errorf("%s: parsed as %+v, want an error", bad, *s)
		}
	}
}
