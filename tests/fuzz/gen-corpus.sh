#!/bin/bash
# gen-corpus.sh: regenerate the seed corpora that are made by tools rather
# than typed (the others are hand-written text):
#   spool/  segment files written by the real spool code (gen_spool_seeds, built
#           in every test build), whole and with torn or corrupted tails
#   tls/    certificates and CRLs made with openssl: a CA, a leaf with a CRL
#           distribution point, an expired leaf, a CRL revoking the leaf and an
#           empty one, in DER and PEM, packed in fuzz_tls's input layout
# Usage: tests/fuzz/gen-corpus.sh [BUILD_DIR]   (default build; overwrites seeds)
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$src/build}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

spool_seeds() {
    local out=$src/tests/fuzz/corpus/spool
    mkdir -p "$out"
    "$build/gen_spool_seeds" "$tmp/s3" 3 0
    cat "$tmp"/s3/spool-*.log >"$out/three_batches"
    "$build/gen_spool_seeds" "$tmp/s3a" 3 1
    { printf 'acked:%s\n' "$(cat "$tmp/s3a/acked")"; cat "$tmp"/s3a/spool-*.log; } >"$out/acked_first"
    local n; n=$(stat -c %s "$out/three_batches")
    head -c $((n - 5)) "$out/three_batches" >"$out/torn_payload"
    head -c $((n / 3 * 2 + 10)) "$out/three_batches" >"$out/torn_header" # records are equal-sized
    # one flipped payload byte: a CRC mismatch in the middle record
    python3 - "$out/three_batches" "$out/crc_mismatch" <<'PY'
import sys
b = bytearray(open(sys.argv[1], 'rb').read())
b[len(b) // 2] ^= 0x20
open(sys.argv[2], 'wb').write(b)
PY
    printf 'acked:18446744073709551615\n' >"$out/acked_max"
    : >"$out/empty"
}

pack() { # pack OUT ERR ALERT_RECV ALERT_SENT FLAGS CERTS CRL
    python3 - "$@" <<'PY'
import sys
out, err, ar, as_, fl, certs, crl = sys.argv[1:8]
c = open(certs, 'rb').read() if certs != '-' else b''
r = open(crl, 'rb').read() if crl != '-' else b''
hdr = bytes([int(err), int(ar), int(as_), int(fl), len(c) & 255, len(c) >> 8])
open(out, 'wb').write(hdr + c + r)
PY
}

tls_seeds() {
    local out=$src/tests/fuzz/corpus/tls d=$tmp/ca
    mkdir -p "$out" "$d"
    : >"$d/index.txt"
    echo 1000 >"$d/serial"
    echo 1000 >"$d/crlnumber"
    cat >"$d/ca.cnf" <<CNF
[ca]
default_ca = ca
[ca]
dir = $d
database = $d/index.txt
serial = $d/serial
crlnumber = $d/crlnumber
new_certs_dir = $d
certificate = $d/ca.pem
private_key = $d/ca.key
default_md = sha256
default_crl_days = 3650
policy = any
unique_subject = no
[any]
commonName = supplied
[leaf]
subjectAltName = DNS:localhost,IP:127.0.0.1
crlDistributionPoints = URI:http://127.0.0.1:8080/ca.crl,URI:ldap://127.0.0.1/cn=ca
CNF
    local q=(-batch -config "$d/ca.cnf")
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$d/ca.key" \
        -out "$d/ca.pem" -days 3650 -subj /CN=cmon-fuzz-ca 2>/dev/null
    for leaf in leaf old; do
        openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$d/$leaf.key" \
            -out "$d/$leaf.csr" -subj "/CN=$leaf.localhost" 2>/dev/null
    done
    openssl ca "${q[@]}" -in "$d/leaf.csr" -out "$d/leaf.pem" -days 3650 -extensions leaf -notext 2>/dev/null
    openssl ca "${q[@]}" -in "$d/old.csr" -out "$d/old.pem" -startdate 20200101000000Z \
        -enddate 20210101000000Z -extensions leaf -notext 2>/dev/null
    openssl ca "${q[@]}" -gencrl -out "$d/empty.crl.pem" 2>/dev/null
    openssl ca "${q[@]}" -revoke "$d/leaf.pem" 2>/dev/null
    openssl ca "${q[@]}" -gencrl -out "$d/revoked.crl.pem" 2>/dev/null
    openssl crl -in "$d/revoked.crl.pem" -outform DER -out "$d/revoked.crl.der"
    openssl x509 -in "$d/leaf.pem" -outform DER -out "$d/leaf.der"
    cat "$d/leaf.pem" "$d/ca.pem" >"$d/chain.pem"
    cat "$d/old.pem" "$d/ca.pem" >"$d/oldchain.pem"
    pack "$out/chain_pem_revoked_der" 0 255 255 0 "$d/chain.pem" "$d/revoked.crl.der"
    pack "$out/chain_pem_empty_crl_pem" 10 255 255 0 "$d/chain.pem" "$d/empty.crl.pem"
    pack "$out/leaf_der_revoked_pem" 23 255 255 0 "$d/leaf.der" "$d/revoked.crl.pem"
    pack "$out/expired_chain_pem" 10 255 255 0 "$d/oldchain.pem" "$d/empty.crl.pem"
    pack "$out/ca_only_alert_cert_required" 0 116 255 1 "$d/ca.pem" -
    pack "$out/no_cert_alert_handshake_sent" 0 255 40 0 - -
}

spool_seeds
tls_seeds
echo "seeds written to $src/tests/fuzz/corpus/{spool,tls}"
