#!/usr/bin/env bash
# gen-test-certs.sh DIR -- throwaway certificates for tests and the demo (never committed):
# a CA, a server certificate for localhost / 127.0.0.1 / ::1, a client certificate for
# mutual TLS, and a second unrelated CA (to test "wrong CA" refusals).
set -euo pipefail
dir=${1:?usage: gen-test-certs.sh DIR}
mkdir -p "$dir"
cd "$dir"
subj() { printf '/O=bullpen-test/CN=%s' "$1"; }
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -keyout ca.key -out ca.crt \
    -subj "$(subj bullpen-test-ca)" 2>/dev/null
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -keyout other-ca.key -out other-ca.crt \
    -subj "$(subj other-ca)" 2>/dev/null
for who in server client; do
    openssl req -newkey rsa:2048 -nodes -keyout "$who.key" -out "$who.csr" \
        -subj "$(subj "$( [ $who = server ] && echo localhost || echo bullpen-client)")" 2>/dev/null
done
printf 'subjectAltName = DNS:localhost, IP:127.0.0.1, IP:::1\nextendedKeyUsage = serverAuth\n' > server.ext
printf 'extendedKeyUsage = clientAuth\n' > client.ext
for who in server client; do
    openssl x509 -req -in "$who.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 \
        -extfile "$who.ext" -out "$who.crt" 2>/dev/null
done
rm -f ./*.csr ./*.ext ./*.srl
chmod 600 ./*.key
