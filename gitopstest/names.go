package gitopstest

import (
	"context"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// UniqueName returns prefix followed by a dash and five random characters: a
// DNS-1123 label (when prefix is one of at most 57 characters) that no other
// test, nor another run of the same test (go test -count=N on a shared
// cluster), uses.
func UniqueName(prefix string) string {
	const alphabet = "bcdfghjklmnpqrstvwxz2456789" // no vowels: no words
	var b strings.Builder
	b.WriteString(prefix)
	b.WriteByte('-')
	for range 5 {
		b.WriteByte(alphabet[rand.IntN(len(alphabet))])
	}
	return b.String()
}

// CreateNamespace creates a namespace of the test's own on the cluster of cfg,
// named after the test with a random suffix, and deletes it in tb.Cleanup.
// Objects a test creates in it collide with no other test's, nor with those
// of an earlier run of the same test. (On a bare API server, which has no
// namespace controller, the deleted namespace stays Terminating with its
// objects: harmless, since no other test uses its name.)
func CreateNamespace(tb testing.TB, cfg *rest.Config) string {
	tb.Helper()
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		tb.Fatalf("create namespace: %v", err)
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: UniqueName(namePrefix(tb.Name()))}}
	if _, err := cs.CoreV1().Namespaces().Create(tb.Context(), ns, metav1.CreateOptions{}); err != nil {
		tb.Fatalf("create namespace: %v", err)
	}
	tb.Cleanup(func() {
		// tb.Context is done when Cleanup runs: a deadline of its own.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := cs.CoreV1().Namespaces().Delete(ctx, ns.Name, metav1.DeleteOptions{}); err != nil {
			tb.Logf("delete namespace %s: %v", ns.Name, err)
		}
	})
	return ns.Name
}

// namePrefix turns a test name into the start of a DNS-1123 label: lower
// case letters, digits and dashes, at most 40 characters, starting and
// ending with an alphanumeric character.
func namePrefix(testName string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(strings.TrimPrefix(testName, "Test")) {
		switch {
		case r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
			b.WriteRune(r)
			dash = false
		case !dash && b.Len() > 0:
			b.WriteByte('-')
			dash = true
		}
		if b.Len() >= 40 {
			break
		}
	}
	s := strings.TrimRight(b.String(), "-")
	if s == "" {
		return "test"
	}
	return s
}
