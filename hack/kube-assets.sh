#!/usr/bin/env bash
# Build kube-apiserver, etcd, kube-controller-manager, kube-scheduler and kwok from the
# Go module proxy into a cache folder outside the work tree, and print the folder.
#
#   export KUBEBUILDER_ASSETS="$(hack/kube-assets.sh)"        # everything (simulated cluster)
#   hack/kube-assets.sh -bare                                 # etcd + kube-apiserver only
#   hack/kube-assets.sh -dir /some/folder
#
# Default folder: ${XDG_CACHE_HOME:-$HOME/.cache}/gitopskit/kube-assets/k8s-<v>-etcd-<v>-kwok-<v>.
# Idempotent: returns at once when the folder is up to date. Cold: ~20 min on 2 cores;
# seconds with a warm Go build cache. The logic lives in gitopstest/kubeassets (Go), so
# tests and examples build the same way when the script was not run first.
set -euo pipefail
cd "$(dirname "$0")/.."
exec go run ./hack/kube-assets "$@"
