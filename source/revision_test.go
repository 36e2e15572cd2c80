package source_test

import (
	"errors"
	"testing"

	"github.com/gitopskit/gitopskit/source"
)

func TestParseRevision(t *testing.T) {
	const sha = "0123456789abcdef0123456789abcdef01234567"
	cases := []struct {
		in, ref, commit string
		ok              bool
	}{
		{"main@sha1:" + sha, "main", sha, true},
		{"v1.2.0@sha1:" + sha, "v1.2.0", sha, true},
		{"refs/pull/1/head@sha1:" + sha, "refs/pull/1/head", sha, true},
		{"sha1:" + sha, "", sha, true},
		{"feature/sha1:x@sha1:" + sha, "feature/sha1:x", sha, true},
		{"main@sha1:" + sha[:39], "", "", false},
		{"main@" + sha, "", "", false},
		{"mainsha1:" + sha, "", "", false},
		{"@sha1:" + sha, "", "", false},
		{"", "", "", false},
	}
	for _, tc := range cases {
		ref, commit, err := source.ParseRevision(tc.in)
		if tc.ok != (err == nil) || ref != tc.ref || commit != tc.commit {
			t.Errorf("ParseRevision(%q) = %q, %q, %v", tc.in, ref, commit, err)
		}
		if err != nil && !errors.Is(err, source.ErrInvalid) {
			t.Errorf("ParseRevision(%q): err %v is not ErrInvalid", tc.in, err)
		}
	}
}

func FuzzParseRevision(f *testing.F) {
	f.Add("main@sha1:0123456789abcdef0123456789abcdef01234567")
	f.Add("sha1:")
	f.Fuzz(func(t *testing.T, s string) {
		ref, commit, err := source.ParseRevision(s)
		if err != nil {
			return
		}
		// What parses formats back to itself (modulo case).
		back := "sha1:" + commit
		if ref != "" {
			back = ref + "@" + back
		}
		if len(back) != len(s) {
			t.Fatalf("%q parsed to %q %q", s, ref, commit)
		}
	})
}
