#!/usr/bin/env bash
# The main demo on the embedded default: data kept like code, with the loxo CLI.
# Runs in a throw-away store unless LOXO_HOME is set; prints every command it runs.
set -euo pipefail

export LOXO_HOME="${LOXO_HOME:-$(mktemp -d)/store}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }

echo "loxo demo — store: $LOXO_HOME"

# Some data: a headerless CSV and a folder of small files.
printf '5.1,3.5,1.4,0.2,Iris-setosa\n7.0,3.2,4.7,1.4,Iris-versicolor\n6.3,3.3,6.0,2.5,Iris-virginica\n' > "$work/iris.csv"
mkdir -p "$work/images"
for i in $(seq 1 50); do head -c 2048 /dev/urandom > "$work/images/img-$i.bin"; done

step loxo create repo training -d "labelled flowers"
step loxo put file training@master:/iris.csv -f "$work/iris.csv"
step loxo create-repo images                                   # pachctl 1.x spelling works too
step loxo put file images@master:/raw -r -f "$work/images"
step loxo list repo
step loxo list file images@master:/raw

# A change is a new commit; the old one stays readable.
printf '4.9,3.0,1.4,0.2,Iris-setosa\n' >> "$work/iris.csv"
step loxo put file training@master:/iris.csv -f "$work/iris.csv"
step loxo list commit training@master
step loxo diff file training@master
step loxo get file 'training@master^:/iris.csv'

# Several changes as one commit: nothing is visible until it is finished.
id=$(loxo start commit images@master)
echo "opened commit $id"
step loxo put file "images@$id:/labels.csv" -f "$work/iris.csv"
step loxo delete file "images@$id:/raw/img-1.bin"
step loxo finish commit "images@$id"
step loxo glob file 'images@master:/raw/img-1*'
step loxo inspect commit "images@$id"

# Bad input is one clear line and a non-zero exit, with nothing written.
printf '\n\033[1m$ loxo put file training@master:/../etc/passwd -f %s\033[0m\n' "$work/iris.csv"
if loxo put file 'training@master:/../etc/passwd' -f "$work/iris.csv"; then
  echo "unexpected success" >&2; exit 1
fi

step loxo fsck
echo
echo "done: every commit above is kept in $LOXO_HOME"
