# tls.sh: TLS fixtures for the HTTP(S) tests -- a test CA made with `openssl ca`
# (explicit start/end dates, serials, a CRL from `openssl ca -gencrl`), the
# server certificates of every failure the catalogue names, and an nginx
# configuration serving one scenario per port.  Source it, or run it:
#
#   bash tls.sh fixtures DIR ADDR HTTP GOOD EXPIRED NOTYET WRONGHOST UNTRUSTED \
#                        CLIENTCERT REVOKED CRLDOWN TLS10 CLOSED
#
# It writes DIR/ca.pem (the trust anchor to pass as --ca) and DIR/nginx.conf
# (start it with `nginx -p DIR -c DIR/nginx.conf`); the test makes every
# www.*.test name resolve to ADDR.  With TLS_ADDR6 set, every server also
# listens on that IPv6 address.  The ports are ADDR's: HTTP serves /ok (200),
# /unavailable (503), /moved (301), /big (1 MiB) and /ca.crl (DER); CLOSED must
# have no listener (the CRL URL of the CRLDOWN certificate points there).
#
# Host names (every certificate names its own, www.X.test; the client and tls10
# servers use the good certificate, so address them as www.good.test):
#   good       valid, CRL reachable, not revoked       -> ok (also names
#              www.six.test; speaks HTTP/2 when offered, the others HTTP/1.1)
#   expired    notAfter 2026-01-02T00:00:00Z            -> tls_expired
#   notyet     notBefore 2030-01-01T00:00:00Z           -> tls_not_yet_valid
#   wrong      certificate names www.other.test         -> tls_hostname_mismatch
#   untrusted  issued by a CA the client does not trust -> tls_untrusted_root
#   client     nginx ssl_verify_client on               -> tls_client_cert_required
#   revoked    serial 1002, listed in the CRL           -> tls_revoked
#   crldown    CRL URL on a closed port                 -> tls_crl_unreachable
#   tls10      TLS 1.0 only (good certificate)          -> tls_incompatible
# Debian 12's nginx/OpenSSL 3.0 can still serve TLS 1.0 with
# `ssl_protocols TLSv1; ssl_ciphers DEFAULT@SECLEVEL=0`; cmon asks for TLS 1.2+.

# tls_ca DIR NAME: a CA in DIR (ca.key, ca.pem, openssl.cnf, index, serial).
tls_ca() {
    local d=$1 name=$2
    mkdir -p "$d/newcerts"
    : >"$d/index.txt"
    echo 1000 >"$d/serial"
    echo 01 >"$d/crlnumber"
    cat >"$d/openssl.cnf" <<EOF
[ ca ]
default_ca = CA_default
[ CA_default ]
dir = $d
database = \$dir/index.txt
new_certs_dir = \$dir/newcerts
serial = \$dir/serial
crlnumber = \$dir/crlnumber
certificate = \$dir/ca.pem
private_key = \$dir/ca.key
default_md = sha256
default_days = 365
default_crl_days = 30
policy = policy_any
unique_subject = no
copy_extensions = none
[ policy_any ]
commonName = supplied
[ req ]
distinguished_name = dn
prompt = no
[ dn ]
CN = $name
[ v3_ca ]
basicConstraints = critical, CA:true
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[ leaf ]
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = \$ENV::TLS_SAN
crlDistributionPoints = \$ENV::TLS_CDP
[ leaf_nocdp ]
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = \$ENV::TLS_SAN
EOF
    TLS_SAN=DNS:x TLS_CDP=URI:x openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
        -keyout "$d/ca.key" -out "$d/ca.pem" -days 3650 -config "$d/openssl.cnf" \
        -extensions v3_ca -subj "/CN=$name" 2>/dev/null || return 1
}

