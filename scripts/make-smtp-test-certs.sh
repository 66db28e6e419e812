#!/usr/bin/env bash
# Makes the fixed certificates of the SMTP TLS tests (crates/vivacampo-notify/tests/smtp_tls.rs):
# a test CA and a server certificate for localhost and 127.0.0.1 it signed, both valid for
# 100 years, so the tests need neither openssl nor a certificate generator to run. The CA's key
# is thrown away: to change anything, make the whole set again.
#
#   scripts/make-smtp-test-certs.sh [DIR]   (default crates/vivacampo-notify/tests/fixtures/tls)
set -euo pipefail

out="${1:-$(dirname "$0")/../crates/vivacampo-notify/tests/fixtures/tls}"
mkdir -p "$out"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
days=36500

openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$work/ca.key"
openssl req -x509 -new -key "$work/ca.key" -sha256 -days "$days" \
    -subj "/O=VivaCampo tests/CN=VivaCampo SMTP test CA" \
    -addext "basicConstraints=critical,CA:TRUE,pathlen:0" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -addext "subjectKeyIdentifier=hash" \
    -out "$out/ca.pem"

openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$out/server.key"
openssl req -new -key "$out/server.key" -subj "/O=VivaCampo tests/CN=localhost" -out "$work/server.csr"
cat >"$work/server.ext" <<EXT
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
subjectAltName=DNS:localhost,IP:127.0.0.1
authorityKeyIdentifier=keyid
subjectKeyIdentifier=hash
EXT
openssl x509 -req -in "$work/server.csr" -CA "$out/ca.pem" -CAkey "$work/ca.key" \
    -CAcreateserial -CAserial "$work/ca.srl" -sha256 -days "$days" \
    -extfile "$work/server.ext" -out "$out/server.pem"

openssl verify -CAfile "$out/ca.pem" "$out/server.pem"
