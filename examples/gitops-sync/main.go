// Command gitops-sync keeps a cluster in sync with Git: one path of one
// repository given by flags, or a whole Flux-format configuration
// (GitRepository and Kustomization objects, with dependsOn) given with
// --config.
//
//	gitops-sync --url https://github.com/org/fleet --branch main --path ./apps --prune --once
//	gitops-sync --config flux-system/gotk-sync.yaml
//
// With --once it reconciles once, prints the compliance table and exits 0
// when every unit is compliant, 1 when one is not, and 2 for bad input
// (flags, an unreadable or invalid configuration, a dependency cycle).
// Without --once it reconciles every unit on its interval until
// interrupted. --plan prints what would change without changing anything.
// Progress goes to stderr, one line per event; results go to stdout
// (as JSON with --output json).
//
// The cluster comes from --kubeconfig, else the usual rules: $KUBECONFIG,
// ~/.kube/config, or the in-cluster service account.
package main

import (
	"github.com/gitopskit/gitopskit/cluster"

	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/gitopskit/gitopskit/build"
	"github.com/gitopskit/gitopskit/reconcile"
	"github.com/gitopskit/gitopskit/source"
)

// Exit codes.
const (
	exitCompliant    = 0
	exitNotCompliant = 1
	exitBadInput     = 2
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// options are the command line.
type options struct {
	url, branch, tag, semver, commit string
	path, namespace                  string
	prune, wait                      bool
	timeout, interval                time.Duration
	username, passwordFile           string
	identityFile, knownHostsFile     string
	config, secretsDir               string
	name, kubeconfig, output         string
	once, plan                       bool
	set                              map[string]bool // flags given explicitly
}

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	o := &options{set: map[string]bool{}}
	fs := flag.NewFlagSet("gitops-sync", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.url, "url", "", "Git repository: https://, ssh://, git@host:path or file://")
	fs.StringVar(&o.branch, "branch", "", "branch to follow (default: the remote's default branch)")
	fs.StringVar(&o.tag, "tag", "", "tag to deploy")
	fs.StringVar(&o.semver, "semver", "", `highest tag in a semver range, e.g. ">=1.0.0 <2.0.0"`)
	fs.StringVar(&o.commit, "commit", "", "commit to deploy (with --branch: a commit of that branch)")
	fs.StringVar(&o.path, "path", ".", "directory of the repository to build with kustomize")
	fs.StringVar(&o.namespace, "namespace", "", "target namespace for the namespaced objects")
	fs.BoolVar(&o.prune, "prune", false, "delete objects that were removed from Git")
	fs.BoolVar(&o.wait, "wait", false, "wait for the objects to be ready")
	fs.DurationVar(&o.timeout, "timeout", 5*time.Minute, "bound on apply, prune and wait")
	fs.DurationVar(&o.interval, "interval", 5*time.Minute, "time between reconciles, without --once")
	fs.StringVar(&o.username, "username", "", "HTTPS user name")
	fs.StringVar(&o.passwordFile, "password-file", "", "file holding the HTTPS password or token (with --identity-file: the key's passphrase)")
	fs.StringVar(&o.identityFile, "identity-file", "", "SSH private key file")
	fs.StringVar(&o.knownHostsFile, "known-hosts-file", "", "known_hosts file for SSH")
	fs.StringVar(&o.config, "config", "", "Flux-format YAML file of GitRepository and Kustomization objects, instead of the flags above")
	fs.StringVar(&o.secretsDir, "secrets-dir", "", "with --config: read Secret and ConfigMap NAME from the files of DIR/NAME/ (as mounted in a Pod) instead of the cluster")
	fs.StringVar(&o.name, "name", "", `configuration name, which names its records (default "gitops-sync", or with --config the objects' namespace)`)
	fs.StringVar(&o.kubeconfig, "kubeconfig", "", "kubeconfig file (default: $KUBECONFIG, ~/.kube/config, or in-cluster)")
	fs.StringVar(&o.output, "output", "text", "result format: text or json")
	fs.BoolVar(&o.once, "once", false, "reconcile once; exit 0 when compliant, 1 when not")
	fs.BoolVar(&o.plan, "plan", false, "print what a reconcile would change, and change nothing")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	fs.Visit(func(f *flag.Flag) { o.set[f.Name] = true })
	switch {
	case fs.NArg() > 0:
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	case o.output != "text" && o.output != "json":
		return nil, fmt.Errorf("--output %q: want text or json", o.output)
	case o.config != "":
		for _, f := range []string{"url", "branch", "tag", "semver", "commit", "path", "namespace", "prune", "wait",
			"timeout", "interval", "username", "password-file", "identity-file", "known-hosts-file"} {
			if o.set[f] {
				return nil, fmt.Errorf("--%s cannot be combined with --config: the configuration file says it", f)
			}
		}
	case o.url == "":
		return nil, errors.New("--url or --config is required")
	case o.secretsDir != "":
		return nil, errors.New("--secrets-dir needs --config")
	}
	refs := 0
	for _, r := range []string{o.tag, o.semver, o.commit, o.branch} {
		if r != "" {
			refs++
		}
	}
	if refs > 1 && !(refs == 2 && o.commit != "" && o.branch != "") {
		return nil, errors.New("give one of --branch, --tag, --semver and --commit (or --commit with --branch)")
	}
	return o, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return exitCompliant
	}
	if err != nil {
		fmt.Fprintln(stderr, "gitops-sync:", err)
		return exitBadInput
	}
	fail := func(err error) int {
		fmt.Fprintln(stderr, "gitops-sync:", err)
		if errors.Is(err, reconcile.ErrInvalidConfiguration) {
			return exitBadInput
		}
		return exitNotCompliant
	}

	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = o.kubeconfig
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, nil).ClientConfig()
	if err != nil {
		fmt.Fprintln(stderr, "gitops-sync: kubeconfig:", err)
		return exitBadInput
	}
	conf, err := configuration(ctx, o, cfg)
	if err != nil {
		return fail(err)
	}

	progress := &progress{w: stderr}
	kc, err := cluster.New(cfg, cluster.Options{})
	if err != nil {
		return fail(err)
	}
	r, err := reconcile.New(kc, conf, reconcile.Options{OnEvent: progress.event})
	if err != nil {
		return fail(err)
	}
	defer r.Close()

	switch {
	case o.plan:
		p, err := r.Plan(ctx)
		if err != nil {
			return fail(err)
		}
		if err := p.WriteText(stdout); err != nil {
			return fail(err)
		}
		for _, u := range p.Units {
			if u.Err != nil {
				return exitNotCompliant
			}
		}
		return exitCompliant
	case o.once:
		s, err := r.Run(ctx)
		if err != nil {
			return fail(err)
		}
		return report(stdout, s, o.output)
	}
	fmt.Fprintf(stderr, "gitops-sync: reconciling %d unit(s) of %s until interrupted\n", len(conf.Units), conf.Name)
	if err := r.Start(ctx); err != nil {
		return fail(err)
	}
	report(stdout, r.Status(), o.output)
	return exitCompliant // stopped on request
}

