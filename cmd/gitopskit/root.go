package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/gitopskit/gitopskit/reconcile"
)

// Exit codes; see the package documentation.
const (
	exitOK           = 0
	exitError        = 1
	exitUsage        = 2
	exitNotCompliant = 3
)

// env is what a command sees of the process: its streams, its environment
// and whether a stream is a terminal. main builds it from os; tests build
// their own, so that nothing is global.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
	// isTerminal reports whether w is a terminal (colour is used only
	// then).
	isTerminal func(w io.Writer) bool
}

// osEnv is the process's env.
func osEnv() *env {
	return &env{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv,
		isTerminal: func(w io.Writer) bool {
			f, ok := w.(*os.File)
			return ok && term.IsTerminal(int(f.Fd()))
		}}
}

// colour reports whether output to w may be coloured: w is a terminal and
// NO_COLOR (https://no-color.org) is unset or empty, and TERM is not "dumb".
func (e *env) colour(w io.Writer) bool {
	return e.getenv("NO_COLOR") == "" && e.getenv("TERM") != "dumb" && e.isTerminal != nil && e.isTerminal(w)
}

// exitErr carries an exit code from a command. err may be nil: the command
// already said everything (a non-compliant status table, a plan with
// changes).
type exitErr struct {
	code int
	err  error
}

func (e *exitErr) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}

func (e *exitErr) Unwrap() error { return e.err }

// usageError marks an error in the command line: exit 2, with a hint at
// --help.
func usageError(err error) error { return &exitErr{code: exitUsage, err: err} }

// usagef is usageError of a formatted message.
func usagef(format string, args ...any) error { return usageError(fmt.Errorf(format, args...)) }

// failure returns the exit code err means: usage errors and invalid
// configurations are 2, everything else 1.
func failure(err error) error {
	var ee *exitErr
	if errors.As(err, &ee) {
		return err
	}
	if errors.Is(err, reconcile.ErrInvalidConfiguration) {
		return &exitErr{code: exitUsage, err: err}
	}
	return &exitErr{code: exitError, err: err}
}

// globalFlags are the flags of every command.
type globalFlags struct {
	kube   kubeFlags
	output string
}

// newRootCommand builds the command tree. Every piece of state lives in
// values made here.
func newRootCommand(e *env) *cobra.Command {
	g := &globalFlags{}
	root := &cobra.Command{
		Use:   "gitopskit",
		Short: "Keep Kubernetes clusters in sync with Git, and report their compliance",
		Long: `gitopskit reconciles configurations of units (a path of a Git repository, built with
kustomize or Helm, applied with server-side apply, pruned and health-checked) in
dependency order, and reports whether a cluster complies with Git. It also renders
and diffs configurations with no cluster, for pull requests.

A configuration is a Flux-format file (GitRepository, Kustomization, HelmRelease...
objects, as flux-system holds them), gitopskit's own Configuration file, or one
path of one repository given with flags.

Exit codes:
  0  success: compliant, no change planned, rendered
  1  error: the cluster, Git or a file could not be read or written, or a unit
     could not be planned or rendered
  2  usage: a bad command, flag or argument, or an invalid configuration
  3  not compliant (sync, status) or changes pending (plan, diff)`,
		Example: `  # Reconcile a Flux repository's objects once, then report compliance.
  gitopskit sync -f clusters/prod/flux-system/gotk-sync.yaml

  # What would change, as JSON for a CI job (exit 3 when something would).
  gitopskit plan -f fleet.yaml -o json

  # What a pull request changes, with no cluster (exit 3 when something does).
  gitopskit diff -f clusters/prod/flux-system/gotk-sync.yaml --from main --to refs/pull/42/head

  # Is the configuration "fleet" compliant right now?
  gitopskit status fleet -n cluster-config`,
		SilenceUsage:      true,
		SilenceErrors:     true,
		PersistentPreRunE: func(*cobra.Command, []string) error { return checkOutput(g.output) },
	}
	root.SetIn(e.stdin)
	root.SetOut(e.stdout)
	root.SetErr(e.stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError(err) })
	pf := root.PersistentFlags()
	g.kube.addFlags(pf)
	pf.StringVarP(&g.output, "output", "o", "text", "output format: text, json or yaml")

	root.AddCommand(newSyncCommand(e, g), newPlanCommand(e, g), newStatusCommand(e, g), newRenderCommand(e), newDiffCommand(e, g))
	return root
}

// execute runs the command line args and returns the exit code. Errors go
// to e.stderr.
func execute(ctx context.Context, e *env, args []string) int {
	root := newRootCommand(e)
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return exitOK
	}
	var ee *exitErr
	if !errors.As(err, &ee) {
		// Cobra's own errors: an unknown command, a wrong number of
		// arguments.
		ee = &exitErr{code: exitUsage, err: err}
	}
	if ee.err != nil {
		fmt.Fprintf(e.stderr, "gitopskit: %v\n", ee.err)
	}
	if ee.code == exitUsage && !errors.Is(ee.err, reconcile.ErrInvalidConfiguration) {
		fmt.Fprintf(e.stderr, "Run '%s --help' for usage.\n", strings.TrimSpace(cmd.CommandPath()))
	}
	return ee.code
}
