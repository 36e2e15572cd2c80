package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/gitopskit/gitopskit/build"
	"github.com/gitopskit/gitopskit/reconcile"
	"github.com/gitopskit/gitopskit/source"
)

// configFlags say what to reconcile: a configuration file (-f), or one path
// of one repository (--url and the flags around it). sync and plan share
// them.
type configFlags struct {
	file                             string
	url, branch, tag, semver, commit string
	path, targetNamespace            string
	prune, wait                      bool
	timeout                          time.Duration
	username, passwordFile           string
	identityFile, knownHostsFile     string
	name, namespace                  string
	secretsDir                       string
	noCrossNamespaceRefs             bool
	defaultServiceAccount            string
}

func (c *configFlags) addFlags(fs *pflag.FlagSet) {
	fs.StringVarP(&c.file, "file", "f", "", `configuration file: Flux objects or a gitopskit Configuration ("-" reads stdin)`)
	fs.StringVar(&c.url, "url", "", "Git repository of one path to reconcile: https://, ssh://, git@host:path or file://")
	fs.StringVar(&c.branch, "branch", "", "branch to follow (default: the remote's default branch)")
	fs.StringVar(&c.tag, "tag", "", "tag to deploy")
	fs.StringVar(&c.semver, "semver", "", `highest tag in a semver range, e.g. ">=1.0.0 <2.0.0"`)
	fs.StringVar(&c.commit, "commit", "", "commit to deploy (with --branch: a commit of that branch)")
	fs.StringVar(&c.path, "path", ".", "directory of the repository to build with kustomize")
	fs.StringVar(&c.targetNamespace, "target-namespace", "", "namespace of the namespaced objects built from --path")
	fs.BoolVar(&c.prune, "prune", false, "delete objects that were removed from Git")
	fs.BoolVar(&c.wait, "wait", false, "wait for the objects to be ready")
	fs.DurationVar(&c.timeout, "timeout", reconcile.DefaultTimeout, "bound on apply, prune and wait")
	fs.StringVar(&c.username, "username", "", "HTTPS user name")
	fs.StringVar(&c.passwordFile, "password-file", "", "file holding the HTTPS password or token (with --identity-file: the key's passphrase)")
	fs.StringVar(&c.identityFile, "identity-file", "", "SSH private key file")
	fs.StringVar(&c.knownHostsFile, "known-hosts-file", "", "known_hosts file for SSH")
	fs.StringVar(&c.name, "name", "", `configuration name, which names its records (default: "gitopskit" with --url, the file's otherwise)`)
	fs.StringVarP(&c.namespace, "namespace", "n", "",
		`namespace of the configuration's records, and of objects in -f that have none (default "`+reconcile.DefaultNamespace+`")`)
	fs.StringVar(&c.secretsDir, "secrets-dir", "", "with -f: read the credentials Secret NAME of a source from the files of DIR/NAME/ (as mounted in a Pod) instead of the cluster")
	fs.BoolVar(&c.noCrossNamespaceRefs, "no-cross-namespace-refs", false, "with Flux objects: refuse references to another namespace (Flux's lockdown flag)")
	fs.StringVar(&c.defaultServiceAccount, "default-service-account", "",
		"with Flux objects: service account of the Kustomizations and HelmReleases that name none (Flux's lockdown flag)")
}

// validate checks the combination of flags.
func (c *configFlags) validate(cmd *cobra.Command) error {
	changed := cmd.Flags().Changed
	switch {
	case c.file != "":
		// The flags that describe one path of one repository.
		for _, f := range []string{"url", "branch", "tag", "semver", "commit", "path", "target-namespace", "prune",
			"wait", "timeout", "username", "password-file", "identity-file", "known-hosts-file"} {
			if changed(f) {
				return usagef("--%s cannot be combined with -f: the configuration file says it", f)
			}
		}
		return nil
	case c.url == "":
		return usagef("give a configuration file (-f) or a repository (--url)")
	}
	for _, f := range []string{"secrets-dir", "no-cross-namespace-refs", "default-service-account"} {
		if changed(f) {
			return usagef("--%s needs a configuration file (-f)", f)
		}
	}
	refs := 0
	for _, r := range []string{c.tag, c.semver, c.commit, c.branch} {
		if r != "" {
			refs++
		}
	}
	if refs > 1 && (refs != 2 || c.commit == "" || c.branch == "") {
		return usagef("give one of --branch, --tag, --semver and --commit (or --commit with --branch)")
	}
	if c.identityFile != "" && c.knownHostsFile == "" {
		return usagef("--identity-file needs --known-hosts-file (the server's host keys)")
	}
	return nil
}