// configuration builds the configuration from the flags or loads it from
// the --config file.
func configuration(ctx context.Context, o *options, cfg *rest.Config) (reconcile.Configuration, error) {
	if o.config != "" {
		data, err := os.ReadFile(o.config)
		if err != nil {
			return reconcile.Configuration{}, fmt.Errorf("%w: %w", reconcile.ErrInvalidConfiguration, err)
		}
		opts := reconcile.FluxOptions{Name: o.name}
		if o.secretsDir != "" {
			opts.SecretData, opts.ConfigMapData = dirData(o.secretsDir)
		} else {
			cs, err := kubernetes.NewForConfig(cfg)
			if err != nil {
				return reconcile.Configuration{}, err
			}
			opts.SecretData, opts.ConfigMapData = clusterData(cs)
		}
		conf, err := reconcile.LoadFlux(ctx, data, opts)
		if err != nil {
			return reconcile.Configuration{}, fmt.Errorf("%s: %w", o.config, err)
		}
		return conf, nil
	}

	auth, err := authFromFiles(o)
	if err != nil {
		return reconcile.Configuration{}, fmt.Errorf("%w: %w", reconcile.ErrInvalidConfiguration, err)
	}
	name := o.name
	if name == "" {
		name = "gitops-sync"
	}
	return reconcile.Configuration{
		Name: name,
		Sources: []reconcile.Source{{Name: "git", URL: o.url, Auth: auth,
			Ref: source.Ref{Branch: o.branch, Tag: o.tag, SemVer: o.semver, Commit: o.commit}}},
		Units: []reconcile.Unit{{Name: "sync", Path: o.path, Prune: o.prune, Wait: o.wait,
			Timeout: o.timeout, Interval: o.interval, Build: build.KustomizeOptions{TargetNamespace: o.namespace}}},
	}, nil
}

// authFromFiles reads the credential files into the keys of a Flux Git
// Secret, so that they mean what they mean there.
func authFromFiles(o *options) (*source.Auth, error) {
	data := map[string][]byte{}
	if o.username != "" {
		data[source.SecretKeyUsername] = []byte(o.username)
	}
	for key, file := range map[string]string{source.SecretKeyPassword: o.passwordFile,
		source.SecretKeyIdentity: o.identityFile, source.SecretKeyKnownHosts: o.knownHostsFile} {
		if file == "" {
			continue
		}
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, err
		}
		if key == source.SecretKeyPassword {
			b = []byte(strings.TrimRight(string(b), "\r\n"))
		}
		data[key] = b
	}
	if len(data) == 0 {
		return nil, nil
	}
	if o.identityFile != "" && o.knownHostsFile == "" {
		return nil, errors.New("--identity-file needs --known-hosts-file (the server's host key)")
	}
	return source.AuthFromSecretData(data)
}

