#!/usr/bin/env bash
# A RabbitMQ node of its own with a TLS listener, for spec/security/tls.spec.ts, beside the default node (never
# touched): TLS on 127.0.0.1:5676, plain AMQP on 127.0.0.1:5677, its own HOME and Erlang cookie, config, data and
# logs under $TLS_NODE_BASE. `up` makes the certificates with openssl (a CA; the broker's certificate for
# "localhost"; a client certificate; a second CA that signed nothing here; an expired certificate) and starts the
# node; `down` kills it (only our own beam, by its pid file) and removes everything.
# usage: tls-node.sh up | down
set -euo pipefail
BASE=${TLS_NODE_BASE:-/tmp/event-bus-logger-tls}
NODE=ebl-tls@localhost
TLS_PORT=${TLS_NODE_TLS_PORT:-5676}
PLAIN_PORT=${TLS_NODE_PLAIN_PORT:-5677}
SBIN=/usr/lib/rabbitmq/bin          # not /usr/sbin: its wrapper would switch to the default node's cookie
export HOME="$BASE/home"
export RABBITMQ_CONF_ENV_FILE="$BASE/rabbitmq-env.conf"
CERTS="$BASE/certs"

is_ours() { [ -n "$1" ] && [ -r "/proc/$1/cmdline" ] && tr '\0' ' ' < "/proc/$1/cmdline" | grep -q "beam.smp.* -home $HOME "; }

down() {
  local pid i
  pid=$(cat "$BASE/pid" 2>/dev/null || true)
  if is_ours "$pid"; then
    kill -KILL "$pid" 2>/dev/null || true
    i=0; while kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
  fi
  rm -rf "$BASE"
}

certs() {
  mkdir -p "$CERTS"; cd "$CERTS"
  local subj=/O=event-bus-logger-spec
  # The CA, and a second one that signed nothing the broker uses ("wrong CA").
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "$subj/CN=spec CA" -keyout ca.key -out ca.pem 2>/dev/null
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "$subj/CN=other CA" -keyout other-ca.key -out other-ca.pem 2>/dev/null
  # The broker's certificate: for the host name localhost only (so 127.0.0.1 is "another host").
  openssl req -newkey rsa:2048 -nodes -subj "$subj/CN=localhost" -keyout server.key -out server.csr 2>/dev/null
  printf 'subjectAltName=DNS:localhost\nextendedKeyUsage=serverAuth\n' > server.ext
  openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -extfile server.ext -out server.pem 2>/dev/null
  # A client certificate, for mutual TLS.
  openssl req -newkey rsa:2048 -nodes -subj "$subj/CN=spec-client" -keyout client.key -out client.csr 2>/dev/null
  printf 'extendedKeyUsage=clientAuth\n' > client.ext
  openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -extfile client.ext -out client.pem 2>/dev/null
  # An expired certificate for localhost, signed by the CA: `openssl ca` takes explicit dates.
  mkdir -p ca-db; : > ca-db/index.txt; echo 1000 > ca-db/serial
  cat > ca.cnf <<CNF
[ ca ]
default_ca = spec
[ spec ]
dir = $CERTS/ca-db
database = \$dir/index.txt
serial = \$dir/serial
new_certs_dir = \$dir
default_md = sha256
policy = anything
copy_extensions = none
[ anything ]
commonName = supplied
organizationName = optional
[ server ]
subjectAltName = DNS:localhost
extendedKeyUsage = serverAuth
CNF
  openssl req -newkey rsa:2048 -nodes -subj "$subj/CN=localhost" -keyout expired.key -out expired.csr 2>/dev/null
  openssl ca -batch -config ca.cnf -cert ca.pem -keyfile ca.key -in expired.csr -out expired.pem -extensions server \
    -startdate 20200101000000Z -enddate 20200102000000Z >/dev/null 2>&1
  chmod 644 ./*.pem ./*.key
  cd - >/dev/null
}

up() {
  down
  mkdir -p "$HOME" "$BASE/log" "$BASE/mnesia" "$BASE/conf.d"
  od -An -N24 -tx1 /dev/urandom | tr -d ' \n' > "$HOME/.erlang.cookie"; chmod 400 "$HOME/.erlang.cookie"
  printf 'ERL_EPMD_ADDRESS=127.0.0.1\n' > "$RABBITMQ_CONF_ENV_FILE"
  certs
  cat > "$BASE/rabbitmq.conf" <<CONF
listeners.tcp.1 = 127.0.0.1:$PLAIN_PORT
listeners.ssl.1 = 127.0.0.1:$TLS_PORT
ssl_options.cacertfile = $CERTS/ca.pem
ssl_options.certfile = $CERTS/server.pem
ssl_options.keyfile = $CERTS/server.key
ssl_options.verify = verify_peer
ssl_options.fail_if_no_peer_cert = true
distribution.listener.interface = 127.0.0.1
log.file.level = info
CONF
  echo '[].' > "$BASE/enabled_plugins"
  env RABBITMQ_NODENAME="$NODE" RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 RABBITMQ_NODE_PORT="$PLAIN_PORT" RABBITMQ_DIST_PORT=$((PLAIN_PORT + 20000)) \
      RABBITMQ_MNESIA_BASE="$BASE/mnesia" RABBITMQ_LOG_BASE="$BASE/log" RABBITMQ_PID_FILE="$BASE/pid" \
      RABBITMQ_CONFIG_FILE="$BASE/rabbitmq.conf" RABBITMQ_CONFIG_FILES="$BASE/conf.d/*.conf" \
      RABBITMQ_ADVANCED_CONFIG_FILE="$BASE/advanced.config" RABBITMQ_ENABLED_PLUGINS_FILE="$BASE/enabled_plugins" \
      "$SBIN/rabbitmq-server" > "$BASE/log/startup_log" 2> "$BASE/log/startup_err" < /dev/null &
  if ! "$SBIN/rabbitmqctl" -n "$NODE" wait --timeout 120 "$BASE/pid" > /dev/null; then
    echo "tls-node: the node did not start; its log:" >&2
    tail -n 40 "$BASE/log/startup_log" "$BASE/log/startup_err" "$BASE/log/$NODE.log" >&2 2>/dev/null || true
    exit 1
  fi
  echo "tls-node: up (TLS on 127.0.0.1:$TLS_PORT, plain on 127.0.0.1:$PLAIN_PORT), certificates in $CERTS"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  *) echo "usage: $0 up | down" >&2; exit 2 ;;
esac
