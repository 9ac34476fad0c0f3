#!/bin/sh
# Smoke test of java@21, run as dev in a sandbox where the pack is installed:
#   ssh aibox sh -s < packs/java-21/smoke.sh
# Compiles and runs a class (starting a child process, which goes through the JDK's
# jspawnhelper), and checks Maven starts on this JDK. Offline: nothing is downloaded.
set -eu
expect() { # WHAT PATTERN VALUE
  case "$3" in $2) echo "ok: $1" ;; *) echo "FAIL: $1: '$3' does not match $2" >&2; exit 1 ;; esac
}
expect 'java -version says 21' '*version "21.*' "$(java -version 2>&1)"
expect 'Maven 3.9.9 on JDK 21' '*Apache Maven 3.9.9*Java version: 21.*' "$(mvn --version)"
dir=$(mktemp -d)
printf 'public class Hello { public static void main(String[] a) throws Exception { System.out.println("hello from " + Runtime.version().feature() + ", child " + new ProcessBuilder("true").start().waitFor()); } }\n' > "$dir/Hello.java"
javac -d "$dir" "$dir/Hello.java"
expect 'javac and java run' 'hello from 21, child 0' "$(java -cp "$dir" Hello)"
rm -rf "$dir"