// load returns the configuration the flags describe. Secrets
// the configuration names are read through lk (the cluster's,
// or the objects of render's --objects), unless --secrets-dir says where.
func (c *configFlags) load(ctx context.Context, stdin io.Reader, lk lookups) (reconcile.Configuration, error) {
	if c.file == "" {
		return c.fromFlags()
	}
	var data []byte
	var err error
	if c.file == "-" {
		data, err = io.ReadAll(stdin)
	} else {
		data, err = os.ReadFile(c.file)
	}
	if err != nil {
		return reconcile.Configuration{}, fmt.Errorf("%w: %w", reconcile.ErrInvalidConfiguration, err)
	}
	if c.secretsDir != "" {
		lk = dirData(c.secretsDir)
	}
	name := c.file
	if name == "-" {
		name = "stdin"
	}
	var conf reconcile.Configuration
	if isOwnFormat(data) {
		conf, err = loadOwn(ctx, data, c.namespace, lk)
		if err == nil && (c.noCrossNamespaceRefs || c.defaultServiceAccount != "") {
			err = fmt.Errorf("%w: --no-cross-namespace-refs and --default-service-account are for Flux objects; a %s says it in spec.tenancy",
				reconcile.ErrInvalidConfiguration, ownKind)
		}
	} else {
		conf, err = reconcile.LoadFlux(ctx, data, reconcile.FluxOptions{Namespace: c.namespace,
			SecretData:           lk.secret,
			NoCrossNamespaceRefs: c.noCrossNamespaceRefs, DefaultServiceAccount: c.defaultServiceAccount})
	}
	if err != nil {
		return reconcile.Configuration{}, fmt.Errorf("%s: %w", name, err)
	}
	if c.name != "" {
		conf.Name = c.name
	}
	return conf, nil
}

// fromFlags is the configuration of one path of one repository.
func (c *configFlags) fromFlags() (reconcile.Configuration, error) {
	auth, err := authFromFiles(c)
	if err != nil {
		return reconcile.Configuration{}, fmt.Errorf("%w: %w", reconcile.ErrInvalidConfiguration, err)
	}
	name := c.name
	if name == "" {
		name = "gitopskit"
	}
	return reconcile.Configuration{
		Name:      name,
		Namespace: c.namespace,
		Sources: []reconcile.Source{{Name: "git", URL: c.url, Auth: auth,
			Ref: source.Ref{Branch: c.branch, Tag: c.tag, SemVer: c.semver, Commit: c.commit}}},
		Units: []reconcile.Unit{{Name: "sync", Path: c.path, Prune: c.prune, Wait: c.wait,
			Timeout: c.timeout, Build: build.KustomizeOptions{TargetNamespace: c.targetNamespace}}},
	}, nil
}

// authFromFiles reads the credential files into the keys of a Flux Git
// Secret, so that they mean what they mean there.
func authFromFiles(c *configFlags) (*source.Auth, error) {
	data := map[string][]byte{}
	if c.username != "" {
		data[source.SecretKeyUsername] = []byte(c.username)
	}
	for key, file := range map[string]string{source.SecretKeyPassword: c.passwordFile,
		source.SecretKeyIdentity: c.identityFile, source.SecretKeyKnownHosts: c.knownHostsFile} {
		if file == "" {
			continue
		}
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, err
		}
		if key == source.SecretKeyPassword {
			b = bytes.TrimRight(b, "\r\n")
		}
		data[key] = b
	}
	if len(data) == 0 {
		return nil, nil
	}
	return source.AuthFromSecretData(data)
}

// lookups read the Secrets a configuration names while it loads (source
// credentials); substituteFrom and valuesFrom are read when units run.
type lookups struct {
	secret func(ctx context.Context, namespace, name string) (map[string][]byte, error)
}

// clusterData reads Secrets from the cluster. A missing one
// is a NotFound API error, which LoadFlux understands.
func clusterData(cs kubernetes.Interface) lookups {
	return lookups{
		secret: func(ctx context.Context, namespace, name string) (map[string][]byte, error) {
			s, err := cs.CoreV1().Secrets(namespace).Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return nil, err
			}
			return s.Data, nil
		},
	}
}

// dirData reads Secret NAME from the files of dir/NAME/, one
// key per file, the way Kubernetes mounts them into a Pod.
func dirData(dir string) lookups {
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
	return lookups{
		secret: func(_ context.Context, _, name string) (map[string][]byte, error) { return read(name) },
	}
}
