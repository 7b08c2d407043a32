"""train: fit a softmax regression (plain Python, fixed seed) and save it as JSON.

Usage: train.py <x_train.csv> <y_train.csv> <output dir>  ->  <output dir>/model.json
"""

import json
import math
import os
import random
import sys

EPOCHS = 400
RATE = 0.5


def read(path):
    with open(path) as f:
        return [[float(v) for v in line.split(",")] for line in f if line.strip()]


def softmax(z):
    top = max(z)
    e = [math.exp(v - top) for v in z]
    s = sum(e)
    return [v / s for v in e]


def main(x_path, y_path, out):
    xs, ys = read(x_path), read(y_path)
    rng = random.Random(1)
    classes, features = len(ys[0]), len(xs[0])
    w = [[rng.uniform(-0.01, 0.01) for _ in range(features + 1)] for _ in range(classes)]
    for _ in range(EPOCHS):
        grad = [[0.0] * (features + 1) for _ in range(classes)]
        for x, y in zip(xs, ys):
            xb = [*x, 1.0]
            p = softmax([sum(wi * xi for wi, xi in zip(row, xb)) for row in w])
            for c in range(classes):
                for j in range(features + 1):
                    grad[c][j] += (p[c] - y[c]) * xb[j]
        for c in range(classes):
            for j in range(features + 1):
                w[c][j] -= RATE * grad[c][j] / len(xs)
    right = sum(
        1 for x, y in zip(xs, ys)
        if max(range(classes), key=lambda c: sum(wi * xi for wi, xi in zip(w[c], [*x, 1.0]))) == y.index(1.0)
    )
    with open(os.path.join(out, "model.json"), "w") as f:
        json.dump({"weights": w, "classes": ["Iris-setosa", "Iris-versicolor", "Iris-virginica"]}, f)
    print(f"train: {right}/{len(xs)} right on the training data")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3])
