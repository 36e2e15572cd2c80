#!/usr/bin/env bash
# Regenerates the encrypted fixtures of package sops with the sops command
# (not run by the tests; the fixtures are committed). It needs sops v3.13.3
# and age-keygen built from the Go module proxy, and gpg:
#
#   GOBIN=/tmp/sopsbin go install github.com/getsops/sops/v3/cmd/sops@v3.13.3
#   GOBIN=/tmp/sopsbin go install filippo.io/age/cmd/age-keygen@v1.3.2
#   PATH=/tmp/sopsbin:$PATH sops/testdata/generate.sh
#
# The keys are test keys, made here and used nowhere else.
set -euo pipefail
cd "$(dirname "$0")"
export SOPS_AGE_KEY_FILE= GNUPGHOME
GNUPGHOME=$(mktemp -d)
trap 'rm -rf "$GNUPGHOME"' EXIT

[ -f keys/age.agekey ] || { mkdir -p keys; age-keygen -o keys/age.agekey 2>/dev/null; }
[ -f keys/other.agekey ] || age-keygen -o keys/other.agekey 2>/dev/null
age_recipient=$(age-keygen -y keys/age.agekey)
other_recipient=$(age-keygen -y keys/other.agekey)

if [ -f keys/pgp.asc ]; then
  gpg --batch --quiet --import keys/pgp.asc
else
  gpg --batch --quiet --passphrase '' --quick-gen-key 'gitopskit sops test <sops-test@example.invalid>' rsa3072 encr never
  gpg --batch --quiet --armor --export-secret-keys > keys/pgp.asc
fi
gpg --batch --armor --export > keys/pgp.pub.asc
fp=$(gpg --batch --with-colons --list-keys | awk -F: '/^fpr:/ {print $10; exit}')

# A Secret as Flux's SOPS guide encrypts one: data and stringData only.
sops --encrypt --age "$age_recipient" --encrypted-regex '^(data|stringData)$' \
  --input-type yaml --output-type yaml plain/secret.yaml > secret.age.yaml
# The same Secret for an OpenPGP key and another age key, both recipients.
sops --encrypt --pgp "$fp" --age "$other_recipient" --encrypted-regex '^(data|stringData)$' \
  --input-type yaml --output-type yaml plain/secret.yaml > secret.pgp.yaml
# sops's default rule (everything but *_unencrypted), nested maps, lists
# and every scalar type, as JSON.
sops --encrypt --age "$age_recipient" --input-type json --output-type json plain/values.json > values.age.json
# Files a secretGenerator puts in a Secret: dotenv (envs or files), a
# binary file and a YAML file.
sops --encrypt --age "$age_recipient" --input-type dotenv --output-type dotenv plain/app.env > app.age.env
sops --encrypt --age "$age_recipient" --input-type binary --output-type binary plain/tls.key > tls.age.key
sops --encrypt --age "$age_recipient" --input-type yaml --output-type yaml plain/config.yaml > config.age.yaml
# A data key split between two key groups (Shamir): refused.
cat > /tmp/sops-shamir.yaml <<YAML
creation_rules:
  - shamir_threshold: 2
    key_groups:
      - age: [$age_recipient]
      - age: [$other_recipient]
YAML
sops --config /tmp/sops-shamir.yaml --encrypt --input-type yaml --output-type yaml plain/secret.yaml > secret.shamir.yaml
rm -f /tmp/sops-shamir.yaml
