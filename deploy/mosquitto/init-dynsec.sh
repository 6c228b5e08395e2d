#!/bin/sh
# Makes Mosquitto's dynamic-security file once: the api's broker user
# (MQTT_USERNAME / MQTT_PASSWORD) as its administrator, allowed
# $CONTROL/dynamic-security/# and to publish on every device topic. Does nothing when the
# file exists. Runs in the Mosquitto image as root, before the broker starts.
set -eu

file="${DYNSEC_FILE:-/mosquitto/data/dynamic-security.json}"
plugin="${DYNSEC_PLUGIN:-/usr/lib/mosquitto_dynamic_security.so}"
port="${DYNSEC_INIT_PORT:-18830}"
: "${MQTT_USERNAME:?the api's broker user}" "${MQTT_PASSWORD:?its password}"

if [ -s "$file" ]; then
  echo "dynamic security: $file exists; nothing to do"
  exit 0
fi
dir="$(dirname "$file")"
mkdir -p "$dir"
mosquitto_ctrl dynsec init "$file" "$MQTT_USERNAME" "$MQTT_PASSWORD" >/dev/null
# The broker drops root for the mosquitto user before it reads the file.
chown -R mosquitto:mosquitto "$dir"
chmod 700 "$dir"
chmod 600 "$file"

# The device topics are granted through the plugin itself: a broker on loopback, for this only.
conf="$(mktemp)"
cat > "$conf" <<CONF
listener $port 127.0.0.1
allow_anonymous false
plugin $plugin
plugin_opt_config_file $file
CONF
mosquitto -c "$conf" >/dev/null 2>&1 &
broker=$!
trap 'kill "$broker" 2>/dev/null || true; rm -f "$conf"' EXIT

ctrl() {
  mosquitto_ctrl -h 127.0.0.1 -p "$port" -u "$MQTT_USERNAME" -P "$MQTT_PASSWORD" dynsec "$@" 2>&1
}
tries=0
until ctrl getDefaultACLAccess >/dev/null 2>&1; do
  tries=$((tries + 1))
  if [ "$tries" -gt 50 ]; then
    echo "dynamic security: the broker did not start" >&2
    exit 1
  fi
  sleep 0.2
done
grant() {
  out="$(ctrl "$@")" || {
    echo "dynamic security: $*: $out" >&2
    exit 1
  }
}
# `init` lets the admin role receive and subscribe to everything; sending is granted per topic.
# (A role added to the connected client would end its session; an ACL on its role does not.)
grant addRoleACL admin publishClientSend 'devices/#' allow
kill "$broker"
wait "$broker" || true
echo "dynamic security: $file made; $MQTT_USERNAME administers it"
