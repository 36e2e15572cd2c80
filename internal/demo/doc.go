// Package demo holds the Git repository of the seed scenario (infra, then
// apps-dev, then apps-prd), shared by the quickstart example and the
// end-to-end tests so that both exercise the same content.
package demo