# tls_cert CADIR OUT CN SERIAL CRLURL [START END]: OUT.key + OUT.pem.
# CN may list more names, "a.test,b.test": the first is the CN, all are
# subjectAltNames (IP addresses as IP names).  CRLURL "" makes a certificate
# without CRL distribution points.
tls_cert() {
    local ca=$1 out=$2 cn=$3 serial=$4 crl=$5 start=${6:-} end=${7:-}
    local dates=()
    [ -n "$start" ] && dates+=(-startdate "$start")
    [ -n "$end" ] && dates+=(-enddate "$end")
    echo "$serial" >"$ca/serial"
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
        -keyout "$out.key" -out "$out.csr" -subj "/CN=$cn" 2>/dev/null || return 1
    local ext=leaf
    [ -z "$crl" ] && ext=leaf_nocdp
    local san="" name
    for name in ${cn//,/ }; do
        if [[ $name =~ ^[0-9.]+$|: ]]; then san+=",IP:$name"; else san+=",DNS:$name"; fi
    done
    san=${san#,}
    cn=${cn%%,*}
    TLS_SAN="$san" TLS_CDP="URI:${crl:-x}" openssl ca -batch -notext -config "$ca/openssl.cnf" \
        -extensions "$ext" "${dates[@]}" -in "$out.csr" -out "$out.pem" 2>/dev/null || return 1
    rm -f "$out.csr"
}

# tls_crl CADIR OUT.der: revoke nothing new, just (re)issue the CRL as DER.
tls_crl() {
    local ca=$1 out=$2
    TLS_SAN=DNS:x TLS_CDP=URI:x openssl ca -batch -gencrl -config "$ca/openssl.cnf" \
        -out "$ca/crl.pem" 2>/dev/null || return 1
    openssl crl -in "$ca/crl.pem" -outform DER -out "$out" || return 1
}

# tls_revoke CADIR CERT.pem
tls_revoke() {
    TLS_SAN=DNS:x TLS_CDP=URI:x openssl ca -batch -config "$1/openssl.cnf" -revoke "$2" \
        2>/dev/null
}

tls_nginx_listen() { # PORT [ssl]: on TLS_ADDR, and on TLS_ADDR6 when set
    echo "        listen $TLS_ADDR:$1 ${2:-};"
    [ -n "${TLS_ADDR6:-}" ] && echo "        listen [$TLS_ADDR6]:$1 ${2:-};"
    return 0
}

tls_nginx_server() { # PORT CERT [extra directives [listen flags, default ssl]]
    local port=$1 cert=$2 extra=${3:-} flags=${4:-ssl}
    cat <<EOF
    server {
$(tls_nginx_listen "$port" "$flags")
        ssl_certificate $TLS_DIR/$cert.pem;
        ssl_certificate_key $TLS_DIR/$cert.key;
        $extra
        location / { return 200 "ok\n"; }
    }
EOF
}

tls_nginx_conf() { # DIR ADDR HTTP GOOD EXPIRED NOTYET WRONGHOST UNTRUSTED CLIENTCERT REVOKED CRLDOWN TLS10
    local TLS_DIR=$1 TLS_ADDR=$2
    shift 2
    cat <<EOF
daemon off;
master_process off;
worker_processes 1;
pid $TLS_DIR/nginx.pid;
error_log $TLS_DIR/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $TLS_DIR/tmp;
    proxy_temp_path $TLS_DIR/tmp;
    fastcgi_temp_path $TLS_DIR/tmp;
    uwsgi_temp_path $TLS_DIR/tmp;
    scgi_temp_path $TLS_DIR/tmp;
    default_type text/plain;
    server {
$(tls_nginx_listen "$1")
        location = /ok { return 200 "ok\n"; }
        location = /unavailable { return 503 "down\n"; }
        location = /moved { return 301 /ok; }
        location = /big { alias $TLS_DIR/big.bin; }
        location = /ca.crl { alias $TLS_DIR/ca.crl; }
    }
EOF
    tls_nginx_server "$2" good "" "ssl http2" # real sites mostly speak HTTP/2
    tls_nginx_server "$3" expired
    tls_nginx_server "$4" notyet
    tls_nginx_server "$5" wrong
    tls_nginx_server "$6" untrusted
    tls_nginx_server "$7" good "ssl_verify_client on; ssl_client_certificate $TLS_DIR/ca.pem;"
    tls_nginx_server "$8" revoked
    tls_nginx_server "$9" crldown
    tls_nginx_server "${10}" good "ssl_protocols TLSv1; ssl_ciphers DEFAULT@SECLEVEL=0;"
    echo "}"
}

tls_fixtures() {
    local d=$1 addr=$2 http=$3 closed=${13}
    local crl="http://$addr:$http/ca.crl" down="http://$addr:$closed/ca.crl"
    mkdir -p "$d/tmp" "$d/ca" "$d/rogue"
    tls_ca "$d/ca" "cmon Test CA" && tls_ca "$d/rogue" "Rogue Test CA" || return 1
    cp "$d/ca/ca.pem" "$d/ca.pem"
    tls_cert "$d/ca" "$d/good" www.good.test,www.six.test 1000 "$crl" &&
        tls_cert "$d/ca" "$d/expired" www.expired.test 1001 "$crl" 20240101000000Z 20260102000000Z &&
        tls_cert "$d/ca" "$d/revoked" www.revoked.test 1002 "$crl" &&
        tls_cert "$d/ca" "$d/notyet" www.notyet.test 1003 "$crl" 20300101000000Z 20310101000000Z &&
        tls_cert "$d/ca" "$d/wrong" www.other.test 1004 "$crl" &&
        tls_cert "$d/ca" "$d/crldown" www.crldown.test 1005 "$down" &&
        tls_cert "$d/rogue" "$d/untrusted" www.untrusted.test 2000 "$crl" || return 1
    tls_revoke "$d/ca" "$d/revoked.pem" && tls_crl "$d/ca" "$d/ca.crl" || return 1
    head -c 1048576 /dev/zero >"$d/big.bin"
    tls_nginx_conf "$d" "$addr" "${@:3:10}" >"$d/nginx.conf"
    # nginx workers read the CRL and big.bin as an unprivileged user
    chmod -R a+rX "$d"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    set -u
    case "${1:-}" in
    fixtures)
        [ $# -eq 14 ] || { echo "usage: $0 fixtures DIR ADDR HTTP GOOD EXPIRED NOTYET WRONGHOST UNTRUSTED CLIENTCERT REVOKED CRLDOWN TLS10 CLOSED" >&2; exit 2; }
        shift
        tls_fixtures "$@" || { echo "tls.sh: making fixtures failed" >&2; exit 1; }
        ;;
    *) echo "usage: $0 fixtures DIR ADDR PORTS..." >&2; exit 2 ;;
    esac
fi
