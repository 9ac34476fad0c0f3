#!/bin/sh
# Smoke test of java@21, run as dev in a sandbox where the pack is installed:
#   ssh aibox sh -s < packs/java-21/smoke.sh
# Compiles and runs a class, and checks Maven and Gradle start (offline: no project downloads).
set -eu
expect() { # WHAT PATTERN VALUE
  case "$3" in $2) echo "ok: $1" ;; *) echo "FAIL: $1: '$3' does not match $2" >&2; exit 1 ;; esac
}
expect 'java -version says 21' '*version "21.*' "$(java -version 2>&1)"
expect 'Maven 3.9.9 on JDK 21' '*Apache Maven 3.9.9*Java version: 21.*' "$(mvn --version)"
expect 'Gradle 8' '*Gradle 8.14.5*' "$(gradle --version --offline --no-daemon)"
dir=$(mktemp -d)
printf 'public class Hello { public static void main(String[] a) { System.out.println("hello from " + Runtime.version().feature()); } }\n' > "$dir/Hello.java"
javac -d "$dir" "$dir/Hello.java"
expect 'javac and java run' 'hello from 21' "$(java -cp "$dir" Hello)"
