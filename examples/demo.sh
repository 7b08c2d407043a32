#!/usr/bin/env bash
# The main demo on the embedded default: Pachyderm's "notebook to production" iris
# workshop, command for command (pachctl 1.x spelling, `loxo` in place of `pachctl`),
# then what loxo adds. Runs in a throw-away store unless LOXO_HOME is set.
set -euo pipefail
cd "$(dirname "$0")/.."   # the specs name their scripts relative to the repository root

export LOXO_HOME="${LOXO_HOME:-$(mktemp -d)/store}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }

echo "loxo demo — store: $LOXO_HOME"

# 1. Data kept like code.
step loxo create-repo training
step loxo create-repo attributes
step loxo put-file training master iris.csv -f examples/iris/data/iris.csv
step loxo put-file attributes master test1.csv -f examples/iris/data/test1.csv
step loxo put-file attributes master test2.csv -f examples/iris/data/test2.csv
step loxo list-repo

# 2. Pipelines: each runs as soon as it is created, on the current data.
step loxo create-pipeline -f examples/iris/pre_process.json
step loxo create-pipeline -f examples/iris/train.json
step loxo create-pipeline -f examples/iris/infer.json
step loxo draw pipeline
step loxo list-job
step loxo get-file inference master test1.csv

# 3. More workers for inference: a new version whose job skips both datums (0 + 2 / 2).
sed 's/"constant": "1"/"constant": "3"/' examples/iris/infer.json > "$work/infer.json"
step loxo update-pipeline -f "$work/infer.json"
step loxo list job -p inference

# 4. New training data: one commit re-runs the whole chain under one global id.
{ cat examples/iris/data/iris.csv; echo "5.0,3.4,1.5,0.2,Iris-setosa"; } > "$work/iris.csv"
step loxo put-file training master iris.csv -c -o -f "$work/iris.csv"
step loxo list-job
id=$(loxo list commit inference@master --raw | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')
step loxo inspect-commit inference "$id"

# 5. Beyond Pachyderm: which job, datum and exact input files made a prediction.
step loxo inspect file inference@master:/test1.csv

# 6. Bad input is one clear line and a non-zero exit, with nothing written.
printf '\n\033[1m$ loxo put file training@master:/../etc/passwd -f iris.csv\033[0m\n'
if loxo put file 'training@master:/../etc/passwd' -f "$work/iris.csv"; then
  echo "unexpected success" >&2; exit 1
fi

step loxo fsck
echo
echo "done: everything above is kept in $LOXO_HOME"
