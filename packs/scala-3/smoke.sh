#!/bin/sh
# Smoke test of scala@3 (and the java@21 pack it runs on), run as dev in a sandbox where the
# pack is installed:  ssh aibox sh -s < packs/scala-3/smoke.sh
# Offline: compiles and runs a file with scalac/scala; sbt and cs only report their versions.
set -eu
expect() { # WHAT PATTERN VALUE
  case "$3" in $2) echo "ok: $1" ;; *) echo "FAIL: $1: '$3' does not match $2" >&2; exit 1 ;; esac
}
expect 'scalac is 3.3.7' '*3.3.7*' "$(scalac -version 2>&1)"
dir=$(mktemp -d)
printf 'object Hello:\n  def main(args: Array[String]): Unit = println("hello from scala 3")\n' > "$dir/hello.scala"
scalac -d "$dir" "$dir/hello.scala"
expect 'scalac and scala run' 'hello from scala 3' "$(scala -classpath "$dir" Hello)"
expect 'sbt launcher 1.10.11' '*1.10.11*' "$(cd "$dir" && sbt --script-version)"
expect 'coursier 2.1.24' '*2.1.24*' "$(cs version)"
