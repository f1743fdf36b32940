# Sourced by bin/livemig, bin/test and .ci/run: selects a JDK >= 25 and exports JAVA_HOME.
# The default java on these machines is 17; livemig is built for release 25.

livemig_java_major() {
  # prints the feature version of the JDK at $1 (e.g. 25), or nothing
  local v
  [ -x "$1/bin/java" ] && [ -x "$1/bin/javac" ] || return 0
  v=$("$1/bin/java" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java\.specification\.version = //p')
  case "$v" in 1.*) v=${v#1.} ;; esac
  printf '%s' "${v%%.*}"
}

livemig_find_jdk() {
  local best="" best_major=0 d m
  if [ -n "${JAVA_HOME:-}" ]; then
    m=$(livemig_java_major "$JAVA_HOME")
    if [ -n "$m" ] && [ "$m" -ge 25 ]; then
      printf '%s' "$JAVA_HOME"
      return 0
    fi
  fi
  for d in /usr/lib/jvm/*; do
    [ -d "$d" ] || continue
    m=$(livemig_java_major "$d")
    if [ -n "$m" ] && [ "$m" -ge 25 ] && [ "$m" -gt "$best_major" ]; then
      best=$d
      best_major=$m
    fi
  done
  [ -n "$best" ] || return 1
  printf '%s' "$best"
}

livemig_use_jdk() {
  local jdk
  if ! jdk=$(livemig_find_jdk); then
    {
      echo "livemig: no JDK 25 or newer found."
      echo "  looked at: JAVA_HOME=${JAVA_HOME:-<unset>} and /usr/lib/jvm/*"
      echo "  install one, e.g. 'apt-get install -y openjdk-25-jdk-headless' (Debian), or set JAVA_HOME to a JDK >= 25"
    } >&2
    return 1
  fi
  export JAVA_HOME="$jdk"
  export PATH="$JAVA_HOME/bin:$PATH"
}
