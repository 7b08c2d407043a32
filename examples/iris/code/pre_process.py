"""pre_process: scale the features to [0, 1] and one-hot encode the species.

Usage: pre_process.py <iris.csv or a directory of them> <output dir>
Writes <output dir>/x_train.csv and <output dir>/y_train.csv, both headerless.
"""

import csv
import os
import sys

SPECIES = ["Iris-setosa", "Iris-versicolor", "Iris-virginica"]


def rows(path):
    files = [os.path.join(path, f) for f in sorted(os.listdir(path))] if os.path.isdir(path) else [path]
    for name in files:
        with open(name, newline="") as f:
            for row in csv.reader(f):
                if len(row) == 5:
                    yield [float(v) for v in row[:4]], row[4].strip()


def main(src, out):
    data = list(rows(src))
    lows = [min(x[i] for x, _ in data) for i in range(4)]
    highs = [max(x[i] for x, _ in data) for i in range(4)]
    with open(os.path.join(out, "x_train.csv"), "w") as fx, open(os.path.join(out, "y_train.csv"), "w") as fy:
        for x, species in data:
            scaled = [(v - lo) / ((hi - lo) or 1.0) for v, lo, hi in zip(x, lows, highs)]
            fx.write(",".join(f"{v:.6f}" for v in scaled) + "\n")
            fy.write(",".join("1" if s == species else "0" for s in SPECIES) + "\n")
    print(f"pre_process: {len(data)} rows from {src}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
