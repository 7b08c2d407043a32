"""infer: predict the species of every row of an attributes file.

Usage: infer.py <model.json> <attributes csv> <output dir>
Scales the features of the file to [0, 1] (per file, as the workshop did) and writes one
species name per input row to <output dir>/<same file name>.
"""

import json
import os
import sys


def main(model_path, src, out):
    with open(model_path) as f:
        model = json.load(f)
    with open(src) as f:
        rows = [[float(v) for v in line.split(",")[:4]] for line in f if line.strip()]
    lows = [min(r[i] for r in rows) for i in range(4)]
    highs = [max(r[i] for r in rows) for i in range(4)]
    names = []
    for r in rows:
        x = [(v - lo) / ((hi - lo) or 1.0) for v, lo, hi in zip(r, lows, highs)] + [1.0]
        scores = [sum(w * v for w, v in zip(row, x)) for row in model["weights"]]
        names.append(model["classes"][scores.index(max(scores))])
    with open(os.path.join(out, os.path.basename(src)), "w") as f:
        f.write("\n".join(names) + "\n")
    print(f"infer: {len(rows)} predictions for {os.path.basename(src)}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3])
