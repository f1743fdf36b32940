# Sourced by bin/livemig and bin/bench: the JDK AOT cache of livemig.jar (JEP 483/514/515).
#
# livemig_aot_cache JAR: makes sure JAR.aot (livemig.aot beside livemig.jar) exists and is newer
# than JAR, training it when it is not ("livemig aot-train": two in-process vms migrate a 256 MiB
# guest over loopback, a few seconds), then prints the path. Prints nothing when LIVEMIG_AOT=0
# or when training fails (livemig then runs without the cache, as before). A cache that no longer
# matches its jar is rebuilt here; one the JVM still finds stale (another JDK) only costs a
# warning: the JVM ignores it and continues (-XX:AOTMode=auto, the default).
livemig_aot_cache() {
  local jar=$1 aot tmp
  aot="${jar%.jar}.aot"
  [ "${LIVEMIG_AOT:-1}" != 0 ] || return 0
  if [ ! -f "$aot" ] || [ "$jar" -nt "$aot" ]; then
    tmp="$aot.tmp.$$"
    echo "livemig: training the AOT cache $aot (once per build) ..." >&2
    if "$JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED -XX:AOTCacheOutput="$tmp" \
        -jar "$jar" aot-train >"$tmp.log" 2>&1 && [ -f "$tmp" ]; then
      mv -f "$tmp" "$aot"
      rm -f "$tmp.log"
    else
      echo "livemig: AOT training failed (running without the cache); log: $tmp.log" >&2
      rm -f "$tmp"
      return 0
    fi
  fi
  printf '%s' "$aot"
}
