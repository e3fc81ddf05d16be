# shellcheck shell=bash
#
# .ci/services.sh - helpers to run throwaway PostgreSQL and Redis servers for
# CI and the benchmark harness. Source it from bash:
#
#   source .ci/services.sh
#   md_ensure_packages                       # apt-installs postgresql-15 / redis-server if missing
#   md_start_postgres "$dir/pg"              # exports DATABASE_URL, PG_BIN, MD_PG_PORT, MD_PG_DATA
#   md_start_redis "$dir/redis"              # exports REDIS_URL, MD_REDIS_PORT
#   ...
#   md_stop_redis "$dir/redis"
#   md_stop_postgres "$dir/pg"
#
# All diagnostics go to stderr; the start functions print only the URL on
# stdout, so `url=$(md_start_postgres DIR)` also works (exports are then lost in
# the subshell, but the state files in DIR still let md_stop_* find the server).
# Every function returns non-zero (never calls exit) on failure, so it is safe
# under `set -euo pipefail` and in interactive shells alike.
#
# Tunables (environment): MD_PG_TIMEOUT (s, default 60), MD_REDIS_TIMEOUT
# (s, default 30), MD_PG_MAX_CONNECTIONS (default 200), MD_PG_USER (OS user
# the cluster runs as when invoked as root, default postgres).

md_log() { printf '[services] %s\n' "$*" >&2; }
md_err() { printf '[services] ERROR: %s\n' "$*" >&2; }
# md__elapsed T0 -> seconds since T0 (an $EPOCHREALTIME value), e.g. 1.23
md__elapsed() {
  local now=${EPOCHREALTIME:-$SECONDS}
  awk -v a="$1" -v b="$now" 'BEGIN { printf "%.2f", b - a }'
}

# md_free_port -> prints a TCP port on 127.0.0.1 that was free a moment ago.
md_free_port() {
  local port=''
  if command -v node >/dev/null 2>&1; then
    port=$(node -e "const s=require('net').createServer();s.listen(0,'127.0.0.1',()=>{process.stdout.write(String(s.address().port));s.close();});" 2>/dev/null) || port=''
  fi
  if [[ -z $port ]] && command -v python3 >/dev/null 2>&1; then
    port=$(python3 -c "import socket;s=socket.socket();s.bind(('127.0.0.1',0));print(s.getsockname()[1]);s.close()" 2>/dev/null) || port=''
  fi
  if [[ -z $port ]]; then
    # Last resort: probe random high ports with bash's /dev/tcp (connection refused == free).
    local i p
    for ((i = 0; i < 200; i++)); do
      p=$((20000 + RANDOM % 30000))
      if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
        port=$p
        break
      fi
    done
  fi
  if [[ -z $port ]]; then
    md_err "md_free_port: could not find a free loopback port"
    return 1
  fi
  printf '%s\n' "$port"
}

