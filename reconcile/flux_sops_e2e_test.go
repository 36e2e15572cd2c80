package reconcile_test

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gitopskit/gitopskit/gitopstest"
	"github.com/gitopskit/gitopskit/gitopstest/gitserver"
	"github.com/gitopskit/gitopskit/reconcile"
)

// TestFluxSOPSDecryption: a Kustomization with spec.decryption applies the
// Secret the sops command encrypted (package sops's fixture) decrypted,
// as Flux does; a Kustomization without decryption refuses the same
// ciphertext; an altered ciphertext fails the build and prunes nothing;
// Render decrypts with the key Secret it is given and renders the
// ciphertext, noting the gap, without it. Secrets a secretGenerator makes
// of encrypted files (files and envs) are decrypted too.
func TestFluxSOPSDecryption(t *testing.T) {
	if testing.Short() {
		t.Skip("end to end")
	}
	ctx := t.Context()
	ns := gitopstest.CreateNamespace(t, testCluster(t).Config)
	cs := clientset(t)
	read := func(name string) string {
		t.Helper()
		b, err := os.ReadFile("../sops/testdata/" + name)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	encrypted := read("secret.age.yaml")
	keySecret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "sops-age", Namespace: ns},
		Data: map[string][]byte{"age.agekey": []byte(read("keys/age.agekey"))}}
	if _, err := cs.CoreV1().Secrets(ns).Create(ctx, keySecret, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	kust := func(name, extra string) string {
		return fleetKustomization(name, ns, "  targetNamespace: "+ns+"\n"+extra)
	}
	srv := gitopstest.StartGitServer(t, gitserver.Options{})
	repo := gitopstest.NewGitRepo(t, srv, "fleet")
	gitopstest.GitCommit(t, repo, gitserver.CommitOptions{Message: "encrypted Secrets", Files: map[string]string{
		"clusters/prod/units.yaml": kust("app", "  decryption: {provider: sops, secretRef: {name: sops-age}}\n") + "---\n" + kust("plain", ""),
		"app/kustomization.yaml": `resources: [secret.yaml]
generatorOptions: {disableNameSuffixHash: true}
secretGenerator:
  - name: app-files
    files: [tls.key=tls.age.key, config.yaml=config.age.yaml]
  - name: app-env
    envs: [app.age.env]
`,
		"app/secret.yaml":          encrypted,
		"app/tls.age.key":          read("tls.age.key"),
		"app/config.age.yaml":      read("config.age.yaml"),
		"app/app.age.env":          read("app.age.env"),
		"plain/kustomization.yaml": "resources: [secret.yaml]\nnamePrefix: plain-\n",
		"plain/secret.yaml":        encrypted,
	}})
	conf := bootstrapRoot(t, ns, repo.HTTPURL(), "./clusters/prod", "sops")
	r := newReconciler(t, conf, reconcile.Options{})
	password := func(name string) string {
		t.Helper()
		s, err := cs.CoreV1().Secrets(ns).Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return "<none>"
		}
		if err != nil {
			t.Fatal(err)
		}
		return string(s.Data["password"]) + "/" + string(s.Data["token"])
	}

	s := run(t, r)
	if u := unit(t, s, "app"); !u.Compliant() {
		t.Fatalf("app: %s (%s) %s", u.Phase, u.Reason, u.Message)
	}
	if got := password("db-credentials"); got != "s3cr3t-Pa55w0rd/token-value" {
		t.Errorf("db-credentials password/token = %q, want the decrypted values", got)
	}
	files, err := cs.CoreV1().Secrets(ns).Get(ctx, "app-files", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(files.Data["tls.key"]), read("plain/tls.key"); got != want {
		t.Errorf("app-files tls.key = %q, want the decrypted file %q", got, want)
	}
	if got := string(files.Data["config.yaml"]); !strings.Contains(got, "token: t0k3n") {
		t.Errorf("app-files config.yaml = %q, want the decrypted YAML", got)
	}
	env, err := cs.CoreV1().Secrets(ns).Get(ctx, "app-env", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprintf("%s %s %d", env.Data["DB_USER"], env.Data["DB_PASSWORD"], len(env.Data)); got != "admin s3cr3t-Pa55w0rd 3" {
		t.Errorf("app-env: %q, want the decrypted entries and no sops_ metadata entries: %v", got, env.Data)
	}
	u := unit(t, s, "plain")
	if u.Phase != reconcile.PhaseNotReady || !strings.Contains(u.Message, reconcile.ErrEncryptedObject.Error()) {
		t.Errorf("plain: %s (%s) %q, want NotReady: encrypted, no decryption", u.Phase, u.Reason, u.Message)
	}
	if got := password("plain-db-credentials"); got != "<none>" {
		t.Errorf("plain-db-credentials applied without decryption: %q", got)
	}

	// An altered ciphertext: the build fails, the applied Secret stays.
	const at = "password: ENC[AES256_GCM,data:"
	i := strings.Index(encrypted, at) + len(at)
	if i < len(at) {
		t.Fatal("the fixture has no encrypted password")
	}
	flipped := byte('A')
	if encrypted[i] == 'A' {
		flipped = 'B'
	}
	tampered := encrypted[:i] + string(flipped) + encrypted[i+1:] // still base64
	gitopstest.GitCommit(t, repo, gitserver.CommitOptions{Message: "tampered", Files: map[string]string{"app/secret.yaml": tampered}})
	s = run(t, r)
	u = unit(t, s, "app")
	if u.Phase != reconcile.PhaseNotReady || u.Reason != reconcile.ReasonBuildFailed || !strings.Contains(u.Message, "stringData.password does not authenticate") {
		t.Errorf("app after tampering: %s (%s) %q, want BuildFailed naming the value", u.Phase, u.Reason, u.Message)
	}
	if strings.Contains(u.Message, "s3cr3t") {
		t.Errorf("the message shows the plaintext: %q", u.Message)
	}
	if got := password("db-credentials"); got != "s3cr3t-Pa55w0rd/token-value" {
		t.Errorf("after a failed decryption db-credentials = %q, want it kept", got)
	}

	// Offline, with and without the key Secret.
	keyObj := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Secret",
		"metadata":   map[string]any{"name": "sops-age", "namespace": ns},
		"stringData": map[string]any{"age.agekey": string(keySecret.Data["age.agekey"])}}}
	gitopstest.GitCommit(t, repo, gitserver.CommitOptions{Message: "fixed", Files: map[string]string{"app/secret.yaml": encrypted}})
	for _, withKey := range []bool{true, false} {
		opts := reconcile.RenderOptions{}
		if withKey {
			opts.Objects = []*unstructured.Unstructured{keyObj}
		}
		rendering, err := reconcile.Render(ctx, conf, opts)
		if err != nil {
			t.Fatal(err)
		}
		ru, ok := rendering.Unit("app")
		if !ok || ru.Err != nil || len(ru.Objects) != 3 {
			t.Fatalf("rendered app (key %v): %+v", withKey, ru)
		}
		i := slices.IndexFunc(ru.Objects, func(o *unstructured.Unstructured) bool { return o.GetName() == "db-credentials" })
		if i < 0 {
			t.Fatalf("rendered app (key %v): no db-credentials", withKey)
		}
		obj := ru.Objects[i]
		pw, _, _ := unstructured.NestedString(obj.Object, "stringData", "password")
		_, encryptedStill := obj.Object["sops"]
		switch {
		case withKey && (pw != "s3cr3t-Pa55w0rd" || encryptedStill):
			t.Errorf("rendered with the key: password %q, sops metadata %v", pw, encryptedStill)
		case !withKey && (!strings.HasPrefix(pw, "ENC[AES256_GCM") || len(ru.Gaps) == 0 || !strings.Contains(strings.Join(ru.Gaps, "\n"), "sops-age")):
			t.Errorf("rendered without the key: password %q, gaps %q; want the ciphertext and a gap naming the key Secret", pw, ru.Gaps)
		}
	}
}