// clusterData reads Secrets and ConfigMaps from the cluster. A missing one
// is a NotFound API error, which LoadFlux understands.
func clusterData(cs kubernetes.Interface) (func(context.Context, string, string) (map[string][]byte, error),
	func(context.Context, string, string) (map[string]string, error)) {
	secret := func(ctx context.Context, namespace, name string) (map[string][]byte, error) {
		s, err := cs.CoreV1().Secrets(namespace).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return nil, err
		}
		return s.Data, nil
	}
	configMap := func(ctx context.Context, namespace, name string) (map[string]string, error) {
		cm, err := cs.CoreV1().ConfigMaps(namespace).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return nil, err
		}
		return cm.Data, nil
	}
	return secret, configMap
}

// dirData reads Secret or ConfigMap NAME from the files of dir/NAME/, one
// key per file, the way Kubernetes mounts them into a Pod.
func dirData(dir string) (func(context.Context, string, string) (map[string][]byte, error),
	func(context.Context, string, string) (map[string]string, error)) {
	read := func(name string) (map[string][]byte, error) {
		if name == "" || name != filepath.Base(name) || strings.HasPrefix(name, ".") {
			return nil, fmt.Errorf("invalid name %q", name)
		}
		entries, err := os.ReadDir(filepath.Join(dir, name))
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%s in %s: %w", name, dir, reconcile.ErrNotFound)
		}
		if err != nil {
			return nil, err
		}
		data := map[string][]byte{}
		for _, e := range entries {
			if e.Type().IsRegular() && !strings.HasPrefix(e.Name(), ".") {
				b, err := os.ReadFile(filepath.Join(dir, name, e.Name()))
				if err != nil {
					return nil, err
				}
				data[e.Name()] = b
			}
		}
		return data, nil
	}
	secret := func(_ context.Context, _, name string) (map[string][]byte, error) { return read(name) }
	configMap := func(_ context.Context, _, name string) (map[string]string, error) {
		raw, err := read(name)
		if err != nil {
			return nil, err
		}
		data := map[string]string{}
		for k, v := range raw {
			data[k] = string(v)
		}
		return data, nil
	}
	return secret, configMap
}

// progress prints events one line each. Units of a dependency level run in
// parallel, so it locks.
type progress struct {
	mu sync.Mutex
	w  io.Writer
}

func (p *progress) event(e reconcile.Event) {
	msg := e.Message
	if e.Type == reconcile.EventObject {
		if e.Action == "unchanged" {
			return
		}
		msg = fmt.Sprintf("%s %s", e.Object, e.Action)
	}
	if e.Type == reconcile.EventDone && e.Status != nil {
		msg = fmt.Sprintf("%s (%s)", e.Status.Phase, e.Status.Reason)
		if e.Status.Phase != reconcile.PhaseReady {
			msg += ": " + e.Status.Message
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, "%s %-12s %-7s %s\n", e.Time.Format("15:04:05"), e.Unit, e.Stage, msg)
}

// report prints the status and returns the exit code it means.
func report(w io.Writer, s reconcile.Status, format string) int {
	if format == "json" {
		type unit struct {
			Name                  string   `json:"name"`
			Phase                 string   `json:"phase"`
			Reason                string   `json:"reason"`
			Message               string   `json:"message,omitempty"`
			LastAppliedRevision   string   `json:"lastAppliedRevision,omitempty"`
			LastAttemptedRevision string   `json:"lastAttemptedRevision,omitempty"`
			Objects               int      `json:"objects"`
			Created               int      `json:"created"`
			Configured            int      `json:"configured"`
			Pruned                int      `json:"pruned"`
			DependsOn             []string `json:"dependsOn,omitempty"`
		}
		out := struct {
			Compliant bool   `json:"compliant"`
			Units     []unit `json:"units"`
		}{Compliant: s.Compliant(), Units: []unit{}}
		for _, u := range s.Units {
			out.Units = append(out.Units, unit{u.Name, string(u.Phase), u.Reason, u.Message, u.LastAppliedRevision,
				u.LastAttemptedRevision, u.Objects, u.Counts.Created, u.Counts.Configured, u.Counts.Deleted, u.DependsOn})
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(out)
	} else {
		_ = s.WriteTable(w)
		fmt.Fprintln(w, s)
	}
	if s.Compliant() {
		return exitCompliant
	}
	return exitNotCompliant
}