# md_find_pg_bin -> prints the directory holding initdb/pg_ctl (prefers 15).
md_find_pg_bin() {
  local d best='' v bestv=-1 p
  if [[ -x /usr/lib/postgresql/15/bin/initdb ]]; then
    printf '%s\n' /usr/lib/postgresql/15/bin
    return 0
  fi
  for d in /usr/lib/postgresql/*/bin; do
    [[ -x $d/initdb ]] || continue
    v=${d#/usr/lib/postgresql/}
    v=${v%%/*}
    v=${v%%.*}
    [[ $v =~ ^[0-9]+$ ]] || v=0
    if ((v > bestv)); then
      bestv=$v
      best=$d
    fi
  done
  if [[ -n $best ]]; then
    printf '%s\n' "$best"
    return 0
  fi
  if p=$(command -v initdb 2>/dev/null) && [[ -n $p ]]; then
    p=$(readlink -f "$p")
    printf '%s\n' "${p%/*}"
    return 0
  fi
  return 1
}

# md_ensure_packages: apt-get install postgresql-15 (or postgresql) and
# redis-server, but only the ones whose binaries are missing. Needs root.
md_ensure_packages() {
  local -a want=()
  if ! md_find_pg_bin >/dev/null; then
    want+=(pg)
  fi
  if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-cli >/dev/null 2>&1; then
    want+=(redis-server)
  fi
  if ((${#want[@]} == 0)); then
    return 0
  fi
  if [[ $(id -u) -ne 0 ]]; then
    md_err "missing ${want[*]} and not running as root; install postgresql-15 and redis-server first"
    return 1
  fi
  if ! command -v apt-get >/dev/null 2>&1; then
    md_err "missing ${want[*]} and apt-get is not available"
    return 1
  fi
  md_log "installing missing packages: ${want[*]}"
  # Do not let package scripts start system-wide services (port 5432/6379).
  local policy_created=0
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    policy_created=1
  fi
  local rc=0 apt_log
  apt_log=$(mktemp)
  export DEBIAN_FRONTEND=noninteractive
  if [[ -z ${MD_APT_UPDATED:-} ]]; then
    if apt-get update -qq >"$apt_log" 2>&1; then
      MD_APT_UPDATED=1
    else
      md_err "apt-get update failed:"
      tail -n 20 "$apt_log" >&2
      rc=1
    fi
  fi
  local -a pkgs=() w
  for w in "${want[@]}"; do
    if [[ $w == pg ]]; then
      if apt-cache show postgresql-15 >/dev/null 2>&1; then pkgs+=(postgresql-15); else pkgs+=(postgresql); fi
    else
      pkgs+=("$w")
    fi
  done
  if ((rc == 0)); then
    if ! apt-get install -y -qq --no-install-recommends -o Dpkg::Use-Pty=0 "${pkgs[@]}" >"$apt_log" 2>&1; then
      md_err "apt-get install ${pkgs[*]} failed:"
      tail -n 30 "$apt_log" >&2
      rc=1
    fi
  fi
  rm -f "$apt_log"
  if ((policy_created)); then rm -f /usr/sbin/policy-rc.d; fi
  ((rc == 0)) || return 1
  if ! md_find_pg_bin >/dev/null; then
    md_err "initdb still not found after installing ${pkgs[*]}"
    return 1
  fi
  if ! command -v redis-server >/dev/null 2>&1; then
    md_err "redis-server still not found after installing ${pkgs[*]}"
    return 1
  fi
  md_log "installed ${pkgs[*]}"
}

# md__as_pg_user CMD ARGS... : run as the cluster owner (when root: $MD__USER,
# else $MD_PG_USER, else postgres; otherwise the current user), with cwd
# $MD__CWD (default /) so the target user can always read its cwd.
md__as_pg_user() {
  local dir=${MD__CWD:-/}
  if [[ $(id -u) -eq 0 ]]; then
    local user=${MD__USER:-${MD_PG_USER:-postgres}}
    if command -v runuser >/dev/null 2>&1; then
      (cd "$dir" && runuser -u "$user" -- "$@")
    else
      local cmd
      printf -v cmd '%q ' "$@"
      (cd "$dir" && su "$user" -s /bin/bash -c "$cmd")
    fi
  else
    (cd "$dir" && "$@")
  fi
}

md__ensure_pg_user() {
  [[ $(id -u) -eq 0 ]] || return 0
  local user=${MD_PG_USER:-postgres}
  id -u "$user" >/dev/null 2>&1 && return 0
  md_log "creating system user $user"
  if command -v useradd >/dev/null 2>&1; then
    useradd --system --user-group --home-dir /var/lib/postgresql --no-create-home \
      --shell /bin/bash "$user" || {
      md_err "useradd $user failed"
      return 1
    }
  elif command -v adduser >/dev/null 2>&1; then
    adduser --system --group --home /var/lib/postgresql --no-create-home --shell /bin/bash \
      "$user" >/dev/null || {
      md_err "adduser $user failed"
      return 1
    }
  else
    md_err "cannot create user $user (no useradd/adduser)"
    return 1
  fi
}

# md_start_postgres DIR [PORT]
#   Creates DIR (if needed), initdb's DIR/data and starts PostgreSQL on
#   127.0.0.1:PORT (a free port if omitted) with trust auth, fsync on and
#   max_connections=200. As root the cluster runs as user postgres (DIR is
#   chowned to it; it must be a dedicated directory whose parents postgres can
#   traverse). Exports DATABASE_URL, PG_BIN, MD_PG_PORT, MD_PG_DATA and prints
#   DATABASE_URL on stdout.
md_start_postgres() {
  local dir=${1:?usage: md_start_postgres DIR [PORT]} port=${2:-}
  local timeout=${MD_PG_TIMEOUT:-60} maxconn=${MD_PG_MAX_CONNECTIONS:-200}
  local bin
  bin=$(md_find_pg_bin) || {
    md_err "PostgreSQL server binaries (initdb) not found; run md_ensure_packages"
    return 1
  }
  PG_BIN=$bin
  export PG_BIN
  mkdir -p "$dir" || return 1
  dir=$(cd "$dir" && pwd -P) || return 1
  local data=$dir/data log=$dir/postgres.log
  md__ensure_pg_user || return 1
  if [[ $(id -u) -eq 0 ]]; then
    local user=${MD_PG_USER:-postgres}
    chown "$user": "$dir" || return 1
    chmod 700 "$dir" || return 1
    if ! MD__CWD=/ md__as_pg_user test -w "$dir"; then
      md_err "user $user cannot write $dir (are its parent directories traversable?)"
      return 1
    fi
  fi
  if md__pg_running "$dir"; then
    md_err "a PostgreSQL server is already running for $dir"
    return 1
  fi

  local t0=${EPOCHREALTIME:-$SECONDS}
  if [[ ! -f $data/PG_VERSION ]]; then
    if ! MD__CWD=$dir md__as_pg_user "$bin/initdb" -D "$data" -U postgres --auth=trust \
      -E UTF8 --no-locale --no-sync >"$dir/initdb.log" 2>&1; then
      md_err "initdb failed (log: $dir/initdb.log):"
      tail -n 30 "$dir/initdb.log" >&2
      return 1
    fi
    # Only loopback TCP (plus the private unix socket in DIR) is accepted.
    MD__CWD=$dir md__as_pg_user sh -c "cat > '$data/pg_hba.conf'" <<'EOF'
# TYPE  DATABASE  USER  ADDRESS        METHOD
local   all       all                  trust
host    all       all   127.0.0.1/32   trust
host    all       all   ::1/128        trust
EOF
    MD__CWD=$dir md__as_pg_user sh -c "echo \"include_if_exists = 'md_ci.conf'\" >> '$data/postgresql.conf'"
  fi

  local attempt fixed_port=0
  [[ -n $port ]] && fixed_port=1
  for attempt in 1 2 3; do
    if ((!fixed_port)); then
      port=$(md_free_port) || return 1
    fi
    MD__CWD=$dir md__as_pg_user sh -c "cat > '$data/md_ci.conf'" <<EOF
# written by .ci/services.sh md_start_postgres
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir'
max_connections = $maxconn
fsync = on
EOF
    if MD__CWD=$dir md__as_pg_user "$bin/pg_ctl" -D "$data" -l "$log" -w -t "$timeout" \
      start >"$dir/pg_ctl.log" 2>&1; then
      break
    fi
    if ((!fixed_port)) && grep -qiE 'could not (bind|create listen)|address already in use' "$log" 2>/dev/null; then
      md_log "port $port was taken, retrying"
      port=''
      continue
    fi
    md_err "PostgreSQL failed to start on 127.0.0.1:$port (log: $log):"
    tail -n 30 "$log" "$dir/pg_ctl.log" >&2 2>/dev/null
    MD__CWD=$dir md__as_pg_user "$bin/pg_ctl" -D "$data" -m immediate stop >/dev/null 2>&1 || true
    return 1
  done
  if [[ -z $port ]]; then
    md_err "PostgreSQL could not get a free port after 3 attempts"
    return 1
  fi
  printf '%s\n' "$port" >"$dir/postmaster.port"

  local isready=$bin/pg_isready
  [[ -x $isready ]] || isready=$(command -v pg_isready || true)
  local deadline=$((SECONDS + timeout))
  if [[ -n $isready ]]; then
    until "$isready" -q -h 127.0.0.1 -p "$port" -U postgres -d postgres; do
      if ((SECONDS >= deadline)); then
        md_err "PostgreSQL on 127.0.0.1:$port not ready after ${timeout}s (log: $log):"
        tail -n 30 "$log" >&2
        md_stop_postgres "$dir" || true
        return 1
      fi
      sleep 0.2
    done
  fi

  MD_PG_PORT=$port
  MD_PG_DATA=$data
  DATABASE_URL=postgres://postgres@127.0.0.1:$port/postgres
  export MD_PG_PORT MD_PG_DATA DATABASE_URL
  md_log "PostgreSQL $("$bin/postgres" --version 2>/dev/null | awk '{print $3}') ready on 127.0.0.1:$port in $(md__elapsed "$t0")s (data: $data)"
  printf '%s\n' "$DATABASE_URL"
}

# md__pg_owner DIR -> OS user owning DIR/data (the user the cluster runs as).
md__pg_owner() {
  stat -c %U "$1/data" 2>/dev/null || printf '%s\n' "${MD_PG_USER:-postgres}"
}

md__pg_running() {
  local dir=$1 bin pid
  [[ -f $dir/data/postmaster.pid ]] || return 1
  bin=${PG_BIN:-$(md_find_pg_bin)} || return 1
  if MD__CWD=$dir MD__USER=$(md__pg_owner "$dir") md__as_pg_user "$bin/pg_ctl" -D "$dir/data" \
    status >/dev/null 2>&1; then
    return 0
  fi
  # pg_ctl could not tell (e.g. permissions): fall back to the pid file.
  pid=$(head -n 1 "$dir/data/postmaster.pid" 2>/dev/null || true)
  [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null &&
    [[ $(cat "/proc/$pid/comm" 2>/dev/null) == postgres* ]]
}

# md_stop_postgres DIR : fast shutdown of the cluster started in DIR (no-op if
# it is not running). Does not delete DIR.
md_stop_postgres() {
  local dir=${1:?usage: md_stop_postgres DIR} bin
  [[ -d $dir/data ]] || return 0
  dir=$(cd "$dir" && pwd -P) || return 1
  [[ -f $dir/data/postmaster.pid ]] || return 0
  bin=${PG_BIN:-$(md_find_pg_bin)} || {
    md_err "pg_ctl not found"
    return 1
  }
  local owner
  owner=$(md__pg_owner "$dir")
  if MD__CWD=$dir MD__USER=$owner md__as_pg_user "$bin/pg_ctl" -D "$dir/data" -m fast -w -t 60 \
    stop >>"$dir/pg_ctl.log" 2>&1; then
    md_log "PostgreSQL stopped ($dir)"
    return 0
  fi
  if ! md__pg_running "$dir"; then
    return 0
  fi
  md_err "fast shutdown failed, trying immediate ($dir)"
  MD__CWD=$dir MD__USER=$owner md__as_pg_user "$bin/pg_ctl" -D "$dir/data" -m immediate -w \
    -t 30 stop >>"$dir/pg_ctl.log" 2>&1 && return 0
  local pid
  pid=$(head -n 1 "$dir/data/postmaster.pid" 2>/dev/null || true)
  if [[ $pid =~ ^[0-9]+$ ]]; then
    kill -KILL "$pid" 2>/dev/null || true
  fi
  md_err "PostgreSQL in $dir had to be killed"
  return 1
}

# md_start_redis DIR [PORT]
#   Starts a daemonized redis-server on 127.0.0.1:PORT (free port if omitted)
#   with persistence disabled; pidfile, log and working dir live in DIR.
#   Exports REDIS_URL and MD_REDIS_PORT and prints REDIS_URL on stdout.
md_start_redis() {
  local dir=${1:?usage: md_start_redis DIR [PORT]} port=${2:-}
  local timeout=${MD_REDIS_TIMEOUT:-30}
  if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-cli >/dev/null 2>&1; then
    md_err "redis-server/redis-cli not found; run md_ensure_packages"
    return 1
  fi
  mkdir -p "$dir" || return 1
  dir=$(cd "$dir" && pwd -P) || return 1
  if md__redis_running "$dir"; then
    md_err "a redis-server is already running for $dir"
    return 1
  fi
  rm -f "$dir/redis.pid"
  local t0=${EPOCHREALTIME:-$SECONDS} attempt fixed_port=0 ok=0
  [[ -n $port ]] && fixed_port=1
  for attempt in 1 2 3; do
    ((fixed_port)) || port=$(md_free_port) || return 1
    : >"$dir/redis.log"
    if redis-server --save '' --appendonly no --port "$port" --bind 127.0.0.1 \
      --daemonize yes --pidfile "$dir/redis.pid" --dir "$dir" --logfile "$dir/redis.log" \
      >"$dir/redis-start.log" 2>&1; then
      local deadline=$((SECONDS + timeout))
      while :; do
        if [[ $(redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null) == PONG ]]; then
          ok=1
          break
        fi
        if grep -qiE 'address already in use|could not create server tcp' "$dir/redis.log" 2>/dev/null; then
          break
        fi
        if ((SECONDS >= deadline)); then
          md_err "redis-server on 127.0.0.1:$port not answering PING after ${timeout}s (log: $dir/redis.log):"
          tail -n 30 "$dir/redis.log" >&2
          md_stop_redis "$dir" || true
          return 1
        fi
        sleep 0.1
      done
    fi
    ((ok)) && break
    if ((!fixed_port)) && grep -qiE 'address already in use|could not create server tcp' "$dir/redis.log" 2>/dev/null; then
      md_log "port $port was taken, retrying"
      continue
    fi
    md_err "redis-server failed to start on 127.0.0.1:$port (log: $dir/redis.log):"
    tail -n 30 "$dir/redis.log" "$dir/redis-start.log" >&2 2>/dev/null
    return 1
  done
  if ((!ok)); then
    md_err "redis-server could not get a free port after 3 attempts"
    return 1
  fi
  printf '%s\n' "$port" >"$dir/redis.port"
  MD_REDIS_PORT=$port
  REDIS_URL=redis://127.0.0.1:$port
  export MD_REDIS_PORT REDIS_URL
  md_log "redis $(redis-server --version | sed -n 's/.*v=\([^ ]*\).*/\1/p') ready on 127.0.0.1:$port in $(md__elapsed "$t0")s"
  printf '%s\n' "$REDIS_URL"
}

md__redis_running() {
  local pid
  pid=$(cat "$1/redis.pid" 2>/dev/null || true)
  [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null
}

# md_stop_redis DIR : SHUTDOWN NOSAVE the server started in DIR (kills the
# pid from DIR/redis.pid if it does not answer). No-op if not running.
md_stop_redis() {
  local dir=${1:?usage: md_stop_redis DIR} port pid i
  [[ -d $dir ]] || return 0
  port=$(cat "$dir/redis.port" 2>/dev/null || true)
  pid=$(cat "$dir/redis.pid" 2>/dev/null || true)
  [[ $pid =~ ^[0-9]+$ ]] || pid=''
  if [[ -z $pid ]] || ! kill -0 "$pid" 2>/dev/null; then
    rm -f "$dir/redis.port"
    return 0
  fi
  if [[ -n $port ]]; then
    redis-cli -h 127.0.0.1 -p "$port" shutdown nosave >/dev/null 2>&1 || true
  fi
  for ((i = 0; i < 100; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    ((i == 50)) && kill -TERM "$pid" 2>/dev/null
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    kill -KILL "$pid" 2>/dev/null || true
    md_err "redis-server $pid had to be killed"
  fi
  rm -f "$dir/redis.port" "$dir/redis.pid"
  md_log "redis stopped ($dir)"
}
